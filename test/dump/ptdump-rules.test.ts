/**
 * ptdump's columns, level names, holes and headers as Linux arch/arm64/mm/ptdump.c prints them
 * (prot_bits[], pg_level[], note_page()), each pinned separately (mutation testing:
 * `npm run test:mutation -- ptdump`). The golden tests check whole kernels; these check the
 * tokens a whole-kernel dump may never exercise.
 */
import { describe, expect, it } from "vitest";
import { encodeLeaf, encodeTable } from "../../src/arch/descriptor.js";
import { GRANULE_4K, GRANULE_64K, type Granule } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR, type Regs } from "../../src/arch/registers.js";
import { PTDUMP_LINUX_4, PTDUMP_LINUX_6, type PtdumpFormat, ptdump, ptdumpReport } from "../../src/dump/ptdump.js";
import { compileRegs } from "../../src/walk/context.js";
import { TestTables } from "../helpers/tables.js";

function kernelRegs(root: bigint, vaBits: number, g: "4K" | "64K" = "4K", over: Partial<Regs> = {}): Regs {
  const tnsz = 64 - vaBits;
  return {
    ttbr0: 0n,
    ttbr1: root,
    tcr: encodeTcr({ t0sz: tnsz, t1sz: tnsz, tg0: g, tg1: g, ipsBits: 48 }),
    mair: LINUX_MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
    ...over,
  };
}

const BASE48 = 0xffff_0000_0000_0000n;

/** The ptdump line of one 4K page at the start of the 48-bit TTBR1 half with these fields. */
function pageLine(fields: Record<string, unknown>, format: PtdumpFormat = PTDUMP_LINUX_6): string {
  const t = new TestTables(GRANULE_4K, 0);
  t.map(0n, 3, { oa: 0x4000_0000n, ...fields });
  const out = ptdump(t.mem, kernelRegs(t.root, 48), { format, markers: [{ address: BASE48, name: "Linear Mapping start" }] });
  return out.split("\n")[1] ?? "";
}

describe("attribute columns (prot_bits[])", () => {
  const head = "0xffff000000000000-0xffff000000001000           4K PTE";
  it.each<[string, Record<string, unknown>, string]>([
    ["nothing set but valid", {}, "       RW x                          "],
    ["USR (AP[1])", { ap: 1 }, "   USR RW x                          "],
    ["ro (AP[2])", { ap: 2 }, "       ro x                          "],
    ["NX (PXN)", { pxn: true }, "       RW NX                         "],
    ["SHD only for Inner Shareable", { sh: 3 }, "       RW x  SHD                     "],
    ["no SHD for Outer Shareable", { sh: 2 }, "       RW x                          "],
    ["AF", { af: true }, "       RW x      AF                  "],
    ["NG", { nG: true }, "       RW x         NG               "],
    ["CON", { contiguous: true }, "       RW x            CON           "],
    ["UXN", { uxn: true }, "       RW x                    UXN   "],
    ["GP (BTI guarded page)", { gp: true }, "       RW x                        GP"],
  ])("%s", (_name, fields, cols) => {
    // AttrIndx 5 has no name in LINUX_6's table: the line ends after the columns.
    expect(pageLine({ attrIndx: 5, ...fields })).toBe(head + cols);
  });

  it("no GP column before v5.10", () => {
    expect(pageLine({ attrIndx: 5, gp: true, uxn: true }, PTDUMP_LINUX_4)).toBe(`${head}       RW x                    UXN`);
  });

  it("BLK for a block", () => {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0n, 2, { oa: 0x4000_0000n, attrIndx: 5 });
    const out = ptdump(t.mem, kernelRegs(t.root, 48), { markers: [{ address: BASE48, name: "L" }] });
    expect(out.split("\n")[1]).toBe("0xffff000000000000-0xffff000000200000           2M PMD       RW x                BLK       ");
  });

  // The memory-type name of each MAIR index (the kernel's MT_* numbering of that era).
  it.each<[PtdumpFormat, string, string[]]>([
    [PTDUMP_LINUX_6, "v5.11+", ["MEM/NORMAL", "MEM/NORMAL-TAGGED", "MEM/NORMAL-NC", "DEVICE/nGnRnE", "DEVICE/nGnRE"]],
    [PTDUMP_LINUX_4, "v4.x", ["DEVICE/nGnRnE", "DEVICE/nGnRE", "DEVICE/GRE", "MEM/NORMAL-NC", "MEM/NORMAL"]],
  ])("memory types, %s format", (format, _era, names) => {
    expect([0, 1, 2, 3, 4].map((i) => pageLine({ attrIndx: i }, format).split(" ").at(-1))).toEqual(names);
    expect(format.gp).toBe(format === PTDUMP_LINUX_6);
    expect(format.holes).toBe(format === PTDUMP_LINUX_6);
  });
});

describe("level names (pg_level[] with folded levels)", () => {
  // Folded levels take the PGD name: 4 levels PGD/PUD/PMD/PTE, 3 levels PGD/PMD/PTE, 2 levels
  // (64K, 42-bit) PGD/PTE.
  function names(g: Granule, vaBits: number, startLevel: number, leaves: [bigint, number][]): string[] {
    const t = new TestTables(g, startLevel);
    for (const [off, level] of leaves) t.map(off, level, { oa: 0x4000_0000n + off, af: true, attrIndx: 0 });
    const base = (1n << 64n) - (1n << BigInt(vaBits));
    const out = ptdump(t.mem, kernelRegs(t.root, vaBits, g.name === "64K" ? "64K" : "4K"), { markers: [{ address: base, name: "x" }] });
    return out
      .trimEnd()
      .split("\n")
      .slice(1)
      .filter((l) => / (ro|RW) /.test(l))
      .map((l) => (l.match(/ (PGD|P4D|PUD|PMD|PTE) /) ?? [])[1] ?? "?");
  }

  it("4 levels: PUD for a level-1 block, PMD for level 2, PTE for level 3", () => {
    expect(
      names(GRANULE_4K, 48, 0, [
        [0x4000_0000n, 1],
        [0x20_0000n, 2],
        [0x1000n, 3],
      ]),
    ).toEqual(["PTE", "PMD", "PUD"]);
  });

  it("3 levels: level 1 is the PGD", () => {
    expect(
      names(GRANULE_4K, 39, 1, [
        [0x4000_0000n, 1],
        [0x20_0000n, 2],
      ]),
    ).toEqual(["PMD", "PGD"]);
  });

  it("2 levels (64K, 42-bit): level 2 is the PGD", () => {
    expect(
      names(GRANULE_64K, 42, 2, [
        [0x2000_0000n, 2],
        [0x1_0000n, 3],
      ]),
    ).toEqual(["PTE", "PGD"]);
  });
});

describe("holes and headers (note_page)", () => {
  it("prints holes from v5.5 on, not before", () => {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0x20_0000n, 3, { oa: 0x4000_0000n, af: true, attrIndx: 0 });
    const v6 = ptdump(t.mem, kernelRegs(t.root, 48), { markers: [{ address: BASE48, name: "x" }] }).split("\n");
    expect(v6[1]).toBe("0xffff000000000000-0xffff000000200000           2M PMD");
    expect(v6.at(-2)).toBe("0xffff008000000000-0x0000000000000000      261632G PGD");
    const v4 = ptdump(t.mem, kernelRegs(t.root, 48), { format: PTDUMP_LINUX_4, markers: [{ address: BASE48, name: "x" }] }).split("\n");
    expect(v4).toEqual([
      "---[ x ]---",
      // v4.x: AttrIndx 0 is DEVICE/nGnRnE, and there is no GP column.
      "0xffff000000200000-0xffff000000201000           4K PTE       RW x      AF                DEVICE/nGnRnE",
      "",
    ]);
  });

  it("an empty 48-bit half is one 256T hole", () => {
    const t = new TestTables(GRANULE_4K, 0);
    expect(ptdump(t.mem, kernelRegs(t.root, 48))).toBe("---[ Kernel ]---\n0xffff000000000000-0x0000000000000000         256T PGD\n");
  });

  it("heads the output with the half's name when no marker is at or below the start", () => {
    const t = new TestTables(GRANULE_4K, 0);
    const out = ptdump(t.mem, kernelRegs(t.root, 48), {
      markers: [
        { address: 0x0000_1000_0000_0000n, name: "user" },
        { address: BASE48 + 0x1000_0000_0000n, name: "later" },
      ],
    });
    expect(out.split("\n").slice(0, 2)).toEqual(["---[ TTBR1 ]---", "0xffff000000000000-0xffff100000000000          16T PGD"]);
    expect(out).toContain("---[ later ]---");
    expect(out).not.toContain("user");
  });

  // A half whose TnSZ or base address already faults cannot be walked: no lines at all.
  it("prints nothing for a half that cannot be walked", () => {
    const t = new TestTables(GRANULE_4K, 0);
    expect(ptdump(t.mem, { ...kernelRegs(t.root, 48), tcr: encodeTcr({ t0sz: 16, t1sz: 60, tg0: "4K", tg1: "4K", ipsBits: 48 }) })).toBe(
      "",
    );
    expect(
      ptdump(t.mem, kernelRegs(0x100_0000_0000n, 48, "4K", { tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40 }) })),
    ).toBe("");
  });
});

describe("a range of the half ([start, end))", () => {
  const HALF1 = 0xffff_0000_0000_0000n;
  const rw = { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 };
  /** Pages, a block, holes, a uniform shared PTE table and a missing PTE table, under one PUD. */
  function tree(): TestTables {
    const t = new TestTables(GRANULE_4K, 0);
    for (let i = 1; i < 40; i++) t.map(BigInt(i) * 0x1000n, 3, { ...rw, ap: i % 7 === 0 ? 2 : 0, oa: 0x8000_0000n + BigInt(i) * 0x1000n });
    t.map(0x40_0000n, 2, { ...rw, oa: 0x9000_0000n });
    const pmd = t.tableFor(0n, 2);
    const shared = t.alloc();
    for (let i = 0; i < 512; i++)
      t.mem.write64(shared + BigInt(i * 8), encodeLeaf({ ...rw, oa: 0xa000_0000n + BigInt(i) * 0x1000n }, 3, t.fmt));
    for (const e of [5n, 6n, 9n]) t.mem.write64(pmd + 8n * e, encodeTable({ nextTable: shared }, t.fmt));
    // Two PTE tables that no memory backs (distinct, so neither is reported as shared).
    t.mem.write64(pmd + 8n * 12n, encodeTable({ nextTable: 0x7777_0000n }, t.fmt));
    t.mem.write64(pmd + 8n * 13n, encodeTable({ nextTable: 0x7778_0000n }, t.fmt));
    return t;
  }
  const UNITS = ["K", "M", "G", "T", "P", "E"];
  function sizeText(bytes: bigint): string {
    let d = bytes >> 10n;
    let u = 0;
    while (d % 1024n === 0n && u < UNITS.length - 1) {
      d >>= 10n;
      u++;
    }
    return `${d.toString().padStart(9, " ")}${UNITS[u]}`;
  }
  const hex = (v: bigint) => `0x${(v & ((1n << 64n) - 1n)).toString(16).padStart(16, "0")}`;
  /** The lines of the whole-half dump, each cut to [start, end) (the oracle). */
  function clipped(full: string, start: bigint, end: bigint): string[] {
    const out: string[] = [];
    for (const line of full.trimEnd().split("\n").slice(1)) {
      const m = line.match(/^0x([0-9a-f]{16})-0x([0-9a-f]{16}) +\d+[KMGTPE] (.*)$/);
      if (!m) continue;
      const a = BigInt(`0x${m[1]}`);
      let b = BigInt(`0x${m[2]}`);
      if (b === 0n) b = 1n << 64n;
      const lo = a > start ? a : start;
      const hi = b < end ? b : end;
      if (lo >= hi) continue;
      out.push(`${hex(lo)}-${hex(hi)}   ${sizeText(hi - lo)} ${m[3]}`);
    }
    return out;
  }

  it("prints exactly the whole dump's lines cut to the range", () => {
    const t = tree();
    const markers = [{ address: HALF1, name: "x" }];
    const full = ptdump(t.mem, kernelRegs(t.root, 48), { markers });
    const points = [
      0x0n,
      0x1800n,
      0x7000n,
      0x8000n,
      0x27fffn,
      0x40_0000n,
      0x50_0000n,
      0xa0_0000n,
      0xb0_1000n,
      0xc0_0000n,
      0x120_0000n,
      0x190_0000n,
      0x1c0_0000n,
      0x4000_0000n,
    ];
    for (const s of points) {
      for (const e of points) {
        if (e <= s) continue;
        const got = ptdump(t.mem, kernelRegs(t.root, 48), { markers, start: HALF1 + s, end: HALF1 + e });
        expect(got.trimEnd().split("\n").slice(1), `${s.toString(16)}-${e.toString(16)}`).toEqual(clipped(full, HALF1 + s, HALF1 + e));
      }
    }
  });

  it("reports the missing part of the range only", () => {
    const t = tree();
    const r = ptdumpReport(t.mem, kernelRegs(t.root, 48), { start: HALF1 + 0x190_0000n, end: HALF1 + 0x1b0_0000n });
    expect(r.missing).toEqual([
      { va: HALF1 + 0x190_0000n, size: 0x10_0000n, level: 3, table: 0x7777_0000n },
      { va: HALF1 + 0x1a0_0000n, size: 0x10_0000n, level: 3, table: 0x7778_0000n },
    ]);
    expect(r.text.split("\n").slice(1, 3)).toEqual([
      "0xffff000001900000-0xffff000001a00000           1M PTE MISSING table at PA 0x77770000 (not in the input)",
      "0xffff000001a00000-0xffff000001b00000           1M PTE MISSING table at PA 0x77780000 (not in the input)",
    ]);
  });
});

describe("SHARED lines for a subtree that is not one run", () => {
  const HALF1 = 0xffff_0000_0000_0000n;
  const rw = { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 };
  function tree() {
    const t = new TestTables(GRANULE_4K, 0);
    const pmd = t.tableFor(0n, 2);
    const a = t.alloc();
    const b = t.alloc();
    for (const pte of [a, b])
      for (let i = 0; i < 512; i += 2) t.mem.write64(pte + BigInt(i * 8), encodeLeaf({ ...rw, oa: BigInt(i) * 0x1000n }, 3, t.fmt));
    for (const e of [0n, 1n, 2n]) t.mem.write64(pmd + 8n * e, encodeTable({ nextTable: a }, t.fmt));
    t.mem.write64(pmd + 8n * 3n, encodeTable({ nextTable: b }, t.fmt));
    t.mem.write64(pmd + 8n * 4n, encodeTable({ nextTable: a }, t.fmt));
    return { t, a };
  }

  it("one line for consecutive entries naming the same table, broken by another table", () => {
    const { t, a } = tree();
    const r = ptdumpReport(t.mem, kernelRegs(t.root, 48), { markers: [{ address: HALF1, name: "x" }] });
    const sharedLines = r.text.split("\n").filter((l) => l.includes("SHARED"));
    expect(sharedLines).toEqual([
      `0xffff000000200000-0xffff000000600000           4M PMD SHARED table at PA 0x${a.toString(16)} (same as 0xffff000000000000-0xffff000000200000, shown above)`,
      `0xffff000000800000-0xffff000000a00000           2M PMD SHARED table at PA 0x${a.toString(16)} (same as 0xffff000000000000-0xffff000000200000, shown above)`,
    ]);
    expect(r.shared).toEqual([
      { va: HALF1 + 0x20_0000n, size: 0x40_0000n, level: 2, table: a, sameAsVa: HALF1, merged: false },
      { va: HALF1 + 0x80_0000n, size: 0x20_0000n, level: 2, table: a, sameAsVa: HALF1, merged: false },
    ]);
    // The different table (entry 3) is printed in full: 256 mapped pages alternating with holes.
    expect(r.text).toContain("0xffff000000600000-0xffff000000601000           4K PTE");
  });

  it("a marker inside an entry ends the SHARED run before it, and that entry is printed in full", () => {
    const { t, a } = tree();
    const r = ptdumpReport(t.mem, kernelRegs(t.root, 48), {
      markers: [
        { address: HALF1, name: "x" },
        { address: HALF1 + 0x40_3000n, name: "y" },
      ],
    });
    expect(r.text.split("\n").filter((l) => l.includes("SHARED"))[0]).toBe(
      `0xffff000000200000-0xffff000000400000           2M PMD SHARED table at PA 0x${a.toString(16)} (same as 0xffff000000000000-0xffff000000200000, shown above)`,
    );
    expect(r.text).toContain("---[ y ]---\n0xffff000000403000-");
    // A range that ends inside an entry prints that entry's part in full, not as SHARED.
    const cut = ptdumpReport(t.mem, kernelRegs(t.root, 48), { start: HALF1, end: HALF1 + 0x30_0000n });
    expect(cut.text).not.toContain("SHARED");
    expect(cut.text.trimEnd().split("\n").at(-1)).toMatch(/^0xffff0000002ff000-0xffff000000300000 +4K PTE$/);
  });
});

describe("more note_page details", () => {
  const HALF1 = 0xffff_0000_0000_0000n;
  it("heads a TTBR0 dump with TTBR0 when no marker is at or below its start", () => {
    const t = new TestTables(GRANULE_4K, 0);
    const r = { ...kernelRegs(0n, 48), ttbr0: t.root };
    expect(ptdump(t.mem, r, { start: 0n, markers: [] }).split("\n")[0]).toBe("---[ TTBR0 ]---");
  });

  it("a marker exactly at the end of the range is not printed", () => {
    const t = new TestTables(GRANULE_4K, 0);
    const out = ptdump(t.mem, kernelRegs(t.root, 48), {
      start: HALF1,
      end: HALF1 + 0x20_0000n,
      markers: [
        { address: HALF1, name: "a" },
        { address: HALF1 + 0x20_0000n, name: "b" },
      ],
    });
    expect(out).toBe("---[ a ]---\n0xffff000000000000-0xffff000000200000           2M PGD\n");
  });

  // pgd_none_or_clear_bad(): with 4 levels, a top-level entry that is not a table is a hole.
  it("a non-table top-level entry of a 4-level walk is a hole", () => {
    const t = new TestTables(GRANULE_4K, 0);
    t.mem.write64(t.root, 0x4000_0000n | 0x401n);
    expect(ptdump(t.mem, kernelRegs(t.root, 48)).split("\n")[1]).toBe("0xffff000000000000-0x0000000000000000         256T PGD");
  });

  it("takes a compiled register context as well as registers", () => {
    const t = new TestTables(GRANULE_4K, 0);
    expect(ptdump(t.mem, compileRegs(kernelRegs(t.root, 48)))).toBe(ptdump(t.mem, kernelRegs(t.root, 48)));
  });

  it("an empty 52-bit half (64K) is one 4P hole", () => {
    const t = new TestTables(GRANULE_64K, 1);
    const r = { ...kernelRegs(t.root, 52, "64K"), tcr: encodeTcr({ t0sz: 12, t1sz: 12, tg0: "64K", tg1: "64K", ipsBits: 52 }) };
    expect(ptdump(t.mem, r).split("\n")[1]).toBe("0xfff0000000000000-0x0000000000000000           4P PGD");
  });
});
