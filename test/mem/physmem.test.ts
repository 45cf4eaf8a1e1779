import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadMemory, parseBankSpec, saveImage } from "../../src/mem/banks.js";
import { FIRST_ARENA_WORDS, PhysMem } from "../../src/mem/physmem.js";

describe("physical memory", () => {
  it("reads back what was written, little-endian, and reports unbacked reads as undefined", () => {
    const m = new PhysMem();
    m.write64(0x4000_0008n, 0x0123_4567_89ab_cdefn);
    expect(m.read64(0x4000_0008n)).toBe(0x0123_4567_89ab_cdefn);
    expect([...m.readBytes(0x4000_0008n, 8)]).toEqual([0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01]);
    expect(m.read64(0x4000_0000n)).toBe(0n); // same frame, never written: zero
    expect(m.read64(0x5000_0000n)).toBeUndefined(); // no frame: unbacked
    m.addRam(0x5000_0000n, 0x1000n);
    expect(m.read64(0x5000_0000n)).toBe(0n); // declared RAM reads as zero
  });

  it("agrees with a reference map under random stores (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), {
          maxLength: 200,
        }),
        (ops) => {
          const m = new PhysMem();
          const ref = new Map<bigint, bigint>();
          for (const [a, v] of ops) {
            const pa = a & ~7n;
            m.write64(pa, v);
            ref.set(pa, v);
          }
          for (const [pa, v] of ref) expect(m.read64(pa)).toBe(v);
        },
      ),
    );
  });

  it("loads FILE@PA banks and writes images back atomically", () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-mem-"));
    const f = join(dir, "ram.bin");
    const bytes = Buffer.alloc(0x3000);
    bytes.writeBigUInt64LE(0xdead_beef_0000_0003n, 0x1010);
    writeFileSync(f, bytes);
    const m = loadMemory([`${f}@0x80000000`]);
    expect(m.read64(0x8000_1010n)).toBe(0xdead_beef_0000_0003n);
    expect(m.read64(0x8000_3000n)).toBeUndefined();
    m.write64(0x8000_0000n, 0x11n);
    const out = join(dir, "out.bin");
    saveImage(m, out, 0x8000_0000n, 0x3000);
    const back = readFileSync(out);
    expect(back.readBigUInt64LE(0)).toBe(0x11n);
    expect(back.readBigUInt64LE(0x1010)).toBe(0xdead_beef_0000_0003n);
  });

  it("parses bank specs with sizes and paths containing @", () => {
    expect(parseBankSpec("a@b.bin@0x1000")).toEqual({ file: "a@b.bin", pa: 0x1000n });
    expect(parseBankSpec("x.bin@0x2000:0x1000")).toEqual({ file: "x.bin", pa: 0x2000n, size: 0x1000n });
    expect(() => parseBankSpec("x.bin")).toThrow(/expected FILE@PA/);
    expect(() => parseBankSpec("x.bin@0x1001")).toThrow(/not 4 KiB aligned/);
  });
});

describe("allocation arenas", () => {
  it("backs the first stored frame with a small arena and grows arenas without losing frames", () => {
    const m = new PhysMem();
    m.store64(0x4000_0000, 1, 2);
    const first = m.arenas[0];
    expect(first?.byteLength).toBe(FIRST_ARENA_WORDS * 4);
    expect(first?.byteLength).toBeLessThan(16 * 1024 * 1024);
    // Enough frames to need several arenas, with a bank added part-way through.
    const frames = 3000;
    for (let i = 0; i < frames; i++) {
      if (i === 1000) m.addBank(0x1_0000_0000n, new Uint8Array(8192), "mid");
      m.store64(0x8000_0000 + i * 4096 + 8, i, i * 3);
    }
    for (let i = 0; i < frames; i++) expect(m.read64(BigInt(0x8000_0000 + i * 4096 + 8))).toBe((BigInt(i) << 32n) | BigInt(i * 3));
    expect(m.read64(0x4000_0000n)).toBe((1n << 32n) | 2n);
    expect(m.arenas.length).toBeGreaterThan(2);
    for (const a of m.arenas) expect(a.byteLength).toBeLessThanOrEqual(16 * 1024 * 1024);
  });
  it("gives the first allocation arena the reserve asked for (whole frames, at most 16 MiB) and refuses a bad reserve", () => {
    const m = new PhysMem({ reserveBytes: 8 * 1024 * 1024 + 1 });
    m.store64(0x4000_0000, 1, 2);
    expect(m.arenas[0]?.byteLength).toBe(8 * 1024 * 1024 + 4096);
    // 2049 frames fit in the reserved arena: no second arena is needed.
    for (let i = 1; i <= 2048; i++) m.store64(0x4000_0000 + i * 4096, i, 0);
    expect(m.arenas.length).toBe(1);
    const big = new PhysMem({ reserveBytes: 1 << 30 });
    big.store64(0, 0, 1);
    expect(big.arenas[0]?.byteLength).toBe(16 * 1024 * 1024);
    expect(() => new PhysMem({ reserveBytes: -1 })).toThrow(/reserveBytes -1 is not a byte count/);
    expect(() => new PhysMem({ reserveBytes: 1.5 })).toThrow(expect.objectContaining({ code: "EMEM_RESERVE" }));
  });
});

describe("zeroFrames", () => {
  it("zeroes and backs whole frames given as a number, and refuses ranges past the 52-bit PA space", () => {
    const m = new PhysMem();
    m.store64(0x4000_1008, 5, 6);
    m.zeroFrames(0x4000_1000, 2 * 4096);
    expect(m.read64(0x4000_1008n)).toBe(0n);
    expect(m.read64(0x4000_2ff8n)).toBe(0n); // second frame now backed
    expect(m.read64(0x4000_3000n)).toBeUndefined();
    expect(() => m.zeroFrames(2 ** 52 - 4096, 2 * 4096)).toThrow(/outside the 52-bit PA space/);
  });
});
