import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sumHi, sumLo } from "../../src/arch/u64.js";

describe("sumHi/sumLo: a 64-bit sum over 32-bit halves", () => {
  it("equal the bigint sum for any descriptor and an exact count below 2^53 that stays below 2^64 (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.maxSafeNat(), (v, add) => {
        fc.pre(v + BigInt(add) < 1n << 64n);
        // Halves as the walk reads them: signed int32 words.
        const hi = Number(v >> 32n) | 0;
        const lo = Number(v & 0xffffffffn) | 0;
        const sum = v + BigInt(add);
        expect([sumHi(hi, lo, add), sumLo(lo, add)]).toEqual([Number(sum >> 32n), Number(sum & 0xffffffffn)]);
      }),
    );
  });
  it("carries out of the low half", () => {
    expect([sumHi(0, 0xffff_f000 | 0, 0x1000), sumLo(0xffff_f000 | 0, 0x1000)]).toEqual([1, 0]);
  });
});
