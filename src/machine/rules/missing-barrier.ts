/**
 * Rule 5, missing barrier, for an access that may still see an old descriptor value because the
 * store that replaced it is not yet visible to this CPU's walks (no DSB, no ISB after it, or
 * cache maintenance missing). Stale-entry cases of this rule are in stale-translation.ts.
 * Arm ARM DDI0487 D8.14 "TLB maintenance" and B2.3 (ISB context synchronization); ESOP litmus
 * CoWinvT, CoWTf.
 */
import { hex } from "../../arch/u64.js";
import type { PendingStore } from "../ordering.js";
import { hx, type Reporter } from "../report.js";

/** The access (`accName` of `va` on CPU `cpu`) depends on pending store `r`; `what` describes the two outcomes. */
export function reportUnsynchronizedStore(
  rep: Reporter,
  cpu: number,
  step: number,
  va: bigint,
  accName: string,
  r: PendingStore,
  what: string,
): void {
  const notDone = r.completeStep === 0 || r.needsDc !== 0;
  const tr = [rep.tr(r.step, "stored the descriptor")];
  if (r.completeStep !== 0) tr.push(rep.tr(r.completeStep, "DSB completed the store"));
  const detail = r.needsDc !== 0 ? "barrier.cache-maintenance" : notDone ? "barrier.dsb-after-store" : "barrier.isb-after-store";
  const fix =
    r.needsDc === 1
      ? `DC CVAC (or CIVAC) on the descriptor's line, then DSB ISH, then ISB (walks are non-cacheable but the store was cacheable)`
      : r.needsDc === 2
        ? `DC IVAC (or CIVAC) on the descriptor's line after the store, then DSB ISH, then ISB (the store bypassed the cache; walks are cacheable)`
        : notDone
          ? `DSB ISHST on CPU ${r.cpu} after the store at step ${r.step}${r.cpu === cpu ? ", then ISB" : ""}`
          : `ISB on CPU ${cpu} after the DSB at step ${r.completeStep}`;
  rep.report(
    "missing-barrier",
    detail,
    step,
    cpu,
    `${accName} of VA ${hex(va)} on CPU ${cpu} depends on the descriptor store at step ${r.step} (${hx(r.pa)}) ${notDone ? (r.needsDc !== 0 ? "which needs cache maintenance before walkers see it" : "which no DSB has completed") : "without an ISB after its DSB"}: ${what}`,
    { va, descAddr: r.pa },
    tr,
    fix,
    `pend:${r.id}:${cpu}`,
  );
}
