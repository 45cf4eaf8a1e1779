/**
 * `diff` on FEAT_LPA2 (TCR.DS=1) tables: the BBM rule table is given the descriptor format of the
 * tables, so OA[49:48] (descriptor bits [49:48]) and OA[51:50] (bits [9:8]) are output-address
 * bits (Arm ARM D8.3 "Translation table descriptor formats", 52-bit OA with DS=1; ASL
 * AArch64.LeafBase), and changing them needs break-before-make (vmsa-rules.md §4.1 item 4).
 * Before the format was required, `diff` left the DS flag out and classed such a change as
 * permission-only.
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { presetByName } from "../../src/arch/registers.js";
import { diffTables } from "../../src/dump/diff.js";
import { TestTables } from "../helpers/tables.js";

const RW = { af: true, pxn: true, uxn: true, attrIndx: 0 } as const;
const regs = presetByName("linux-4k-52").regs;

function pair(oaBefore: bigint, oaAfter: bigint) {
  const a = new TestTables(GRANULE_4K, -1, { ds: true, oa52: true });
  const b = new TestTables(GRANULE_4K, -1, { ds: true, oa52: true });
  a.map(0n, 3, { ...RW, oa: oaBefore });
  b.map(0n, 3, { ...RW, oa: oaAfter });
  return diffTables(a.mem, { ...regs, ttbr1: a.root }, b.mem, { ...regs, ttbr1: b.root }, { bbmLevel: 0, halves: [1] });
}

describe("diffTables on LPA2 (DS=1) tables", () => {
  it("a change of OA[49:48] is an output-address change that needs break-before-make", () => {
    const r = pair(0x5000_0000n, 0x1_0000_5000_0000n);
    expect(r.changes.map((c) => [c.kind, c.rule])).toEqual([["break-before-make", "bbm.output-address"]]);
  });

  it("a change of OA[51:50] (descriptor bits [9:8]) is an output-address change, not shareability", () => {
    const r = pair(0x5000_0000n, 0x4_0000_5000_0000n);
    expect(r.changes.map((c) => [c.kind, c.rule])).toEqual([["break-before-make", "bbm.output-address"]]);
  });
});
