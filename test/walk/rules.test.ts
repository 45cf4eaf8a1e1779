/**
 * Walk rules that no other unit test pinned (issue 10 §7: deleting them from walkRaw passed every
 * test): the TTBR1 canonical-VA check, E0PD, the MMU-off path, PAN, and rarely set fields (DS with
 * the 64K granule, 52-bit output addresses on success, nT, NS/NSTable, EPAN). Each case asserts the
 * exact outcome, fault level and PAR_EL1 (ASL AArch64.EncodePAR: F=1 → FST[6:1], bit 11 RES1;
 * F=0 → ATTR[63:56], PA[51:12], bit 11 RES1, NS[9], SH[8:7]).
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K, GRANULE_64K } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, type Features, LINUX_MAIR, type Regs } from "../../src/arch/registers.js";
import { type Access, AT_OPS, Walker } from "../../src/walk/walker.js";
import { TestTables } from "../helpers/tables.js";

const PAGE = { af: true, sh: 3, attrIndx: 0 };
const SCTLR_M = 1n;
const TCR_E0PD0 = 1n << 55n;
const TCR_E0PD1 = 1n << 56n;
const TCR_TBID1 = 1n << 52n;
const SCTLR_EPAN = 1n << 57n;
/** PAR_EL1 of a level-0 Translation fault (FST 0b000100) and of a level-3 Permission fault (0b001111). */
const PAR_TRANSLATION_L0 = 0x809n;
const PAR_PERMISSION_L3 = 0x81fn;
const EXEC_EL1: Access = { type: "exec", el: 1 };

function regs(root: bigint, tcr: Parameters<typeof encodeTcr>[0], over: Partial<Regs> = {}): Regs {
  return { ttbr0: root, ttbr1: root, tcr: encodeTcr(tcr), mair: LINUX_MAIR, sctlr: SCTLR_M, features: FEATURES_MAX, ...over };
}

const TCR_4K48 = { t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48 } as const;

/** ATTR 0xff (Normal WB), PA, bit 11, NS=1, SH=0b11: the PAR of a Normal inner-shareable page. */
function parNormal(pa: bigint): bigint {
  return 0xff00_0000_0000_0000n | (pa & 0x000f_ffff_ffff_f000n) | 0xb80n;
}

describe("TTBR1 canonical VA check (ASL AArch64.VAIsOutOfRange: Translation fault, level 0)", () => {
  // One table tree serves both halves (TTBR0 = TTBR1): VA offset 0xffff_ffff_f000 in the TTBR1
  // half is 0xffff_ffff_ffff_f000. The non-canonical VAs below index the same entries, so without
  // the check they would translate.
  const t = new TestTables(GRANULE_4K, 0);
  t.map(0xffff_ffff_f000n, 3, { ...PAGE, ap: 0, oa: 0x9000_1000n });

  it("translates a canonical TTBR1 VA (bits [63:48] all ones)", () => {
    const w = new Walker(t.mem, regs(t.root, TCR_4K48));
    expect(w.translate(0xffff_ffff_ffff_f123n, AT_OPS.S1E1R)).toMatchObject({
      kind: "ok",
      half: 1,
      pa: 0x9000_1123n,
      par: parNormal(0x9000_1000n),
    });
  });

  it("faults at level 0 when a bit in [54:48] of a TTBR1 VA is clear", () => {
    const w = new Walker(t.mem, regs(t.root, TCR_4K48));
    for (const va of [0xfffe_ffff_ffff_f000n, 0xffbf_ffff_ffff_f000n, 0xffef_ffff_ffff_f000n]) {
      for (const op of [AT_OPS.S1E1R, AT_OPS.S1E1W, AT_OPS.S1E0R]) {
        expect(w.translate(va, op), va.toString(16)).toMatchObject({
          kind: "fault",
          fault: "translation",
          level: 0,
          half: 1,
          par: PAR_TRANSLATION_L0,
        });
      }
    }
    // Bits [63:56] are checked too while TBI1=0.
    expect(w.translate(0x00ff_ffff_ffff_f000n, AT_OPS.S1E1R)).toMatchObject({ fault: "translation", level: 0, par: PAR_TRANSLATION_L0 });
  });

  it("ignores bits [63:56] of a TTBR1 VA with TBI1, for instruction fetches only while TBID1=0", () => {
    const w = new Walker(t.mem, regs(t.root, { ...TCR_4K48, tbi1: true }));
    expect(w.translate(0x00ff_ffff_ffff_f000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", half: 1, pa: 0x9000_1000n });
    expect(w.translate(0x5aff_ffff_ffff_f000n, EXEC_EL1)).toMatchObject({ kind: "ok", pa: 0x9000_1000n });
    // Bits [55:48] still have to be all ones.
    expect(w.translate(0x00fe_ffff_ffff_f000n, AT_OPS.S1E1R)).toMatchObject({ fault: "translation", level: 0, par: PAR_TRANSLATION_L0 });
    const r = regs(t.root, { ...TCR_4K48, tbi1: true });
    const wd = new Walker(t.mem, { ...r, tcr: r.tcr | TCR_TBID1 });
    expect(wd.translate(0x00ff_ffff_ffff_f000n, AT_OPS.S1E1R).kind).toBe("ok");
    expect(wd.translate(0x5aff_ffff_ffff_f000n, EXEC_EL1)).toMatchObject({ kind: "fault", fault: "translation", level: 0 });
  });
});

// FEAT_E0PD: TCR_EL1.E0PDn=1 makes every EL0 access to that half a level-0 Translation fault, as if
// no translation existed (ASL AArch64.S1Translate, walkparams.e0pd; TCR_EL1.E0PD0 bit 55,
// E0PD1 bit 56). EL1 accesses are unaffected; without FEAT_E0PD the bits are RES0.
describe("E0PD", () => {
  const t = new TestTables(GRANULE_4K, 0);
  t.map(0x1000n, 3, { ...PAGE, ap: 1, oa: 0x9000_1000n });
  t.map(0xffff_ffff_f000n, 3, { ...PAGE, ap: 1, oa: 0x9000_2000n });
  const base = regs(t.root, TCR_4K48);
  const LOW = 0x1000n;
  const HIGH = 0xffff_ffff_ffff_f000n;

  it("faults EL0 accesses to the TTBR0 half at level 0 with E0PD0, not EL1 accesses nor the TTBR1 half", () => {
    const w = new Walker(t.mem, { ...base, tcr: base.tcr | TCR_E0PD0 });
    expect(w.translate(LOW, AT_OPS.S1E0R)).toMatchObject({
      kind: "fault",
      fault: "translation",
      level: 0,
      half: 0,
      par: PAR_TRANSLATION_L0,
    });
    expect(w.translate(LOW, AT_OPS.S1E0W)).toMatchObject({ kind: "fault", fault: "translation", level: 0, par: PAR_TRANSLATION_L0 });
    expect(w.translate(LOW, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x9000_1000n });
    expect(w.translate(HIGH, AT_OPS.S1E0R)).toMatchObject({ kind: "ok", pa: 0x9000_2000n });
  });

  it("faults EL0 accesses to the TTBR1 half at level 0 with E0PD1", () => {
    const w = new Walker(t.mem, { ...base, tcr: base.tcr | TCR_E0PD1 });
    expect(w.translate(HIGH, AT_OPS.S1E0R)).toMatchObject({
      kind: "fault",
      fault: "translation",
      level: 0,
      half: 1,
      par: PAR_TRANSLATION_L0,
    });
    expect(w.translate(HIGH, AT_OPS.S1E1W)).toMatchObject({ kind: "ok", pa: 0x9000_2000n });
    expect(w.translate(LOW, AT_OPS.S1E0W)).toMatchObject({ kind: "ok", pa: 0x9000_1000n });
  });

  it("has no effect without FEAT_E0PD", () => {
    const features: Features = { ...FEATURES_MAX, e0pd: false };
    const w = new Walker(t.mem, { ...base, tcr: base.tcr | TCR_E0PD0 | TCR_E0PD1, features });
    expect(w.translate(LOW, AT_OPS.S1E0R)).toMatchObject({ kind: "ok", pa: 0x9000_1000n });
    expect(w.translate(HIGH, AT_OPS.S1E0R)).toMatchObject({ kind: "ok", pa: 0x9000_2000n });
  });
});

// SCTLR_EL1.M=0: the output address is the input address, data accesses are Device-nGnRnE (PAR
// ATTR 0x00, SH 0b10), and a VA beyond the implemented PA size is an Address size fault at level 0
// (ASL AArch64.S1DisabledOutput; Arm ARM D8.2 "The effects of disabling a stage of translation").
describe("MMU off", () => {
  // Tables that would map VA 0x1000 elsewhere: with the MMU off they must not be read.
  const t = new TestTables(GRANULE_4K, 0);
  t.map(0x1000n, 3, { ...PAGE, oa: 0x9000_1000n });

  it("maps VA to the same PA without reading the tables", () => {
    const w = new Walker(t.mem, regs(t.root, TCR_4K48, { sctlr: 0n }));
    const r = w.translate(0x1234n, AT_OPS.S1E0W);
    expect(r).toMatchObject({ kind: "ok", pa: 0x1234n, half: undefined, leafKind: "flat", par: 0x1b00n, trail: [] });
    expect(w.translate(0x8_7654_3210n, AT_OPS.S1E1W)).toMatchObject({ kind: "ok", pa: 0x8_7654_3210n, par: 0x8_7654_3b00n });
  });

  it("gives an Address size fault at level 0 for a VA beyond the PA size", () => {
    const features: Features = { ...FEATURES_MAX, paBits: 40 };
    const w = new Walker(t.mem, regs(t.root, TCR_4K48, { sctlr: 0n, features }));
    expect(w.translate(0xff_ffff_f000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0xff_ffff_f000n });
    expect(w.translate(0x100_0000_0000n, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "address-size", level: 0, par: 0x801n });
    const w52 = new Walker(t.mem, regs(t.root, TCR_4K48, { sctlr: 0n }));
    expect(w52.translate(0x000f_ffff_ffff_f000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", par: 0x000f_ffff_ffff_fb00n });
    expect(w52.translate(0x0010_0000_0000_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "address-size", level: 0, par: 0x801n });
    expect(w52.translate(0xffff_0000_0000_1000n, AT_OPS.S1E1R)).toMatchObject({ fault: "address-size", level: 0, par: 0x801n });
  });
});

// PSTATE.PAN (FEAT_PAN): privileged data accesses to memory that EL0 can read or write fail with a
// Permission fault; AT S1E1RP/S1E1WP (FEAT_PAN2) check as such an access. Unprivileged accesses,
// instruction fetches and the plain AT S1E1R/W are not affected (ASL AArch64.S1DirectBasePermissions).
describe("PAN", () => {
  function page(fields: object, features: Features = FEATURES_MAX, sctlr = SCTLR_M): Walker {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0x1000n, 3, { ...PAGE, oa: 0x9000_1000n, ...fields });
    return new Walker(t.mem, regs(t.root, TCR_4K48, { features, sctlr }));
  }

  it("faults EL1 reads and writes of EL0-accessible memory at the leaf level", () => {
    for (const ap of [1, 3]) {
      const w = page({ ap });
      expect(w.translate(0x1000n, AT_OPS.S1E1RP)).toMatchObject({ kind: "fault", fault: "permission", level: 3, par: PAR_PERMISSION_L3 });
      expect(w.translate(0x1000n, AT_OPS.S1E1WP)).toMatchObject({ kind: "fault", fault: "permission", level: 3, par: PAR_PERMISSION_L3 });
      expect(w.translate(0x1000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", par: parNormal(0x9000_1000n) });
      expect(w.translate(0x1000n, AT_OPS.S1E0R)).toMatchObject({ kind: "ok", par: parNormal(0x9000_1000n) });
    }
    // A 2 MiB block reports the Permission fault at level 2.
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0x20_0000n, 2, { ...PAGE, ap: 1, oa: 0x8000_0000n });
    const wb = new Walker(t.mem, regs(t.root, TCR_4K48));
    expect(wb.translate(0x20_1000n, AT_OPS.S1E1RP)).toMatchObject({ fault: "permission", level: 2, par: 0x81dn });
  });

  it("leaves EL1-only memory and instruction fetches alone", () => {
    expect(page({ ap: 0 }).translate(0x1000n, AT_OPS.S1E1WP)).toMatchObject({ kind: "ok", pa: 0x9000_1000n });
    expect(page({ ap: 2 }).translate(0x1000n, AT_OPS.S1E1RP)).toMatchObject({ kind: "ok", pa: 0x9000_1000n });
    // EL0 read-only memory stays EL1-executable under PAN (PAN covers data accesses only).
    expect(page({ ap: 3 }).translate(0x1000n, { type: "exec", el: 1, pan: true })).toMatchObject({ kind: "ok", pa: 0x9000_1000n });
  });

  it("has no effect without FEAT_PAN (ID_AA64MMFR1_EL1.PAN = 0)", () => {
    const w = page({ ap: 1 }, { ...FEATURES_MAX, pan: 0 });
    expect(w.translate(0x1000n, AT_OPS.S1E1RP)).toMatchObject({ kind: "ok", par: parNormal(0x9000_1000n) });
    expect(w.translate(0x1000n, AT_OPS.S1E1WP)).toMatchObject({ kind: "ok", par: parNormal(0x9000_1000n) });
  });

  // FEAT_PAN3: with SCTLR_EL1.EPAN=1, PAN also covers EL0-executable memory that EL0 cannot read.
  it("with EPAN, covers EL0-executable memory but not EL0-execute-never memory", () => {
    const sctlr = SCTLR_M | SCTLR_EPAN;
    expect(page({ ap: 0, uxn: false, pxn: true }, FEATURES_MAX, sctlr).translate(0x1000n, AT_OPS.S1E1WP)).toMatchObject({
      fault: "permission",
      level: 3,
      par: PAR_PERMISSION_L3,
    });
    expect(page({ ap: 0, uxn: true }, FEATURES_MAX, sctlr).translate(0x1000n, AT_OPS.S1E1RP)).toMatchObject({
      kind: "ok",
      pa: 0x9000_1000n,
    });
    // EPAN does not touch EL0 accesses.
    expect(page({ ap: 1, uxn: false }, FEATURES_MAX, sctlr).translate(0x1000n, AT_OPS.S1E0W)).toMatchObject({ kind: "ok" });
  });
});

describe("rarely set fields", () => {
  // TCR_EL1.DS applies to the 4K and 16K granules only (FEAT_LPA2); with 64K the descriptor keeps
  // the 64K format: bits[9:8] are SH, and with a 52-bit OA size OA[51:48] sits in bits[15:12]
  // (ASL AArch64.LeafBase; FEAT_LPA). The PAR reports the descriptor SH, not TCR_EL1.SH0.
  it("ignores TCR.DS with the 64K granule and takes OA[51:48] from bits[15:12]", () => {
    const t = new TestTables(GRANULE_64K, 2, { oa52: true });
    t.map(0x1_0000n, 3, { ...PAGE, sh: 2, oa: 0x000a_0000_9001_0000n });
    const tcr = { t0sz: 22, t1sz: 22, tg0: "64K", tg1: "64K", ipsBits: 52 } as const;
    for (const ds of [false, true]) {
      const w = new Walker(t.mem, regs(t.root, { ...tcr, ds }));
      expect(w.translate(0x1_abcdn, AT_OPS.S1E1R)).toMatchObject({
        kind: "ok",
        level: 3,
        pa: 0x000a_0000_9001_abcdn,
        shareability: "outer",
        par: 0xff0a_0000_9001_ab00n,
      });
    }
    // With a 48-bit IPS the same descriptor's OA[51:48] is not part of the OA: bits[15:12] are RES0
    // there and the OA is 0x9001_0000.
    const w48 = new Walker(t.mem, regs(t.root, { ...tcr, ipsBits: 48 }));
    expect(w48.translate(0x1_abcdn, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x9001_abcdn });
  });

  // FEAT_LPA2 (TCR.DS=1, 4K): OA[49:48] in bits[49:48], OA[51:50] in bits[9:8], shareability from
  // TCR_EL1.SH0 (ASL AArch64.LeafBase, AArch64.S1Walk with walkparams.ds); PAR_EL1.PA[51:48].
  it("returns a 52-bit output address and its PAR with TCR.DS=1", () => {
    const t = new TestTables(GRANULE_4K, 0, { ds: true, oa52: true });
    t.map(0x1000n, 3, { ...PAGE, oa: 0x000f_8000_0000_1000n });
    t.map(0x20_0000n, 2, { ...PAGE, oa: 0x0005_0000_0020_0000n });
    const w = new Walker(t.mem, regs(t.root, { ...TCR_4K48, ds: true, ipsBits: 52 }));
    expect(w.translate(0x1123n, AT_OPS.S1E1R)).toMatchObject({
      kind: "ok",
      pa: 0x000f_8000_0000_1123n,
      shareability: "inner",
      par: 0xff0f_8000_0000_1b80n,
    });
    expect(w.translate(0x2f_f008n, AT_OPS.S1E1W)).toMatchObject({
      kind: "ok",
      level: 2,
      pa: 0x0005_0000_002f_f008n,
      par: 0xff05_0000_002f_fb80n,
    });
    // Under a 48-bit IPS the same OA is an Address size fault at the leaf's level.
    const w48 = new Walker(t.mem, regs(t.root, { ...TCR_4K48, ds: true, ipsBits: 48 }));
    expect(w48.translate(0x1123n, AT_OPS.S1E1R)).toMatchObject({ fault: "address-size", level: 3, par: 0x807n });
  });

  // nT (bit 16 of a block descriptor, FEAT_BBM level 1): an nT=1 block MAY give an IMPDEF
  // Translation fault; vmsa, like QEMU, does not fault, and nT is not part of the OA.
  it("translates an nT=1 block to the same PA and reports nT in the descriptor", () => {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0x20_0000n, 2, { ...PAGE, nT: true, oa: 0x8000_0000n });
    t.map(0x4000_0000n, 1, { ...PAGE, nT: true, oa: 0xc000_0000n });
    const w = new Walker(t.mem, regs(t.root, TCR_4K48));
    const r = w.translate(0x21_2345n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "ok", level: 2, pa: 0x8001_2345n, par: parNormal(0x8001_2000n) });
    expect(r.kind === "ok" && r.descriptor?.kind === "block" && r.descriptor.nT).toBe(true);
    expect(w.translate(0x4001_0000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", level: 1, pa: 0xc001_0000n });
  });

  // In the Non-secure EL1&0 regime the output is always in the Non-secure PA space: the descriptor
  // NS bit (5) and NSTable (63) are ignored and PAR_EL1.NS reads 1 (ASL AArch64.EncodePAR).
  it("reports PAR.NS=1 whatever the descriptor NS and NSTable bits say", () => {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0x1000n, 3, { ...PAGE, ns: true, oa: 0x9000_1000n }, 1n << 63n);
    t.map(0x20_0000n, 2, { ...PAGE, ns: false, oa: 0x8000_0000n });
    const w = new Walker(t.mem, regs(t.root, TCR_4K48));
    expect(w.translate(0x1000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x9000_1000n, par: parNormal(0x9000_1000n) });
    expect(w.translate(0x20_0000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x8000_0000n, par: parNormal(0x8000_0000n) });
    // NSTable=1 is not APTable/XNTable: EL0 and execute permissions are unchanged below it.
    expect(w.translate(0x1000n, AT_OPS.S1E0R).kind).toBe("fault");
    expect(w.translate(0x1000n, EXEC_EL1).kind).toBe("ok");
  });
});
