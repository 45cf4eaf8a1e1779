/**
 * TCR_EL2 in its non-VHE layout (HCR_EL2.E2H=0: the EL2 regime, one VA range from TTBR0_EL2;
 * Arm ARM register page TCR_EL2 "When FEAT_VHE is not implemented or HCR_EL2.E2H == 0";
 * ASL AArch64.S1TTWParamsEL2; vmsa-regimes.md §2.1). With E2H=1 TCR_EL2 has the TCR_EL1 layout
 * and decodes with registers.ts decodeTcr.
 */
import { bit, bits } from "./u64.js";

export interface TcrEl2 {
  readonly raw: bigint;
  /** [5:0]: VA size = 64 - T0SZ, one range starting at 0. */
  readonly t0sz: number;
  readonly irgn0: number;
  readonly orgn0: number;
  readonly sh0: number;
  /** [15:14]: TCR_EL1.TG0 encoding. */
  readonly tg0: number;
  /** [18:16]: output size (TCR_EL1.IPS encoding). */
  readonly ps: number;
  /** [20]: top byte ignored. */
  readonly tbi: boolean;
  /** [21], [22]: hardware AF / dirty-state update. */
  readonly ha: boolean;
  readonly hd: boolean;
  /** [24]: hierarchical permissions disabled. */
  readonly hpd: boolean;
  /** [29]: TBI for data accesses only (FEAT_PAuth). */
  readonly tbid: boolean;
  /** [32]: FEAT_LPA2 52-bit format for 4K/16K. */
  readonly ds: boolean;
}

export function decodeTcrEl2(raw: bigint): TcrEl2 {
  return {
    raw,
    t0sz: bits(raw, 5, 0),
    irgn0: bits(raw, 9, 8),
    orgn0: bits(raw, 11, 10),
    sh0: bits(raw, 13, 12),
    tg0: bits(raw, 15, 14),
    ps: bits(raw, 18, 16),
    tbi: bit(raw, 20),
    ha: bit(raw, 21),
    hd: bit(raw, 22),
    hpd: bit(raw, 24),
    tbid: bit(raw, 29),
    ds: bit(raw, 32),
  };
}

/**
 * The same settings in the TCR_EL1 layout, with the upper range switched off (EPD1=1, TG1 4K,
 * T1SZ = T0SZ), so one stage-1 walk serves both regimes. Field by field: T0SZ/IRGN0/ORGN0/SH0/TG0
 * stay in [15:0]; PS[18:16] -> IPS[34:32]; TBI[20] -> TBI0[37]; HA[21] -> [39]; HD[22] -> [40];
 * HPD[24] -> HPD0[41]; TBID[29] -> TBID0[51]; DS[32] -> [59].
 */
export function tcrEl2AsEl1Layout(raw: bigint): bigint {
  const t = decodeTcrEl2(raw);
  let v = raw & 0xffffn;
  v |= BigInt(t.t0sz) << 16n; // T1SZ (unused: EPD1)
  v |= 1n << 23n; // EPD1
  v |= 2n << 30n; // TG1 = 4K
  v |= BigInt(t.ps) << 32n;
  if (t.tbi) v |= 1n << 37n;
  if (t.ha) v |= 1n << 39n;
  if (t.hd) v |= 1n << 40n;
  if (t.hpd) v |= 1n << 41n;
  if (t.tbid) v |= 1n << 51n;
  if (t.ds) v |= 1n << 59n;
  return v;
}
