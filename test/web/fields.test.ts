/** Decoder field model: every field reads and writes the bits the Arm ARM assigns (D8.3). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeDescriptor, descriptorFormat, encodeLeaf } from "../../src/arch/descriptor.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K } from "../../src/arch/granule.js";
import { describeFields, setField } from "../../web/src/lib/fields.js";

const F4 = descriptorFormat(GRANULE_4K);

describe("descriptor fields", () => {
  it("reads a 4K page like decodeDescriptor", () => {
    const raw = encodeLeaf(
      { oa: 0x4123_4000n, attrIndx: 4, ap: 2, sh: 3, af: true, nG: true, pxn: true, uxn: true, contiguous: true },
      3,
      F4,
    );
    const d = describeFields(raw, 3, F4);
    const v = (k: string) => d.fields.find((f) => f.key === k)?.value;
    expect(d.kind).toBe("page");
    expect(v("oa")).toBe(0x4123_4000n);
    expect(v("attrIndx")).toBe(4n);
    expect(v("ap")).toBe(2n);
    expect(v("contiguous")).toBe(1n);
    // Unnamed: bit 63 (ignored in a leaf) and bits [49:48] (RES0 without FEAT_LPA2).
    expect(d.fields.find((f) => f.key === "other")?.segs).toEqual([
      { msb: 63, lsb: 63, at: 63 },
      { msb: 49, lsb: 48, at: 48 },
    ]);
  });

  it("places 52-bit output addresses: 64K OA[51:48] in bits [15:12], DS OA[51:50] in bits [9:8]", () => {
    const f64 = descriptorFormat(GRANULE_64K, { oaBits: 52 });
    const a = setField(3n, 3, f64, "oa", 0x000f_0000_0001_0000n);
    expect(a).toBe(0x0000_0000_0001_f003n);
    const fds = descriptorFormat(GRANULE_16K, { ds: true, oaBits: 52 });
    const b = setField(3n, 3, fds, "oa", 0x000c_0000_0000_4000n);
    expect(b).toBe(0x0000_0000_0000_4303n);
    expect(describeFields(b, 3, fds).fields.find((f) => f.key === "sh")).toBeUndefined();
  });

  it("setting a field to its current value is the identity, and set-then-read returns the value", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(1, 2, 3), (raw, level) => {
        const d = describeFields(raw, level, F4);
        for (const f of d.fields) {
          expect(setField(raw, level, F4, f.key, f.value)).toBe(raw);
        }
        const af = d.fields.find((f) => f.key === "af");
        if (af) {
          const flipped = setField(raw, level, F4, "af", af.value ^ 1n);
          const dd = decodeDescriptor(flipped, level, F4);
          expect(dd.kind !== "invalid" && dd.kind !== "table" && dd.af).toBe(af.value === 0n);
        }
      }),
    );
  });

  it("rejects values that do not fit", () => {
    const raw = encodeLeaf({ oa: 0x4000_0000n }, 3, F4);
    expect(() => setField(raw, 3, F4, "attrIndx", 8n)).toThrow(/AttrIndx/);
    expect(() => setField(raw, 3, F4, "oa", 0x4000_0800n)).toThrow(/does not fit/);
  });
});
