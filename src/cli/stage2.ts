/**
 * `--stage 2` for the commands that read a hypervisor's dump (dump, audit): the stage-2 registers
 * as flags, and opening the dump with them (host memory + VTCR_EL2/VTTBR_EL2, src/dump/stage2-inputs.ts).
 */
import type { Command } from "commander";
import { parseRegister } from "../arch/registers.js";
import { parseCount } from "../arch/u64.js";
import { parseGdbAddress } from "../dump/gdb/client.js";
import { openLiveStage2 } from "../dump/gdb/open.js";
import type { RegName, RegValues } from "../dump/regfile.js";
import { openStage2Dump, type Stage2Dump, stage2CheckedGeometry } from "../dump/stage2-inputs.js";
import type { RangeGeometry } from "../walk/range.js";
import { compileStage2 } from "../walk/stage2.js";
import { stage2Geometry } from "../walk/stage2-range.js";
import { UsageError } from "./common.js";
import type { DumpInputOptions } from "./inputs.js";
import { isPkvmExample, isStage2Example } from "./pkvm-example.js";
import { pkvmExampleInputs } from "./pkvm-model.js";

export interface Stage2CliOptions extends DumpInputOptions {
  stage?: string;
  vtcr?: string;
  vttbr?: string;
  hcr?: string;
  s2pir?: string;
  s2por?: string;
}

/** Adds --stage and the stage-2 register flags. */
export function addStage2Options(cmd: Command, stage2What: string): Command {
  return cmd
    .option(
      "--stage <n>",
      `translation stage: 1 (a TTBR half of the EL1&0 regime, the default) or 2 (${stage2What}; implied by --example pkvm-host-s2)`,
    )
    .option("--vtcr <hex>", "VTCR_EL2 (with --stage 2: T0SZ, SL0/SL2, TG0, PS, DS)")
    .option("--vttbr <hex>", "VTTBR_EL2 (with --stage 2: the stage-2 start table)")
    .option("--hcr <hex>", "HCR_EL2 (with --stage 2; default VM=1)")
    .option("--s2pir <hex>", "S2PIR_EL2 (with --stage 2 and VTCR_EL2.S2PIE: the stage-2 permission indirection)")
    .option("--s2por <hex>", "S2POR_EL1 (with --stage 2 and VTCR_EL2.S2PIE=S2POE=1: the stage-2 permission overlays)");
}

/** 1 or 2; stage-2 flags without --stage 2 are refused rather than ignored. */
export function stageOf(o: Stage2CliOptions): 1 | 2 {
  const stage = o.stage ?? (isStage2Example(o.example) ? "2" : "1");
  if (stage !== "1" && stage !== "2") throw new UsageError(`--stage: "${o.stage}" is not 1 or 2`);
  if (stage === "2" && isPkvmExample(o.example) && !isStage2Example(o.example))
    throw new UsageError(`--example ${o.example} is a stage-1 input (the hypervisor's EL2 tables): --stage 2 does not apply`);
  if (stage === "1" && isStage2Example(o.example))
    throw new UsageError(`--example ${o.example} is a stage-2 input (the host's IPA space): --stage 1 does not apply`);
  if (stage === "1") {
    for (const [flag, v] of [
      ["--vtcr", o.vtcr],
      ["--vttbr", o.vttbr],
      ["--hcr", o.hcr],
      ["--s2pir", o.s2pir],
      ["--s2por", o.s2por],
    ] as const) {
      if (v !== undefined) throw new UsageError(`${flag} applies to --stage 2 only`);
    }
    return 1;
  }
  return 2;
}

const STAGE1_ONLY: [keyof Stage2CliOptions, string][] = [
  ["example", "--example"],
  ["preset", "--preset"],
  ["ttbr0", "--ttbr0"],
  ["ttbr1", "--ttbr1"],
  ["tcr", "--tcr"],
  ["mair", "--mair"],
  ["sctlr", "--sctlr"],
  ["t0sz", "--t0sz"],
  ["t1sz", "--t1sz"],
  ["kernelVersion", "--kernel-version"],
  ["vaBits", "--va-bits"],
  ["fixmapSize", "--fixmap-size"],
];

/**
 * A stage-2 dump (host memory, or a live QEMU with --gdb) and its range-walk geometry; bad or
 * unwalkable registers are one-line errors.
 */
export async function openStage2FromOptions(
  inputs: readonly string[],
  o: Stage2CliOptions,
): Promise<{ dump: Stage2Dump; geometry: RangeGeometry }> {
  if (isStage2Example(o.example)) return pkvmStage2(inputs, o);
  for (const [key, flag] of STAGE1_ONLY) {
    if (o[key] !== undefined) throw new UsageError(`${flag} does not apply to --stage 2 (a hypervisor's stage-2 tables in host memory)`);
  }
  const all = [...inputs, ...(o.mem ?? [])];
  if (o.gdb !== undefined && all.length > 0)
    throw new UsageError("--gdb reads a live host: it cannot be combined with dump inputs or --mem");
  if (o.gdb === undefined && all.length === 0) {
    throw new UsageError("no input: give the host's memory (ELF core, snapshot .json, FILE@PA), --mem or --gdb");
  }
  const regs: RegValues = {};
  const flags: [string | undefined, RegName][] = [
    [o.vtcr, "VTCR_EL2"],
    [o.vttbr, "VTTBR_EL2"],
    [o.hcr, "HCR_EL2"],
    [o.s2pir, "S2PIR_EL2"],
    [o.s2por, "S2POR_EL1"],
    [o.idAa64mmfr0, "ID_AA64MMFR0_EL1"],
    [o.idAa64mmfr1, "ID_AA64MMFR1_EL1"],
    [o.idAa64mmfr2, "ID_AA64MMFR2_EL1"],
  ];
  for (const [v, name] of flags) if (v !== undefined) regs[name] = parseRegister(name, v);
  const files = { ...(o.regs !== undefined ? { regsFile: o.regs } : {}), regs };
  const dump =
    o.gdb === undefined
      ? openStage2Dump({ inputs: all, ...files })
      : await openLiveStage2(parseGdbAddress(o.gdb), {
          ...files,
          timeoutMs: parseCount(o.gdbTimeout ?? "5000", "--gdb-timeout", 1, 3_600_000),
        });
  for (const n of dump.notes) process.stderr.write(`vmsa: note: ${n}\n`);
  return { dump, geometry: stage2CheckedGeometry(dump) };
}

/** `--example pkvm-host-s2`: the modelled host stage 2, nothing else may be given with it. */
function pkvmStage2(inputs: readonly string[], o: Stage2CliOptions): { dump: Stage2Dump; geometry: RangeGeometry } {
  const other = [
    ["an input file", inputs.length > 0 ? "x" : undefined],
    ["--mem", (o.mem ?? []).length > 0 ? "x" : undefined],
    ["--gdb", o.gdb],
    ["--regs", o.regs],
    ["--vtcr", o.vtcr],
    ["--vttbr", o.vttbr],
    ["--hcr", o.hcr],
    ["--s2pir", o.s2pir],
    ["--s2por", o.s2por],
    ["--preset", o.preset],
  ].find(([, v]) => v !== undefined);
  if (other) throw new UsageError(`--example ${o.example} brings its own memory and registers: ${other[0]} cannot be combined with it`);
  const x = pkvmExampleInputs("pkvm-host-s2");
  const regs = { vtcr: x.regs.vtcr ?? 0n, vttbr: x.regs.vttbr ?? 0n, hcr: x.regs.hcr ?? 0n };
  const stage2 = compileStage2(regs, x.regs.features);
  const dump: Stage2Dump = {
    mem: x.mem,
    stage2,
    regs,
    features: x.regs.features,
    sources: { memory: "example pkvm-host-s2", ...x.sources },
    notes: [],
  };
  return { dump, geometry: stage2Geometry(stage2) };
}
