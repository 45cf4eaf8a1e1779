/**
 * AT writes to a dirty-bit-managed page (FEAT_HAFDBS: DBM=1 with TCR.HA=HD=1, or VTCR_EL2.HA=HD=1
 * at stage 2). The Arm ARM answer, settled for the open QEMU question of qemu/README.md:
 *
 * - ASL AArch64.S1ApplyOutputPerms: with HA=HD=1 a DBM=1 descriptor's effective AP[2] is 0,
 *   whatever the access type, so no write Permission fault is reported
 *   (AArch64.S2ApplyOutputPerms: S2AP[1] effectively 1 at stage 2).
 * - ASL AArch64.S1Translate / AArch64.S2Translate: the descriptor update (clearing AP[2] /
 *   setting S2AP[1]) is skipped for AccessType_AT, IC and DC; the permission check is not.
 *
 * So AT S1E1W/S1E0W/S12E*W on such a page succeed (PAR_EL1.F=0) and leave the descriptor as it
 * was. QEMU >= 10.1 faults instead (compare.ts DEVIATIONS.atDbmNotWritable).
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR, type Regs } from "../../src/arch/registers.js";
import { AT_OPS, Walker } from "../../src/walk/walker.js";
import { Stage2Tables } from "../helpers/stage2-tables.js";
import { TestTables } from "../helpers/tables.js";
import { twoStageRegs, KVM_VTCR_4K_40 as VTCR_4K_40 } from "../helpers/two-stage-regs.js";

const VTCR_HA = 1n << 21n;
const VTCR_HD = 1n << 22n;

/** PAR_EL1 for a fault: F=1, FST, S [9], RES1 [11]. */
function parPermission(level: number, s: 0 | 1): bigint {
  return (1n << 11n) | (BigInt(s) << 9n) | (BigInt(0b001100 | level) << 1n) | 1n;
}

function stage1(hd: boolean) {
  const t = new TestTables(GRANULE_4K, 0);
  // VA 0x1000: EL1 read-only (AP=0b10), DBM=1. VA 0x2000: EL1+EL0 read-only (AP=0b11), DBM=1.
  // VA 0x3000: EL1 read-only, DBM=0.
  const d1 = t.map(0x1000n, 3, { oa: 0x9000_1000n, af: true, sh: 3, ap: 2, dbm: true });
  const d2 = t.map(0x2000n, 3, { oa: 0x9000_2000n, af: true, sh: 3, ap: 3, dbm: true });
  t.map(0x3000n, 3, { oa: 0x9000_3000n, af: true, sh: 3, ap: 2 });
  const regs: Regs = {
    ttbr0: t.root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48, ha: true, hd }),
    mair: LINUX_MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
  };
  return { mem: t.mem, regs, d1, d2 };
}

describe("AT writes to a DBM page with hardware dirty-state management", () => {
  it("AT S1E1W and S1E0W succeed on a stage-1 DBM=1, AP[2]=1 page and leave the descriptor unchanged (ASL AArch64.S1ApplyOutputPerms)", () => {
    const { mem, regs, d1, d2 } = stage1(true);
    const before1 = mem.read64(d1);
    const before2 = mem.read64(d2);
    const w = new Walker(mem, regs);
    // ATTR 0xff (LINUX_MAIR index 0), PA, RES1 [11], NS=1 [9], SH=0b11.
    expect(w.translate(0x1000n, AT_OPS.S1E1W).par).toBe(0xff00_0000_9000_1b80n);
    expect(w.translate(0x2000n, AT_OPS.S1E0W).par).toBe(0xff00_0000_9000_2b80n);
    expect(w.translate(0x2000n, AT_OPS.S1E1W).kind).toBe("ok");
    // AArch64.S1Translate: no descriptor update for AccessType_AT (AP[2] stays 1).
    expect(mem.read64(d1)).toBe(before1);
    expect(mem.read64(d2)).toBe(before2);
    expect(((before1 ?? 0n) >> 7n) & 1n).toBe(1n);
    // DBM=0: AP[2] is a plain read-only permission, HD or not.
    expect(w.translate(0x3000n, AT_OPS.S1E1W).par).toBe(parPermission(3, 0));
  });

  it("without TCR.HD the same DBM pages are read-only for AT writes (DBM has no effect, Permission fault level 3)", () => {
    const { mem, regs } = stage1(false);
    const w = new Walker(mem, regs);
    expect(w.translate(0x1000n, AT_OPS.S1E1W).par).toBe(parPermission(3, 0));
    expect(w.translate(0x2000n, AT_OPS.S1E0W).par).toBe(parPermission(3, 0));
    expect(w.translate(0x1000n, AT_OPS.S1E1R).kind).toBe("ok");
  });

  function twoStage(vtcrBits: bigint) {
    const s1 = new TestTables(GRANULE_4K, 0);
    const s2 = new Stage2Tables(s1.mem, GRANULE_4K, 1, 40, { concatenated: 2 });
    s2.map(0x4000_0000n, 2, { oa: 0x4000_0000n, s2ap: 3, af: true, memAttr: 0xf, sh: 3 });
    // IPA 0x8000_0000 (2 MiB): stage-2 read-only (S2AP=0b01) with DBM=1.
    const leaf = s2.map(0x8000_0000n, 2, { oa: 0x1_2300_0000n, s2ap: 1, af: true, memAttr: 0xf, sh: 3, dbm: true });
    s1.map(0x1000n, 3, { oa: 0x8000_3000n, af: true, sh: 3, ap: 1 });
    return { mem: s1.mem, regs: twoStageRegs(s1.root, s2.root, { vtcr: VTCR_4K_40 | vtcrBits }), leaf };
  }

  it("AT S12E1W/S12E0W succeed on a stage-2 DBM=1, S2AP[1]=0 page with VTCR_EL2.HA=HD=1 (ASL AArch64.S2ApplyOutputPerms)", () => {
    const { mem, regs, leaf } = twoStage(VTCR_HA | VTCR_HD);
    const before = mem.read64(leaf);
    const w = new Walker(mem, regs);
    const r = w.translate(0x1000n, AT_OPS.S1E1W);
    expect(r.kind).toBe("ok");
    expect(r.par).toBe(0xff00_0001_2300_3b80n);
    expect(w.translate(0x1000n, AT_OPS.S1E0W).kind).toBe("ok");
    expect(mem.read64(leaf)).toBe(before);
  });

  it("without VTCR_EL2.HD the stage-2 DBM page gives AT S12E1W a stage-2 Permission fault at level 2", () => {
    const { mem, regs } = twoStage(VTCR_HA);
    expect(new Walker(mem, regs).translate(0x1000n, AT_OPS.S1E1W).par).toBe(parPermission(2, 1));
  });
});
