/**
 * FileFrames (frames of a file read on demand): whatever the order of the reads (random frames,
 * scans served by the 1 MiB read-ahead, runs crossing extents and the partial last frame) every
 * frame reads as the file's bytes at its extent's offset, the partial frame's tail is zero, and
 * PAs outside the extents hold nothing.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { addFileFrames, type FileExtent } from "../../src/mem/filesource.js";
import { FRAME_SIZE, PhysMem } from "../../src/mem/physmem.js";
import { propertyRuns } from "../helpers/property.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-filesource-"));
const fds: number[] = [];
afterAll(() => {
  for (const fd of fds) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

// 600 frames and a half: more than two read-ahead windows.
const bytes = Buffer.alloc(600 * FRAME_SIZE + 2048);
for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
const file = join(dir, "img.bin");
writeFileSync(file, bytes);

/** Two extents: file [0, 300 frames) at PA 0x40000000 and the rest (with the partial frame) at 0x80000000. */
const EXTENTS: FileExtent[] = [
  { pa: 0x4000_0000, offset: 0, length: 300 * FRAME_SIZE, name: "img.bin[0]" },
  { pa: 0x8000_0000, offset: 300 * FRAME_SIZE, length: bytes.length - 300 * FRAME_SIZE, name: "img.bin[1]" },
];

function expected(pfn: number): Buffer | undefined {
  for (const e of EXTENTS) {
    const first = e.pa / FRAME_SIZE;
    const n = Math.ceil(e.length / FRAME_SIZE);
    if (pfn < first || pfn >= first + n) continue;
    const off = e.offset + (pfn - first) * FRAME_SIZE;
    const out = Buffer.alloc(FRAME_SIZE);
    bytes.copy(out, 0, off, Math.min(off + FRAME_SIZE, e.offset + e.length));
    return out;
  }
  return undefined;
}

function open(cacheFrames: number): PhysMem {
  const mem = new PhysMem({ sourceCacheBytes: cacheFrames * FRAME_SIZE });
  const fd = openSync(file, "r");
  fds.push(fd);
  addFileFrames(mem, fd, file, EXTENTS, bytes.length);
  return mem;
}

const pfns = [...Array.from({ length: 300 }, (_, i) => 0x40000 + i), ...Array.from({ length: 301 }, (_, i) => 0x80000 + i)];

describe("frames of a file read on demand", () => {
  it("a scan of every frame (read-ahead) reads the file's bytes; the partial last frame ends in zeros", () => {
    const mem = open(8);
    expect(mem.backedRuns()).toEqual([
      { first: 0x40000, count: 300 },
      { first: 0x80000, count: 301 },
    ]);
    for (const pfn of pfns) {
      const got = Buffer.from(mem.readBytes(BigInt(pfn * FRAME_SIZE), FRAME_SIZE));
      expect(got.equals(expected(pfn) as Buffer)).toBe(true);
    }
    expect(mem.frame(0x40000 + 300)).toBeUndefined();
    expect(mem.frame(0x80000 + 301)).toBeUndefined();
  });

  it("any mix of scans and jumps through a small cache reads the file's bytes (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.array(fc.tuple(fc.nat(pfns.length - 1), fc.integer({ min: 1, max: 400 })), { minLength: 1, maxLength: 8 }),
        (cache, walks) => {
          const mem = open(cache);
          for (const [start, len] of walks) {
            for (let k = start; k < Math.min(pfns.length, start + len); k++) {
              const pfn = pfns[k] as number;
              const fr = mem.frame(pfn);
              expect(fr).toBeDefined();
              const got = Buffer.from((fr as Uint32Array).buffer, (fr as Uint32Array).byteOffset, FRAME_SIZE);
              expect(got.equals(expected(pfn) as Buffer)).toBe(true);
            }
          }
        },
      ),
      { numRuns: propertyRuns(30) },
    );
  });
});
