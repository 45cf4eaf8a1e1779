/**
 * Tables shared by many entries (512-way fan-in at every level, as in corrupted dumps; Linux's
 * KASAN early shadow does it legitimately): the range walk, ptdump, audit and diff must do work
 * bounded by the distinct (table, level) pairs plus the output, not by the 512^n VA paths, and
 * must say where a subtree is shared. Bounds are asserted on counts (lines, visits), never on time.
 */
import { describe, expect, it } from "vitest";
import { encodeLeaf, encodeTable } from "../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { presetByName, type Regs } from "../../src/arch/registers.js";
import { audit } from "../../src/dump/audit.js";
import { diffTables } from "../../src/dump/diff.js";
import { ptdump, ptdumpReport } from "../../src/dump/ptdump.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { compileRegs } from "../../src/walk/context.js";
import { mappingReport, walkEntries } from "../../src/walk/range.js";
import { aliasedTables, TestTables } from "../helpers/tables.js";

const HALF1 = 0xffff_0000_0000_0000n;

function regs(root: bigint): Regs {
  return { ...presetByName("linux-4k-48").regs, ttbr1: root };
}

/** A kernel RW page (AF, inner shareable, PXN, UXN, Normal). */
function page(t: TestTables, i: number): bigint {
  return encodeLeaf({ oa: 0x8000_0000n + BigInt(i) * 0x1000n, af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 }, 3, t.fmt);
}

describe("fully aliased tables (every entry at every level names the same next table)", () => {
  it("the range walk visits each (table, level) once and reports the rest as shared", () => {
    const t = new TestTables(GRANULE_4K, 0);
    aliasedTables(t, (i) => page(t, i));
    const h = compileRegs(regs(t.root)).halves[1];
    const kinds = new Map<string, number>();
    walkEntries(t.mem, h, 0, 2 ** 48, (e) => kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1), { tables: true, shared: true });
    // Expanded: 1 root + 1 entry walked into at each of levels 0..2, then the 512 leaves.
    // Shared: the other 511 entries of each of the three table levels.
    expect(kinds.get("leaf")).toBe(512);
    expect(kinds.get("shared")).toBe(3 * 511);
    expect(kinds.get("table")).toBe(3);
    expect(kinds.get("table-end")).toBe(3);
  });

  it("JSON mappings: 512 leaves coalesced once, the 3 shared ranges name the table and the VA shown", () => {
    const t = new TestTables(GRANULE_4K, 0);
    const tables = aliasedTables(t, (i) => page(t, i));
    const r = mappingReport(t.mem, regs(t.root), HALF1, 0n);
    expect(r.runs).toHaveLength(1);
    expect(r.runs[0]?.size).toBe(0x20_0000n);
    expect(r.missing).toEqual([]);
    expect(r.shared.map((s) => [s.level, s.va, s.size, s.entries, s.table, s.sameAsVa])).toEqual([
      [2, HALF1 + 0x20_0000n, 511n * 0x20_0000n, 511, tables[3], HALF1],
      [1, HALF1 + 0x4000_0000n, 511n * 0x4000_0000n, 511, tables[2], HALF1],
      [0, HALF1 + 0x80_0000_0000n, 511n * 0x80_0000_0000n, 511, tables[1], HALF1],
    ]);
  });

  it("ptdump of a non-uniform aliased tree prints the subtree once and SHARED lines for the rest", () => {
    const t = new TestTables(GRANULE_4K, 0);
    const tables = aliasedTables(t, (i) => (i % 2 === 0 ? page(t, i) : 0n));
    const r = ptdumpReport(t.mem, regs(t.root), { markers: [{ address: HALF1, name: "Linear Mapping start" }] });
    const lines = r.text.trimEnd().split("\n");
    // Header, 512 alternating PTE lines for the first 2M, then one SHARED line per level.
    expect(lines).toHaveLength(1 + 512 + 3);
    expect(lines.slice(513)).toEqual([
      `0xffff000000200000-0xffff000040000000        1022M PMD SHARED table at PA 0x${tables[3]?.toString(16)} (same as 0xffff000000000000-0xffff000000200000, shown above)`,
      `0xffff000040000000-0xffff008000000000         511G PUD SHARED table at PA 0x${tables[2]?.toString(16)} (same as 0xffff000000000000-0xffff000040000000, shown above)`,
      `0xffff008000000000-0x0000000000000000      261632G PGD SHARED table at PA 0x${tables[1]?.toString(16)} (same as 0xffff000000000000-0xffff008000000000, shown above)`,
    ]);
    expect(r.shared.every((s) => !s.merged)).toBe(true);
  });

  it("ptdump of a uniform aliased tree is the kernel's single line (the shared run is replayed)", () => {
    const t = new TestTables(GRANULE_4K, 0);
    aliasedTables(t, (i) => page(t, i));
    const r = ptdumpReport(t.mem, regs(t.root), { markers: [{ address: HALF1, name: "Linear Mapping start" }] });
    expect(r.text).toBe(
      [
        "---[ Linear Mapping start ]---",
        "0xffff000000000000-0x0000000000000000         256T PTE       RW NX SHD AF            UXN    MEM/NORMAL",
        "",
      ].join("\n"),
    );
    expect(r.shared.length).toBe(3 * 511);
    expect(r.shared.every((s) => s.merged)).toBe(true);
  });
});

describe("a shared subtree prints as an unshared copy of it would (the kernel walks every path)", () => {
  /** Two L2 entries naming one uniform PTE table, or each its own identical copy. */
  function build(shared: boolean, withMarker: boolean): string {
    const t = new TestTables(GRANULE_4K, 0);
    const pmd = t.tableFor(0n, 2);
    const a = t.alloc();
    const b = shared ? a : t.alloc();
    for (const pte of [a, b]) for (let i = 0; i < 512; i++) t.mem.write64(pte + BigInt(i * 8), page(t, i));
    t.mem.write64(pmd, encodeTable({ nextTable: a }, t.fmt));
    t.mem.write64(pmd + 8n * 3n, encodeTable({ nextTable: b }, t.fmt));
    const markers = [{ address: HALF1, name: "Linear Mapping start" }];
    // A marker inside the second copy splits the run there: the shared subtree must be walked again.
    if (withMarker) markers.push({ address: HALF1 + 3n * 0x20_0000n + 0x5000n, name: "Modules start" });
    return ptdump(t.mem, regs(t.root), { markers });
  }
  it("without markers inside", () => {
    expect(build(true, false)).toBe(build(false, false));
    expect(build(true, false)).toContain("0xffff000000600000-0xffff000000800000           2M PTE");
  });
  it("with a marker inside the shared range", () => {
    expect(build(true, true)).toBe(build(false, true));
    expect(build(true, true)).toContain("---[ Modules start ]---\n0xffff000000605000-");
  });
});

describe("a shared subtree whose first note is not at its start", () => {
  // A PMD table whose entry 0 is non-present but non-zero (the kernel's walk skips it without a
  // note: pmd_none() is false, pmd_present() too) and whose other entries are equal 2M blocks.
  function build(shared: boolean): string {
    const t = new TestTables(GRANULE_4K, 0);
    const pud = t.tableFor(0n, 1);
    const a = t.alloc();
    const b = shared ? a : t.alloc();
    for (const pmd of [a, b]) {
      t.mem.write64(pmd, 0x2n);
      for (let i = 1; i < 512; i++)
        t.mem.write64(pmd + BigInt(i * 8), encodeLeaf({ oa: BigInt(i) << 21n, af: true, sh: 3, pxn: true, uxn: true }, 2, t.fmt));
    }
    t.mem.write64(pud, encodeTable({ nextTable: a }, t.fmt));
    t.mem.write64(pud + 8n * 2n, encodeTable({ nextTable: b }, t.fmt));
    return ptdump(t.mem, regs(t.root), { markers: [{ address: HALF1, name: "Linear Mapping start" }] });
  }
  it("is replayed from its first note, as the unshared copy prints", () => {
    expect(build(true)).toBe(build(false));
    expect(build(true)).toContain("0xffff000080200000-0xffff0000c0000000        1022M PMD");
  });
});

describe("tables missing from the input", () => {
  it("ptdump prints a MISSING line (not a hole) where a table the walk reaches is not in memory", () => {
    const t = new TestTables(GRANULE_4K, 0);
    const pmd = t.tableFor(0n, 2);
    t.map(0n, 3, { oa: 0x8000_0000n, af: true, sh: 3, pxn: true, uxn: true });
    // L2 entry 1 names a PTE table at a PA outside every memory bank.
    t.mem.write64(pmd + 8n, encodeTable({ nextTable: 0x7777_0000n }, t.fmt));
    const r = ptdumpReport(t.mem, regs(t.root), { markers: [{ address: HALF1, name: "Linear Mapping start" }] });
    const lines = r.text.split("\n");
    expect(lines[1]).toBe("0xffff000000000000-0xffff000000001000           4K PTE       RW NX SHD AF            UXN    MEM/NORMAL");
    expect(lines[2]).toBe("0xffff000000001000-0xffff000000200000        2044K PTE");
    expect(lines[3]).toBe("0xffff000000200000-0xffff000000400000           2M PTE MISSING table at PA 0x77770000 (not in the input)");
    expect(lines[4]).toBe("0xffff000000400000-0xffff000040000000        1020M PMD");
    expect(r.missing).toEqual([{ va: HALF1 + 0x20_0000n, size: 0x20_0000n, level: 3, table: 0x7777_0000n }]);
  });

  it("a root that is not in memory is one MISSING line for the whole half, not an empty half", () => {
    const mem = new PhysMem();
    const r = ptdumpReport(mem, regs(0x1234_5000n), { markers: [{ address: HALF1, name: "Linear Mapping start" }] });
    expect(r.text).toBe(
      "---[ Linear Mapping start ]---\n0xffff000000000000-0x0000000000000000         256T PGD MISSING table at PA 0x12345000 (not in the input)\n",
    );
    const j = mappingReport(mem, regs(0x1234_5000n), HALF1, 0n);
    expect(j.runs).toEqual([]);
    expect(j.missing).toEqual([{ va: HALF1, size: 1n << 48n, level: 0, table: 0x1234_5000n }]);
  });
});

describe("audit and diff of aliased tables", () => {
  /** A kernel page writable and privileged-executable (W+X): AP[2]=0, PXN=0. */
  const wxPage = (t: TestTables, i: number): bigint =>
    encodeLeaf({ oa: 0x8000_0000n + BigInt(i) * 0x1000n, af: true, sh: 3, uxn: true, attrIndx: 0 }, 3, t.fmt);

  it("audit counts W+X pages per VA as the kernel's walk does, reports each finding range once and marks the sharing", () => {
    const t = new TestTables(GRANULE_4K, 0);
    aliasedTables(t, (i) => wxPage(t, i));
    const r = audit(t.mem, regs(t.root), { userHalf: false });
    // ptdump_check_wx walks every VA: 2^48 / 4K pages, all W+X.
    expect(r.wx.wxPages).toBe(1n << 36n);
    expect(r.leaves[1]).toBe(2 ** 36);
    expect(r.wx.summary).toBe("Checked W+X mappings: FAILED, 68719476736 W+X pages found, 0 non-UXN pages found");
    // One W+X range (the subtree walked in full) and one shared-table warning per level.
    expect(r.findings.filter((f) => f.kind === "wx").map((f) => [f.va, f.size])).toEqual([[HALF1, 0x20_0000n]]);
    const shared = r.findings.filter((f) => f.kind === "shared-table");
    expect(shared.map((f) => [f.severity, f.va, f.size])).toEqual([
      ["warning", HALF1 + 0x20_0000n, 511n * 0x20_0000n],
      ["warning", HALF1 + 0x4000_0000n, 511n * 0x4000_0000n],
      ["warning", HALF1 + 0x80_0000_0000n, 511n * 0x80_0000_0000n],
    ]);
    expect(shared[0]?.message).toContain("already audited at VA 0xffff000000000000");
  });

  it("audit still checks every shared table descriptor's own RES0 bits (NSTable outside Secure state)", () => {
    const t = new TestTables(GRANULE_4K, 0);
    const tables = aliasedTables(t, (i) => page(t, i));
    // Every root entry: NSTable (bit 63), RES0 for the Non-secure EL1&0 regime (Arm ARM D8.3.1).
    const next = encodeTable({ nextTable: tables[1] as bigint, nsTable: true }, t.fmt);
    for (let i = 0; i < 512; i++) t.mem.write64(t.root + BigInt(i * 8), next);
    const r = audit(t.mem, regs(t.root), { userHalf: false });
    const res0 = r.findings.filter((f) => f.kind === "reserved-bits" && f.level === 0);
    expect(res0).toHaveLength(512);
    expect(res0.every((f) => f.message.includes("NSTable"))).toBe(true);
  });

  it("diff of two aliased trees: the change found once, then one 'same changes' range per level", () => {
    const a = new TestTables(GRANULE_4K, 0);
    aliasedTables(a, (i) => page(a, i));
    const b = new TestTables(GRANULE_4K, 0);
    // B: the shared PTE table's entry 0 made read-only (AP[2]=1).
    aliasedTables(b, (i) => (i === 0 ? page(b, i) | (1n << 7n) : page(b, i)));
    const r = diffTables(a.mem, regs(a.root), b.mem, regs(b.root), { halves: [1], bbmLevel: 0 });
    expect(r.missing).toEqual([]);
    expect(r.changes.map((c) => [c.kind, c.va, c.size, c.sameAs])).toEqual([
      ["permission-only", HALF1, 0x1000n, undefined],
      ["permission-only", HALF1 + 0x20_0000n, 511n * 0x20_0000n, HALF1],
      ["permission-only", HALF1 + 0x4000_0000n, 511n * 0x4000_0000n, HALF1],
      ["permission-only", HALF1 + 0x80_0000_0000n, 511n * 0x80_0000_0000n, HALF1],
    ]);
    expect(r.changes[1]?.reason).toMatch(/^the same 1 change as at VA 0xffff000000000000-0xffff000000200000/);
  });

  it("diff expands a shared subtree where the other side does not share it", () => {
    // A: every PMD entry of the first 1G names one PTE table. B: the same, except entry 5 names
    // its own copy with one page read-only.
    const build = (split: boolean): TestTables => {
      const t = new TestTables(GRANULE_4K, 0);
      const pmd = t.tableFor(0n, 2);
      const pte = t.alloc();
      for (let i = 0; i < 512; i++) t.mem.write64(pte + BigInt(i * 8), page(t, i));
      for (let i = 0; i < 512; i++) t.mem.write64(pmd + BigInt(i * 8), encodeTable({ nextTable: pte }, t.fmt));
      if (split) {
        const copy = t.alloc();
        for (let i = 0; i < 512; i++) t.mem.write64(copy + BigInt(i * 8), i === 7 ? page(t, i) | (1n << 7n) : page(t, i));
        t.mem.write64(pmd + 5n * 8n, encodeTable({ nextTable: copy }, t.fmt));
      }
      return t;
    };
    const a = build(false);
    const b = build(true);
    const r = diffTables(a.mem, regs(a.root), b.mem, regs(b.root), { halves: [1], bbmLevel: 0 });
    const va = HALF1 + 5n * 0x20_0000n + 7n * 0x1000n;
    expect(r.changes.filter((c) => c.rule !== "bbm.table-address").map((c) => [c.kind, c.va, c.size])).toEqual([
      ["permission-only", va, 0x1000n],
    ]);
    // And the re-pointed live table descriptor itself.
    expect(r.changes.filter((c) => c.rule === "bbm.table-address").map((c) => c.va)).toEqual([HALF1 + 5n * 0x20_0000n]);
  });
});
