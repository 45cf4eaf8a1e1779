/**
 * `vmsa audit`: security audit of real page tables (W^X with the kernel's own summary line,
 * non-UXN and EL0-accessible kernel memory, attribute aliases, contiguous misprogramming, RES0 bits,
 * protected PA ranges, global user mappings). Exit status 1 when there are findings.
 *
 * Also exports the dump-input plumbing (`addDumpInputOptions`, `openDumpFromOptions`) shared by
 * `vmsa diff` and usable by translate/dump: positional inputs (ELF core, snapshot .json, FILE@PA)
 * plus the usual machine options, with VMCOREINFO-derived registers and the detected kernel layout.
 */
import type { Command } from "commander";
import { parseRegister } from "../arch/registers.js";
import { parseU64 } from "../arch/u64.js";
import { audit, auditToJson, formatAudit, type PaRange } from "../dump/audit.js";
import { type OpenedDump, openDump } from "../dump/inputs.js";
import type { RegName, RegValues } from "../dump/regfile.js";
import { addMachineOptions, collect, emit, machineFromOptions, type RegOptions, toJson, UsageError } from "./common.js";

export interface DumpInputOptions extends RegOptions {
  vmcoreinfo?: string | boolean;
  kernelVersion?: string;
  vaBits?: string;
  fixmapSize?: string;
}

/** Options for commands that read a real dump. */
export function addDumpInputOptions(cmd: Command): Command {
  addMachineOptions(cmd);
  return cmd
    .option("--vmcoreinfo <file>", "VMCOREINFO text to use (default: the ELF note, else a scan of RAM)")
    .option("--no-vmcoreinfo", "ignore VMCOREINFO (registers only from files and flags)")
    .option("--kernel-version <v>", "kernel version for the layout and markers, e.g. 6.12 (default: VMCOREINFO OSRELEASE)")
    .option("--va-bits <n>", "CONFIG_ARM64_VA_BITS (default: VMCOREINFO NUMBER(VA_BITS), else the TTBR1 VA size)")
    .option("--fixmap-size <hex>", "size of the fixmap region for the markers (default: computed for the version)");
}

const FLAG_REGS: [keyof RegOptions, RegName][] = [
  ["ttbr0", "TTBR0_EL1"],
  ["ttbr1", "TTBR1_EL1"],
  ["tcr", "TCR_EL1"],
  ["mair", "MAIR_EL1"],
  ["sctlr", "SCTLR_EL1"],
  ["idAa64mmfr0", "ID_AA64MMFR0_EL1"],
  ["idAa64mmfr1", "ID_AA64MMFR1_EL1"],
  ["idAa64mmfr2", "ID_AA64MMFR2_EL1"],
];

/**
 * Open a dump from positional inputs and options. Without positional inputs (only --mem/--example)
 * this is the plain machine path (registers from flags/files only).
 */
export function openDumpFromOptions(inputs: readonly string[], o: DumpInputOptions): OpenedDump {
  if (inputs.length === 0) {
    if (!o.example && (o.mem ?? []).length === 0)
      throw new UsageError("no input: give a dump (ELF core, snapshot .json, FILE@PA), --mem or --example");
    const m = machineFromOptions(o);
    return { mem: m.mem, regs: m.regs, sources: m.sources, vmcoreinfo: undefined, layout: undefined, markers: m.markers, notes: [] };
  }
  if (o.example) throw new UsageError("--example cannot be combined with dump inputs");
  const regs: RegValues = {};
  for (const [key, name] of FLAG_REGS) {
    const v = o[key];
    if (typeof v === "string") regs[name] = parseRegister(name, v);
  }
  const vaBits = o.vaBits === undefined ? undefined : Number(o.vaBits);
  if (vaBits !== undefined && !(Number.isInteger(vaBits) && vaBits >= 36 && vaBits <= 52)) {
    throw new UsageError(`--va-bits: "${o.vaBits}" is not a VA size between 36 and 52`);
  }
  const tnsz = (opt: "t0sz" | "t1sz"): number | undefined => {
    const v = o[opt];
    if (v === undefined) return undefined;
    // TnSZ is 12..48 at most on any implementation (ASL AArch64.S1MinTxSZ/MaxTxSZ).
    if (!/^\d+$/.test(v) || Number(v) < 12 || Number(v) > 48) throw new UsageError(`--${opt}: "${v}" is out of range (expected 12..48)`);
    return Number(v);
  };
  const t0sz = tnsz("t0sz");
  const t1sz = tnsz("t1sz");
  return openDump({
    ...(t0sz !== undefined ? { t0sz } : {}),
    ...(t1sz !== undefined ? { t1sz } : {}),
    inputs: [...inputs, ...(o.mem ?? [])],
    ...(o.regs ? { regsFile: o.regs } : {}),
    ...(o.preset ? { preset: o.preset } : {}),
    regs,
    ...(o.vmcoreinfo === false ? { vmcoreinfo: false as const } : typeof o.vmcoreinfo === "string" ? { vmcoreinfo: o.vmcoreinfo } : {}),
    ...(o.kernelVersion ? { kernelVersion: o.kernelVersion } : {}),
    ...(vaBits !== undefined ? { vaBits } : {}),
    ...(o.fixmapSize ? { fixmapSize: parseU64(o.fixmapSize, "--fixmap-size") } : {}),
  });
}

/** `START-END` (end exclusive) or `START+SIZE`. */
export function parsePaRange(spec: string): PaRange {
  const m = /^([^-+]+)([-+])(.+)$/.exec(spec.trim());
  if (!m) throw new UsageError(`--protected "${spec}": expected START-END or START+SIZE, e.g. 0x48000000-0x48200000`);
  const start = parseU64(m[1] as string, "--protected start");
  const second = parseU64(m[3] as string, `--protected ${m[2] === "-" ? "end" : "size"}`);
  const end = m[2] === "-" ? second : start + second;
  if (end <= start) throw new UsageError(`--protected "${spec}": the end must be above the start`);
  return { start, end };
}

interface AuditCliOptions extends DumpInputOptions {
  format: string;
  protected: string[];
  userHalf: boolean;
  output?: string;
}

export function registerAuditCommand(program: Command): void {
  const cmd = program
    .command("audit")
    .description(
      "security audit of a real kernel's page tables: W^X (with the kernel's verdict line), UXN, EL0 access, aliases, contiguous groups, RES0 bits",
    )
    .argument("[input...]", "ELF core (QEMU dump-guest-memory, kdump vmcore), snapshot .json, or FILE@PA")
    .option("-f, --format <fmt>", "text or json", "text")
    .option("--protected <START-END>", "a PA range that must not be mapped (repeatable; START+SIZE also accepted)", collect, [])
    .option("--no-user-half", "skip the TTBR0 (user) half")
    .option("-o, --output <file>", "write the report to a file (atomically) instead of stdout");
  addDumpInputOptions(cmd);
  cmd.addHelpText(
    "after",
    `
Exit status: 0 clean, 1 findings (warnings alone do not fail), 2 bad input.

Examples:
  $ vmsa audit guest.core                                  # QEMU dump-guest-memory: registers from VMCOREINFO
  $ vmsa audit ram.bin@0x40000000 --regs gdb-registers.txt  # raw RAM + gdb "info registers" output
  $ vmsa audit --example linux-6.1-4k48 --protected 0x48000000-0x48200000 --format json`,
  );
  cmd.action((inputs: string[], o: AuditCliOptions) => {
    if (o.format !== "text" && o.format !== "json") throw new UsageError(`--format: "${o.format}" is not text or json`);
    const d = openDumpFromOptions(inputs, o);
    const protectedRanges = o.protected.map(parsePaRange);
    const userHalf = o.userHalf && d.regs.ttbr0 !== 0n;
    const r = audit(d.mem, d.regs, { protectedRanges, userHalf });
    for (const n of d.notes) process.stderr.write(`vmsa: note: ${n}\n`);
    if (o.format === "json") {
      emit(`${toJson({ layout: d.layout?.description ?? null, sources: d.sources, ...(auditToJson(r) as object) })}\n`, o.output);
    } else {
      emit(formatAudit(r, d.layout ? `audit of ${d.layout.description}` : undefined), o.output);
    }
    if (r.findings.some((f) => f.severity === "error")) process.exitCode = 1;
  });
}
