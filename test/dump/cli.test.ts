/**
 * `vmsa audit` and `vmsa diff` end to end: text output against golden files, JSON shape, exit
 * status (audit: 1 on findings; diff: 1 when anything changed, like diff(1)).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { vmsa } from "../cli/run.js";
import { writeSnapshot } from "../helpers/snapshot.js";
import { TestTables } from "../helpers/tables.js";

const FIX = join(import.meta.dirname, "../fixtures/real-kernel");
const GOLDEN = join(import.meta.dirname, "golden");

describe("vmsa audit", () => {
  it("a real 16K kernel: the kernel's verdict line, the DMA-remap alias warnings, exit 0 (golden)", async () => {
    const dir = join(FIX, "linux-6.12-16k47");
    // The snapshot holds the kernel's tables but not the user table TTBR0 names: audit the kernel half.
    const r = await vmsa("audit", join(dir, "machine.json"), "--regs", join(dir, "registers.txt"), "--no-user-half");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("Checked W+X mappings: passed, no W+X pages found");
    await expect(r.out).toMatchFileSnapshot(join(GOLDEN, "audit-linux-6.12-16k47.txt"));
  });

  it("--protected over the kernel image fails with exit 1; JSON carries the finding", async () => {
    const dir = join(FIX, "linux-6.1-4k48");
    const args = [
      "audit",
      join(dir, "machine.json"),
      "--regs",
      join(dir, "registers.txt"),
      "--protected",
      "0x40210000+0x1000",
      "--format",
      "json",
    ];
    const r = await vmsa(...args);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { errors: number; findings: { kind: string; pa: string }[]; sources: Record<string, string> };
    expect(j.findings.filter((f) => f.kind === "protected").length).toBeGreaterThan(0);
    expect(j.sources.TTBR1_EL1).toContain("registers.txt");
    expect(j.sources.vmcoreinfo).toMatch(/RAM scan/);
  });

  it("bad input exits 2 with a one-line error", async () => {
    const r = await vmsa("audit", "--protected", "0x2000-0x1000", join(FIX, "linux-6.1-4k48", "machine.json"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: --protected "0x2000-0x1000": the end must be above the start\n$/);
  });
});

describe("vmsa diff", () => {
  it("mark_rodata_ro-like change, a remap and a split: classified with rules (golden)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-diff-"));
    const RW = { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 } as const;
    const build = (after: boolean): TestTables => {
      const t = new TestTables(GRANULE_4K, 0);
      for (let i = 0n; i < 8n; i++) t.map(i * 0x1000n, 3, { ...RW, ap: after ? 2 : 0, oa: 0x4800_0000n + i * 0x1000n });
      t.map(0x10000n, 3, { ...RW, oa: after ? 0x4900_0000n : 0x4800_8000n });
      if (!after) t.map(0x200000n, 2, { ...RW, oa: 0x4820_0000n });
      else for (let i = 0n; i < 512n; i++) t.map(0x200000n + i * 0x1000n, 3, { ...RW, oa: 0x4820_0000n + i * 0x1000n });
      if (after) t.map(0x40000000n, 2, { ...RW, oa: 0x4a00_0000n });
      return t;
    };
    const a = writeSnapshot(dir, "before", build(false));
    const b = writeSnapshot(dir, "after", build(true));
    const r = await vmsa("diff", a, b, "--bbm-level", "0", "--no-vmcoreinfo");
    expect(r.err).toBe("");
    expect(r.code).toBe(1);
    await expect(r.out).toMatchFileSnapshot(join(GOLDEN, "diff-crafted.txt"));
    const same = await vmsa("diff", a, a, "--no-vmcoreinfo");
    expect(same.code).toBe(0);
    expect(same.out).toBe("0 new, 0 removed, 0 permission-only (safe live, TLBI needed), 0 need break-before-make\n");
  });
});
