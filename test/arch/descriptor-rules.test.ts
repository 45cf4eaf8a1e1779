/**
 * Descriptor fields that are rarely set (nT, NS, DS, 52-bit OAs, DS with 64K) and the encoder's
 * checks, each pinned by the Arm ARM rule it encodes (mutation testing:
 * `npm run test:mutation -- descriptor`).
 */
import { describe, expect, it } from "vitest";
import {
  apDescription,
  type DescriptorFormat,
  decodeDescriptor,
  descriptorAddress,
  descriptorFormat,
  descriptorKind,
  encodeDescriptor,
  encodeLeaf,
  encodeTable,
  SH_NAMES,
} from "../../src/arch/descriptor.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, type Granule } from "../../src/arch/granule.js";

/** The one place these tests build a descriptor format (lpa = implemented PA is 52 bits). */
function fmtOf(granule: Granule, ds: boolean, oa52: boolean, lpa = oa52): DescriptorFormat {
  // Through the one constructor: it normalises DS (none with 64K) and the 52-bit OA per granule.
  return descriptorFormat(granule, { ds, oaBits: oa52 ? 52 : 48, paMaxBits: lpa ? 52 : 48 });
}

const F4 = fmtOf(GRANULE_4K, false, false);
const F4_DS = fmtOf(GRANULE_4K, true, true);
const F16_DS = fmtOf(GRANULE_16K, true, true);
const F64 = fmtOf(GRANULE_64K, false, false);
const F64_LPA = fmtOf(GRANULE_64K, false, true);

function leaf(raw: bigint, level: number, fmt: DescriptorFormat) {
  const d = decodeDescriptor(raw, level, fmt);
  if (d.kind !== "block" && d.kind !== "page") throw new Error(`expected a leaf, got ${d.kind}`);
  return d;
}

describe("leaf attribute bits", () => {
  // Arm ARM DDI0487 D8.3.2 "Block descriptor and Page descriptor formats": lower attributes
  // AttrIndx[4:2], NS[5], AP[7:6], SH[9:8], AF[10], nG[11]; nT[16] in block descriptors
  // (FEAT_BBM); upper attributes GP[50], DBM[51], Contiguous[52], PXN[53], UXN[54], software
  // [58:55], PBHA/IGNORED [62:59]. Each bit set alone decodes to exactly its own field.
  const base = 0x4000_0000n | 0x401n; // 4K level-2 block at 1GB, AF=1
  const none = leaf(base, 2, F4);
  it.each<[string, bigint, Record<string, unknown>]>([
    ["AttrIndx", 5n << 2n, { attrIndx: 5 }],
    ["NS", 1n << 5n, { ns: true }],
    ["AP", 2n << 6n, { ap: 2 }],
    ["SH", 3n << 8n, { sh: 3 }],
    ["nG", 1n << 11n, { nG: true }],
    ["nT", 1n << 16n, { nT: true }],
    ["GP", 1n << 50n, { gp: true }],
    ["DBM", 1n << 51n, { dbm: true }],
    ["Contiguous", 1n << 52n, { contiguous: true }],
    ["PXN", 1n << 53n, { pxn: true }],
    ["UXN", 1n << 54n, { uxn: true }],
    ["software bits", 0xan << 55n, { sw: 0xa }],
    ["PBHA", 0x5n << 59n, { pbha: 5 }],
  ])("%s decodes from its own bits only", (_name, bits, fields) => {
    const d = leaf(base | bits, 2, F4);
    expect(d).toEqual({ ...none, raw: base | bits, ...fields });
    expect(encodeLeaf(d, 2, F4)).toBe(base | bits);
  });

  it("AF is bit 10", () => {
    expect(leaf(0x4000_0001n, 2, F4).af).toBe(false);
    expect(none.af).toBe(true);
  });

  // nT exists only in block descriptors (D8.3.2, FEAT_BBM); in a 4K page, bit 16 is OA[16].
  it("bit 16 is nT in a block but an output-address bit in a page", () => {
    const page = leaf(0x1_0000n | 0x403n, 3, F4);
    expect(page.nT).toBe(false);
    expect(page.oa).toBe(0x1_0000n);
    expect(encodeLeaf({ oa: 0x2000n, nT: true }, 3, F4)).toBe(0x2003n);
    expect(encodeLeaf({ oa: 0x20_0000n, nT: true }, 2, F4)).toBe(0x20_0000n | (1n << 16n) | 1n);
  });
});

describe("table attribute bits", () => {
  // D8.3.1 "Table descriptor format": NSTable[63], APTable[62:61], UXNTable/XNTable[60],
  // PXNTable[59]; bits [1:0]=0b11.
  it.each<[string, Record<string, unknown>, bigint]>([
    ["NSTable", { nsTable: true }, 1n << 63n],
    ["APTable[0]", { apTable: 1 }, 1n << 61n],
    ["APTable[1]", { apTable: 2 }, 1n << 62n],
    ["UXNTable", { uxnTable: true }, 1n << 60n],
    ["PXNTable", { pxnTable: true }, 1n << 59n],
  ])("%s is encoded in its own bit", (_name, fields, bit) => {
    const raw = encodeTable({ nextTable: 0x8000_0000n, ...fields }, F4);
    expect(raw).toBe(0x8000_0003n | bit);
    expect(decodeDescriptor(raw, 1, F4)).toMatchObject({ kind: "table", nextTable: 0x8000_0000n, ...fields });
  });

  it("a table with no attribute bits set decodes them all clear", () => {
    expect(decodeDescriptor(0x8000_0003n, 0, F4)).toEqual({
      kind: "table",
      level: 0,
      raw: 0x8000_0003n,
      nextTable: 0x8000_0000n,
      nsTable: false,
      apTable: 0,
      uxnTable: false,
      pxnTable: false,
    });
  });

  // D8.3.1: the next-level table address is granule-aligned; bits below the granule are IGNORED.
  it("the next-table address drops the bits below the granule", () => {
    expect(decodeDescriptor(0x8000_0000n | 0xf00n | 3n, 1, F4)).toMatchObject({ nextTable: 0x8000_0000n });
    expect(decodeDescriptor(0x8000_0000n | 0xf000n | 3n, 2, F64)).toMatchObject({ nextTable: 0x8000_0000n });
  });
});

describe("52-bit output addresses", () => {
  // D8.3 with FEAT_LPA (64K granule, 52-bit OA): OA[51:48] are descriptor bits [15:12].
  it("64K with a 52-bit OA reads OA[51:48] from bits [15:12]", () => {
    const raw = 0x0000_4000_0000_0000n | 0xa000n | 0x403n;
    expect(leaf(raw, 3, F64_LPA).oa).toBe(0xa_4000_0000_0000n);
    expect(decodeDescriptor(raw | 2n, 2, F64_LPA)).toMatchObject({ kind: "table", nextTable: 0xa_4000_0000_0000n });
  });

  // Without a 52-bit OA, bits [15:12] of a 64K descriptor are not address bits.
  it("64K with a 48-bit OA ignores bits [15:12]", () => {
    expect(leaf(0x0000_4000_0000_0000n | 0xa000n | 0x403n, 3, F64).oa).toBe(0x4000_0000_0000n);
  });

  // D8.3 with FEAT_LPA2 (TCR.DS=1, 4K/16K): OA[49:48] in bits [49:48], OA[51:50] in bits [9:8];
  // SH is then taken from TCR.SHn, not the descriptor.
  it.each([F4_DS, F16_DS])("DS=1 ($granule.name) reads OA[51:50] from bits [9:8] and OA[49:48] in place", (fmt) => {
    const raw = 0x0003_0000_0000_0000n | (2n << 8n) | 0x403n;
    const d = leaf(raw, 3, fmt);
    expect(d.oa).toBe(0xb_0000_0000_0000n);
    expect(d.sh).toBe(0);
    expect(encodeLeaf({ oa: d.oa, af: true, sh: 3 }, 3, fmt)).toBe(raw);
    expect(decodeDescriptor(raw | 2n, 1, fmt)).toMatchObject({ kind: "table", nextTable: 0xb_0000_0000_0000n });
  });

  it("without DS, bits [49:48] are not address bits", () => {
    expect(leaf(0x0003_0000_4000_0403n, 3, F4).oa).toBe(0x4000_0000n);
  });

  it("DS with a 48-bit output size keeps OA[49:48] but does not read bits [9:8] as OA[51:50]", () => {
    const d = leaf(0x0003_0000_0000_0000n | (2n << 8n) | 0x403n, 3, fmtOf(GRANULE_4K, true, false));
    expect(d.oa).toBe(0x3_0000_0000_0000n);
  });

  // TCR.DS has no effect with the 64K granule (D8.3: the 64K 52-bit format is FEAT_LPA's), so
  // bits [9:8] stay SH and bits [49:48] are not address bits.
  it("DS with the 64K granule still uses the 64K format", () => {
    const f = fmtOf(GRANULE_64K, true, true);
    const raw = 0x0003_4000_0000_0000n | 0x5000n | (3n << 8n) | 0x403n;
    const d = leaf(raw, 3, f);
    expect(d.oa).toBe(0x5_4000_0000_0000n);
    expect(d.sh).toBe(3);
    expect(descriptorAddress(raw, f, 16)).toBe(0x5_4000_0000_0000n);
    expect(encodeLeaf({ oa: 0x5_4000_0000_0000n, sh: 3, af: true }, 3, f)).toBe(0x4000_0000_0000n | 0x5000n | (3n << 8n) | 0x403n);
  });

  it("a block's output address is aligned down to the block size", () => {
    expect(descriptorAddress(0x4020_1401n, F4, 21)).toBe(0x4020_0000n);
    expect(descriptorAddress(0x4020_1401n, F4, 12)).toBe(0x4020_1000n);
  });
});

describe("the encoder refuses addresses the format cannot hold", () => {
  it("an output address not aligned to the entry size", () => {
    expect(() => encodeLeaf({ oa: 0x1000n }, 2, F4)).toThrow(/output address 0x1000 is not aligned to 2097152 bytes/);
    expect(() => encodeTable({ nextTable: 0x800n }, F4)).toThrow(/next-level table address 0x800 is not aligned to 4096 bytes/);
  });

  it("an output address wider than the OA size (48 bits, or 52 with FEAT_LPA/LPA2)", () => {
    expect(() => encodeLeaf({ oa: 1n << 48n }, 3, F4)).toThrow(/0x1000000000000 does not fit in 48 bits/);
    expect(encodeLeaf({ oa: (1n << 48n) - 4096n }, 3, F4)).toBe(0xffff_ffff_f003n);
    expect(() => encodeLeaf({ oa: 1n << 52n }, 3, F4_DS)).toThrow(/does not fit in 52 bits/);
    expect(encodeLeaf({ oa: 1n << 51n }, 3, F4_DS)).toBe((2n << 8n) | 3n);
    expect(encodeLeaf({ oa: 1n << 51n }, 3, F64_LPA)).toBe(0x8000n | 3n);
  });

  it("masks oversized field values to their width", () => {
    const raw = encodeLeaf({ oa: 0n, attrIndx: 0xf, ap: 0x7, sh: 0x7, sw: 0x1f, pbha: 0x1f }, 3, F4);
    expect(raw).toBe(3n | (7n << 2n) | (3n << 6n) | (3n << 8n) | (0xfn << 55n) | (0xfn << 59n));
    expect(encodeTable({ nextTable: 0n, apTable: 7 }, F4)).toBe(3n | (3n << 61n));
  });

  it("an invalid descriptor re-encodes to its raw value", () => {
    const d = decodeDescriptor(0xdead_0000n, 2, F4);
    expect(d).toEqual({ kind: "invalid", level: 2, raw: 0xdead_0000n, reason: "invalid" });
    expect(encodeDescriptor(d, F4)).toBe(0xdead_0000n);
  });
});

describe("descriptor kinds", () => {
  // ASL AArch64.DecodeDescriptorType: bit 0 clear is invalid; 0b11 is a table below level 3 and
  // a page at level 3; 0b01 is a block where AArch64.BlockDescSupported allows it, else invalid
  // (reserved at level 3).
  it("classifies every low-bit pattern at every level", () => {
    const kinds = (raw: bigint) => [0, 1, 2, 3].map((l) => descriptorKind(raw, l, F4));
    expect(kinds(0n)).toEqual(Array(4).fill({ kind: "invalid", reason: "invalid" }));
    expect(kinds(2n)).toEqual(Array(4).fill({ kind: "invalid", reason: "invalid" }));
    expect(kinds(3n)).toEqual([{ kind: "table" }, { kind: "table" }, { kind: "table" }, { kind: "page" }]);
    expect(kinds(1n)).toEqual([
      { kind: "invalid", reason: "block-not-allowed" },
      { kind: "block" },
      { kind: "block" },
      { kind: "invalid", reason: "reserved-level3" },
    ]);
  });

  // 64K level-1 blocks depend on the implemented PA size (FEAT_LPA), not on TCR.IPS: `lpa`
  // decides, whatever the effective OA size.
  it("64K level-1 blocks follow the implemented PA size", () => {
    expect(descriptorKind(1n, 1, fmtOf(GRANULE_64K, false, false, true))).toEqual({ kind: "block" });
    expect(descriptorKind(1n, 1, fmtOf(GRANULE_64K, false, true, false))).toEqual({ kind: "invalid", reason: "block-not-allowed" });
  });

  it("a reserved level-3 encoding decodes with its reason", () => {
    expect(decodeDescriptor(0x1001n, 3, F4)).toEqual({ kind: "invalid", level: 3, raw: 0x1001n, reason: "reserved-level3" });
  });
});

describe("names", () => {
  // D8.4.1 "Data access permissions", stage 1 EL1&0 regime, AP[2:1]: 00 EL1 RW / EL0 none,
  // 01 RW / RW, 10 RO / none, 11 RO / RO.
  it("AP[2:1] in words", () => {
    expect([0, 1, 2, 3].map(apDescription)).toEqual(["EL1 RW, EL0 none", "EL1 RW, EL0 RW", "EL1 RO, EL0 none", "EL1 RO, EL0 RO"]);
    expect(apDescription(5)).toBe("EL1 RW, EL0 RW");
  });

  // D8.6.2 (SH[1:0]): 00 Non-shareable, 01 reserved, 10 Outer Shareable, 11 Inner Shareable.
  it("SH[1:0] names", () => {
    expect(SH_NAMES).toEqual(["non-shareable", "reserved", "outer", "inner"]);
  });
});
