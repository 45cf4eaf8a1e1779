/**
 * Banks larger than one frame-index arena (128 MiB): PhysMem.addBank is public API, so a single
 * buffer of any size the platform holds must read back exactly, through the accessors and through
 * the walker's inlined frame-cache path. One shared backing buffer keeps the fork's memory at
 * ~136 MiB (plus one copy when a property run takes the unaligned path).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR } from "../../src/arch/registers.js";
import { FRAME_CACHE_MASK, FRAME_SIZE, PhysMem } from "../../src/mem/physmem.js";
import { AT_OPS, Walker } from "../../src/walk/walker.js";

const MiB = 1024 * 1024;
/** 128 MiB in frames: the frame index packs a word offset below 2^25 words per arena. */
const BANK_ARENA_FRAMES = (128 * MiB) / FRAME_SIZE;
const BANK_BYTES = 136 * MiB;
const PAGES = BANK_BYTES / FRAME_SIZE;
const BASE = 0x4000_0000; // 1 GiB, 2 MiB aligned so L2 blocks line up with the bank
/** Unique per page: frame number in the bank and a fixed tag in the upper half. */
const marker = (page: number): bigint => (0x6d61_726bn << 32n) | BigInt(page);

// One backing store for the whole file: every 8-byte word distinct (page << 9 | word), page
// starts overwritten with `marker`, so a frame placed in the wrong arena or at the wrong offset
// reads a different value.
const backing = new ArrayBuffer(BANK_BYTES + 2 * FRAME_SIZE);
{
  const w = new Uint32Array(backing);
  for (let i = 0; i < w.length; i += 2) {
    w[i] = i >>> 1;
    w[i + 1] = 0xa5a5_0000;
  }
}
const bank = new Uint8Array(backing, 0, BANK_BYTES);
const view = new DataView(backing);
for (let p = 0; p < PAGES; p++) view.setBigUint64(p * FRAME_SIZE, marker(p), true);

// Stage-1 4 KiB-granule tables in the last four pages of the bank, all beyond 128 MiB
// (Arm ARM D8.3: table descriptor = next-level address | 0b11; block = OA | AF[10] | SH[9:8] | 0b01;
// page = OA | AF | SH | 0b11; AttrIndx 0).
const L0 = PAGES - 4;
const L1 = PAGES - 3;
const L2 = PAGES - 2;
const L3 = PAGES - 1;
const TABLE_PAGES = new Set([L0, L1, L2, L3]);
const pa = (page: number): bigint => BigInt(BASE + page * FRAME_SIZE);
const setDesc = (table: number, idx: number, d: bigint): void => view.setBigUint64(table * FRAME_SIZE + idx * 8, d, true);
for (const t of TABLE_PAGES) new Uint8Array(backing, t * FRAME_SIZE, FRAME_SIZE).fill(0);
setDesc(L0, 0, pa(L1) | 3n);
setDesc(L1, 1, pa(L2) | 3n); // VA [1 GiB, 2 GiB) -> L2
const LEAF = (1n << 10n) | (3n << 8n);
const BLOCKS = BANK_BYTES / (2 * MiB);
// L2 entries 1..BLOCKS-1: 2 MiB blocks identity-mapping the bank; entry 0 -> L3 table.
for (let j = 1; j < BLOCKS; j++) setDesc(L2, j, BigInt(BASE + j * 2 * MiB) | LEAF | 1n);
setDesc(L2, 0, pa(L3) | 3n);
// L3: 512 pages of VA [1 GiB, 1 GiB + 2 MiB) spread over the whole bank (stride PAGES/512).
const STRIDE = Math.floor((PAGES - 8) / 512);
for (let i = 0; i < 512; i++) setDesc(L3, i, pa(i * STRIDE) | LEAF | 3n);

function regs() {
  return {
    ttbr0: pa(L0),
    ttbr1: pa(L0),
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48 }),
    mair: LINUX_MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
  } as const;
}

describe("banks larger than one frame-index arena", () => {
  it("reads every page marker of a 136 MiB bank back through read64, frame and readBytes", () => {
    const m = new PhysMem();
    m.addBank(0x1000n, new Uint8Array(backing, BANK_BYTES, FRAME_SIZE), "before"); // arena 0 is another bank
    m.addBank(BigInt(BASE), bank, "big");
    for (let p = 0; p < PAGES; p++) {
      if (TABLE_PAGES.has(p)) continue;
      const got = m.read64(pa(p));
      if (got !== marker(p))
        expect.fail(`page ${p} (PA 0x${pa(p).toString(16)}): read 0x${got?.toString(16)}, wrote 0x${marker(p).toString(16)}`);
      const fr = m.frame(BASE / FRAME_SIZE + p);
      if (fr?.[2] !== (p * 512 + 1) >>> 0) expect.fail(`frame view of page ${p} holds the wrong words`);
    }
    // A read straddling the 128 MiB arena boundary comes back byte-exact.
    const edge = BANK_ARENA_FRAMES * FRAME_SIZE;
    expect(Buffer.from(m.readBytes(BigInt(BASE + edge - 24), 48)).equals(Buffer.from(bank.subarray(edge - 24, edge + 24)))).toBe(true);
    expect(m.read64(BigInt(BASE + BANK_BYTES))).toBeUndefined(); // one past the end: unbacked
  });

  it("walks tables that live past 128 MiB into pages across the whole bank", () => {
    const m = new PhysMem();
    m.addBank(0x1000n, new Uint8Array(backing, BANK_BYTES, FRAME_SIZE), "before");
    m.addBank(BigInt(BASE), bank, "big");
    const w = new Walker(m, regs());
    for (let i = 0; i < 512; i++) {
      const r = w.translate(BigInt(BASE + i * FRAME_SIZE), AT_OPS.S1E1R);
      expect(r.kind === "ok" && r.pa === pa(i * STRIDE)).toBe(true);
      if (r.kind === "ok" && m.read64(r.pa) !== marker(i * STRIDE)) expect.fail(`L3 page ${i}: marker mismatch`);
    }
    for (let j = 1; j < BLOCKS; j++) {
      const va = BASE + j * 2 * MiB + 0x1_2340;
      const r = w.translate(BigInt(va), AT_OPS.S1E1R);
      expect(r.kind === "ok" ? r.pa : r.kind).toBe(BigInt(va));
      const page = ((va - BASE) / FRAME_SIZE) | 0;
      expect(m.read64(pa(page))).toBe(marker(page));
    }
  });

  it("agrees with the source bytes for random bank sizes and offsets around arena and cache boundaries (property)", () => {
    // Boundaries: the 16 MiB store arena, the 8192-frame (32 MiB) direct-mapped cache, the
    // 128 MiB bank arena (= frame-index word limit).
    const boundaries = [4 * 1024 * 1024 * 4, (FRAME_CACHE_MASK + 1) * FRAME_SIZE, BANK_ARENA_FRAMES * FRAME_SIZE];
    const sizeArb = fc
      .tuple(fc.constantFrom(...boundaries), fc.integer({ min: -3, max: 3 }), fc.integer({ min: -9, max: 9 }))
      .map(([b, pages, bytes]) => b + pages * FRAME_SIZE + bytes);
    fc.assert(
      fc.property(
        sizeArb,
        fc.integer({ min: 0, max: 2 * FRAME_SIZE }),
        fc.integer({ min: 0, max: 0xff_ffff }),
        fc.boolean(),
        fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
        (size, off, basePage, otherFirst, probes) => {
          const start = off % 4 === 1 ? off : off & ~(FRAME_SIZE - 1); // mostly the view path
          const len = Math.min(size, backing.byteLength - start);
          const data = new Uint8Array(backing, start, len);
          const base = 0x1_0000_0000 + basePage * FRAME_SIZE;
          const m = new PhysMem();
          if (otherFirst) m.addBank(0x1000n, new Uint8Array(FRAME_SIZE).fill(0xee), "other");
          m.addBank(BigInt(base), data, "bank");
          m.write64(0x2000_0000n, 0x1234n); // a store arena after the bank
          const frames = Math.ceil(len / FRAME_SIZE);
          const near = (b: number): number[] => [b - 1, b, b + 1].map((f) => Math.min(Math.max(f, 0), frames - 1));
          const frameProbes = [0, frames - 1, ...near(BANK_ARENA_FRAMES), ...near(FRAME_CACHE_MASK + 1), ...probes.map((p) => p % frames)];
          const src = new DataView(backing, start, len);
          for (const f of frameProbes) {
            for (const inFrame of [0, 8, FRAME_SIZE - 8]) {
              const o = f * FRAME_SIZE + inFrame;
              const want = o + 8 <= len ? src.getBigUint64(o, true) : undefined;
              const got = m.read64(BigInt(base + o));
              if (want !== undefined && got !== want) {
                expect.fail(
                  `size 0x${len.toString(16)} offset ${start}: byte 0x${o.toString(16)} read 0x${got?.toString(16)}, expected 0x${want.toString(16)}`,
                );
              }
            }
          }
          // Past the bank's last frame: unbacked.
          expect(m.read64(BigInt(base + frames * FRAME_SIZE))).toBeUndefined();
          expect(m.read64(0x2000_0000n)).toBe(0x1234n);
        },
      ),
      { numRuns: 40 },
    );
  });
});
