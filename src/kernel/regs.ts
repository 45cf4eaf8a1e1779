/**
 * The system-register values a Linux kernel of a given geometry runs with (proc.S __cpu_setup):
 * TCR_EL1 with T0SZ = T1SZ = 64 - VA_BITS, the granule in both halves, IPS, A1 clear (ASID from
 * TTBR0), TBI0, HA/HD; MAIR_EL1 with the MT_* indices; SCTLR_EL1 with the MMU on.
 */
import { encodeTcr, FEATURES_MAX, type Features, LINUX_MAIR, LINUX_SCTLR, type Regs } from "../arch/registers.js";
import type { KernelGeometry } from "./geometry.js";

export function kernelTcr(geo: KernelGeometry, opts: { t0sz?: number; epd0?: boolean } = {}): bigint {
  const tnsz = 64 - geo.vaBits;
  return encodeTcr({
    t0sz: opts.t0sz ?? tnsz,
    t1sz: tnsz,
    tg0: geo.granule.name,
    tg1: geo.granule.name,
    ipsBits: geo.pa52 ? 52 : 48,
    tbi0: true,
    as: true,
    ha: true,
    hd: true,
    ds: geo.ds,
    epd0: opts.epd0,
  });
}

/** Registers for walking `ttbr1` (and `ttbr0`) with this geometry. */
export function kernelRegs(
  geo: KernelGeometry,
  ttbr1: bigint | number,
  ttbr0: bigint | number = 0,
  features: Features = FEATURES_MAX,
): Regs {
  return {
    ttbr0: physToTtbr(geo, BigInt(ttbr0)),
    ttbr1: physToTtbr(geo, BigInt(ttbr1)),
    tcr: kernelTcr(geo),
    mair: LINUX_MAIR,
    sctlr: LINUX_SCTLR,
    features,
  };
}

/** phys_to_ttbr: with 52-bit PAs, PA[51:48] goes to TTBR bits [5:2]. */
export function phys_to_ttbr(geo: KernelGeometry, pa: bigint): bigint {
  if (!geo.pa52) return pa;
  return (pa & 0x0000_ffff_ffff_ffc0n) | (((pa >> 48n) & 0xfn) << 2n);
}
export const physToTtbr = phys_to_ttbr;
