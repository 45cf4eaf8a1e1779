/**
 * The library audit of the EL2&0 regime under permission indirection (TCR2_EL2.PIE=1): with
 * HCR_EL2.TGE=0 no EL0 access uses EL2&0 (Arm ARM D8.1, ASL ELIsInHost), so TTBR0_EL2 holds
 * hypervisor mappings judged on PIR_EL2 (the EL2 permissions, D8.4.1.3 indirect permissions);
 * PIRE0_EL2 grants are information only. With TGE=1 TTBR0_EL2 is a VHE host's user range.
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { LINUX_PI_INDEX } from "../../src/arch/linux-pie.js";
import { presetByName, type Regs } from "../../src/arch/registers.js";
import { audit } from "../../src/dump/audit.js";
import { TestTables } from "../helpers/tables.js";

const PAGE = 0x1000n;
const HCR_E2H = 1n << 34n;
const HCR_TGE = 1n << 27n;

/** A valid, global 4K page with AF, SH inner, Normal memory and the PIIndex bits of `idx` (nDirty set: dirty-clean does not matter here). */
function pte(oa: bigint, idx: number): bigint {
  const bits = (idx & 1 ? 1n << 6n : 0n) | (idx & 2 ? 1n << 51n : 0n) | (idx & 4 ? 1n << 53n : 0n) | (idx & 8 ? 1n << 54n : 0n);
  return oa | 0x403n | (3n << 8n) | (1n << 7n) | bits;
}

function setup(hcr: bigint): { t: TestTables; regs: Regs } {
  const t = new TestTables(GRANULE_4K, 0);
  // Linux's PIR/PIRE0 values as PIR_EL2/PIRE0_EL2, TCR_EL2 in the TCR_EL1 layout (E2H=1), EPD1.
  const base = presetByName("linux-4k-48-pie").regs;
  return { t, regs: { ...base, regime: "el20", hcr, ttbr0: t.root, ttbr1: 0n, tcr: base.tcr | (1n << 23n) } };
}

describe("audit --regime el20 under PIE", () => {
  it("TGE=0: a PIR_EL2 RWX page in TTBR0_EL2 is hypervisor W+X; an EL0 grant from PIRE0_EL2 is a warning, not user memory", () => {
    const { t, regs } = setup(HCR_E2H);
    t.raw(0n, 3, pte(0x5000_0000n, LINUX_PI_INDEX.PAGE_KERNEL)); // RW: clean
    t.raw(PAGE, 3, pte(0x5000_1000n, LINUX_PI_INDEX.PAGE_KERNEL_EXEC)); // PIE_RWX at EL2
    t.raw(2n * PAGE, 3, pte(0x5000_2000n, LINUX_PI_INDEX.PAGE_SHARED)); // PIRE0 RW: never used
    const r = audit(t.mem, regs);
    expect(r.el20).toEqual({ tge: false, tgeSource: "HCR_EL2" });
    expect(r.wx.wxPages).toBe(1n);
    expect(r.findings.map((f) => `${f.kind} ${f.severity} ${f.va.toString(16)}`)).toEqual(["wx error 1000", "el0-unused warning 2000"]);
    expect(r.findings[0]?.message).toContain("PIR_EL2 rwx");
  });

  it("TGE=1: the same TTBR0_EL2 is a user range: global-user for every global page, no kernel W+X", () => {
    const { t, regs } = setup(HCR_E2H | HCR_TGE);
    t.raw(PAGE, 3, pte(0x5000_1000n, LINUX_PI_INDEX.PAGE_KERNEL_EXEC));
    const r = audit(t.mem, regs);
    expect(r.el20).toEqual({ tge: true, tgeSource: "HCR_EL2" });
    expect(r.wx.wxPages).toBe(0n);
    expect(r.findings.map((f) => f.kind)).toEqual(["global-user"]);
  });
});
