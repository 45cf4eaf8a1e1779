/**
 * PAR_EL1 in the 64-bit format (Arm ARM register page PAR_EL1; ASL AArch64.EncodePAR), as an AT
 * instruction leaves it: F[0] says whether the translation faulted.
 *
 * F=0: ATTR[63:56] (MAIR encoding of the resulting attributes; combined for AT S12E*), PA[51:12],
 * NS[9], SH[8:7] (Device and Normal iNC-oNC read 0b10), bit 11 RES1.
 * F=1: FST[6:1], PTW[8] (a stage-2 fault on a stage-1 table read), S[9] (stage 2 faulted),
 * AssuredOnly[12], TopLevel[13], Overlay[14], DirtyBit[15] (FEAT_THE / S1POE / S1PIE Permission
 * faults), bit 11 RES1, [63:48] IMPLEMENTATION DEFINED (vmsa-regimes.md §1.8).
 */
import { decodeFaultStatusCode, type FaultKind } from "./fault.js";
import { decodeMairAttr } from "./mair.js";

export type Par =
  | {
      readonly kind: "ok";
      readonly raw: bigint;
      readonly pa: bigint;
      /** ATTR[63:56] and its meaning. */
      readonly attr: number;
      readonly memoryType: string;
      readonly sh: "non-shareable" | "reserved" | "outer" | "inner";
      readonly ns: boolean;
    }
  | {
      readonly kind: "fault";
      readonly raw: bigint;
      /** FST[6:1]. */
      readonly fst: number;
      /** The fault FST encodes (undefined for codes no walk produces, e.g. TLB conflict). */
      readonly fault: FaultKind | undefined;
      readonly level: number | undefined;
      /** S: stage 2 faulted (AT S12E* or a stage-1 walk under HCR_EL2.VM). */
      readonly stage: 1 | 2;
      /** PTW: the stage-2 fault was on a stage-1 translation table read. */
      readonly s1ptw: boolean;
      readonly assuredOnly: boolean;
      readonly topLevel: boolean;
      readonly overlay: boolean;
      readonly dirtyBit: boolean;
      readonly impdef: number;
    };

const SH = ["non-shareable", "reserved", "outer", "inner"] as const;

export function decodePar(raw: bigint): Par {
  const bit = (n: bigint): boolean => ((raw >> n) & 1n) === 1n;
  if (bit(0n)) {
    const fst = Number((raw >> 1n) & 0x3fn);
    const f = decodeFaultStatusCode(fst);
    return {
      kind: "fault",
      raw,
      fst,
      fault: f?.kind,
      level: f?.level,
      stage: bit(9n) ? 2 : 1,
      s1ptw: bit(8n),
      assuredOnly: bit(12n),
      topLevel: bit(13n),
      overlay: bit(14n),
      dirtyBit: bit(15n),
      impdef: Number(raw >> 48n),
    };
  }
  const attr = Number(raw >> 56n);
  return {
    kind: "ok",
    raw,
    pa: raw & 0x000f_ffff_ffff_f000n,
    attr,
    memoryType: decodeMairAttr(attr).name,
    sh: SH[Number((raw >> 7n) & 3n)] ?? "non-shareable",
    ns: bit(9n),
  };
}
