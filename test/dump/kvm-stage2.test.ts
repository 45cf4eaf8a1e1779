/**
 * KVM's stage2_page_tables text (arch/arm64/kvm/ptdump.c over arm64 ptdump's note_page()) replayed
 * from hand-written stage-2 tables: the expected lines are typed in from the kernel's rules (see
 * src/dump/kvm-stage2.ts), not computed.
 */
import { describe, expect, it } from "vitest";
import { descriptorFormat } from "../../src/arch/descriptor.js";
import { GRANULE_4K, levelShift } from "../../src/arch/granule.js";
import { kvmIpaRangeText, kvmStage2LevelsText, kvmStage2PageTables } from "../../src/dump/kvm-stage2.js";
import type { RangeGeometry } from "../../src/walk/range.js";
import { AF, KVM_TABLES_TEXT, kvmTables, L2, L3, NORMAL_WB, put, R, ROOT, tableMemory, W, XN } from "../helpers/kvm-stage2-tables.js";

/**
 * KVM's default VM: 40-bit IPA, 4K granule, start level 1 with two concatenated level-1 tables
 * (Arm ARM D8.2.4 / R_SRKBC: 10 bits resolved at level 1 need 2 tables), 48-bit output.
 */
function geometry40(base: number): RangeGeometry {
  const shiftAt = [-1, 0, 1, 2, 3].map((l) => levelShift(GRANULE_4K, l));
  return {
    fmt: descriptorFormat(GRANULE_4K, { oaBits: 48 }),
    gShift: 12,
    iaBits: 40,
    startLevel: 1,
    shiftAt,
    bitsAt: [0, 0, 10, 9, 9],
    base,
    paLimit: 2 ** 48,
    hpd: true,
    tnszFault: false,
    baseFault: false,
  };
}

describe("KVM stage2_page_tables", () => {
  it("prints every run with KVM's level names and columns, holes at their own level, across concatenated start tables", () => {
    const r = kvmStage2PageTables(kvmTables(), geometry40(Number(ROOT)));
    expect(r.text).toBe(KVM_TABLES_TEXT);
    expect(r.missing).toEqual([]);
  });

  it("a text longer than seq_file's first page is the second show pass, begun in the state the first ended in", () => {
    // 60 pages mapped at every other page: ~120 lines, more than 4096 bytes.
    const mem = tableMemory();
    put(mem, ROOT, 1, L2 | 3n);
    put(mem, L2, 0, L3 | 3n);
    for (let i = 0; i < 120; i += 2) put(mem, L3, i, (0x6000_0000n + BigInt(i) * 0x1000n) | AF | R | W | NORMAL_WB | 3n | XN);
    const g = geometry40(Number(ROOT));
    const one = kvmStage2PageTables(mem, g, { seqFile: false });
    expect(one.passes).toBe(1);
    const lines = one.text.split("\n");
    expect(lines.slice(0, 3)).toEqual([
      "---[ Guest IPA ]---",
      "0x0000000000000000-0x0000000040000000           1G 1",
      "0x0000000040000000-0x0000000040001000           4K 3   R W X AF    ",
    ]);
    expect(one.text.length).toBeGreaterThanOrEqual(4096);
    expect(one.text.length).toBeLessThan(8192);
    const kernel = kvmStage2PageTables(mem, g);
    expect(kernel.passes).toBe(2);
    // The first pass ended in the level-1 hole from 0x80000000 (never printed); the second pass
    // notes IPA 0 (a level-1 hole: no change, no line) and prints that stale run at the first
    // change, its size being (0x40000000 - 0x80000000) mod 2^64 = 2^64 - 1G, in G.
    expect(kernel.text.split("\n")).toEqual(["0x0000000080000000-0x0000000040000000   17179869183G 1", ...lines.slice(2)]);
  });

  it("ipa_range is %2u and stage2_levels %1d (4 - start level)", () => {
    expect(kvmIpaRangeText(geometry40(0))).toBe("40\n");
    expect(kvmIpaRangeText({ iaBits: 8 })).toBe(" 8\n");
    expect(kvmStage2LevelsText(geometry40(0))).toBe("3\n");
    expect(kvmStage2LevelsText({ startLevel: 0 })).toBe("4\n");
  });

  it("a table missing from the input is a MISSING line of its own and is reported, never a hole", () => {
    const mem = tableMemory();
    mem.write64(ROOT + 8n, 0x5000_0000n | 3n); // level-2 table not in memory
    mem.write64(ROOT + 16n, 0x8000_0000n | AF | R | NORMAL_WB | 1n);
    const r = kvmStage2PageTables(mem, geometry40(Number(ROOT)));
    expect(r.text).toBe(
      [
        "---[ Guest IPA ]---",
        "0x0000000000000000-0x0000000040000000           1G 1",
        "0x0000000040000000-0x0000000080000000           1G 2 MISSING table at PA 0x50000000 (not in the input)",
        "0x0000000080000000-0x00000000c0000000           1G 1   R     AF BLK",
        "",
      ].join("\n"),
    );
    expect(r.missing).toEqual([{ ipa: 0x4000_0000n, size: 0x4000_0000n, level: 2, table: 0x5000_0000n }]);
  });
});
