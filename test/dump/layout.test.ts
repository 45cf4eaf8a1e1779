/**
 * Kernel layouts and markers (arch/arm64/include/asm/memory.h, pgtable.h, fixmap.h per version).
 */
import { describe, expect, it } from "vitest";
import { fixmapSlots, linuxLayout, parseKernelVersion, regionOf } from "../../src/dump/layout.js";

const hx = (v: bigint): string => `0x${v.toString(16)}`;

describe("linuxLayout", () => {
  it("6.1, 4K, 48-bit reproduces the markers verified byte-for-byte against the 6.1 fixture", () => {
    // The fixture kernel had no GHES/SDEI: 1031 permanent fixmap slots (FIXADDR_SIZE 0x407000).
    const cfg = { apeiGhes: false, sdei: false, kpti: true, relocatable: true };
    expect(fixmapSlots([6, 1], 12, cfg).permanent * 4096).toBe(0x407000);
    const l = linuxLayout({ version: [6, 1], pageShift: 12, vaBits: 48, config: cfg });
    expect(l.markers).toEqual(linuxLayout({ version: [6, 1], pageShift: 12, vaBits: 48, fixmapSize: 0x407000n }).markers);
  });

  it("6.12 (v6.9+ layout), 16K pages, 52-bit kernel on a 47-bit CPU", () => {
    const l = linuxLayout({ version: [6, 12], pageShift: 14, vaBits: 52, vaBitsActual: 47 });
    // PAGE_OFFSET = -(1 << 47); PAGE_END = _PAGE_END(VA_BITS_MIN = 47) = -(1 << 46).
    expect(hx(l.pageOffset)).toBe("0xffff800000000000");
    expect(hx(l.pageEnd)).toBe("0xffffc00000000000");
    // Modules 2G, vmemmap ends at -1G, PCI I/O at VMEMMAP_END + 8M, fixmap below -8M.
    expect(hx(l.modulesEnd)).toBe("0xffffc00080000000");
    expect(hx(l.vmemmapEnd)).toBe("0xffffffffc0000000");
    expect(hx(l.pciIoStart)).toBe("0xffffffffc0800000");
    expect(hx(l.fixmapEnd)).toBe("0xffffffffff800000");
    // VMEMMAP_SIZE = ((PAGE_END - PAGE_OFFSET(52)) >> 14) * 64.
    const vmemmapSize = ((0xffffc00000000000n - 0xfff0000000000000n) >> 14n) * 64n;
    // VA_BITS > vabits_actual: the head of vmemmap (struct pages below _PAGE_OFFSET(47)) is unused;
    // ptdump starts vmemmap at virt_to_page(_PAGE_OFFSET(vabits_actual)), vmalloc ends 8M below.
    const unused = ((0xffff800000000000n - 0xfff0000000000000n) >> 14n) * 64n;
    expect(l.vmemmapStart).toBe(0xffffffffc0000000n - vmemmapSize + unused);
    expect(l.vmallocEnd).toBe(l.vmemmapStart - 0x800000n);
    expect(l.markers.map((m) => m.name)).toEqual([
      "Linear Mapping start",
      "Linear Mapping end",
      "Modules start",
      "Modules end",
      "vmalloc() area",
      "vmalloc() end",
      "vmemmap start",
      "vmemmap end",
      "PCI I/O start",
      "PCI I/O end",
      "Fixmap start",
      "Fixmap end",
    ]);
    for (let i = 1; i < l.markers.length; i++) expect((l.markers[i]?.address ?? 0n) >= (l.markers[i - 1]?.address ?? 0n)).toBe(true);
    expect(regionOf(l, 0xffff800000001000n)).toBe("linear");
    expect(regionOf(l, l.fixmapEnd - 0x1000n)).toBe("fixmap");
  });

  it("6.12 Debian fixmap: 985 slots with 4K pages (GHES, SDEI, KPTI, RELOCATABLE)", () => {
    // FIX_HOLE, FDT window 514, EARLYCON, TEXT_POKE0, 4 GHES, 4 trampoline = 525 permanent;
    // 7 early_ioremap slots of 65 pages; FIX_PTE..FIX_PGD (5).
    expect(fixmapSlots([6, 12], 12, { apeiGhes: true, sdei: true, kpti: true, relocatable: true })).toEqual({ permanent: 525, total: 985 });
  });

  it("parses kernel releases", () => {
    expect(parseKernelVersion("6.1.0-56-arm64")).toEqual([6, 1]);
    expect(parseKernelVersion("6.12.117+deb12-arm64-16k")).toEqual([6, 12]);
    expect(parseKernelVersion("linux")).toBeUndefined();
  });
});
