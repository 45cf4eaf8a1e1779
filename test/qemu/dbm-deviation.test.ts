/**
 * The naming of QEMU's AT-on-DBM-page deviation (compare.ts DEVIATIONS.atDbmNotWritable): QEMU
 * >= 10.1 answers an AT write on a DBM=1, AP[2]=1 page under HA=HD=1 with a Permission fault,
 * where the Arm ARM reports the page writable (ASL AArch64.S1ApplyOutputPerms treats AP[2] as 0
 * for every access type; AArch64.S1Translate skips only the descriptor update for AT; walker side:
 * test/walk/dbm-at.test.ts). Only that exact wrong answer is named; any other stays a disagreement.
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR, type Regs } from "../../src/arch/registers.js";
import { generateCases, isS2DbmWrite } from "../../src/diff-qemu/campaign.js";
import { classify, classifyRegime, DEVIATIONS, HARNESS_ACCESS } from "../../src/diff-qemu/compare.js";
import type { AtOutcome } from "../../src/diff-qemu/jobfile.js";
import { AT_OPS, Walker } from "../../src/walk/walker.js";
import { Stage2Tables } from "../helpers/stage2-tables.js";
import { TestTables } from "../helpers/tables.js";
import { KVM_VTCR_4K_40, twoStageRegs } from "../helpers/two-stage-regs.js";

/** PAR_EL1 for a Permission fault: F=1, FST=0b0011LL, S [9], RES1 [11]. */
function permissionPar(level: number, s: 0 | 1 = 0): AtOutcome {
  return { kind: "par", par: (1n << 11n) | (BigInt(s) << 9n) | (BigInt(0b001100 | level) << 1n) | 1n };
}
const DBM_DEVIATION = { kind: "deviation", deviation: DEVIATIONS.atDbmNotWritable } as const;

describe("classify: QEMU's AT write Permission fault on a DBM page (EL1&0)", () => {
  const t = new TestTables(GRANULE_4K, 0);
  // VA 0x1000: DBM=1, AP=0b10 (EL1 read-only, writable-clean under HA=HD=1). VA 0x2000: the same
  // page without DBM, EL1 read-write (AP=0b00).
  t.map(0x1000n, 3, { oa: 0x9000_1000n, af: true, sh: 3, ap: 2, dbm: true });
  t.map(0x2000n, 3, { oa: 0x9000_2000n, af: true, sh: 3, ap: 0 });
  const regs: Regs = {
    ttbr0: t.root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48, ha: true, hd: true }),
    mair: LINUX_MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
  };
  const w = new Walker(t.mem, regs);

  it("names QEMU's level-3 Permission fault on AT S1E1W of the DBM page qemu-at-dbm-not-writable", () => {
    const r = w.translate(0x1000n, AT_OPS.S1E1W);
    expect(r.kind).toBe("ok");
    expect(classify(r, permissionPar(3), regs, w)).toEqual(DBM_DEVIATION);
    expect(classify(r, { kind: "par", par: r.par ?? 0n }, regs, w).kind).toBe("agree");
  });

  it("leaves a different answer on the DBM page, or the same fault on a page without DBM, a disagreement", () => {
    const r = w.translate(0x1000n, AT_OPS.S1E1W);
    // Wrong level, a Translation fault, or a stage-2 flavour of it: not what QEMU's DBM handling gives.
    expect(classify(r, permissionPar(2), regs, w).kind).toBe("mismatch");
    expect(classify(r, { kind: "par", par: 0x80fn }, regs, w).kind).toBe("mismatch");
    expect(classify(r, permissionPar(3, 1), regs, w).kind).toBe("mismatch");
    // A read-write page without DBM: a write fault there is no DBM matter.
    const plain = w.translate(0x2000n, AT_OPS.S1E1W);
    expect(plain.kind).toBe("ok");
    expect(classify(plain, permissionPar(3), regs, w).kind).toBe("mismatch");
    // A read is never affected by DBM.
    expect(classify(w.translate(0x1000n, AT_OPS.S1E1R), permissionPar(3), regs, w).kind).toBe("mismatch");
  });
});

describe("classifyRegime: the same deviation in a two-stage walk", () => {
  const s1 = new TestTables(GRANULE_4K, 0);
  const s2 = new Stage2Tables(s1.mem, GRANULE_4K, 1, 40, { concatenated: 2 });
  s2.map(0x4000_0000n, 2, { oa: 0x4000_0000n, s2ap: 3, af: true, memAttr: 0xf, sh: 3 });
  // IPA 0x8000_0000: stage-2 read-only with DBM=1; IPA 0x8020_0000: stage-2 read-write.
  s2.map(0x8000_0000n, 2, { oa: 0x1_2300_0000n, s2ap: 1, af: true, memAttr: 0xf, sh: 3, dbm: true });
  s2.map(0x8020_0000n, 2, { oa: 0x1_2400_0000n, s2ap: 3, af: true, memAttr: 0xf, sh: 3 });
  // VA 0x1000 -> IPA 0x8000_3000 (stage-1 RW); VA 0x2000 -> IPA 0x8020_0000 with stage-1 DBM=1, AP=0b10.
  s1.map(0x1000n, 3, { oa: 0x8000_3000n, af: true, sh: 3, ap: 1 });
  s1.map(0x2000n, 3, { oa: 0x8020_0000n, af: true, sh: 3, ap: 2, dbm: true });
  const regs = twoStageRegs(s1.root, s2.root, {
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40, ha: true, hd: true }),
    vtcr: KVM_VTCR_4K_40 | (1n << 21n) | (1n << 22n), // VTCR_EL2.HA=HD=1
  });
  const w = new Walker(s1.mem, regs);

  it("names the stage-1 Permission fault (S=0) of AT S12E1W on a stage-1 DBM page", () => {
    const r = w.translate(0x2000n, AT_OPS.S1E1W);
    expect(r.kind).toBe("ok");
    expect(classifyRegime(r, permissionPar(3), regs, s1.mem)).toEqual(DBM_DEVIATION);
    expect(classifyRegime(r, permissionPar(3, 1), regs, s1.mem).kind).toBe("mismatch");
  });

  it("names the stage-2 Permission fault (S=1, stage-2 level 2) of AT S12E1W on a stage-2 DBM page", () => {
    const r = w.translate(0x1000n, AT_OPS.S1E1W);
    expect(r.kind).toBe("ok");
    expect(classifyRegime(r, permissionPar(2, 1), regs, s1.mem)).toEqual(DBM_DEVIATION);
    expect(classifyRegime(r, permissionPar(3, 1), regs, s1.mem).kind).toBe("mismatch");
    expect(classifyRegime(r, permissionPar(2, 0), regs, s1.mem).kind).toBe("mismatch");
  });
});

describe("stage-2 DBM without S2PIE in the two-stage generator (only for QEMU < 10.1)", () => {
  // QEMU 10.1+ would answer such writes with a stage-2 Permission fault and abort on it
  // (qemu-at-dbm-not-writable, qemu-at-s12-s2-permission-abort); older QEMU does the DBM update.
  const dbmWrites = (s2DbmWithoutPie: boolean): number => {
    let n = 0;
    for (const c of generateCases({ seeds: [13, 32], jobsPerSeed: 20, regime: "s12", s2DbmWithoutPie })) {
      const w = new Walker(c.mem, c.regs);
      for (const q of c.job.queries) if (isS2DbmWrite(w.translate(q.va, HARNESS_ACCESS[q.op]), w)) n++;
    }
    return n;
  };

  it("generates writes that only stage-2 DBM allows when asked to, and none otherwise", () => {
    expect(dbmWrites(true)).toBeGreaterThan(0);
    expect(dbmWrites(false)).toBe(0);
  });
});
