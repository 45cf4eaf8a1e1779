import { describe, expect, it } from "vitest";
import { linuxLayout } from "../../src/dump/layout.js";
import { Fixmap, fixmapSlots } from "../../src/kernel/fixmap.js";
import { kernelGeometry, kernelLevelName } from "../../src/kernel/geometry.js";
import { kaslrPlacement, kernelLayout, layoutMarkers } from "../../src/kernel/layout.js";
import { rig } from "./helpers.js";

describe("kernel geometry (pgtable-hwdef.h, Kconfig CONT_*_SHIFT defaults; linux-arm64-mm.md 1.2)", () => {
  it("matches the reference table for each granule", () => {
    const g4 = kernelGeometry({ granule: "4K", vaBits: 48 });
    expect([g4.PMD_SIZE, g4.CONT_PTES, g4.CONT_PTE_SIZE, g4.CONT_PMDS, g4.CONT_PMD_SIZE, g4.pudSectSupported]).toEqual([
      2 ** 21,
      16,
      2 ** 16,
      16,
      2 ** 25,
      true,
    ]);
    const g16 = kernelGeometry({ granule: "16K", vaBits: 47 });
    expect([g16.PMD_SIZE, g16.CONT_PTES, g16.CONT_PTE_SIZE, g16.CONT_PMDS, g16.CONT_PMD_SIZE, g16.pudSectSupported]).toEqual([
      2 ** 25,
      128,
      2 ** 21,
      32,
      2 ** 30,
      false,
    ]);
    const g64 = kernelGeometry({ granule: "64K", vaBits: 48 });
    expect([g64.PMD_SIZE, g64.CONT_PTES, g64.CONT_PTE_SIZE, g64.CONT_PMDS, g64.CONT_PMD_SIZE, g64.pudSectSupported]).toEqual([
      2 ** 29,
      32,
      2 ** 21,
      32,
      2 ** 34,
      false,
    ]);
  });

  it("levels follow ARM64_HW_PGTABLE_LEVELS and fold names into PGD", () => {
    const cases: ["4K" | "16K" | "64K", number, number][] = [
      ["4K", 39, 3],
      ["4K", 48, 4],
      ["4K", 52, 5],
      ["16K", 36, 2],
      ["16K", 47, 3],
      ["16K", 48, 4],
      ["64K", 42, 2],
      ["64K", 48, 3],
      ["64K", 52, 3],
    ];
    for (const [granule, vaBits, levels] of cases) expect(kernelGeometry({ granule, vaBits }).levels, `${granule}/${vaBits}`).toBe(levels);
    const g39 = kernelGeometry({ granule: "4K", vaBits: 39 });
    // With 3 levels the PUD is folded: level 1 is the PGD (ptdump prints "PGD" for 1 GiB blocks).
    expect([1, 2, 3].map((l) => kernelLevelName(g39, l))).toEqual(["PGD", "PMD", "PTE"]);
    // CONT_PMD only with at least 3 levels (d27cfa1fc823).
    expect(kernelGeometry({ granule: "64K", vaBits: 42 }).contPmdSupported).toBe(false);
  });

  it("refuses VA sizes Linux does not support, naming the field", () => {
    expect(() => kernelGeometry({ granule: "4K", vaBits: 42 })).toThrow(/vaBits: 42/);
  });

  it("SEGMENT_ALIGN is 64K, 2M with DEBUG_ALIGN_RODATA (memory.h)", () => {
    expect(kernelGeometry({ granule: "4K", vaBits: 48 }).SEGMENT_ALIGN).toBe(65536);
    expect(kernelGeometry({ granule: "4K", vaBits: 48 }, { debugAlignRodata: true }).SEGMENT_ALIGN).toBe(2 ** 21);
  });
});

describe("kernel layout and fixmap (memory.h, fixmap.h)", () => {
  it("reproduces the 6.1 fixture's markers (4K, 48-bit: FIXADDR_SIZE 0x407000)", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    const layout = kernelLayout(r.k.geo);
    const fm = new Fixmap(r.k, layout);
    expect(layout.FIXADDR_TOP - fm.FIXADDR_START).toBe(0x407000n);
    expect(layoutMarkers(layout, fm.FIXADDR_START)).toEqual(
      linuxLayout({ version: [6, 1], pageShift: 12, vaBits: 48, fixmapSize: 0x407000n }).markers,
    );
  });

  it("slots: FIX_HOLE is 0, FIX_PTE..FIX_PGD follow the btmap slots, addresses grow down", () => {
    const s = fixmapSlots(4096);
    expect(s.FIX_HOLE).toBe(0);
    expect([s.FIX_PMD - s.FIX_PTE, s.FIX_PUD - s.FIX_PMD, s.FIX_PGD - s.FIX_PUD]).toEqual([1, 1, 1]);
    expect(s.FIX_PTE).toBe(s.FIX_BTMAP_BEGIN + 1);
    expect(s.FIX_BTMAP_BEGIN - s.FIX_BTMAP_END + 1).toBe(7 * 64);
    const r = rig({ granule: "4K", vaBits: 48 });
    const fm = new Fixmap(r.k, kernelLayout(r.k.geo));
    expect(fm.virt(2) - fm.virt(3)).toBe(4096n);
  });

  it("KASLR keeps VA ≡ PA mod 2 MiB and lands in the middle of vmalloc (kaslr_early.c)", () => {
    for (const [granule, vaBits] of [
      ["4K", 48],
      ["16K", 47],
      ["64K", 52],
    ] as const) {
      const geo = kernelGeometry({ granule, vaBits });
      const l = kernelLayout(geo);
      for (const seed of [1n, 0xdeadbeefcafef00dn, 0xffff_ffff_ffff_ffffn, 0x1234_5678_9abc_def0n]) {
        const pa = 0x4020_0000n + 0x3000n * (seed & 0xffn);
        const p = kaslrPlacement(geo, l, seed, pa);
        expect(p.enabled).toBe(true);
        expect((p.imageVa - pa) % (2n * 1024n * 1024n)).toBe(0n);
        expect(p.imageVa > l.VMALLOC_START && p.imageVa < l.VMALLOC_END).toBe(true);
        expect(p.nG).toBe(true);
      }
      expect(kaslrPlacement(geo, l, 5n, 0x4020_0000n, { nokaslr: true }).imageVa).toBe(l.KIMAGE_VADDR);
    }
  });
});
