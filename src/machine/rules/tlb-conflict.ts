/**
 * Rule 2, TLB conflict: two entries the TLB may hold for one VA with different sizes (e.g. a
 * stale block and its new pages) may make the CPU take a TLB conflict abort.
 * Arm ARM DDI0487 D8.17 "TLB conflict aborts" (RFVQCK, ICFFVK); FSC 0b110000.
 * At FEAT_BBM level 3 (level 2 without conflict aborts) the check is off.
 */
import { FAULT_NONE, FAULT_PERMISSION } from "../../arch/fault.js";
import { hex } from "../../arch/u64.js";
import { type Alt, FAULT_CONFLICT } from "../outcomes.js";
import { hx, type Reporter } from "../report.js";
import type { TraceEntry } from "../types.js";

/**
 * Report every pair of may-held leaf outcomes of different spans among `alts` (the access
 * `accName` of `va` on CPU `cpu`); returns the conflict-abort outcome to add, if any.
 */
export function checkTlbConflict(
  rep: Reporter,
  bbmLevel: number,
  cpu: number,
  step: number,
  va: bigint,
  accName: string,
  alts: readonly Alt[],
): Alt | undefined {
  if (bbmLevel >= 3) return undefined;
  let conflict: Alt | undefined;
  const okAlts = alts.filter((a) => a.fault === FAULT_NONE || a.fault === FAULT_PERMISSION);
  for (let i = 0; i < okAlts.length; i++) {
    for (let j = i + 1; j < okAlts.length; j++) {
      const a = okAlts[i] as Alt;
      const b = okAlts[j] as Alt;
      if (a.spanShift === 0 || b.spanShift === 0 || a.spanShift === b.spanShift) continue;
      const e = b.stale ?? a.stale;
      conflict ??= { ...b, fault: FAULT_CONFLICT, source: b.source };
      const tr: TraceEntry[] = [
        rep.tr(a.fromStep, `wrote a ${2 ** a.spanShift}-byte entry`),
        rep.tr(b.fromStep, `wrote a ${2 ** b.spanShift}-byte entry`),
      ];
      if (e !== undefined) tr.push(rep.tr(e.changed, "changed the entry without invalidating the old one"));
      rep.report(
        "tlb-conflict",
        "conflict.size",
        step,
        cpu,
        `${accName} of VA ${hex(va)} on CPU ${cpu}: the TLB may hold overlapping entries of ${2 ** a.spanShift} and ${2 ** b.spanShift} bytes (descriptors at ${hx(a.descAddr)} and ${hx(b.descAddr)}); the CPU may take a TLB conflict abort (FSC 0b110000)`,
        { va, descAddr: b.descAddr },
        tr,
        `break-before-make the change (invalid, DSB ISHST, TLBI, DSB ISH, new, DSB ISHST, ISB)${bbmLevel === 2 ? ", or TLBI the old entry before any access at FEAT_BBM level 2" : ""}`,
        `conflict:${cpu}:${Math.min(a.descAddr, b.descAddr)}:${Math.max(a.descAddr, b.descAddr)}:${e?.id ?? 0}`,
      );
    }
  }
  return conflict;
}
