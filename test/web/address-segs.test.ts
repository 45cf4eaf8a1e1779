/**
 * The UI's decoder shows the address field as bit segments (web/src/lib/fields.ts addressSegs).
 * They must be the layout of the one home, arch addressOf / addressFieldMask (Arm ARM D8.3:
 * OA[49:48] in [49:48] and OA[51:50] in [9:8] with DS; OA[51:48] in [15:12] for 64K with a
 * 52-bit OA), for every granule and format: same descriptor bits, same address.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressFieldMask, addressOf, descriptorFormat } from "../../src/arch/descriptor.js";
import { GRANULES, levelShift } from "../../src/arch/granule.js";
import { addressSegs, extract } from "../../web/src/lib/fields.js";
import { propertyRuns } from "../helpers/property.js";

const FORMATS = GRANULES.flatMap((g) => [
  descriptorFormat(g),
  descriptorFormat(g, { ds: true, oaBits: 48 }),
  descriptorFormat(g, { ds: true, oaBits: 52 }),
  descriptorFormat(g, { oaBits: 52 }),
]);

describe("UI address segments follow the arch address field", () => {
  for (const fmt of FORMATS) {
    const aligns = [...new Set([3, 2, 1].map((l) => levelShift(fmt.granule, l)).concat(fmt.granule.shift))];
    it(`${fmt.granule.name} ds=${fmt.ds} oa52=${fmt.oa52}`, () => {
      for (const a of aligns) {
        let bits = 0n;
        for (const s of addressSegs(fmt, a)) bits |= ((1n << BigInt(s.msb - s.lsb + 1)) - 1n) << BigInt(s.lsb);
        expect(bits, `align ${a}`).toBe(addressFieldMask(fmt, a));
      }
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(...aligns), (raw, a) => {
          const hi = Number(raw >> 32n);
          const lo = Number(raw & 0xffffffffn);
          expect(extract(raw, addressSegs(fmt, a))).toBe(BigInt(addressOf(fmt, hi, lo, a)));
        }),
        { numRuns: propertyRuns(100) },
      );
    });
  }
});
