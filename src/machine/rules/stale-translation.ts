/**
 * Rule 4, stale translation: an access may use an entry (leaf, walk cache, old context) the TLB
 * may still hold although memory or the registers changed. When the maintenance was issued but
 * not completed (TLBI without DSB, DSB without ISB, TLBI before the store was visible, MSR
 * without ISB) the finding is filed under rule 5 (missing barrier) instead.
 * Arm ARM DDI0487 D8.14 "TLB maintenance" (entries stay cached until invalidated; RRVJDB walk
 * caches); B2.3 (ISB context synchronization).
 */
import { FAULT_NONE } from "../../arch/fault.js";
import { hex } from "../../arch/u64.js";
import type { Alt } from "../outcomes.js";
import { hx, type Reporter, vaOf } from "../report.js";
import type { RuleId } from "../rules.js";
import { bigOf, ST_AWAIT_ISB, ST_TLBI_ISSUED, type StaleEntry } from "../tlb.js";
import type { TraceEntry } from "../types.js";

/** The access (`accName` of `va` on CPU `cpu`) may have outcome `a` from stale entry `e`; `what` describes the two outcomes. */
export function reportStaleOutcome(
  rep: Reporter,
  cpu: number,
  step: number,
  va: bigint,
  accName: string,
  a: Alt,
  e: StaleEntry,
  what: string,
): void {
  const tr: TraceEntry[] = [];
  if (e.kind !== "context") tr.push(rep.tr(e.origin, "wrote the old descriptor"));
  tr.push(rep.tr(e.changed, e.kind === "context" ? "changed the translation registers" : "changed the descriptor"));
  for (const m of e.missed) tr.push(rep.tr(m.step, `TLBI did not remove the entry (${m.why})`));
  const vaHex = hex(va);
  let rule: RuleId = "stale-translation";
  let detail: string;
  let msg: string;
  let fix: string;
  if (e.kind === "context") {
    if (e.preIsb) {
      rule = "missing-barrier";
      detail = "barrier.isb-after-msr";
      msg = `${accName} of VA ${vaHex} on CPU ${cpu} follows the MSR at step ${e.changed} without an ISB: the old context may still be used: ${what}`;
      fix = `ISB after the MSR at step ${e.changed}`;
    } else {
      detail = "stale.old-context";
      msg = `${accName} of VA ${vaHex} on CPU ${cpu}: entries cached from the translation registers replaced at step ${e.changed} were never invalidated: ${what}`;
      fix = "TLBI VMALLE1 (or ASIDE1 with the old ASID) + DSB + ISB after switching, or switch to a fresh ASID";
    }
  } else if (e.refill > 0) {
    rule = "missing-barrier";
    detail = "barrier.dsb-before-tlbi";
    tr.push(rep.tr(e.refill, "TLBI issued before the store was visible to walkers"));
    msg = `${accName} of VA ${vaHex} on CPU ${cpu}: the descriptor store at step ${e.changed} was not completed by a DSB before the TLBI at step ${e.refill}, so the old entry may be refilled: ${what}`;
    fix = `DSB ISHST between the store at step ${e.changed} and the TLBI at step ${e.refill}`;
  } else if (e.state === ST_TLBI_ISSUED) {
    rule = "missing-barrier";
    detail = "barrier.dsb-after-tlbi";
    tr.push(rep.tr(e.tlbiStep, "TLBI issued, no DSB yet"));
    msg = `${accName} of VA ${vaHex} on CPU ${cpu}: the TLBI at step ${e.tlbiStep} is not complete until CPU ${e.tlbiCpu} executes a DSB: ${what}`;
    fix = `DSB ISH after the TLBI at step ${e.tlbiStep}, then ISB`;
  } else if (e.state === ST_AWAIT_ISB) {
    rule = "missing-barrier";
    detail = "barrier.isb-after-tlbi";
    tr.push(rep.tr(e.tlbiStep, "TLBI issued"), rep.tr(e.completeStep, "DSB completed the TLBI"));
    msg = `${accName} of VA ${vaHex} on CPU ${cpu}: no ISB after the TLBI completed at step ${e.completeStep}; the old translation may still be used: ${what}`;
    fix = `ISB on CPU ${cpu} after the DSB at step ${e.completeStep}`;
  } else {
    detail = e.kind === "table" ? "stale.walk-cache" : "stale.tlb";
    const op = e.kind === "table" ? "VAE1IS (non-last-level)" : e.global ? "VAAE1IS (or VAE1IS)" : "VAE1IS";
    msg = `${accName} of VA ${vaHex} on CPU ${cpu}: the ${e.kind === "table" ? "walk-cache" : "TLB"} entry from descriptor ${hx(e.descAddr)} (${hex(bigOf(e.hi, e.lo))}, changed at step ${e.changed}) was never invalidated: ${what}`;
    fix = `after the store at step ${e.changed}: DSB ISHST; TLBI ${op} for VA ${hex(vaOf(e.half, e.vaOff))}${e.global ? "" : ` (ASID ${e.asid})`}; DSB ISH; ISB`;
  }
  rep.report(
    rule,
    detail,
    step,
    cpu,
    msg,
    { va, pa: a.fault === FAULT_NONE ? a.pa : undefined, descAddr: e.descAddr >= 0 ? e.descAddr : undefined },
    tr,
    fix,
    `stale:${e.id}:${cpu}:${rule}`,
  );
}
