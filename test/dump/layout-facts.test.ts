/**
 * The layout facts vmsa reads from a kernel config and from kernel symbols, and the layout model's
 * fixmap and PAGE_END rules (arch/arm64/include/asm/fixmap.h, memory.h of v6.1).
 */
import { describe, expect, it } from "vitest";
import { kconfigFacts } from "../../src/dump/kconfig.js";
import { fixmapSlots, linuxLayout } from "../../src/dump/layout.js";
import { configFromSymbols, parseSystemMap } from "../../src/dump/system-map.js";

const CONFIG = `#
# Automatically generated file; DO NOT EDIT.
# Linux/arm64 6.1.192 Kernel Configuration
#
CONFIG_ARM64=y
# CONFIG_ARM64_4K_PAGES is not set
CONFIG_ARM64_16K_PAGES=y
CONFIG_ARM64_VA_BITS_47=y
CONFIG_ARM64_VA_BITS=47
CONFIG_UNMAP_KERNEL_AT_EL0=y
# CONFIG_RELOCATABLE is not set
CONFIG_ARM_SDE_INTERFACE=y
# CONFIG_ACPI_APEI_GHES is not set
`;

describe("kernel config facts", () => {
  it("reads the version from the header, the page size, VA_BITS and the fixmap options", () => {
    const f = kconfigFacts(CONFIG, "test");
    expect(f.release).toBe("6.1.192");
    expect(f.version).toEqual([6, 1]);
    expect(f.pageShift).toBe(14);
    expect(f.vaBits).toBe(47);
    // "# CONFIG_X is not set" is off, as is an absent option.
    expect(f.config).toEqual({ apeiGhes: false, sdei: true, kpti: true, relocatable: false });
    expect(f.kasan).toBe(false);
  });

  it("refuses a config that is not arm64 or has no VA size, naming the source", () => {
    expect(() => kconfigFacts("CONFIG_X86_64=y\n", "--kernel-config x")).toThrow(/--kernel-config x: not an arm64 kernel config/);
    expect(() => kconfigFacts("CONFIG_ARM64_4K_PAGES=y\n", "f")).toThrow(/f: CONFIG_ARM64_VA_BITS=\(missing\)/);
    expect(() => kconfigFacts("hello\n", "f")).toThrow(/f: not a kernel config/);
  });
});

describe("System.map facts", () => {
  it("parses ADDRESS TYPE NAME lines and infers the fixmap options from the symbols present", () => {
    const syms = parseSystemMap(
      "ffff800008000000 T _text\nffff80000801d2c0 t ghes_probe\nffff800008a00000 T __entry_tramp_text_start\nffff800009001000 d address_markers\n",
      "map",
    );
    expect(syms.get("address_markers")).toBe(0xffff800009001000n);
    expect(configFromSymbols(syms)).toEqual({ apeiGhes: true, sdei: false, kpti: true, relocatable: false });
  });

  it("refuses a line that is not ADDRESS TYPE NAME with its line number", () => {
    expect(() => parseSystemMap("ffff800008000000 T _text\nnot a symbol line\n", "map")).toThrow(/map:2: expected "ADDRESS TYPE NAME"/);
  });
});

describe("layout model rules", () => {
  it("6.1 permanent fixmap slots: FIX_HOLE, FDT window (MAX_FDT_SIZE + 2M), EARLYCON, TEXT_POKE0, GHES/SDEI, trampoline", () => {
    // 4K: 1 + 1024 + 2 = 1027; GHES with SDEI +4; KPTI +3, +1 with RELOCATABLE (FIX_ENTRY_TRAMP_TEXT4).
    expect(fixmapSlots([6, 1], 12, { apeiGhes: true, sdei: true, kpti: true, relocatable: true }).permanent).toBe(1035);
    expect(fixmapSlots([6, 1], 12, { apeiGhes: false, sdei: true, kpti: true, relocatable: false }).permanent).toBe(1030);
    // SDEI slots exist only inside the GHES block.
    expect(fixmapSlots([6, 1], 12, { apeiGhes: false, sdei: true, kpti: false, relocatable: false }).permanent).toBe(1027);
    // 16K: the 4M FDT window is 256 pages; 64K: 64.
    expect(fixmapSlots([6, 1], 14, { apeiGhes: true, sdei: true, kpti: true, relocatable: true }).permanent).toBe(1 + 256 + 2 + 4 + 4);
    expect(fixmapSlots([6, 1], 16, { apeiGhes: false, sdei: false, kpti: true, relocatable: false }).permanent).toBe(1 + 64 + 2 + 3);
  });

  it("64K/52-bit 6.1: PAGE_END and the modules are at _PAGE_END(VA_BITS_MIN = 48), PAGE_OFFSET at -(1 << 52)", () => {
    // memory.h: PAGE_OFFSET = _PAGE_OFFSET(VA_BITS); MODULES_VADDR = PAGE_END = _PAGE_END(VA_BITS_MIN).
    const l = linuxLayout({ version: [6, 1], pageShift: 16, vaBits: 52 });
    expect(l.markers[0]).toEqual({ address: 0xfff0000000000000n, name: "Linear Mapping start" });
    expect(l.markers[1]).toEqual({ address: 0xffff800000000000n, name: "Linear Mapping end" });
    expect(l.modulesStart).toBe(0xffff800000000000n);
  });
});
