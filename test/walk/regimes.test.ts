/**
 * The EL2 regime (HCR_EL2.E2H=0: TCR_EL2 in its own layout, TTBR0_EL2 only, no EL0) and the EL2&0
 * regime (E2H=1: TCR_EL2 in the TCR_EL1 layout, TTBR0/1_EL2), as AT S1E2R/W translate them
 * (vmsa-regimes.md §2.1, §2.2; ASL AArch64.S1TTWParamsEL2, AArch64.S1TTWParamsEL20,
 * AArch64.S1DirectBasePermissions, AArch64.VAIsOutOfRange).
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K, GRANULE_64K } from "../../src/arch/granule.js";
import { decodeTcr, encodeTcr, FEATURES_MAX, type Regs } from "../../src/arch/registers.js";
import { decodeTcrEl2, tcrEl2AsEl1Layout } from "../../src/arch/tcr-el2.js";
import { AT_OPS, Walker } from "../../src/walk/walker.js";
import { TestTables } from "../helpers/tables.js";

/** TCR_EL2 (E2H=0 layout): T0SZ=16, 4K, PS=48 bits (0b101 at [18:16]), RES1 bits 31 and 23. */
const TCR_EL2_4K_48 = 16n | (5n << 16n) | (1n << 31n) | (1n << 23n);
const S1E2R = AT_OPS.S1E1R; // an EL2 access: privileged read
const S1E2W = AT_OPS.S1E1W;

function parFault(fsc: number): bigint {
  return (1n << 11n) | (BigInt(fsc) << 1n) | 1n;
}

describe("TCR_EL2 non-VHE layout", () => {
  it("moves PS, TBI, HA, HD, HPD, TBID and DS to their TCR_EL1 places", () => {
    // vmsa-regimes.md §2.1: PS[18:16], TBI[20], HA[21], HD[22], HPD[24], TBID[29], DS[32].
    const raw = 20n | (2n << 14n) | (4n << 16n) | (1n << 20n) | (1n << 21n) | (1n << 22n) | (1n << 24n) | (1n << 29n) | (1n << 32n);
    const t = decodeTcrEl2(raw);
    expect([t.t0sz, t.tg0, t.ps, t.tbi, t.ha, t.hd, t.hpd, t.tbid, t.ds]).toEqual([20, 2, 4, true, true, true, true, true, true]);
    const e = decodeTcr(tcrEl2AsEl1Layout(raw));
    expect([e.t0.tnsz, e.t0.granule.name, e.ips, e.t0.tbi, e.ha, e.hd, e.t0.hpd, e.t0.tbid, e.ds, e.t1.epd]).toEqual([
      20,
      "16K",
      4,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
  });
});

describe("EL2 regime (E2H=0)", () => {
  const t = new TestTables(GRANULE_4K, 0);
  // AP[2:1] = 00: RW (AP[1] has no meaning at EL2); 10: read-only; 01 as 00.
  t.map(0x1000n, 3, { oa: 0x9000_1000n, af: true, sh: 3, ap: 0 });
  t.map(0x2000n, 3, { oa: 0x9000_2000n, af: true, sh: 3, ap: 2 });
  t.map(0x3000n, 3, { oa: 0x9000_3000n, af: true, sh: 3, ap: 1, pxn: true });
  t.map(0x4000n, 3, { oa: 0x9000_4000n, af: true, sh: 3, ap: 0, uxn: true });
  const regs: Regs = { ttbr0: t.root, ttbr1: 0n, tcr: TCR_EL2_4K_48, mair: 0xffn, sctlr: 1n, features: FEATURES_MAX, regime: "el2" };
  const w = new Walker(t.mem, regs);

  it("is readable and writable through AP=00 and AP=01 alike, read-only through AP[2]=1", () => {
    // vmsa-regimes.md §2.1: AP[1] is ignored (no EL0), AP[2] removes write.
    expect(w.translate(0x1000n, S1E2W).kind).toBe("ok");
    expect(w.translate(0x3000n, S1E2W).kind).toBe("ok");
    expect(w.translate(0x2000n, S1E2W).par).toBe(parFault(0b001111));
    expect(w.translate(0x2000n, S1E2R).kind).toBe("ok");
  });

  it("reads execute-never from bit 54 only (bit 53 is not PXN at EL2)", () => {
    const x3 = w.translate(0x3000n, { type: "exec", el: 1 });
    const x4 = w.translate(0x4000n, { type: "exec", el: 1 });
    expect(x3.kind).toBe("ok");
    expect(x4.kind === "fault" && x4.fault).toBe("permission");
    expect(x3.kind === "ok" && x3.permissions).toMatchObject({ pr: true, pw: true, px: true, ur: false, uw: false, ux: false });
  });

  it("has one VA range: an address with bit 55 set is a level-0 Translation fault, not a TTBR1 walk", () => {
    // ASL AArch64.VAIsOutOfRange for a regime with one range: bits [63:VAsize] must be zero.
    const r = w.translate(0xffff_0000_0000_1000n, S1E2R);
    expect(r.par).toBe(parFault(0b000100));
    expect(r.trail.length).toBe(0);
  });

  it("ignores APTable[0] and honours APTable[1] and XNTable", () => {
    // vmsa-regimes.md §2.1: only APTable[1] (bit 62) and XNTable (bit 60) apply at EL2.
    const u = new TestTables(GRANULE_4K, 0);
    u.map(0x1000n, 3, { oa: 0x9000_1000n, af: true, sh: 3, ap: 0 }, 1n << 61n);
    u.map(0x40_0000_0000n, 3, { oa: 0x9000_1000n, af: true, sh: 3, ap: 0 }, (1n << 62n) | (1n << 60n));
    const wu = new Walker(u.mem, { ...regs, ttbr0: u.root });
    expect(wu.translate(0x1000n, S1E2W).kind).toBe("ok");
    const r = wu.translate(0x40_0000_0000n, S1E2R);
    expect(r.kind === "ok" && r.permissions).toMatchObject({ pr: true, pw: false, px: false, ur: false, uw: false, ux: false });
  });

  it("uses the TCR_EL2 granule and PS from their EL2 positions", () => {
    const g = new TestTables(GRANULE_64K, 1);
    g.map(0x1_0000n, 3, { oa: 0xf_0000_0000n, af: true, sh: 3, ap: 0 });
    // 64K (TG0=01), T0SZ=22 (42-bit VA, start level 1... 2 levels from L2 would be 42 bits: use T0SZ 16 -> L1).
    const tcr = 16n | (1n << 14n) | (1n << 16n) | (1n << 31n) | (1n << 23n); // PS = 36 bits
    const r = new Walker(g.mem, { ...regs, ttbr0: g.root, tcr }).translate(0x1_0000n, S1E2R);
    // PA 0xf_0000_0000 is 36 bits: fits; the same with PS = 32 bits is an Address size fault at level 3.
    expect(r.kind).toBe("ok");
    const tcr32 = tcr & ~(7n << 16n);
    expect(new Walker(g.mem, { ...regs, ttbr0: g.root, tcr: tcr32 }).translate(0x1_0000n, S1E2R).par).toBe(parFault(0b000011));
  });
});

describe("EL2&0 regime (E2H=1)", () => {
  it("walks TTBR0_EL2 and TTBR1_EL2 with the EL1 permission model", () => {
    // vmsa-regimes.md §2.2: TCR_EL2 in the TCR_EL1 layout, two ranges, AP[1] = EL0 access.
    const t = new TestTables(GRANULE_4K, 0);
    const hi = new TestTables(GRANULE_4K, 0, { allocBase: 0x4800_0000n });
    t.map(0x1000n, 3, { oa: 0x9000_1000n, af: true, sh: 3, ap: 1 });
    hi.map(0x1000n, 3, { oa: 0x9100_1000n, af: true, sh: 3, ap: 0 });
    for (let i = 0n; i < 4n * 4096n; i += 8n) t.mem.write64(0x4800_0000n + i, hi.mem.read64(0x4800_0000n + i) ?? 0n);
    const regs: Regs = {
      ttbr0: t.root,
      ttbr1: hi.root,
      tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48 }),
      mair: 0xffn,
      sctlr: 1n,
      features: FEATURES_MAX,
      regime: "el20",
    };
    const w = new Walker(t.mem, regs);
    expect(w.translate(0x1000n, AT_OPS.S1E0R).kind).toBe("ok"); // EL0 of EL2&0 (TGE=1)
    const r = w.translate(0xffff_0000_0000_1000n, AT_OPS.S1E1R);
    expect(r.kind === "ok" && r.pa).toBe(0x9100_1000n);
    expect(w.translate(0xffff_0000_0000_1000n, AT_OPS.S1E0R).kind).toBe("fault");
  });
});
