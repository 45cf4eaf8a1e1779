/**
 * `vmsa diff` judges runs of leaves (range walk `runs`) as it judges their leaves one by one: the
 * report (text, JSON, every change with its range, descriptors, PAs, rule and reason, the missing
 * ranges and notes) is the per-entry diff's, on random before/after tables: attribute and output
 * address changes (vmsa-rules.md §4.1: the BBM rule table, Arm ARM D8.16 break-before-make),
 * segments replaced, single bits flipped, a level-2 block written over a table of pages (a block
 * size change with the same or another output address), subtrees shared by two table
 * descriptors on one side or both, the user half present on one side only, every FEAT_BBM level,
 * and frames stored out of physical order or read from a source.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressFieldMask, encodeLeaf } from "../../src/arch/descriptor.js";
import { GRANULE_4K, levelShift } from "../../src/arch/granule.js";
import { presetByName } from "../../src/arch/registers.js";
import { diffTables, diffToJson, formatDiff } from "../../src/dump/diff.js";
import { propertyRuns } from "../helpers/property.js";
import {
  buildLeafTables,
  type LeafTables,
  type LeafTablesSpec,
  leafTablesSpec,
  pooledCopy,
  reversedCopy,
} from "../helpers/random-leaf-tables.js";
import { TestTables } from "../helpers/tables.js";

const json = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x));

interface Edits {
  /** Level-2 blocks over window 0's first tables: none, on side A, on side B. */
  readonly block: "none" | "A" | "B";
  /** The blocks map what the pages map (a pure size change) or another output address. */
  readonly blockSameOa: boolean;
  readonly blocks: number;
  /** The blocks take the attributes of the side's first page (else PAGE_KERNEL_RO's). */
  readonly blockCopy: boolean;
  /** A second level-2 table descriptor naming window 0's first level-3 table (a shared subtree). */
  readonly shareA: boolean;
  readonly shareB: boolean;
}

const edits: fc.Arbitrary<Edits> = fc.record({
  block: fc.constantFrom("none", "none", "A", "B"),
  blockSameOa: fc.constantFrom(true, true, true, false),
  blocks: fc.integer({ min: 1, max: 3 }),
  blockCopy: fc.constantFrom(true, true, true, false),
  shareA: fc.boolean(),
  shareB: fc.boolean(),
});

type Window = LeafTablesSpec["windows"][number];
const win = (s: LeafTablesSpec, i: number): Window => s.windows[i] ?? { startIndex: 0, segments: [] };

/** Side B's spec: A's tables with B's flips, some of B's segments and (sometimes) B's user half. */
const pairSpec = fc
  .tuple(leafTablesSpec, leafTablesSpec, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), fc.boolean(), fc.boolean(), fc.boolean())
  .map(([a, b0, take, flipsOnly, otherUser, aligned]) => {
    // Aligned: window 0 starts a table with pages from PA 0x4000_0000, which blocks can map as well.
    const w0 = win(a, 0);
    const s0 = w0.segments[0];
    const a2: LeafTablesSpec =
      aligned && s0 !== undefined
        ? { ...a, windows: [{ startIndex: 0, segments: [{ ...s0, type: "pages", oa: "continue" }, ...w0.segments.slice(1)] }, win(a, 1)] }
        : a;
    const mix = (wa: Window, wb: Window): Window => ({
      ...wa,
      segments: wa.segments.map((s, k) => (take[k] === true && wb.segments[k] !== undefined ? wb.segments[k] : s)),
    });
    const b: LeafTablesSpec = {
      ...a2,
      userHalf: otherUser ? b0.userHalf : a2.userHalf,
      flips: b0.flips,
      windows: flipsOnly ? a2.windows : [mix(win(a2, 0), win(b0, 0)), mix(win(a2, 1), win(b0, 1))],
    };
    return { a: a2, b };
  });

function applyEdits(side: "A" | "B", x: LeafTables, spec: LeafTablesSpec, e: Edits): void {
  const t = x.t;
  const vaBits = [48, 52, 47, 52][spec.config] as number;
  const windowBase = 1n << BigInt(vaBits - 2);
  const l2 = 1n << BigInt(levelShift(t.granule, 2));
  if ((side === "A" ? e.shareA : e.shareB) && win(spec, 0).segments.length > 0) {
    const da = t.tableFor(windowBase, 2) + t.index(windowBase, 2) * 8n;
    const v = t.mem.read64(da) ?? 0n;
    t.raw(windowBase + 100n * l2, 2, v);
  }
  if (e.block === side) {
    const page = t.mem.read64(t.tableFor(windowBase, 3) + t.index(windowBase, 3) * 8n) ?? 0n;
    const oaBits = addressFieldMask(t.fmt, levelShift(t.granule, 2));
    for (let m = 0n; m < BigInt(e.blocks); m++) {
      // Window 0's first segment starts at PA 0x4000_0000 when it continues (and startIndex 0).
      const oa = e.blockSameOa ? 0x4000_0000n + m * l2 : 0x8_0000_0000n + m * l2;
      const ro = encodeLeaf({ af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0, ap: 2, oa }, 2, t.fmt);
      // The first page's bits but its address and type bit (bit 1: block), valid.
      const copy = (page & ~addressFieldMask(t.fmt, levelShift(t.granule, 3)) & ~3n) | (ro & oaBits) | 1n;
      t.raw(windowBase + m * l2, 2, e.blockCopy ? copy : ro);
    }
  }
}

describe("diff by leaf runs", () => {
  it("names the block of a run that covers a change's first page, past the middle of the block", () => {
    // A: two 2 MiB blocks (one run); B: the same memory as 4K pages with pages 300-309 unmapped.
    // Without FEAT_BBM a block → table split needs break-before-make (vmsa-rules.md §4.1).
    const regs = presetByName("linux-4k-48").regs;
    const RW = { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 } as const;
    const a = new TestTables(GRANULE_4K, 0);
    const b = new TestTables(GRANULE_4K, 0);
    const blocks = [0n, 1n].map((m) => a.map(m << 21n, 2, { ...RW, oa: 0x4000_0000n + (m << 21n) }));
    for (let p = 0n; p < 1024n; p++) if (p < 300n || p >= 310n) b.map(p << 12n, 3, { ...RW, oa: 0x4000_0000n + (p << 12n) });
    const opts = { bbmLevel: 0, halves: [1 as const] };
    const fast = diffTables(a.mem, { ...regs, ttbr1: a.root }, b.mem, { ...regs, ttbr1: b.root }, opts);
    const ref = diffTables(a.mem, { ...regs, ttbr1: a.root }, b.mem, { ...regs, ttbr1: b.root }, { ...opts, perEntry: true });
    expect(json(fast)).toBe(json(ref));
    const block0 = a.mem.read64(blocks[0] as bigint);
    expect(fast.changes.map((c) => [c.kind, c.rule, c.va & 0xffffffn, c.size, c.old === block0])).toEqual([
      ["break-before-make", "bbm.size-change", 0n, 300n << 12n, true],
      ["removed", undefined, 300n << 12n, 10n << 12n, true],
      ["break-before-make", "bbm.size-change", 310n << 12n, (1024n - 310n) << 12n, true],
    ]);
  });

  it("reports exactly what the leaf-by-leaf diff reports, on random before/after tables", () => {
    let changes = 0;
    let shared = 0;
    const kinds = new Set<string>();
    fc.assert(
      fc.property(pairSpec, edits, fc.integer({ min: 0, max: 3 }), ({ a, b }, e, bbmLevel) => {
        const A = buildLeafTables(a);
        const B = buildLeafTables(b);
        applyEdits("A", A, a, e);
        applyEdits("B", B, b, e);
        const ref = diffTables(A.t.mem, A.regs, B.t.mem, B.regs, { bbmLevel, perEntry: true });
        const fast = diffTables(A.t.mem, A.regs, B.t.mem, B.regs, { bbmLevel });
        expect(formatDiff(fast)).toBe(formatDiff(ref));
        expect(json(diffToJson(fast))).toBe(json(diffToJson(ref)));
        expect(json(fast)).toBe(json(ref));
        expect(json(diffTables(pooledCopy(A.t.mem, 3), A.regs, reversedCopy(B.t.mem), B.regs, { bbmLevel }))).toBe(json(ref));
        changes += ref.changes.length;
        shared += ref.changes.filter((c) => c.sameAs !== undefined).length;
        for (const c of ref.changes) kinds.add(c.rule ?? c.kind);
      }),
      { numRuns: propertyRuns(60) },
    );
    // The tables do differ, in every way the rule table tells apart.
    expect(changes).toBeGreaterThan(0);
    expect(shared).toBeGreaterThan(0);
    for (const k of ["new", "removed", "bbm.permissions", "bbm.output-address"]) expect(kinds).toContain(k);
    expect([...kinds].some((k) => k.startsWith("bbm.size-change"))).toBe(true);
  });
});
