/**
 * One test per distinct crash the reader fuzzing found (test/fuzz/readers.test.ts). Each input is
 * the smallest form of what the fuzzer produced; each failed (threw a TypeError/RangeError or a
 * multi-line message) before its fix.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it, vi } from "vitest";
import { MAX_MESSAGE, ParseError, VmsaError } from "../../src/arch/errors.js";
import { buildElfCore, parseNotes, readElfCore } from "../../src/dump/elfcore.js";
import { openDump } from "../../src/dump/inputs.js";
import { parseScenario } from "../../src/scenario/format.js";
import { runScenario } from "../../src/scenario/run.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-fuzz-regress-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

/** A core whose VMCOREINFO note gives TTBR1/TCR, as arm64 Linux 6.12 writes it (vmcore_info.c). */
function coreWithVmcoreInfo(vmcoreinfo: string): Uint8Array {
  return buildElfCore(
    [{ pa: 0x4000_0000n, data: new Uint8Array(0x1000) }],
    [{ name: "VMCOREINFO", type: 0, desc: new Uint8Array(Buffer.from(vmcoreinfo, "latin1")) }],
  );
}

const VMCOREINFO = [
  "OSRELEASE=6.12.117+deb12-arm64",
  "PAGESIZE=4096",
  "SYMBOL(swapper_pg_dir)=ffff800082a4c000",
  "NUMBER(VA_BITS)=48",
  "NUMBER(kimage_voffset)=0xffff7fffc0000000",
  "",
].join("\n");

describe("ELF notes", () => {
  it("a note whose namesz is 2^31 or more is a truncated note, not a negative offset", () => {
    // ELF note header: namesz, descsz, type (32-bit each), then name and desc padded to 4 bytes.
    // (0x7ffffffd + 3) & ~3 is negative in 32-bit arithmetic; the reader walked backwards.
    const b = Buffer.alloc(64);
    b.writeUInt32LE(0x7fff_fffd, 0);
    b.writeUInt32LE(4, 4);
    b.writeUInt32LE(1, 8);
    const e = thrown(() => parseNotes(new Uint8Array(b), 0x100, "core"));
    expect(e).toBeInstanceOf(VmsaError);
    expect((e as VmsaError).code).toBe("EDUMP_TRUNCATED");
    expect((e as VmsaError).message).toMatch(/^core: note at offset 0x100 \(namesz 2147483645/);
  });
});

describe("gzip-compressed ELF cores named by a snapshot", () => {
  it("e_phoff past the end of the decompressed core is EDUMP_TRUNCATED naming the program headers", () => {
    const core = Buffer.from(coreWithVmcoreInfo(VMCOREINFO));
    core.writeBigUInt64LE(0x4000_0000_0000n, 0x20); // e_phoff
    writeFileSync(join(dir, "phoff.core.gz"), gzipSync(core));
    writeFileSync(join(dir, "phoff.json"), JSON.stringify({ memory: { core: "phoff.core.gz" } }));
    const e = thrown(() => openDump({ inputs: [join(dir, "phoff.json")], progress: false }));
    expect(e).toBeInstanceOf(VmsaError);
    expect((e as VmsaError).code).toBe("EDUMP_TRUNCATED");
    expect((e as VmsaError).message).toContain("program headers");
  });

  it("a decompressed file that is not an AArch64 core is refused like an uncompressed one", () => {
    const core = Buffer.from(coreWithVmcoreInfo(VMCOREINFO));
    core.writeUInt16LE(62, 0x12); // e_machine EM_X86_64
    writeFileSync(join(dir, "x86.core.gz"), gzipSync(core));
    writeFileSync(join(dir, "x86.json"), JSON.stringify({ memory: { core: "x86.core.gz" } }));
    const e = thrown(() => openDump({ inputs: [join(dir, "x86.json")], progress: false }));
    expect((e as VmsaError).code).toBe("EDUMP_FORMAT");
    expect((e as VmsaError).message).toContain("e_machine");
  });
});

describe("PT_LOAD beyond the PA space", () => {
  it("p_paddr + p_memsz past 2^52 is EDUMP_FORMAT naming the segment, not an anonymous memory error", () => {
    const core = Buffer.from(coreWithVmcoreInfo(VMCOREINFO));
    // program header 0 is the PT_NOTE, 1 the PT_LOAD (buildElfCore); p_memsz is at +40.
    core.writeBigUInt64LE(0xffff_ffff_ffff_0000n, 64 + 56 + 40);
    const f = join(dir, "memsz.core");
    writeFileSync(f, core);
    const e = thrown(() => readElfCore(f));
    expect((e as VmsaError).code).toBe("EDUMP_FORMAT");
    expect((e as VmsaError).message).toMatch(/PT_LOAD #1 .*p_memsz 0xffffffffffff0000 extends past the 52-bit PA space/);
  });
});

describe("VMCOREINFO values that size the kernel layout", () => {
  it("NUMBER(VA_BITS) outside 36..52 is a one-line EPARSE, not a RangeError from a 2^99999999999 BigInt", () => {
    // CONFIG_ARM64_VA_BITS is 36, 39, 42, 47, 48 or 52 (arch/arm64/Kconfig).
    const f = join(dir, "vabits.core");
    writeFileSync(f, coreWithVmcoreInfo(VMCOREINFO.replace("NUMBER(VA_BITS)=48", "NUMBER(VA_BITS)=99999999999")));
    const e = thrown(() => openDump({ inputs: [f], progress: false }));
    expect(e).toBeInstanceOf(ParseError);
    expect((e as VmsaError).message).toMatch(/VMCOREINFO .*VA_BITS 99999999999: expected a kernel VA size between 36 and 52/);
  });
});

describe("error messages", () => {
  it("a message quoting input with newlines or NULs stays one printable line", () => {
    const e = new ParseError('--mem "a\nb\0c": expected FILE@PA');
    expect(e.message).toBe('--mem "a\\x0ab\\x00c": expected FILE@PA');
  });

  it("a message quoting a huge input keeps its head and tail within MAX_MESSAGE", () => {
    const e = new ParseError(`regs.txt:1: TTBR1_EL1: "${"9".repeat(5000)}" is not a 64-bit number`);
    expect(e.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    expect(e.message.startsWith("regs.txt:1: TTBR1_EL1:")).toBe(true);
    expect(e.message.endsWith("is not a 64-bit number")).toBe(true);
  });
});

describe("scenario files", () => {
  it("collections nested deeper than the stack are ESCENARIO_SYNTAX, not a RangeError", () => {
    const e = thrown(() => parseScenario(`steps: ${"[".repeat(5000)}${"]".repeat(5000)}`, "deep.yaml"));
    expect(e).toBeInstanceOf(VmsaError);
    expect((e as VmsaError).code).toBe("ESCENARIO_SYNTAX");
    expect((e as VmsaError).message).toBe("deep.yaml: syntax: collections or expressions nested too deeply");
  });

  it("a collection used as a mapping key is an error line, with no yaml library warning on stderr", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    try {
      const e = thrown(() => parseScenario("? [a]\n: 1\nsteps: ['P0: isb']\n", "key.yaml"));
      expect((e as VmsaError).code).toBe("ESCENARIO");
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});

describe("scenario initial memory", () => {
  const scenario = (memory: string): string =>
    `machine: { cpus: 1, regs: { TTBR1_EL1: 0x80000 } }\nmemory:\n  ram: [{ base: 0x40000000, size: 0x40000000 }]\n${memory}\nsteps: ["P0: isb"]\n`;

  it("a memory.map of 2^36 level-3 pages is refused before building, not built page by page (a hang)", () => {
    // 4K granule: a level-3 leaf maps 4 KiB (DDI0487 D8.2), so 2^48 bytes are 2^36 leaves.
    const s = parseScenario(scenario("  map: [{ va: 0xffff000000000000, pa: 0x0, size: 0x1000000000000, level: 3 }]"), "map.yaml");
    const e = thrown(() => runScenario(s));
    expect((e as VmsaError).code).toBe("ESCENARIO");
    expect((e as VmsaError).message).toMatch(/^map\.yaml:4: memory\.map: size 0x1000000000000 is 68719476736 level-3 leaves/);
  });
});

describe("scenario values", () => {
  it("table(PA) with a PA not aligned to the granule is an error line naming the step, not a RangeError", () => {
    // A table descriptor holds a granule-aligned next-level table address (DDI0487 D8.3.1).
    const text = `machine: { cpus: 1, regs: { TTBR1_EL1: 0x80000 } }\nsteps:\n  - "P0: store table(1) 0x0"\n`;
    const e = thrown(() => runScenario(parseScenario(text, "table.yaml")));
    expect(e).toBeInstanceOf(VmsaError);
    expect((e as VmsaError).message).toMatch(/^table\.yaml:3: steps\[0\]: table\(\): next-level table address 0x1 is not aligned/);
  });
});

describe("snapshot descriptors", () => {
  it("a register value nested 100000 arrays deep is EPARSE naming the register, not a stack overflow", () => {
    const deep = `${"[".repeat(100000)}${"]".repeat(100000)}`;
    writeFileSync(join(dir, "ram.bin"), new Uint8Array(0x1000));
    const snap = `{"registers": {"TTBR1_EL1": ${deep}}, "memory": {"file": "ram.bin", "load_at": "0x40000000"}}`;
    writeFileSync(join(dir, "deep.json"), snap);
    const e = thrown(() => openDump({ inputs: [join(dir, "deep.json")], progress: false }));
    expect(e).toBeInstanceOf(ParseError);
    expect((e as VmsaError).message).toBe(`${join(dir, "deep.json")}: registers.TTBR1_EL1: expected a hex string, got an array`);
  });
});
