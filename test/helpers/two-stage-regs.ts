/**
 * The registers of the two-stage test setups: a 4K/48-bit EL1&0 stage 1 (IPS 40, TTBR0 only,
 * MAIR index 0 Normal WB) over KVM's usual stage 2 (VTCR_EL2 0x8002_3558: T0SZ=24, SL0=01, 4K,
 * PS=40, ISH WBWA walks; HCR_EL2.VM). `over` replaces any field.
 */
import { HCR_VM } from "../../src/arch/hcr.js";
import { encodeTcr, FEATURES_MAX, type Regs } from "../../src/arch/registers.js";

export const KVM_VTCR_4K_40 = 0x8002_3558n;

export function twoStageRegs(s1Root: bigint, s2Root: bigint, over: Partial<Regs> = {}): Regs {
  return {
    ttbr0: s1Root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40 }),
    mair: 0xffn,
    sctlr: 1n,
    features: FEATURES_MAX,
    hcr: HCR_VM,
    vtcr: KVM_VTCR_4K_40,
    vttbr: s2Root,
    ...over,
  };
}
