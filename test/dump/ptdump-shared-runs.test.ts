/**
 * Where a shared subtree is first shown and where its SHARED run stops. The kernel walks every VA
 * path (arch/arm64/mm/ptdump.c via walk_page_range), so vmsa's memoised ptdump must name the VA it
 * first printed a shared table at, and end a SHARED run at the range end, at a marker and at the
 * first entry that names another table.
 */
import { describe, expect, it } from "vitest";
import { encodeLeaf, encodeTable } from "../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { presetByName, type Regs } from "../../src/arch/registers.js";
import { ptdumpReport } from "../../src/dump/ptdump.js";
import { TestTables } from "../helpers/tables.js";

const HALF1 = 0xffff_0000_0000_0000n;
const M2 = 0x20_0000n;

function regs(root: bigint): Regs {
  return { ...presetByName("linux-4k-48").regs, ttbr1: root };
}

/**
 * PMD entry 0 empty, entries 1..`last` all name one PTE table (first shown at VA +2M), entry
 * `last + 1` names a second table with the same contents, the rest empty.
 */
function build(pte: (t: TestTables, i: number) => bigint, last: number): { t: TestTables; a: bigint; b: bigint } {
  const t = new TestTables(GRANULE_4K, 0);
  const pmd = t.tableFor(0n, 2);
  const a = t.alloc();
  const b = t.alloc();
  for (let i = 0; i < 512; i++) {
    t.mem.write64(a + BigInt(i * 8), pte(t, i));
    t.mem.write64(b + BigInt(i * 8), pte(t, i));
  }
  for (let i = 1; i <= last; i++) t.mem.write64(pmd + BigInt(i * 8), encodeTable({ nextTable: a }, t.fmt));
  t.mem.write64(pmd + BigInt((last + 1) * 8), encodeTable({ nextTable: b }, t.fmt));
  return { t, a, b };
}

const page = (t: TestTables, i: number): bigint =>
  encodeLeaf({ oa: 0x8000_0000n + BigInt(i) * 0x1000n, af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 }, 3, t.fmt);
const everyOther = (t: TestTables, i: number): bigint => (i % 2 === 0 ? page(t, i) : 0n);

describe("ptdump shared runs", () => {
  it("a uniform shared table records each later VA and the VA it was first shown at", () => {
    const { t, a } = build(page, 6);
    const r = ptdumpReport(t.mem, regs(t.root), { markers: [{ address: HALF1, name: "Linear Mapping start" }] });
    expect(r.shared.map((s) => [s.va, s.size, s.level, s.table, s.sameAsVa, s.merged])).toEqual(
      [2, 3, 4, 5, 6].map((i) => [HALF1 + BigInt(i) * M2, M2, 2, a, HALF1 + M2, true]),
    );
    // The replayed runs and the second (unshared) copy coalesce with the first: one PTE line.
    expect(r.text.split("\n").slice(1, 4)).toEqual([
      "0xffff000000000000-0xffff000000200000           2M PMD",
      "0xffff000000200000-0xffff000001000000          14M PTE       RW NX SHD AF            UXN    MEM/NORMAL",
      "0xffff000001000000-0xffff000040000000        1008M PMD",
    ]);
  });

  it("a non-uniform shared table is one SHARED line that stops at the entry naming another table", () => {
    const { t, a } = build(everyOther, 6);
    const r = ptdumpReport(t.mem, regs(t.root), { markers: [{ address: HALF1, name: "Linear Mapping start" }] });
    const lines = r.text.split("\n");
    const shared = lines.filter((l) => l.includes("SHARED"));
    expect(shared).toEqual([
      `0xffff000000400000-0xffff000000e00000          10M PMD SHARED table at PA 0x${a.toString(16)} (same as 0xffff000000200000-0xffff000000400000, shown above)`,
    ]);
    expect(r.shared.map((s) => [s.va, s.size, s.sameAsVa, s.merged])).toEqual([[HALF1 + 2n * M2, 5n * M2, HALF1 + M2, false]]);
    // Entry 7 names the second table: printed in full (256 pages and 256 holes), not as SHARED.
    const i = lines.indexOf(shared[0] as string);
    expect(lines[i + 1]).toBe("0xffff000000e00000-0xffff000000e01000           4K PTE       RW NX SHD AF            UXN    MEM/NORMAL");
    // Header, PMD hole, 512 + SHARED + 512, then the PMD, PUD and PGD holes and the final newline.
    expect(lines.length).toBe(1 + 1 + 512 + 1 + 512 + 3 + 1);
  });

  it("a SHARED run ends at --end and at a marker inside it; the marker's entry is walked again", () => {
    const { t, a } = build(everyOther, 6);
    const markers = [
      { address: HALF1, name: "Linear Mapping start" },
      { address: HALF1 + 4n * M2 + 0x3000n, name: "Inside" },
    ];
    const r = ptdumpReport(t.mem, regs(t.root), { markers, end: HALF1 + 6n * M2 });
    const shared = r.text.split("\n").filter((l) => l.includes("SHARED"));
    expect(shared).toEqual([
      `0xffff000000400000-0xffff000000800000           4M PMD SHARED table at PA 0x${a.toString(16)} (same as 0xffff000000200000-0xffff000000400000, shown above)`,
      `0xffff000000a00000-0xffff000000c00000           2M PMD SHARED table at PA 0x${a.toString(16)} (same as 0xffff000000200000-0xffff000000400000, shown above)`,
    ]);
    expect(r.text).toContain("---[ Inside ]---\n0xffff000000803000-0xffff000000804000           4K PTE\n");
    expect(r.text.trimEnd().split("\n").at(-1)).toMatch(/^0xffff000000a00000-0xffff000000c00000 /);
  });
});
