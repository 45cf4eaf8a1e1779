/**
 * Diff two page-table snapshots (e.g. before and after mark_rodata_ro, or two dumps): every
 * changed VA range is classified as
 * - new: unmapped in A, mapped in B (invalid → valid: no break, no TLBI needed);
 * - removed: mapped in A, unmapped in B (valid → invalid: TLBI needed);
 * - permission-only: both mapped, the change is safe on a live entry (make, then TLBI);
 * - break-before-make: both mapped and the change needs BBM, with the rule that decides.
 * Each pair of live descriptors is judged by the machine checker's rule table
 * (src/machine/bbm.ts bbmRequirement, vmsa-rules.md §4), at the CPU's FEAT_BBM level.
 *
 * Ranges whose tables are missing from either input are not compared: they are listed in
 * `missing` and make the result inconclusive (never "no changes"). Subtrees shared by several
 * table descriptors (same table, level and table bits) are walked once per side; where both
 * sides repeat the pair of subtrees compared at an earlier VA, the range is one change "same as
 * at VA …" instead of a copy of every change, so the work is bounded by the distinct tables.
 */

import { addressFieldMask } from "../arch/descriptor.js";
import type { Regs } from "../arch/registers.js";
import { sumHi, sumLo } from "../arch/u64.js";
import { type BbmRuleId, bbmRequirement } from "../machine/bbm.js";
import type { PhysMem } from "../mem/physmem.js";
import { compileRegs, type HalfContext, type WalkContext } from "../walk/context.js";
import { leafOutputAddress, nextTableAddress } from "../walk/fields.js";
import { halfBase, walkEntries } from "../walk/range.js";

export type ChangeKind = "new" | "removed" | "permission-only" | "break-before-make";

export interface Change {
  readonly kind: ChangeKind;
  readonly half: 0 | 1;
  readonly va: bigint;
  readonly size: bigint;
  /** Leaf descriptors before and after (undefined where unmapped) and their levels. */
  readonly old: bigint | undefined;
  readonly new: bigint | undefined;
  readonly oldLevel: number | undefined;
  readonly newLevel: number | undefined;
  /** Output addresses of the range's first byte before and after. */
  readonly oldPa: bigint | undefined;
  readonly newPa: bigint | undefined;
  /** The rule-table line that decided (bbmRequirement), absent for new/removed. */
  readonly rule: BbmRuleId | undefined;
  readonly reason: string;
  /** A TLB invalidation is needed after the change. */
  readonly tlbi: boolean;
  /** Shared subtrees: this range repeats the changes found at this VA (with the same tables on both sides). */
  readonly sameAs?: bigint;
}

/** A range that could not be compared: its table is missing from input A or B. */
export interface DiffMissing {
  readonly half: 0 | 1;
  readonly side: "A" | "B";
  readonly va: bigint;
  readonly size: bigint;
  /** Level and physical address of the missing table. */
  readonly level: number;
  readonly table: bigint;
}

export interface DiffReport {
  readonly changes: readonly Change[];
  readonly counts: Readonly<Record<ChangeKind, number>>;
  readonly notes: readonly string[];
  /** Ranges not compared because a table is missing: the diff is inconclusive when non-empty. */
  readonly missing: readonly DiffMissing[];
  /** Halves not compared at all (different granule or VA size): inconclusive too. */
  readonly uncompared: readonly (0 | 1)[];
  /** Something was not compared (missing tables or halves): never read as "no changes". */
  readonly inconclusive: boolean;
}

export interface DiffOptions {
  /** FEAT_BBM level to judge with (default: from B's ID_AA64MMFR2_EL1 / features). */
  readonly bbmLevel?: number;
  /** Halves to compare (default both). */
  readonly halves?: readonly (0 | 1)[];
  /** Walk leaf by leaf instead of by runs of leaves (the same report; the reference the runs are tested against). */
  readonly perEntry?: boolean;
}

/**
 * One VA interval of a side: a run of leaves (range walk `runs`: entry j's descriptor is (hi, lo)
 * + j·step and its output address oa + j·step, every other bit the first entry's); a range whose
 * table is missing ("missing": `oa` holds the table's PA); or table descriptors repeating the
 * subtree walked at `firstOff` ("shared").
 */
interface Leaf {
  kind: "leaf" | "missing" | "shared";
  off: number;
  end: number;
  level: number;
  /** Size of one entry of the run. */
  step: number;
  hi: number;
  lo: number;
  oa: number;
  firstOff: number;
}

function leavesOf(mem: PhysMem, h: HalfContext, perEntry: boolean): { leaves: Leaf[]; tables: Map<string, number> } {
  const leaves: Leaf[] = [];
  const tables = new Map<string, number>();
  if (h.tnszFault || h.baseFault || h.epd) return { leaves, tables };
  walkEntries(
    mem,
    h,
    0,
    2 ** h.iaBits,
    (e) => {
      const last = leaves[leaves.length - 1];
      if (e.kind === "leaf") {
        leaves.push({
          kind: "leaf",
          off: e.off,
          end: e.off + e.size * e.count,
          level: e.level,
          step: e.size,
          hi: e.hi,
          lo: e.lo,
          oa: leafOutputAddress(h, e.hi, e.lo, e.level),
          firstOff: -1,
        });
      } else if (e.kind === "unbacked") {
        if (last?.kind === "missing" && last.oa === e.table && last.end === e.off) last.end += e.size;
        else
          leaves.push({
            kind: "missing",
            off: e.off,
            end: e.off + e.size,
            level: e.level,
            step: e.size,
            hi: 0,
            lo: 0,
            oa: e.table,
            firstOff: -1,
          });
      } else if (e.kind === "shared") {
        // One item per entry (not merged): the two sides may group their shared entries differently.
        tables.set(`${e.level}:${e.off}`, e.next);
        leaves.push({
          kind: "shared",
          off: e.off,
          end: e.off + e.size,
          level: e.level,
          step: e.size,
          hi: e.hi,
          lo: e.lo,
          oa: e.next,
          firstOff: e.firstOff,
        });
      } else if (e.kind === "table") {
        // Next-level table address, to spot re-pointed live tables.
        tables.set(`${e.level}:${e.off}`, nextTableAddress(h, e.hi, e.lo));
      }
    },
    // A leaf run is one visit: the merge below then costs per run, not per page.
    { tables: true, shared: true, runs: !perEntry },
  );
  return { leaves, tables };
}

/** Index of the first item ending after `off` (items are sorted and disjoint). */
function firstEndingAfter(list: readonly Leaf[], off: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as Leaf).end <= off) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Replace the shared ranges of `list` that `other` does not repeat identically (same range, same
 * earlier VA) by a copy of the items at that earlier VA, moved to their VA. Each entry of a shared
 * range maps exactly what the first walk found, so the copy is the subtree's content. Returns
 * undefined when nothing needed expanding.
 */
function expandUnmatched(list: Leaf[], other: readonly Leaf[]): Leaf[] | undefined {
  const matched = (x: Leaf): boolean => {
    const y = other[firstEndingAfter(other, x.off)];
    return y !== undefined && y.kind === "shared" && y.off === x.off && y.end === x.end && y.firstOff === x.firstOff;
  };
  if (!list.some((x) => x.kind === "shared" && !matched(x))) return undefined;
  const out: Leaf[] = [];
  for (const x of list) {
    if (x.kind !== "shared" || matched(x)) {
      out.push(x);
      continue;
    }
    const shift = x.off - x.firstOff;
    for (let k = firstEndingAfter(list, x.firstOff); k < list.length; k++) {
      const y = list[k] as Leaf;
      if (y.off >= x.firstOff + (x.end - x.off)) break;
      out.push({ ...y, off: y.off + shift, end: y.end + shift });
    }
  }
  return out;
}

function raw(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** descHalves' result: the descriptor's high and low words (unsigned). */
let atHi = 0;
let atLo = 0;

/**
 * The descriptor of the run's entry covering VA offset `off` into atHi/atLo: the first one plus j
 * entry sizes as a 64-bit sum (the walk's run guarantees its carry stays inside the output address
 * field, so it never passes bit 63).
 */
function descHalves(x: Leaf, off: number): void {
  const add = Math.floor((off - x.off) / x.step) * x.step;
  atLo = sumLo(x.lo, add);
  atHi = sumHi(x.hi, x.lo, add);
}

/** The descriptor of the run's entry covering VA offset `off`. */
function descAt(x: Leaf, off: number): bigint {
  descHalves(x, off);
  return raw(atHi, atLo);
}

/** The two runs' entries covering `off` are one entry (same level, so same position) with one descriptor. */
function sameEntry(a: Leaf, b: Leaf, off: number): boolean {
  if (a.level !== b.level) return false;
  if (a.off === b.off) return a.hi === b.hi && a.lo === b.lo;
  descHalves(a, off);
  const hi = atHi;
  const lo = atLo;
  descHalves(b, off);
  return hi === atHi && lo === atLo;
}

/** Compare the tables of two snapshots, VA range by VA range. */
export function diffTables(
  memA: PhysMem,
  regsA: Regs | WalkContext,
  memB: PhysMem,
  regsB: Regs | WalkContext,
  opts: DiffOptions = {},
): DiffReport {
  const ca = "halves" in regsA ? regsA : compileRegs(regsA);
  const cb = "halves" in regsB ? regsB : compileRegs(regsB);
  const bbmLevel = opts.bbmLevel ?? cb.features.bbm;
  const mair = cb.regs.mair;
  const changes: Change[] = [];
  const notes: string[] = [];
  const missing: DiffMissing[] = [];
  const uncompared: (0 | 1)[] = [];
  const push = (c: Change): void => {
    const p = changes[changes.length - 1];
    if (
      p &&
      p.kind === c.kind &&
      p.half === c.half &&
      p.rule === c.rule &&
      p.reason === c.reason &&
      p.va + p.size === c.va &&
      (p.old === undefined) === (c.old === undefined) &&
      (p.new === undefined) === (c.new === undefined)
    ) {
      changes[changes.length - 1] = { ...p, size: p.size + c.size };
      return;
    }
    changes.push(c);
  };
  for (const half of opts.halves ?? [0, 1]) {
    const ha = ca.halves[half];
    const hb = cb.halves[half];
    if (ha.granule.size !== hb.granule.size || ha.iaBits !== hb.iaBits) {
      notes.push(
        `TTBR${half} half: A has ${ha.granule.name}/${ha.iaBits}-bit, B has ${hb.granule.name}/${hb.iaBits}-bit: not comparable entry by entry`,
      );
      uncompared.push(half);
      continue;
    }
    if (ha.ttbr.baddr !== hb.ttbr.baddr) {
      notes.push(
        half === 1
          ? `TTBR1_EL1 changes (table 0x${ha.ttbr.baddr.toString(16)} → 0x${hb.ttbr.baddr.toString(16)}): replacing live kernel tables needs the reserved-table sequence (Linux invariant 16)`
          : `TTBR0_EL1 differs (table 0x${ha.ttbr.baddr.toString(16)} → 0x${hb.ttbr.baddr.toString(16)}): the user halves are different address spaces (e.g. a context switch)`,
      );
    }
    const base = halfBase(hb);
    const A = leavesOf(memA, ha, opts.perEntry === true);
    const B = leavesOf(memB, hb, opts.perEntry === true);
    // Both halves have the same granule (checked above); B's format says which bits are the OA.
    const fmt = hb.fmt;
    const halfFirst = changes.length;
    const noteMissing = (side: "A" | "B", from: number, to: number, x: Leaf): void => {
      const va = base + BigInt(from);
      const size = BigInt(to - from);
      const p = missing[missing.length - 1];
      if (p && p.half === half && p.side === side && p.table === BigInt(x.oa) && p.va + p.size === va) {
        missing[missing.length - 1] = { ...p, size: p.size + size };
        return;
      }
      missing.push({ half, side, va, size, level: x.level, table: BigInt(x.oa) });
    };
    /** Both sides repeat the pair of subtrees compared at `a.firstOff`: repeat its changes as one range. */
    const repeatShared = (from: number, to: number, a: Leaf, b: Leaf): void => {
      const from0 = base + BigInt(a.firstOff);
      const to0 = from0 + BigInt(to - from);
      let lo = halfFirst;
      let hi = changes.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const c = changes[mid] as Change;
        if (c.va + c.size <= from0) lo = mid + 1;
        else hi = mid;
      }
      const there: Change[] = [];
      for (let k = lo; k < changes.length && (changes[k] as Change).va < to0; k++) there.push(changes[k] as Change);
      if (there.length === 0) return;
      const rank: ChangeKind[] = ["new", "permission-only", "removed", "break-before-make"];
      const worst = there.reduce((w, c) => (rank.indexOf(c.kind) > rank.indexOf(w.kind) ? c : w));
      const n = there.length;
      push({
        kind: worst.kind,
        half,
        va: base + BigInt(from),
        size: BigInt(to - from),
        old: undefined,
        new: undefined,
        oldLevel: a.level,
        newLevel: b.level,
        oldPa: undefined,
        newPa: undefined,
        rule: worst.rule,
        reason: `the same ${n} change${n === 1 ? "" : "s"} as at VA 0x${from0.toString(16)}-0x${(to0 & ((1n << 64n) - 1n)).toString(16)}: both sides name there the tables they name here (A PA 0x${a.oa.toString(16)}, B PA 0x${b.oa.toString(16)}, shared subtrees)`,
        tlbi: there.some((c) => c.tlbi),
        sameAs: from0,
      });
    };
    const classify = (from: number, to: number, a: Leaf | undefined, b: Leaf | undefined): void => {
      if (a?.kind === "missing" || b?.kind === "missing") {
        if (a?.kind === "missing") noteMissing("A", from, to, a);
        if (b?.kind === "missing") noteMissing("B", from, to, b);
        return;
      }
      if (a?.kind === "shared" && b?.kind === "shared") {
        repeatShared(from, to, a, b);
        return;
      }
      // expandUnmatched() leaves a shared range only where the other side repeats it too.
      if (a?.kind === "shared" || b?.kind === "shared") return;
      // Both leaves at one level cover `from`: the same entry position (aligned to its size).
      if (a && b && sameEntry(a, b, from)) return;
      // Over [from, to) each side is one run: entry k of the interval is the entry at `from` plus
      // k entry sizes on both sides alike, so every pair is judged as the first one is (the rule
      // table reads the OAs only as equal or not, and every other bit is the run's).
      const va = base + BigInt(from);
      const size = BigInt(to - from);
      const oldDesc = a ? descAt(a, from) : undefined;
      const newDesc = b ? descAt(b, from) : undefined;
      // One object literal per change (a spread of shared fields makes slow, large objects).
      const change = (kind: ChangeKind, rule: BbmRuleId | undefined, reason: string, tlbi: boolean): Change => ({
        half,
        va,
        size,
        old: oldDesc,
        new: newDesc,
        oldLevel: a?.level,
        newLevel: b?.level,
        oldPa: a ? BigInt(a.oa + (from - a.off)) : undefined,
        newPa: b ? BigInt(b.oa + (from - b.off)) : undefined,
        kind,
        rule,
        reason,
        tlbi,
      });
      if (a && !b) {
        push(change("removed", undefined, "valid → invalid (no break needed; TLBI to remove cached copies)", true));
        return;
      }
      if (b && !a) {
        push(change("new", undefined, "invalid → valid (never cached: no TLBI needed)", false));
        return;
      }
      if (!a || !b || oldDesc === undefined || newDesc === undefined) return;
      const oaA = a.oa + (from - a.off);
      const oaB = b.oa + (from - b.off);
      let r: ReturnType<typeof bbmRequirement>;
      if (a.level === b.level) {
        r = bbmRequirement(oldDesc, newDesc, a.level, fmt, bbmLevel, { mair });
      } else if (oaA !== oaB) {
        r = {
          required: true,
          rule: "bbm.output-address",
          reason: "the output address changes (with a block size change)",
          tlbiNeeded: true,
          conflictPossible: false,
        };
      } else {
        // Attributes first, judged on OA-normalised page forms; then the size change itself.
        const oaMask = addressFieldMask(fmt, fmt.granule.shift);
        const na = (oldDesc & ~oaMask) | 3n;
        const nb = (newDesc & ~oaMask) | 3n;
        r = bbmRequirement(na, nb, 3, fmt, bbmLevel, { mair });
        if (!r.required) {
          const blk = a.level < b.level ? oldDesc : newDesc;
          r =
            a.level < b.level
              ? bbmRequirement(blk, 3n, a.level, fmt, bbmLevel, { mair })
              : bbmRequirement(3n, blk, b.level, fmt, bbmLevel, { mair });
        }
      }
      if (r.rule === "bbm.same") return;
      push(change(r.required ? "break-before-make" : "permission-only", r.rule, r.reason, r.tlbiNeeded));
    };
    let la = A.leaves;
    let lb = B.leaves;
    // Expand the shared ranges one side does not repeat (one table level per round).
    for (let round = 0; round < 8; round++) {
      const na = expandUnmatched(la, lb);
      const nb = expandUnmatched(lb, la);
      if (!na && !nb) break;
      la = na ?? la;
      lb = nb ?? lb;
    }
    let i = 0;
    let j = 0;
    let pos = 0;
    while (i < la.length || j < lb.length) {
      const a = la[i];
      const b = lb[j];
      if (a && a.end <= pos) {
        i++;
        continue;
      }
      if (b && b.end <= pos) {
        j++;
        continue;
      }
      const aCov = a !== undefined && a.off <= pos;
      const bCov = b !== undefined && b.off <= pos;
      if (!aCov && !bCov) {
        pos = Math.min(a?.off ?? Number.POSITIVE_INFINITY, b?.off ?? Number.POSITIVE_INFINITY);
        continue;
      }
      const end = Math.min(aCov ? a.end : (a?.off ?? Number.POSITIVE_INFINITY), bCov ? b.end : (b?.off ?? Number.POSITIVE_INFINITY));
      classify(pos, end, aCov ? a : undefined, bCov ? b : undefined);
      pos = end;
    }
    // Live table descriptors re-pointed with unchanged leaves below are still a BBM matter (walk caches).
    for (const [key, nltaA] of A.tables) {
      const nltaB = B.tables.get(key);
      if (nltaB === undefined || nltaB === nltaA) continue;
      const [lvl, off] = key.split(":").map(Number) as [number, number];
      const size = 2 ** (hb.shiftAt[lvl + 1] as number);
      const covered = changes.some((c) => c.half === half && c.va <= base + BigInt(off) && c.va + c.size >= base + BigInt(off + size));
      if (covered) continue;
      changes.push({
        kind: "break-before-make",
        half,
        va: base + BigInt(off),
        size: BigInt(size),
        old: undefined,
        new: undefined,
        oldLevel: lvl,
        newLevel: lvl,
        oldPa: undefined,
        newPa: undefined,
        rule: "bbm.table-address",
        reason: "a live table descriptor is re-pointed: walk caches may hold the old next-level table",
        tlbi: true,
      });
    }
  }
  changes.sort((x, y) => x.half - y.half || (x.va < y.va ? -1 : x.va > y.va ? 1 : 0));
  const counts: Record<ChangeKind, number> = { new: 0, removed: 0, "permission-only": 0, "break-before-make": 0 };
  for (const c of changes) counts[c.kind]++;
  return { changes, counts, notes, missing, uncompared, inconclusive: missing.length > 0 || uncompared.length > 0 };
}

function attrs(d: bigint | undefined, level: number | undefined, pa: bigint | undefined): string {
  if (d === undefined || level === undefined) return "-";
  const b = (n: number): boolean => ((d >> BigInt(n)) & 1n) === 1n;
  const w: string[] = [
    level < 3 ? `L${level} BLK` : "L3 PTE",
    pa === undefined ? "" : `PA 0x${pa.toString(16)}`,
    b(7) ? "ro" : "RW",
    b(53) ? "NX" : "x",
    b(54) ? "UXN" : "",
    b(6) ? "USR" : "",
    b(11) ? "NG" : "",
    b(52) ? "CON" : "",
    b(10) ? "AF" : "",
    `AttrIndx${Number((d >> 2n) & 7n)}`,
  ];
  return w.filter(Boolean).join(" ");
}

/** Text form: one line per changed range, then counts. */
export function formatDiff(r: DiffReport): string {
  const lines: string[] = [];
  for (const n of r.notes) lines.push(`note: ${n}`);
  for (const c of r.changes) {
    const end = (c.va + c.size) & ((1n << 64n) - 1n);
    const range = `0x${c.va.toString(16).padStart(16, "0")}-0x${end.toString(16).padStart(16, "0")}`;
    lines.push(`${c.kind.padEnd(17)} ${range}  ${attrs(c.old, c.oldLevel, c.oldPa)} -> ${attrs(c.new, c.newLevel, c.newPa)}`);
    lines.push(`${"".padEnd(17)} ${c.rule ? `${c.rule}: ` : ""}${c.reason}`);
  }
  for (const m of r.missing) {
    const end = (m.va + m.size) & ((1n << 64n) - 1n);
    lines.push(
      `${"not compared".padEnd(17)} 0x${m.va.toString(16).padStart(16, "0")}-0x${end.toString(16).padStart(16, "0")}  the level-${m.level} table at PA 0x${m.table.toString(16)} is not in input ${m.side}`,
    );
  }
  const k = r.counts;
  lines.push(
    `${k.new} new, ${k.removed} removed, ${k["permission-only"]} permission-only (safe live, TLBI needed), ${k["break-before-make"]} need break-before-make`,
  );
  if (r.inconclusive) {
    const what: string[] = [];
    if (r.missing.length > 0) what.push(`${r.missing.length} range${r.missing.length === 1 ? "" : "s"} (tables missing from the input)`);
    for (const h of r.uncompared) what.push(`the TTBR${h} half (not comparable)`);
    lines.push(
      `inconclusive: not compared: ${what.join(", ")}${r.changes.length === 0 ? "; no change found in the rest, which does not make the inputs equal" : ""}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export function diffToJson(r: DiffReport): unknown {
  const hx = (v: bigint | undefined): string | null => (v === undefined ? null : `0x${v.toString(16)}`);
  return {
    counts: r.counts,
    notes: r.notes,
    inconclusive: r.inconclusive,
    uncompared: r.uncompared,
    missing: r.missing.map((m) => ({
      half: m.half,
      side: m.side,
      va: hx(m.va),
      end: hx((m.va + m.size) & ((1n << 64n) - 1n)),
      size: hx(m.size),
      level: m.level,
      table: hx(m.table),
    })),
    changes: r.changes.map((c) => ({
      kind: c.kind,
      half: c.half,
      va: hx(c.va),
      end: hx((c.va + c.size) & ((1n << 64n) - 1n)),
      size: hx(c.size),
      old: hx(c.old),
      new: hx(c.new),
      oldLevel: c.oldLevel ?? null,
      newLevel: c.newLevel ?? null,
      oldPa: hx(c.oldPa),
      newPa: hx(c.newPa),
      rule: c.rule ?? null,
      reason: c.reason,
      tlbi: c.tlbi,
      sameAs: hx(c.sameAs),
    })),
  };
}
