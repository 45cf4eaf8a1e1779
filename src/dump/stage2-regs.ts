/**
 * A hypervisor's stage-2 tables over loaded memory, without Node APIs (the CLI's ./stage2-inputs.ts
 * and the browser UI's worker): VTCR_EL2 and VTTBR_EL2 (HCR_EL2 optional) from register sets, the
 * ID registers giving the implemented PA size, S2PIR_EL2 for VTCR_EL2.S2PIE, S2POR_EL1 for S2POE; then the checks that
 * the tables can be walked at all.
 */
import { ParseError } from "../arch/errors.js";
import { HCR_TGE, HCR_VM } from "../arch/hcr.js";
import { FEATURES_MAX, type Features, featuresFromIdRegs } from "../arch/registers.js";
import { hex64 } from "../arch/u64.js";
import type { PhysMem } from "../mem/physmem.js";
import type { WalkContext } from "../walk/context.js";
import type { RangeGeometry } from "../walk/range.js";
import { compileStage2, type Stage2Regs } from "../walk/stage2.js";
import { stage2Geometry, stage2Unwalkable } from "../walk/stage2-range.js";
import { mergeRegs, type RegName, type SourcedRegs } from "./regfile.js";

export interface Stage2Dump {
  readonly mem: PhysMem;
  /** The stage-2 walk context (compileStage2): its first half is the IPA space. */
  readonly stage2: WalkContext;
  readonly regs: Stage2Regs;
  readonly features: Features;
  /** Where memory and each register came from. */
  readonly sources: Partial<Record<RegName | "memory", string>>;
  /** Notes for the user (assumptions made). */
  readonly notes: readonly string[];
}

const STAGE2_REGS = [
  "VTTBR_EL2",
  "VTCR_EL2",
  "HCR_EL2",
  "S2PIR_EL2",
  "S2POR_EL1",
  "ID_AA64MMFR0_EL1",
  "ID_AA64MMFR1_EL1",
  "ID_AA64MMFR2_EL1",
] as const;

/** The stage-2 dump of `mem` with registers from `sets` (later ones win). */
export function stage2FromSets(mem: PhysMem, memory: string, sets: readonly SourcedRegs[], what: string): Stage2Dump {
  const merged = mergeRegs(...sets);
  const v = merged.values;
  if (v.VTTBR_EL2 === undefined) {
    throw new ParseError(`${what}: no VTTBR_EL2: give --vttbr or a register file (--regs) with a VTTBR_EL2 line (the stage-2 table base)`);
  }
  if (v.VTCR_EL2 === undefined) {
    throw new ParseError(`${what}: no VTCR_EL2: give --vtcr or a register file (--regs) with a VTCR_EL2 line (the stage-2 geometry)`);
  }
  const sources: Partial<Record<RegName | "memory", string>> = { memory };
  for (const n of STAGE2_REGS) if (merged.sources[n] !== undefined) sources[n] = merged.sources[n];
  const notes: string[] = [];
  // Stage 2 is what is asked for: HCR_EL2.VM is taken as set when HCR_EL2 is not given.
  const hcr = v.HCR_EL2 ?? HCR_VM;
  if (v.HCR_EL2 === undefined) sources.HCR_EL2 = "default VM=1 (stage 2 enabled; FWB=0)";
  else if ((hcr & HCR_TGE) !== 0n) {
    // A VHE host runs with TGE=1 between guest entries: its HCR_EL2 is not the guest's (FWB, PTW).
    notes.push("HCR_EL2 has TGE=1: it is the host's value, not the one the guest runs with (FWB may differ); give the guest's with --hcr");
  }
  const ids = { mmfr0: v.ID_AA64MMFR0_EL1, mmfr1: v.ID_AA64MMFR1_EL1, mmfr2: v.ID_AA64MMFR2_EL1 };
  const given = ids.mmfr0 !== undefined || ids.mmfr1 !== undefined || ids.mmfr2 !== undefined;
  const features = given ? featuresFromIdRegs(ids, FEATURES_MAX) : FEATURES_MAX;
  for (const n of ["ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1"] as const) {
    if (sources[n] === undefined) sources[n] = "default (features of QEMU -cpu max)";
  }
  const regs = {
    vtcr: v.VTCR_EL2,
    vttbr: v.VTTBR_EL2,
    hcr,
    ...(v.S2PIR_EL2 !== undefined ? { s2pir: v.S2PIR_EL2 } : {}),
    ...(v.S2POR_EL1 !== undefined ? { s2por: v.S2POR_EL1 } : {}),
  };
  return { mem, stage2: compileStage2(regs, features), regs, features, sources, notes };
}

/** The IPA space's geometry; a VTCR_EL2 no walk can use, or a VTTBR_EL2 past the output size, is a ParseError. */
export function stage2CheckedGeometry(dump: Stage2Dump): RangeGeometry {
  const why = stage2Unwalkable(dump.stage2);
  if (why?.kind === "invalid-config") {
    throw new ParseError(`VTCR_EL2 ${hex64(dump.regs.vtcr)} (${dump.sources.VTCR_EL2}): ${why.detail}`);
  }
  if (why?.kind === "base-address-size") {
    throw new ParseError(
      `VTTBR_EL2 ${hex64(dump.regs.vttbr)} (${dump.sources.VTTBR_EL2}): the start table at PA ${hex64(why.base)} is beyond the ${why.paBits}-bit output size (VTCR_EL2.PS): every stage-2 walk faults`,
    );
  }
  return stage2Geometry(dump.stage2);
}
