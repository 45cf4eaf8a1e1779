/**
 * HCR_EL2, the bits that change address translation (Arm ARM register page HCR_EL2; ASL
 * AArch64.S1Enabled, AArch64.S2Translate; vmsa-regimes.md §1.10).
 */

/** HCR_EL2 bits that change translation (vmsa-regimes.md §1.10). */
export const HCR_VM = 1n << 0n;
export const HCR_PTW = 1n << 2n;
export const HCR_DC = 1n << 12n;
export const HCR_TGE = 1n << 27n;
export const HCR_CD = 1n << 32n;
export const HCR_ID = 1n << 33n;
export const HCR_E2H = 1n << 34n;
export const HCR_FWB = 1n << 46n;

/** HCR_EL2 as the translation regimes see it (ASL HCR_EL2 reads; TGE masking as QEMU's arm_hcr_el2_eff). */
export interface HcrEffective {
  readonly raw: bigint;
  /** Stage 2 enabled for EL1&0: VM or DC, and not {E2H,TGE} = {1,1}. */
  readonly stage2: boolean;
  /** EL1&0 stage 1 treated as disabled (DC or TGE). */
  readonly s1Disabled: boolean;
  readonly dc: boolean;
  /** Protected table walk: stage-1 walks to stage-2 Device memory fault (ignored when TGE=1). */
  readonly ptw: boolean;
  readonly fwb: boolean;
  readonly cd: boolean;
  readonly id: boolean;
  readonly e2h: boolean;
  readonly tge: boolean;
}

export function decodeHcr(raw: bigint): HcrEffective {
  const e2h = (raw & HCR_E2H) !== 0n;
  const tge = (raw & HCR_TGE) !== 0n;
  const host = e2h && tge; // QEMU arm_hcr_el2_eff: VM, DC, CD, ID read as 0 when E2H=TGE=1
  const dc = !host && (raw & HCR_DC) !== 0n;
  return {
    raw,
    stage2: !host && ((raw & HCR_VM) !== 0n || dc),
    s1Disabled: dc || tge,
    dc,
    ptw: !tge && (raw & HCR_PTW) !== 0n,
    fwb: (raw & HCR_FWB) !== 0n,
    cd: !host && (raw & HCR_CD) !== 0n,
    id: !host && (raw & HCR_ID) !== 0n,
    e2h,
    tge,
  };
}
