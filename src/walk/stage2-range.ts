/**
 * Range walks over a stage-2 IPA space. compileStage2 (stage2.ts) compiles VTCR_EL2/VTTBR_EL2 into
 * a walk context whose first half is the stage-2 IPA space in the stage-1 shape: start level and
 * base from VTCR_EL2.SL0/SL2 and VTTBR_EL2, the start level's entry count including concatenated
 * tables (Arm ARM D8.2: up to 16 start tables, contiguous, aligned to their total size, indexed as
 * one table), HPD set (stage-2 table descriptors carry no hierarchical attributes). That half is
 * the range-walk geometry, so stage 1 and stage 2 share one range walker (range.ts walkEntries).
 */
import type { WalkContext } from "./context.js";
import type { RangeGeometry } from "./range.js";

/** Why a stage-2 IPA space cannot be walked at all (every IPA faults before a table is read). */
export type Stage2Unwalkable =
  | { readonly kind: "invalid-config"; readonly detail: string }
  | { readonly kind: "base-address-size"; readonly base: bigint; readonly paBits: number };

/** The range-walk geometry of a compiled stage-2 context (compileStage2). */
export function stage2Geometry(s2: WalkContext): RangeGeometry {
  return s2.halves[0];
}

/** Undefined when the space can be walked; else why not (for a one-line error or an inconclusive verdict). */
export function stage2Unwalkable(s2: WalkContext): Stage2Unwalkable | undefined {
  if (s2.s2 === null) return { kind: "invalid-config", detail: "not a stage-2 walk context (compileStage2)" };
  if (s2.s2.config.kind !== "ok") return { kind: "invalid-config", detail: s2.s2.config.detail };
  const h = s2.halves[0];
  if (h.baseFault) return { kind: "base-address-size", base: BigInt(h.base), paBits: h.paBits };
  return undefined;
}
