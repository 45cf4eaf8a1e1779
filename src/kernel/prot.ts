/**
 * Descriptor bits and named protections as the arm64 kernel spells them
 * (arch/arm64/include/asm/pgtable-hwdef.h, pgtable-prot.h), and the kernel's rule for which
 * live changes need no break-before-make (`pgattr_change_is_safe`, arch/arm64/mm/mmu.c), with its
 * history selectable by era (linux-arm64-mm.md section 1.5).
 */
import type { DescriptorFormat } from "../arch/descriptor.js";
import { KernelError } from "./errors.js";

const B = (n: number): bigint => 1n << BigInt(n);

export const PTE_VALID = B(0);
/** Set: table (levels < 3) or page (level 3); clear: block. */
export const PTE_TABLE_BIT = B(1);
export const PTE_TYPE_PAGE = 3n;
export const PMD_TYPE_SECT = 1n;
export const PMD_TYPE_TABLE = 3n;
export const PTE_ATTRINDX_MASK = 7n << 2n;
export const PTE_USER = B(6);
export const PTE_RDONLY = B(7);
export const PTE_SHARED = 3n << 8n;
export const PTE_AF = B(10);
export const PTE_NG = B(11);
export const PTE_GP = B(50);
/** PTE_WRITE is the DBM bit (51). */
export const PTE_DBM = B(51);
export const PTE_WRITE = PTE_DBM;
export const PTE_CONT = B(52);
export const PTE_PXN = B(53);
export const PTE_UXN = B(54);
/** Software bits 63 and 58:55 (PTE_SWBITS_MASK). */
export const PTE_SWBITS_MASK = B(63) | (0xfn << 55n);
/** Table descriptor hierarchical controls. */
export const TABLE_PXN = B(59);
export const TABLE_UXN = B(60);

/** Memory types: AttrIndx values of current kernels (v5.11+), matching LINUX_MAIR. */
export const MT_NORMAL = 0;
export const MT_NORMAL_TAGGED = 1;
export const MT_NORMAL_NC = 2;
export const MT_DEVICE_nGnRnE = 3;
export const MT_DEVICE_nGnRE = 4;

export function PTE_ATTRINDX(mt: number): bigint {
  return BigInt(mt & 7) << 2n;
}

/** Flags of __create_pgd_mapping (mmu.c). */
export const NO_BLOCK_MAPPINGS = 1;
export const NO_CONT_MAPPINGS = 2;
export const NO_EXEC_MAPPINGS = 4;

export interface ProtOptions {
  /** arm64_use_ng_mappings: KPTI may apply (e.g. KASLR on a CPU that may need KPTI). */
  readonly nG?: boolean;
  /** FEAT_LPA2 (TCR.DS=1): PTE_SHARED is 0 (PTE_MAYBE_SHARED), shareability comes from TCR. */
  readonly lpa2?: boolean;
}

export interface KernelProts {
  readonly PROT_DEFAULT: bigint;
  readonly PROT_NORMAL: bigint;
  readonly PROT_NORMAL_TAGGED: bigint;
  readonly PROT_NORMAL_NC: bigint;
  readonly PROT_DEVICE_nGnRE: bigint;
  readonly PROT_DEVICE_nGnRnE: bigint;
  readonly PAGE_KERNEL: bigint;
  readonly PAGE_KERNEL_RO: bigint;
  readonly PAGE_KERNEL_ROX: bigint;
  readonly PAGE_KERNEL_EXEC: bigint;
  readonly PAGE_KERNEL_EXEC_CONT: bigint;
  readonly FIXMAP_PAGE_IO: bigint;
}

/** The kernel's named prot values (pgtable-prot.h), for the nG / LPA2 configuration given. */
export function kernelProts(o: ProtOptions = {}): KernelProts {
  const shared = o.lpa2 ? 0n : PTE_SHARED;
  const PROT_DEFAULT = PTE_TYPE_PAGE | PTE_AF | shared | (o.nG ? PTE_NG : 0n);
  const base = PROT_DEFAULT | PTE_PXN | PTE_UXN | PTE_WRITE;
  const PROT_NORMAL = base | PTE_ATTRINDX(MT_NORMAL);
  const PAGE_KERNEL_EXEC = PROT_NORMAL & ~PTE_PXN;
  const PROT_DEVICE_nGnRE = base | PTE_ATTRINDX(MT_DEVICE_nGnRE);
  return {
    PROT_DEFAULT,
    PROT_NORMAL,
    PROT_NORMAL_TAGGED: base | PTE_ATTRINDX(MT_NORMAL_TAGGED),
    PROT_NORMAL_NC: base | PTE_ATTRINDX(MT_NORMAL_NC),
    PROT_DEVICE_nGnRE,
    PROT_DEVICE_nGnRnE: base | PTE_ATTRINDX(MT_DEVICE_nGnRnE),
    PAGE_KERNEL: PROT_NORMAL,
    PAGE_KERNEL_RO: (PROT_NORMAL & ~PTE_WRITE) | PTE_RDONLY,
    PAGE_KERNEL_ROX: (PROT_NORMAL & ~(PTE_WRITE | PTE_PXN)) | PTE_RDONLY,
    PAGE_KERNEL_EXEC,
    PAGE_KERNEL_EXEC_CONT: PAGE_KERNEL_EXEC | PTE_CONT,
    FIXMAP_PAGE_IO: PROT_DEVICE_nGnRE,
  };
}

/** Names of the prots, for CLI parsing and reports. */
export const PROT_NAMES = [
  "PAGE_KERNEL",
  "PAGE_KERNEL_RO",
  "PAGE_KERNEL_ROX",
  "PAGE_KERNEL_EXEC",
  "PAGE_KERNEL_EXEC_CONT",
  "PROT_NORMAL",
  "PROT_NORMAL_TAGGED",
  "PROT_NORMAL_NC",
  "PROT_DEVICE_nGnRE",
  "PROT_DEVICE_nGnRnE",
] as const satisfies readonly (keyof KernelProts)[];
export type ProtName = (typeof PROT_NAMES)[number];

/** pgprot_tagged(): MT_NORMAL → MT_NORMAL_TAGGED (only meaningful with MTE). */
export function pgprotTagged(prot: bigint): bigint {
  if ((prot & PTE_ATTRINDX_MASK) === PTE_ATTRINDX(MT_NORMAL)) return (prot & ~PTE_ATTRINDX_MASK) | PTE_ATTRINDX(MT_NORMAL_TAGGED);
  return prot;
}

/** pte_mkwrite as trans_pgd uses it: set PTE_WRITE (DBM), clear PTE_RDONLY. */
export function pteMkwrite(pte: bigint): bigint {
  return (pte | PTE_WRITE) & ~PTE_RDONLY;
}

// ---------------------------------------------------------------------------------------------
// pgattr_change_is_safe

/**
 * Kernel eras of pgattr_change_is_safe (linux-arm64-mm.md 1.5):
 * - v4.11 (e98216b52176): mask {PXN, RDONLY, WRITE}; only a zero old or new value is exempt.
 * - v4.12 (d27cfa1fc823): live contiguous entries may not change at all.
 * - v4.15 (KPTI): nG joins the mask; nG→G is forbidden.
 * - v5.10: an invalid old/new entry is exempt; the PFN must not change; Normal↔Normal-Tagged.
 * - v6.16: software bits (63, 58:55) join the mask.
 */
export type PgattrEra = "v4.11" | "v4.12" | "v4.15" | "v5.10" | "v6.16";
export const PGATTR_ERAS: readonly PgattrEra[] = ["v4.11", "v4.12", "v4.15", "v5.10", "v6.16"];

/** A compiled era: masks as 32-bit halves for the hot path. */
export interface PgattrRule {
  readonly era: PgattrEra;
  readonly validExempt: boolean;
  readonly contCheck: boolean;
  readonly ngCheck: boolean;
  readonly pfnCheck: boolean;
  readonly mte: boolean;
  readonly maskHi: number;
  readonly maskLo: number;
}

function compileRule(era: PgattrEra, idx: number): PgattrRule {
  let mask = PTE_PXN | PTE_RDONLY | PTE_WRITE;
  if (idx >= 2) mask |= PTE_NG;
  if (idx >= 4) mask |= PTE_SWBITS_MASK;
  return {
    era,
    validExempt: idx >= 3,
    contCheck: idx >= 1,
    ngCheck: idx >= 2,
    pfnCheck: idx >= 3,
    mte: idx >= 3,
    maskHi: Number((mask >> 32n) & 0xffffffffn),
    maskLo: Number(mask & 0xffffffffn),
  };
}

/** Every era compiled once, when the module loads (the hot path allocates nothing). */
const RULES: ReadonlyMap<PgattrEra, PgattrRule> = new Map(PGATTR_ERAS.map((era, idx) => [era, compileRule(era, idx)]));

export function pgattrRule(era: PgattrEra = "v6.16"): PgattrRule {
  const rule = RULES.get(era);
  if (!rule) {
    throw new KernelError("EKERN_CONFIG", `era: "${era}" is not one of ${PGATTR_ERAS.join(", ")}`, "pgattr_change_is_safe history");
  }
  return rule;
}

/** Verdict codes of pgattrCheck (0 = safe). */
export const PGATTR_SAFE = 0;
export const PGATTR_PFN = 1;
export const PGATTR_CONT = 2;
export const PGATTR_NG_TO_G = 3;
export const PGATTR_BITS = 4;

export const PGATTR_REASONS: readonly string[] = [
  // Stryker disable next-line StringLiteral: equivalent, a safe verdict carries no reason text
  "safe",
  "the output address (PFN) of a live entry changes",
  "a live contiguous (PTE_CONT) entry changes",
  "a live entry changes from non-global to global (nG→G)",
  "bits outside the permission mask change",
];

/**
 * Hot-path pgattr_change_is_safe over halves. Returns PGATTR_SAFE or the reason code. `fmt`
 * says which bits are the PFN (the address field: with LPA2 also bits [49:48] and [9:8]).
 */
export function pgattrCheck(rule: PgattrRule, fmt: DescriptorFormat, oldHi: number, oldLo: number, newHi: number, newLo: number): number {
  if (rule.validExempt) {
    if ((oldLo & 1) === 0 || (newLo & 1) === 0) return PGATTR_SAFE;
  } else if ((oldHi === 0 && oldLo === 0) || (newHi === 0 && newLo === 0)) {
    return PGATTR_SAFE;
  }
  const xHi = (oldHi ^ newHi) >>> 0;
  const xLo = (oldLo ^ newLo) >>> 0;
  if (rule.pfnCheck) {
    if ((xLo & fmt.addrLo) !== 0 || (xHi & fmt.addrHi) !== 0) return PGATTR_PFN;
  }
  if (rule.contCheck && ((oldHi | newHi) & 0x100000) !== 0) return PGATTR_CONT;
  if (rule.ngCheck && (oldLo & 0x800) !== 0 && (newLo & 0x800) === 0) return PGATTR_NG_TO_G;
  let maskLo = rule.maskLo;
  if (rule.mte) {
    const oa = (oldLo >>> 2) & 7;
    const na = (newLo >>> 2) & 7;
    if ((oa === MT_NORMAL || oa === MT_NORMAL_TAGGED) && (na === MT_NORMAL || na === MT_NORMAL_TAGGED)) maskLo |= 0x1c;
  }
  if ((xHi & ~rule.maskHi) !== 0 || (xLo & ~maskLo) !== 0) return PGATTR_BITS;
  return PGATTR_SAFE;
}

export type PgattrVerdict = { readonly safe: true } | { readonly safe: false; readonly reason: string; readonly code: number };

/** pgattr_change_is_safe(old, new) with the reason when not. */
export function pgattrVerdict(oldVal: bigint, newVal: bigint, fmt: DescriptorFormat, era: PgattrEra = "v6.16"): PgattrVerdict {
  const r = pgattrCheck(
    pgattrRule(era),
    fmt,
    Number((oldVal >> 32n) & 0xffffffffn),
    Number(oldVal & 0xffffffffn),
    Number((newVal >> 32n) & 0xffffffffn),
    Number(newVal & 0xffffffffn),
  );
  return r === PGATTR_SAFE ? { safe: true } : { safe: false, reason: PGATTR_REASONS[r] ?? "unsafe", code: r };
}

/** The kernel's predicate: may `old` be replaced by `new` in a live table without break-before-make? */
export function pgattrChangeIsSafe(oldVal: bigint, newVal: bigint, fmt: DescriptorFormat, era: PgattrEra = "v6.16"): boolean {
  return pgattrVerdict(oldVal, newVal, fmt, era).safe;
}
