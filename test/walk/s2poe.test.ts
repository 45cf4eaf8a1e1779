/**
 * Stage-2 permission overlays (FEAT_S2POE) in the two-stage walk. Rules as the ASL states them:
 *
 * - AArch64.S2ComputePermissions: the overlay applies only under S2PIE, when VTCR_EL2.S2POE=1
 *   (bit 37; S2PIE is bit 36) and FEAT_S2POE is implemented.
 * - AArch64.S2ApplyOutputPerms / AArch64.S2OverlayPermissions: the S2POIndex is descriptor bits
 *   [62:59]; S2POR_EL1 holds 16 4-bit values in S2PIR_EL2's encoding; overlays only remove.
 * - AArch64.S2CheckPermissions: the overlay is checked before the base permission (and, for a
 *   stage-1 table read, before the HCR_EL2.PTW Device check), so an access the overlay denies is a
 *   Permission fault with PAR_EL1.Overlay=1 whatever S2PIR_EL2 grants; the dirty-state check
 *   comes last.
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { HCR_PTW, HCR_VM } from "../../src/arch/hcr.js";
import { encodePermFields } from "../../src/arch/pie.js";
import { FEATURES_MAX } from "../../src/arch/registers.js";
import { compileStage2 } from "../../src/walk/stage2.js";
import { AT_OPS, PAR_DIRTY, PAR_OVERLAY, Walker } from "../../src/walk/walker.js";
import { Stage2Tables } from "../helpers/stage2-tables.js";
import { TestTables } from "../helpers/tables.js";
import { twoStageRegs, KVM_VTCR_4K_40 as VTCR_4K_40 } from "../helpers/two-stage-regs.js";

const VTCR_S2PIE = 1n << 36n;
const VTCR_S2POE = 1n << 37n;
const VTCR_HA_HD = (1n << 21n) | (1n << 22n);

/** PAR_EL1 of a stage-2 Permission fault: F=1, FST 0b0011LL, PTW [8], S=1 [9], RES1 [11], Overlay [14], DirtyBit [15]. */
function parS2Perm(level: number, o: { ptw?: boolean; overlay?: boolean; dirty?: boolean } = {}): bigint {
  let p = (1n << 11n) | (1n << 9n) | (BigInt(0b001100 | level) << 1n) | 1n;
  if (o.ptw) p |= 1n << 8n;
  if (o.overlay) p |= BigInt(PAR_OVERLAY);
  if (o.dirty) p |= BigInt(PAR_DIRTY);
  return p;
}

/**
 * Stage-1 tables at IPA 0x4000_0000 (stage-2 block, PIIndex 1 = S2AP[0], S2POIndex `tablePo`),
 * VA 0x1000 -> IPA 0x8000_1000 (stage-2 block PIIndex 1, S2POIndex 5, Dirty=1) and
 * VA 0x2000 -> IPA 0x8020_2000 (PIIndex 1, S2POIndex 6, Dirty=0: clean).
 */
function setup(o: { s2pir: bigint; s2por: bigint; vtcr?: bigint; tablePo?: number; tableMemAttr?: number; hcr?: bigint; s2poe?: boolean }) {
  const s1 = new TestTables(GRANULE_4K, 0);
  const mem = s1.mem;
  const s2 = new Stage2Tables(mem, GRANULE_4K, 1, 40, { concatenated: 2 });
  // S2AP=0b01 sets bit 6 (PIIndex[0]); with S2PIE bit 7 is Dirty.
  s2.map(0x4000_0000n, 2, { oa: 0x4000_0000n, s2ap: 0b11, af: true, memAttr: o.tableMemAttr ?? 0xf, sh: 3, pbha: o.tablePo ?? 0 });
  s2.map(0x8000_0000n, 2, { oa: 0x1_2300_0000n, s2ap: 0b11, af: true, memAttr: 0xf, sh: 3, pbha: 5 });
  s2.map(0x8020_0000n, 2, { oa: 0x1_2400_0000n, s2ap: 0b01, af: true, memAttr: 0xf, sh: 3, pbha: 6 });
  s1.map(0x1000n, 3, { oa: 0x8000_1000n, af: true, sh: 3, ap: 1 });
  s1.map(0x2000n, 3, { oa: 0x8020_2000n, af: true, sh: 3, ap: 1 });
  const regs = twoStageRegs(s1.root, s2.root, {
    features: o.s2poe === false ? { ...FEATURES_MAX, s2poe: false } : FEATURES_MAX,
    hcr: o.hcr ?? HCR_VM,
    vtcr: VTCR_4K_40 | (o.vtcr ?? VTCR_S2PIE | VTCR_S2POE),
    s2pir: o.s2pir,
    s2por: o.s2por,
  });
  return new Walker(mem, regs);
}

// S2PIR: index 1 (every leaf here) RW (0b1100). S2POR: index 0 (table pages) RW, index 5 R only
// (0b1000), index 6 RW (0b1100), index 7 none.
const S2PIR_RW = encodePermFields({ 1: 0b1100 });
const S2POR = encodePermFields({ 0: 0b1100, 5: 0b1000, 6: 0b1100 });

describe("FEAT_S2POE: S2POR_EL1 at the S2POIndex of bits [62:59]", () => {
  it("a read-only overlay makes AT S12E1W a stage-2 Permission fault with Overlay=1; reads pass", () => {
    const w = setup({ s2pir: S2PIR_RW, s2por: S2POR });
    expect(w.translate(0x1000n, AT_OPS.S1E1R).kind).toBe("ok");
    expect(w.translate(0x1000n, AT_OPS.S1E1W).par).toBe(parS2Perm(2, { overlay: true }));
    expect(w.translate(0x1000n, AT_OPS.S1E0W).par).toBe(parS2Perm(2, { overlay: true }));
  });

  it("the overlay is ignored without VTCR_EL2.S2POE, without S2PIE, or without FEAT_S2POE", () => {
    expect(setup({ s2pir: S2PIR_RW, s2por: S2POR, vtcr: VTCR_S2PIE }).translate(0x1000n, AT_OPS.S1E1W).kind).toBe("ok");
    expect(setup({ s2pir: S2PIR_RW, s2por: S2POR, s2poe: false }).translate(0x1000n, AT_OPS.S1E1W).kind).toBe("ok");
    // S2POE without S2PIE: direct S2AP (RW here), no overlay.
    expect(setup({ s2pir: S2PIR_RW, s2por: S2POR, vtcr: VTCR_S2POE }).translate(0x1000n, AT_OPS.S1E1W).kind).toBe("ok");
  });

  it("the overlay is checked first: base and overlay both denying a write still reports Overlay=1", () => {
    // S2PIR index 1 read-only (0b1000): the base alone denies the write (Overlay=0) ...
    const baseOnly = setup({ s2pir: encodePermFields({ 1: 0b1000 }), s2por: encodePermFields({ 0: 0b1100, 5: 0b1100 }) });
    expect(baseOnly.translate(0x1000n, AT_OPS.S1E1W).par).toBe(parS2Perm(2));
    // ... and with a read-only overlay as well, the overlay's fault is the one reported.
    const both = setup({ s2pir: encodePermFields({ 1: 0b1000 }), s2por: S2POR });
    expect(both.translate(0x1000n, AT_OPS.S1E1W).par).toBe(parS2Perm(2, { overlay: true }));
  });

  it("the dirty-state check comes after the overlay: a clean page the overlay lets write takes the DirtyBit fault", () => {
    const w = setup({ s2pir: S2PIR_RW, s2por: S2POR });
    expect(w.translate(0x2000n, AT_OPS.S1E1W).par).toBe(parS2Perm(2, { dirty: true }));
    const denied = setup({ s2pir: S2PIR_RW, s2por: encodePermFields({ 0: 0b1100, 6: 0b1000 }) });
    expect(denied.translate(0x2000n, AT_OPS.S1E1W).par).toBe(parS2Perm(2, { overlay: true }));
    const hw = setup({ s2pir: S2PIR_RW, s2por: S2POR, vtcr: VTCR_S2PIE | VTCR_S2POE | VTCR_HA_HD });
    expect(hw.translate(0x2000n, AT_OPS.S1E1W).kind).toBe("ok");
  });

  it("stage-1 table reads need the overlay's read: a no-access overlay gives PTW=1, Overlay=1", () => {
    const w = setup({ s2pir: S2PIR_RW, s2por: S2POR, tablePo: 7 });
    expect(w.translate(0x1000n, AT_OPS.S1E1R).par).toBe(parS2Perm(2, { ptw: true, overlay: true }));
  });

  it("with HCR_EL2.PTW a table read from stage-2 Device memory reports Overlay=1 only when the overlay also denies it", () => {
    const dev = { s2pir: S2PIR_RW, s2por: S2POR, tableMemAttr: 0b0001, hcr: HCR_VM | HCR_PTW };
    expect(setup({ ...dev, tablePo: 0 }).translate(0x1000n, AT_OPS.S1E1R).par).toBe(parS2Perm(2, { ptw: true }));
    expect(setup({ ...dev, tablePo: 7 }).translate(0x1000n, AT_OPS.S1E1R).par).toBe(parS2Perm(2, { ptw: true, overlay: true }));
  });

  it("a stage-2-only walk (translateIpa) applies the overlay too", () => {
    const s2 = new Walker(
      setup({ s2pir: S2PIR_RW, s2por: S2POR }).mem,
      compileStage2(
        { hcr: HCR_VM, vtcr: VTCR_4K_40 | VTCR_S2PIE | VTCR_S2POE, vttbr: 0x5000_0000n, s2pir: S2PIR_RW, s2por: S2POR },
        FEATURES_MAX,
      ),
    );
    expect(s2.translateIpa(0x8000_1000n, { type: "read", el: 1 }).kind).toBe("ok");
    expect(s2.translateIpa(0x8000_1000n, { type: "write", el: 1 })).toMatchObject({ kind: "fault", fault: "permission", level: 2 });
  });
});
