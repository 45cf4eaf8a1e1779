/**
 * `vmsa audit --regime el20`: HCR_EL2.TGE decides what TTBR0_EL2 holds (issue 12's gap). Arm ARM
 * D8.1 translation regimes (ASL ELIsInHost; vmsa-regimes.md §2.2): EL0 translates through the
 * EL2&0 regime only when HCR_EL2.{E2H,TGE}={1,1} (a VHE host's user space). With TGE=0 (pKVM's
 * hVHE hypervisor) no EL0 access uses EL2&0, so TTBR0_EL2 maps the hypervisor: W^X is judged on
 * the EL2 (privileged) permissions (AP[2], PXN at bit 53, SCTLR_EL2.WXN; D8.4), the EL0 bits at
 * most as information, and nG carries no "user" meaning.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX } from "../../src/arch/registers.js";
import { audit } from "../../src/dump/audit.js";
import { TestTables } from "../helpers/tables.js";
import { vmsa } from "./run.js";

const HVHE = join(import.meta.dirname, "..", "fixtures", "pkvm", "linux-6.12-4k-hvhe-lpa2");
const hvheRegs = Object.fromEntries(
  [...readFileSync(join(HVHE, "registers.txt"), "utf8").matchAll(/^(\w+)=(0x[0-9a-f]+)$/gm)].map((m) => [m[1] as string, m[2] as string]),
);
const hvheArgs = [
  join(HVHE, "tables.core.gz"),
  "--regime",
  "el20",
  "--ttbr1",
  "0",
  "--ttbr0",
  hvheRegs.TTBR0_EL2 as string,
  "--tcr",
  hvheRegs.TCR_EL2 as string,
  "--mair",
  hvheRegs.MAIR_EL2 as string,
  "--sctlr",
  hvheRegs.SCTLR_EL2 as string,
];

interface JsonReport {
  el20?: { tge: number; tgeSource: string };
  summary: string;
  errors: number;
  findings: { kind: string; va: string; end: string; severity: string }[];
}

async function auditJson(...args: string[]): Promise<{ code: number; report: JsonReport; err: string }> {
  const r = await vmsa("audit", ...args, "-f", "json");
  expect(r.err.split("\n").filter((l) => l !== "" && !l.startsWith("vmsa: note: "))).toEqual([]);
  return { code: r.code, report: JSON.parse(r.out) as JsonReport, err: r.err };
}

describe("audit --regime el20 on the real hVHE pKVM capture (HCR_EL2.E2H=1, TGE=0)", () => {
  it("judges TTBR0_EL2 as hypervisor mappings: no global-user, W^X passes, the WXN-only pages are warnings", async () => {
    // HCR_EL2 0x30480080001: E2H (bit 34) set, TGE (bit 27) clear.
    expect(BigInt(hvheRegs.HCR_EL2 as string) & ((1n << 34n) | (1n << 27n))).toBe(1n << 34n);
    const { code, report } = await auditJson(...hvheArgs, "--hcr", hvheRegs.HCR_EL2 as string);
    expect(report.el20).toEqual({ tge: 0, tgeSource: "HCR_EL2", view: expect.stringContaining("judged as hypervisor mappings") });
    expect(report.summary).toBe("Checked W+X mappings: passed, no W+X pages found");
    expect(report.errors).toBe(0);
    expect(code).toBe(0);
    // Exactly the writable hyp ranges whose PXN (bit 53) is clear (KVM sets bit 54, UXN under
    // E2H=1): non-executable at EL2 only through SCTLR_EL2.WXN (test/kernel/pkvm-real.test.ts).
    expect(report.findings.map((f) => `${f.kind} ${f.severity} ${f.va}-${f.end}`)).toEqual([
      "wxn-only warning 0x4000000001000-0x4000000002000",
      "wxn-only warning 0x6000000100000-0x6000000140000",
      "wxn-only warning 0x8e4e6f2c1d000-0x8e4e6f2c1f000",
      "wxn-only warning 0x8e4e6f3a00000-0x8e4e6f3a03000",
      "wxn-only warning 0x8e4e6f3a04000-0x8e4e6f3a07000",
      "wxn-only warning 0x8e4e6ff800000-0x8e4e6ffe00000",
    ]);
  });

  it("without HCR_EL2, TGE is assumed 0 (never silently a user range) and the output says so", async () => {
    const r = await vmsa("audit", ...hvheArgs);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe(
      "EL2&0 regime, HCR_EL2.TGE=0 (HCR_EL2 not given: assumed 0, the stricter view; give --hcr): no EL0 uses this regime; TTBR0_EL2 and TTBR1_EL2 judged as hypervisor mappings",
    );
    expect(r.out).not.toContain("global-user");
    expect(r.err).toContain("vmsa: note: --regime el20 without HCR_EL2 (--hcr): TGE assumed 0");
  });

  it("reads HCR_EL2 from a --regs file (the capture's registers.txt names it)", async () => {
    const { code, report } = await auditJson(...hvheArgs, "--regs", join(HVHE, "registers.txt"));
    expect(report.el20).toMatchObject({ tge: 0, tgeSource: "HCR_EL2" });
    expect(report.findings.every((f) => f.kind === "wxn-only")).toBe(true);
    expect(code).toBe(0);
  });

  it("without SCTLR_EL2.WXN the same pages are W+X at EL2: FAILED, exit 1", async () => {
    const sctlr = `0x${(BigInt(hvheRegs.SCTLR_EL2 as string) & ~(1n << 19n)).toString(16)}`;
    const args = [...hvheArgs];
    args[args.indexOf("--sctlr") + 1] = sctlr;
    const { code, report } = await auditJson(...args, "--hcr", hvheRegs.HCR_EL2 as string);
    expect(code).toBe(1);
    expect(report.summary).toMatch(/^Checked W\+X mappings: FAILED, \d+ W\+X pages found, 0 non-UXN pages found$/);
    expect(report.findings.filter((f) => f.kind === "wx").length).toBe(6);
    expect(report.findings.some((f) => f.kind === "wxn-only")).toBe(false);
  });
});

// Synthetic EL2&0 tables: TTBR0_EL2 at 0x4000_0000 (4K, 48-bit VA), TTBR1_EL2 disabled (EPD1).
const dir = mkdtempSync(join(tmpdir(), "vmsa-el20audit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hex = (v: bigint): string => `0x${v.toString(16)}`;
const TCR = encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40 }) | (1n << 23n); // EPD1
const HCR_E2H = 1n << 34n;
const HCR_TGE = 1n << 27n;
const SCTLR_M = 1n; // MMU on, WXN (bit 19) clear

function tables(name: string, fill: (t: TestTables) => void): string[] {
  const t = new TestTables(GRANULE_4K, 0);
  fill(t);
  const image = join(dir, `${name}.bin`);
  writeFileSync(image, t.mem.readBytes(0x4000_0000n, 0x1_0000));
  return ["--mem", `${image}@0x40000000`, "--regime", "el20", "--ttbr0", hex(t.root), "--ttbr1", "0", "--tcr", hex(TCR), "--mair", "0xff"];
}

// A global, EL0-writable page (AP=01) and a privileged RWX page (AP=00, PXN=0), both nG=1 aside.
const userAndRwx = tables("mixed", (t) => {
  t.map(0x1000n, 3, { oa: 0x5000_1000n, af: true, sh: 3, ap: 1, uxn: true, pxn: true }); // global, EL0 RW
  t.map(0x2000n, 3, { oa: 0x5000_2000n, af: true, sh: 3, ap: 0, nG: true }); // EL2 RWX
});

describe("audit --regime el20 on synthetic tables", () => {
  it("HCR_EL2.TGE=1 (a VHE host): TTBR0_EL2 is still the user range (global-user), judged as before", async () => {
    const { code, report } = await auditJson(...userAndRwx, "--sctlr", hex(SCTLR_M), "--hcr", hex(HCR_E2H | HCR_TGE));
    expect(report.el20).toMatchObject({ tge: 1, tgeSource: "HCR_EL2" });
    expect(report.findings.map((f) => `${f.kind} ${f.va}`)).toEqual(["global-user 0x1000"]);
    // The user range's RWX page is not a kernel W+X (Linux maps user text without PXN too).
    expect(report.summary).toBe("Checked W+X mappings: passed, no W+X pages found");
    expect(code).toBe(1);
  });

  it("HCR_EL2.TGE=0: a writable and executable TTBR0_EL2 page is hypervisor W+X, exit 1; EL0 bits are information only", async () => {
    const { code, report } = await auditJson(...userAndRwx, "--sctlr", hex(SCTLR_M), "--hcr", hex(HCR_E2H));
    expect(report.el20).toMatchObject({ tge: 0, tgeSource: "HCR_EL2" });
    expect(report.summary).toBe("Checked W+X mappings: FAILED, 1 W+X pages found, 0 non-UXN pages found");
    expect(report.findings.map((f) => `${f.kind} ${f.severity} ${f.va}`)).toEqual(["el0-unused warning 0x1000", "wx error 0x2000"]);
    expect(code).toBe(1);
  });

  it("HCR_EL2.TGE=0 with SCTLR_EL2.WXN=1: the writable PXN=0 page is a wxn-only warning, exit 0", async () => {
    const clean = tables("wxn", (t) => t.map(0x2000n, 3, { oa: 0x5000_2000n, af: true, sh: 3, ap: 0 }));
    const { code, report } = await auditJson(...clean, "--sctlr", hex(SCTLR_M | (1n << 19n)), "--hcr", hex(HCR_E2H));
    expect(report.findings.map((f) => `${f.kind} ${f.severity} ${f.va}`)).toEqual(["wxn-only warning 0x2000"]);
    expect(code).toBe(0);
  });

  it("an HCR_EL2 with E2H=0 contradicts --regime el20: exit 2, one error line", async () => {
    const r = await vmsa("audit", ...userAndRwx, "--sctlr", hex(SCTLR_M), "--hcr", hex(HCR_TGE));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: --regime el20: HCR_EL2 0x8000000 has E2H=0/);
  });

  it("the library audit reads TGE from Regs.hcr (absent: assumed 0, reported)", () => {
    const t = new TestTables(GRANULE_4K, 0);
    t.map(0x2000n, 3, { oa: 0x5000_2000n, af: true, sh: 3, ap: 0, nG: true });
    const regs = { ttbr0: t.root, ttbr1: 0n, tcr: TCR, mair: 0xffn, sctlr: SCTLR_M, regime: "el20" as const };
    const assumed = audit(t.mem, { ...regs, features: FEATURES_MAX });
    expect(assumed.el20).toEqual({ tge: false, tgeSource: "assumed" });
    expect(assumed.wx.wxPages).toBe(1n);
    const host = audit(t.mem, { ...regs, features: FEATURES_MAX, hcr: HCR_E2H | HCR_TGE });
    expect(host.el20).toEqual({ tge: true, tgeSource: "HCR_EL2" });
    expect(host.wx.wxPages).toBe(0n);
  });
});
