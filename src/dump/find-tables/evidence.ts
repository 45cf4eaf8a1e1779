/**
 * Evidence that a page is a translation table of a given format: a memoised, bottom-up summary of
 * the tree below a table (counts of tables and leaves, format violations, permission classes of
 * the mapped bytes, and the longest VA→PA linear run), computed on 32-bit descriptor halves.
 *
 * One `TreeEvidence` per descriptor format (granule + DS + 52-bit OA): a subtree's summary does
 * not depend on which root reached it, so every candidate root of that format shares the memo and
 * the total work is bounded by distinct (table, level, inherited table attributes) triples, even
 * when tables alias each other.
 */

import { ENTRY_LEAF, ENTRY_TABLE } from "../../arch/descriptor.js";
import { levelShift } from "../../arch/granule.js";
import type { PhysMem } from "../../mem/physmem.js";
import type { HalfContext, WalkContext } from "../../walk/context.js";
import { directPermissions, entryKind, leafOutputAddress, nextTableAddress } from "../../walk/fields.js";

/** A node whose entries already broke the format this many times is data, not a table: stop reading it. */
const GARBAGE_CUTOFF = 4;
/** Non-zero invalid entries, outnumbering the valid ones 4 to 1, that make a node data too. */
const DATA_CUTOFF = 64;

/** What the tree below one table (or a candidate root) shows. Byte counts are doubles (exact to 2^53). */
export interface Summary {
  /** Tables with at least one valid entry, this one included. */
  tables: number;
  /** Tables with no valid entry at all (Linux rarely leaves any). */
  emptyTables: number;
  /** Leaves with Linux's attributes: AF=1 and, outside DS, SH=inner shareable. */
  goodLeaves: number;
  /** Leaves without them (a sign the level or format is wrong). */
  oddLeaves: number;
  mappedBytes: number;
  /** Leaves whose output address is not in RAM (MMIO, or a wrong interpretation). */
  leavesOutsideRam: number;
  /** Reserved encodings, RES0 address/field bits set, blocks where the format has none. */
  formatErrors: number;
  /** Table descriptors pointing outside RAM. */
  tablesOutsideRam: number;
  /** Non-zero entries with bit 0 clear (Linux writes 0 for empty entries, bar a few invalidated PTEs). */
  invalidNonZero: number;
  /** Entries of one table pointing at a table another entry of it already points at. */
  aliases: number;
  /** Mapped bytes by EL1 permission: executable read-only (text), read-only, read-write non-executable, W+X; EL0-accessible. */
  execRo: number;
  ro: number;
  rw: number;
  wx: number;
  user: number;
  /** Linear runs (VA offset ↦ PA + offset): from the start, ending at the end, and the longest one. */
  preLen: number;
  prePa: number;
  sufLen: number;
  sufPa: number;
  bestLen: number;
  bestOff: number;
  bestPa: number;
  /** Whether reading stopped early because the entries were garbage. */
  abandoned: boolean;
}

function emptySummary(): Summary {
  return {
    tables: 0,
    emptyTables: 0,
    goodLeaves: 0,
    oddLeaves: 0,
    mappedBytes: 0,
    leavesOutsideRam: 0,
    formatErrors: 0,
    tablesOutsideRam: 0,
    invalidNonZero: 0,
    aliases: 0,
    execRo: 0,
    ro: 0,
    rw: 0,
    wx: 0,
    user: 0,
    preLen: 0,
    prePa: 0,
    sufLen: 0,
    sufPa: 0,
    bestLen: 0,
    bestOff: 0,
    bestPa: 0,
    abandoned: false,
  };
}

/** The result of checking one descriptor against the format (see `checkEntry`). */
export const CHECK_EMPTY = 0;
export const CHECK_TABLE = 1;
export const CHECK_LEAF = 2;
export const CHECK_INVALID_NONZERO = 3;
export const CHECK_FORMAT_ERROR = 4;
export const CHECK_TABLE_OUTSIDE_RAM = 5;

export class TreeEvidence {
  private readonly memo = new Map<number, Summary>();
  /** Bits [51:48] (tables) / [49:48] (leaves) are RES0 unless they carry the output address. */
  private readonly tableRes0Hi: number;
  private readonly leafRes0Hi: number;
  /** Next-table address bits below the granule that are RES0 (16K: [13:12]; 64K: [15:12] unless OA[51:48]). */
  private readonly tableLowRes0: number;
  /** Last table address computed by `checkEntry`. */
  nextTable = 0;

  constructor(
    private readonly mem: PhysMem,
    private readonly ctx: WalkContext,
    private readonly h: HalfContext,
  ) {
    // DS: bits [49:12] hold the address, [51:50] are RES0 in tables and DBM/GP in leaves.
    // Otherwise bits [51:48] are RES0 in tables and [49:48] in leaves (51 is DBM, 50 GP).
    this.tableRes0Hi = h.ds ? 0x000c0000 : 0x000f0000;
    this.leafRes0Hi = h.ds ? 0 : 0x00030000;
    const gMask = (1 << h.gShift) - 1;
    this.tableLowRes0 = gMask & ~0xfff & ~(h.oa52 && h.gShift === 16 ? 0xf000 : 0);
  }

  /** Memoised entries (distinct table, level, attribute triples seen). */
  get distinctNodes(): number {
    return this.memo.size;
  }

  /**
   * Classify one descriptor at `level` (halves in `hi`/`lo`) for the cheap root filter and the
   * tree walk. A table's address is left in `nextTable`.
   */
  checkEntry(hi: number, lo: number, level: number): number {
    if (lo === 0 && hi === 0) return CHECK_EMPTY;
    const h = this.h;
    if ((lo & 1) === 0) return CHECK_INVALID_NONZERO;
    const kind = entryKind(h, lo, level);
    if (kind === ENTRY_TABLE) {
      if ((hi & this.tableRes0Hi) !== 0 || (lo & this.tableLowRes0) !== 0) return CHECK_FORMAT_ERROR;
      const next = nextTableAddress(h, hi, lo);
      this.nextTable = next;
      return this.mem.isBacked(next) ? CHECK_TABLE : CHECK_TABLE_OUTSIDE_RAM;
    }
    if (kind !== ENTRY_LEAF) return CHECK_FORMAT_ERROR; // block encoding where the format has none, or reserved at level 3
    if ((hi & this.leafRes0Hi) !== 0) return CHECK_FORMAT_ERROR;
    // Output-address bits below the block size are RES0 (64K with a 52-bit OA keeps OA[51:48] in [15:12]).
    const shift = levelShift(h.granule, level);
    let loMask = shift >= 32 ? 0xfffff000 : ((2 ** shift - 1) & ~0xfff) >>> 0;
    if (h.oa52 && h.gShift === 16) loMask &= ~0xf000;
    const hiMask = shift > 32 ? 2 ** (shift - 32) - 1 : 0;
    if ((lo & loMask) !== 0 || (hi & hiMask) !== 0) return CHECK_FORMAT_ERROR;
    return CHECK_LEAF;
  }

  /**
   * Add to `out` every table reachable from the `count` entries at `pa` read as a table at
   * `level` (each distinct table once: aliasing and cycles cost nothing more).
   */
  collectTables(pa: number, level: number, count: number, out: Set<number>): void {
    const mem = this.mem;
    const stride = 2 ** this.h.stride;
    for (let i = 0; i < count; i++) {
      if (!mem.load64(pa + i * 8)) return;
      if (this.checkEntry(mem.hi, mem.lo, level) !== CHECK_TABLE || level >= 3) continue;
      const next = this.nextTable;
      if (out.has(next)) continue;
      out.add(next);
      this.collectTables(next, level + 1, stride, out);
    }
  }

  /**
   * Summary of the `count` entries at `pa` read as a table at `level`, below tables whose
   * hierarchical attributes are `attrs` (APTable | UXNTable<<2 | PXNTable<<3). Full tables at a
   * granule boundary are memoised; candidate roots smaller than a granule are not. Only the
   * first `runEntries` entries take part in the linear runs (a root passes half its entries: the
   * linear map is in the lower half of the range, and a bigger PA-contiguous ioremap above it,
   * such as PCIe ECAM, must not stand in for it).
   */
  node(pa: number, level: number, attrs: number, count: number, runEntries = count): Summary {
    const h = this.h;
    const full = count === 2 ** h.stride && pa % 2 ** h.gShift === 0 && runEntries === count;
    const key = full ? (pa / 4096) * 128 + (level + 1) * 16 + attrs : -1;
    if (full) {
      const hit = this.memo.get(key);
      if (hit) return hit;
    }
    const s = emptySummary();
    // A placeholder breaks cycles (a table reachable from itself at the same level): the cycle
    // reads as an empty subtree and is counted as aliasing where it closes.
    if (full) this.memo.set(key, s);
    const mem = this.mem;
    const entrySize = 2 ** levelShift(h.granule, level);
    const apT = attrs & 3;
    const uxnT = (attrs >>> 2) & 1;
    const pxnT = (attrs >>> 3) & 1;
    let valid = 0;
    let seen: Set<number> | undefined;
    for (let i = 0; i < count; i++) {
      const ea = pa + i * 8;
      if (!mem.load64(ea)) break;
      const hi = mem.hi;
      const lo = mem.lo;
      const c = this.checkEntry(hi, lo, level);
      const off = i * entrySize;
      let cPre = 0;
      let cPrePa = 0;
      let cSuf = 0;
      let cSufPa = 0;
      let cBest = 0;
      let cBestOff = 0;
      let cBestPa = 0;
      if (c === CHECK_EMPTY) {
        // nothing mapped here
      } else if (c === CHECK_INVALID_NONZERO) {
        s.invalidNonZero++;
        // Mostly non-zero invalid words: data, not a table (Linux clears empty entries to 0; only a
        // few PTEs of the linear map are invalidated in place, e.g. secretmem).
        if (s.invalidNonZero >= DATA_CUTOFF && s.invalidNonZero > 4 * valid) {
          s.abandoned = true;
          break;
        }
      } else if (c === CHECK_FORMAT_ERROR || c === CHECK_TABLE_OUTSIDE_RAM) {
        if (c === CHECK_FORMAT_ERROR) s.formatErrors++;
        else s.tablesOutsideRam++;
        if (s.formatErrors + s.tablesOutsideRam >= GARBAGE_CUTOFF) {
          s.abandoned = true;
          break;
        }
      } else if (c === CHECK_TABLE) {
        valid++;
        const next = this.nextTable;
        seen ??= new Set<number>();
        if (seen.has(next)) s.aliases++;
        seen.add(next);
        const childAttrs = h.hpd ? attrs : attrs | ((hi >>> 29) & 3) | (((hi >>> 28) & 1) << 2) | (((hi >>> 27) & 1) << 3);
        const child = this.node(next, level + 1, childAttrs, 2 ** h.stride);
        addCounts(s, child);
        cPre = child.preLen;
        cPrePa = child.prePa;
        cSuf = child.sufLen;
        cSufPa = child.sufPa;
        cBest = child.bestLen;
        cBestOff = child.bestOff;
        cBestPa = child.bestPa;
      } else {
        valid++;
        const oa = leafOutputAddress(h, hi, lo, level);
        const af = (lo >>> 10) & 1;
        const sh = (lo >>> 8) & 3;
        if (af === 1 && (h.ds || sh === 3)) s.goodLeaves++;
        else s.oddLeaves++;
        s.mappedBytes += entrySize;
        if (!mem.isBacked(oa)) s.leavesOutsideRam++;
        const p = directPermissions(this.ctx, hi, lo, apT, uxnT, pxnT);
        if ((p & 56) !== 0) s.user += entrySize;
        else if ((p & 6) === 6) s.wx += entrySize;
        else if ((p & 4) !== 0) s.execRo += entrySize;
        else if ((p & 2) !== 0) s.rw += entrySize;
        else s.ro += entrySize;
        cPre = entrySize;
        cPrePa = oa;
        cSuf = entrySize;
        cSufPa = oa;
        cBest = entrySize;
        cBestPa = oa;
      }
      if (i >= runEntries) {
        cPre = 0;
        cSuf = 0;
        cBest = 0;
      }
      // Linear runs: join the run ending here with the child's run from its start.
      let joinLen = 0;
      if (s.sufLen > 0 && cPre > 0 && cPrePa === s.sufPa + s.sufLen) joinLen = s.sufLen + cPre;
      if (cBest > s.bestLen) {
        s.bestLen = cBest;
        s.bestOff = off + cBestOff;
        s.bestPa = cBestPa;
      }
      if (joinLen > s.bestLen) {
        s.bestLen = joinLen;
        s.bestOff = off - s.sufLen;
        s.bestPa = s.sufPa;
      }
      if (s.preLen === off) {
        if (off === 0) {
          s.preLen = cPre;
          s.prePa = cPrePa;
        } else if (cPre > 0 && cPrePa === s.prePa + s.preLen) s.preLen += cPre;
      }
      if (cSuf === entrySize && cPre === entrySize) {
        if (joinLen > 0) s.sufLen += entrySize;
        else {
          s.sufLen = entrySize;
          s.sufPa = cPrePa;
        }
      } else {
        s.sufLen = cSuf;
        s.sufPa = cSufPa;
      }
    }
    if (valid > 0) s.tables++;
    else s.emptyTables++;
    return s;
  }
}

function addCounts(s: Summary, c: Summary): void {
  s.tables += c.tables;
  s.emptyTables += c.emptyTables;
  s.goodLeaves += c.goodLeaves;
  s.oddLeaves += c.oddLeaves;
  s.mappedBytes += c.mappedBytes;
  s.leavesOutsideRam += c.leavesOutsideRam;
  s.formatErrors += c.formatErrors;
  s.tablesOutsideRam += c.tablesOutsideRam;
  s.invalidNonZero += c.invalidNonZero;
  s.aliases += c.aliases;
  s.execRo += c.execRo;
  s.ro += c.ro;
  s.rw += c.rw;
  s.wx += c.wx;
  s.user += c.user;
}
