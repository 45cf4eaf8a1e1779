/**
 * A hypervisor's stage-2 tables from a dump: host memory (the same inputs as every dump: ELF core,
 * snapshot .json, FILE@PA) and the stage-2 registers VTCR_EL2 and VTTBR_EL2 (HCR_EL2 optional),
 * from snapshots, a register file and the command line (later ones win), with the ID registers
 * giving the implemented PA size, S2PIR_EL2 for VTCR_EL2.S2PIE and S2POR_EL1 for VTCR_EL2.S2POE. The stage-1 registers are not needed.
 */
import { readTextFile } from "../io/files.js";
import type { PhysMem } from "../mem/physmem.js";
import { loadInputs } from "./inputs.js";
import { parseRegisterFile, type RegName, type RegValues, type SourcedRegs } from "./regfile.js";
import { type Stage2Dump, stage2FromSets } from "./stage2-regs.js";

export { type Stage2Dump, stage2CheckedGeometry, stage2FromSets } from "./stage2-regs.js";

export interface Stage2DumpOptions {
  readonly inputs: readonly string[];
  readonly regsFile?: string;
  /** Command-line values: win over everything else. */
  readonly regs?: RegValues;
  readonly progress?: boolean;
}

export function openStage2Dump(opts: Stage2DumpOptions): Stage2Dump {
  const loaded = loadInputs(opts.inputs, opts.progress ?? process.stderr.isTTY === true);
  return stage2FromRegisters(loaded.mem, loaded.memory, [...loaded.regSets], opts, opts.inputs.join(" "));
}

/**
 * The stage-2 dump of `mem` with registers from `sets` (snapshots, a live target), then the
 * register file and the command-line values of `opts` (later ones win).
 */
export function stage2FromRegisters(
  mem: PhysMem,
  memory: string,
  sets: SourcedRegs[],
  opts: Pick<Stage2DumpOptions, "regsFile" | "regs">,
  what: string,
): Stage2Dump {
  if (opts.regsFile) sets.push(parseRegisterFile(readTextFile(opts.regsFile, "--regs"), opts.regsFile));
  if (opts.regs) {
    const sources: Partial<Record<RegName, string>> = {};
    for (const k of Object.keys(opts.regs) as RegName[]) sources[k] = "command line";
    sets.push({ values: { ...opts.regs }, sources });
  }
  return stage2FromSets(mem, memory, sets, what);
}
