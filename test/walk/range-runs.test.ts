/**
 * The range walk's leaf runs (walkEntries `runs`): a run stands for exactly the entries a walk
 * entry by entry visits. Expanding every run (entry j at off + j·size, descAddr + 8j, descriptor
 * (hi, lo) + j·size for a leaf run, the same value for a hole run) must give that walk's sequence,
 * on random tables with mixed attributes, contiguous groups, holes, blocks, output addresses at the
 * top of the address field (Arm ARM D8.3: the OA field of a page descriptor; a carry out of it is
 * not the next page) and frames that move (read from a source).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { presetByName } from "../../src/arch/registers.js";
import type { PhysMem } from "../../src/mem/physmem.js";
import { compileRegs, type HalfContext } from "../../src/walk/context.js";
import { leafOutputAddress } from "../../src/walk/fields.js";
import { mappingReport, type RawEntry, walkEntries } from "../../src/walk/range.js";
import { propertyRuns } from "../helpers/property.js";
import { buildLeafTables, leafTablesSpec, pooledCopy, reversedCopy } from "../helpers/random-leaf-tables.js";
import { TestTables } from "../helpers/tables.js";

const TWO32 = 2 ** 32;

/** Every visit as text, runs expanded into their entries (entry j of a leaf run: (hi, lo) + j·size mod 2^64). */
function visits(mem: PhysMem, h: HalfContext, runs: boolean): { lines: string[]; visits: number; counts: number } {
  const lines: string[] = [];
  let n = 0;
  let counts = 0;
  const zeros: { line: number; off: number; end: number; da: number }[] = [];
  walkEntries(
    mem,
    h,
    0,
    2 ** h.iaBits,
    (e: RawEntry) => {
      n++;
      counts += e.count;
      const rest = `${e.kind} L${e.level} ${e.size} ${e.table},${e.next},${e.key},${e.firstOff},${e.apTable},${e.uxnTable},${e.pxnTable}`;
      if (e.kind === "hole" && e.hi === 0 && e.lo === 0) {
        // Zero entries (most of a table), run-length coded in both walks alike: k zero entries from (off, descAddr).
        const last = zeros[zeros.length - 1];
        if (last && lines.length === last.line && last.end === e.off && last.da === e.descAddr) {
          last.end += e.count * e.size;
          last.da += 8 * e.count;
          lines[last.line - 1] = `zeros ${last.off}-${last.end} L${e.level} @${last.da}`;
        } else {
          lines.push(`zeros ${e.off}-${e.off + e.count * e.size} L${e.level} @${e.descAddr + 8 * e.count}`);
          zeros.push({ line: lines.length, off: e.off, end: e.off + e.count * e.size, da: e.descAddr + 8 * e.count });
        }
        return;
      }
      for (let j = 0; j < e.count; j++) {
        const step = e.kind === "leaf" ? j * e.size : 0;
        const lo = e.lo + (step % TWO32);
        const hi = (e.hi + Math.floor(step / TWO32) + Math.floor(lo / TWO32)) % TWO32;
        lines.push(`${e.off + j * e.size} @${e.descAddr + 8 * j} ${hi}:${lo % TWO32} ${rest}`);
        // What a run promises beyond the sum: the output address advances by one entry size and
        // no bit outside the address field changes.
        if (e.kind === "leaf" && j > 0) {
          const oa = leafOutputAddress(h, hi, lo % TWO32, e.level);
          if (oa !== leafOutputAddress(h, e.hi, e.lo, e.level) + step || ((hi ^ e.hi) & ~h.fmt.addrHi) !== 0) {
            lines.push(`not a run: entry ${j} maps 0x${oa.toString(16)}`);
          }
        }
      }
    },
    { tables: true, shared: true, runs },
  );
  return { lines, visits: n, counts };
}

describe("range walk leaf runs", () => {
  it("a table of 4K pages mapping contiguous memory with one set of attributes is one visit", () => {
    const t = new TestTables(GRANULE_4K, 0);
    for (let i = 0n; i < 512n; i++) t.map(i * 0x1000n, 3, { af: true, pxn: true, uxn: true, oa: 0x4000_0000n + i * 0x1000n });
    const h = compileRegs({ ...presetByName("linux-4k-48").regs, ttbr1: t.root }).halves[1];
    const leaves: RawEntry[] = [];
    walkEntries(t.mem, h, 0, 2 ** h.iaBits, (e) => e.kind === "leaf" && leaves.push({ ...e }), { runs: true });
    expect(leaves.map((e) => [e.off, e.count, e.size])).toEqual([[0, 512, 4096]]);
  });

  it("a run stops where the next output address would carry out of the address field (OA[47:12] at 2^48)", () => {
    const t = new TestTables(GRANULE_4K, 0);
    const top = 1n << 48n;
    t.map(0n, 3, { af: true, oa: top - 0x2000n });
    t.map(0x1000n, 3, { af: true, oa: top - 0x1000n });
    // The next page's descriptor is the previous one + 4096 as a 64-bit sum (bit 48 set, OA 0):
    // not the next output address.
    t.raw(0x2000n, 3, (1n << 48n) | 0x403n);
    const h = compileRegs({ ...presetByName("linux-4k-48").regs, ttbr1: t.root }).halves[1];
    const leaves: [number, number][] = [];
    walkEntries(t.mem, h, 0, 2 ** h.iaBits, (e) => e.kind === "leaf" && leaves.push([e.off, e.count]), { runs: true });
    expect(leaves).toEqual([
      [0, 2],
      [0x2000, 1],
    ]);
  });

  it("expanded runs are the entry-by-entry walk, on random tables (stable frames, frames stored out of order, pooled frames)", () => {
    fc.assert(
      fc.property(leafTablesSpec, (spec) => {
        const { t, regs } = buildLeafTables(spec);
        const h = compileRegs(regs).halves[1];
        const ref = visits(t.mem, h, false);
        expect(ref.counts).toBe(ref.visits); // without runs, every visit is one entry
        const fast = visits(t.mem, h, true);
        expect(fast.lines).toEqual(ref.lines);
        const pooled = visits(pooledCopy(t.mem, 3), h, true);
        expect(pooled.lines).toEqual(ref.lines);
        expect(visits(reversedCopy(t.mem), h, true).lines).toEqual(ref.lines);
        expect(fast.visits).toBeLessThanOrEqual(ref.visits);
      }),
      { numRuns: propertyRuns(60) },
    );
  });

  it("mappingReport by runs is mappingReport leaf by leaf, on random tables", () => {
    fc.assert(
      fc.property(leafTablesSpec, (spec) => {
        const { t, regs } = buildLeafTables(spec);
        const ctx = compileRegs(regs);
        const start = (1n << 64n) - (1n << BigInt(ctx.halves[1].iaBits));
        const ref = mappingReport(t.mem, ctx, start, 0n, { perEntry: true });
        expect(mappingReport(t.mem, ctx, start, 0n)).toEqual(ref);
        expect(mappingReport(pooledCopy(t.mem, 3), ctx, start, 0n)).toEqual(ref);
        expect(mappingReport(reversedCopy(t.mem), ctx, start, 0n)).toEqual(ref);
      }),
      { numRuns: propertyRuns(40) },
    );
  });
});
