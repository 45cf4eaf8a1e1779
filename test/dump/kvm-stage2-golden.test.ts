/**
 * Real KVM VMs' stage-2 tables (test/fixtures/kvm-stage2/linux-6.12-4k-{small,big}, captured
 * by `npm run capture:kvm-stage2` from Linux 6.12 running nested VMs in QEMU): vmsa reproduces the
 * kernel's own debugfs stage2_page_tables, ipa_range and stage2_levels byte for byte from the table
 * pages and VTTBR_EL2/VTCR_EL2 alone. The big VM's text exceeds a page, so the kernel's file is
 * a later seq_file show pass, begun in the state the previous pass ended in (src/dump/kvm-stage2.ts).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { vmsa } from "../cli/run.js";

const ROOT = resolve(import.meta.dirname, "../fixtures/kvm-stage2");

describe.each(["linux-6.12-4k-small", "linux-6.12-4k-big"])("KVM stage-2 debugfs of a real VM: %s", (name) => {
  const dir = join(ROOT, name);
  const input = [join(dir, "tables.core.gz"), "--regs", join(dir, "registers.txt")];
  const kernel = (f: string): string => readFileSync(join(dir, `${f}.txt`), "utf8");

  it("stage2_page_tables is reproduced byte for byte from the table pages and VTTBR_EL2/VTCR_EL2", async () => {
    const r = await vmsa("dump", "--stage", "2", ...input);
    expect(r.code).toBe(0);
    expect(r.out).toBe(kernel("stage2_page_tables"));
  });

  it("ipa_range and stage2_levels too", async () => {
    for (const f of ["ipa_range", "stage2_levels"]) {
      const r = await vmsa("dump", "--stage", "2", ...input, "--kvm-file", f);
      expect(r.code).toBe(0);
      expect(r.out).toBe(kernel(f));
    }
  });
});

describe("audit --stage 2 of the real VM", () => {
  it("finds KVM's RWX guest pages: with CTR_EL0.DIC (QEMU -cpu max) KVM maps every guest page executable", async () => {
    // arch/arm64/kvm/mmu.c user_mem_abort: prot |= X when the fault is an instruction fetch or the
    // CPU has ARM64_HAS_CACHE_DIC; writable host pages are mapped W. The small VM wrote or ran 7
    // pages of its read-write slot (1 code + 3 + 2 + 1 data) and read 2 of the read-only slot.
    const dir = join(ROOT, "linux-6.12-4k-small");
    const r = await vmsa("audit", "--stage", "2", join(dir, "tables.core.gz"), "--regs", join(dir, "registers.txt"), "-f", "json");
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { wxPages: number; leaves: number; findings: { kind: string; ipa: string }[] };
    expect(j.wxPages).toBe(7);
    expect(j.leaves).toBe(9);
    expect(j.findings.map((f) => [f.kind, f.ipa])).toEqual([
      ["s2-wx", "0x40000000"],
      ["s2-wx", "0x40010000"],
      ["s2-wx", "0x40200000"],
      ["s2-wx", "0x40203000"],
    ]);
  });
});
