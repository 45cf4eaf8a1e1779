/**
 * The stage-2 walk (IPA -> PA) on its own: VTCR_EL2 geometry (start level, concatenated start
 * tables), IPA-size and output-size checks, S2AP/XN permissions, AF, contiguous entries
 * (Arm ARM D8.2 stage-2 translation; ASL AArch64.S2Translate, AArch64.S2Walk,
 * AArch64.S2CheckPermissions, AArch64.S2DirectBasePermissions; vmsa-regimes.md §1.2–§1.7).
 */
import { describe, expect, it } from "vitest";
import { FAULT_ACCESS_FLAG, FAULT_ADDRESS_SIZE, FAULT_NONE, FAULT_PERMISSION, FAULT_TRANSLATION } from "../../src/arch/fault.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K } from "../../src/arch/granule.js";
import { HCR_PTW, HCR_VM } from "../../src/arch/hcr.js";
import { FEATURES_MAX } from "../../src/arch/registers.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { compileStage2, S2_TTW } from "../../src/walk/stage2.js";
import { Walker } from "../../src/walk/walker.js";
import { Stage2Tables } from "../helpers/stage2-tables.js";

/** KVM's VTCR_EL2 for a 40-bit IPA with 4K pages: T0SZ=24, SL0=01 (level 1), PS=40 bits, WBWA ISH walks. */
const KVM_VTCR_4K_40 = 0x8002_3558n;
const READ1 = 0; // walker.ts access code: read, EL1
const WRITE1 = 1;
const EXEC1 = 2;
const EXEC0 = 6;

function vtcr(f: { t0sz: number; sl0: number; tg0: number; ps: number; ha?: boolean; ds?: boolean; sl2?: boolean }): bigint {
  let v = BigInt(f.t0sz) | (BigInt(f.sl0) << 6n) | (BigInt(f.tg0) << 14n) | (BigInt(f.ps) << 16n) | (1n << 31n);
  if (f.ha) v |= 1n << 21n;
  if (f.ds) v |= 1n << 32n;
  if (f.sl2) v |= 1n << 33n;
  return v;
}

function walker(mem: PhysMem, vtcrValue: bigint, root: bigint, hcr = HCR_VM): Walker {
  return new Walker(mem, compileStage2({ vtcr: vtcrValue, vttbr: root, hcr }, FEATURES_MAX));
}

describe("stage-2 walk geometry", () => {
  it("walks KVM's 40-bit 4K layout from level 1 through two concatenated start tables", () => {
    // vmsa-regimes.md §1.2: 4K, SL0=01 (L1), T0SZ 24 -> 2 concatenated level-1 tables.
    const mem = new PhysMem();
    const s2 = new Stage2Tables(mem, GRANULE_4K, 1, 40, { concatenated: 2 });
    // IPA 0x80_4000_0000: level-1 index 0x201, entry 1 of the second concatenated table.
    const slot = s2.map(0x80_4000_0000n, 1, { oa: 0x2_0000_0000n, s2ap: 3, af: true, memAttr: 0xf, sh: 3 });
    expect(slot).toBe(s2.root + 4096n + 8n);
    const w = walker(mem, KVM_VTCR_4K_40, s2.root);
    expect(w.walkRaw(0x80, 0x4012_3456, READ1)).toBe(FAULT_NONE);
    expect(w.pa).toBe(0x2_0012_3456);
    expect(w.level).toBe(1);
    expect(w.trailLen).toBe(1);
    expect(w.trailAddr[0]).toBe(Number(slot));
  });

  it("gives a level-0 Translation fault for an IPA above VTCR_EL2.T0SZ's range", () => {
    // ASL AArch64.IPAIsOutOfRange: any IPA bit at or above 64-T0SZ set -> Translation fault, level 0.
    const mem = new PhysMem();
    const s2 = new Stage2Tables(mem, GRANULE_4K, 1, 40, { concatenated: 2 });
    s2.map(0n, 1, { oa: 0n, s2ap: 3, af: true, memAttr: 0xf });
    const w = walker(mem, KVM_VTCR_4K_40, s2.root);
    expect(w.walkRaw(0x100, 0, READ1)).toBe(FAULT_TRANSLATION);
    expect(w.level).toBe(0);
    expect(w.trailLen).toBe(0);
    expect(w.walkRaw(0xff, 0, READ1)).toBe(FAULT_TRANSLATION); // in range, but unmapped: level 1
    expect(w.level).toBe(1);
  });

  it("faults every IPA at level 0 when SL0 is inconsistent with T0SZ", () => {
    // ASL AArch64.S2InconsistentSL: 4K start level 2 resolves 31..34-bit IPAs (with 16 tables at most), not 40.
    const mem = new PhysMem();
    const w = walker(mem, vtcr({ t0sz: 24, sl0: 0, tg0: 0, ps: 2 }), 0x5000_0000n);
    expect(w.ctx.s2?.config.kind).toBe("invalid");
    expect(w.walkRaw(0, 0x1000, READ1)).toBe(FAULT_TRANSLATION);
    expect(w.level).toBe(0);
  });

  it("reports a stage-2 Address size fault at level 0 for a VTTBR_EL2 base above VTCR_EL2.PS", () => {
    // ASL AArch64.S2Walk: start table beyond the output size -> Address size fault, level 0.
    const mem = new PhysMem();
    const w = walker(mem, vtcr({ t0sz: 32, sl0: 1, tg0: 0, ps: 0 }), 0x1_0000_0000n);
    expect(w.walkRaw(0, 0x1000, READ1)).toBe(FAULT_ADDRESS_SIZE);
    expect(w.level).toBe(0);
  });

  it("reports an Address size fault at the leaf level for an output address above PS", () => {
    const mem = new PhysMem();
    const s2 = new Stage2Tables(mem, GRANULE_4K, 1, 32);
    s2.map(0x4000_0000n, 2, { oa: 0x1_0000_0000n, s2ap: 3, af: true, memAttr: 0xf });
    const w = walker(mem, vtcr({ t0sz: 32, sl0: 1, tg0: 0, ps: 0 }), s2.root); // PS = 32 bits
    expect(w.walkRaw(0, 0x4000_1000, READ1)).toBe(FAULT_ADDRESS_SIZE);
    expect(w.level).toBe(2);
  });

  it("walks 16K and 64K granules with concatenated start tables", () => {
    // 16K, SL0=01 (L2), T0SZ 26 (38-bit IPA) -> 4 concatenated tables (vmsa-regimes.md §1.2 table).
    const mem = new PhysMem();
    const s16 = new Stage2Tables(mem, GRANULE_16K, 2, 38, { concatenated: 4 });
    s16.map(0x30_0000_0000n, 3, { oa: 0x1234_4000n, s2ap: 1, af: true, memAttr: 0xf });
    const w16 = walker(mem, vtcr({ t0sz: 26, sl0: 1, tg0: 2, ps: 5 }), s16.root);
    expect(w16.ctx.s2?.config.kind === "ok" && w16.ctx.s2.config.concatenated).toBe(4);
    expect(w16.walkRaw(0x30, 0x0000_0abc, READ1)).toBe(FAULT_NONE);
    expect(w16.pa).toBe(0x1234_4abc);
    // 64K, SL0=01 (L2), T0SZ 20 (44-bit IPA) -> 4 concatenated tables.
    const s64 = new Stage2Tables(mem, GRANULE_64K, 2, 44, { concatenated: 4, allocBase: 0x6000_0000n });
    s64.map(0xc00_0000_0000n, 2, { oa: 0x2000_0000n, s2ap: 1, af: true, memAttr: 0xf });
    const w64 = walker(mem, vtcr({ t0sz: 20, sl0: 1, tg0: 1, ps: 5 }), s64.root);
    expect(w64.walkRaw(0xc00, 0x0123_4567, READ1)).toBe(FAULT_NONE);
    expect(w64.pa).toBe(0x2123_4567);
  });

  it("applies the contiguous hint: OA bits below the group size come from the IPA", () => {
    // ASL StageOA with ContiguousSize: 16 x 4K pages -> a 64K group.
    const mem = new PhysMem();
    const s2 = new Stage2Tables(mem, GRANULE_4K, 1, 32);
    for (let i = 0n; i < 16n; i++)
      s2.map(0x1_0000n + i * 0x1000n, 3, { oa: 0x7000_0000n + i * 0x1000n, s2ap: 1, af: true, contiguous: true });
    const w = walker(mem, vtcr({ t0sz: 32, sl0: 1, tg0: 0, ps: 2 }), s2.root);
    expect(w.walkRaw(0, 0x1_5008, READ1)).toBe(FAULT_NONE);
    expect(w.pa).toBe(0x7000_5008);
  });
});

describe("stage-2 permissions and access flag", () => {
  const mem = new PhysMem();
  const s2 = new Stage2Tables(mem, GRANULE_4K, 1, 32);
  const leaf = (ipa: bigint, f: { s2ap: number; xn?: number; af?: boolean; memAttr?: number; dbm?: boolean }): void => {
    s2.map(ipa, 3, { oa: ipa + 0x1000_0000n, af: f.af ?? true, memAttr: f.memAttr ?? 0xf, s2ap: f.s2ap, xn: f.xn ?? 0, dbm: f.dbm });
  };
  leaf(0x1000n, { s2ap: 0b10 }); // write-only
  leaf(0x2000n, { s2ap: 0b01 }); // read-only
  leaf(0x3000n, { s2ap: 0b11, xn: 0b01 }); // EL0 exec only
  leaf(0x4000n, { s2ap: 0b11, xn: 0b11 }); // EL1 exec only
  leaf(0x5000n, { s2ap: 0b01, af: false });
  leaf(0x6000n, { s2ap: 0b11, memAttr: 0b0001 }); // Device-nGnRE
  leaf(0x7000n, { s2ap: 0b01, dbm: true });
  const V = vtcr({ t0sz: 32, sl0: 1, tg0: 0, ps: 2 });

  it("grants write independently of read (S2AP=10 is write-only)", () => {
    // ASL AArch64.S2DirectBasePermissions: r = S2AP[0], w = S2AP[1].
    const w = walker(mem, V, s2.root);
    expect(w.walkRaw(0, 0x1000, READ1)).toBe(FAULT_PERMISSION);
    expect(w.level).toBe(3);
    expect(w.walkRaw(0, 0x1000, WRITE1)).toBe(FAULT_NONE);
    expect(w.walkRaw(0, 0x2000, WRITE1)).toBe(FAULT_PERMISSION);
    expect(w.walkRaw(0, 0x2000, READ1)).toBe(FAULT_NONE);
  });

  it("decodes XN[1:0] per exception level with FEAT_XNX", () => {
    // vmsa-regimes.md §1.5: 01 -> EL0 only, 11 -> EL1 only.
    const w = walker(mem, V, s2.root);
    expect(w.walkRaw(0, 0x3000, EXEC1)).toBe(FAULT_PERMISSION);
    expect(w.walkRaw(0, 0x3000, EXEC0)).toBe(FAULT_NONE);
    expect(w.walkRaw(0, 0x4000, EXEC1)).toBe(FAULT_NONE);
    expect(w.walkRaw(0, 0x4000, EXEC0)).toBe(FAULT_PERMISSION);
    // Without FEAT_XNX bit 53 reads as 0: 01 is executable everywhere, 11 nowhere.
    const noXnx = new Walker(mem, compileStage2({ vtcr: V, vttbr: s2.root, hcr: HCR_VM }, FEATURES_MAX, { xnx: false }));
    expect(noXnx.walkRaw(0, 0x3000, EXEC1)).toBe(FAULT_NONE);
    expect(noXnx.walkRaw(0, 0x4000, EXEC1)).toBe(FAULT_PERMISSION);
  });

  it("gives an Access flag fault for AF=0 unless VTCR_EL2.HA is set", () => {
    // vmsa-regimes.md §1.7 step 5: AF=0 and HA=0 -> Access flag fault at the leaf level (AT is not exempt).
    expect(walker(mem, V, s2.root).walkRaw(0, 0x5000, READ1)).toBe(FAULT_ACCESS_FLAG);
    const ha = vtcr({ t0sz: 32, sl0: 1, tg0: 0, ps: 2, ha: true });
    expect(walker(mem, ha, s2.root).walkRaw(0, 0x5000, READ1)).toBe(FAULT_NONE);
  });

  it("treats DBM as write permission only with VTCR_EL2.HA and HD", () => {
    expect(walker(mem, V, s2.root).walkRaw(0, 0x7000, WRITE1)).toBe(FAULT_PERMISSION);
    const hahd = V | (1n << 21n) | (1n << 22n);
    expect(walker(mem, hahd, s2.root).walkRaw(0, 0x7000, WRITE1)).toBe(FAULT_NONE);
  });

  it("faults a stage-1 table read from stage-2 Device memory only with HCR_EL2.PTW", () => {
    // ASL AArch64.S2CheckPermissions: TTW with PTW=1 to Device -> Permission fault at the stage-2 leaf level.
    const w = walker(mem, V, s2.root, HCR_VM);
    expect(w.walkRaw(0, 0x6000, S2_TTW)).toBe(FAULT_NONE);
    const p = walker(mem, V, s2.root, HCR_VM | HCR_PTW);
    expect(p.walkRaw(0, 0x6000, S2_TTW)).toBe(FAULT_PERMISSION);
    expect(p.level).toBe(3);
    // A table read needs S2AP[0] (read) even though the access is not a load.
    expect(w.walkRaw(0, 0x1000, S2_TTW)).toBe(FAULT_PERMISSION);
  });

  it("describes a translation with the decoded stage-2 leaf", () => {
    const r = walker(mem, V, s2.root).translateIpa(0x2010n, { type: "read", el: 1 });
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    expect(r.pa).toBe(0x1000_2010n);
    expect(r.permissions).toEqual({ r: true, w: false, x1: true, x0: true });
    expect(r.descriptor.kind).toBe("page");
    expect(r.trail.map((t) => t.level)).toEqual([1, 2, 3]);
  });
});
