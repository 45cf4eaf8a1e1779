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
import { AF, KVM_TABLES_TEXT, kvmTables, NORMAL_WB, R, ROOT, tableMemory } from "../helpers/kvm-stage2-tables.js";

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
