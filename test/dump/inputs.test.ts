/**
 * The dump input layer: ELF cores (PT_LOAD → memory, notes), VMCOREINFO from a note or a RAM scan,
 * registers from gdb output / VMCOREINFO with their sources, and clear errors for compressed or
 * truncated files.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeTcr } from "../../src/arch/registers.js";
import { buildElfCore, readElfCore } from "../../src/dump/elfcore.js";
import { openDump } from "../../src/dump/inputs.js";
import { parseRegisterFile, regsFromVmcoreInfo } from "../../src/dump/regfile.js";
import { parseVmcoreInfo, vmNumber, vmSymbol } from "../../src/dump/vmcoreinfo.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-inputs-"));

// What arm64 Linux 6.12 writes (arch/arm64/kernel/vmcore_info.c formats: SYMBOL hex without 0x,
// NUMBER(kimage_voffset)/PHYS_OFFSET/TCR_EL1_T1SZ with 0x, VA_BITS decimal).
const VMCOREINFO_612 = [
  "OSRELEASE=6.12.117+deb12-arm64-16k",
  "BUILD-ID=0123456789abcdef",
  "PAGESIZE=16384",
  "SYMBOL(init_uts_ns)=ffff800081e2a000",
  "SYMBOL(swapper_pg_dir)=ffff800082a4c000",
  "NUMBER(VA_BITS)=52",
  "NUMBER(kimage_voffset)=0xffff7fffc0000000",
  "NUMBER(PHYS_OFFSET)=0x40000000",
  "KERNELOFFSET=0",
  "NUMBER(TCR_EL1_T1SZ)=0x11",
  "",
].join("\n");

describe("VMCOREINFO", () => {
  it("parses typed values and derives TTBR1 = swapper_pg_dir - kimage_voffset and TCR", () => {
    const vi = parseVmcoreInfo(VMCOREINFO_612, "test");
    expect(vmSymbol(vi, "swapper_pg_dir")).toBe(0xffff800082a4c000n);
    expect(vmNumber(vi, "kimage_voffset")).toBe(0xffff7fffc0000000n);
    expect(vmNumber(vi, "VA_BITS")).toBe(52n);
    const r = regsFromVmcoreInfo(vi);
    expect(r.values.TTBR1_EL1).toBe(0xc2a4c000n);
    const tcr = decodeTcr(r.values.TCR_EL1 ?? 0n);
    // T1SZ 0x11 = 47-bit VA: a 52-bit kernel on a CPU without LPA2 (vabits_actual 47), so DS=0.
    expect(tcr.t1.tnsz).toBe(17);
    expect(tcr.t1.granule.name).toBe("16K");
    expect(tcr.ds).toBe(false);
    expect(r.sources.TTBR1_EL1).toContain("SYMBOL(swapper_pg_dir) - NUMBER(kimage_voffset)");
  });

  it("52-bit VA with 4K/16K pages implies TCR.DS=1 (FEAT_LPA2)", () => {
    const vi = parseVmcoreInfo(VMCOREINFO_612.replace("NUMBER(TCR_EL1_T1SZ)=0x11", "NUMBER(TCR_EL1_T1SZ)=0xc"), "t");
    expect(decodeTcr(regsFromVmcoreInfo(vi).values.TCR_EL1 ?? 0n).ds).toBe(true);
  });
});

describe("register files", () => {
  it("reads gdb `info registers` lines and NAME=VALUE lines, ignoring the rest", () => {
    const text = [
      "TTBR1_EL1      0x3a000040530001     16325548653756417",
      "TCR_EL1        0x14001b5b5503510    92294578166789392",
      "x0             0x0                  0",
      "MAIR_EL1=0x40044ffff",
      "Undefined info command",
    ].join("\n");
    const r = parseRegisterFile(text, "regs.txt");
    expect(r.values).toEqual({ TTBR1_EL1: 0x3a000040530001n, TCR_EL1: 0x14001b5b5503510n, MAIR_EL1: 0x40044ffffn });
    expect(r.sources.TTBR1_EL1).toBe("register file regs.txt");
  });
});

function page(text: string): Uint8Array {
  const p = new Uint8Array(4096);
  p.set(Buffer.from(text, "latin1"));
  return p;
}

describe("ELF cores", () => {
  it("loads PT_LOAD segments at their physical addresses and finds VMCOREINFO in RAM without a note", () => {
    const ram = new Uint8Array(0x10000);
    ram.set(page(VMCOREINFO_612), 0x3000);
    ram[0x8000] = 0xab;
    const f = join(dir, "scan.core");
    writeFileSync(f, buildElfCore([{ pa: 0x4000_0000n, data: ram }]));
    const d = openDump({ inputs: [f], progress: false });
    expect(d.mem.readBytes(0x4000_8000n, 1)[0]).toBe(0xab);
    expect(d.vmcoreinfo?.source).toBe("RAM scan at PA 0x40003000");
    expect(d.regs.ttbr1).toBe(0xc2a4c000n);
    expect(d.sources.TTBR1_EL1).toContain("VMCOREINFO (RAM scan at PA 0x40003000)");
    expect(d.sources.MAIR_EL1).toContain("default");
    expect(d.layout?.description).toBe("Linux 6.12.117+deb12-arm64-16k arm64, 16K pages, 47-bit VA (52-bit kernel)");
  });

  it("prefers the VMCOREINFO note, and command-line registers override derived ones", () => {
    const f = join(dir, "note.core");
    writeFileSync(
      f,
      buildElfCore(
        [{ pa: 0x4000_0000n, data: new Uint8Array(0x2000) }],
        [{ name: "VMCOREINFO", type: 0, desc: Buffer.from(VMCOREINFO_612) }],
      ),
    );
    expect(readElfCore(f).notes[0]?.name).toBe("VMCOREINFO");
    const d = openDump({ inputs: [f], regs: { TTBR1_EL1: 0x4123_4000n }, progress: false });
    expect(d.vmcoreinfo?.source).toMatch(/^ELF note at offset 0x/);
    expect(d.regs.ttbr1).toBe(0x4123_4000n);
    expect(d.sources.TTBR1_EL1).toBe("command line");
    expect(d.sources.TCR_EL1).toContain("VMCOREINFO");
  });

  it("a gzip-compressed core loads like the plain one, recognised by its magic not its name", () => {
    const data = new Uint8Array(0x2000);
    data[0x1008] = 0x5a;
    const core = buildElfCore([{ pa: 0x4000_0000n, data }]);
    const z = join(dir, "gz-core.bin");
    writeFileSync(z, gzipSync(core));
    const d = openDump({ inputs: [z], regs: { TTBR1_EL1: 0x4000_0000n, TCR_EL1: 0x10n << 16n }, vmcoreinfo: false, progress: false });
    expect(d.mem.read64(0x4000_1008n)).toBe(0x5an);
    expect(d.sources.memory).toMatch(/gz-core\.bin \(gzip, 1 PT_LOAD\)/);
  });

  it("truncated and compressed inputs fail naming the offset", () => {
    const core = buildElfCore([{ pa: 0x4000_0000n, data: new Uint8Array(0x4000) }]);
    const t = join(dir, "trunc.core");
    writeFileSync(t, core.subarray(0, core.length - 0x1000));
    expect(() => openDump({ inputs: [t], progress: false })).toThrow(
      /truncated at offset 0x[0-9a-f]+: PT_LOAD #0 .* needs the file to reach offset 0x/,
    );
    const z = join(dir, "z.core");
    writeFileSync(z, gzipSync(core).subarray(0, 30));
    expect(() => openDump({ inputs: [z], progress: false })).toThrow(/z\.core: gzip stream is damaged or truncated/);
    const k = join(dir, "k.core");
    writeFileSync(k, Buffer.concat([Buffer.from("KDUMP   "), Buffer.alloc(100)]));
    // A kdump-compressed file is read now (src/dump/diskdump); a cut one names what is missing.
    expect(() => openDump({ inputs: [k], progress: false })).toThrow(
      /k\.core: truncated at offset 0x6c: the kdump header needs bytes 0x0\.\.0x1d0/,
    );
    const small = join(dir, "s.core");
    writeFileSync(small, core.subarray(0, 40));
    expect(() => openDump({ inputs: [small], progress: false })).toThrow(/truncated at offset 0x28/);
  });

  it("bad snapshot descriptors name the file and the field", () => {
    const f = join(dir, "bad.json");
    writeFileSync(f, JSON.stringify({ memory: [{ file: "ram.bin" }] }));
    expect(() => openDump({ inputs: [f], progress: false })).toThrow(
      /bad\.json: memory\[0\]: expected \{"file": "FILE", "load_at": "0x\.\.\."\}/,
    );
    writeFileSync(f, JSON.stringify({ registers: { TTBR1_EL1: "0x1" } }));
    expect(() => openDump({ inputs: [f], progress: false })).toThrow(/bad\.json: "memory" is missing/);
    writeFileSync(f, "{ not json");
    expect(() => openDump({ inputs: [f], progress: false })).toThrow(/bad\.json: not a snapshot descriptor/);
    const g = join(dir, "badgz.json");
    writeFileSync(join(dir, "trunc.bin.gz"), gzipSync(Buffer.alloc(8192, 1)).subarray(0, 20));
    writeFileSync(g, JSON.stringify({ memory: { file: "trunc.bin.gz", load_at: "0x40000000" } }));
    expect(() => openDump({ inputs: [g], progress: false })).toThrow(/trunc\.bin\.gz: gzip stream is damaged or truncated/);
  });

  it("names the missing register when nothing supplies TTBR1", () => {
    const f = join(dir, "bare.core");
    writeFileSync(f, buildElfCore([{ pa: 0x4000_0000n, data: new Uint8Array(0x1000) }]));
    expect(() => openDump({ inputs: [f], progress: false })).toThrow(/no TTBR1_EL1/);
  });
});
