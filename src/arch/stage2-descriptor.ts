/**
 * VMSAv8-64 stage-2 descriptors, 64-bit format (Arm ARM D8.3 "Translation table descriptor
 * formats", stage 2 block and page descriptor attributes; ASL AArch64.S2NextWalkStateLeaf,
 * AArch64.S2NextWalkStateTable, AArch64.S2DirectBasePermissions; vmsa-regimes.md §1.4–§1.6).
 *
 * Type decoding, block legality and the output address are the stage-1 rules for the same
 * DescriptorFormat (descriptor.ts: descriptorKind, descriptorAddress, addressField*): only the
 * attribute bits differ. Stage-2 table descriptors carry no hierarchical attributes: bits [63:59]
 * are not APTable/XNTable/PXNTable/NSTable at stage 2 (the ASL table step reads only the address).
 */
import { type DescriptorFormat, descriptorAddress, descriptorKind, type InvalidReason, placeAddress } from "./descriptor.js";
import { levelShift } from "./granule.js";
import { decodeS2MemAttr, type S2MemAttr } from "./stage2-memattr.js";
import { bit as b, bits as f } from "./u64.js";

export interface Stage2DecodeOptions {
  /** HCR_EL2.FWB=1 (FEAT_S2FWB): MemAttr[2:0] replace the stage-1 attributes. */
  readonly fwb: boolean;
  /** FEAT_XNX implemented: XN[0] (bit 53) is meaningful; without it bit 53 reads as 0. */
  readonly xnx: boolean;
}

export interface Stage2LeafAttrs {
  /** MemAttr[3:0] (bits [5:2]). */
  readonly memAttr: number;
  readonly memType: S2MemAttr;
  /** S2AP[1:0] (bits [7:6]): bit 0 read, bit 1 write (granted independently: 10 is write-only). */
  readonly s2ap: number;
  readonly read: boolean;
  readonly write: boolean;
  /** SH[1:0] (bits [9:8]); with DS=1 those bits are OA[51:50] and SH is VTCR_EL2.SH0 (then undefined here). */
  readonly sh: number | undefined;
  readonly af: boolean;
  /** FnXS (bit 11, FEAT_XS). Stage 2 has no nG. */
  readonly fnxs: boolean;
  /** nT (bit 16, block descriptors, FEAT_BBM). */
  readonly nT: boolean;
  /** DBM (bit 51): with VTCR_EL2.HA=HD=1 writes are permitted and set S2AP[1]. */
  readonly dbm: boolean;
  readonly contiguous: boolean;
  /** XN[1:0] (bits [54:53]) as read: bit 53 reads as 0 without FEAT_XNX. */
  readonly xn: number;
  /** Instruction fetches from EL1 (privileged) / EL0 are permitted by stage 2. */
  readonly el1Exec: boolean;
  readonly el0Exec: boolean;
  /** Bits [62:59]: PBHA / S2POIndex (S2PIE+S2POE) / ignored. */
  readonly pbha: number;
  /** Bits [58:55]: NS (Realm), AssuredOnly (FEAT_THE) or ignored/software. */
  readonly sw: number;
}

export type Stage2Descriptor =
  | { readonly stage: 2; readonly kind: "invalid"; readonly level: number; readonly raw: bigint; readonly reason: InvalidReason }
  | { readonly stage: 2; readonly kind: "table"; readonly level: number; readonly raw: bigint; readonly nextTable: bigint }
  | ({
      readonly stage: 2;
      readonly kind: "block" | "page";
      readonly level: number;
      readonly raw: bigint;
      readonly oa: bigint;
    } & Stage2LeafAttrs);

/**
 * Execute permission from XN[1:0] (ASL AArch64.S2DirectBasePermissions; FEAT_XNX):
 * 00 both, 01 EL0 only (not EL1), 10 neither, 11 EL1 only (not EL0).
 */
export function s2Execute(xn: number): { el1: boolean; el0: boolean } {
  switch (xn & 3) {
    case 0:
      return { el1: true, el0: true };
    case 1:
      return { el1: false, el0: true };
    case 2:
      return { el1: false, el0: false };
    default:
      return { el1: true, el0: false };
  }
}

export function decodeStage2Descriptor(fmt: DescriptorFormat, level: number, raw: bigint, opts: Stage2DecodeOptions): Stage2Descriptor {
  const k = descriptorKind(raw, level, fmt);
  switch (k.kind) {
    case "invalid":
      return { stage: 2, kind: "invalid", level, raw, reason: k.reason ?? "invalid" };
    case "table":
      return { stage: 2, kind: "table", level, raw, nextTable: descriptorAddress(raw, fmt, fmt.granule.shift) };
    default: {
      const memAttr = f(raw, 5, 2);
      const s2ap = f(raw, 7, 6);
      const xn = (b(raw, 54) ? 2 : 0) | (opts.xnx && b(raw, 53) ? 1 : 0);
      const x = s2Execute(xn);
      return {
        stage: 2,
        kind: k.kind,
        level,
        raw,
        oa: descriptorAddress(raw, fmt, levelShift(fmt.granule, level)),
        memAttr,
        memType: decodeS2MemAttr(memAttr, opts.fwb),
        s2ap,
        read: (s2ap & 1) !== 0,
        write: (s2ap & 2) !== 0,
        sh: fmt.ds ? undefined : f(raw, 9, 8),
        af: b(raw, 10),
        fnxs: b(raw, 11),
        nT: k.kind === "block" && b(raw, 16),
        dbm: b(raw, 51),
        contiguous: b(raw, 52),
        xn,
        el1Exec: x.el1,
        el0Exec: x.el0,
        sw: f(raw, 58, 55),
        pbha: f(raw, 62, 59),
      };
    }
  }
}

export interface Stage2LeafFields {
  readonly oa: bigint;
  readonly memAttr?: number;
  readonly s2ap?: number;
  readonly sh?: number;
  readonly af?: boolean;
  readonly fnxs?: boolean;
  readonly nT?: boolean;
  readonly dbm?: boolean;
  readonly contiguous?: boolean;
  /** XN[1:0]; bit 0 is written only with FEAT_XNX in mind (it is bit 53 either way). */
  readonly xn?: number;
  readonly sw?: number;
  readonly pbha?: number;
}

/** Encode a stage-2 table descriptor (the address only: stage 2 has no table attributes). */
export function encodeStage2Table(nextTable: bigint, fmt: DescriptorFormat): bigint {
  return 3n | placeAddress(nextTable, fmt, fmt.granule.shift, "next-level table address");
}

/** Encode a stage-2 block (level < 3) or page (level 3) descriptor. */
export function encodeStage2Leaf(fields: Stage2LeafFields, level: number, fmt: DescriptorFormat): bigint {
  let v = (level === 3 ? 3n : 1n) | placeAddress(fields.oa, fmt, levelShift(fmt.granule, level), "output address");
  v |= BigInt((fields.memAttr ?? 0) & 0xf) << 2n;
  v |= BigInt((fields.s2ap ?? 0) & 3) << 6n;
  if (!fmt.ds) v |= BigInt((fields.sh ?? 0) & 3) << 8n;
  if (fields.af) v |= 1n << 10n;
  if (fields.fnxs) v |= 1n << 11n;
  if (fields.nT && level !== 3) v |= 1n << 16n;
  if (fields.dbm) v |= 1n << 51n;
  if (fields.contiguous) v |= 1n << 52n;
  v |= BigInt((fields.xn ?? 0) & 3) << 53n;
  v |= BigInt((fields.sw ?? 0) & 0xf) << 55n;
  v |= BigInt((fields.pbha ?? 0) & 0xf) << 59n;
  return v;
}
