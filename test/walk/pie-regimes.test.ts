/**
 * Permission indirection outside the EL1&0 stage 1: stage 2 with FEAT_S2PIE (VTCR_EL2.S2PIE=1,
 * S2PIR_EL2; ASL AArch64.S2IndirectBasePermissions, AArch64.S2CheckPermissions; vmsa-regimes.md
 * §3.6) and the EL2 regime with TCR2_EL2.PIE (PIR_EL2 only: the regime has no EL0, §3.3).
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { HCR_VM } from "../../src/arch/hcr.js";
import { encodePermFields } from "../../src/arch/pie.js";
import { encodeTcr, FEATURES_MAX, type Regs } from "../../src/arch/registers.js";
import { type Access, AT_OPS, Walker } from "../../src/walk/walker.js";
import { Stage2Tables } from "../helpers/stage2-tables.js";
import { TestTables } from "../helpers/tables.js";

const KVM_VTCR_4K_40 = 0x8002_3558n;
const VTCR_S2PIE = 1n << 36n;
const EXEC_EL1: Access = { type: "exec", el: 1 };
const EXEC_EL0: Access = { type: "exec", el: 0 };
/** PAR_EL1 of a stage-2 fault: F=1, FST, PTW [8], S=1 [9], RES1 [11]; DirtyBit [15]. */
function parS2(fsc: number, ptw: 0 | 1, dirty = false): bigint {
  return (dirty ? 1n << 15n : 0n) | (1n << 11n) | (1n << 9n) | (BigInt(ptw) << 8n) | (BigInt(fsc) << 1n) | 1n;
}
const PERM_L2 = 0b001110;

/**
 * Stage-1 tables at IPA 0x4000_0000 (stage-2 PIIndex 1: S2AP[0]), data IPA 0x8000_0000 dirty
 * (bit 7 = 1) and 0x8020_0000 clean, both with DBM (PIIndex 3), identity for the tables.
 */
function setup(s2pir: bigint, vtcrExtra = VTCR_S2PIE, tableIndexBits: { s2ap: number; dbm: boolean } = { s2ap: 1, dbm: false }) {
  const s1 = new TestTables(GRANULE_4K, 0);
  const mem = s1.mem;
  const s2 = new Stage2Tables(mem, GRANULE_4K, 1, 40, { concatenated: 2 });
  s2.map(0x4000_0000n, 2, { oa: 0x4000_0000n, af: true, memAttr: 0xf, sh: 3, ...tableIndexBits });
  s2.map(0x8000_0000n, 2, { oa: 0x1_2300_0000n, s2ap: 3, dbm: true, af: true, memAttr: 0xf, sh: 3 });
  s2.map(0x8020_0000n, 2, { oa: 0x1_2400_0000n, s2ap: 1, dbm: true, af: true, memAttr: 0xf, sh: 3 });
  s1.map(0x1000n, 3, { oa: 0x8000_1000n, af: true, sh: 3, attrIndx: 0, ap: 0 }); // EL1 RW, executable at both levels
  s1.map(0x2000n, 3, { oa: 0x8020_2000n, af: true, sh: 3, attrIndx: 0, ap: 1 });
  const regs: Regs = {
    ttbr0: s1.root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40 }),
    mair: 0xffn,
    sctlr: 1n,
    features: FEATURES_MAX,
    hcr: HCR_VM,
    vtcr: KVM_VTCR_4K_40 | vtcrExtra,
    vttbr: s2.root,
    s2pir,
  };
  return { mem, regs };
}

describe("stage 2 with FEAT_S2PIE", () => {
  // Index 1 (tables): R. Index 3 (data): R W with EL0 execute only (0b1101).
  const S2PIR = encodePermFields({ 1: 0b1000, 3: 0b1101 });

  it("permissions come from S2PIR_EL2 at the PIIndex {54,53,51,6}, not from S2AP/XN", () => {
    const { mem, regs } = setup(S2PIR);
    const w = new Walker(mem, regs);
    expect(w.translate(0x1000n, AT_OPS.S1E1W).kind).toBe("ok");
    expect(w.translate(0x1000n, EXEC_EL0).kind).toBe("ok");
    // EL1 execute is not in 0b1101 although XN[1:0] = 00 would allow it directly.
    expect(w.translate(0x1000n, EXEC_EL1)).toMatchObject({ kind: "fault", fault: "permission", level: 2 });
    // Control: without VTCR_EL2.S2PIE the same descriptors use S2AP/XN (EL1 execute allowed).
    const direct = setup(S2PIR, 0n);
    expect(new Walker(direct.mem, direct.regs).translate(0x1000n, EXEC_EL1).kind).toBe("ok");
  });

  it("bit 7 is Dirty: a write to a clean page without VTCR_EL2.HA/HD is a stage-2 Permission fault with DirtyBit", () => {
    const { mem, regs } = setup(S2PIR);
    const w = new Walker(mem, regs);
    expect(w.translate(0x2000n, AT_OPS.S1E1R).kind).toBe("ok");
    expect(w.translate(0x2000n, AT_OPS.S1E1W)).toMatchObject({ kind: "fault", fault: "permission", par: parS2(PERM_L2, 0, true) });
    // With hardware dirty-state update (HA=HD=1, VTCR_EL2 bits 21/22) the write is allowed.
    const hw = setup(S2PIR, VTCR_S2PIE | (1n << 21n) | (1n << 22n));
    expect(new Walker(hw.mem, hw.regs).translate(0x2000n, AT_OPS.S1E1W).kind).toBe("ok");
  });

  it("stage-1 table reads need S2PIR read permission (PTW=1 on a W-only value)", () => {
    const { mem, regs } = setup(encodePermFields({ 1: 0b0100, 3: 0b1100 }));
    const r = new Walker(mem, regs).translate(0x1000n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "fault", fault: "permission", par: parS2(PERM_L2, 1) });
  });

  it("MRO values (0b0010) grant reads: the tables walk, data writes fault", () => {
    const { mem, regs } = setup(encodePermFields({ 1: 0b0010, 3: 0b0010 }));
    const w = new Walker(mem, regs);
    expect(w.translate(0x1000n, AT_OPS.S1E1R).kind).toBe("ok");
    expect(w.translate(0x1000n, AT_OPS.S1E1W)).toMatchObject({ kind: "fault", fault: "permission", par: parS2(PERM_L2, 0) });
  });

  it("VTCR_EL2.S2PIE without FEAT_S2PIE is ignored", () => {
    const { mem, regs } = setup(0n);
    const noS2pie = { ...regs, features: { ...FEATURES_MAX, s2pie: false } };
    expect(new Walker(mem, noS2pie).translate(0x1000n, AT_OPS.S1E1W).kind).toBe("ok");
    expect(new Walker(mem, regs).translate(0x1000n, AT_OPS.S1E1R).kind).toBe("fault");
  });
});

describe("EL2 regime with TCR2_EL2.PIE", () => {
  /** TCR_EL2 (E2H=0 layout): T0SZ=16, 4K, PS=48, RES1 bits 31 and 23. */
  const TCR_EL2 = 16n | (5n << 16n) | (1n << 31n) | (1n << 23n);
  const t = new TestTables(GRANULE_4K, 0);
  // PIIndex 1 (AP[1] set): AP[2:1]=01 reads as RW at EL2 directly.
  t.map(0x1000n, 3, { oa: 0x9000_1000n, af: true, sh: 3, ap: 1 });
  const base: Regs = { ttbr0: t.root, ttbr1: 0n, tcr: TCR_EL2, mair: 0xffn, sctlr: 1n, features: FEATURES_MAX, regime: "el2" };

  it("reads PIR_EL2 only: a PIRE0 value that would trigger the EL1&0 no-access rule has no effect", () => {
    // PIR 0b1110 (RWX) with PIRE0 0b1100 (RW): in EL1&0 both would get nothing (R_VFPJF); EL2 has no EL0.
    const regs = { ...base, tcr2: 2n, pir: encodePermFields({ 1: 0b1110 }), pire0: encodePermFields({ 1: 0b1100 }) };
    const w = new Walker(t.mem, regs);
    expect(w.translate(0x1000n, AT_OPS.S1E1W).kind).toBe("ok");
    expect(w.translate(0x1000n, EXEC_EL1).kind).toBe("ok");
  });

  it("a read-only PIR_EL2 value removes the write AP[2:1]=01 would allow", () => {
    const w = new Walker(t.mem, { ...base, tcr2: 2n, pir: encodePermFields({ 1: 0b1000 }) });
    expect(w.translate(0x1000n, AT_OPS.S1E1R).kind).toBe("ok");
    expect(w.translate(0x1000n, AT_OPS.S1E1W)).toMatchObject({ kind: "fault", fault: "permission" });
    expect(new Walker(t.mem, base).translate(0x1000n, AT_OPS.S1E1W).kind).toBe("ok");
  });
});
