/**
 * The built-in pKVM examples through the CLI: `--example pkvm-hyp` (the hypervisor's stage 1,
 * EL2 regime) and `--example pkvm-host-s2` (the host's stage 2), built by the kernel library's
 * model of pKVM's init (src/kernel/pkvm). The dumps are the goldens of test/kernel/pkvm.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmsa } from "./run.js";

const GOLDEN = join(import.meta.dirname, "..", "kernel", "golden");
const golden = (name: string): string => readFileSync(join(GOLDEN, name), "utf8");

describe("vmsa dump --example pkvm-hyp / pkvm-host-s2", () => {
  it("dumps TTBR0_EL2 as ptdump (the EL2 regime's one range is half 0 by default)", async () => {
    const r = await vmsa("dump", "--example", "pkvm-hyp");
    expect(r.code).toBe(0);
    expect(r.out).toBe(golden("pkvm-hyp.txt"));
  });

  it("dumps the host stage 2 as stage2_page_tables without --stage 2, in the 6.12 and 6.19 formats", async () => {
    const a = await vmsa("dump", "--example", "pkvm-host-s2");
    expect(a.code).toBe(0);
    expect(a.out).toBe(golden("pkvm-host-s2.txt"));
    const b = await vmsa("dump", "--example", "pkvm-host-s2", "--ptdump-era", "linux-6.19");
    expect(b.out).toBe(golden("pkvm-host-s2-6.19.txt"));
    expect((await vmsa("dump", "--example", "pkvm-host-s2", "--kvm-file", "ipa_range")).out).toBe("48\n");
    expect((await vmsa("dump", "--example", "pkvm-host-s2", "--kvm-file", "stage2_levels")).out).toBe("4\n");
  });

  it("JSON lists the hyp-owned pages as invalid entries with owner id 1 in bits [9:2], and the shared page's SW bits", async () => {
    const r = await vmsa("dump", "--example", "pkvm-host-s2", "-f", "json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      mappings: { ipa: string; sw: number }[];
      invalid: { ipa: string; size: string; level: number; descriptor: string }[];
    };
    // __hyp_text at PA 0x40210000 (0x16000 bytes): owner PKVM_ID_HYP = 1, descriptor 0x4.
    expect(j.invalid).toContainEqual({ ipa: "0x40210000", size: "0x16000", level: 3, descriptor: "0x4" });
    // kvm_vgic_global_state: shared-borrowed on the host side = SW1 (bit 56) = 2 in bits [58:55].
    expect(j.mappings.find((m) => m.ipa === "0x41490000")?.sw).toBe(2);
    // The page the host shared with the hypervisor after init: shared-owned = SW0 (bit 55) = 1.
    expect(j.mappings.find((m) => m.ipa === "0x44000000")?.sw).toBe(1);
    // The two pages it donated: owner hyp.
    expect(j.invalid).toContainEqual({ ipa: "0x44002000", size: "0x2000", level: 3, descriptor: "0x4" });
  });
});

describe("vmsa translate --example pkvm-hyp / pkvm-host-s2", () => {
  it("a hyp text VA executes at EL2 and faults on write (AT S1E2W)", async () => {
    const r = await vmsa("translate", "--example", "pkvm-hyp", "0x800000210000:x", "0x800000210000:w");
    expect(r.code).toBe(0);
    expect(r.out).toContain("ACCESS: EL2 r-x");
    expect(r.out).toMatch(/FAULT: permission fault, level 3/);
    expect(r.out).toContain("PAR_EL1 (AT S1E2W): 0x000000000000081f");
  });

  it("a host IPA of a hyp page faults at stage 2 level 3; host RAM translates IPA = PA", async () => {
    const r = await vmsa("translate", "--example", "pkvm-host-s2", "0x40210000", "0x48000000:w", "-f", "json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { results: { kind: string; level: number; pa?: string; fault?: string }[] };
    expect(j.results[0]).toMatchObject({ kind: "fault", fault: "translation", level: 3 });
    expect(j.results[1]).toMatchObject({ kind: "ok", pa: "0x48000000", level: 2 });
  });
});

describe("vmsa audit --example pkvm-hyp / pkvm-host-s2", () => {
  it("the hypervisor's tables pass (exit 0)", async () => {
    const r = await vmsa("audit", "--example", "pkvm-hyp");
    expect(r.code).toBe(0);
    expect(r.out).toContain("Checked W+X mappings: passed, no W+X pages found");
    expect(r.out).not.toContain("global-user");
  });

  it("the host stage 2 reports its RWX memory as s2-wx (exit 1), by design of pKVM", async () => {
    const r = await vmsa("audit", "--example", "pkvm-host-s2");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Checked stage-2 W\+X mappings: FAILED, \d+ W\+X pages found/);
    expect(r.out).not.toContain("s2-exec-device");
  });
});

describe("pKVM examples: bad combinations are one-line errors (exit 2)", () => {
  const cases: [string, string[], RegExp][] = [
    ["--half 1 on the EL2 regime", ["dump", "--example", "pkvm-hyp", "--half", "1"], /EL2 regime has one VA range/],
    ["--stage 1 on the host stage 2", ["dump", "--example", "pkvm-host-s2", "--stage", "1"], /stage-2 input/],
    ["--stage 2 on the hyp stage 1", ["audit", "--example", "pkvm-hyp", "--stage", "2"], /stage-1 input/],
    [
      "a register flag with pkvm-hyp",
      ["translate", "--example", "pkvm-hyp", "--ttbr0", "0x1000", "0x0"],
      /brings its own memory and registers/,
    ],
    ["--vtcr with pkvm-host-s2", ["dump", "--example", "pkvm-host-s2", "--vtcr", "0x80023558"], /brings its own memory and registers/],
    ["a stage-2 ptdump era for stage 1", ["dump", "--example", "pkvm-hyp", "--ptdump-era", "linux-6.19"], /--ptdump-era/],
    ["a stage-1 ptdump era for stage 2", ["dump", "--example", "pkvm-host-s2", "--ptdump-era", "linux-4"], /--ptdump-era/],
  ];
  for (const [what, args, msg] of cases) {
    it(what, async () => {
      const r = await vmsa(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).toMatch(/^vmsa: error: /);
    });
  }
});

describe("vmsa dump / audit --regime el2 on a real hypervisor dump", () => {
  const core = join(import.meta.dirname, "..", "fixtures", "pkvm", "linux-6.12-4k-nvhe", "tables.core.gz");
  const el2 = ["--regime", "el2", "--ttbr0", "0x4f841001", "--tcr", "0x80853510", "--mair", "0x40044ffff", "--sctlr", "0xf8ed383d"];

  it("dump prints TTBR0_EL2 without a TTBR1 (the EL2 regime has none) and without kernel markers", async () => {
    const r = await vmsa("dump", core, ...el2);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe("---[ TTBR0_EL2 ]---");
    // The stack page of CPU0 at __io_map_base + PAGE_SIZE (nvhe/mm.c pkvm_create_stack).
    expect(r.out).toContain("0x0000400000001000-0x0000400000002000           4K PTE   USR RW x  SHD AF            UXN    MEM/NORMAL");
  });

  it("audit passes the real hypervisor (W^X at EL2) with exit 0", async () => {
    const r = await vmsa("audit", core, ...el2);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Checked W+X mappings: passed, no W+X pages found");
  });

  it("--regime el20 on the example pkvm-hyp (an EL2 input) is refused", async () => {
    const r = await vmsa("dump", "--example", "pkvm-hyp", "--regime", "el20");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: --regime el20: the input's registers are of the el2 regime/);
  });
});
