/**
 * Guarded Control Stack data accesses (FEAT_GCS, AccessType_GCS) in the walker: the walk API's
 * GCS access kind (walker.ts GCS_ACCESSES / Access.gcs). Rules, as ASL AArch64.S1CheckPermissions
 * states them (FEAT_GCS branch) with the permissions of AArch64.S1IndirectBasePermissions:
 *
 * - a GCS access needs the GCS permission of its privilege level (PIR_ELx / PIRE0_ELx value
 *   0b1001), nothing else: R/W and the permission overlay are not consulted;
 * - without permission indirection no page grants GCS (AArch64.S1DirectBasePermissions: gcs=FALSE);
 * - a GCS write to a clean page (nDirty, bit 7, = 1) without hardware dirty-state update
 *   (TCR.{HA,HD} != {1,1}) is a Permission fault with DirtyBit=1;
 * - ordinary writes to a GCS page fault: value 0b1001 grants read and GCS, not write.
 * AT has no GCS form, so a GCS access has no PAR.
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { LINUX_PI_INDEX, linuxPieRegisters } from "../../src/arch/linux-pie.js";
import { encodePermFields } from "../../src/arch/pie.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR, type Regs } from "../../src/arch/registers.js";
import { formatVtop } from "../../src/walk/vtop.js";
import { AT_OPS, GCS_ACCESSES, Walker } from "../../src/walk/walker.js";
import { TestTables } from "../helpers/tables.js";

const VA = 0x1234_5000n;
const OA = 0x8000_0000n;
const TCR2_PIE = 2n;
const TCR2_POE = 8n;
const ND = 1n << 7n; // nDirty under PIE

/** Descriptor bits of the PIIndex: [0] bit 6, [1] bit 51, [2] bit 53, [3] bit 54. */
function indexBits(idx: number): bigint {
  return (idx & 1 ? 1n << 6n : 0n) | (idx & 2 ? 1n << 51n : 0n) | (idx & 4 ? 1n << 53n : 0n) | (idx & 8 ? 1n << 54n : 0n);
}

/** A 4K page at VA with AF=1, Normal memory, PIIndex `idx` and `extra` bits. */
function pageWith(idx: number, extra = 0n): TestTables {
  const t = new TestTables(GRANULE_4K, 0);
  t.raw(VA, 3, OA | 0x403n | (3n << 8n) | indexBits(idx) | extra);
  return t;
}

function regs(t: TestTables, over: Partial<Regs>, tcr: Partial<Parameters<typeof encodeTcr>[0]> = {}): Regs {
  return {
    ttbr0: t.root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48, ...tcr }),
    mair: LINUX_MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
    ...over,
  };
}

describe("GCS accesses need the GCS permission (ASL AArch64.S1CheckPermissions, FEAT_GCS)", () => {
  // Index 3: EL1 GCS (0b1001), EL0 read-write (0b1100) is not allowed together (privileged GCS
  // with unprivileged W); so use separate indices: 3 EL1 GCS / EL0 none, 5 EL0 GCS / EL1 none,
  // 6 EL1 RW / EL0 RW (no GCS).
  const pir = encodePermFields({ 3: 0b1001, 6: 0b1100 });
  const pire0 = encodePermFields({ 5: 0b1001, 6: 0b1100 });

  it("a privileged GCS page takes EL1 GCS reads and writes and refuses EL0 GCS and EL1 ordinary writes", () => {
    const t = pageWith(3);
    const w = new Walker(t.mem, regs(t, { tcr2: TCR2_PIE, pir, pire0 }));
    const rd = w.translate(VA, GCS_ACCESSES.EL1_READ);
    expect(rd).toMatchObject({ kind: "ok", pa: OA, par: null });
    expect(w.translate(VA, GCS_ACCESSES.EL1_WRITE).kind).toBe("ok");
    expect(w.translate(VA, GCS_ACCESSES.EL0_READ)).toMatchObject({
      kind: "fault",
      fault: "permission",
      level: 3,
      par: null,
      reason: expect.stringMatching(/GCS permission/),
    });
    // Value 0b1001 grants read + GCS: an ordinary read works, an ordinary write faults (AT PAR F=1).
    expect(w.translate(VA, AT_OPS.S1E1R).kind).toBe("ok");
    expect(w.translate(VA, AT_OPS.S1E1W)).toMatchObject({ kind: "fault", fault: "permission", par: 0x81fn });
  });

  it("vtop prints no PAR for a GCS access (AT has no GCS form) and names the missing GCS permission", () => {
    const t = pageWith(3);
    const w = new Walker(t.mem, regs(t, { tcr2: TCR2_PIE, pir, pire0 }));
    const text = formatVtop(w.translate(VA, GCS_ACCESSES.EL0_READ), w.ctx);
    expect(text).toContain("PAR_EL1: n/a (AT has no GCS form)");
    expect(text).toMatch(/permission fault, level 3 .*GCS permission/);
  });

  it("an unprivileged GCS page takes EL0 GCS accesses only", () => {
    const t = pageWith(5);
    const w = new Walker(t.mem, regs(t, { tcr2: TCR2_PIE, pir, pire0 }));
    expect(w.translate(VA, GCS_ACCESSES.EL0_WRITE).kind).toBe("ok");
    expect(w.translate(VA, GCS_ACCESSES.EL1_WRITE)).toMatchObject({ kind: "fault", fault: "permission" });
    expect(w.translate(VA, AT_OPS.S1E0W)).toMatchObject({ kind: "fault", fault: "permission" });
  });

  it("a read-write page without GCS permission refuses GCS reads and writes at both levels", () => {
    const t = pageWith(6);
    const w = new Walker(t.mem, regs(t, { tcr2: TCR2_PIE, pir, pire0 }));
    expect(w.translate(VA, AT_OPS.S1E1W).kind).toBe("ok");
    expect(w.translate(VA, AT_OPS.S1E0W).kind).toBe("ok");
    for (const a of Object.values(GCS_ACCESSES)) expect(w.translate(VA, a)).toMatchObject({ kind: "fault", fault: "permission", level: 3 });
  });

  it("without permission indirection no page is a GCS page (ASL AArch64.S1DirectBasePermissions: gcs FALSE)", () => {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(VA, 3, { oa: OA, af: true, sh: 3, ap: 1 }); // EL1 and EL0 read-write
    const w = new Walker(t.mem, regs(t, {}));
    expect(w.translate(VA, AT_OPS.S1E0W).kind).toBe("ok");
    for (const a of Object.values(GCS_ACCESSES)) expect(w.translate(VA, a)).toMatchObject({ kind: "fault", fault: "permission", level: 3 });
  });

  it("Linux's PAGE_GCS (PIRE0 0b1001) takes EL0 GCS writes, and its ordinary EL0 writes fault", () => {
    const t = pageWith(LINUX_PI_INDEX.PAGE_GCS);
    const w = new Walker(t.mem, regs(t, linuxPieRegisters("gcs"), { ha: true, hd: true }));
    expect(w.translate(VA, GCS_ACCESSES.EL0_WRITE).kind).toBe("ok");
    expect(w.translate(VA, GCS_ACCESSES.EL0_READ).kind).toBe("ok");
    expect(w.translate(VA, AT_OPS.S1E0W).kind).toBe("fault");
    expect(w.translate(VA, GCS_ACCESSES.EL1_WRITE).kind).toBe("fault");
  });
});

describe("GCS writes and the dirty state (nDirty under PIE)", () => {
  const pir = encodePermFields({ 3: 0b1001 });

  it("a GCS write to a clean page without HA=HD=1 is a dirty-state Permission fault; a GCS read is not", () => {
    const t = pageWith(3, ND);
    const w = new Walker(t.mem, regs(t, { tcr2: TCR2_PIE, pir, pire0: 0n }, { ha: true }));
    expect(w.translate(VA, GCS_ACCESSES.EL1_READ).kind).toBe("ok");
    const f = w.translate(VA, GCS_ACCESSES.EL1_WRITE);
    expect(f).toMatchObject({ kind: "fault", fault: "permission", level: 3, reason: expect.stringMatching(/dirty/i) });
  });

  it("with TCR.HA=HD=1 the same GCS write is allowed (hardware clears nDirty)", () => {
    const t = pageWith(3, ND);
    const w = new Walker(t.mem, regs(t, { tcr2: TCR2_PIE, pir, pire0: 0n }, { ha: true, hd: true }));
    expect(w.translate(VA, GCS_ACCESSES.EL1_WRITE).kind).toBe("ok");
  });
});

describe("GCS accesses are not subject to the permission overlay (ASL: the GCS check precedes the overlay checks)", () => {
  it("POR_EL1 granting nothing leaves GCS accesses to an overlay-exempt GCS page alone", () => {
    // 0b1001 has bit 3 set: not overlay-able anyway; POIndex 5 with POR_EL1 field 0 (no access).
    const t = pageWith(3, 5n << 60n);
    const w = new Walker(t.mem, regs(t, { tcr2: TCR2_PIE | TCR2_POE, pir: encodePermFields({ 3: 0b1001 }), pire0: 0n, por1: 0n }));
    expect(w.translate(VA, GCS_ACCESSES.EL1_WRITE).kind).toBe("ok");
    expect(w.translate(VA, AT_OPS.S1E1R).kind).toBe("ok");
  });
});
