/**
 * Every fault kind and level the walker reports, with the PAR_EL1 the AT instruction returns
 * (Arm ARM D8 / ASL AArch64.S1Translate fault order; PAR_EL1 F=1 format: FST[6:1], bit 11 RES1).
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, featuresFromIdRegs, LINUX_MAIR, type Regs } from "../../src/arch/registers.js";
import { AT_OPS, Walker } from "../../src/walk/walker.js";
import { TestTables } from "../helpers/tables.js";

const PAGE = { af: true, sh: 3, attrIndx: 0 };
const SCTLR_M = 1n;

function regs4k(root: bigint, extra: Partial<Parameters<typeof encodeTcr>[0]> = {}, over: Partial<Regs> = {}): Regs {
  return {
    ttbr0: root,
    ttbr1: root,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48, ...extra }),
    mair: LINUX_MAIR,
    sctlr: SCTLR_M,
    features: FEATURES_MAX,
    ...over,
  };
}

function parFault(fsc: number): bigint {
  return (1n << 11n) | (BigInt(fsc) << 1n) | 1n;
}

describe("walk faults and PAR_EL1", () => {
  const t = new TestTables(GRANULE_4K, 0);
  // 0x1000_0000 page: normal RW; 0x4000_0000 1G block; 0x8020_0000 2M block
  t.map(0x1000_0000n, 3, { ...PAGE, oa: 0x9000_0000n });
  t.map(0x4000_0000n, 1, { ...PAGE, oa: 0xc000_0000n });
  t.map(0x8020_0000n, 2, { ...PAGE, oa: 0xa000_0000n });
  const w = new Walker(t.mem, regs4k(t.root));

  it("succeeds with the PAR of a Normal inner-shareable page", () => {
    const r = w.translate(0x1000_0123n, AT_OPS.S1E1R);
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    expect(r.pa).toBe(0x9000_0123n);
    // ATTR=0xff (MAIR byte), PA[47:12], bit 11 RES1, NS=1 (Non-secure output), SH=0b11.
    expect(r.par).toBe(0xff00_0000_9000_0b80n);
  });

  it("reports translation faults at levels 0-3", () => {
    // Level 0: non-canonical VA (bits [63:48] not all equal to bit 55).
    const r0 = w.translate(0x0001_0000_0000_0000n, AT_OPS.S1E1R);
    expect(r0).toMatchObject({ kind: "fault", fault: "translation", level: 0, fsc: 0b000100 });
    expect(r0.par).toBe(parFault(0b000100));
    // Level 0: empty L0 entry.
    expect(w.translate(0x0000_8000_0000_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "translation", level: 0 });
    // Level 1: empty L1 entry under a live L0 table.
    expect(w.translate(0x1_0000_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "translation", level: 1 });
    // Level 2, 3.
    expect(w.translate(0x1020_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "translation", level: 2, par: parFault(0b000110) });
    expect(w.translate(0x1000_1000n, AT_OPS.S1E1R)).toMatchObject({ fault: "translation", level: 3, par: parFault(0b000111) });
  });

  it("treats 0b01 at level 3 and a 4K level-0 block as translation faults", () => {
    const t2 = new TestTables(GRANULE_4K, 0);
    t2.raw(0x1000n, 3, 0x9000_0401n); // reserved encoding at level 3
    t2.raw(0x80_0000_0000n, 0, 0x401n); // block at level 0 without DS
    const w2 = new Walker(t2.mem, regs4k(t2.root));
    expect(w2.translate(0x1000n, AT_OPS.S1E1R)).toMatchObject({ fault: "translation", level: 3 });
    expect(w2.translate(0x80_0000_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "translation", level: 0 });
  });

  it("faults at level 0 when EPD is set or TnSZ is out of range", () => {
    expect(new Walker(t.mem, regs4k(t.root, { epd0: true })).translate(0x1000_0000n, AT_OPS.S1E1R)).toMatchObject({
      fault: "translation",
      level: 0,
    });
    expect(new Walker(t.mem, regs4k(t.root, { t0sz: 11 })).translate(0x1000_0000n, AT_OPS.S1E1R)).toMatchObject({
      fault: "translation",
      level: 0,
    });
  });

  it("reports address size faults at levels 0-3", () => {
    // Level 0: TTBR base above the 32-bit output size.
    const small = new Walker(t.mem, regs4k(0x1_0000_0000n, { ipsBits: 32 }));
    expect(small.translate(0x1000_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "address-size", level: 0, par: parFault(0) });
    // Level 1 (1G block OA 0xc000_0000 beyond 32 bits? no: 0xc0000000 < 2^32) – use IPS 32 with OA >= 4G.
    const t3 = new TestTables(GRANULE_4K, 0);
    t3.map(0x4000_0000n, 1, { ...PAGE, oa: 0x1_0000_0000n });
    t3.map(0x8020_0000n, 2, { ...PAGE, oa: 0x1_0020_0000n });
    t3.map(0x1000n, 3, { ...PAGE, oa: 0x1_0000_1000n });
    // A table descriptor at level 0 whose next-level address is beyond 32 bits.
    t3.raw(0x80_0000_0000n, 0, 0x2_0000_0003n);
    const w3 = new Walker(t3.mem, regs4k(t3.root, { ipsBits: 32 }));
    expect(w3.translate(0x4000_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "address-size", level: 1, par: parFault(1) });
    expect(w3.translate(0x8020_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "address-size", level: 2, par: parFault(2) });
    expect(w3.translate(0x1000n, AT_OPS.S1E1R)).toMatchObject({ fault: "address-size", level: 3, par: parFault(3) });
    expect(w3.translate(0x80_0000_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "address-size", level: 0 });
  });

  // ASL AArch64.S1Walk checks AArch64.OAOutOfRange on the leaf's own OA (AArch64.LeafBase: the
  // descriptor's OA bits at and above the entry size) before the Access flag and permission checks;
  // the contiguous group only changes how the final OA is formed (StageOA). A 16 GiB group of 4K
  // level-1 blocks (or 32 x 512 MiB 64K level-2 blocks) under a 32-bit IPS crosses 2^32: its entries
  // above 4 GiB give an Address size fault at their level even though the group base is 0.
  // (Regression: the walker used to mask the OA bits below the group size before the size check.)
  it("gives an Address size fault for a contiguous entry whose own OA is beyond the PA size", () => {
    const t4 = new TestTables(GRANULE_4K, 0);
    for (let i = 0n; i < 16n; i++) {
      // Entry 11 has AF=0 and entry 12 is read-only: the size check still comes first.
      t4.map(i << 30n, 1, { ...PAGE, contiguous: true, oa: i << 30n, af: i !== 11n, ap: i === 12n ? 2 : 0 });
    }
    const w4 = new Walker(t4.mem, regs4k(t4.root, { ipsBits: 32 }));
    expect(w4.translate(0x2_c000_1234n, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "address-size", level: 1, par: 0x803n });
    expect(w4.translate(0x3_0000_0000n, AT_OPS.S1E1W)).toMatchObject({ kind: "fault", fault: "address-size", level: 1, par: 0x803n });
    expect(w4.translate(0x1_0000_0000n, AT_OPS.S1E0R)).toMatchObject({ kind: "fault", fault: "address-size", level: 1, par: 0x803n });
    // The entries below 4 GiB of the same group translate (PAR: ATTR 0xff, PA, NS=1, SH=0b11).
    expect(w4.translate(0xc000_1234n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0xc000_1234n, par: 0xff00_0000_c000_1b80n });
    // With a 36-bit IPS the whole group is inside the PA size.
    const w4b = new Walker(t4.mem, regs4k(t4.root, { ipsBits: 36 }));
    expect(w4b.translate(0x2_8000_1234n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x2_8000_1234n, par: 0xff00_0002_8000_1b80n });
    expect(w4b.translate(0x2_c000_1234n, AT_OPS.S1E1R)).toMatchObject({ fault: "access-flag", level: 1 });

    const t64 = new TestTables(GRANULE_64K, 2);
    for (let i = 0n; i < 32n; i++) t64.map(i << 29n, 2, { ...PAGE, contiguous: true, oa: i << 29n });
    const tcr64 = encodeTcr({ t0sz: 22, t1sz: 22, tg0: "64K", tg1: "64K", ipsBits: 32 });
    const w64 = new Walker(t64.mem, { ...regs4k(t64.root), tcr: tcr64 });
    expect(w64.translate(0x1_2000_0040n, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "address-size", level: 2, par: 0x805n });
    expect(w64.translate(0xe000_0040n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0xe000_0040n });
  });

  it("reports access flag faults at levels 1-3 when TCR.HA=0, none when HA=1", () => {
    const t4 = new TestTables(GRANULE_4K, 0);
    t4.map(0x4000_0000n, 1, { sh: 3, oa: 0xc000_0000n });
    t4.map(0x8020_0000n, 2, { sh: 3, oa: 0xa000_0000n });
    t4.map(0x1000n, 3, { sh: 3, oa: 0x9000_1000n });
    const w4 = new Walker(t4.mem, regs4k(t4.root));
    expect(w4.translate(0x4000_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "access-flag", level: 1, par: parFault(0b001001) });
    expect(w4.translate(0x8020_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "access-flag", level: 2 });
    expect(w4.translate(0x1000n, AT_OPS.S1E1W)).toMatchObject({ fault: "access-flag", level: 3, par: parFault(0b001011) });
    expect(new Walker(t4.mem, regs4k(t4.root, { ha: true })).translate(0x1000n, AT_OPS.S1E1R).kind).toBe("ok");
  });

  it("reports permission faults at levels 1-3", () => {
    const t5 = new TestTables(GRANULE_4K, 0);
    t5.map(0x4000_0000n, 1, { ...PAGE, ap: 2, oa: 0xc000_0000n }); // EL1 RO
    t5.map(0x8020_0000n, 2, { ...PAGE, ap: 0, oa: 0xa000_0000n }); // EL1 RW, EL0 none
    t5.map(0x1000n, 3, { ...PAGE, ap: 3, oa: 0x9000_1000n }); // RO at both
    const w5 = new Walker(t5.mem, regs4k(t5.root));
    expect(w5.translate(0x4000_0000n, AT_OPS.S1E1W)).toMatchObject({ fault: "permission", level: 1, par: parFault(0b001101) });
    expect(w5.translate(0x8020_0000n, AT_OPS.S1E0R)).toMatchObject({ fault: "permission", level: 2, par: parFault(0b001110) });
    expect(w5.translate(0x1000n, AT_OPS.S1E0W)).toMatchObject({ fault: "permission", level: 3, par: parFault(0b001111) });
    expect(w5.translate(0x1000n, AT_OPS.S1E0R).kind).toBe("ok");
  });

  it("reports an unbacked descriptor as an external abort on the walk, with no PAR", () => {
    const w6 = new Walker(t.mem, regs4k(0x7000_0000n));
    const r = w6.translate(0x1000n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "fault", fault: "external-abort", level: 0, par: null });
    expect(r.trail[0]?.value).toBeUndefined();
  });

  it("reports level -1 translation and address size faults with FEAT_LPA2 (TCR.DS=1)", () => {
    const t7 = new TestTables(GRANULE_4K, -1, { ds: true, oa52: true });
    t7.raw(0x1_0000_0000_0000n, -1, 0x3_0000_0000_0003n); // NLTA bits [49:48] set: beyond 48-bit IPS
    const w7 = new Walker(t7.mem, regs4k(t7.root, { t0sz: 12, t1sz: 12, ds: true, ipsBits: 48 }));
    expect(w7.translate(0x2_0000_0000_0000n, AT_OPS.S1E1R)).toMatchObject({
      fault: "translation",
      level: -1,
      fsc: 0b101011,
      par: parFault(0b101011),
    });
    expect(w7.translate(0x1_0000_0000_0000n, AT_OPS.S1E1R)).toMatchObject({ fault: "address-size", level: -1, fsc: 0b101001 });
  });
});

describe("permissions", () => {
  function one(fields: object, tableBits = 0n, tcrExtra = {}, over: Partial<Regs> = {}) {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0x1000n, 3, { ...PAGE, oa: 0x9000_1000n, ...fields }, tableBits);
    return new Walker(t.mem, regs4k(t.root, tcrExtra, over));
  }
  const X1 = { type: "exec", el: 1 } as const;
  const X0 = { type: "exec", el: 0 } as const;

  it("never lets EL1 execute EL0-writable memory (ASL S1DirectBasePermissions)", () => {
    expect(one({ ap: 1 }).translate(0x1000n, X1)).toMatchObject({ fault: "permission", level: 3 });
    expect(one({ ap: 3 }).translate(0x1000n, X1).kind).toBe("ok");
  });

  it("applies PXN/UXN and the hierarchical PXNTable/UXNTable", () => {
    expect(one({ pxn: true }).translate(0x1000n, X1).kind).toBe("fault");
    expect(one({ ap: 3, uxn: true }).translate(0x1000n, X0).kind).toBe("fault");
    expect(one({ ap: 3 }).translate(0x1000n, X0).kind).toBe("ok");
    expect(one({}, 1n << 59n).translate(0x1000n, X1).kind).toBe("fault");
    expect(one({ ap: 3 }, 1n << 60n).translate(0x1000n, X0).kind).toBe("fault");
  });

  it("applies APTable: bit 61 removes EL0 access, bit 62 removes write", () => {
    expect(one({ ap: 1 }, 1n << 61n).translate(0x1000n, AT_OPS.S1E0R).kind).toBe("fault");
    expect(one({ ap: 1 }, 1n << 62n).translate(0x1000n, AT_OPS.S1E1W).kind).toBe("fault");
    expect(one({ ap: 1 }, 1n << 62n).translate(0x1000n, AT_OPS.S1E0R).kind).toBe("ok");
    // TCR.HPD1/0 disables hierarchical permissions.
    expect(one({ ap: 1 }, 1n << 62n, { hpd0: true }).translate(0x1000n, AT_OPS.S1E1W).kind).toBe("ok");
  });

  it("applies SCTLR.WXN: writable implies execute-never", () => {
    const w = one({}, 0n, {}, { sctlr: 1n | (1n << 19n) });
    expect(w.translate(0x1000n, X1).kind).toBe("fault");
    expect(one({}).translate(0x1000n, X1).kind).toBe("ok");
  });

  it("applies PSTATE.PAN to EL1 data accesses of EL0-accessible memory, not to AT S1E1R", () => {
    const w = one({ ap: 1 });
    expect(w.translate(0x1000n, AT_OPS.S1E1RP).kind).toBe("fault");
    expect(w.translate(0x1000n, AT_OPS.S1E1R).kind).toBe("ok");
  });

  // SCTLR_EL1.EPAN extends PAN to EL0-executable memory only with FEAT_PAN3: the bit is RES0
  // otherwise (ASL AArch64.GetS1TTWParams: walkparams.epan is SCTLR_EL1.EPAN only when FEAT_PAN3
  // is implemented, else '0'). FEAT_PAN3 is ID_AA64MMFR1_EL1.PAN = 0b0011.
  // (Regression: EPAN used to apply with PAN < 3.)
  it("applies SCTLR.EPAN to EL0-executable memory only with FEAT_PAN3", () => {
    const SCTLR_EPAN = 1n | (1n << 57n);
    // EL1 read/write, no EL0 data access, EL0-executable (UXN=0).
    const page = { ap: 0, uxn: false, pxn: true };
    const pan3 = one(page, 0n, {}, { sctlr: SCTLR_EPAN });
    expect(pan3.translate(0x1000n, AT_OPS.S1E1RP)).toMatchObject({ kind: "fault", fault: "permission", level: 3, par: 0x81fn });
    expect(pan3.translate(0x1000n, AT_OPS.S1E1R).kind).toBe("ok");
    for (const level of [1, 2]) {
      const mmfr1 = BigInt(level) << 20n;
      const features = featuresFromIdRegs({ mmfr1 });
      expect(features.pan).toBe(level);
      const w = one(page, 0n, {}, { sctlr: SCTLR_EPAN, features });
      expect(w.translate(0x1000n, AT_OPS.S1E1RP)).toMatchObject({ kind: "ok", pa: 0x9000_1000n, par: 0xff00_0000_9000_1b80n });
      // PAN itself still applies to EL0-readable memory.
      expect(one({ ap: 1 }, 0n, {}, { sctlr: SCTLR_EPAN, features }).translate(0x1000n, AT_OPS.S1E1RP)).toMatchObject({
        fault: "permission",
        level: 3,
      });
    }
    expect(featuresFromIdRegs({ mmfr1: 3n << 20n }).pan).toBe(3);
    // EPAN clear: no effect even with FEAT_PAN3.
    expect(one(page).translate(0x1000n, AT_OPS.S1E1RP).kind).toBe("ok");
  });

  it("treats DBM pages as writable when TCR.HA and HD are set (FEAT_HAFDBS)", () => {
    expect(one({ ap: 2, dbm: true }, 0n, { ha: true, hd: true }).translate(0x1000n, AT_OPS.S1E1W).kind).toBe("ok");
    expect(one({ ap: 2, dbm: true }).translate(0x1000n, AT_OPS.S1E1W).kind).toBe("fault");
  });

  it("reports SH=0b10 in PAR for Device memory whatever the descriptor says", () => {
    const w = one({ attrIndx: 4, sh: 0 });
    const r = w.translate(0x1000n, AT_OPS.S1E1R);
    // ATTR 0x04 (nGnRE), NS=1, SH=0b10, bit 11.
    expect(r.par).toBe(0x0400_0000_9000_1b00n);
  });
});

describe("address selection", () => {
  it("ignores the top byte with TBI for data, and for instruction fetch only while TBID=0", () => {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0x1000n, 3, { ...PAGE, oa: 0x9000_1000n });
    const w = new Walker(t.mem, regs4k(t.root, { tbi0: true }));
    expect(w.translate(0x5a00_0000_0000_1000n, AT_OPS.S1E1R).kind).toBe("ok");
    expect(w.translate(0x5a00_0000_0000_1000n, { type: "exec", el: 1 }).kind).toBe("ok");
    const r = regs4k(t.root, { tbi0: true });
    const wd = new Walker(t.mem, { ...r, tcr: r.tcr | (1n << 51n) }); // TCR.TBID0=1
    expect(wd.translate(0x5a00_0000_0000_1000n, AT_OPS.S1E1R).kind).toBe("ok");
    expect(wd.translate(0x5a00_0000_0000_1000n, { type: "exec", el: 1 })).toMatchObject({ fault: "translation", level: 0 });
    expect(new Walker(t.mem, regs4k(t.root)).translate(0x5a00_0000_0000_1000n, AT_OPS.S1E1R)).toMatchObject({
      fault: "translation",
      level: 0,
    });
  });

  it("selects TTBR1 by VA bit 55", () => {
    const t0 = new TestTables(GRANULE_4K, 0, { allocBase: 0x4000_0000n });
    const t1 = new TestTables(GRANULE_4K, 0, { allocBase: 0x5000_0000n });
    t1.map(0xffff_ffff_ffffn - 0xfffn, 3, { ...PAGE, oa: 0x7000_0000n });
    const mem = t0.mem;
    for (const pa of [t1.root]) mem.writeBytes(pa, t1.mem.readBytes(pa, 4096));
    // copy all of t1's pages
    for (const pfn of t1.mem.backedFrames()) mem.writeBytes(BigInt(pfn * 4096), t1.mem.readBytes(BigInt(pfn * 4096), 4096));
    const w = new Walker(mem, regs4k(t0.root, {}, { ttbr1: t1.root }));
    const r = w.translate(0xffff_ffff_ffff_f000n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "ok", half: 1, pa: 0x7000_0000n });
  });

  it("walks 16K and 64K granules from the start level TnSZ gives", () => {
    const t16 = new TestTables(GRANULE_16K, 1);
    t16.map(0x200_0000n, 2, { ...PAGE, oa: 0x8000_0000n }); // 32M block at level 2
    const w16 = new Walker(t16.mem, {
      ...regs4k(t16.root),
      tcr: encodeTcr({ t0sz: 28 - 8, t1sz: 20, tg0: "16K", tg1: "16K", ipsBits: 48 }),
    });
    const r = w16.translate(0x200_1234n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "ok", pa: 0x8000_1234n, level: 2, blockSize: 32 * 2 ** 20 });
    expect(r.trail.map((x) => x.level)).toEqual([1, 2]);

    const t64 = new TestTables(GRANULE_64K, 2);
    t64.map(0x1_0000n, 3, { ...PAGE, oa: 0x9001_0000n });
    const w64 = new Walker(t64.mem, { ...regs4k(t64.root), tcr: encodeTcr({ t0sz: 22, t1sz: 22, tg0: "64K", tg1: "64K", ipsBits: 48 }) });
    expect(w64.translate(0x1_abcdn, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x9001_abcdn, level: 3 });
  });

  it("takes OA bits below a contiguous group from the VA (ASL StageOA)", () => {
    const t = new TestTables(GRANULE_4K, 0);
    for (let i = 0n; i < 16n; i++) t.map(0x10000n + i * 0x1000n, 3, { ...PAGE, contiguous: true, oa: 0x9000_0000n + i * 0x1000n });
    const w = new Walker(t.mem, regs4k(t.root));
    expect(w.translate(0x1_5008n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x9000_5008n, contiguous: true });
  });
});
