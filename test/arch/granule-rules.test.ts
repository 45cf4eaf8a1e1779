/**
 * Granule rules that a wrong constant or a wrong comparison in arch/granule.ts would break, each
 * pinned by the architecture rule it encodes (mutation testing: `npm run test:mutation -- granule`).
 */
import { describe, expect, it } from "vitest";
import {
  blockAllowed,
  contiguousEntries,
  contiguousShift,
  entriesAt,
  formatSize,
  GRANULE_4K,
  GRANULE_16K,
  GRANULE_64K,
  GRANULES,
  type Granule,
  granuleByName,
  granuleBySize,
  indexBitsAt,
  levelShift,
} from "../../src/arch/granule.js";

describe("the three translation granules", () => {
  // Arm ARM DDI0487 D8.2 "Translation granule": VMSAv8-64 defines exactly the 4KB, 16KB and
  // 64KB granules; each table is one granule of 8-byte descriptors, so a full level resolves
  // log2(granule) - 3 bits. Tests elsewhere loop over GRANULES, so an empty list would make
  // them vacuous: pin its contents here.
  it("lists exactly 4K, 16K and 64K, each with its size, log2 and per-level stride", () => {
    expect(GRANULES.map((g) => [g.name, g.size, g.shift, g.stride])).toEqual([
      ["4K", 4096, 12, 9],
      ["16K", 16384, 14, 11],
      ["64K", 65536, 16, 13],
    ]);
    for (const g of GRANULES) {
      expect(2 ** g.shift).toBe(g.size);
      expect(g.stride).toBe(g.shift - 3);
    }
  });

  it("finds a granule by its size in bytes and by the names people write", () => {
    expect(granuleBySize(4096)).toBe(GRANULE_4K);
    expect(granuleBySize(16384)).toBe(GRANULE_16K);
    expect(granuleBySize(65536)).toBe(GRANULE_64K);
    // 8KB and 32KB are not VMSAv8-64 granules (D8.2).
    expect(granuleBySize(8192)).toBeUndefined();
    expect(granuleBySize(32768)).toBeUndefined();
    expect(granuleByName("4K")).toBe(GRANULE_4K);
    expect(granuleByName("16k")).toBe(GRANULE_16K);
    expect(granuleByName("64KB")).toBe(GRANULE_64K);
    expect(granuleByName("64KiB")).toBe(GRANULE_64K);
    expect(granuleByName("16384")).toBe(GRANULE_16K);
    expect(granuleByName("65536")).toBe(GRANULE_64K);
    expect(granuleByName("8K")).toBeUndefined();
    expect(granuleByName("")).toBeUndefined();
    expect(granuleByName("4")).toBeUndefined();
    // Only a trailing "B" or "iB" unit suffix is dropped.
    expect(granuleByName("4BK")).toBeUndefined();
    expect(granuleByName("6I4K")).toBeUndefined();
    expect(granuleByName("64KBB")).toBeUndefined();
  });
});

describe("table sizes per level", () => {
  // D8.2 / ASL AArch64.S1StartLevel: the start-level table resolves only the IA bits left above
  // the next level, so it may hold fewer than a granule's worth of entries (concatenation aside).
  it.each<[Granule, number, number, number, number]>([
    // granule, IA bits, level, index bits, entries
    [GRANULE_4K, 48, 0, 9, 512],
    [GRANULE_4K, 48, 3, 9, 512],
    [GRANULE_4K, 39, 1, 9, 512],
    [GRANULE_4K, 40, 0, 1, 2],
    [GRANULE_4K, 52, -1, 4, 16], // DS=1, 52-bit VA: 16-entry level -1 table
    [GRANULE_16K, 48, 0, 1, 2], // 16K 48-bit VA: 2-entry level-0 table
    [GRANULE_16K, 47, 1, 11, 2048],
    [GRANULE_16K, 36, 2, 11, 2048],
    [GRANULE_64K, 48, 1, 6, 64], // 64K 48-bit VA: 64-entry level-1 table
    [GRANULE_64K, 52, 1, 10, 1024],
    [GRANULE_64K, 42, 2, 13, 8192],
    [GRANULE_64K, 42, 3, 13, 8192],
  ])("%s granule, %i-bit IA, level %i: %i index bits, %i entries", (g, iaBits, level, bits, entries) => {
    expect(indexBitsAt(g, level, iaBits)).toBe(bits);
    expect(entriesAt(g, level, iaBits)).toBe(entries);
    // Every level below the start level is a full table.
    if (level < 3) expect(entriesAt(g, level + 1, iaBits)).toBe(g.size / 8);
  });

  it("maps 2^(shift + stride*(3-level)) bytes per entry", () => {
    expect(levelShift(GRANULE_4K, 3)).toBe(12);
    expect(levelShift(GRANULE_4K, -1)).toBe(48);
    expect(levelShift(GRANULE_16K, 1)).toBe(36);
    expect(levelShift(GRANULE_64K, 1)).toBe(42);
  });
});

describe("where blocks are allowed", () => {
  // ASL AArch64.BlockDescSupported (Arm ARM DDI0487 D8.3.1, "Block descriptor"): 4K blocks at
  // levels 1 and 2, and level 0 only with TCR.DS=1 (FEAT_LPA2); 16K blocks at level 2, and level 1
  // only with DS=1; 64K blocks at level 2, and level 1 only with a 52-bit PA (FEAT_LPA). Level 3
  // and level -1 never hold blocks. The whole truth table, so that swapping DS for the PA size or
  // widening any level is noticed.
  const params = [
    { ds: false, pa52: false },
    { ds: true, pa52: false },
    { ds: false, pa52: true },
    { ds: true, pa52: true },
  ];
  const expected = (g: Granule, level: number, ds: boolean, pa52: boolean): boolean => {
    if (level === 2) return true;
    if (g === GRANULE_4K) return level === 1 || (level === 0 && ds);
    if (g === GRANULE_16K) return level === 1 && ds;
    return level === 1 && pa52;
  };
  for (const g of GRANULES) {
    it(`${g.name}: levels -1..3 under every DS / PA-size combination`, () => {
      for (const p of params) {
        const got = [-1, 0, 1, 2, 3].map((l) => blockAllowed(g, l, p));
        expect(got, JSON.stringify(p)).toEqual([-1, 0, 1, 2, 3].map((l) => expected(g, l, p.ds, p.pa52)));
      }
    });
  }

  it("16K level 1 needs DS, not a 52-bit PA; 64K level 1 needs a 52-bit PA, not DS", () => {
    expect(blockAllowed(GRANULE_16K, 1, { ds: false, pa52: true })).toBe(false);
    expect(blockAllowed(GRANULE_16K, 1, { ds: true, pa52: false })).toBe(true);
    expect(blockAllowed(GRANULE_64K, 1, { ds: true, pa52: false })).toBe(false);
    expect(blockAllowed(GRANULE_64K, 1, { ds: false, pa52: true })).toBe(true);
    expect(blockAllowed(GRANULE_16K, 0, { ds: true, pa52: true })).toBe(false);
    expect(blockAllowed(GRANULE_64K, 0, { ds: true, pa52: true })).toBe(false);
  });
});

describe("contiguous groups", () => {
  // ASL ContiguousSize / Arm ARM DDI0487 D8.7 "The Contiguous bit": 4K: 16 entries at levels 1-3;
  // 16K: 32 at level 2, 128 at level 3; 64K: 32 at levels 2 and 3. At every other level the bit
  // is IGNORED (0 here), including 4K level 0 and 16K/64K level 1 and below.
  it.each<[Granule, number[], number[]]>([
    [GRANULE_4K, [0, 0, 16, 16, 16], [0, 0, 4, 4, 4]],
    [GRANULE_16K, [0, 0, 0, 32, 128], [0, 0, 0, 5, 7]],
    [GRANULE_64K, [0, 0, 0, 32, 32], [0, 0, 0, 5, 5]],
  ])("%s granule: group sizes and their log2 at levels -1..3", (g, entries, shifts) => {
    expect([-1, 0, 1, 2, 3].map((l) => contiguousEntries(g, l))).toEqual(entries);
    expect([-1, 0, 1, 2, 3].map((l) => contiguousShift(g, l))).toEqual(shifts);
  });

  it("a 4K level-3 group covers 64KB, a 16K level-3 group 2MB, a 64K level-2 group 16GB", () => {
    expect(2 ** (levelShift(GRANULE_4K, 3) + contiguousShift(GRANULE_4K, 3))).toBe(64 * 1024);
    expect(2 ** (levelShift(GRANULE_16K, 3) + contiguousShift(GRANULE_16K, 3))).toBe(2 * 1024 * 1024);
    expect(2 ** (levelShift(GRANULE_64K, 2) + contiguousShift(GRANULE_64K, 2))).toBe(16 * 2 ** 30);
  });
});

describe("sizes printed as the kernel prints them", () => {
  // Linux arch/arm64/mm/ptdump.c prints sizes in the largest unit that divides them exactly.
  it.each([
    [4096, "4K"],
    [2 * 2 ** 20, "2M"],
    [2 ** 30, "1G"],
    [512 * 2 ** 30, "512G"],
    [128 * 2 ** 40, "128T"],
    [2 ** 50, "1P"],
    [2 ** 60, "1E"],
    [2 ** 70, "1024E"],
    [1536, "1536"],
    [3 * 2 ** 20 + 4096, "3076K"],
    [1023, "1023"],
    [1024, "1K"],
    [0, "0"],
  ])("%i bytes is %s", (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});
