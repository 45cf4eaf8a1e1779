/**
 * The LZO1X decoder (src/dump/diskdump/lzo1x.ts) on real liblzo output (lzop, levels 1 and 9)
 * and on damaged streams: every damage is an error, never a short or overlong page.
 */
import { describe, expect, it } from "vitest";
import { LzoError, lzo1xDecompress } from "../../src/dump/diskdump/lzo1x.js";
import { skipBecause } from "../helpers/skip.js";
import { haveLzop, lzopCompress } from "./diskdump/lzop.js";

function samplePage(): Uint8Array {
  const p = new Uint8Array(4096);
  // Descriptor-like words with repeats at short and long distances, runs of zeros and literals.
  for (let i = 0; i < 512; i++) {
    const v = i % 7 === 0 ? 0 : 0x40000000 + ((i * 0x1000) % 0x300000) + 0x703;
    new DataView(p.buffer).setUint32(i * 8, v, true);
  }
  for (let i = 3000; i < 3100; i++) p[i] = (i * 37) & 0xff;
  return p;
}

const noLzop = haveLzop() || process.env.CI ? undefined : "lzop not found";
describe.skipIf(skipBecause("LZO1X decoder on lzop output", noLzop))("LZO1X decoder", () => {
  for (const level of [1, 3, 9]) {
    it(`decodes liblzo's level ${level} output to the original page`, () => {
      const page = samplePage();
      const z = lzopCompress(page, level);
      expect(z.length).toBeLessThan(page.length);
      expect(Buffer.from(lzo1xDecompress(z, page.length)).equals(Buffer.from(page))).toBe(true);
    });
  }
  it("refuses a truncated stream, a wrong output size and a match before the output start", () => {
    const page = samplePage();
    const z = lzopCompress(page, 1);
    expect(() => lzo1xDecompress(z.subarray(0, z.length - 3), page.length)).toThrow(LzoError);
    expect(() => lzo1xDecompress(z, page.length - 1)).toThrow(LzoError);
    expect(() => lzo1xDecompress(z, page.length + 1)).toThrow(/stream ends after 4096 of 4097 bytes/);
    // One literal (first byte 18), then opcode 0x40: a 3-byte match at distance (0xff << 3) + 1 = 2041 > 1.
    expect(() => lzo1xDecompress(Uint8Array.from([18, 0xaa, 0x40, 0xff, 0x11, 0, 0]), 8)).toThrow(/reaches before the output start/);
  });
});
