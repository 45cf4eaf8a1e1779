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

const EMPTY = -1;
const TOMB = -2;

/**
 * The pending stores by PA, machine-wide (at most one per PA: the latest). An open-addressing
 * table (PAs in a Float64Array, records beside them) rather than a Map: nearly always a handful
 * of stores are in flight, and a V8 Map reallocates its table as it grows and shrinks, which the
 * store/DSB/ISB cycle of every break-before-make would do (the allocation was most of the
 * checker's garbage). Emptied tables are reset in place.
 */
export class PendingByPa {
  private keys = new Float64Array(16).fill(EMPTY);
  private vals: (PendingStore | undefined)[] = new Array<PendingStore | undefined>(16).fill(undefined);
  private used = 0;
  /** Number of pending stores. */
  size = 0;

  private slotOf(pa: number): number {
    const mask = this.keys.length - 1;
    let i = Math.imul((pa >>> 3) ^ Math.floor(pa / 4294967296), 0x9e3779b1) >>> 0;
    for (;;) {
      i &= mask;
      const k = this.keys[i] as number;
      if (k === pa || k === EMPTY) return i;
      i++;
    }
  }

  get(pa: number): PendingStore | undefined {
    const i = this.slotOf(pa);
    return this.keys[i] === pa ? this.vals[i] : undefined;
  }

  set(pa: number, r: PendingStore): void {
    let i = this.slotOf(pa);
    if (this.keys[i] !== pa) {
      if (2 * (this.used + 1) > this.keys.length) {
        this.rehash(4 * (this.size + 1));
        i = this.slotOf(pa);
      }
      this.keys[i] = pa;
      this.used++;
      this.size++;
    }
    this.vals[i] = r;
  }

  /** Remove the pending store at `pa` if it is `r`. */
  remove(pa: number, r: PendingStore): void {
    const i = this.slotOf(pa);
    if (this.keys[i] !== pa || this.vals[i] !== r) return;
    const keys = this.keys;
    const mask = keys.length - 1;
    this.vals[i] = undefined;
    this.size--;
    if (keys[(i + 1) & mask] !== EMPTY) keys[i] = TOMB;
    else {
      // Nothing probes past an empty slot: this one, and the tombstones just before it, are empty too.
      let k = i;
      do {
        keys[k] = EMPTY;
        this.used--;
        k = (k - 1) & mask;
      } while (keys[k] === TOMB);
    }
    if (this.size === 0 && this.used !== 0) {
      this.keys.fill(EMPTY);
      this.used = 0;
    }
  }

  /** A table of at least `want` slots (a power of two, 16 or more) holding the current records. */
  private rehash(want: number): void {
    let n = 16;
    while (n < want) n *= 2;
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.keys = new Float64Array(n).fill(EMPTY);
    this.vals = new Array<PendingStore | undefined>(n).fill(undefined);
    this.used = 0;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i] as number;
      if (k >= 0) this.set(k, oldVals[i] as PendingStore);
    }
  }
}

/** Apply DC `op` on the 64-byte line at `line` to the pending stores in it. */
export function applyDc(pending: PendingByPa, line: number, op: DcOp): void {
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
export function retireVisibleStores(list: PendingStore[], byPa: PendingByPa): void {
  let j = 0;
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as PendingStore;
    if (r.completeStep !== 0 && r.needsDc === 0) byPa.remove(r.pa, r);
    else list[j++] = r;
  }
  truncate(list, j);
}

/**
 * Shorten `list` to `n` elements by popping: setting `length` to 0 makes V8 drop the backing
 * store, and the next push allocates a new one (once per ISB otherwise).
 */
export function truncate(list: unknown[], n: number): void {
  while (list.length > n) list.pop();
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
