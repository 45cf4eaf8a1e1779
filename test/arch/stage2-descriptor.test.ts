import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DescriptorFormat, decodeDescriptor, descriptorFormat } from "../../src/arch/descriptor.js";
import { blockAllowed, GRANULE_4K, GRANULES } from "../../src/arch/granule.js";
import {
  decodeStage2Descriptor,
  encodeStage2Leaf,
  encodeStage2Table,
  type Stage2Descriptor,
  type Stage2LeafFields,
} from "../../src/arch/stage2-descriptor.js";
import { decodeS2MemAttr } from "../../src/arch/stage2-memattr.js";

const F4K = descriptorFormat(GRANULE_4K);
const NO_FWB = { fwb: false, xnx: true } as const;

function leaf(d: Stage2Descriptor): Extract<Stage2Descriptor, { kind: "block" | "page" }> {
  if (d.kind !== "block" && d.kind !== "page") throw new Error(`expected a leaf, got ${d.kind}`);
  return d;
}

describe("stage-2 descriptor permissions", () => {
  // ASL AArch64.S2DirectBasePermissions; vmsa-regimes.md §1.5: XN[1:0] = bits [54:53] with FEAT_XNX:
  // 00 EL1+EL0 execute, 01 EL0 only, 10 none, 11 EL1 only. Without FEAT_XNX bit 53 reads as 0.
  const XN_TABLE: [xn: number, xnx: boolean, el1: boolean, el0: boolean][] = [
    [0, true, true, true],
    [1, true, false, true],
    [2, true, false, false],
    [3, true, true, false],
    [0, false, true, true],
    [1, false, true, true],
    [2, false, false, false],
    [3, false, false, false],
  ];
  it.each(XN_TABLE)("XN[1:0]=%i with FEAT_XNX=%s: EL1 execute %s, EL0 execute %s", (xn, xnx, el1, el0) => {
    const d = leaf(decodeStage2Descriptor(F4K, 3, 0x403n | (BigInt(xn) << 53n), { fwb: false, xnx }));
    expect([d.el1Exec, d.el0Exec]).toEqual([el1, el0]);
  });

  it("S2AP[0] grants read and S2AP[1] write, independently (10 is write-only)", () => {
    // ASL AArch64.S2DirectBasePermissions: R = S2AP[0], W = S2AP[1].
    const rw = [0, 1, 2, 3].map((ap) => {
      const d = leaf(decodeStage2Descriptor(F4K, 3, 0x403n | (BigInt(ap) << 6n), NO_FWB));
      return [d.read, d.write];
    });
    expect(rw).toEqual([
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]);
  });
});

describe("stage-2 MemAttr[3:0]", () => {
  // FWB=0 (Arm ARM D8.5 stage 2 memory type when FEAT_S2FWB is disabled; ASL S2DecodeMemAttrs):
  // 00dd Device dd; oo ii Normal with 01 NC, 10 WT, 11 WB; inner 00 with outer != 00 reserved.
  const NO_FWB_TABLE: [number, string][] = [
    [0b0000, "Device-nGnRnE"],
    [0b0001, "Device-nGnRE"],
    [0b0010, "Device-nGRE"],
    [0b0011, "Device-GRE"],
    [0b0100, "reserved"],
    [0b0101, "Normal oNC iNC"],
    [0b0110, "Normal oNC iWT"],
    [0b0111, "Normal oNC iWB"],
    [0b1000, "reserved"],
    [0b1001, "Normal oWT iNC"],
    [0b1010, "Normal oWT iWT"],
    [0b1011, "Normal oWT iWB"],
    [0b1100, "reserved"],
    [0b1101, "Normal oWB iNC"],
    [0b1110, "Normal oWB iWT"],
    [0b1111, "Normal oWB iWB"],
  ];
  // FWB=1 (Arm ARM D8.5 stage 2 memory type when FEAT_S2FWB is enabled; ASL AArch64.S2ApplyFWBMemAttrs):
  // MemAttr[2:0] 0dd Device, 111 stage-1 attributes, 110 forced WB, 101 NC unless stage-1 Device,
  // 100 as 101 in the 2023-03 ASL (reserved in the Arm ARM); MemAttr[3] ignored (FEAT_MTE_PERM only).
  const FWB_TABLE: [number, string][] = [
    [0b000, "Device-nGnRnE"],
    [0b001, "Device-nGnRE"],
    [0b010, "Device-nGRE"],
    [0b011, "Device-GRE"],
    [0b100, "fwb-nc (reserved encoding)"],
    [0b101, "fwb-nc"],
    [0b110, "fwb-wb"],
    [0b111, "fwb-stage1"],
  ];
  const short = (memAttr: number, fwb: boolean): string => {
    const m = decodeS2MemAttr(memAttr, fwb);
    switch (m.kind) {
      case "device":
        return `Device-${m.device}`;
      case "normal":
        return `Normal o${m.outer} i${m.inner}`;
      case "fwb-nc":
        return m.reservedEncoding ? "fwb-nc (reserved encoding)" : "fwb-nc";
      default:
        return m.kind;
    }
  };
  it.each(NO_FWB_TABLE)("FWB=0: MemAttr %i is %s", (m, want) => {
    expect(short(m, false)).toBe(want);
  });
  it.each(FWB_TABLE.flatMap(([m, want]) => [[m, want] as const, [m | 8, want] as const]))("FWB=1: MemAttr %i is %s", (m, want) => {
    expect(short(m, true)).toBe(want);
  });

  it("decodeStage2Descriptor reads MemAttr from bits [5:2] and applies the FWB option", () => {
    const d = leaf(decodeStage2Descriptor(F4K, 3, 0x403n | (0b0110n << 2n), NO_FWB));
    expect(d.memAttr).toBe(6);
    expect(d.memType.kind).toBe("normal");
    expect(leaf(decodeStage2Descriptor(F4K, 3, 0x403n | (0b0110n << 2n), { fwb: true, xnx: true })).memType.kind).toBe("fwb-wb");
  });
});

describe("stage-2 descriptor fields and codec", () => {
  const formats: DescriptorFormat[] = GRANULES.flatMap((granule) => [
    descriptorFormat(granule),
    granule.size === 65536 ? descriptorFormat(granule, { oaBits: 52 }) : descriptorFormat(granule, { ds: true, oaBits: 52 }),
  ]);

  it("a table descriptor carries only the next-table address (no hierarchical attributes at stage 2)", () => {
    // vmsa-regimes.md §1.4: the ASL stage-2 table step reads only NLTA; bits [63:59] are not APTable etc.
    const d = decodeStage2Descriptor(F4K, 1, 0xf800_0000_4000_0003n, NO_FWB);
    expect(d).toEqual({ stage: 2, kind: "table", level: 1, raw: 0xf800_0000_4000_0003n, nextTable: 0x4000_0000n });
  });

  it("with DS=1 bits [9:8] are OA[51:50], not SH", () => {
    // Arm ARM D8.3 (FEAT_LPA2): SH then comes from VTCR_EL2.SH0.
    const ds = descriptorFormat(GRANULE_4K, { ds: true, oaBits: 52 });
    const d = leaf(decodeStage2Descriptor(ds, 3, 0x703n, NO_FWB));
    expect(d.sh).toBeUndefined();
    expect(d.oa).toBe(3n << 50n);
  });

  for (const fmt of formats) {
    const tag = `${fmt.granule.name}${fmt.ds ? " DS" : ""}${fmt.oa52 ? " 52-bit" : ""}`;
    const levels = [-1, 0, 1, 2, 3].filter((l) => l === 3 || blockAllowed(fmt.granule, l, { ds: fmt.ds, pa52: fmt.oa52 }));

    it(`round-trips leaf descriptors (${tag})`, () => {
      // Arm ARM D8.3 stage-2 block/page attribute fields occupy fixed positions: decode∘encode = id.
      const oaBits = fmt.oa52 ? 52 : 48;
      fc.assert(
        fc.property(
          fc.constantFrom(...levels),
          fc.bigInt({ min: 0n, max: (1n << BigInt(oaBits)) - 1n }),
          fc.record({
            memAttr: fc.integer({ min: 0, max: 15 }),
            s2ap: fc.integer({ min: 0, max: 3 }),
            sh: fc.integer({ min: 0, max: 3 }),
            af: fc.boolean(),
            fnxs: fc.boolean(),
            nT: fc.boolean(),
            dbm: fc.boolean(),
            contiguous: fc.boolean(),
            xn: fc.integer({ min: 0, max: 3 }),
            sw: fc.integer({ min: 0, max: 15 }),
            pbha: fc.integer({ min: 0, max: 15 }),
          }),
          (level, oaRaw, attrs) => {
            const shift = BigInt(fmt.granule.shift + fmt.granule.stride * (3 - level));
            const oa = (oaRaw >> shift) << shift;
            const fields: Stage2LeafFields = { ...attrs, oa, nT: attrs.nT && level !== 3, sh: fmt.ds ? undefined : attrs.sh };
            const raw = encodeStage2Leaf(fields, level, fmt);
            const d = leaf(decodeStage2Descriptor(fmt, level, raw, NO_FWB));
            const back = encodeStage2Leaf(d, level, fmt);
            expect(back).toBe(raw);
            expect(d.oa).toBe(oa);
            expect(d).toMatchObject({ memAttr: attrs.memAttr, s2ap: attrs.s2ap, xn: attrs.xn, af: attrs.af, dbm: attrs.dbm });
          },
        ),
      );
    });

    it(`decodes the output address and entry kind exactly as stage 1 does (${tag})`, () => {
      // vmsa-regimes.md §1.4: type decode, block legality and OA fields are identical to stage 1.
      fc.assert(
        fc.property(fc.constantFrom(...levels, 0), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (level, raw) => {
          const s1 = decodeDescriptor(raw, level, fmt);
          const s2 = decodeStage2Descriptor(fmt, level, raw, NO_FWB);
          expect(s2.kind).toBe(s1.kind);
          if (s1.kind === "table" && s2.kind === "table") expect(s2.nextTable).toBe(s1.nextTable);
          if ((s1.kind === "block" || s1.kind === "page") && (s2.kind === "block" || s2.kind === "page")) expect(s2.oa).toBe(s1.oa);
        }),
      );
    });

    it(`round-trips table descriptors (${tag})`, () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: (1n << BigInt(fmt.oa52 ? 52 : 48)) - 1n }), (a) => {
          const next = (a >> BigInt(fmt.granule.shift)) << BigInt(fmt.granule.shift);
          const d = decodeStage2Descriptor(fmt, 1, encodeStage2Table(next, fmt), NO_FWB);
          expect(d).toMatchObject({ kind: "table", nextTable: next });
        }),
      );
    });
  }
});
