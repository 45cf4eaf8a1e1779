/**
 * walkRaw's secondary outputs and rarely taken paths, each pinned by the rule it encodes
 * (mutation testing: `npm run test:mutation -- walker`): the trail of descriptor reads, the
 * permissions and attribute fields of a successful translation, the reason of each fault, the
 * MMU-off result, TBI with TBID, the canonical check on the low word, PAN for EL0 accesses, and the
 * table address-size boundary. The rules already pinned in rules.test.ts are not repeated.
 */
import { describe, expect, it } from "vitest";
import { encodeTable } from "../../src/arch/descriptor.js";
import { GRANULE_4K, GRANULE_64K } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR, type Regs } from "../../src/arch/registers.js";
import { compileRegs } from "../../src/walk/context.js";
import { type Access, AT_OPS, Walker } from "../../src/walk/walker.js";
import { TestTables } from "../helpers/tables.js";

const SCTLR_M = 1n;
const TCR_TBID0 = 1n << 51n;
const TCR_4K48 = { t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48 } as const;
const EXEC_EL1: Access = { type: "exec", el: 1 };
const EXEC_EL0: Access = { type: "exec", el: 0 };

function regs(root: bigint, tcr: bigint, over: Partial<Regs> = {}): Regs {
  return { ttbr0: root, ttbr1: root, tcr, mair: LINUX_MAIR, sctlr: SCTLR_M, features: FEATURES_MAX, ...over };
}

/** A 4K/48-bit tree (start level 0) with one page at VA 0x1000 → PA 0x9000_0000. */
function onePage(fields: Record<string, unknown> = {}, tableBits = 0n) {
  const t = new TestTables(GRANULE_4K, 0);
  t.map(0x1000n, 3, { oa: 0x9000_0000n, af: true, sh: 3, attrIndx: 0, ...fields }, tableBits);
  return t;
}

describe("the trail of descriptor reads", () => {
  // ASL AArch64.S1Walk reads one descriptor per level, at table base + index * 8.
  it("records each level's descriptor address, value and decoded kind", () => {
    const t = onePage();
    const w = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48)));
    const r = w.translate(0x1234n, AT_OPS.S1E1R);
    expect(r.kind).toBe("ok");
    expect(r.trail.map((e) => e.level)).toEqual([0, 1, 2, 3]);
    expect(r.trail[0]?.address).toBe(t.root);
    // Level 3 index of VA 0x1000 is 1: the descriptor is at table + 8.
    expect((r.trail[3]?.address ?? 0n) % 4096n).toBe(8n);
    for (const e of r.trail) expect(e.value).toBe(t.mem.read64(e.address));
    expect(r.trail.map((e) => e.descriptor?.kind)).toEqual(["table", "table", "table", "page"]);
  });

  it("records nothing when the caller turns the trail off", () => {
    const t = onePage();
    const w = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48)));
    w.recordTrail = false;
    expect(w.translate(0x1234n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x9000_0234n, trail: [] });
  });

  // A descriptor read from PA that no memory backs is a synchronous External abort on the walk
  // (ASL AArch64.S1Walk → FetchDescriptor); AT takes it as an exception, so no PAR.
  it("marks an unbacked descriptor read, even after a backed walk through the same depth", () => {
    const t = onePage();
    t.raw(0x20_0000n, 2, encodeTable({ nextTable: 0x7_0000_0000n }, t.fmt));
    const w = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48)));
    expect(w.translate(0x1000n, AT_OPS.S1E1R).kind).toBe("ok");
    const r = w.translate(0x20_0000n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "fault", fault: "external-abort", level: 3, par: null });
    expect(r.trail).toHaveLength(4);
    expect(r.trail[3]).toEqual({ level: 3, address: 0x7_0000_0000n, value: undefined, descriptor: undefined });
    if (r.kind === "fault") expect(r.reason).toMatch(/not backed by memory/);
  });

  // Memory that is RAM but was never written reads as zero (an invalid descriptor), so the walk
  // ends in a Translation fault, not an External abort; the read is at the entry's own address.
  it("reads an unwritten RAM table as zeros at the entry's address", () => {
    const t = onePage();
    t.mem.addRam(0x8000_0000n, 0x10_0000n);
    t.raw(0x20_0000n, 2, encodeTable({ nextTable: 0x8000_0000n }, t.fmt));
    const w = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48)));
    const r = w.translate(0x20_5000n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "fault", fault: "translation", level: 3 });
    expect(r.trail[3]).toMatchObject({ level: 3, address: 0x8000_0028n, value: 0n });
  });
});

describe("a successful translation's fields", () => {
  // Arm ARM DDI0487 D8.4.1 (stage 1 EL1&0 data access permissions, AP[2:1]) and D8.4.2
  // (execute-never): memory writable at EL0 is never executable at EL1.
  it.each<[string, Record<string, unknown>, Record<string, boolean>]>([
    ["AP=00 UXN", { ap: 0, uxn: true }, { pr: true, pw: true, px: true, ur: false, uw: false, ux: false, pgcs: false, ugcs: false }],
    ["AP=11 PXN", { ap: 3, pxn: true }, { pr: true, pw: false, px: false, ur: true, uw: false, ux: true, pgcs: false, ugcs: false }],
    ["AP=01", { ap: 1 }, { pr: true, pw: true, px: false, ur: true, uw: true, ux: true, pgcs: false, ugcs: false }],
  ])("%s gives the architecture's six permissions", (_name, fields, perms) => {
    const t = onePage(fields);
    const r = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48))).translate(0x1000n, AT_OPS.S1E1R);
    expect(r.kind === "ok" && r.permissions).toEqual(perms);
  });

  // D8.3.2 leaf attributes reported as they are: Contiguous, nG, AF (with TCR.HA an AF=0 leaf
  // translates, D8.5.1), DBM.
  it("reports Contiguous, nG, AF and DBM from the leaf", () => {
    const set = onePage({ nG: true, dbm: true, contiguous: true });
    const a = new Walker(set.mem, regs(set.root, encodeTcr(TCR_4K48))).translate(0x1000n, AT_OPS.S1E1R);
    expect(a).toMatchObject({ kind: "ok", contiguous: true, nG: true, af: true, dbm: true, leafKind: "page", blockSize: 4096 });
    const clear = onePage({ af: false });
    const b = new Walker(clear.mem, regs(clear.root, encodeTcr({ ...TCR_4K48, ha: true }))).translate(0x1000n, AT_OPS.S1E1R);
    expect(b).toMatchObject({ kind: "ok", contiguous: false, nG: false, af: false, dbm: false });
  });

  it("calls a level-2 leaf a block of 2MB", () => {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0x20_0000n, 2, { oa: 0x9020_0000n, af: true, sh: 3 });
    const r = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48))).translate(0x21_2345n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "ok", leafKind: "block", blockSize: 2 * 1024 * 1024, level: 2, pa: 0x9021_2345n });
  });

  // D8.4.4 hierarchical controls: UXNTable/PXNTable/APTable on the way down are reported.
  it("reports the hierarchical table controls met on the way", () => {
    const t = onePage({}, (1n << 59n) | (1n << 60n) | (1n << 61n));
    const r = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48))).translate(0x1000n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "ok", uxnTable: true, pxnTable: true, apTable: 1 });
    const u = onePage();
    const s = new Walker(u.mem, regs(u.root, encodeTcr(TCR_4K48))).translate(0x1000n, AT_OPS.S1E1R);
    expect(s).toMatchObject({ kind: "ok", uxnTable: false, pxnTable: false, apTable: 0 });
  });

  // D8.6.2 SH[1:0]: 00 Non-shareable, 01 reserved, 10 Outer, 11 Inner.
  it.each([
    [0, "non-shareable"],
    [1, "reserved"],
    [2, "outer"],
    [3, "inner"],
  ])("SH=%i is %s", (sh, name) => {
    const t = onePage({ sh, attrIndx: 2 });
    const r = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48))).translate(0x1000n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "ok", shareability: name });
  });

  // AT has no instruction-fetch form, so an exec translation has no PAR, fault or not.
  it("an instruction fetch has no PAR_EL1", () => {
    const t = onePage({ uxn: true, pxn: true });
    const w = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48)));
    expect(w.translate(0x1000n, AT_OPS.S1E1R).par).not.toBeNull();
    expect(w.translate(0x1000n, EXEC_EL1)).toMatchObject({ kind: "fault", fault: "permission", par: null });
    const ok = onePage({ ap: 0 });
    expect(new Walker(ok.mem, regs(ok.root, encodeTcr(TCR_4K48))).translate(0x1000n, EXEC_EL1)).toMatchObject({ kind: "ok", par: null });
  });

  it("takes a precompiled register context as well as registers", () => {
    const t = onePage();
    const ctx = compileRegs(regs(t.root, encodeTcr(TCR_4K48)));
    expect(new Walker(t.mem, ctx).translate(0x1000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x9000_0000n });
  });

  it("refuses a VA that is not a 64-bit value", () => {
    const t = onePage();
    const w = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48)));
    expect(() => w.translate(1n << 64n, AT_OPS.S1E1R)).toThrow(/is not a 64-bit value/);
    expect(() => w.translate(-1n, AT_OPS.S1E1R)).toThrow(RangeError);
  });
});

describe("fault reasons", () => {
  // Each fault says why, in words; the words name the rule (ASL AArch64.S1Walk fault order).
  it.each<[string, (t: TestTables) => void, bigint, RegExp, string, number]>([
    ["invalid", () => {}, 0x5000n, /descriptor is invalid \(bit 0 clear\)/, "translation", 3],
    ["reserved level 3", (t) => t.raw(0x6000n, 3, 0x9000_0401n), 0x6000n, /bits\[1:0\]=0b01 at level 3 are reserved/, "translation", 3],
    [
      "block at level 0",
      (t) => t.raw(0x80_0000_0000n, 0, 0x401n),
      0x80_0000_0000n,
      /block descriptor at a level where this granule allows no blocks/,
      "translation",
      0,
    ],
    [
      "access flag",
      (t) => t.map(0x7000n, 3, { oa: 0x9000_7000n, sh: 3 }),
      0x7000n,
      /access flag is 0 and hardware AF update is off/,
      "access-flag",
      3,
    ],
    ["permission", (t) => t.map(0x8000n, 3, { oa: 0x9000_8000n, af: true, ap: 2 }), 0x8000n, /access not permitted/, "permission", 3],
  ])("%s", (_name, build, va, reason, fault, level) => {
    const t = onePage();
    build(t);
    const r = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48))).translate(va, AT_OPS.S1E1W);
    expect(r).toMatchObject({ kind: "fault", fault, level });
    expect(r.kind === "fault" && r.reason).toMatch(reason);
  });

  it("names the TnSZ, canonical, E0PD, EPD, base-size, table-size and OA-size faults", () => {
    const t = onePage();
    const reason = (tcr: bigint, va: bigint, access: Access = AT_OPS.S1E1R, over: Partial<Regs> = {}) => {
      const r = new Walker(t.mem, regs(t.root, tcr, over)).translate(va, access);
      return r.kind === "fault" ? r.reason : "ok";
    };
    expect(reason(encodeTcr({ ...TCR_4K48, t0sz: 60 }), 0x1000n)).toMatch(/TnSZ is outside the supported range/);
    expect(reason(encodeTcr(TCR_4K48), 0x0001_0000_0000_0000n)).toMatch(/VA is not canonical/);
    expect(reason(encodeTcr(TCR_4K48) | (1n << 55n), 0x1000n, AT_OPS.S1E0R)).toMatch(/EL0 access to a half with TCR.E0PDn=1/);
    expect(reason(encodeTcr({ ...TCR_4K48, epd0: true }), 0x1000n)).toMatch(/walks are disabled for this half/);
    expect(reason(encodeTcr({ ...TCR_4K48, ipsBits: 32 }), 0x1000n, AT_OPS.S1E1R, { ttbr0: 0x1_0000_0000n })).toMatch(
      /TTBR base address exceeds the output address size/,
    );
    // IPS 32 bits: the tables live at 1GB, the page's OA at 0x9000_0000 is fine, 4GB is not.
    t.map(0x9000n, 3, { oa: 0x1_0000_0000n, af: true });
    expect(reason(encodeTcr({ ...TCR_4K48, ipsBits: 32 }), 0x9000n)).toMatch(/output address exceeds the output address size/);
  });

  // ASL AArch64.S1Walk: a next-level table address at or above the output size is an Address
  // size fault at the level of the table descriptor; exactly at the limit already faults.
  it("a next-level table exactly at the output-size limit is an Address size fault", () => {
    const t = onePage();
    t.raw(0x20_0000n, 2, encodeTable({ nextTable: 0x1_0000_0000n }, t.fmt));
    t.raw(0x40_0000n, 2, encodeTable({ nextTable: 0xffff_f000n }, t.fmt));
    const w = new Walker(t.mem, regs(t.root, encodeTcr({ ...TCR_4K48, ipsBits: 32 })));
    const r = w.translate(0x20_0000n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "fault", fault: "address-size", level: 2 });
    expect(r.kind === "fault" && r.reason).toMatch(/next-level table address exceeds the output address size/);
    // One granule below the limit is walked (and unbacked there).
    expect(w.translate(0x40_0000n, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "external-abort", level: 3 });
  });
});

describe("MMU off", () => {
  // Arm ARM D8.2.11 "The effects of disabling a stage of address translation": VA = PA, data
  // accesses are Device-nGnRnE (Outer Shareable), all permissions; a VA at or above the PA size
  // is an Address size fault at level 0.
  const t = new TestTables(GRANULE_4K, 0);
  const off = (paBits = 48) => new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48), { sctlr: 0n, features: { ...FEATURES_MAX, paBits } }));

  it("maps flat with Device-nGnRnE attributes and every permission", () => {
    const r = off().translate(0xffff_ffff_f123n, AT_OPS.S1E0W);
    expect(r).toMatchObject({
      kind: "ok",
      half: undefined,
      pa: 0xffff_ffff_f123n,
      level: 0,
      blockSize: 0,
      leafKind: "flat",
      descriptor: undefined,
      attrIndx: 0,
      mairByte: 0,
      shareability: "outer",
      contiguous: false,
      nG: false,
      af: true,
      dbm: false,
      apTable: 0,
      uxnTable: false,
      pxnTable: false,
      trail: [],
      permissions: { pr: true, pw: true, px: true, ur: true, uw: true, ux: true, pgcs: false, ugcs: false },
    });
    expect(r.kind === "ok" && r.memAttr.name).toBe("Device-nGnRnE");
    // PAR: PA[47:12], NS=1 (bit 9), SH=0b10 (Outer), bit 11 RES1, ATTR 0x00.
    expect(r.par).toBe(0xffff_ffff_f000n | (1n << 9n) | (2n << 7n) | (1n << 11n));
    expect(off().translate(0x1000n, EXEC_EL0)).toMatchObject({ kind: "ok", par: null });
  });

  it("faults at the PA size, and above 52 bits whatever the PA size", () => {
    expect(off(48).translate(0x1_0000_0000_0000n, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "address-size", level: 0 });
    const r = off(52).translate(0x10_0000_0000_0000n, AT_OPS.S1E1R);
    expect(r).toMatchObject({ kind: "fault", fault: "address-size", level: 0 });
    expect(r.kind === "fault" && r.reason).toMatch(/exceeds the physical address size with the MMU off/);
    expect(off(52).translate(0xf_ffff_ffff_ffffn, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0xf_ffff_ffff_ffffn });
  });

  it("ignores a tagged top byte in the PA size check when TBI applies (not for fetches under TBID)", () => {
    // ASL AArch64.S1DisabledOutput checks VA[AddrTop:PAMax]; AArch64.AddrTop is 55 when TCR.TBIn
    // applies to the access (VA[55] picks the range; TBIDn leaves instruction fetches at 63).
    // QEMU 10 agrees (found by the HCR_EL2.DC campaign, the same path with stage 1 disabled).
    const tagged = 0x5a00_0000_0000_1000n;
    const withTcr = (tcr: bigint) => new Walker(t.mem, regs(t.root, tcr, { sctlr: 0n, features: { ...FEATURES_MAX, paBits: 48 } }));
    const tbi0 = encodeTcr({ ...TCR_4K48, tbi0: true });
    expect(withTcr(tbi0).translate(tagged, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x1000n });
    expect(withTcr(tbi0).translate(tagged, EXEC_EL0)).toMatchObject({ kind: "ok", pa: 0x1000n });
    // TBID0 (bit 51): the tag counts for instruction fetches, so they fault; data still ignores it.
    const tbid0 = tbi0 | (1n << 51n);
    expect(withTcr(tbid0).translate(tagged, EXEC_EL0)).toMatchObject({ kind: "fault", fault: "address-size", level: 0 });
    expect(withTcr(tbid0).translate(tagged, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x1000n });
    // Without TBI the tag is address bits above the PA size.
    expect(withTcr(encodeTcr(TCR_4K48)).translate(tagged, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "address-size", level: 0 });
    // TBI0 does not cover the upper range (VA[55]=1): TBI1 is clear, and VA[55] is above PAMax anyway.
    expect(withTcr(tbi0).translate(0x5a80_0000_0000_1000n, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "address-size" });
    // Bits [55:PAMax] are still checked under TBI.
    expect(withTcr(tbi0).translate(0x5a01_0000_0000_1000n, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "address-size" });
  });
});

describe("VA checks", () => {
  // D8.8 "Address tagging" with TCR.TBID0 (FEAT_PAuth): the top byte is ignored for data accesses
  // only; instruction fetches still need a canonical VA.
  it("TBI with TBID ignores the top byte for data but not for instruction fetches", () => {
    const t = onePage({ ap: 0 });
    const tagged = 0x5a00_0000_0000_1000n;
    const tbid = new Walker(t.mem, regs(t.root, encodeTcr({ ...TCR_4K48, tbi0: true }) | TCR_TBID0));
    expect(tbid.translate(tagged, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", pa: 0x9000_0000n });
    expect(tbid.translate(tagged, EXEC_EL1)).toMatchObject({ kind: "fault", fault: "translation", level: 0 });
    const both = new Walker(t.mem, regs(t.root, encodeTcr({ ...TCR_4K48, tbi0: true })));
    expect(both.translate(tagged, EXEC_EL1)).toMatchObject({ kind: "ok", pa: 0x9000_0000n });
  });

  // ASL AArch64.VAIsOutOfRange: with a small VA range (TnSZ > 32) the bits that must equal bit 55
  // reach into the low word of the VA.
  it("checks canonical bits in the low word of a small VA range, in both halves", () => {
    const t = new TestTables(GRANULE_4K, 3);
    t.map(0x1000n, 3, { oa: 0x9000_0000n, af: true });
    // T0SZ = T1SZ = 43: 21-bit VA ranges, start level 3.
    const w = new Walker(t.mem, regs(t.root, encodeTcr({ ...TCR_4K48, t0sz: 43, t1sz: 43 })));
    expect(w.translate(0x1000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", half: 0 });
    expect(w.translate(0x8000_1000n, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "translation", level: 0 });
    expect(w.translate(0xffff_ffff_ffe0_1000n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", half: 1 });
    expect(w.translate(0xffff_ffff_7fe0_1000n, AT_OPS.S1E1R)).toMatchObject({ kind: "fault", fault: "translation", level: 0 });
  });
});

describe("PAN", () => {
  // D8.4.2 / PSTATE.PAN: PAN restricts privileged (EL1) data accesses to EL0-accessible memory;
  // it never applies to EL0 accesses.
  it("does not restrict an EL0 access even when flagged", () => {
    const t = onePage({ ap: 1 });
    const w = new Walker(t.mem, regs(t.root, encodeTcr(TCR_4K48)));
    expect(w.translate(0x1000n, { type: "read", el: 0, pan: true })).toMatchObject({ kind: "ok" });
    expect(w.translate(0x1000n, AT_OPS.S1E1RP)).toMatchObject({ kind: "fault", fault: "permission" });
  });
});

describe("block size vs output size", () => {
  // ASL AArch64.S1Walk: the size check is on the leaf's OA field, bits at and above the entry
  // size; bits below it in a 64K level-1 block (4TB, FEAT_LPA) are RES0, not part of the OA.
  it("ignores RES0 bits below a 4TB block's OA in the output-size check", () => {
    const t = new TestTables(GRANULE_64K, 1);
    t.raw(0n, 1, 0x1_0000_0000n | 0x401n);
    const w = new Walker(t.mem, regs(t.root, encodeTcr({ t0sz: 16, t1sz: 16, tg0: "64K", tg1: "64K", ipsBits: 32 })));
    expect(w.translate(0x1234_5678n, AT_OPS.S1E1R)).toMatchObject({ kind: "ok", level: 1, pa: 0x1234_5678n });
  });
});
