/**
 * Stage-2 memory attributes: the descriptor's MemAttr[3:0] with HCR_EL2.FWB=0 and =1, and how
 * they combine with the stage-1 attributes (Arm ARM D8.5 "Memory region attributes", stage 2
 * memory type and Cacheability attributes when FEAT_S2FWB is disabled / enabled, and "Combining
 * the stage 1 and stage 2 attributes"; ASL S2DecodeMemAttrs, S2DecodeCacheability,
 * AArch64.S2ApplyFWBMemAttrs, S2CombineS1MemAttrs, S2CombineS1Device, S2CombineS1AttrHints,
 * S2CombineS1Shareability; vmsa-regimes.md §1.6, §1.9).
 *
 * Attributes are exchanged in the MAIR byte encoding (mair.ts), the same encoding PAR_EL1.ATTR uses.
 */
import { type CachePolicy, type DeviceType, decodeMairAttr } from "./mair.js";

const DEVICE: readonly DeviceType[] = ["nGnRnE", "nGnRE", "nGRE", "GRE"];
/** Stage-2 cacheability field values 01/10/11 (00 is Device in the outer field, reserved in the inner). */
const S2_CACHE: readonly (CachePolicy | undefined)[] = [undefined, "NC", "WT", "WB"];

/** What MemAttr[3:0] of a stage-2 leaf means, with or without HCR_EL2.FWB. */
export type S2MemAttr =
  | { readonly kind: "device"; readonly device: DeviceType; readonly name: string }
  /** FWB=0, MemAttr = oo ii with oo != 00. No allocation or transient hints: those come from stage 1. */
  | { readonly kind: "normal"; readonly outer: CachePolicy; readonly inner: CachePolicy; readonly name: string }
  /** FWB=0 with inner field 00 (outer != 00): CONSTRAINED UNPREDICTABLE (NC, WT or WB); 0100 is NoTagAccess WB with FEAT_MTE_PERM. */
  | { readonly kind: "reserved"; readonly name: string }
  /** FWB=1, MemAttr[2:0]=111: the stage-1 attributes are used unchanged. */
  | { readonly kind: "fwb-stage1"; readonly name: string }
  /** FWB=1, 110: Normal Write-Back inner and outer, whatever stage 1 says. */
  | { readonly kind: "fwb-wb"; readonly name: string }
  /** FWB=1, 101 (and 100, which the 2023-03 ASL treats alike; the Arm ARM lists 100 as reserved): stage-1 Device stays, else Normal NC. */
  | { readonly kind: "fwb-nc"; readonly name: string; readonly reservedEncoding: boolean };

/** Decode MemAttr[3:0] (descriptor bits [5:2]) of a stage-2 block or page descriptor. */
export function decodeS2MemAttr(memAttr: number, fwb: boolean): S2MemAttr {
  const m = memAttr & 0xf;
  if (fwb) {
    // FEAT_S2FWB: MemAttr[2:0] decides; MemAttr[3] only matters for FEAT_MTE_PERM.
    const low = m & 7;
    if (low < 4) {
      const device = DEVICE[low] as DeviceType;
      return { kind: "device", device, name: `Device-${device}` };
    }
    if (low === 7) return { kind: "fwb-stage1", name: "stage-1 attributes (FWB)" };
    if (low === 6) return { kind: "fwb-wb", name: "Normal-WB forced (FWB)" };
    return {
      kind: "fwb-nc",
      name: low === 5 ? "Normal-NC unless stage-1 Device (FWB)" : "reserved 100, as 101 (FWB)",
      reservedEncoding: low === 4,
    };
  }
  const outer = S2_CACHE[m >> 2];
  const inner = S2_CACHE[m & 3];
  if (outer === undefined) {
    const device = DEVICE[m & 3] as DeviceType;
    return { kind: "device", device, name: `Device-${device}` };
  }
  if (inner === undefined) return { kind: "reserved", name: `Reserved(${m.toString(2).padStart(4, "0")})` };
  return { kind: "normal", outer, inner, name: outer === inner ? `Normal-${inner}` : `Normal-i${inner}-o${outer}` };
}

/** Shareability as a domain (SH encodings 00 NSH, 10 OSH, 11 ISH). */
export type ShareDomain = "NSH" | "ISH" | "OSH";

/** The SH[1:0] field as a domain; 01 is reserved (CONSTRAINED UNPREDICTABLE) and gives undefined. */
export function shareDomainOf(sh: number): ShareDomain | undefined {
  return (["NSH", undefined, "OSH", "ISH"] as const)[sh & 3];
}

export type CombinedAttrs =
  | {
      readonly kind: "ok";
      /** The combined attributes in MAIR/PAR.ATTR encoding. */
      readonly attr: number;
      readonly name: string;
      /** Combined shareability; any Device result or Normal inner+outer NC is OSH. */
      readonly sh: ShareDomain;
    }
  | { readonly kind: "unpredictable"; readonly reason: string };

/** Most restrictive of two Device types (nGnRnE > nGnRE > nGRE > GRE): the smaller dd. */
function deviceByte(a: number, b: number): number {
  return Math.min(a & 0x0c, b & 0x0c);
}

/** A MAIR nibble for `policy` carrying the hints and transient flag of stage-1 nibble `s1`. */
function nibbleWithHints(policy: CachePolicy, s1: number): number {
  if (policy === "NC") return 0b0100;
  const rw = s1 & 3;
  const transient = s1 >> 3 === 0; // 00RW / 01RW are the transient encodings
  if (policy === "WT") return (transient ? 0b0000 : 0b1000) | rw;
  return (transient ? 0b0100 : 0b1100) | rw;
}

const RANK: Record<CachePolicy, number> = { NC: 0, WT: 1, WB: 2 };

/** The weaker of two cacheabilities: NC if either is NC, else WT if either is WT, else WB (ASL S2CombineS1AttrHints). */
export function weakerCache(a: CachePolicy, b: CachePolicy): CachePolicy {
  return RANK[a] <= RANK[b] ? a : b;
}

/** Combine two shareabilities (ASL S2CombineS1Shareability): OSH if either is OSH, else ISH if either is ISH, else NSH. */
export function combineShareability(s1: ShareDomain, s2: ShareDomain): ShareDomain {
  if (s1 === "OSH" || s2 === "OSH") return "OSH";
  if (s1 === "ISH" || s2 === "ISH") return "ISH";
  return "NSH";
}

function finish(attr: number, s1Sh: ShareDomain, s2Sh: ShareDomain): CombinedAttrs {
  const a = decodeMairAttr(attr);
  // ASL EffectiveShareability: Device, or Normal Inner and Outer Non-cacheable, is Outer Shareable.
  const forcedOsh = a.kind === "device" || attr === 0x44;
  return { kind: "ok", attr, name: a.name, sh: forcedOsh ? "OSH" : combineShareability(s1Sh, s2Sh) };
}

/**
 * The attributes of an access translated by stage 1 (MAIR byte `s1Attr`, shareability `s1Sh`)
 * and stage 2 (`s2`, shareability `s2Sh`; under VTCR_EL2.DS=1 that is VTCR_EL2.SH0).
 *
 * FWB=0 (ASL S2CombineS1MemAttrs): Device beats Normal (Device+Device → the more restrictive;
 * Device at one stage → that stage's Device type); Normal+Normal → per level the weaker
 * cacheability, with stage 1's allocation hints and transient flag when the result is cacheable;
 * MTE Tagged only if stage 1 is Tagged and the result is Normal WB RWA non-transient.
 * FWB=1 (ASL AArch64.S2ApplyFWBMemAttrs): the stage-2 encoding replaces the stage-1 attributes
 * (Device → the more restrictive Device if stage 1 is also Device; 111 → stage 1; 110 → WB with
 * stage-1 hints where stage 1 is a cacheable Normal level, else RWA non-transient; 101/100 →
 * stage-1 Device stays, else Normal NC). Shareability combines in both cases.
 */
export function combineS1S2(s1Attr: number, s1Sh: ShareDomain, s2: S2MemAttr, s2Sh: ShareDomain): CombinedAttrs {
  const s1 = decodeMairAttr(s1Attr);
  if (s1.kind === "reserved") return { kind: "unpredictable", reason: `stage-1 attribute ${s1.name} is reserved` };
  const s1Byte = s1.byte === 0xf0 ? 0xff : s1.byte; // Tagged is WB RWA non-transient plus the tag
  switch (s2.kind) {
    case "reserved":
      return { kind: "unpredictable", reason: `stage-2 MemAttr ${s2.name}: inner cacheability 00 is reserved` };
    case "device": {
      const dd = DEVICE.indexOf(s2.device) << 2;
      return finish(s1.kind === "device" ? deviceByte(s1.byte, dd) : dd, s1Sh, s2Sh);
    }
    case "fwb-stage1":
      return finish(s1.byte, s1Sh, s2Sh);
    case "fwb-nc":
      return finish(s1.kind === "device" ? s1.byte : 0x44, s1Sh, s2Sh);
    case "fwb-wb": {
      // Per level: stage-1 hints when stage 1 is Normal and that level is cacheable, else RWA non-transient.
      const level = (n: number): number => (s1.kind === "normal" && n !== 0b0100 ? nibbleWithHints("WB", n) : 0b1111);
      const attr = (level(s1Byte >> 4) << 4) | level(s1Byte & 0xf);
      return finish(s1.byte === 0xf0 && attr === 0xff ? 0xf0 : attr, s1Sh, s2Sh);
    }
    case "normal": {
      if (s1.kind === "device") return finish(s1.byte, s1Sh, s2Sh);
      const outer = weakerCache(s1.outer.policy, s2.outer);
      const inner = weakerCache(s1.inner.policy, s2.inner);
      const attr = (nibbleWithHints(outer, s1Byte >> 4) << 4) | nibbleWithHints(inner, s1Byte & 0xf);
      return finish(s1.byte === 0xf0 && attr === 0xff ? 0xf0 : attr, s1Sh, s2Sh);
    }
  }
}
