/**
 * The index of live tables: for every 4 KiB frame holding a table some CPU may walk (from its
 * TTBRs, or from a cached table entry or old context), the (CPU, root, level, VA) it translates.
 * A store to a PA then finds the entries it changes without enumerating VAs. Rebuilt lazily when
 * a table descriptor, a register or the set of cached roots changes (`dirty`).
 */
import type { PhysMem } from "../mem/physmem.js";
import { nextTableAddress } from "../walk/fields.js";
import type { Root, StaleEntry } from "./tlb.js";

const FRAME = 4096;

/** One table page reachable by one CPU through one root. */
export interface TableUse {
  readonly cpu: number;
  readonly root: Root;
  /** The cached entry the root comes from (undefined: a current TTBR root). */
  readonly stale: StaleEntry | undefined;
  readonly tableBase: number;
  readonly tableBytes: number;
  readonly level: number;
  readonly vaOff: number;
  /** Hierarchical APTable / UXNTable / PXNTable accumulated above this table. */
  readonly apT: number;
  readonly uxnT: number;
  readonly pxnT: number;
}

/**
 * The index of a machine's initial state, to give another machine over the same memory and
 * registers (--explore runs one scenario many times): the table walk is done once. Roots are
 * named by position (CPU, root number) and checked against the new machine's before use.
 */
export interface TableIndexSeed {
  /** Per CPU, per root: table PA, level, VA offset, span, ASID (what the uses were built from). */
  readonly roots: readonly (readonly (readonly number[])[])[];
  /** Each use with its root named by its position in its CPU's roots. */
  readonly uses: readonly (Omit<TableUse, "root" | "stale"> & { readonly root: number })[];
  /** The index itself: frame number and the uses (positions in `uses`) filed under it, in order. */
  readonly frames: readonly (readonly [number, readonly number[]])[];
}

const rootKey = (r: Root): number[] => [r.half.index, r.table, r.level, r.vaOff, r.span, r.asid, r.apT, r.uxnT, r.pxnT];

/** What the index reads of each CPU. */
export interface TableIndexCpu {
  readonly id: number;
  readonly roots: readonly Root[];
  readonly stale: readonly StaleEntry[];
}

export class TableIndex {
  private index = new Map<number, TableUse[]>();
  /**
   * Per table (keyed by its base PA): the indices of its entries with bits[1:0] = 0b11 (table or
   * page descriptors), so a rebuild visits only those instead of loading every entry again.
   * Dropped by `invalidate` when a store may change that set.
   */
  private readonly kids = new Map<number, { bytes: number; idx: number[] }>();
  /** Bit k set: some list in `kids` is of a table of 2^k bytes (a table's bytes are a power of two). */
  private kidSizes = 0;
  /** Set when the index must be rebuilt before the next lookup. */
  dirty = true;
  /**
   * `writtenAt(pa)`: step of the last store to the descriptor at `pa` (0: initial content). A
   * switched-out context is followed only through descriptors written before the switch: it is
   * no longer walked (Arm ARM D8.2), so what was linked later (its freed tables reused) is not
   * reachable through it.
   */
  constructor(
    private readonly mem: PhysMem,
    private readonly cpus: readonly TableIndexCpu[],
    private readonly writtenAt: (pa: number) => number = () => 0,
  ) {}

  /**
   * A store changed the descriptor at `pa` from or to one with bits[1:0] = 0b11: forget the
   * entry lists of every table that may hold `pa` (tables are aligned to their size, 8 B..64 KiB).
   */
  invalidate(pa: number): void {
    if (this.kids.size === 0) return;
    // Only the table sizes the lists hold (usually just the granule): one lookup, not fourteen.
    for (let sizes = this.kidSizes; sizes !== 0; sizes &= sizes - 1) {
      const a = sizes & -sizes;
      this.kids.delete(pa - (pa % a));
    }
  }

  private entriesOf(table: number, bytes: number): number[] {
    const c = this.kids.get(table);
    if (c !== undefined && c.bytes === bytes) return c.idx;
    const mem = this.mem;
    const idx: number[] = [];
    const n = bytes / 8;
    for (let i = 0; i < n; i++) if (mem.load64(table + i * 8) && (mem.lo & 3) === 3) idx.push(i);
    this.kids.set(table, { bytes, idx });
    this.kidSizes |= 1 << Math.round(Math.log2(bytes));
    return idx;
  }

  /** The table uses covering physical address `pa` (undefined: no CPU may walk it). */
  usesAt(pa: number): TableUse[] | undefined {
    if (this.dirty) this.rebuild();
    const l = this.index.get(Math.floor(pa / FRAME));
    if (l === undefined) return undefined;
    let all = true;
    for (const u of l) if (pa < u.tableBase || pa >= u.tableBase + u.tableBytes) all = false;
    if (all) return l;
    const out = l.filter((u) => pa >= u.tableBase && pa < u.tableBase + u.tableBytes);
    return out.length > 0 ? out : undefined;
  }

  /**
   * This index as a seed (built now if it must be), or undefined when it holds cached-table
   * roots (a seed describes an initial state, where nothing is cached yet).
   */
  seed(): TableIndexSeed | undefined {
    if (this.dirty) this.rebuild();
    if (this.cpus.some((c) => c.stale.length > 0)) return undefined;
    const pos = new Map<TableUse, number>();
    const uses: TableIndexSeed["uses"][number][] = [];
    const frames: [number, number[]][] = [];
    for (const [pfn, l] of this.index) {
      const at: number[] = [];
      for (const u of l) {
        let k = pos.get(u);
        if (k === undefined) {
          const root = (this.cpus[u.cpu] as TableIndexCpu).roots.indexOf(u.root);
          if (root < 0) return undefined;
          const { cpu, tableBase, tableBytes, level, vaOff, apT, uxnT, pxnT } = u;
          k = uses.push({ cpu, root, tableBase, tableBytes, level, vaOff, apT, uxnT, pxnT }) - 1;
          pos.set(u, k);
        }
        at.push(k);
      }
      frames.push([pfn, at]);
    }
    return { roots: this.cpus.map((c) => c.roots.map(rootKey)), uses, frames };
  }

  /**
   * Take `seed` (from a machine in the same initial state) instead of walking the tables. The
   * caller vouches that memory is the seed machine's initial memory; the roots are checked here.
   * Returns false (and keeps the index to be built) when the roots differ.
   */
  useSeed(seed: TableIndexSeed): boolean {
    if (seed.roots.length !== this.cpus.length) return false;
    for (let i = 0; i < this.cpus.length; i++) {
      const mine = (this.cpus[i] as TableIndexCpu).roots;
      const theirs = seed.roots[i] as readonly (readonly number[])[];
      if (mine.length !== theirs.length || mine.some((r, k) => rootKey(r).some((x, j) => x !== theirs[k]?.[j]))) return false;
      if ((this.cpus[i] as TableIndexCpu).stale.length > 0) return false;
    }
    const made = seed.uses.map(
      (u): TableUse => ({ ...u, root: (this.cpus[u.cpu] as TableIndexCpu).roots[u.root] as Root, stale: undefined }),
    );
    const idx = new Map<number, TableUse[]>();
    for (const [pfn, at] of seed.frames)
      idx.set(
        pfn,
        at.map((k) => made[k] as TableUse),
      );
    this.index = idx;
    this.dirty = false;
    return true;
  }

  private rebuild(): void {
    const idx = new Map<number, TableUse[]>();
    const add = (u: TableUse): void => {
      const first = Math.floor(u.tableBase / FRAME);
      const last = Math.floor((u.tableBase + u.tableBytes - 1) / FRAME);
      for (let f = first; f <= last; f++) {
        let l = idx.get(f);
        if (l === undefined) {
          l = [];
          idx.set(f, l);
        }
        l.push(u);
      }
    };
    const mem = this.mem;
    const visit = (cpu: number, root: Root, stale: StaleEntry | undefined): void => {
      const h = root.half;
      const before = stale !== undefined && stale.kind === "context" ? stale.changed : Number.POSITIVE_INFINITY;
      const rec = (table: number, level: number, vaOff: number, apT: number, uxnT: number, pxnT: number, bytes: number): void => {
        add({ cpu, root, stale, tableBase: table, tableBytes: bytes, level, vaOff, apT, uxnT, pxnT });
        if (level >= 3) return;
        const sz = 2 ** (h.shiftAt[level + 1] as number);
        for (const i of this.entriesOf(table, bytes)) {
          if (before !== Number.POSITIVE_INFINITY && this.writtenAt(table + i * 8) > before) continue;
          if (!mem.load64(table + i * 8)) continue;
          const hi = mem.hi;
          const lo = mem.lo;
          if ((lo & 3) !== 3) continue;
          const next = nextTableAddress(h, hi, lo);
          if (next >= h.paLimit) continue;
          const a = h.hpd ? apT : apT | ((hi >>> 29) & 3);
          const u = h.hpd ? uxnT : uxnT | ((hi >>> 28) & 1);
          const p = h.hpd ? pxnT : pxnT | ((hi >>> 27) & 1);
          rec(next, level + 1, vaOff + i * sz, a, u, p, 2 ** h.gShift);
        }
      };
      const entries = Math.min(
        2 ** (h.bitsAt[root.level + 1] as number),
        Math.max(1, root.span / 2 ** (h.shiftAt[root.level + 1] as number)),
      );
      rec(root.table, root.level, root.vaOff, root.apT, root.uxnT, root.pxnT, Math.max(entries * 8, 8));
    };
    for (const c of this.cpus) {
      for (const r of c.roots) visit(c.id, r, undefined);
      for (const s of c.stale) if (s.root !== undefined) visit(c.id, s.root, s);
    }
    this.index = idx;
    this.dirty = false;
  }
}
