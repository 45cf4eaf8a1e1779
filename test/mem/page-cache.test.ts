/**
 * The bounded pool of frames read on demand (PhysMem `sourceCacheBytes`): when it is full the
 * clock drops a frame and the next miss reads it again from its source, so what a walk sees never
 * depends on the pool's size; a written frame leaves the pool and is never dropped; memory held
 * for source frames never exceeds the pool.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FRAME_SIZE, type FrameSource, PhysMem } from "../../src/mem/physmem.js";
import { propertyRuns } from "../helpers/property.js";

/** A source of `n` frames from PFN `first` whose word k holds (pfn << 10 | k) + 1. */
function counted(first: number, n: number): FrameSource & { reads: number } {
  const src = {
    reads: 0,
    has: (pfn: number) => pfn >= first && pfn < first + n,
    read: (pfn: number, out: Uint8Array) => {
      src.reads++;
      const dv = new DataView(out.buffer, out.byteOffset, FRAME_SIZE);
      for (let k = 0; k < FRAME_SIZE / 4; k++) dv.setUint32(k * 4, ((pfn * 1024 + k + 1) & 0xffffffff) >>> 0, true);
      return true;
    },
    runs: () => [{ first, count: n }],
  };
  return src;
}

const word = (pfn: number, k: number): number => ((pfn * 1024 + k + 1) & 0xffffffff) >>> 0;

/** Words held by frame storage (all arenas): what a memory costs. */
function heldWords(m: PhysMem): number {
  return m.arenas.reduce((a, x) => a + x.length, 0);
}

describe("bounded page cache for frames read on demand", () => {
  it("a pool of 4 frames over 64 source frames reads every frame right, holds at most 4 frames, and reads again after eviction", () => {
    const m = new PhysMem({ sourceCacheBytes: 4 * FRAME_SIZE });
    const src = counted(0x40000, 64);
    m.addSource(src);
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < 64; i++) {
        const pfn = 0x40000 + i;
        expect(m.load64(pfn * FRAME_SIZE + 8)).toBe(true);
        expect(m.lo >>> 0).toBe(word(pfn, 2));
        expect(m.hi >>> 0).toBe(word(pfn, 3));
      }
    }
    // 128 loads of 64 frames through 4 slots: every load was a miss, none served stale data.
    expect(src.reads).toBe(128);
    expect(m.sourceReads).toBe(128);
    expect(heldWords(m)).toBe(4 * 1024);
  });

  it("a frame used again before the pool fills is not read twice (the pool keeps it)", () => {
    const m = new PhysMem({ sourceCacheBytes: 16 * FRAME_SIZE });
    const src = counted(0x40000, 8);
    m.addSource(src);
    for (let pass = 0; pass < 5; pass++) for (let i = 0; i < 8; i++) m.load64((0x40000 + i) * FRAME_SIZE);
    expect(src.reads).toBe(8);
  });

  it("a frame found in the pool after a frame-cache conflict is not read again", () => {
    // PFNs 8192 apart share a frame-cache slot: alternating between them misses the frame
    // cache each time but hits the pool index.
    const m = new PhysMem({ sourceCacheBytes: 4 * FRAME_SIZE });
    const a = counted(0x40000, 1);
    const b = counted(0x40000 + 8192, 1);
    m.addSource(a);
    m.addSource(b);
    for (let i = 0; i < 10; i++) {
      m.load64(0x40000 * FRAME_SIZE);
      m.load64((0x40000 + 8192) * FRAME_SIZE);
    }
    expect(a.reads + b.reads).toBe(2);
  });

  it("a written frame leaves the pool: eviction pressure does not lose the write", () => {
    const m = new PhysMem({ sourceCacheBytes: 2 * FRAME_SIZE });
    m.addSource(counted(0x40000, 32));
    m.write64(0x40000010n, 0x1122334455667788n);
    for (let i = 1; i < 32; i++) m.load64((0x40000 + i) * FRAME_SIZE);
    expect(m.read64(0x40000010n)).toBe(0x1122334455667788n);
    // The rest of the frame is the source's data, kept from before the write.
    expect(m.read64(0x40000018n)).toBe((BigInt(word(0x40000, 7)) << 32n) | BigInt(word(0x40000, 6)));
    // writeBytes and zero take the same path.
    m.writeBytes(0x40001000n, new Uint8Array([1, 2, 3, 4]));
    m.zero(0x40002000n, FRAME_SIZE);
    for (let i = 3; i < 32; i++) m.load64((0x40000 + i) * FRAME_SIZE);
    expect(m.read64(0x40001000n)).toBe((BigInt(word(0x40001, 1)) << 32n) | 0x04030201n);
    expect(m.read64(0x40002000n)).toBe(0n);
  });

  it("a frame view is that frame's data while no other frame is read", () => {
    const m = new PhysMem({ sourceCacheBytes: FRAME_SIZE });
    m.addSource(counted(0x40000, 4));
    const v = m.frame(0x40003);
    expect(v?.[5]).toBe(word(0x40003, 5));
  });

  it("a pool smaller than one frame is refused", () => {
    expect(() => new PhysMem({ sourceCacheBytes: 100 })).toThrow(/at least one frame/);
  });

  it("any access order through any pool size reads what a fully loaded memory holds (property)", () => {
    const n = 48;
    const ref = counted(0x80000, n);
    const image = Array.from({ length: n }, (_, i) => {
      const b = new Uint8Array(FRAME_SIZE);
      ref.read(0x80000 + i, b);
      return b;
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: 511 }), fc.boolean()), {
          minLength: 1,
          maxLength: 300,
        }),
        (frames, ops) => {
          const m = new PhysMem({ sourceCacheBytes: frames * FRAME_SIZE });
          const mirror = new PhysMem();
          m.addSource(counted(0x80000, n));
          for (let i = 0; i < n; i++) mirror.writeBytes(BigInt((0x80000 + i) * FRAME_SIZE), image[i] as Uint8Array);
          for (const [f, k, write] of ops) {
            const pa = BigInt((0x80000 + f) * FRAME_SIZE + k * 8);
            if (write) {
              const v = BigInt(f * 1000 + k);
              m.write64(pa, v);
              mirror.write64(pa, v);
            } else {
              expect(m.read64(pa)).toBe(mirror.read64(pa));
            }
          }
          for (let i = 0; i < n; i++) {
            const pa = BigInt((0x80000 + i) * FRAME_SIZE);
            expect(Buffer.compare(m.readBytes(pa, FRAME_SIZE), mirror.readBytes(pa, FRAME_SIZE))).toBe(0);
          }
          // Source frames never take more than the pool (written frames are kept outside it).
          const written = new Set(ops.filter((o) => o[2]).map((o) => o[0])).size;
          expect(heldWords(m)).toBeLessThanOrEqual((Math.max(frames, 64) + Math.max(written, 64)) * 1024);
        },
      ),
      { numRuns: propertyRuns(60) },
    );
  });
});
