import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DescriptorFormat,
  decodeDescriptor,
  descriptorFormat,
  encodeDescriptor,
  encodeLeaf,
  encodeTable,
} from "../../src/arch/descriptor.js";
import { blockAllowed, GRANULE_4K, GRANULE_16K, GRANULE_64K, GRANULES, levelShift } from "../../src/arch/granule.js";

const formats: DescriptorFormat[] = GRANULES.flatMap((granule) => [
  descriptorFormat(granule),
  granule.size === 65536 ? descriptorFormat(granule, { oaBits: 52 }) : descriptorFormat(granule, { ds: true, oaBits: 52 }),
]);

describe("descriptor codec", () => {
  // Arm ARM D8.3: a descriptor's fields occupy fixed bit positions; encode(decode(x)) must be x
  // for every value whose ignored/RES0 bits are zero.
  for (const fmt of formats) {
    const tag = `${fmt.granule.name}${fmt.ds ? " DS" : ""}${fmt.oa52 ? " 52-bit" : ""}`;
    it(`round-trips leaf descriptors at every block/page level (${tag})`, () => {
      const levels = [-1, 0, 1, 2, 3].filter((l) => l === 3 || blockAllowed(fmt.granule, l, { ds: fmt.ds, pa52: fmt.oa52 }));
      const oaBits = fmt.oa52 ? 52 : 48;
      fc.assert(
        fc.property(
          fc.constantFrom(...levels),
          fc.bigInt({ min: 0n, max: (1n << BigInt(oaBits)) - 1n }),
          fc.record({
            attrIndx: fc.integer({ min: 0, max: 7 }),
            ns: fc.boolean(),
            ap: fc.integer({ min: 0, max: 3 }),
            sh: fc.integer({ min: 0, max: 3 }),
            af: fc.boolean(),
            nG: fc.boolean(),
            gp: fc.boolean(),
            dbm: fc.boolean(),
            contiguous: fc.boolean(),
            pxn: fc.boolean(),
            uxn: fc.boolean(),
            sw: fc.integer({ min: 0, max: 15 }),
            pbha: fc.integer({ min: 0, max: 15 }),
          }),
          (level, oaRaw, f) => {
            const shift = BigInt(levelShift(fmt.granule, level));
            const oa = (oaRaw >> shift) << shift;
            const sh = fmt.ds ? 0 : f.sh;
            const raw = encodeLeaf({ ...f, sh, oa }, level, fmt);
            const d = decodeDescriptor(raw, level, fmt);
            expect(d.kind).toBe(level === 3 ? "page" : "block");
            if (d.kind !== "block" && d.kind !== "page") return;
            expect(d.oa).toBe(oa);
            expect({ ...d, raw: 0n, level: 0, kind: "x", oa: 0n, nT: false }).toEqual({
              ...f,
              sh,
              raw: 0n,
              level: 0,
              kind: "x",
              oa: 0n,
              nT: false,
            });
            expect(encodeDescriptor(d, fmt)).toBe(raw);
          },
        ),
      );
    });
    it(`round-trips table descriptors (${tag})`, () => {
      const oaBits = fmt.oa52 ? 52 : 48;
      fc.assert(
        fc.property(
          fc.constantFrom(0, 1, 2),
          fc.bigInt({ min: 0n, max: (1n << BigInt(oaBits)) - 1n }),
          fc.integer({ min: 0, max: 3 }),
          fc.boolean(),
          fc.boolean(),
          fc.boolean(),
          (level, a, apTable, uxnTable, pxnTable, nsTable) => {
            const g = BigInt(fmt.granule.shift);
            const nextTable = (a >> g) << g;
            const raw = encodeTable({ nextTable, apTable, uxnTable, pxnTable, nsTable }, fmt);
            const d = decodeDescriptor(raw, level, fmt);
            expect(d).toMatchObject({ kind: "table", nextTable, apTable, uxnTable, pxnTable, nsTable });
            expect(encodeDescriptor(d, fmt)).toBe(raw);
          },
        ),
      );
    });
  }

  it("decodes reserved encodings as the hardware does", () => {
    const f4: DescriptorFormat = descriptorFormat(GRANULE_4K);
    // bits[1:0]=0b01 at level 3 is reserved and behaves as invalid (ASL AArch64.DecodeDescriptorType).
    expect(decodeDescriptor(0x40000401n, 3, f4)).toMatchObject({ kind: "invalid", reason: "reserved-level3" });
    // 4K level-0 blocks exist only with TCR.DS=1 (FEAT_LPA2).
    expect(decodeDescriptor(0x401n, 0, f4)).toMatchObject({ kind: "invalid", reason: "block-not-allowed" });
    expect(decodeDescriptor(0x401n, 0, descriptorFormat(GRANULE_4K, { ds: true, oaBits: 52 }))).toMatchObject({ kind: "block" });
    // 16K level-1 blocks need DS; 64K level-1 blocks need a 52-bit PA (FEAT_LPA).
    expect(decodeDescriptor(0x401n, 1, descriptorFormat(GRANULE_16K)).kind).toBe("invalid");
    expect(decodeDescriptor(0x401n, 1, descriptorFormat(GRANULE_64K)).kind).toBe("invalid");
    expect(decodeDescriptor(0x401n, 1, descriptorFormat(GRANULE_64K, { oaBits: 52 })).kind).toBe("block");
    // bit 0 clear: invalid whatever the other bits say.
    expect(decodeDescriptor(0xffff_ffff_ffff_fffen, 2, f4).kind).toBe("invalid");
  });

  it("places 52-bit output address bits where FEAT_LPA and FEAT_LPA2 put them", () => {
    // 64K + LPA: OA[51:48] in bits [15:12].
    const d64 = encodeLeaf({ oa: 0xf_0000_4000_0000n, af: true }, 2, descriptorFormat(GRANULE_64K, { oaBits: 52 }));
    expect((d64 >> 12n) & 0xfn).toBe(0xfn);
    // DS=1: OA[51:50] in bits [9:8], OA[49:48] in place.
    const d4 = encodeLeaf({ oa: 0xf_0000_4000_0000n, af: true }, 2, descriptorFormat(GRANULE_4K, { ds: true, oaBits: 52 }));
    expect((d4 >> 8n) & 3n).toBe(3n);
    expect((d4 >> 48n) & 3n).toBe(3n);
  });
});
