/**
 * VMSAv8-64 stage-1 descriptors with 64-bit format (Arm ARM D8.3 "Translation table descriptor
 * formats"; ASL AArch64.DecodeDescriptorType, AArch64.NextTableBase, AArch64.LeafBase).
 *
 * Decode works on bigint for the API; the walker uses the numeric half-word helpers at the
 * bottom of this file.
 */
import { blockAllowed, type Granule, levelShift } from "./granule.js";

/**
 * Encoding parameters that change the meaning of descriptor bits. Build it with
 * `descriptorFormat` (or `halfDescriptorFormat` from registers): every field is required, so no
 * layer can silently fall back to the 48-bit format.
 */
declare const formatBrand: unique symbol;

export interface DescriptorFormat {
  /** Only `descriptorFormat` makes one: a hand-built object literal does not type-check. */
  readonly [formatBrand]: true;
  readonly granule: Granule;
  /** TCR.DS effective (FEAT_LPA2, 4K/16K): OA[51:50] in bits [9:8], OA[49:48] in bits [49:48]. */
  readonly ds: boolean;
  /**
   * Output addresses have 52 bits (effective PA size 52): for 64K (FEAT_LPA, PS=52) OA[51:48] is
   * in bits [15:12]; for DS=1 OA[51:50] is in bits [9:8]. Otherwise those bits are not address
   * bits (QEMU get_phys_addr_lpae reads them only when the output size exceeds 48).
   */
  readonly oa52: boolean;
  /**
   * The implemented PA size is 52 bits (FEAT_LPA): 64K level-1 blocks exist (ASL
   * AArch64.BlockDescSupported tests AArch64.PAMax(), not TCR.IPS).
   */
  readonly lpa: boolean;
  /** `addressFieldMask(fmt, granule shift)` as 32-bit halves, for masking in loops over halves. */
  readonly addrHi: number;
  readonly addrLo: number;
}

export interface DescriptorFormatParams {
  /** TCR.DS=1 and FEAT_LPA2 implemented (ignored for the 64K granule, which has no DS format).
   * Default false. */
  readonly ds?: boolean;
  /** Effective output-address size in bits (min of TCR.IPS and the implemented PA size; capped
   * at 48 for 4K/16K without DS, see registers.effectivePaBits). Default 48. */
  readonly oaBits?: number;
  /** Implemented PA size in bits (ID_AA64MMFR0_EL1.PARange). Default `oaBits`. */
  readonly paMaxBits?: number;
}

/**
 * The one constructor of a DescriptorFormat (normalises DS and the 52-bit OA per granule).
 * Walks take theirs from the registers (registers.halfDescriptorFormat); tools that decode a
 * lone descriptor name the parameters.
 */
export function descriptorFormat(granule: Granule, p: DescriptorFormatParams = {}): DescriptorFormat {
  const ds = (p.ds ?? false) && granule.size !== 65536;
  const oaBits = p.oaBits ?? 48;
  const paMaxBits = p.paMaxBits ?? oaBits;
  const fields = { granule, ds, oa52: oaBits >= 52 && (ds || granule.size === 65536), lpa: paMaxBits >= 52 };
  const mask = addressFieldMask(fields, granule.shift);
  const fmt = { ...fields, addrHi: Number(mask >> 32n), addrLo: Number(mask & 0xffffffffn) };
  return Object.freeze(fmt) as DescriptorFormat;
}

export type InvalidReason = "invalid" | "reserved-level3" | "block-not-allowed";

export interface TableAttrs {
  /** NSTable (bit 63). */
  readonly nsTable: boolean;
  /** APTable (bits 62:61): bit 0 = no EL0 access below, bit 1 = no write below. */
  readonly apTable: number;
  /** UXNTable / XNTable (bit 60). */
  readonly uxnTable: boolean;
  /** PXNTable (bit 59). */
  readonly pxnTable: boolean;
}

export interface LeafAttrs {
  /** AttrIndx[2:0] (bits 4:2). */
  readonly attrIndx: number;
  readonly ns: boolean;
  /** AP[2:1] (bits 7:6) as a 2-bit number. */
  readonly ap: number;
  /** SH[1:0] (bits 9:8); meaningless when DS=1 (then from TCR.SHn). */
  readonly sh: number;
  readonly af: boolean;
  readonly nG: boolean;
  /** nT (bit 16), block descriptors with FEAT_BBM. */
  readonly nT: boolean;
  /** Guarded page (bit 50, FEAT_BTI). */
  readonly gp: boolean;
  /** Dirty bit modifier (bit 51). */
  readonly dbm: boolean;
  /** Contiguous hint (bit 52). */
  readonly contiguous: boolean;
  readonly pxn: boolean;
  readonly uxn: boolean;
  /** Software bits [58:55]. */
  readonly sw: number;
  /** PBHA / IGNORED bits [62:59]. */
  readonly pbha: number;
}

export type Descriptor =
  | { readonly kind: "invalid"; readonly level: number; readonly raw: bigint; readonly reason: InvalidReason }
  | ({ readonly kind: "table"; readonly level: number; readonly raw: bigint; readonly nextTable: bigint } & TableAttrs)
  | ({ readonly kind: "block" | "page"; readonly level: number; readonly raw: bigint; readonly oa: bigint } & LeafAttrs);

export type DescriptorKind = Descriptor["kind"];

const M48 = (1n << 48n) - 1n;
const M50 = (1n << 50n) - 1n;
const TWO32 = 4294967296;

/**
 * The address field of a descriptor given as 32-bit halves (ASL AArch64.NextTableBase /
 * AArch64.LeafBase): bits [47:g] (g = granule shift), plus OA[51:48] from bits [15:12] (64K with
 * a 52-bit OA) or OA[49:48] in place and OA[51:50] from bits [9:8] (DS=1, with a 52-bit OA
 * for the latter), aligned down to `alignShift` (>= the granule shift). An exact number (< 2^52).
 * This is the one home of the rule: the bigint `descriptorAddress`, the walk's `fields.ts`, the
 * kernel library and the BBM rule table all read addresses through it or `addressFieldMask`;
 * `walkRaw` inlines the same maths and is checked against it by a property test.
 */
export function addressOf(fmt: DescriptorFormat, hi: number, lo: number, alignShift: number): number {
  const low = (lo & ~(fmt.granule.size - 1)) >>> 0;
  let a: number;
  if (fmt.ds) {
    a = (hi & 0x3ffff) * TWO32 + low;
    if (fmt.oa52) a += ((lo >>> 8) & 3) * 2 ** 50;
  } else {
    a = (hi & 0xffff) * TWO32 + low;
    if (fmt.oa52 && fmt.granule.size === 65536) a += ((lo >>> 12) & 0xf) * 2 ** 48;
  }
  return alignShift > fmt.granule.shift ? a - (a % 2 ** alignShift) : a;
}

/** The descriptor bits `addressOf` reads for an address aligned to `alignShift` (as a bigint mask). */
export function addressFieldMask(fmt: Pick<DescriptorFormat, "granule" | "ds" | "oa52">, alignShift: number): bigint {
  let m = (fmt.ds ? M50 : M48) & ~((1n << BigInt(alignShift)) - 1n);
  if (fmt.oa52 && fmt.ds) m |= 0x300n;
  else if (fmt.oa52 && fmt.granule.size === 65536) m |= 0xf000n;
  return m;
}

/**
 * The inverse of `addressOf` for an address already aligned and in range: the descriptor bits
 * that hold `pa` (an exact number < 2^52), high and low half. Kernel-library stores and the
 * bigint encoders place addresses through these.
 */
export function addressFieldHi(fmt: DescriptorFormat, pa: number): number {
  const hi = Math.floor(pa / TWO32);
  return (fmt.ds ? hi & 0x3ffff : hi & 0xffff) >>> 0;
}

export function addressFieldLo(fmt: DescriptorFormat, pa: number): number {
  const hi = Math.floor(pa / TWO32);
  let lo = pa >>> 0;
  if (fmt.ds && fmt.oa52) lo |= ((hi >>> 18) & 3) << 8;
  else if (fmt.oa52 && fmt.granule.size === 65536) lo |= ((hi >>> 16) & 0xf) << 12;
  return lo >>> 0;
}

/**
 * The address field is plain bits [47:g] (no DS, no 52-bit OA): loops over halves may then read
 * an address as (hi & 0xffff, lo & granule mask) inline.
 */
export function plainAddressField(fmt: DescriptorFormat): boolean {
  return !fmt.ds && !fmt.oa52;
}

/** Output/next-table address held in a descriptor, aligned down to `alignShift`. */
export function descriptorAddress(raw: bigint, fmt: DescriptorFormat, alignShift: number): bigint {
  return BigInt(addressOf(fmt, Number((raw >> 32n) & 0xffffffffn), Number(raw & 0xffffffffn), alignShift));
}

/** Entry kinds as numbers for loops over halves: invalid (incl. reserved encodings), table, leaf. */
export const ENTRY_INVALID = 0;
export const ENTRY_TABLE = 1;
export const ENTRY_LEAF = 2;
export type EntryKindCode = typeof ENTRY_INVALID | typeof ENTRY_TABLE | typeof ENTRY_LEAF;

/**
 * Whether bits[1:0] = 0b01 are a block at this level for this format (ASL
 * AArch64.BlockDescSupported with TCR.DS and the implemented PA size).
 */
export function blockAllowedIn(fmt: DescriptorFormat, level: number): boolean {
  return blockAllowed(fmt.granule, level, { ds: fmt.ds, pa52: fmt.lpa });
}

/**
 * What the hardware makes of a descriptor at `level` from its low half (ASL
 * AArch64.DecodeDescriptorType): the one home of the entry-kind rule.
 */
export function entryKindOf(fmt: DescriptorFormat, lo: number, level: number): EntryKindCode {
  if ((lo & 1) === 0) return ENTRY_INVALID;
  if ((lo & 2) !== 0) return level < 3 ? ENTRY_TABLE : ENTRY_LEAF;
  return level < 3 && blockAllowedIn(fmt, level) ? ENTRY_LEAF : ENTRY_INVALID;
}

/** Descriptor type as the hardware sees it at this level, with the reason when invalid. */
export function descriptorKind(raw: bigint, level: number, fmt: DescriptorFormat): { kind: DescriptorKind; reason?: InvalidReason } {
  const lo = Number(raw & 0xffffffffn);
  switch (entryKindOf(fmt, lo, level)) {
    case ENTRY_TABLE:
      return { kind: "table" };
    case ENTRY_LEAF:
      return { kind: level === 3 ? "page" : "block" };
    default:
      if ((lo & 1) === 0) return { kind: "invalid", reason: "invalid" };
      return { kind: "invalid", reason: level === 3 ? "reserved-level3" : "block-not-allowed" };
  }
}

export function decodeDescriptor(raw: bigint, level: number, fmt: DescriptorFormat): Descriptor {
  const k = descriptorKind(raw, level, fmt);
  // Fields from the 32-bit halves (no field crosses bit 32): one conversion, no bigint per field.
  const hi = Number((raw >> 32n) & 0xffffffffn);
  const lo = Number(raw & 0xffffffffn);
  const b = (n: number): boolean => ((n >= 32 ? hi >>> (n - 32) : lo >>> n) & 1) === 1;
  const f = (msb: number, lsb: number): number => (lsb >= 32 ? hi >>> (lsb - 32) : lo >>> lsb) & (2 ** (msb - lsb + 1) - 1);
  switch (k.kind) {
    case "invalid":
      return { kind: "invalid", level, raw, reason: k.reason ?? "invalid" };
    case "table":
      return {
        kind: "table",
        level,
        raw,
        nextTable: BigInt(addressOf(fmt, hi, lo, fmt.granule.shift)),
        nsTable: b(63),
        apTable: f(62, 61),
        uxnTable: b(60),
        pxnTable: b(59),
      };
    default:
      return {
        kind: k.kind,
        level,
        raw,
        oa: BigInt(addressOf(fmt, hi, lo, levelShift(fmt.granule, level))),
        attrIndx: f(4, 2),
        ns: b(5),
        ap: f(7, 6),
        sh: fmt.ds && fmt.granule.size !== 65536 ? 0 : f(9, 8),
        af: b(10),
        nG: b(11),
        nT: k.kind === "block" && b(16),
        gp: b(50),
        dbm: b(51),
        contiguous: b(52),
        pxn: b(53),
        uxn: b(54),
        sw: f(58, 55),
        pbha: f(62, 59),
      };
  }
}

export type TableFields = { nextTable: bigint } & Partial<TableAttrs>;
export type LeafFields = { oa: bigint } & Partial<LeafAttrs>;

/** The descriptor bits holding an aligned, in-range address (throws RangeError otherwise): encoders of both stages use it. */
export function placeAddress(addr: bigint, fmt: DescriptorFormat, alignShift: number, what: string): bigint {
  if ((addr & ((1n << BigInt(alignShift)) - 1n)) !== 0n) {
    throw new RangeError(`${what} 0x${addr.toString(16)} is not aligned to ${2 ** alignShift} bytes`);
  }
  const limit = fmt.oa52 ? 52n : 48n;
  if (addr >> limit !== 0n) throw new RangeError(`${what} 0x${addr.toString(16)} does not fit in ${limit} bits`);
  const a = Number(addr);
  return (BigInt(addressFieldHi(fmt, a)) << 32n) | BigInt(addressFieldLo(fmt, a));
}

export function encodeTable(fields: TableFields, fmt: DescriptorFormat): bigint {
  let v = 3n | placeAddress(fields.nextTable, fmt, fmt.granule.shift, "next-level table address");
  if (fields.nsTable) v |= 1n << 63n;
  if (fields.apTable) v |= BigInt(fields.apTable & 3) << 61n;
  if (fields.uxnTable) v |= 1n << 60n;
  if (fields.pxnTable) v |= 1n << 59n;
  return v;
}

/** Encode a block (level < 3) or page (level 3) descriptor. */
export function encodeLeaf(fields: LeafFields, level: number, fmt: DescriptorFormat): bigint {
  const shift = levelShift(fmt.granule, level);
  let v = (level === 3 ? 3n : 1n) | placeAddress(fields.oa, fmt, shift, "output address");
  v |= BigInt((fields.attrIndx ?? 0) & 7) << 2n;
  if (fields.ns) v |= 1n << 5n;
  v |= BigInt((fields.ap ?? 0) & 3) << 6n;
  if (!(fmt.ds && fmt.granule.size !== 65536)) v |= BigInt((fields.sh ?? 0) & 3) << 8n;
  if (fields.af) v |= 1n << 10n;
  if (fields.nG) v |= 1n << 11n;
  if (fields.nT && level !== 3) v |= 1n << 16n;
  if (fields.gp) v |= 1n << 50n;
  if (fields.dbm) v |= 1n << 51n;
  if (fields.contiguous) v |= 1n << 52n;
  if (fields.pxn) v |= 1n << 53n;
  if (fields.uxn) v |= 1n << 54n;
  v |= BigInt((fields.sw ?? 0) & 0xf) << 55n;
  v |= BigInt((fields.pbha ?? 0) & 0xf) << 59n;
  return v;
}

/** Re-encode a decoded descriptor (round-trip partner of decodeDescriptor). */
export function encodeDescriptor(d: Descriptor, fmt: DescriptorFormat): bigint {
  switch (d.kind) {
    case "invalid":
      return d.raw;
    case "table":
      return encodeTable(d, fmt);
    default:
      return encodeLeaf(d, d.level, fmt);
  }
}

/** AP[2:1] in words for the EL1&0 regime: [EL1 access, EL0 access]. */
export function apDescription(ap: number): string {
  return ["EL1 RW, EL0 none", "EL1 RW, EL0 RW", "EL1 RO, EL0 none", "EL1 RO, EL0 RO"][ap & 3] as string;
}

/** SH[1:0] values in words (index = the 2-bit field). */
export type Shareability = "non-shareable" | "reserved" | "outer" | "inner";
export const SH_NAMES: readonly Shareability[] = ["non-shareable", "reserved", "outer", "inner"];
