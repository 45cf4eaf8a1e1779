/**
 * Register files for the dump view, read by the CLI's own parser (src/dump/regfile.ts): gdb
 * `info registers` output, `NAME=VALUE` / `NAME: VALUE` lines, a JSON object or a machine.json
 * like the shipped fixture ({"registers": {…}, "memory": {"load_at": …}}). Registers the text
 * does not give may come from the dump's VMCOREINFO (registersForDump) or the CLI's defaults.
 */
import { ParseError } from "../../../src/arch/errors.js";
import type { Regs } from "../../../src/arch/registers.js";
import { parseU64 } from "../../../src/arch/u64.js";
import {
  completeRegs,
  mergeRegs,
  parseRegisterFile,
  type RegName,
  regsFromVmcoreInfo,
  type SourcedRegs,
} from "../../../src/dump/regfile.js";
import { scanVmcoreInfo } from "../../../src/dump/vmcoreinfo.js";
import type { PhysMem } from "../../../src/mem/physmem.js";

export interface RegisterFile {
  /** The registers the text names, each with its source. */
  readonly registers: SourcedRegs;
  /** Load address suggested by the file (machine.json memory.load_at). */
  readonly loadAt?: bigint;
  readonly memoryFile?: string;
}

export function parseRegisterText(text: string, source = "registers"): RegisterFile {
  const registers = parseRegisterFile(text, source);
  const t = text.trim();
  if (!t.startsWith("{")) return { registers };
  // parseRegisterFile has checked the JSON; machine.json's memory object says where the image goes.
  const mem = (JSON.parse(t) as { memory?: unknown }).memory;
  if (typeof mem !== "object" || mem === null) return { registers };
  const m = mem as Record<string, unknown>;
  return {
    registers,
    ...(typeof m.load_at === "string" ? { loadAt: parseU64(m.load_at, `${source}: memory.load_at`) } : {}),
    ...(typeof m.file === "string" ? { memoryFile: m.file } : {}),
  };
}

/** Registers with the CLI's defaults for what the text leaves out; TTBR1_EL1 and TCR_EL1 are required. */
export function completeRegisters(s: SourcedRegs, what: string): { regs: Regs; sources: Record<RegName, string> } {
  for (const [reg, why] of [
    ["TTBR1_EL1", "SYMBOL(swapper_pg_dir) and NUMBER(kimage_voffset)"],
    ["TCR_EL1", "PAGESIZE and NUMBER(VA_BITS)"],
  ] as const) {
    if (s.values[reg] === undefined) {
      throw new ParseError(
        `${what}: no ${reg}: give it in the registers (gdb "info registers" output, machine.json or NAME=VALUE lines) or open a dump whose VMCOREINFO has ${why}`,
      );
    }
  }
  return completeRegs(s, what);
}

/**
 * A dump's registers as `vmsa dump` finds them: the register text first, VMCOREINFO found in the
 * dump's RAM for what the text lacks (TTBR1_EL1 from swapper_pg_dir, TCR_EL1 from PAGESIZE and
 * VA_BITS), then the CLI's defaults. The RAM is scanned only when the text lacks one of those two.
 */
export function registersForDump(mem: PhysMem, text: SourcedRegs, what: string): { regs: Regs; sources: Record<RegName, string> } {
  if (text.values.TTBR1_EL1 !== undefined && text.values.TCR_EL1 !== undefined) return completeRegisters(text, what);
  const vi = scanVmcoreInfo(mem);
  return completeRegisters(vi ? mergeRegs(regsFromVmcoreInfo(vi), text) : text, what);
}

/** `FILE@PA` → name and address (the last `@` separates). */
export function parseImageSpec(spec: string): { file: string; pa: bigint | undefined } {
  const at = spec.lastIndexOf("@");
  if (at <= 0) return { file: spec, pa: undefined };
  return { file: spec.slice(0, at), pa: parseU64(spec.slice(at + 1), `${spec}: load address`) };
}
