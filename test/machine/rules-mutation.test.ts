/**
 * The checker's rule table: every finding prints its rule's number, title and source, and scenario
 * expectations name rules by id, so a wrong or empty entry is a wrong report
 * (mutation testing: `npm run test:mutation -- rules`).
 */
import { describe, expect, it } from "vitest";
import { isRuleId, RULE_IDS, RULES, type RuleId } from "../../src/machine/rules.js";

describe("checker rules", () => {
  it("lists the eight rules in their issue-4 numbering, each filed under its own id", () => {
    expect(RULE_IDS).toEqual([
      "bbm",
      "tlb-conflict",
      "contiguous",
      "stale-translation",
      "missing-barrier",
      "freed-table-reuse",
      "protected-reach",
      "wx",
    ]);
    RULE_IDS.forEach((id, i) => {
      expect(RULES[id].id).toBe(id);
      expect(RULES[id].number).toBe(i + 1);
    });
  });

  it("gives each rule the title findings print", () => {
    expect(Object.fromEntries(RULE_IDS.map((id) => [id, RULES[id].title]))).toEqual({
      bbm: "break-before-make violation",
      "tlb-conflict": "TLB conflict",
      contiguous: "misprogrammed contiguous group",
      "stale-translation": "stale translation",
      "missing-barrier": "missing barrier",
      "freed-table-reuse": "freed table reused before walk-cache invalidation",
      "protected-reach": "speculative reach into protected memory",
      wx: "W^X: writable and executable mapping",
    });
  });

  // Each citation must name the source of the rule it encodes: the Arm ARM DDI0487 section and
  // rule identifiers, or the Linux function, so a reader of a finding can check it.
  const sources: Record<RuleId, RegExp[]> = {
    bbm: [/DDI0487 D8\.17\.1/, /break-before-make/, /RWHZWS/, /RPVTFW/, /pgattr_change_is_safe/],
    "tlb-conflict": [/DDI0487 D8\.17/, /TLB conflict aborts/, /RFVQCK/, /ICFFVK/, /0b110000/],
    contiguous: [/DDI0487 D8\.7/, /Contiguous bit/, /RNGLXZ/, /RJQQTC/],
    "stale-translation": [/DDI0487 D8\.14/, /TLB maintenance/, /RRVJDB/],
    "missing-barrier": [/DDI0487 D8\.14/, /DSB/, /B2\.3/, /ISB/, /CoWinvT/],
    "freed-table-reuse": [/DDI0487 D8\.14/, /walk-cache/, /__flush_tlb_kernel_pgtable/, /free_empty_tables/],
    "protected-reach": [/DDI0487 D8\.14\.1/, /speculatively/, /secure world/],
    wx: [/ptdump_check_wx/, /SCTLR_EL1\.WXN/],
  };
  it.each(RULE_IDS.map((id) => [id]))("%s cites its architecture or kernel source", (id) => {
    for (const re of sources[id]) expect(RULES[id].citation).toMatch(re);
  });

  it("recognises rule ids exactly, not object properties or near misses", () => {
    for (const id of RULE_IDS) expect(isRuleId(id)).toBe(true);
    for (const s of ["", "BBM", "wx ", "tlb_conflict", "toString", "constructor", "__proto__", "hasOwnProperty"]) {
      expect(isRuleId(s), s).toBe(false);
    }
  });
});
