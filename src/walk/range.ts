/**
 * Range walks: visit every entry of a VA range's translation tables, skipping invalid subtrees
 * as a whole (a hole at level L is one visit, not one per page), and coalesce leaf runs.
 *
 * With `shared: true` a walk is bounded by the distinct tables rather than by the VA paths through
 * them: a next-level table already walked in full (same table PA, same level, same accumulated
 * APTable/UXNTable/PXNTable, which is everything its entries' results depend on) is reported once
 * more as a "shared" entry naming the VA where it was first walked, instead of being walked again.
 * Tables may legally be pointed at by many entries (Arm ARM D8.2: nothing forbids it; Linux's
 * KASAN early shadow does it), and corrupted dumps do it at every level (512^n VA paths).
 */
import { type Descriptor, decodeDescriptor, ENTRY_INVALID, ENTRY_TABLE } from "../arch/descriptor.js";
import type { Regs } from "../arch/registers.js";
import type { PhysMem } from "../mem/physmem.js";
import { compileRegs, type HalfContext, type WalkContext } from "./context.js";
import { entryKind, leafOutputAddress, nextTableAddress } from "./fields.js";

/** One table entry met by a range walk, in numeric form (offsets within the half). */
export interface RawEntry {
  /** "leaf": block/page; "hole": invalid entry (raw may be non-zero); "unbacked": the table page is
   * not in memory; "bad-table": a table descriptor whose next-level address exceeds the PA size;
   * "table": a table descriptor, reported before its subtree (opts.tables); "table-end": after its
   * subtree (opts.tables and opts.shared; `key` is -1 when the subtree was cut by the range and is
   * not remembered for sharing);
   * "shared": a table descriptor whose subtree was already walked in full at VA offset `firstOff`
   * (opts.shared), not walked again. */
  kind: "leaf" | "hole" | "unbacked" | "bad-table" | "table" | "table-end" | "shared";
  level: number;
  /** VA offset within the half (va = halfBase + off). */
  off: number;
  size: number;
  hi: number;
  lo: number;
  /** Physical address of the descriptor. */
  descAddr: number;
  /** Physical address of the table that holds the descriptor (for "unbacked": the missing table). */
  table: number;
  /** "table", "table-end", "shared": the next-level table's physical address. */
  next: number;
  /** "table-end", "shared": the sharing key of the next-level table (table PA, level, table bits; -1: none). */
  key: number;
  /** "shared": the VA offset where that subtree was walked (and reported) in full. */
  firstOff: number;
  /** Accumulated APTable, UXNTable, PXNTable of the tables above. */
  apTable: number;
  uxnTable: number;
  pxnTable: number;
  /**
   * Entries this visit stands for (opts.runs; always 1 otherwise, and for every kind but "leaf"
   * and "hole"): `count` consecutive entries of one table, entry j at VA offset off + j·size and
   * descriptor address descAddr + 8j. A "hole" run repeats one descriptor value (hi, lo). In a
   * "leaf" run entry j's descriptor is (hi, lo) + j·size as a 64-bit sum whose carry stays inside
   * the address field: every bit but the output address is the first entry's, and the output
   * address advances by exactly `size` from one entry to the next.
   */
  count: number;
}

export type EntryVisitor = (e: RawEntry) => void;

/**
 * What a range walk reads of a translation regime: the start table, its level and entry counts
 * (the start level's count includes concatenated tables at stage 2), the descriptor format and the
 * output size. A stage-1 TTBR half (HalfContext) is one; a stage-2 IPA space (walk/stage2-range.ts)
 * is another, so both are walked by walkEntries.
 */
export type RangeGeometry = Pick<
  HalfContext,
  "fmt" | "gShift" | "iaBits" | "startLevel" | "shiftAt" | "bitsAt" | "base" | "paLimit" | "hpd" | "tnszFault" | "baseFault"
>;

/** VA of the first address of a half: 0 for TTBR0, 2^64 - 2^ia for TTBR1. */
export function halfBase(h: HalfContext): bigint {
  return h.index === 0 ? 0n : (1n << 64n) - (1n << BigInt(h.iaBits));
}

/**
 * Visit the entries covering [startOff, endOff) of a half (or of a stage-2 IPA space), in address
 * order. `tables` also reports table descriptors before descending into them. With `hpd` set
 * (TCR.HPDn=1, or stage 2, which has no hierarchical attributes) table bits [63:59] are ignored.
 * `runs` delivers consecutive leaves that differ only by their output address advancing one entry
 * size, and consecutive equal invalid entries, as one visit with `count` > 1 (RawEntry.count):
 * the visitor's cost is then per run, not per entry (a table of 4K pages mapping contiguous memory
 * with one set of attributes is one visit).
 */
export function walkEntries(
  mem: PhysMem,
  h: RangeGeometry,
  startOff: number,
  endOff: number,
  visit: EntryVisitor,
  opts: { tables?: boolean; shared?: boolean; runs?: boolean } = {},
): void {
  const e: RawEntry = {
    kind: "hole",
    level: 0,
    off: 0,
    size: 0,
    hi: 0,
    lo: 0,
    descAddr: 0,
    table: 0,
    next: 0,
    key: 0,
    firstOff: 0,
    apTable: 0,
    uxnTable: 0,
    pxnTable: 0,
    count: 1,
  };
  const runs = opts.runs === true;
  // Descriptor bits a leaf run keeps: everything above the address field's top in the high word
  // (a carry out of the output address would change one of them: that entry starts a new run).
  const keepHi = ~h.fmt.addrHi;
  // Subtrees walked in full, by sharing key → VA offset of that walk.
  const seen = opts.shared ? new Map<number, number>() : undefined;
  const rec = (table: number, level: number, regionOff: number, apT: number, uxnT: number, pxnT: number): void => {
    const li = level + 1;
    const size = 2 ** (h.shiftAt[li] as number);
    const n = 2 ** (h.bitsAt[li] as number);
    const first = Math.max(0, Math.floor((startOff - regionOff) / size));
    const last = Math.min(n - 1, Math.ceil((endOff - regionOff) / size) - 1);
    // The entry size as 32-bit halves: what a leaf run adds to the descriptor from one entry to the next.
    const sizeHi = Math.floor(size / 4294967296);
    const sizeLo = size - sizeHi * 4294967296;
    // Fields equal for every entry of this table, set again after a subtree overwrote them.
    const tableFields = (): void => {
      e.count = 1;
      e.level = level;
      e.size = size;
      e.table = table;
      e.apTable = apT;
      e.uxnTable = uxnT;
      e.pxnTable = pxnT;
    };
    tableFields();
    // The 4 KiB frame being read, its words read in place while it cannot move (not a pool frame).
    let frPfn = -1;
    let fr: Uint32Array | undefined;
    let frWord = 0;
    for (let i = first; i <= last; i++) {
      const off = regionOff + i * size;
      const da = table + i * 8;
      e.off = off;
      e.descAddr = da;
      const pfn = Math.floor(da / 4096);
      if (pfn !== frPfn) {
        fr = mem.frameArena(pfn);
        frPfn = fr !== undefined && mem.frameStable ? pfn : -1;
        frWord = mem.frameWord - pfn * 1024;
      }
      let hi: number;
      let lo: number;
      if (frPfn === pfn) {
        const w = frWord + da / 4;
        lo = (fr as Uint32Array)[w] as number;
        hi = (fr as Uint32Array)[w + 1] as number;
      } else {
        if (!mem.load64(da)) {
          e.kind = "unbacked";
          e.hi = 0;
          e.lo = 0;
          visit(e);
          continue;
        }
        hi = mem.hi;
        lo = mem.lo;
      }
      e.hi = hi;
      e.lo = lo;
      const kind = entryKind(h, lo, level);
      if (runs && i < last && kind !== ENTRY_TABLE) {
        // Extend the run: read the next entries while each is the previous one with the output
        // address one entry further (a leaf), or the same value (an invalid entry).
        const leafRun = kind !== ENTRY_INVALID;
        let pHi = hi;
        let pLo = lo;
        let j = i + 1;
        while (j <= last) {
          const dj = da + (j - i) * 8;
          const pj = Math.floor(dj / 4096);
          if (pj !== frPfn) {
            fr = mem.frameArena(pj);
            frPfn = fr !== undefined && mem.frameStable ? pj : -1;
            frWord = mem.frameWord - pj * 1024;
          }
          if (frPfn === pj) {
            // The rest of this frame, read in place.
            const words = fr as Uint32Array;
            const end = Math.min(last, j + (pj * 4096 + 4096 - dj) / 8 - 1);
            let w = frWord + dj / 4;
            let k = j;
            if (leafRun) {
              // In int32 form: the sum's low word wraps, its carry is an unsigned compare.
              let qLo = pLo | 0;
              let qHi = pHi | 0;
              const sLo = sizeLo | 0;
              for (; k <= end; k++, w += 2) {
                const nLo = (words[w] as number) | 0;
                const nHi = (words[w + 1] as number) | 0;
                const xLo = (qLo + sLo) | 0;
                const xHi = (qHi + sizeHi + ((xLo ^ 0x80000000) < (qLo ^ 0x80000000) ? 1 : 0)) | 0;
                if (nLo !== xLo || nHi !== xHi || ((nHi ^ qHi) & keepHi) !== 0) break;
                qHi = nHi;
                qLo = nLo;
              }
              pHi = qHi >>> 0;
              pLo = qLo >>> 0;
            } else {
              for (; k <= end; k++, w += 2) if (words[w] !== lo || words[w + 1] !== hi) break;
            }
            j = k;
            if (k <= end) break;
            continue;
          }
          if (!mem.load64(dj)) break;
          const nHi = mem.hi;
          const nLo = mem.lo;
          if (leafRun) {
            const xLo = (pLo + sizeLo) >>> 0;
            const xHi = (pHi + sizeHi + (xLo < pLo ? 1 : 0)) >>> 0;
            if (nLo !== xLo || nHi !== xHi || ((nHi ^ pHi) & keepHi) !== 0) break;
          } else if (nLo !== lo || nHi !== hi) break;
          pHi = nHi;
          pLo = nLo;
          j++;
        }
        e.count = j - i;
        i = j - 1;
      }
      if (kind === ENTRY_INVALID) {
        e.kind = "hole";
        visit(e);
        e.count = 1;
        continue;
      }
      if (kind === ENTRY_TABLE) {
        const next = nextTableAddress(h, hi, lo);
        if (next >= h.paLimit) {
          e.kind = "bad-table";
          visit(e);
          continue;
        }
        const a = h.hpd ? apT : apT | ((hi >>> 29) & 3);
        const u = h.hpd ? uxnT : uxnT | ((hi >>> 28) & 1);
        const p = h.hpd ? pxnT : pxnT | ((hi >>> 27) & 1);
        e.next = next;
        if (seen === undefined) {
          if (opts.tables) {
            e.kind = "table";
            visit(e);
          }
          rec(next, level + 1, off, a, u, p);
          tableFields();
          continue;
        }
        // Next-level tables are granule aligned (>= 4K) below 2^52: the key stays an exact number.
        const key = (next / 4096) * 64 + level * 16 + a * 4 + u * 2 + p;
        const whole = off >= startOff && off + size <= endOff;
        const first = whole ? seen.get(key) : undefined;
        if (first !== undefined) {
          e.kind = "shared";
          e.key = key;
          e.firstOff = first;
          visit(e);
          continue;
        }
        if (opts.tables) {
          e.kind = "table";
          visit(e);
        }
        rec(next, level + 1, off, a, u, p);
        tableFields();
        if (whole) seen.set(key, off);
        if (opts.tables) {
          e.kind = "table-end";
          e.off = off;
          e.descAddr = da;
          e.next = next;
          e.key = whole ? key : -1;
          e.hi = hi;
          e.lo = lo;
          visit(e);
        }
        continue;
      }
      e.kind = "leaf";
      visit(e);
      e.count = 1;
    }
  };
  if (h.tnszFault || h.baseFault) return;
  rec(h.base, h.startLevel, 0, 0, 0, 0);
}

/** A leaf mapping in API form. */
export interface LeafMapping {
  readonly va: bigint;
  readonly size: number;
  readonly level: number;
  readonly pa: bigint;
  readonly raw: bigint;
  readonly descriptor: Descriptor;
  readonly apTable: number;
  readonly uxnTable: boolean;
  readonly pxnTable: boolean;
}

/** A run of leaves with equal attributes and contiguous VA and PA. */
export interface MappingRun {
  readonly va: bigint;
  readonly pa: bigint;
  readonly size: bigint;
  /** Entries in the run and their sizes (a run may mix block and page entries of equal attributes). */
  readonly entries: number;
  readonly levels: readonly number[];
  /** The first leaf's descriptor; every entry in the run has the same attribute bits. */
  readonly descriptor: Descriptor;
  readonly apTable: number;
  readonly uxnTable: boolean;
  readonly pxnTable: boolean;
}

function resolveHalf(ctx: WalkContext, va: bigint): HalfContext {
  return ctx.halves[Number((va >> 55n) & 1n)] as HalfContext;
}

/** Offsets of [start, end) inside the half of `start`; end is clamped to the half's end. */
export function halfRange(h: HalfContext, start: bigint, end: bigint): { startOff: number; endOff: number } {
  const base = halfBase(h);
  const top = base + (1n << BigInt(h.iaBits));
  const s = start < base ? base : start;
  const e = end > top || end === 0n ? top : end;
  if (e <= s) return { startOff: 0, endOff: 0 };
  return { startOff: Number(s - base), endOff: Number(e - base) };
}

/** Every leaf mapping in [start, end) (end exclusive; 0 means the end of the half). */
export function leafMappings(mem: PhysMem, regs: Regs | WalkContext, start: bigint, end: bigint): LeafMapping[] {
  const ctx = "halves" in regs ? regs : compileRegs(regs);
  const h = resolveHalf(ctx, start);
  const fmt = h.fmt;
  const base = halfBase(h);
  const { startOff, endOff } = halfRange(h, start, end);
  const out: LeafMapping[] = [];
  walkEntries(mem, h, startOff, endOff, (e) => {
    if (e.kind !== "leaf") return;
    const raw = (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
    out.push({
      va: base + BigInt(e.off),
      size: e.size,
      level: e.level,
      pa: BigInt(leafOutputAddress(h, e.hi, e.lo, e.level)),
      raw,
      descriptor: decodeDescriptor(raw, e.level, fmt),
      apTable: e.apTable,
      uxnTable: e.uxnTable !== 0,
      pxnTable: e.pxnTable !== 0,
    });
  });
  return out;
}

/** Attribute bits compared when coalescing: everything but the address, the type bit and nT. */
const ATTR_MASK_LO = 0xffc;
const ATTR_MASK_HI = 0xfffc0000;

/** Table entries the walk could not read: the table holding them is not in memory (data missing from the input). */
export interface MissingRange {
  readonly va: bigint;
  readonly size: bigint;
  /** Level of the missing table (the level its entries would translate). */
  readonly level: number;
  /** Physical address of the missing table. */
  readonly table: bigint;
}

/** Table descriptors whose subtree was already walked at another VA: the same mappings, repeated. */
export interface SharedRange {
  readonly va: bigint;
  readonly size: bigint;
  /** Table descriptors in the range, all pointing at `table`. */
  readonly entries: number;
  /** Level of the table descriptors. */
  readonly level: number;
  /** The shared next-level table. */
  readonly table: bigint;
  /** VA where that table's subtree was walked and reported in full. */
  readonly sameAsVa: bigint;
}

/** Everything a range walk met: coalesced mappings, tables missing from memory, shared subtrees. */
export interface MappingReport {
  readonly runs: MappingRun[];
  readonly missing: MissingRange[];
  readonly shared: SharedRange[];
}

/** The levels of a bit set (bit level + 1), ascending. */
function levelList(bits: number): number[] {
  const out: number[] = [];
  for (let level = -1; level <= 3; level++) if ((bits & (1 << (level + 1))) !== 0) out.push(level);
  return out;
}

/** Coalesce leaves with equal attributes (and equal table restrictions) whose VA and PA are contiguous. */
export function mappingRuns(mem: PhysMem, regs: Regs | WalkContext, start: bigint, end: bigint): MappingRun[] {
  return mappingReport(mem, regs, start, end).runs;
}

/**
 * A run of leaves in numeric form, as a range walk coalesces them (mappingReport's runs before they
 * become MappingRun objects): VA offset within the half, output address, size, entry count, the
 * levels met (bit level + 1 each), the first leaf's descriptor halves and level, and the
 * accumulated APTable/UXNTable/PXNTable. Every number is exact (< 2^53).
 */
export interface LeafRun {
  off: number;
  oa: number;
  size: number;
  entries: number;
  levels: number;
  hi: number;
  lo: number;
  level: number;
  a: number;
  u: number;
  p: number;
}

/** mappingReport with its runs in numeric form, and the half they were read from. */
export interface LeafRunReport {
  readonly half: HalfContext;
  readonly runs: LeafRun[];
  readonly missing: MissingRange[];
  readonly shared: SharedRange[];
}

/** A numeric run as a MappingRun (its VA = the half's base + offset). */
export function mappingRunOf(h: HalfContext, r: LeafRun, base: bigint = halfBase(h)): MappingRun {
  const raw = (BigInt(r.hi >>> 0) << 32n) | BigInt(r.lo >>> 0);
  return {
    va: base + BigInt(r.off),
    pa: BigInt(r.oa),
    size: BigInt(r.size),
    entries: r.entries,
    levels: levelList(r.levels),
    descriptor: decodeDescriptor(raw, r.level, h.fmt),
    apTable: r.a,
    uxnTable: r.u !== 0,
    pxnTable: r.p !== 0,
  };
}

/** perEntry: visit leaf by leaf, not by leaf runs (the same report; the reference the runs are tested against). */
export interface RangeReportOptions {
  readonly perEntry?: boolean;
}

/**
 * The mappings of [start, end) coalesced into runs, with the ranges whose tables are missing from
 * memory and the subtrees shared with an earlier VA (walked once: the cost is bounded by the
 * distinct tables, not by the VA paths through them).
 */
export function mappingReport(
  mem: PhysMem,
  regs: Regs | WalkContext,
  start: bigint,
  end: bigint,
  opts: RangeReportOptions = {},
): MappingReport {
  const r = leafRunReport(mem, regs, start, end, opts);
  const base = halfBase(r.half);
  return { runs: r.runs.map((x) => mappingRunOf(r.half, x, base)), missing: r.missing, shared: r.shared };
}

/** mappingReport's walk, its runs left in numeric form (no bigint or decoded descriptor per run). */
export function leafRunReport(
  mem: PhysMem,
  regs: Regs | WalkContext,
  start: bigint,
  end: bigint,
  opts: RangeReportOptions = {},
): LeafRunReport {
  const ctx = "halves" in regs ? regs : compileRegs(regs);
  const h = resolveHalf(ctx, start);
  const base = halfBase(h);
  const { startOff, endOff } = halfRange(h, start, end);
  const out: LeafRun[] = [];
  let cur: LeafRun | undefined;
  const flush = (): void => {
    if (!cur) return;
    out.push(cur);
    cur = undefined;
  };
  const missing: MissingRange[] = [];
  const shared: SharedRange[] = [];
  let lastMissing: { off: number; end: number; table: number; level: number } | undefined;
  let lastShared: { off: number; end: number; entries: number; level: number; next: number; firstOff: number } | undefined;
  const flushSide = (): void => {
    if (lastMissing) {
      const m = lastMissing;
      missing.push({ va: base + BigInt(m.off), size: BigInt(m.end - m.off), level: m.level, table: BigInt(m.table) });
    }
    if (lastShared) {
      const x = lastShared;
      shared.push({
        va: base + BigInt(x.off),
        size: BigInt(x.end - x.off),
        entries: x.entries,
        level: x.level,
        table: BigInt(x.next),
        sameAsVa: base + BigInt(x.firstOff),
      });
    }
    lastMissing = undefined;
    lastShared = undefined;
  };
  // TCR_EL1.EPDn=1: walks of this half are disabled (every access faults): no table to read.
  if (h.epd) return { half: h, runs: out, missing, shared };
  walkEntries(
    mem,
    h,
    startOff,
    endOff,
    (e) => {
      if (e.kind === "unbacked") {
        flush();
        if (lastMissing && lastMissing.table === e.table && lastMissing.end === e.off) lastMissing.end += e.size;
        else {
          flushSide();
          lastMissing = { off: e.off, end: e.off + e.size, table: e.table, level: e.level };
        }
        return;
      }
      if (e.kind === "shared") {
        flush();
        const x = lastShared;
        if (x && x.next === e.next && x.level === e.level && x.end === e.off && x.firstOff === e.firstOff) {
          x.end += e.size;
          x.entries++;
        } else {
          flushSide();
          lastShared = { off: e.off, end: e.off + e.size, entries: 1, level: e.level, next: e.next, firstOff: e.firstOff };
        }
        return;
      }
      if (lastMissing !== undefined || lastShared !== undefined) flushSide();
      if (e.kind !== "leaf") {
        flush();
        return;
      }
      const oa = leafOutputAddress(h, e.hi, e.lo, e.level);
      if (
        cur &&
        cur.off + cur.size === e.off &&
        cur.oa + cur.size === oa &&
        (cur.lo & ATTR_MASK_LO) === (e.lo & ATTR_MASK_LO) &&
        (cur.hi & ATTR_MASK_HI) >>> 0 === (e.hi & ATTR_MASK_HI) >>> 0 &&
        cur.a === e.apTable &&
        cur.u === e.uxnTable &&
        cur.p === e.pxnTable
      ) {
        cur.size += e.size * e.count;
        cur.entries += e.count;
        cur.levels |= 1 << (e.level + 1);
        return;
      }
      flush();
      cur = {
        off: e.off,
        oa,
        size: e.size * e.count,
        entries: e.count,
        levels: 1 << (e.level + 1),
        hi: e.hi,
        lo: e.lo,
        level: e.level,
        a: e.apTable,
        u: e.uxnTable,
        p: e.pxnTable,
      };
    },
    // A leaf run is one leaf's attributes over contiguous VAs and OAs: it always coalesces whole.
    { shared: true, runs: opts.perEntry !== true },
  );
  flush();
  flushSide();
  return { half: h, runs: out, missing, shared };
}
