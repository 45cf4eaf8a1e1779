/**
 * The two-stage EL1&0 walk (HCR_EL2.VM=1): every stage-1 table address translated by stage 2,
 * the final IPA translated by stage 2, and the PAR_EL1 that AT S12E1R/W, S12E0R/W return
 * (ASL AArch64.FullTranslate, AArch64.S1Walk, AArch64.S2Translate, AArch64.EncodePAR;
 * vmsa-regimes.md §1.8–§1.11).
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { HCR_CD, HCR_DC, HCR_E2H, HCR_FWB, HCR_PTW, HCR_TGE, HCR_VM } from "../../src/arch/hcr.js";
import { encodeTcr, FEATURES_MAX, type Regs } from "../../src/arch/registers.js";
import { AT_OPS, Walker } from "../../src/walk/walker.js";
import { Stage2Tables } from "../helpers/stage2-tables.js";
import { TestTables } from "../helpers/tables.js";

const KVM_VTCR_4K_40 = 0x8002_3558n; // T0SZ=24, SL0=01, 4K, PS=40, ISH WBWA walks
/** MAIR: 0 Normal WB RWA (0xff), 1 Device-nGnRE (0x04), 2 Normal NC (0x44), 3 WB transient RWA (0x77). */
const MAIR = 0x77_44_04_ffn;

function parOk(pa: bigint, attr: number, sh: number): bigint {
  return (BigInt(attr) << 56n) | pa | (1n << 11n) | (1n << 9n) | (BigInt(sh) << 7n);
}
/** PAR_EL1 for a fault: F=1, FST, PTW [8], S [9], RES1 [11]. */
function parFault(fsc: number, s: 0 | 1, ptw: 0 | 1): bigint {
  return (1n << 11n) | (BigInt(s) << 9n) | (BigInt(ptw) << 8n) | (BigInt(fsc) << 1n) | 1n;
}

/** Stage-1 tables at IPA 0x4000_0000.. (identity-mapped by stage 2), data IPAs at 0x8000_0000.. */
function setup(hcr = HCR_VM) {
  const s1 = new TestTables(GRANULE_4K, 0);
  const mem = s1.mem;
  const s2 = new Stage2Tables(mem, GRANULE_4K, 1, 40, { concatenated: 2 });
  // Stage 2: the stage-1 table pages (IPA 0x4000_0000, 2 MiB) identity, Normal WB, read-only.
  s2.map(0x4000_0000n, 2, { oa: 0x4000_0000n, s2ap: 1, af: true, memAttr: 0xf, sh: 3 });
  // Data: IPA 0x8000_0000 (2 MiB) -> PA 0x1_2300_0000, WT/WT, RW.
  s2.map(0x8000_0000n, 2, { oa: 0x1_2300_0000n, s2ap: 3, af: true, memAttr: 0b1010, sh: 3 });
  // IPA 0x8020_0000 -> PA 0x1_2400_0000, read-only Normal WB.
  s2.map(0x8020_0000n, 2, { oa: 0x1_2400_0000n, s2ap: 1, af: true, memAttr: 0xf, sh: 3 });
  // Stage 1: VA 0x1000 -> IPA 0x8000_3000 (Normal WB, AttrIndx 0), VA 0x2000 -> IPA 0x8020_0000,
  // VA 0x3000 -> IPA 0x9000_0000 (no stage-2 mapping), VA 0x4000 read-only at stage 1.
  s1.map(0x1000n, 3, { oa: 0x8000_3000n, af: true, sh: 3, attrIndx: 0, ap: 1 });
  s1.map(0x2000n, 3, { oa: 0x8020_0000n, af: true, sh: 3, attrIndx: 0, ap: 1 });
  s1.map(0x3000n, 3, { oa: 0x9000_0000n, af: true, sh: 3, attrIndx: 0, ap: 1 });
  s1.map(0x4000n, 3, { oa: 0x8000_4000n, af: true, sh: 3, attrIndx: 3, ap: 3 });
  s1.map(0x5000n, 3, { oa: 0x8000_5000n, af: true, sh: 3, attrIndx: 1, ap: 1 });
  const regs: Regs = {
    ttbr0: s1.root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40 }),
    mair: MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
    hcr,
    vtcr: KVM_VTCR_4K_40,
    vttbr: s2.root,
  };
  return { s1, s2, mem, regs };
}

describe("two-stage walk and AT S12E*", () => {
  it("translates VA -> IPA -> PA and reports the combined attributes", () => {
    const { mem, regs } = setup();
    const r = new Walker(mem, regs).translate(0x1234n, AT_OPS.S1E1R);
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    expect(r.pa).toBe(0x1_2300_3234n);
    expect(r.stage2?.ipa).toBe(0x8000_3234n);
    // Stage-1 table reads went through stage 2: each trail entry carries the IPA it was read at.
    expect(r.trail.every((t) => t.ipa === t.address)).toBe(true);
    // vmsa-regimes.md §1.9: S1 0xff + S2 WT/WT -> 0xbb (WT with stage-1 RWA hints); ISH + ISH -> ISH.
    expect(r.par).toBe(parOk(0x1_2300_3000n, 0xbb, 3));
  });

  it("takes the stage-1 transient hint into a WT result (0x77 + WT -> 0x33)", () => {
    // ASL S2CombineS1AttrHints: hints and the transient flag come from stage 1 when the result is cacheable.
    const { mem, regs } = setup();
    const r = new Walker(mem, regs).translate(0x4000n, AT_OPS.S1E1R);
    expect(r.par).toBe(parOk(0x1_2300_4000n, 0x33, 3));
  });

  it("keeps a stage-1 Device type over stage-2 Normal, with PAR.SH = Outer Shareable", () => {
    const { mem, regs } = setup();
    const r = new Walker(mem, regs).translate(0x5000n, AT_OPS.S1E1R);
    expect(r.par).toBe(parOk(0x1_2300_5000n, 0x04, 2));
  });

  it("reports a stage-2 fault on a stage-1 table read with PAR.S=1 and PAR.PTW=1", () => {
    // vmsa-regimes.md §1.8: AT from EL2, stage-2 fault on a stage-1 table read -> S=1, PTW=1, FST at the stage-2 level.
    const { mem, regs, s1, s2 } = setup();
    // Take away stage 2's mapping of the stage-1 tables: the level-0 table read faults at stage-2 level 2.
    mem.write64(s2.slot(0x4000_0000n, 2), 0n);
    const r = new Walker(mem, regs).translate(0x1000n, AT_OPS.S1E1R);
    expect(r.kind).toBe("fault");
    if (r.kind !== "fault") return;
    expect(r.stage).toBe(2);
    expect(r.s1ptw).toBe(true);
    expect(r.ipa).toBe(s1.root);
    expect(r.par).toBe(parFault(0b000110, 1, 1));
  });

  it("reports a stage-2 fault on the final IPA with PAR.S=1 and PAR.PTW=0", () => {
    const { mem, regs } = setup();
    const w = new Walker(mem, regs);
    // No stage-2 mapping of IPA 0x9000_0000: Translation fault at stage-2 level 2.
    expect(w.translate(0x3000n, AT_OPS.S1E1R).par).toBe(parFault(0b000110, 1, 0));
    // Stage 2 read-only: AT S12E1W -> stage-2 Permission fault at level 2 (the block).
    expect(w.translate(0x2000n, AT_OPS.S1E1W).par).toBe(parFault(0b001110, 1, 0));
    expect(w.translate(0x2000n, AT_OPS.S1E1R).par).toBe(parOk(0x1_2400_0000n, 0xff, 3));
  });

  it("reports a stage-1 fault before looking at stage 2 of the final IPA", () => {
    // ASL AArch64.FullTranslate: stage 1 completes (incl. its permission check) before stage 2.
    const { mem, regs } = setup();
    const r = new Walker(mem, regs).translate(0x4000n, AT_OPS.S1E1W); // stage-1 read-only
    expect(r.kind === "fault" && r.stage).toBe(undefined);
    expect(r.par).toBe(parFault(0b001111, 0, 0));
  });

  it("faults a stage-1 walk into stage-2 Device memory with HCR_EL2.PTW=1 at the stage-2 leaf level", () => {
    // vmsa-regimes.md §1.5/§1.8 (and QEMU deviation 4: QEMU reports level 0).
    const { mem, regs, s2 } = setup(HCR_VM | HCR_PTW);
    s2.map(0x4000_0000n, 2, { oa: 0x4000_0000n, s2ap: 1, af: true, memAttr: 0b0001, sh: 3 });
    expect(new Walker(mem, regs).translate(0x1000n, AT_OPS.S1E1R).par).toBe(parFault(0b001110, 1, 1));
    expect(new Walker(mem, { ...regs, hcr: HCR_VM }).translate(0x1000n, AT_OPS.S1E1R).kind).toBe("ok");
  });

  it("uses IPA = VA with Device-nGnRnE stage-1 attributes when SCTLR_EL1.M=0, and Normal WB NSH with HCR_EL2.DC", () => {
    // vmsa-regimes.md §1.11: stage 1 off -> IPA = VA; stage 2 still applies.
    const { mem, regs } = setup();
    const off = new Walker(mem, { ...regs, sctlr: 0n }).translate(0x8000_1000n, AT_OPS.S1E1R);
    expect(off.par).toBe(parOk(0x1_2300_1000n, 0x00, 2));
    const dc = new Walker(mem, { ...regs, hcr: HCR_VM | HCR_DC }).translate(0x8000_1000n, AT_OPS.S1E1R);
    // Stage 1 Normal WB RWA NSH, stage 2 WT ISH -> WT RWA (0xbb), ISH.
    expect(dc.par).toBe(parOk(0x1_2300_1000n, 0xbb, 3));
  });

  it("lets FWB MemAttr 111 keep the stage-1 attributes", () => {
    // ASL AArch64.S2ApplyFWBMemAttrs: 111 -> stage-1 attributes unchanged.
    const { mem, regs, s2 } = setup(HCR_VM | HCR_FWB);
    s2.map(0x8000_0000n, 2, { oa: 0x1_2300_0000n, s2ap: 3, af: true, memAttr: 0b0111, sh: 3 });
    expect(new Walker(mem, regs).translate(0x4000n, AT_OPS.S1E1R).par).toBe(parOk(0x1_2300_4000n, 0x77, 3));
  });

  it("makes stage-2 Normal data accesses Non-cacheable with HCR_EL2.CD (checked against QEMU: campaign --regime s12)", () => {
    // ASL AArch64.S2Translate: CD=1 and a data access to stage-2 Normal memory -> Normal NC; the combined
    // result is then Normal iNC-oNC (0x44), which PAR_EL1.SH reports as Outer Shareable.
    const { mem, regs } = setup(HCR_VM | HCR_CD);
    expect(new Walker(mem, regs).translate(0x1234n, AT_OPS.S1E1R).par).toBe(parOk(0x1_2300_3000n, 0x44, 2));
  });

  it("has no stage 2 when E2H=TGE=1, whatever HCR_EL2.VM says", () => {
    // QEMU arm_hcr_el2_eff / ASL: with {E2H,TGE}={1,1} VM reads as 0 (and TGE disables the EL1&0 stage 1).
    const { mem, regs } = setup(HCR_VM | HCR_E2H | HCR_TGE);
    const r = new Walker(mem, { ...regs, sctlr: 0n }).translate(0x8000_1000n, AT_OPS.S1E1R);
    expect(r.kind === "ok" && r.stage2).toBe(undefined);
    expect(r.par).toBe((0x8000_1000n & ~0xfffn) | (1n << 11n) | (1n << 9n) | (2n << 7n));
  });
});
