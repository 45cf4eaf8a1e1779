/**
 * A by-VA TLBI names VA[55:12] in operand bits [43:0] (Arm ARM D8.14, TLBI VAE1 "Xt" layout);
 * the VA offset it names within a half of `ia` bits is that page number's low ia-12 bits times
 * 4 KiB. tlbi-op.ts pageOffset computes it on 32-bit halves (no floating-point remainder).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pageOffset } from "../../src/machine/tlbi-op.js";

describe("TLBI by-VA page offset", () => {
  it("is the page number's low ia-12 bits times 4 KiB for every half size", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 44n) - 1n }), fc.integer({ min: 25, max: 52 }), (page, ia) => {
        const want = Number((page & ((1n << BigInt(ia - 12)) - 1n)) << 12n);
        expect(pageOffset(Number(page), ia)).toBe(want);
      }),
      { numRuns: 500 },
    );
  });
});
