/**
 * Stage-1 permission indirection (FEAT_S1PIE) and overlays (FEAT_S1POE) in the walker
 * (walk/permissions.ts). Rules from the Arm ARM D8.4.1.3/D8.4.1.4 as the ASL states them
 * (AArch64.S1IndirectBasePermissions, AArch64.S1ComputePermissions, AArch64.S1CheckPermissions,
 * AArch64.S1OverlayPermissions; vmsa-regimes.md §3) and Linux's PIR values (pgtable-prot.h).
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { LINUX_PI_INDEX, linuxPirE1, linuxPireE0 } from "../../src/arch/linux-pie.js";
import { encodePermFields, piIndex } from "../../src/arch/pie.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR, presetByName, type Regs } from "../../src/arch/registers.js";
import { type Access, AT_OPS, PAR_DIRTY, PAR_OVERLAY, Walker } from "../../src/walk/walker.js";
import { TestTables } from "../helpers/tables.js";

const TCR_4K48 = { t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48 } as const;
const TCR2_PIE = 2n;
const TCR2_E0POE = 4n;
const TCR2_POE = 8n;
/** PAR_EL1 of a level-3 Permission fault: FST 0b001111, bit 11 RES1, F=1. */
const PAR_PERM_L3 = 0x81fn;
const EXEC_EL1: Access = { type: "exec", el: 1 };
const EXEC_EL0: Access = { type: "exec", el: 0 };

/** Descriptor bits of the PIIndex: [0] bit 6, [1] bit 51, [2] bit 53, [3] bit 54. */
function indexBits(idx: number): bigint {
  return (idx & 1 ? 1n << 6n : 0n) | (idx & 2 ? 1n << 51n : 0n) | (idx & 4 ? 1n << 53n : 0n) | (idx & 8 ? 1n << 54n : 0n);
}

const VA = 0x1234_5000n;
const OA = 0x8000_0000n;

/** A 4K page at VA (TTBR0) with AF=1, Normal memory, PIIndex `idx`, and `extra` bits. */
function pageWith(idx: number, extra = 0n, tableBits = 0n): TestTables {
  const t = new TestTables(GRANULE_4K, 0);
  const base = OA | 0x403n | (3n << 8n); // page, AF, SH inner, AttrIndx 0
  t.tableFor(VA, 3, tableBits);
  t.raw(VA, 3, base | indexBits(idx) | extra);
  return t;
}

function regs(t: TestTables, over: Partial<Regs>): Regs {
  return { ttbr0: t.root, ttbr1: 0n, tcr: encodeTcr(TCR_4K48), mair: LINUX_MAIR, sctlr: 1n, features: FEATURES_MAX, ...over };
}

function perms(t: TestTables, r: Regs): string {
  const w = new Walker(t.mem, r);
  const can = (a: Access): boolean => w.translate(VA, a).kind === "ok";
  const s = [
    can(AT_OPS.S1E1R) ? "r" : "-",
    can(AT_OPS.S1E1W) ? "w" : "-",
    can(EXEC_EL1) ? "x" : "-",
    can(AT_OPS.S1E0R) ? "r" : "-",
    can(AT_OPS.S1E0W) ? "w" : "-",
    can(EXEC_EL0) ? "x" : "-",
  ];
  return `${s.slice(0, 3).join("")} ${s.slice(3).join("")}`;
}

describe("PIIndex = {bit 54, bit 53, bit 51, bit 6} (ASL AArch64.S1ApplyOutputPerms)", () => {
  it("piIndex reads the four descriptor bits in that order", () => {
    for (let i = 0; i < 16; i++) expect(piIndex(indexBits(i) | 0x8000_0403n)).toBe(i);
  });

  it("each index selects its own PIR_EL1 / PIRE0_EL1 field", () => {
    for (let idx = 0; idx < 16; idx++) {
      const t = pageWith(idx);
      // Only field idx grants anything: R at EL1, RW at EL0 (1000 and 1100).
      const r = regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ [idx]: 0x8 }), pire0: encodePermFields({ [idx]: 0xc }) });
      expect(perms(t, r), `index ${idx}`).toBe("r-- rw-");
      const other = regs(t, {
        tcr2: TCR2_PIE,
        pir: encodePermFields({ [idx ^ 1]: 0xe }),
        pire0: encodePermFields({ [idx ^ 8]: 0xe }),
      });
      expect(perms(t, other), `index ${idx}, neighbours only`).toBe("--- ---");
    }
  });
});

describe("the 16 stage-1 PI values (ASL AArch64.S1IndirectBasePermissions)", () => {
  // Value → EL1 permissions observed through the walk (privileged field; EL0 gets none so the
  // R_VFPJF rule does not interfere). 0100, 1011, 1101, 1111 are reserved: no access.
  const expected = ["---", "r--", "--x", "r-x", "---", "rw-", "rw-", "rwx", "r--", "r--", "r-x", "---", "rw-", "---", "rwx", "---"];
  for (let v = 0; v < 16; v++) {
    it(`PIR value 0b${v.toString(2).padStart(4, "0")} grants ${expected[v]}`, () => {
      const t = pageWith(5);
      const r = regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 5: v }), pire0: 0n });
      expect(perms(t, r)).toBe(`${expected[v]} ---`);
    });
  }
});

describe("what PIE turns off", () => {
  it("AP[2:1], UXN, PXN have no direct meaning: a page with AP=0b11 (RO, EL0) and both XN bits is RWX through PIR", () => {
    // AP[1] and PXN/UXN are index bits here: index 0b1101 = 13.
    const t = pageWith(13, 1n << 7n);
    const r = regs(t, {
      tcr2: TCR2_PIE,
      pir: encodePermFields({ 13: 0xe }),
      pire0: 0n,
      tcr: encodeTcr({ ...TCR_4K48, ha: true, hd: true }),
    });
    expect(perms(t, r)).toBe("rwx ---");
  });

  it("hierarchical APTable/XNTable bits are ignored (as with HPD=1)", () => {
    const tableBits = (3n << 61n) | (3n << 59n); // APTable=0b11, UXNTable, PXNTable
    const t = pageWith(2, 0n, tableBits);
    const r = regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 2: 0xe }), pire0: encodePermFields({ 2: 0x8 }) });
    expect(perms(t, r)).toBe("rwx r--");
    // Without PIE the same tables forbid EL0 access and writes (control: the bits are really there).
    expect(perms(t, regs(t, {}))).not.toContain("w");
  });

  it("SCTLR_EL1.WXN has no effect; PI value 0b0110 carries WXN instead (R W, no X, without an overlay)", () => {
    const t = pageWith(3);
    const wxn = 1n | (1n << 19n);
    expect(perms(t, regs(t, { sctlr: wxn, tcr2: TCR2_PIE, pir: encodePermFields({ 3: 0x7 }), pire0: 0n }))).toBe("rwx ---");
    expect(perms(t, regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 3: 0x6 }), pire0: 0n }))).toBe("rw- ---");
  });

  it("TCR2_EL1.PIE without FEAT_S1PIE is RES0: direct permissions stay", () => {
    const t = pageWith(0); // AP=00: EL1 RW, EL0 none, executable everywhere but EL0 (AP says no EL0)
    const noPie = { ...FEATURES_MAX, s1pie: false };
    expect(perms(t, regs(t, { features: noPie, tcr2: TCR2_PIE, pir: 0n, pire0: 0n }))).toBe("rwx --x");
    expect(perms(t, regs(t, { tcr2: TCR2_PIE, pir: 0n, pire0: 0n }))).toBe("--- ---");
  });
});

describe("AP[2] is nDirty under PIE (ASL AArch64.S1CheckPermissions)", () => {
  it("a write to a clean page (bit 7 = 1) without HA/HD is a Permission fault with PAR_EL1.DirtyBit", () => {
    const t = pageWith(1, 1n << 7n);
    const r = regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 1: 0xc }), pire0: 0n });
    const w = new Walker(t.mem, r);
    expect(w.translate(VA, AT_OPS.S1E1R).kind).toBe("ok");
    expect(w.translate(VA, AT_OPS.S1E1W)).toMatchObject({
      kind: "fault",
      fault: "permission",
      level: 3,
      par: PAR_PERM_L3 | BigInt(PAR_DIRTY),
    });
  });

  it("with TCR.HA=HD=1 a clean page is writable whatever DBM (bit 51) says", () => {
    const t = pageWith(0, 1n << 7n); // index 0: DBM clear
    const r = regs(t, {
      tcr: encodeTcr({ ...TCR_4K48, ha: true, hd: true }),
      tcr2: TCR2_PIE,
      pir: encodePermFields({ 0: 0xc }),
      pire0: 0n,
    });
    expect(new Walker(t.mem, r).translate(VA, AT_OPS.S1E1W).kind).toBe("ok");
  });

  it("a dirty page (bit 7 = 0) is writable when the PI value grants W; a read-only value faults without DirtyBit", () => {
    const t = pageWith(1);
    expect(perms(t, regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 1: 0xc }), pire0: 0n }))).toBe("rw- ---");
    const clean = pageWith(1, 1n << 7n);
    const w = new Walker(clean.mem, regs(clean, { tcr2: TCR2_PIE, pir: encodePermFields({ 1: 0x8 }), pire0: 0n }));
    expect(w.translate(VA, AT_OPS.S1E1W)).toMatchObject({ kind: "fault", par: PAR_PERM_L3 });
  });
});

describe("privileged X/GCS with EL0 W/GCS: no access at either level (KVM at.c cites R_VFPJF)", () => {
  it("PIR RWX + PIRE0 RW gives nothing to anyone", () => {
    const t = pageWith(6);
    expect(perms(t, regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 6: 0xe }), pire0: encodePermFields({ 6: 0xc }) }))).toBe("--- ---");
  });
  it("PIR RW + PIRE0 RW is fine (no privileged execute)", () => {
    const t = pageWith(6);
    expect(perms(t, regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 6: 0xc }), pire0: encodePermFields({ 6: 0xc }) }))).toBe("rw- rw-");
  });
});

describe("PAN under PIE (ASL S1IndirectBasePermissions; QEMU get_S1prot_indirect agrees)", () => {
  it("an EL0 execute-only page blocks privileged PAN reads even with SCTLR_EL1.EPAN=0", () => {
    const t = pageWith(4);
    const r = regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 4: 0xc }), pire0: encodePermFields({ 4: 0x2 }) });
    const w = new Walker(t.mem, r);
    expect(w.translate(VA, AT_OPS.S1E1R).kind).toBe("ok");
    expect(w.translate(VA, AT_OPS.S1E1RP)).toMatchObject({ kind: "fault", fault: "permission", par: PAR_PERM_L3 });
  });
  it("only PIRE0 value 0b0000 exempts a page from PAN; a reserved value (no EL0 access) does not", () => {
    // ASL AArch64.S1IndirectBasePermissions: PAN applies when upi != 0b0000 (the raw value).
    const t = pageWith(4);
    const none = regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 4: 0xc }), pire0: 0n });
    expect(new Walker(t.mem, none).translate(VA, AT_OPS.S1E1WP).kind).toBe("ok");
    const reserved = regs(t, { tcr2: TCR2_PIE, pir: encodePermFields({ 4: 0xc }), pire0: encodePermFields({ 4: 0x4 }) });
    expect(perms(t, reserved)).toBe("rw- ---");
    expect(new Walker(t.mem, reserved).translate(VA, AT_OPS.S1E1WP).kind).toBe("fault");
  });
});

describe("Linux's PIR values (pgtable-prot.h PIE_E0 / PIE_E1, __cpu_setup)", () => {
  it("are the values computed from the page-type table", () => {
    // Recomputed by hand from pgtable-prot.h: nibble n of PIE_E1 for each PIIndex n.
    expect(linuxPirE1()).toBe(0xcc88_0e0a_c080_0000n);
    expect(linuxPireE0("pie")).toBe(0xc080_0000_e0a2_0000n);
    expect(linuxPireE0("poe")).toBe(0x5010_0000_7032_0000n);
    expect(linuxPireE0("gcs")).toBe(0x5010_9080_7032_0000n);
  });

  const preset = presetByName("linux-4k-48-pie").regs;
  const cases: [keyof typeof LINUX_PI_INDEX, string, string][] = [
    ["PAGE_KERNEL", "rw-", "---"],
    ["PAGE_KERNEL_RO", "r--", "---"],
    ["PAGE_KERNEL_ROX", "r-x", "---"],
    ["PAGE_KERNEL_EXEC", "rwx", "---"],
    ["PAGE_SHARED", "rw-", "rw-"],
    ["PAGE_SHARED_EXEC", "rw-", "rwx"],
    ["PAGE_READONLY", "r--", "r--"],
    ["PAGE_READONLY_EXEC", "r--", "r-x"],
    ["PAGE_EXECONLY", "---", "--x"],
    ["PAGE_GCS", "---", "r--"],
    ["PAGE_GCS_RO", "---", "r--"],
  ];
  for (const [name, el1, el0] of cases) {
    it(`${name} (index ${LINUX_PI_INDEX[name]}) gives EL1 ${el1}, EL0 ${el0}`, () => {
      const t = pageWith(LINUX_PI_INDEX[name]);
      expect(perms(t, { ...preset, ttbr0: t.root })).toBe(`${el1} ${el0}`);
    });
  }

  it("GCS pages allow EL0 GCS accesses only (value 0b1001)", () => {
    const t = pageWith(LINUX_PI_INDEX.PAGE_GCS);
    const r = new Walker(t.mem, { ...preset, ttbr0: t.root }).translate(VA, AT_OPS.S1E0R);
    expect(r.kind === "ok" && r.permissions).toMatchObject({ ugcs: true, pgcs: false, uw: false });
  });
});

describe("permission overlays (FEAT_S1POE; ASL AArch64.S1OverlayPermissions)", () => {
  const POIDX = 5n << 60n;
  it("the overlay is checked before the base permission: a write both deny reports Overlay=1 (ASL AArch64.S1CheckPermissions)", () => {
    // PIR index 1 = 0b0001 (R, overlay-able): the base alone denies the write.
    const t = pageWith(1, POIDX);
    const none = regs(t, { tcr2: TCR2_PIE | TCR2_POE, pir: encodePermFields({ 1: 0x1 }), pire0: 0n, por1: encodePermFields({ 5: 0x1 }) });
    expect(new Walker(t.mem, none).translate(VA, AT_OPS.S1E1W)).toMatchObject({ kind: "fault", par: PAR_PERM_L3 | BigInt(PAR_OVERLAY) });
    // An overlay granting RWX denies nothing: the base's fault, Overlay=0.
    const all = regs(t, { tcr2: TCR2_PIE | TCR2_POE, pir: encodePermFields({ 1: 0x1 }), pire0: 0n, por1: encodePermFields({ 5: 0x7 }) });
    expect(new Walker(t.mem, all).translate(VA, AT_OPS.S1E1W)).toMatchObject({ kind: "fault", par: PAR_PERM_L3 });
  });
  it("POR_EL1 removes write from an overlay-able page; the fault reports PAR_EL1.Overlay", () => {
    const t = pageWith(1, POIDX);
    const r = regs(t, { tcr2: TCR2_PIE | TCR2_POE, pir: encodePermFields({ 1: 0x7 }), pire0: 0n, por1: encodePermFields({ 5: 0x3 }) });
    const w = new Walker(t.mem, r);
    expect(perms(t, r)).toBe("r-x ---");
    expect(w.translate(VA, AT_OPS.S1E1W)).toMatchObject({ kind: "fault", par: PAR_PERM_L3 | BigInt(PAR_OVERLAY) });
  });

  it("PI values 1xxx are not subject to the overlay", () => {
    const t = pageWith(1, POIDX);
    const r = regs(t, { tcr2: TCR2_PIE | TCR2_POE, pir: encodePermFields({ 1: 0xe }), pire0: 0n, por1: 0n });
    expect(perms(t, r)).toBe("rwx ---");
  });

  it("PI 0b0110 with an overlay granting X drops the write instead of the execute", () => {
    const t = pageWith(1, POIDX);
    const ovRwx = regs(t, { tcr2: TCR2_PIE | TCR2_POE, pir: encodePermFields({ 1: 0x6 }), pire0: 0n, por1: encodePermFields({ 5: 0x7 }) });
    expect(perms(t, ovRwx)).toBe("r-x ---");
    const ovRw = regs(t, { tcr2: TCR2_PIE | TCR2_POE, pir: encodePermFields({ 1: 0x6 }), pire0: 0n, por1: encodePermFields({ 5: 0x5 }) });
    expect(perms(t, ovRw)).toBe("rw- ---");
  });

  it("POR_EL0 applies to EL0 with TCR2_EL1.E0POE, also under direct permissions", () => {
    const t = pageWith(1, POIDX); // AP=01: EL0 and EL1 RW
    const r = regs(t, { tcr2: TCR2_E0POE, por0: encodePermFields({ 5: 0x1 }) });
    expect(perms(t, r)).toBe("rw- r--");
    const w = new Walker(t.mem, r);
    expect(w.translate(VA, AT_OPS.S1E0W)).toMatchObject({ kind: "fault", par: PAR_PERM_L3 | BigInt(PAR_OVERLAY) });
  });

  it("reserved POR values (1xxx) grant nothing", () => {
    const t = pageWith(1, POIDX);
    expect(perms(t, regs(t, { tcr2: TCR2_POE, por1: encodePermFields({ 5: 0x9 }) }))).toBe("--- rwx");
  });

  it("SCTLR_EL1.WXN with an overlay that grants X drops the write, not the execute (direct permissions)", () => {
    // ASL AArch64.S1ComputePermissions: wxn = SCTLR.WXN && w && x; with an overlay granting X the
    // overlay's W is removed, otherwise X is. Page AP=00, no XN: EL1 RWX before WXN.
    const t = pageWith(0, POIDX);
    const wxn = 1n | (1n << 19n);
    expect(perms(t, regs(t, { sctlr: wxn, tcr2: TCR2_POE, por1: encodePermFields({ 5: 0x7 }) }))).toBe("r-x --x");
    expect(perms(t, regs(t, { sctlr: wxn, tcr2: TCR2_POE, por1: encodePermFields({ 5: 0x5 }) }))).toBe("rw- --x");
    // Without overlays WXN removes X as always (EL0 keeps execute: AP=00 gives it no write).
    expect(perms(t, regs(t, { sctlr: wxn }))).toBe("rw- --x");
  });
});
