/**
 * Diff two page-table snapshots (e.g. before and after mark_rodata_ro, or two dumps): every
 * changed VA range is classified as
 * - new: unmapped in A, mapped in B (invalid → valid: no break, no TLBI needed);
 * - removed: mapped in A, unmapped in B (valid → invalid: TLBI needed);
 * - permission-only: both mapped, the change is safe on a live entry (make, then TLBI);
 * - break-before-make: both mapped and the change needs BBM, with the rule that decides.
 * Each pair of live descriptors is judged by the machine checker's rule table
 * (src/machine/bbm.ts bbmRequirement, vmsa-rules.md §4), at the CPU's FEAT_BBM level.
 */

import { addressFieldMask } from "../arch/descriptor.js";
import type { Regs } from "../arch/registers.js";
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
}

export interface DiffReport {
  readonly changes: readonly Change[];
  readonly counts: Readonly<Record<ChangeKind, number>>;
  readonly notes: readonly string[];
}

export interface DiffOptions {
  /** FEAT_BBM level to judge with (default: from B's ID_AA64MMFR2_EL1 / features). */
  readonly bbmLevel?: number;
  /** Halves to compare (default both). */
  readonly halves?: readonly (0 | 1)[];
}

interface Leaf {
  off: number;
  end: number;
  level: number;
  hi: number;
  lo: number;
  oa: number;
}

function leavesOf(mem: PhysMem, h: HalfContext): { leaves: Leaf[]; tables: Map<string, number> } {
  const leaves: Leaf[] = [];
  const tables = new Map<string, number>();
  if (h.tnszFault || h.baseFault || h.epd) return { leaves, tables };
  walkEntries(
    mem,
    h,
    0,
    2 ** h.iaBits,
    (e) => {
      if (e.kind === "leaf") {
        leaves.push({ off: e.off, end: e.off + e.size, level: e.level, hi: e.hi, lo: e.lo, oa: leafOutputAddress(h, e.hi, e.lo, e.level) });
      } else if (e.kind === "table") {
        // Next-level table address, to spot re-pointed live tables.
        tables.set(`${e.level}:${e.off}`, nextTableAddress(h, e.hi, e.lo));
      }
    },
    { tables: true },
  );
  return { leaves, tables };
}

function raw(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
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
    const A = leavesOf(memA, ha);
    const B = leavesOf(memB, hb);
    // Both halves have the same granule (checked above); B's format says which bits are the OA.
    const fmt = hb.fmt;
    const classify = (from: number, to: number, a: Leaf | undefined, b: Leaf | undefined): void => {
      const va = base + BigInt(from);
      const size = BigInt(to - from);
      const common = {
        half,
        va,
        size,
        old: a ? raw(a.hi, a.lo) : undefined,
        new: b ? raw(b.hi, b.lo) : undefined,
        oldLevel: a?.level,
        newLevel: b?.level,
        oldPa: a ? BigInt(a.oa + (from - a.off)) : undefined,
        newPa: b ? BigInt(b.oa + (from - b.off)) : undefined,
      };
      if (a && !b) {
        push({
          ...common,
          kind: "removed",
          rule: undefined,
          reason: "valid → invalid (no break needed; TLBI to remove cached copies)",
          tlbi: true,
        });
        return;
      }
      if (b && !a) {
        push({ ...common, kind: "new", rule: undefined, reason: "invalid → valid (never cached: no TLBI needed)", tlbi: false });
        return;
      }
      if (!a || !b) return;
      if (a.hi === b.hi && a.lo === b.lo && a.level === b.level && a.off === b.off) return;
      const oaA = a.oa + (from - a.off);
      const oaB = b.oa + (from - b.off);
      let r: ReturnType<typeof bbmRequirement>;
      if (a.level === b.level && a.off === b.off) {
        r = bbmRequirement(raw(a.hi, a.lo), raw(b.hi, b.lo), a.level, fmt, bbmLevel, { mair });
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
        const na = (raw(a.hi, a.lo) & ~oaMask) | 3n;
        const nb = (raw(b.hi, b.lo) & ~oaMask) | 3n;
        r = bbmRequirement(na, nb, 3, fmt, bbmLevel, { mair });
        if (!r.required) {
          const hi = a.level < b.level ? a : b;
          const blk = raw(hi.hi, hi.lo);
          r =
            a.level < b.level
              ? bbmRequirement(blk, 3n, hi.level, fmt, bbmLevel, { mair })
              : bbmRequirement(3n, blk, hi.level, fmt, bbmLevel, { mair });
        }
      }
      if (r.rule === "bbm.same") return;
      push({ ...common, kind: r.required ? "break-before-make" : "permission-only", rule: r.rule, reason: r.reason, tlbi: r.tlbiNeeded });
    };
    const la = A.leaves;
    const lb = B.leaves;
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
  return { changes, counts, notes };
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
  const k = r.counts;
  lines.push(
    `${k.new} new, ${k.removed} removed, ${k["permission-only"]} permission-only (safe live, TLBI needed), ${k["break-before-make"]} need break-before-make`,
  );
  return `${lines.join("\n")}\n`;
}

export function diffToJson(r: DiffReport): unknown {
  const hx = (v: bigint | undefined): string | null => (v === undefined ? null : `0x${v.toString(16)}`);
  return {
    counts: r.counts,
    notes: r.notes,
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
    })),
  };
}
