/**
 * The checker's rules as data: id, number (issue 4 numbering), title and the source each one
 * encodes. Renderers and scenario expectations refer to rules by `id`.
 */

export type RuleId =
  | "bbm"
  | "tlb-conflict"
  | "contiguous"
  | "stale-translation"
  | "missing-barrier"
  | "freed-table-reuse"
  | "protected-reach"
  | "wx";

export interface RuleInfo {
  readonly id: RuleId;
  readonly number: number;
  readonly title: string;
  readonly citation: string;
}

export const RULES: Readonly<Record<RuleId, RuleInfo>> = {
  bbm: {
    id: "bbm",
    number: 1,
    title: "break-before-make violation",
    citation:
      'Arm ARM DDI0487 D8.17.1 "Using break-before-make when updating translation table entries" (RWHZWS, RPVTFW); Linux pgattr_change_is_safe()',
  },
  "tlb-conflict": {
    id: "tlb-conflict",
    number: 2,
    title: "TLB conflict",
    citation: 'Arm ARM DDI0487 D8.17 "TLB conflict aborts" (RFVQCK, ICFFVK); FSC 0b110000',
  },
  contiguous: {
    id: "contiguous",
    number: 3,
    title: "misprogrammed contiguous group",
    citation: 'Arm ARM DDI0487 D8.7 "The Contiguous bit" / "Misprogramming of the Contiguous bit" (RNGLXZ, RJQQTC)',
  },
  "stale-translation": {
    id: "stale-translation",
    number: 4,
    title: "stale translation",
    citation: 'Arm ARM DDI0487 D8.14 "TLB maintenance" (entries stay cached until invalidated; RRVJDB walk caches)',
  },
  "missing-barrier": {
    id: "missing-barrier",
    number: 5,
    title: "missing barrier",
    citation:
      'Arm ARM DDI0487 D8.14 "TLB maintenance" (a TLBI completes only at a later DSB) and B2.3 (ISB context synchronization); ESOP litmus CoWinvT, CoWTf',
  },
  "freed-table-reuse": {
    id: "freed-table-reuse",
    number: 6,
    title: "freed table reused before walk-cache invalidation",
    citation:
      "Arm ARM DDI0487 D8.14 (last-level TLBI need not remove walk-cache entries); Linux __flush_tlb_kernel_pgtable / free_empty_tables",
  },
  "protected-reach": {
    id: "protected-reach",
    number: 7,
    title: "speculative reach into protected memory",
    citation:
      'Arm ARM DDI0487 D8.14.1 (any valid AF=1 entry may be walked and cached speculatively at any time); Linux "arm64: mm: unmap memory before giving it to the secure world"',
  },
  wx: {
    id: "wx",
    number: 8,
    title: "W^X: writable and executable mapping",
    citation: "Linux arch/arm64/mm/ptdump.c ptdump_check_wx(); Arm ARM D8.4 (SCTLR_EL1.WXN)",
  },
};

export const RULE_IDS: readonly RuleId[] = Object.keys(RULES) as RuleId[];

export function isRuleId(s: string): s is RuleId {
  return Object.hasOwn(RULES, s);
}
