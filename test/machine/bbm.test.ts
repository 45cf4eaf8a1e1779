/** The break-before-make rule table (vmsa-rules.md §4.1/§4.3; Arm ARM "Using break-before-make"). */
import { describe, expect, it } from "vitest";
import { descriptorFormat, encodeLeaf, encodeTable } from "../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { LINUX_MAIR } from "../../src/arch/registers.js";
import { bbmRequirement } from "../../src/machine/bbm.js";

const fmt = descriptorFormat(GRANULE_4K);
const base = { oa: 0x4000_0000n, attrIndx: 0, sh: 3, af: true, ap: 0, pxn: true, uxn: true };
const page = (f: Partial<typeof base> & Record<string, unknown> = {}) => encodeLeaf({ ...base, ...f }, 3, fmt);
const block = (f: Record<string, unknown> = {}) => encodeLeaf({ ...base, ...f }, 2, fmt);

describe("bbmRequirement", () => {
  it("valid↔invalid never needs a break (invalid entries are never cached)", () => {
    expect(bbmRequirement(page(), 0n, 3, fmt, 0).required).toBe(false);
    expect(bbmRequirement(0n, page(), 3, fmt, 0).required).toBe(false);
  });
  it("an output-address change needs BBM at every FEAT_BBM level (§4.1 item 4)", () => {
    for (const lvl of [0, 1, 2, 3]) {
      const r = bbmRequirement(page(), page({ oa: 0x4010_0000n }), 3, fmt, lvl);
      expect(r.required).toBe(true);
      expect(r.rule).toBe("bbm.output-address");
    }
  });
  it("read-only remap of identical contents is exempt when the caller says so", () => {
    const r = bbmRequirement(page({ ap: 2 }), page({ ap: 2, oa: 0x4010_0000n }), 3, fmt, 0, { contentsEqual: true });
    expect(r.required).toBe(false);
  });
  it("memory type changes need BBM; Normal ↔ Normal-Tagged with the same cacheability does not (Linux pgattr_change_is_safe)", () => {
    expect(bbmRequirement(page(), page({ attrIndx: 3 }), 3, fmt, 2, { mair: LINUX_MAIR }).rule).toBe("bbm.memory-type");
    // LINUX_MAIR: index 0 = 0xff, index 1 = 0xff (tagged slot before MTE): same type.
    expect(bbmRequirement(page(), page({ attrIndx: 1 }), 3, fmt, 0, { mair: LINUX_MAIR }).required).toBe(false);
  });
  it("shareability, nG→global need BBM; global→nG and permission changes do not", () => {
    expect(bbmRequirement(page(), page({ sh: 2 }), 3, fmt, 0).rule).toBe("bbm.shareability");
    expect(bbmRequirement(page({ nG: true }), page(), 3, fmt, 0).rule).toBe("bbm.non-global-to-global");
    expect(bbmRequirement(page(), page({ nG: true }), 3, fmt, 0).required).toBe(false);
    const perm = bbmRequirement(page(), page({ ap: 2, pxn: false }), 3, fmt, 0);
    expect(perm.required).toBe(false);
    expect(perm.tlbiNeeded).toBe(true);
  });
  it("Contiguous-bit-only changes need BBM at level 0 only (RKHRBC), with conflicts possible below level 3", () => {
    expect(bbmRequirement(page(), page({ contiguous: true }), 3, fmt, 0).rule).toBe("bbm.contiguous");
    const r1 = bbmRequirement(page(), page({ contiguous: true }), 3, fmt, 1);
    expect(r1.required).toBe(false);
    expect(r1.conflictPossible).toBe(true);
    expect(bbmRequirement(page(), page({ contiguous: true }), 3, fmt, 3).conflictPossible).toBe(false);
  });
  it("block → table: BBM at level 0, nT=1 at level 1, direct at level 2 (§4.3)", () => {
    const t = encodeTable({ nextTable: 0x9_0000n }, fmt);
    expect(bbmRequirement(block(), t, 2, fmt, 0).rule).toBe("bbm.size-change");
    expect(bbmRequirement(block(), t, 2, fmt, 1).rule).toBe("bbm.size-change-nT");
    expect(bbmRequirement(block({ nT: true }), t, 2, fmt, 1).required).toBe(false);
    expect(bbmRequirement(block(), t, 2, fmt, 2).required).toBe(false);
  });
  it("re-pointing a live table descriptor needs BBM (walk caches hold the old pointer)", () => {
    const a = encodeTable({ nextTable: 0x9_0000n }, fmt);
    const b = encodeTable({ nextTable: 0x9_1000n }, fmt);
    expect(bbmRequirement(a, b, 1, fmt, 2).rule).toBe("bbm.table-address");
    expect(bbmRequirement(a, a | (1n << 60n), 1, fmt, 0).required).toBe(false);
  });
  it("an AF=0 old entry cannot be cached, unless hardware AF management is on", () => {
    expect(bbmRequirement(page({ af: false }), page({ oa: 0x4010_0000n }), 3, fmt, 0).required).toBe(false);
    expect(bbmRequirement(page({ af: false }), page({ oa: 0x4010_0000n }), 3, fmt, 0, { ha: true }).required).toBe(true);
  });
});
