/** Pure helpers of the web UI: deep links, register files, image streaming, map data. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { descriptorFormat, encodeLeaf } from "../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { presetByName, type Regs } from "../../src/arch/registers.js";
import { linuxLayout } from "../../src/dump/layout.js";
import { ptdump } from "../../src/dump/ptdump.js";
import { completeRegs, parseRegisterFile } from "../../src/dump/regfile.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { compileRegs } from "../../src/walk/context.js";
import { Walker } from "../../src/walk/walker.js";
import { buildExample, EXAMPLE_PRESETS } from "../../web/src/lib/demo.js";
import { describeFields, type Field, parseFieldValue } from "../../web/src/lib/fields.js";
import { KERNEL_EXAMPLE } from "../../web/src/lib/kernelExample.js";
import { loadImage } from "../../web/src/lib/load.js";
import { buildMap } from "../../web/src/lib/mapdata.js";
import { completeRegisters, parseRegisterText, registersForDump } from "../../web/src/lib/regs.js";
import { formatHash, parseHash } from "../../web/src/lib/route.js";
import { loadKernelExample } from "../helpers/kernel-example.js";
import { aliasedTables, TestTables } from "../helpers/tables.js";

const FIX = join(import.meta.dirname, "../e2e/fixtures/linux-6.1-4k48");

describe("deep links", () => {
  it("round-trips a view and its parameters", () => {
    const r = { view: "walk" as const, params: { va: "0xffff000000210000", acc: "w1" } };
    expect(parseHash(formatHash(r))).toEqual(r);
    expect(parseHash("#/nonsense?x=1").view).toBe("decode");
  });
});

describe("register files", () => {
  const complete = (text: string): Regs => completeRegisters(parseRegisterText(text).registers, "registers").regs;
  it("reads the fixture's machine.json, including the load address", () => {
    const rf = parseRegisterText(readFileSync(join(FIX, "machine.json"), "utf8"));
    const regs = completeRegisters(rf.registers, "machine.json").regs;
    expect(regs.ttbr1).toBe(0x003a_0000_4053_0001n);
    expect(rf.loadAt).toBe(0x4000_0000n);
    expect(regs.features.paBits).toBe(52); // ID_AA64MMFR0_EL1.PARange = 0b0110 (-cpu max)
  });
  it("reads NAME=VALUE lines and gdb's `NAME VALUE DECIMAL` lines, and names a missing TTBR1_EL1", () => {
    expect(complete("tcr_el1=0x10\nTTBR1=0x2000\nTTBR0=0x1000").ttbr0).toBe(0x1000n);
    expect(complete("TCR_EL1        0x10   16\nTTBR1_EL1      0x2000   8192").tcr).toBe(0x10n);
    expect(() => complete("TTBR0_EL1=0x0\nTCR_EL1=0x10")).toThrow(/no TTBR1_EL1/);
    expect(() => complete("TTBR1_EL1=0x0\nTCR_EL1=0xzz")).toThrow(/TCR_EL1/);
  });
  it("accepts the shipped fixture's gdb `info registers` output as the CLI reads it (src/dump/regfile.ts)", () => {
    const text = readFileSync(join(import.meta.dirname, "../fixtures/real-kernel/linux-6.1-4k48/registers.txt"), "utf8");
    const ui = completeRegisters(parseRegisterText(text, "registers.txt").registers, "registers.txt");
    const cli = completeRegs(parseRegisterFile(text, "registers.txt"), "registers.txt");
    expect(ui.regs).toEqual(cli.regs);
    // gdb prints "SCTLR" for SCTLR_EL1 and a decimal column after the hex one.
    expect(ui.sources.SCTLR_EL1).toBe("register file registers.txt");
  });
  it("reads values as hex with or without 0x, as the CLI does, and refuses JSON numbers", () => {
    expect(complete("TCR_EL1=10\nTTBR1=40530001").ttbr1).toBe(0x4053_0001n);
    expect(() => parseRegisterText(JSON.stringify({ TCR_EL1: "0x10", TTBR1_EL1: 40530001 }))).toThrow(/TTBR1_EL1: expected a hex string/);
  });
  it("takes TTBR1_EL1 and TCR_EL1 from the dump's VMCOREINFO when the text lacks them, as vmsa dump does", () => {
    const mem = new PhysMem();
    // A VMCOREINFO page (kernel/vmcore_info.c): TTBR1 = SYMBOL(swapper_pg_dir) - NUMBER(kimage_voffset).
    const swapper = 0xffff_8000_0a53_0000n;
    const voff = 0xffff_7fff_c800_0000n;
    const text = `OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=${swapper.toString(16)}\nNUMBER(kimage_voffset)=0x${voff.toString(16)}\nNUMBER(VA_BITS)=48\n`;
    mem.writeBytes(0x4800_0000n, new TextEncoder().encode(text));
    const r = registersForDump(mem, parseRegisterText("MAIR_EL1      0xff   255").registers, "dump");
    expect(r.regs.ttbr1).toBe(swapper - voff);
    expect(compileRegs(r.regs).halves[1].iaBits).toBe(48);
    expect(r.regs.mair).toBe(0xffn);
    expect(r.sources.TTBR1_EL1).toContain("VMCOREINFO");
    expect(r.sources.MAIR_EL1).toContain("register file");
    expect(() => registersForDump(new PhysMem(), parseRegisterText("MAIR_EL1=0xff").registers, "dump")).toThrow(/no TTBR1_EL1/);
  });
});

describe("decoder field input", () => {
  // AttrIndx is a 3-bit index (bits [4:2]): shown and typed in decimal; an OA is typed in hex.
  it("reads number fields as decimal counts and address fields as hex", () => {
    const d = describeFields(0x0040_0000_4000_0703n, 3, descriptorFormat(GRANULE_4K));
    const attr = d.fields.find((f) => f.key === "attrIndx") as Field;
    const oa = d.fields.find((f) => f.type === "address") as Field;
    expect(parseFieldValue(attr, "7")).toBe(7n);
    expect(() => parseFieldValue(attr, "0x7")).toThrow(/decimal/);
    expect(parseFieldValue(oa, "40000")).toBe(0x40000n);
  });
});

describe("image streaming", () => {
  it("loads a gzip image sparsely: zero pages read as zero, others as stored", async () => {
    const mem = new PhysMem();
    const gz = new Blob([readFileSync(join(FIX, "ram-tables.bin.gz"))]);
    const s = await loadImage(mem, gz, 0x4000_0000n, "ram");
    expect(s.bytes).toBe(2 ** 30);
    expect(s.storedFrames).toBeGreaterThan(0);
    expect(s.storedFrames).toBeLessThan(2000);
    // The TTBR1 root table (0x40530000) holds the linear map's table descriptor.
    expect(mem.read64(0x4053_0000n)).not.toBe(0n);
    expect(mem.read64(0x7fff_fff8n)).toBe(0n);
    expect(mem.read64(0x8000_0000n)).toBeUndefined();
    // Inflates 1 GiB: 2.6 s on an idle core, 21 s with both cores loaded; the limit is for hangs.
  }, 240_000);
  it("stores dense raw chunks as banks and keeps every byte", async () => {
    const data = new Uint8Array(3 * 4096 + 100).map((_, i) => (i * 7 + 1) & 0xff);
    const mem = new PhysMem();
    await loadImage(mem, new Blob([data]), 0x1000n, "raw");
    expect(mem.readBytes(0x1000n, data.length)).toEqual(data);
  });
});

describe("example and map", () => {
  it("every example preset builds tables whose tour addresses walk as described", () => {
    for (const p of EXAMPLE_PRESETS) {
      const ex = buildExample(p);
      const w = new Walker(ex.mem, ex.regs);
      const first = ex.tour[0];
      if (!first) throw new Error("empty tour");
      expect(w.translate(first.va, { type: "read", el: 1 }).kind, p).toBe("ok");
      const hole = ex.tour.find((t) => t.what.startsWith("invalid entry"));
      const r = hole && w.translate(hole.va, { type: "read", el: 1 });
      expect(r?.kind === "fault" && r.fault, p).toBe("translation");
    }
  });
  it("classifies blocks, contiguous groups, pages and holes, and fills columns", () => {
    const ex = buildExample("linux-4k-48");
    const ctx = compileRegs(ex.regs);
    const m = buildMap(ex.mem, ctx, 1, 0, 2 ** 30, 800);
    const shapes = new Set(m.segments.map((s) => m.classes[s.cls]?.shape));
    expect(shapes).toEqual(new Set(["block", "cont", "page", "none"]));
    expect(m.columns[0]).toBeGreaterThanOrEqual(0);
    expect(m.classes[m.columns[0] as number]?.shape).toBe("block");
  });

  it("a fully aliased tree (512-way fan-in at every level) maps its distinct tables once, the rest as shared", () => {
    const t = new TestTables(GRANULE_4K, 0);
    aliasedTables(t, (i) => (i % 2 === 0 ? encodeLeaf({ oa: BigInt(i) << 12n, af: true, sh: 3 }, 3, t.fmt) : 0n));
    const ctx = compileRegs({ ...presetByName("linux-4k-48").regs, ttbr1: t.root });
    const m = buildMap(t.mem, ctx, 1, 0, 2 ** 48, 800);
    // 256 pages walked (not 2^35); everything after the first 2M repeats it: one shared segment
    // of 3 * 511 table descriptors.
    expect(m.leafCount).toBe(256);
    const shared = m.segments.filter((s) => m.classes[s.cls]?.kind === "shared");
    expect(shared.map((s) => [s.start, s.end, s.entries])).toEqual([[2 ** 21, 2 ** 48, 3 * 511]]);
    // The strip shows the shared ranges, not holes.
    expect(m.classes[m.columns[799] as number]?.kind).toBe("shared");
  });
});

describe("the kernel example the UI opens on", () => {
  it("is examples/linux-6.1-4k48: its ptdump is the kernel's own text, and it walks as the kernel mapped it", () => {
    const ex = loadKernelExample();
    const ctx = compileRegs(ex.regs);
    const h = ctx.halves[1];
    const text = ptdump(ex.mem, ctx, {
      markers: linuxLayout({ version: [6, 1], pageShift: h.gShift, vaBits: h.iaBits, fixmapSize: 0x407000n }).markers,
    });
    expect(text).toBe(readFileSync(join(import.meta.dirname, "../../examples", KERNEL_EXAMPLE, "kernel_page_tables.txt"), "utf8"));
    // Linux 6.1 linear map: PAGE_OFFSET 0xffff000000000000 maps PHYS_OFFSET 0x40000000.
    const w = new Walker(ex.mem, ex.regs);
    const r = w.translate(0xffff_0000_0021_0000n, { type: "read", el: 1 });
    expect(r.kind === "ok" ? r.pa : undefined).toBe(0x4021_0000n);
    expect(w.translate(0xffff_8000_0800_4000n, { type: "read", el: 1 }).kind).toBe("fault");
  });
});
