/**
 * `audit` of a kernel running with permission indirection (TCR2_EL1.PIE=1, Linux's PIR_EL1 /
 * PIRE0_EL1 from the linux-4k-48-pie preset): the descriptor's AP/PXN/UXN/DBM bits are only a
 * PIIndex and bit 7 is nDirty (Arm ARM D8.4.1.3; ASL AArch64.S1IndirectBasePermissions), so W+X,
 * EL0-executable and EL0-accessible kernel memory are judged on the effective permissions. Each
 * page below is chosen so that the raw-bit reading and the PIE reading disagree.
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { LINUX_PI_INDEX } from "../../src/arch/linux-pie.js";
import { presetByName, type Regs } from "../../src/arch/registers.js";
import { audit } from "../../src/dump/audit.js";
import { TestTables } from "../helpers/tables.js";

const PAGE = 0x1000n;
const KBASE = 0xffff_0000_0000_0000n;

/** A valid 4K page descriptor with AF, SH inner, Normal memory and the PIIndex bits of `idx`. */
function pte(oa: bigint, idx: number, nDirty: boolean): bigint {
  const bits = (idx & 1 ? 1n << 6n : 0n) | (idx & 2 ? 1n << 51n : 0n) | (idx & 4 ? 1n << 53n : 0n) | (idx & 8 ? 1n << 54n : 0n);
  return oa | 0x403n | (3n << 8n) | bits | (nDirty ? 1n << 7n : 0n);
}

function setup(pie: boolean): { t: TestTables; regs: Regs } {
  const t = new TestTables(GRANULE_4K, 0);
  const base = presetByName(pie ? "linux-4k-48-pie" : "linux-4k-48").regs;
  return { t, regs: { ...base, ttbr1: t.root, ttbr0: 0n } };
}

describe("audit under permission indirection", () => {
  it("Linux's kernel page types pass (PAGE_KERNEL, _RO, _ROX, clean or dirty)", () => {
    const { t, regs } = setup(true);
    t.raw(0n, 3, pte(0x5000_0000n, LINUX_PI_INDEX.PAGE_KERNEL, false));
    t.raw(PAGE, 3, pte(0x5000_1000n, LINUX_PI_INDEX.PAGE_KERNEL_RO, true));
    // PAGE_KERNEL_ROX with nDirty=0: raw bits say AP[2]=0 and PXN=0, which the direct reading
    // (and the kernel's own raw check) calls W+X; PIR_EL1 gives it PIE_RX.
    t.raw(2n * PAGE, 3, pte(0x5000_2000n, LINUX_PI_INDEX.PAGE_KERNEL_ROX, false));
    const r = audit(t.mem, regs, { userHalf: false });
    expect(r.findings).toEqual([]);
    expect(r.wx.passed).toBe(true);
    // Control: without PIE the same tables fail the raw W+X check and the UXN check.
    const direct = audit(t.mem, { ...regs, tcr2: 0n }, { userHalf: false });
    expect(direct.wx.wxPages).toBe(1n);
  });

  it("PAGE_KERNEL_EXEC (PIE_RWX) is a W+X page, named with its PIIndex and permissions", () => {
    const { t, regs } = setup(true);
    t.raw(0n, 3, pte(0x5000_0000n, LINUX_PI_INDEX.PAGE_KERNEL_EXEC, true));
    const r = audit(t.mem, regs, { userHalf: false });
    expect(r.wx.wxPages).toBe(1n);
    const wx = r.findings.find((f) => f.kind === "wx");
    expect(wx?.va).toBe(KBASE);
    expect(wx?.message).toContain("PIIndex 10: PIR_EL1 rwx, PIRE0_EL1 ---");
  });

  it("an execute-only user page type in the kernel half is EL0-executable and EL0-accessible, though AP[1]=0", () => {
    const { t, regs } = setup(true);
    t.raw(0n, 3, pte(0x5000_0000n, LINUX_PI_INDEX.PAGE_EXECONLY, true));
    const r = audit(t.mem, regs, { userHalf: false });
    expect(r.findings.map((f) => f.kind).sort()).toEqual(["non-uxn", "user-kernel"]);
    expect(r.wx.nonUxnPages).toBe(1n);
    // The direct reading sees PXN=1, UXN=0, AP[1]=0: non-UXN but not EL0-accessible.
    const direct = audit(t.mem, { ...regs, tcr2: 0n }, { userHalf: false });
    expect(direct.findings.map((f) => f.kind)).toEqual(["non-uxn"]);
  });

  it("a GCS page type in the kernel half is EL0-accessible (GCS reads/writes)", () => {
    const { t, regs } = setup(true);
    t.raw(0n, 3, pte(0x5000_0000n, LINUX_PI_INDEX.PAGE_GCS, true));
    const r = audit(t.mem, regs, { userHalf: false });
    const f = r.findings.find((x) => x.kind === "user-kernel");
    expect(f?.message).toContain("PIRE0_EL1 r--+gcs");
  });
});
