/**
 * Ordering and visibility of descriptor stores to translation table walks (the model of the
 * missing-barrier rule, see its citation in rules.ts): a store is seen by walkers only after a
 * DSB of the storing CPU, and by that CPU's own walks after a following ISB; a store whose
 * cacheability differs from the walks' also needs DC maintenance. DMB and store-release do not
 * order walks.
 */
import { PhysMem } from "../mem/physmem.js";
import type { DcOp } from "./types.js";

/** A descriptor store walkers may not observe yet (walks may still read `oldHi:oldLo`). */
export interface PendingStore {
  readonly id: number;
  readonly pa: number;
  readonly oldHi: number;
  readonly oldLo: number;
  readonly step: number;
  readonly cpu: number;
  /** Step of the DSB that completed it (0: none yet). */
  completeStep: number;
  /** 0 none, 1 needs DC clean (CVAC/CIVAC), 2 needs DC invalidate (IVAC/CIVAC). */
  needsDc: number;
}

/** Whether CPU `cpu` (last ISB at `lastIsb`) is certain to walk with the new value of `r`. */
export function storeVisibleTo(r: PendingStore, cpu: number, lastIsb: number): boolean {
  return r.needsDc === 0 && r.completeStep !== 0 && (r.cpu !== cpu || lastIsb > r.completeStep);
}

/** Cache maintenance a store needs before walks see it, from where stores and walks are cached. */
export function dcNeedOf(storeCacheable: boolean, walkCacheable: boolean): number {
  return storeCacheable === walkCacheable ? 0 : storeCacheable ? 1 : 2;
}

/** Apply DC `op` on the 64-byte line at `line` to the pending stores in it. */
export function applyDc(pending: ReadonlyMap<number, PendingStore>, line: number, op: DcOp): void {
  for (let a = line; a < line + 64; a += 8) {
    const r = pending.get(a);
    if (r === undefined) continue;
    if (r.needsDc === 1 && (op === "CVAC" || op === "CIVAC")) r.needsDc = 0;
    if (r.needsDc === 2 && (op === "IVAC" || op === "CIVAC")) r.needsDc = 0;
  }
}

/** A DSB (not *LD) of the storing CPU completes its stores for walkers. */
export function completeStores(list: readonly PendingStore[], s: number): void {
  for (const r of list) if (r.completeStep === 0) r.completeStep = s;
}

/**
 * An ISB of the storing CPU: completed stores that need no cache maintenance are now visible to
 * all walks; drop them from its list `list` (in place) and from the machine-wide map `byPa`.
 */
export function retireVisibleStores(list: PendingStore[], byPa: Map<number, PendingStore>): void {
  let j = 0;
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as PendingStore;
    if (r.completeStep !== 0 && r.needsDc === 0) {
      if (byPa.get(r.pa) === r) byPa.delete(r.pa);
    } else list[j++] = r;
  }
  list.length = j;
}

/** Memory whose loads see some descriptor locations with an older value. */
export class OverlayMem extends PhysMem {
  private readonly base: PhysMem;
  readonly over = new Map<number, [number, number]>();
  constructor(base: PhysMem) {
    super();
    this.base = base;
  }
  override load64(pa: number): boolean {
    const o = this.over.get(pa);
    if (o !== undefined) {
      this.hi = o[0];
      this.lo = o[1];
      return true;
    }
    if (!this.base.load64(pa)) return false;
    this.hi = this.base.hi;
    this.lo = this.base.lo;
    return true;
  }
}

const overlays = new WeakMap<PhysMem, OverlayMem>();

/**
 * The overlay over `base`, one per memory: machines over the same memory (--explore runs many)
 * share it instead of each building a PhysMem. Its `over` map is set and cleared within one
 * call, so sharing it between machines is safe.
 */
export function overlayOf(base: PhysMem): OverlayMem {
  let o = overlays.get(base);
  if (o === undefined) {
    o = new OverlayMem(base);
    overlays.set(base, o);
  }
  return o;
}
