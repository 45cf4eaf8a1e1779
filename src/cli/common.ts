/**
 * Shared CLI plumbing: register options, memory banks, built-in examples, errors and output.
 */

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { ParseError, RegisterError } from "../arch/errors.js";
import { linuxPieRegisters, parseLinuxPieEra } from "../arch/linux-pie.js";
import {
  FEATURES_MAX,
  type Features,
  featuresFromIdRegs,
  LINUX_SCTLR,
  parseRegister,
  presetByName,
  type Regime,
  type Regs,
} from "../arch/registers.js";
import { hex64, parseCount, parseSize, parseU64 } from "../arch/u64.js";
import type { Marker } from "../dump/ptdump.js";
import { readTextFile, writeFileAtomic } from "../io/files.js";
import { jsonText } from "../io/json-text.js";
import { loadBank, parseBankSpec } from "../mem/banks.js";
import { PhysMem } from "../mem/physmem.js";
import { compileRegs } from "../walk/context.js";
import { isPkvmExample, PKVM_EXAMPLES, type PkvmExampleName } from "./pkvm-example.js";

import { UsageError } from "./usage-error.js";

export { UsageError };

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export interface RegOptions {
  preset?: string;
  regs?: string;
  ttbr0?: string;
  ttbr1?: string;
  tcr?: string;
  mair?: string;
  t0sz?: string;
  t1sz?: string;
  sctlr?: string;
  idAa64mmfr0?: string;
  idAa64mmfr1?: string;
  idAa64mmfr2?: string;
  idAa64mmfr3?: string;
  tcr2?: string;
  pir?: string;
  pire0?: string;
  porEl1?: string;
  porEl0?: string;
  linuxPie?: string | boolean;
  mem?: string[];
  example?: string;
}

/** The number convention, for the help of every command that takes values (README "Numbers"). */
export const NUMBERS_HELP = `
Numbers: addresses, descriptors and register values are hex with or without 0x (40530001 is
0x40530001); counts (levels, bits, TnSZ) are decimal; sizes are hex or a decimal count with
K/M/G (FILE@PA:64M). Signs, 0b/0o prefixes, more than 64 bits and junk are refused.`;

/** Add the register, memory and example options every walking command takes. */
export function addMachineOptions(cmd: Command): Command {
  return cmd
    .addHelpText("after", NUMBERS_HELP)
    .option("--mem <FILE@PA>", "load a memory image (raw or gzip) at a physical address: FILE@PA[:SIZE] (repeatable)", collect, [])
    .option("--example <name>", `use a built-in example's memory and registers (${listExamples().join(", ")})`)
    .option("--preset <name>", "start from a register preset (see `vmsa presets`)")
    .option("--regs <file>", 'registers from a file: gdb "info registers" output, NAME=VALUE lines, or JSON {"registers": {...}}')
    .option("--ttbr0 <hex>", "TTBR0_EL1")
    .option("--ttbr1 <hex>", "TTBR1_EL1")
    .option("--tcr <hex>", "TCR_EL1")
    .option("--mair <hex>", "MAIR_EL1")
    .option("--t0sz <n>", "override TCR_EL1.T0SZ, decimal (VA size 64-n for TTBR0)")
    .option("--t1sz <n>", "override TCR_EL1.T1SZ, decimal (VA size 64-n for TTBR1)")
    .option("--sctlr <hex>", "SCTLR_EL1 (default: MMU on)")
    .option("--id-aa64mmfr0 <hex>", "ID_AA64MMFR0_EL1 (PARange, LPA2 support)")
    .option("--id-aa64mmfr1 <hex>", "ID_AA64MMFR1_EL1 (HAFDBS, PAN)")
    .option("--id-aa64mmfr2 <hex>", "ID_AA64MMFR2_EL1 (TTST, LVA, BBM, E0PD)")
    .option("--id-aa64mmfr3 <hex>", "ID_AA64MMFR3_EL1 (TCRX, S1PIE, S1POE)")
    .option("--tcr2 <hex>", "TCR2_EL1 (PIE[1]: permission indirection; E0POE[2], POE[3]: overlays)")
    .option("--pir <hex>", "PIR_EL1: privileged permission for each PIIndex (with TCR2_EL1.PIE)")
    .option("--pire0 <hex>", "PIRE0_EL1: EL0 permission for each PIIndex (with TCR2_EL1.PIE)")
    .option("--por-el1 <hex>", "POR_EL1: privileged overlay for each POIndex (with TCR2_EL1.POE)")
    .option("--por-el0 <hex>", "POR_EL0: EL0 overlay for each POIndex (with TCR2_EL1.E0POE)")
    .option(
      "--linux-pie <era>",
      "the kernel ran with permission indirection: TCR2_EL1.PIE=1 and Linux's PIR_EL1/PIRE0_EL1 of a kernel era: pie (first S1PIE support), poe (user permissions overlay-able) or gcs (the newest, with GCS pages), where the input does not record them (VMCOREINFO, ELF cores)",
    );
}

const here = dirname(fileURLToPath(import.meta.url));

/** The repository's examples/ folder (works from src/ under tsx and from dist/src/). */
export function examplesDir(): string {
  for (const up of ["../..", "../../.."]) {
    const d = resolve(here, up, "examples");
    if (existsSync(join(d, "linux-6.1-4k48"))) return d;
  }
  return resolve(here, "../../examples");
}

export function listExamples(): string[] {
  return ["linux-6.1-4k48", ...PKVM_EXAMPLES];
}

/**
 * A built-in example: a snapshot descriptor (examples/snapshot.schema.json) whose memory is raw
 * files at load addresses, plus `expected_ptdump`, the kernel's own output for the golden test.
 */
export interface Example {
  name: string;
  dir: string;
  registers: Record<string, string>;
  memory: { file: string; load_at: string }[];
  kernel: string;
  va_bits: number;
  fixmap_size?: string;
  expected_ptdump?: string;
}

export function loadExample(name: string): Example {
  if (!listExamples().includes(name) || isPkvmExample(name)) {
    throw new UsageError(`--example: unknown example "${name}" (expected one of: ${listExamples().join(", ")})`);
  }
  const dir = join(examplesDir(), name);
  const ex = JSON.parse(readFileSync(join(dir, "example.json"), "utf8")) as Omit<Example, "dir">;
  return { ...ex, dir };
}

const REG_KEYS: Record<string, keyof RegOptions> = {
  TTBR0_EL1: "ttbr0",
  TTBR1_EL1: "ttbr1",
  TCR_EL1: "tcr",
  MAIR_EL1: "mair",
  SCTLR_EL1: "sctlr",
  ID_AA64MMFR0_EL1: "idAa64mmfr0",
  ID_AA64MMFR1_EL1: "idAa64mmfr1",
  ID_AA64MMFR2_EL1: "idAa64mmfr2",
  ID_AA64MMFR3_EL1: "idAa64mmfr3",
  TCR2_EL1: "tcr2",
  PIR_EL1: "pir",
  PIRE0_EL1: "pire0",
  POR_EL1: "porEl1",
  POR_EL0: "porEl0",
};

/** Registers from a file: JSON, gdb `info registers` / `p/x $REG` output, or NAME=VALUE lines. */
async function readRegsFile(file: string): Promise<Record<string, string>> {
  const { parseRegisterFile } = await import("../dump/regfile.js");
  const parsed = parseRegisterFile(readTextFile(file, "--regs"), `--regs ${file}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.values)) out[k] = `0x${v.toString(16)}`;
  if (Object.keys(out).length === 0) {
    throw new ParseError(
      `--regs ${file}: no register found (expected JSON, gdb "info registers" output or NAME=VALUE lines naming TTBR1_EL1, TCR_EL1, ...)`,
    );
  }
  return out;
}

export interface MachineInputs {
  mem: PhysMem;
  regs: Regs;
  /** Where each register value came from. */
  sources: Record<string, string>;
  example?: Example;
  /** A built-in pKVM example (built by the kernel library, not read from files). */
  pkvmExample?: string;
  markers?: readonly Marker[];
}

/** `--regime`: el10, el2 or el20. */
export function parseRegime(text: string): Regime {
  const t = text.toLowerCase();
  if (t === "el10" || t === "el2" || t === "el20") return t;
  throw new UsageError(`--regime: "${text}" is not el10, el2 or el20`);
}

/** The --regime option of dump, audit and translate. */
export const REGIME_HELP =
  "el10 (default); el2: the EL2 regime (E2H=0) - --ttbr0/--tcr/--mair/--sctlr give TTBR0_EL2, TCR_EL2 (its own layout), MAIR_EL2, SCTLR_EL2; el20: EL2&0 (E2H=1) - the _EL2 registers, TCR_EL1 layout";

/** Options for opening a dump under `--regime`: the EL2 regime (E2H=0) has no TTBR1, so none is required. */
export function regimeOpenOptions<T extends RegOptions & { regime?: string }>(o: T): T {
  return o.regime !== undefined && parseRegime(o.regime) === "el2" && o.ttbr1 === undefined ? { ...o, ttbr1: "0" } : o;
}

/**
 * Build memory and registers from the command-line options (example < preset < file < flags).
 * `markers: false` skips the example's ptdump markers (a walk does not use them). Async: what
 * only some inputs need (the pKVM model, the register-file parsers, the kernel layout) is
 * loaded only for them (issue 14: startup).
 */
export async function machineFromOptions(o: RegOptions, want: { markers?: boolean } = {}): Promise<MachineInputs> {
  if (isPkvmExample(o.example)) return pkvmMachine(o.example, o);
  const mem = new PhysMem();
  const values: Partial<Record<keyof RegOptions, string>> = {};
  const sources: Record<string, string> = {};
  let example: Example | undefined;
  let base: Regs | undefined;
  if (o.example !== undefined) {
    example = loadExample(o.example);
    for (const b of example.memory)
      loadBank(mem, { file: join(example.dir, b.file), pa: parseU64(b.load_at, `example ${example.name}: load_at`) });
    for (const [k, v] of Object.entries(example.registers)) {
      const key = REG_KEYS[k];
      if (key) {
        values[key] = v;
        sources[k] = `example ${example.name}`;
      }
    }
  }
  if (o.preset !== undefined) {
    base = presetByName(o.preset).regs;
    for (const k of ["TTBR0_EL1", "TTBR1_EL1", "TCR_EL1", "MAIR_EL1", "SCTLR_EL1"]) sources[k] = `preset ${o.preset}`;
    if (base.tcr2 !== undefined) for (const k of ["TCR2_EL1", "PIR_EL1", "PIRE0_EL1"]) sources[k] = `preset ${o.preset}`;
  }
  if (o.regs !== undefined) {
    for (const [k, v] of Object.entries(await readRegsFile(o.regs))) {
      const key = REG_KEYS[k];
      if (key) {
        values[key] = v;
        sources[k] = `file ${o.regs}`;
      }
    }
  }
  for (const [k, key] of Object.entries(REG_KEYS)) {
    const v = o[key];
    if (typeof v === "string") {
      values[key] = v;
      sources[k] = "command line";
    }
  }
  if (o.linuxPie !== undefined && o.linuxPie !== false) {
    // Below files and flags: only the registers nothing else gave.
    const era = parseLinuxPieEra(o.linuxPie);
    const lp = linuxPieRegisters(era);
    for (const [key, name, v] of [
      ["tcr2", "TCR2_EL1", lp.tcr2],
      ["pir", "PIR_EL1", lp.pir],
      ["pire0", "PIRE0_EL1", lp.pire0],
    ] as const) {
      if (values[key] === undefined) {
        values[key] = `0x${v.toString(16)}`;
        sources[name] = `--linux-pie ${era} (Linux __cpu_setup)`;
      }
    }
  }
  for (const spec of o.mem ?? []) loadBank(mem, parseBankSpec(spec));
  const reg = (key: keyof RegOptions, name: string, dflt: bigint | undefined): bigint => {
    const v = values[key];
    if (v !== undefined) return parseRegister(name, v);
    if (dflt !== undefined) return dflt;
    throw new RegisterError(`${name} is not set: give --${key} (hex), --preset, --regs FILE or --example`);
  };
  // Registers a walk may go without (TCR2 and what it enables): only set when given.
  const optionalReg = (key: keyof RegOptions, name: string, dflt: bigint | undefined, field: string = key): Record<string, bigint> => {
    const v = values[key];
    if (v !== undefined) return { [field]: parseRegister(name, v) };
    return dflt !== undefined ? { [field]: dflt } : {};
  };
  let features: Features = base?.features ?? FEATURES_MAX;
  const ids: { mmfr0?: bigint; mmfr1?: bigint; mmfr2?: bigint; mmfr3?: bigint } = {};
  if (values.idAa64mmfr0 !== undefined) ids.mmfr0 = parseRegister("ID_AA64MMFR0_EL1", values.idAa64mmfr0);
  if (values.idAa64mmfr1 !== undefined) ids.mmfr1 = parseRegister("ID_AA64MMFR1_EL1", values.idAa64mmfr1);
  if (values.idAa64mmfr2 !== undefined) ids.mmfr2 = parseRegister("ID_AA64MMFR2_EL1", values.idAa64mmfr2);
  if (values.idAa64mmfr3 !== undefined) ids.mmfr3 = parseRegister("ID_AA64MMFR3_EL1", values.idAa64mmfr3);
  features = featuresFromIdRegs(ids, features);
  let tcr = reg("tcr", "TCR_EL1", base?.tcr);
  for (const [opt, shift] of [
    ["t0sz", 0n],
    ["t1sz", 16n],
  ] as const) {
    const v = o[opt];
    if (v === undefined) continue;
    // TnSZ is 12..48 at most on any implementation (ASL AArch64.S1MinTxSZ/MaxTxSZ with FEAT_LVA/LPA2/TTST).
    const n = parseCount(v, `--${opt}`, 12, 48);
    tcr = (tcr & ~(0x3fn << shift)) | (BigInt(n) << shift);
    sources[`TCR_EL1.${opt.toUpperCase()}`] = "command line";
  }
  const regs: Regs = {
    ttbr0: reg("ttbr0", "TTBR0_EL1", base?.ttbr0 ?? 0n),
    ttbr1: reg("ttbr1", "TTBR1_EL1", base?.ttbr1 ?? 0n),
    tcr,
    mair: reg("mair", "MAIR_EL1", base?.mair),
    sctlr: reg("sctlr", "SCTLR_EL1", base?.sctlr ?? LINUX_SCTLR),
    features,
    ...optionalReg("tcr2", "TCR2_EL1", base?.tcr2),
    ...optionalReg("pir", "PIR_EL1", base?.pir),
    ...optionalReg("pire0", "PIRE0_EL1", base?.pire0),
    ...optionalReg("porEl1", "POR_EL1", base?.por1, "por1"),
    ...optionalReg("porEl0", "POR_EL0", base?.por0, "por0"),
  };
  // The example's ptdump markers: the layout of its kernel version, as for any snapshot.
  let markers: readonly Marker[] | undefined;
  if (example && want.markers !== false) {
    const { linuxLayout, parseKernelVersion } = await import("../dump/layout.js");
    const v = parseKernelVersion(example.kernel.replace(/^Linux\s+/, ""));
    const h1 = compileRegs(regs).halves[1];
    const fixmapSize =
      example.fixmap_size === undefined ? undefined : parseSize(example.fixmap_size, `example ${example.name}: fixmap_size`);
    if (v) {
      markers = linuxLayout({
        version: v,
        pageShift: h1.granule.shift,
        vaBits: example.va_bits,
        vaBitsActual: h1.iaBits,
        fixmapSize,
      }).markers;
    }
  }
  const result: MachineInputs = { mem, regs, sources };
  if (example) result.example = example;
  if (markers) result.markers = markers;
  return result;
}

/** A pKVM example: its own memory and registers, nothing else may be given with it. */
async function pkvmMachine(name: PkvmExampleName, o: RegOptions): Promise<MachineInputs> {
  const other = [
    ["--preset", o.preset],
    ["--regs", o.regs],
    ["--mem", (o.mem ?? []).length > 0 ? "x" : undefined],
    ["--linux-pie", o.linuxPie === undefined || o.linuxPie === false ? undefined : "x"],
    ["--t0sz", o.t0sz],
    ["--t1sz", o.t1sz],
    ...Object.entries(REG_KEYS).map(([k, key]) => [`--${key} (${k})`, typeof o[key] === "string" ? "x" : undefined]),
  ].find(([, v]) => v !== undefined);
  if (other) throw new UsageError(`--example ${name} brings its own memory and registers: ${other[0]} cannot be combined with it`);
  const { pkvmExampleInputs } = await import("./pkvm-model.js");
  const x = pkvmExampleInputs(name);
  const result: MachineInputs = { mem: x.mem, regs: x.regs, sources: { ...x.sources }, pkvmExample: name };
  if (x.markers) result.markers = x.markers;
  return result;
}

/** JSON with bigints as 0x-hex strings. */
export function toJson(value: unknown, indent = 1): string {
  return jsonText(value, indent);
}

/**
 * Write output (text, or bytes already UTF-8) to a file atomically (temp + rename, nothing left
 * behind on failure), or to stdout when file is undefined or "-". `mkdir` creates missing parent
 * directories.
 */
export function emit(text: string | Uint8Array, file?: string, opts: { what?: string; mkdir?: boolean } = {}): void {
  if (!file || file === "-") {
    process.stdout.write(text);
    return;
  }
  writeFileAtomic(file, text, opts.what ?? "output", { mkdir: opts.mkdir ?? false });
}

export { hex64 };
