/**
 * What an access may see (reference vmsa-rules.md §5.3): besides the outcome through memory now,
 * one outcome per descriptor store on its walk that its walks may not observe yet (the walk
 * with the old value, ordering.ts), and one per entry its TLB may still hold for the VA (a stale
 * leaf, or a walk through a cached table entry or an old context, tlb.ts).
 */
import { HI_CONT, LO_NG } from "../arch/bits.js";
import { FAULT_NONE, FAULT_PERMISSION } from "../arch/fault.js";
import { TWO32, type WalkContext } from "../walk/context.js";
import { directPermissions, leafOutputAddress } from "../walk/fields.js";
import { Walker } from "../walk/walker.js";
import type { Cpu } from "./cpu.js";
import { type OverlayMem, type PendingByPa, type PendingStore, storeVisibleTo } from "./ordering.js";
import { type Alt, permWanted } from "./outcomes.js";
import type { PaSteps } from "./step-log.js";
import type { OutcomeSource } from "./types.js";

/** VA offset within a half for an address given as halves. */
export function offIn(ia: number, vaHi: number, vaLo: number): number {
  return (vaHi & (2 ** (ia - 32) - 1)) * TWO32 + (vaLo >>> 0);
}

export class MaySee {
  constructor(
    private readonly pending: PendingByPa,
    private readonly overlay: OverlayMem,
    private readonly lastWriter: PaSteps,
  ) {}

  /** The outcome the walker `w` found (fault kind `f`), with hierarchical attributes `extra` from a cached table above it. */
  fromWalker(
    w: Walker,
    source: OutcomeSource,
    f: number,
    ctx: WalkContext,
    acc: number,
    extra: { apT: number; uxnT: number; pxnT: number } | undefined,
  ): Alt {
    let fault = f;
    let attr = 0;
    let sh = 0;
    let spanShift = 0;
    let descAddr = -1;
    if (f === FAULT_NONE && w.half !== undefined) {
      const h = w.half;
      attr = ctx.mair[(w.descLo >>> 2) & 7] as number;
      sh = h.ds ? h.walkSh : (w.descLo >>> 8) & 3;
      spanShift = (h.shiftAt[w.level + 1] as number) + ((w.descHi & HI_CONT) !== 0 ? (h.contAt[w.level + 1] as number) : 0);
      descAddr = w.trailAddr[w.trailLen - 1] as number;
      if (extra !== undefined && (extra.apT | extra.uxnT | extra.pxnT) !== 0) {
        const p = directPermissions(ctx, w.descHi, w.descLo, w.apTable | extra.apT, w.uxnTable | extra.uxnT, w.pxnTable | extra.pxnT);
        if (((p >>> permWanted(acc)) & 1) === 0) fault = FAULT_PERMISSION;
      }
    } else if (w.trailLen > 0) {
      descAddr = w.trailAddr[w.trailLen - 1] as number;
    }
    return {
      source,
      fault,
      pa: w.pa,
      level: w.level,
      attr,
      sh,
      spanShift,
      descAddr,
      fromStep: descAddr >= 0 ? (this.lastWriter.get(descAddr) ?? 0) : 0,
      stale: undefined,
      pend: undefined,
    };
  }

  /** Add the outcomes of CPU `c`'s walk `w` with each store on it it may not see yet, and with all of them. */
  addUnsynchronized(alts: Alt[], c: Cpu, w: Walker, vaHi: number, vaLo: number, acc: number): void {
    const n = w.trailLen;
    const ov = this.overlay;
    ov.over.clear();
    const recs: PendingStore[] = [];
    for (let i = 0; i < n; i++) {
      const r = this.pending.get(w.trailAddr[i] as number);
      if (r === undefined) continue;
      if (storeVisibleTo(r, c.id, c.lastIsb)) continue;
      recs.push(r);
    }
    if (recs.length > 0) {
      const ow = new Walker(ov, c.ctx);
      for (const r of recs) {
        ov.over.clear();
        ov.over.set(r.pa, [r.oldHi, r.oldLo]);
        const a = this.fromWalker(ow, "unsynchronized-store", ow.walkRaw(vaHi, vaLo, acc), c.ctx, acc, undefined);
        a.pend = r;
        // The old value's writer is not tracked per value; report the pending store itself.
        a.fromStep = r.step;
        alts.push(a);
      }
      if (recs.length > 1) {
        ov.over.clear();
        for (const r of recs) ov.over.set(r.pa, [r.oldHi, r.oldLo]);
        const a = this.fromWalker(ow, "unsynchronized-store", ow.walkRaw(vaHi, vaLo, acc), c.ctx, acc, undefined);
        a.pend = recs[0];
        alts.push(a);
      }
    }
  }

  /** Add the outcomes from the entries CPU `c`'s TLB may still hold for the VA. */
  addStale(alts: Alt[], c: Cpu, vaHi: number, vaLo: number, acc: number): void {
    const curAsid = c.ctx.halves[0].asid;
    const sel = (vaHi >>> 23) & 1;
    for (const e of c.stale) {
      if (e.halfIdx !== sel) continue;
      const off = offIn(e.ia, vaHi, vaLo);
      if (off < e.vaOff || off >= e.vaOff + e.span) continue;
      const tagOk = e.preIsb || e.global || e.asid === curAsid;
      if (e.kind === "leaf") {
        if (!tagOk || !c.ctx.mmuOn) continue;
        const p = directPermissions(e.ctx, e.hi, e.lo, e.apT, e.uxnT, e.pxnT);
        const oa = leafOutputAddress(e.half, e.hi, e.lo, e.level);
        const spanShift = Math.log2(e.span);
        const base = oa - (oa % e.span);
        const a: Alt = {
          source: "stale-tlb",
          fault: ((p >>> permWanted(acc)) & 1) === 0 ? FAULT_PERMISSION : FAULT_NONE,
          pa: base + (off - e.vaOff),
          level: e.level,
          attr: e.ctx.mair[(e.lo >>> 2) & 7] as number,
          sh: e.half.ds ? e.half.walkSh : (e.lo >>> 8) & 3,
          spanShift,
          descAddr: e.descAddr,
          fromStep: e.origin,
          stale: e,
          pend: undefined,
        };
        alts.push(a);
      } else if (e.root !== undefined) {
        if (!c.ctx.mmuOn && !e.preIsb) continue;
        if (e.kind === "table" && !tagOk) continue;
        const rw = e.root.walker;
        const rf = rw.walkRaw(vaHi, vaLo, acc);
        const a = this.fromWalker(rw, e.kind === "table" ? "walk-cache" : "old-context", rf, e.root.ctx, acc, e.root);
        a.stale = e;
        if (e.kind === "context") {
          // Leaves reachable from the old context carry their own tag.
          if (rf === FAULT_NONE || a.fault === FAULT_PERMISSION) {
            const leafGlobal = (rw.descLo & LO_NG) === 0;
            if (!e.preIsb && !leafGlobal && e.asid !== curAsid) continue;
            if (e.globalOnly && !leafGlobal && !e.preIsb) continue;
          } else if (!e.preIsb) continue;
        }
        alts.push(a);
      }
    }
  }
}
