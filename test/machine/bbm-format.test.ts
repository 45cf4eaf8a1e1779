/**
 * bbmRequirement takes the descriptor format as a required value: which bits are the output
 * address depends on it (Arm ARM D8.3: OA[49:48] in bits [49:48] and OA[51:50] in bits [9:8]
 * with TCR.DS=1; OA[51:48] in bits [15:12] for 64K with a 52-bit OA). An OA change needs
 * break-before-make (vmsa-rules.md §4.1 item 4); an SH change does too (item 2), but with DS=1
 * bits [9:8] are not SH.
 */
import { describe, expect, it } from "vitest";
import { descriptorFormat, encodeLeaf } from "../../src/arch/descriptor.js";
import { GRANULE_4K, GRANULE_64K } from "../../src/arch/granule.js";
import { bbmRequirement } from "../../src/machine/bbm.js";

const F = { af: true, attrIndx: 0, pxn: true, uxn: true } as const;

describe("bbmRequirement: the format decides which bits are the output address", () => {
  it("DS=1 (4K): OA[49:48] and OA[51:50] changes are output-address changes", () => {
    const ds = descriptorFormat(GRANULE_4K, { ds: true, oaBits: 52 });
    const a = encodeLeaf({ ...F, oa: 0x5000_0000n }, 3, ds);
    expect(bbmRequirement(a, encodeLeaf({ ...F, oa: 0x3_0000_5000_0000n }, 3, ds), 3, ds, 2).rule).toBe("bbm.output-address");
    expect(bbmRequirement(a, encodeLeaf({ ...F, oa: 0xc_0000_5000_0000n }, 3, ds), 3, ds, 2).rule).toBe("bbm.output-address");
  });

  it("without DS, bits [9:8] are SH: a change is a shareability change", () => {
    const plain = descriptorFormat(GRANULE_4K);
    const a = encodeLeaf({ ...F, sh: 3, oa: 0x5000_0000n }, 3, plain);
    expect(bbmRequirement(a, encodeLeaf({ ...F, sh: 2, oa: 0x5000_0000n }, 3, plain), 3, plain, 2).rule).toBe("bbm.shareability");
  });

  it("64K with a 52-bit OA: OA[51:48] in bits [15:12] is part of the output address", () => {
    const f64 = descriptorFormat(GRANULE_64K, { oaBits: 52 });
    const a = encodeLeaf({ ...F, oa: 0x5000_0000n }, 3, f64);
    expect(bbmRequirement(a, encodeLeaf({ ...F, oa: 0x1_0000_5000_0000n }, 3, f64), 3, f64, 2).rule).toBe("bbm.output-address");
  });
});
