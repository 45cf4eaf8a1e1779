/**
 * Golden ptdump tests: the verbatim kernel lines quoted in shared/reference/linux-arm64-mm.md §6.3
 * and the real Linux 6.1 kernel_page_tables of the shipped fixture, byte for byte.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR, type Regs } from "../../src/arch/registers.js";
import { machineFromOptions } from "../../src/cli/common.js";
import { linuxLayout } from "../../src/dump/layout.js";
import { PTDUMP_LINUX_4, PTDUMP_LINUX_6, ptdump } from "../../src/dump/ptdump.js";
import { TestTables } from "../helpers/tables.js";

const EX = join(import.meta.dirname, "../../examples/linux-6.1-4k48");

function lines(text: string): string[] {
  return text.split("\n");
}

describe("ptdump of the real Linux 6.1 fixture", () => {
  it("reproduces the kernel's own kernel_page_tables byte for byte", async () => {
    // Memory and registers as the shipped example declares them (example.json).
    const { mem, regs } = await machineFromOptions({ example: "linux-6.1-4k48" });
    const text = ptdump(mem, regs, { markers: linuxLayout({ version: [6, 1], pageShift: 12, vaBits: 48, fixmapSize: 0x407000n }).markers });
    expect(text).toBe(readFileSync(join(EX, "kernel_page_tables.txt"), "utf8"));
  });
});

function kernelRegs(root: bigint, vaBits: number): Regs {
  const tnsz = 64 - vaBits;
  return {
    ttbr0: 0n,
    ttbr1: root,
    tcr: encodeTcr({ t0sz: tnsz, t1sz: tnsz, tg0: "4K", tg1: "4K", ipsBits: 48 }),
    mair: LINUX_MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
  };
}

/** Map [va, va+size) with `level` entries of the given fields (OA follows VA). */
function fill(t: TestTables, base: bigint, va: bigint, size: bigint, level: number, f: object, pa: bigint): void {
  const step = t.entrySize(level);
  for (let off = 0n; off < size; off += step) t.map(va - base + off, level, { oa: pa + off, ...f });
}

describe("ptdump grammar (reference §6.3 verbatim lines)", () => {
  it("prints Android 4.14 (39-bit, 3 levels, no GP column) lines exactly", () => {
    const base = 0xffff_ff80_0000_0000n; // 39-bit TTBR1 half
    const t = new TestTables(GRANULE_4K, 1);
    // v4.x MT indices: 0 DEVICE_nGnRnE, 4 NORMAL.
    const text = { af: true, sh: 3, nG: true, attrIndx: 4, ap: 2, uxn: true };
    fill(t, base, 0xffffff8008080000n, 0x180000n, 3, { ...text, contiguous: true }, 0x4008_0000n);
    fill(t, base, 0xffffff8008200000n, 0xa00000n, 2, text, 0x4020_0000n);
    fill(t, base, 0xffffff8008ce0000n, 0x120000n, 3, { ...text, pxn: true }, 0x40ce_0000n);
    fill(t, base, 0xffffff8009680000n, 0x180000n, 3, { ...text, ap: 0, pxn: true, contiguous: true }, 0x4168_0000n);
    fill(t, base, 0xffffff800c000000n, 0x1000000n, 2, { ...text, ap: 0, pxn: true, attrIndx: 0 }, 0x900_0000n);
    fill(t, base, 0xffffffbefe7fa000n, 0x1000n, 3, { af: true, sh: 3, attrIndx: 4, ap: 2, uxn: true }, 0x4100_0000n);
    fill(t, base, 0xffffffc002000000n, 0x3e000000n, 2, { ...text, ap: 0, pxn: true, contiguous: true }, 0x4200_0000n);
    fill(t, base, 0xffffffc040000000n, 0x40000000n, 1, { ...text, ap: 0, pxn: true }, 0x8000_0000n);
    const out = ptdump(t.mem, kernelRegs(t.root, 39), {
      format: PTDUMP_LINUX_4,
      markers: [
        { address: base, name: "Modules start" },
        { address: 0xffffff8008000000n, name: "vmalloc() Area" },
        { address: 0xffffffbefe7fa000n, name: "Fixmap start" },
        { address: 0xffffffc000000000n, name: "Linear Mapping" },
      ],
    });
    const expected = [
      "---[ vmalloc() Area ]---",
      "0xffffff8008080000-0xffffff8008200000        1536K PTE       ro x  SHD AF NG CON     UXN MEM/NORMAL",
      "0xffffff8008200000-0xffffff8008c00000          10M PMD       ro x  SHD AF NG     BLK UXN MEM/NORMAL",
      "0xffffff8008ce0000-0xffffff8008e00000        1152K PTE       ro NX SHD AF NG         UXN MEM/NORMAL",
      "0xffffff8009680000-0xffffff8009800000        1536K PTE       RW NX SHD AF NG CON     UXN MEM/NORMAL",
      "0xffffff800c000000-0xffffff800d000000          16M PMD       RW NX SHD AF NG     BLK UXN DEVICE/nGnRnE",
      "---[ Fixmap start ]---",
      "0xffffffbefe7fa000-0xffffffbefe7fb000           4K PTE       ro x  SHD AF            UXN MEM/NORMAL",
      "---[ Linear Mapping ]---",
      "0xffffffc002000000-0xffffffc040000000         992M PMD       RW NX SHD AF NG CON BLK UXN MEM/NORMAL",
      "0xffffffc040000000-0xffffffc080000000           1G PGD       RW NX SHD AF NG     BLK UXN MEM/NORMAL",
      "",
    ];
    expect(lines(out)).toEqual(["---[ Modules start ]---", ...expected]);
  });

  it("prints v6.x lines with the GP column exactly (vmemmap and linear map examples)", () => {
    const base = 0xffff_0000_0000_0000n;
    const t = new TestTables(GRANULE_4K, 0);
    const rw = { af: true, sh: 3, nG: true, attrIndx: 0, pxn: true, uxn: true };
    fill(t, base, 0xffff000000000000n, 0x200000n, 3, { ...rw, attrIndx: 1 }, 0x4000_0000n);
    fill(t, base, 0xffff000000200000n, 0x2000000n, 2, { ...rw, ap: 2 }, 0x4020_0000n);
    fill(t, base, 0xfffffc1181000000n, 0x4000000n, 2, rw, 0x5000_0000n);
    fill(t, base, 0xfffffc27e8091000n, 0x7000n, 3, { ...rw, ap: 2 }, 0x6000_0000n);
    const out = lines(
      ptdump(t.mem, kernelRegs(t.root, 48), { format: PTDUMP_LINUX_6, markers: [{ address: base, name: "Linear Mapping start" }] }),
    );
    for (const l of [
      "---[ Linear Mapping start ]---",
      "0xffff000000000000-0xffff000000200000           2M PTE       RW NX SHD AF NG         UXN    MEM/NORMAL-TAGGED",
      "0xffff000000200000-0xffff000002200000          32M PMD       ro NX SHD AF NG     BLK UXN    MEM/NORMAL",
      "0xfffffc1181000000-0xfffffc1185000000          64M PMD       RW NX SHD AF NG     BLK UXN    MEM/NORMAL",
      "0xfffffc27e8091000-0xfffffc27e8098000          28K PTE       ro NX SHD AF NG         UXN    MEM/NORMAL",
    ]) {
      expect(out).toContain(l);
    }
    // Holes are printed (v5.5+) with size and level only, and the last line wraps to 0.
    expect(out).toContain("0xffff000002200000-0xffff000040000000         990M PMD");
    expect(out.at(-2)).toMatch(/^0x[0-9a-f]{16}-0x0000000000000000 +\d+[KMGT] PGD$/);
  });

  it("marks invalid non-zero PTEs with F", () => {
    const base = 0xffff_0000_0000_0000n;
    const t = new TestTables(GRANULE_4K, 0);
    fill(t, base, base, 0x1000n, 3, { af: true, sh: 3, pxn: true, uxn: true }, 0x4000_0000n);
    // debug_pagealloc-style: valid bit cleared, the rest kept.
    t.raw(0x1000n, 3, 0x0060_0000_4000_1f02n);
    const out = lines(ptdump(t.mem, kernelRegs(t.root, 48), { markers: [{ address: base, name: "Linear Mapping start" }] }));
    expect(out[2]).toBe("0xffff000000001000-0xffff000000002000           4K PTE F     RW NX SHD AF NG         UXN    MEM/NORMAL");
  });
});
