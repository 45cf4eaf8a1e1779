/**
 * Named bits of a VMSAv8-64 stage-1 descriptor (Arm ARM D8.3 "Translation table descriptor
 * formats"; vmsa-rules.md §1.3/§1.4) as masks over its 32-bit halves, for loops that work on
 * (hi, lo) without BigInt. LO_* masks apply to bits [31:0], HI_* masks to bits [63:32].
 */

/** Bit 0: valid. */
export const LO_VALID = 1 << 0;
/** Bit 1: table (levels < 3) or page (level 3); clear: block. */
export const LO_TABLE = 1 << 1;
/** Bits [4:2]: AttrIndx. */
export const LO_ATTRINDX = 7 << 2;
/** Bit 5: NS. */
export const LO_NS = 1 << 5;
/** Bit 6: AP[1], EL0 access (Linux PTE_USER). */
export const LO_AP1 = 1 << 6;
/** Bit 7: AP[2], read-only (Linux PTE_RDONLY); the dirty state when DBM=1 and TCR.HD=1. */
export const LO_AP2 = 1 << 7;
/** Bits [9:8]: SH, or OA[51:50] with TCR.DS=1. */
export const LO_SH = 3 << 8;
/** Bit 10: access flag. */
export const LO_AF = 1 << 10;
/** Bit 11: not global. */
export const LO_NG = 1 << 11;
/** Bit 16: nT (block descriptors, FEAT_BBM). */
export const LO_NT = 1 << 16;

/** Bit 50: GP, BTI guarded page. */
export const HI_GP = 1 << 18;
/** Bit 51: DBM, dirty bit modifier (Linux PTE_WRITE). */
export const HI_DBM = 1 << 19;
/** Bit 52: Contiguous. */
export const HI_CONT = 1 << 20;
/** Bit 53: PXN. */
export const HI_PXN = 1 << 21;
/** Bit 54: UXN. */
export const HI_UXN = 1 << 22;
/** Bits [62:59]: PBHA (leaves). */
export const HI_PBHA = 0xf << 27;
