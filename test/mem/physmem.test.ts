import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadMemory, parseBankSpec, saveImage } from "../../src/mem/banks.js";
import { PhysMem } from "../../src/mem/physmem.js";

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
