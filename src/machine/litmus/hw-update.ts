/**
 * Hardware updates of the Access flag and dirty state (FEAT_HAFDBS; TCR_EL1.HA / TCR_EL1.HD;
 * Arm ARM D8.4 "Hardware updates of the Access flag and dirty state"): with HA a walk that finds
 * AF=0 sets AF instead of faulting; with HA and HD a write through a leaf with DBM=1 and AP[2]=1
 * (writable-clean) clears AP[2] instead of a Permission fault. The update is an atomic
 * read-modify-write by the walker (herd aarch64.cat `rmw` from the TTD read to the HU write,
 * `atomic` axiom): no other write to the descriptor may come between the read and the update.
 * FEAT_HAFT (TCR2_EL1.HAFT with HA): the walk also sets AF (bit 10) in the table descriptors it
 * uses (Arm ARM D8.4 "Hardware management of the Access flag for table descriptors"; Linux
 * efe72541355d), the same atomic way.
 */
import { HI_DBM, LO_AF, LO_AP2 } from "../../arch/bits.js";
import type { WalkContext } from "../../walk/context.js";

/** The table descriptor `v` with AF set by FEAT_HAFT, or undefined when AF is already set. */
export function tableAfUpdate(v: bigint): bigint | undefined {
  return (v & 0x400n) !== 0n ? undefined : v | 0x400n;
}

/** The value the walker writes back to leaf hi:lo for this access, or undefined when none. */
export function hardwareUpdate(ctx: WalkContext, hi: number, lo: number, write: boolean): bigint | undefined {
  let nlo = lo;
  if (ctx.ha && (lo & LO_AF) === 0) nlo |= LO_AF;
  if (ctx.hd && write && (hi & HI_DBM) !== 0 && (lo & LO_AP2) !== 0) nlo &= ~LO_AP2;
  if (nlo === lo) return undefined;
  return (BigInt(hi >>> 0) << 32n) | BigInt(nlo >>> 0);
}
