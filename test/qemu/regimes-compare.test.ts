/**
 * The pieces of the regimes campaign that need no QEMU: TCR_EL2 layouts (vmsa-regimes.md §2.1)
 * and the naming of QEMU's stage-2 deviations (compare.ts classifyRegime): a named deviation is
 * only the exact wrong answer QEMU gives, anything else stays a disagreement.
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { HCR_PTW, HCR_VM } from "../../src/arch/hcr.js";
import { decodeTcr, encodeTcr, FEATURES_MAX, type Regs } from "../../src/arch/registers.js";
import { decodeTcrEl2, tcrEl2AsEl1Layout } from "../../src/arch/tcr-el2.js";
import { classifyRegime, DEVIATIONS } from "../../src/diff-qemu/compare.js";
import { tcrEl2FromEl1Layout } from "../../src/diff-qemu/generate-regimes.js";
import { AT_OPS, Walker } from "../../src/walk/walker.js";
import { Stage2Tables } from "../helpers/stage2-tables.js";
import { TestTables } from "../helpers/tables.js";

describe("TCR_EL2 layouts", () => {
  it("round-trips the TTBR0 settings between the TCR_EL1 and the E2H=0 TCR_EL2 layouts", () => {
    for (const f of [
      { t0sz: 25, tg0: "4K" as const, ipsBits: 40, tbi0: true, ha: true, hd: true, hpd0: true },
      { t0sz: 33, tg0: "64K" as const, ipsBits: 52, ds: false },
      { t0sz: 20, tg0: "16K" as const, ipsBits: 48, ds: true, ha: true },
    ]) {
      const el1 = encodeTcr({ t1sz: 16, tg1: "4K", ...f });
      const el2 = tcrEl2FromEl1Layout(el1);
      const back = decodeTcr(tcrEl2AsEl1Layout(el2));
      const orig = decodeTcr(el1);
      expect([back.t0, back.ips, back.ha, back.hd, back.ds]).toEqual([orig.t0, orig.ips, orig.ha, orig.hd, orig.ds]);
      // RES1 bits 23 and 31 of the E2H=0 layout are set.
      expect((el2 >> 23n) & 1n).toBe(1n);
      expect(decodeTcrEl2(el2).t0sz).toBe(f.t0sz);
    }
  });
});

describe("classifyRegime names QEMU's stage-2 deviations exactly", () => {
  // Stage 1 at IPA 0x4000_0000 (tables), stage 2 maps them as Device with HCR_EL2.PTW=1.
  const s1 = new TestTables(GRANULE_4K, 0);
  const s2 = new Stage2Tables(s1.mem, GRANULE_4K, 1, 40, { concatenated: 2 });
  s2.map(0x4000_0000n, 2, { oa: 0x4000_0000n, s2ap: 1, af: true, memAttr: 0b0001, sh: 3 });
  s1.map(0x1000n, 3, { oa: 0x8000_0000n, af: true, sh: 3, ap: 1 });
  const regs: Regs = {
    ttbr0: s1.root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40 }),
    mair: 0xffn,
    sctlr: 1n,
    features: FEATURES_MAX,
    hcr: HCR_VM | HCR_PTW,
    vtcr: 0x8002_3558n,
    vttbr: s2.root,
  };
  const r = new Walker(s1.mem, regs).translate(0x1000n, AT_OPS.S1E1R);

  it("the PTW Device fault at level 0 (QEMU) is deviation qemu-s2-ptw-device-level-0; another FST is a disagreement", () => {
    // vmsa-regimes.md §5 deviation 4: ASL gives the stage-2 leaf level (2 here).
    expect(r.par).toBe(0xb1dn); // F=1, FST=0b001110, PTW=1, S=1, bit 11
    const level0 = { kind: "par" as const, par: 0xb19n };
    expect(classifyRegime(r, level0, regs)).toEqual({ kind: "deviation", deviation: DEVIATIONS.s2PtwDeviceLevel });
    expect(classifyRegime(r, { kind: "par", par: 0xb1bn }, regs).kind).toBe("mismatch");
    expect(classifyRegime(r, { kind: "par", par: 0x19n }, regs).kind).toBe("mismatch");
    expect(classifyRegime(r, { kind: "par", par: r.par ?? 0n }, regs).kind).toBe("agree");
  });
});

describe("classifyRegime: QEMU's stage-2 attribute combining", () => {
  // Stage 1 -> IPA 0x8000_0000 (MAIR index 0 = 0x35: outer WT transient RW, inner WB transient R),
  // stage 2 WT/WT (MemAttr 0b1010) there.
  const s1 = new TestTables(GRANULE_4K, 0);
  const s2 = new Stage2Tables(s1.mem, GRANULE_4K, 1, 40, { concatenated: 2 });
  s2.map(0x4000_0000n, 2, { oa: 0x4000_0000n, s2ap: 1, af: true, memAttr: 0xf, sh: 3 });
  s2.map(0x8000_0000n, 2, { oa: 0x1_0000_0000n, s2ap: 1, af: true, memAttr: 0b1010, sh: 3 });
  s1.map(0x1000n, 3, { oa: 0x8000_0000n, af: true, sh: 3, ap: 1, attrIndx: 0 });
  const regs: Regs = {
    ttbr0: s1.root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40 }),
    mair: 0x35n,
    sctlr: 1n,
    features: FEATURES_MAX,
    hcr: HCR_VM,
    vtcr: 0x8002_3558n,
    vttbr: s2.root,
  };
  const r = new Walker(s1.mem, regs).translate(0x1000n, AT_OPS.S1E1R);
  const withAttr = (a: number): bigint => ((r.par ?? 0n) & ~(0xffn << 56n)) | (BigInt(a) << 56n);

  it("names WT-non-transient only on the level where stage 1 was Write-Back (seed 104's 0x39 for 0x31)", () => {
    // ASL S2CombineS1AttrHints: outer stays WT transient RW (0011), inner WB transient R + WT -> WT transient R (0001).
    expect(r.par !== null && Number(r.par >> 56n)).toBe(0x31);
    expect(classifyRegime(r, { kind: "par", par: withAttr(0x39) }, regs)).toEqual({
      kind: "deviation",
      deviation: DEVIATIONS.s2WtTransient,
    });
    // QEMU leaves a stage-1 WT level alone: 0xb9 (outer made non-transient too) is not its answer.
    expect(classifyRegime(r, { kind: "par", par: withAttr(0xb9) }, regs).kind).toBe("mismatch");
    expect(classifyRegime(r, { kind: "par", par: withAttr(0x33) }, regs).kind).toBe("mismatch");
  });
});
