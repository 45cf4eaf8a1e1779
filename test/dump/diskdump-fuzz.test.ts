/**
 * Damaged kdump-compressed files (bytes overwritten in the headers, bitmaps, descriptors or page
 * data; cut short), plain and flattened: opening and dumping them either works or fails with a
 * VmsaError (one `vmsa: error:` line), never another exception or a hang. Pages are read on
 * demand, so the ptdump (and a read of every backed frame) runs too.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { VmsaError } from "../../src/arch/errors.js";
import { parseElfCoreBytes } from "../../src/dump/elfcore.js";
import { openDump } from "../../src/dump/inputs.js";
import { ptdump } from "../../src/dump/ptdump.js";
import { FRAME_SIZE } from "../../src/mem/physmem.js";
import { propertyRuns } from "../helpers/property.js";
import { writeDiskDump } from "./diskdump/write.js";

const FIX = join(import.meta.dirname, "../fixtures/real-kernel/linux-6.1-4k48");
const raw = gunzipSync(readFileSync(join(FIX, "tables.core.gz")));
const core = parseElfCoreBytes(raw, "tables.core");
// A few table pages keep each run short; the VMCOREINFO page makes the RAM scan find the layout.
const banks = core.segments.slice(0, 6).map((s) => ({ pa: s.paddr, data: new Uint8Array(raw.subarray(s.offset, s.offset + s.filesz)) }));
const seeds = [
  writeDiskDump(banks, { codec: "zlib" }),
  writeDiskDump(banks, { codec: "snappy", flattened: true }),
  writeDiskDump(banks, { codec: "zlib", pageSize: 65536, exclude: [0x4185] }),
];
const dir = mkdtempSync(join(tmpdir(), "vmsa-kdump-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const damage = fc.record({
  seed: fc.integer({ min: 0, max: seeds.length - 1 }),
  // Most writes land in the first 16 KiB (headers, bitmaps, descriptors), some anywhere.
  writes: fc.array(fc.tuple(fc.oneof(fc.integer({ min: 0, max: 0x4000 }), fc.nat()), fc.integer({ min: 0, max: 255 })), {
    minLength: 1,
    maxLength: 6,
  }),
  cut: fc.option(fc.nat(), { freq: 4 }),
});

describe("damaged kdump files", () => {
  it("open and dump, or fail with a VmsaError", { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(damage, ({ seed, writes, cut }) => {
        const b = Buffer.from(seeds[seed] as Buffer);
        for (const [at, v] of writes) b[at % b.length] = v;
        const bytes = cut === null ? b : b.subarray(0, cut % b.length);
        const f = join(dir, "x.kdump");
        writeFileSync(f, bytes);
        try {
          const d = openDump({ inputs: [f], regs: { TTBR1_EL1: 0x41858000n }, preset: "linux-4k-48", progress: false });
          ptdump(d.mem, d.regs, {});
          for (const pfn of d.mem.backedFrames()) d.mem.readBytes(BigInt(pfn * FRAME_SIZE), 8);
        } catch (e) {
          if (!(e instanceof VmsaError)) throw e;
          expect(e.message).not.toContain("\n");
        }
      }),
      { numRuns: propertyRuns(150) },
    );
  });
});
