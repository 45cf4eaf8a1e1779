/**
 * Rule 1, break-before-make, second half: after the break (an invalid descriptor), the new
 * descriptor may only be made once every CPU's old entry for the range is invalidated (TLBI
 * completed by a DSB). Incomplete maintenance is filed under rule 5 (missing barrier).
 * Arm ARM DDI0487 D8.17.1 "Using break-before-make when updating translation table entries"
 * (RWHZWS, RPVTFW); D8.14 "TLB maintenance" (a TLBI completes only at a later DSB).
 */
import { LO_NG } from "../../arch/bits.js";
import { hex } from "../../arch/u64.js";
import type { PhysMem } from "../../mem/physmem.js";
import type { HalfContext, WalkContext } from "../../walk/context.js";
import { bbmRequirement } from "../bbm.js";
import { type Reporter, vaOf } from "../report.js";
import { bigOf, ST_AWAIT_ISB, ST_TLBI_ISSUED, type StaleEntry } from "../tlb.js";
import { readOnlySwapOfEqualPages } from "./readonly-swap.js";
import type { StoreFacts } from "./store.js";

/** What the rule reads of each CPU: its may-hold set. */
export interface HoldingCpu {
  readonly stale: readonly StaleEntry[];
}

/** Whether any CPU may still hold a non-context entry overlapping [va, va + size) of half `h`. */
function anyOverlap(cpus: readonly HoldingCpu[], h: HalfContext, va: number, size: number): boolean {
  let any = false;
  for (const c of cpus) {
    for (const s of c.stale) {
      if (s.kind !== "context" && s.state !== ST_AWAIT_ISB && s.halfIdx === h.index && s.vaOff < va + size && va < s.vaOff + s.span)
        any = true;
    }
  }
  return any;
}

/**
 * `st` made an invalid live entry valid (kind `nk`) at VA offset `va` (`size` bytes, level
 * `level`) reached through a root tagged `asid` with registers `ctx`.
 */
export function checkMakeAfterBreak(
  rep: Reporter,
  mem: PhysMem,
  bbmLevel: number,
  cpus: readonly HoldingCpu[],
  st: StoreFacts,
  h: HalfContext,
  ctx: WalkContext,
  asid: number,
  nk: number,
  level: number,
  va: number,
  size: number,
): void {
  const { cpu, step, pa, hi, lo } = st;
  if (!anyOverlap(cpus, h, va, size)) return;
  const vaBig = vaOf(h, va);
  const newGlobal = nk === 2 ? (lo & LO_NG) === 0 : false;
  const newD = bigOf(hi, lo);
  for (const c of cpus) {
    for (const s of c.stale) {
      if (s.kind === "context" || s.state === ST_AWAIT_ISB) continue;
      if (s.halfIdx !== h.index || s.vaOff >= va + size || va >= s.vaOff + s.span) continue;
      if (!(s.global || newGlobal || s.asid === asid)) continue;
      const oldD = bigOf(s.hi, s.lo);
      let required: boolean;
      let reason: string;
      if (s.level === level) {
        // RWHZWS: a read-only swap of identical data needs no break (rules/readonly-swap.ts).
        const contentsEqual = readOnlySwapOfEqualPages(mem, h, ctx.hd, s.hi, s.lo, hi, lo, level);
        const r = bbmRequirement(oldD, newD, level, h.fmt, bbmLevel, { mair: ctx.regs.mair, ha: ctx.ha, contentsEqual });
        required = r.required;
        reason = r.reason;
      } else {
        required = bbmLevel < 2;
        reason = `the cached level-${s.level} entry and the new level-${level} entry differ in size`;
      }
      if (!required) continue;
      const tr = [
        rep.tr(s.origin, "wrote the old descriptor"),
        rep.tr(s.changed, "broke it (old entry may stay cached)"),
        rep.tr(step, "made the new descriptor"),
      ];
      for (const m of s.missed) tr.push(rep.tr(m.step, `TLBI did not remove the old entry (${m.why})`));
      if (s.refill > 0) {
        tr.push(rep.tr(s.refill, "TLBI before the break was visible to walkers"));
        rep.report(
          "missing-barrier",
          "barrier.dsb-before-tlbi",
          step,
          cpu,
          `CPU ${s.cpu} may hold the old translation of VA ${hex(vaBig)}: the break at step ${s.changed} was not completed by a DSB before the TLBI at step ${s.refill}, so a walk could refill it`,
          { va: vaBig, descAddr: pa },
          tr,
          `DSB ISHST between the store at step ${s.changed} and the TLBI at step ${s.refill}`,
          `mab:${step}:${pa}`,
        );
      } else if (s.state === ST_TLBI_ISSUED) {
        tr.push(rep.tr(s.tlbiStep, "TLBI issued"));
        rep.report(
          "missing-barrier",
          "barrier.dsb-after-tlbi",
          step,
          cpu,
          `new descriptor for VA ${hex(vaBig)} written while the TLBI at step ${s.tlbiStep} is not yet complete (no DSB on CPU ${s.tlbiCpu}); CPU ${s.cpu} may still hold the old entry: ${reason}`,
          { va: vaBig, descAddr: pa },
          tr,
          `DSB ISH after the TLBI at step ${s.tlbiStep}, before the store at step ${step}`,
          `mab:${step}:${pa}`,
        );
      } else {
        rep.report(
          "bbm",
          "bbm.make-before-tlbi",
          step,
          cpu,
          `VA ${hex(vaBig)} made valid (${hex(newD)}) while CPU ${s.cpu} may still hold the old ${s.kind === "table" ? "walk-cache" : "leaf"} entry ${hex(oldD)} (broken at step ${s.changed}, never invalidated): ${reason}`,
          { va: vaBig, descAddr: pa },
          tr,
          `after the break at step ${s.changed}: DSB ISHST; TLBI ${s.kind === "table" ? "VAE1IS (non-last-level)" : s.global ? "VAAE1IS" : "VAE1IS"} for ${hex(vaBig)}; DSB ISH; then store the new descriptor`,
          `mab:${step}:${pa}`,
        );
      }
    }
  }
}
