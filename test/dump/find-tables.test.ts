/**
 * `vmsa find-tables`: the kernel's TTBR1 root found in RAM with the registers withheld.
 *
 * Real kernels (test/fixtures/real-kernel: Debian 6.1 4K/48 with and without KASLR, 6.12 4K/52
 * with LPA2, 16K/47 and 16K/52, the tinyconfig -ptdump builds): the top candidate is the root the
 * CPU's TTBR1_EL1.BADDR named, with the same granule and T1SZ, and `vmsa dump` with the proposed
 * flags prints the same ptdump as with the real registers (the golden ptdump.txt, or the kernel's
 * own kernel_page_tables.txt). Modelled kernels cover the 64K regimes no fixture has.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findTables } from "../../src/dump/find-tables/scan.js";
import { loadInputs, openDump } from "../../src/dump/inputs.js";
import { MemblockAllocator } from "../../src/kernel/alloc.js";
import { bootKernel } from "../../src/kernel/boot.js";
import { createMapping } from "../../src/kernel/mmu.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { compileRegs } from "../../src/walk/context.js";
import { vmsa } from "../cli/run.js";
import { skipBecause } from "../helpers/skip.js";
import { bootKernel as bootGuest, CONFIGS, toolsAvailable } from "./real-kernel/harness.js";

const ROOT = join(import.meta.dirname, "../fixtures/real-kernel");
const fixtures = readdirSync(ROOT).filter((n) => existsSync(join(ROOT, n, "machine.json")));

describe("find-tables on real kernels with the registers withheld", () => {
  it("covers 4K/48, 4K/48 KASLR, 4K/52, 16K/47 and 16K/52", () => {
    for (const n of ["linux-6.1-4k48", "linux-6.1-4k48-kaslr", "linux-6.12-4k52", "linux-6.12-16k47", "linux-6.12-16k52"]) {
      expect(fixtures).toContain(n);
    }
  });

  for (const name of fixtures) {
    it(`${name}: the top candidate is the CPU's TTBR1 root, and dump with its flags prints the same ptdump`, async () => {
      const dir = join(ROOT, name);
      const machine = join(dir, "machine.json");
      // The snapshot descriptor has no registers; find-tables reads memory only (no VMCOREINFO).
      expect(JSON.parse(readFileSync(machine, "utf8")).registers).toBeUndefined();
      const real = compileRegs(openDump({ inputs: [machine], regsFile: join(dir, "registers.txt"), progress: false }).regs).halves[1];

      const r = await vmsa("find-tables", machine, "-f", "json");
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out) as {
        verdict: string;
        candidates: { strength: string; rootPa: string; granule: string; t1sz: number; ds: boolean; flags: string }[];
      };
      expect(j.verdict).toBe("found");
      const top = j.candidates[0];
      expect(top?.strength).toBe("strong");
      expect(BigInt(top?.rootPa ?? "0")).toBe(BigInt(real.base));
      expect(top?.granule).toBe(real.granule.name);
      expect(top?.t1sz).toBe(real.tnsz);
      // DS=1 exactly when the kernel runs 52-bit VAs with 4K/16K pages (FEAT_LPA2, Arm ARM D8.3).
      expect(top?.ds).toBe(real.ds);
      // Only the best candidate is strong: tables inside its tree are not second roots.
      expect(j.candidates.filter((c) => c.strength === "strong")).toHaveLength(1);

      const flags = (top?.flags ?? "").split(" ");
      const d = await vmsa("dump", machine, ...flags);
      expect(d.code).toBe(0);
      const own = join(dir, "kernel_page_tables.txt");
      const expected = readFileSync(existsSync(own) ? own : join(dir, "ptdump.txt"), "utf8");
      expect(d.out).toBe(expected);
    });
  }

  it("the text report names the flags and the evidence", async () => {
    const r = await vmsa("find-tables", join(ROOT, "linux-6.12-16k52", "machine.json"), "--top", "2");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^#1 strong: root 0x41f2c000, 16K granule, 52-bit VA \(T1SZ=12, start level 0, DS=1\)/m);
    expect(r.out).toMatch(/^ {4}--ttbr1 0x41f2c000 --tcr 0x/m);
    expect(r.out).toMatch(/linear map 256M at 0xfff0000000000000 -> PA 0x40000000/);
    expect(r.out).toMatch(/^found: the kernel's TTBR1 root is most likely at 0x41f2c000/m);
  });
});

describe("find-tables on modelled kernels (every Linux granule and VA size)", () => {
  // Linux arm64 VA sizes per page size (arch/arm64/Kconfig ARM64_VA_BITS_*): 4K 39/48/52,
  // 16K 36/47/52, 64K 42/48/52; 52-bit 4K/16K use FEAT_LPA2 (TCR.DS=1), 64K uses FEAT_LVA.
  const regimes: ["4K" | "16K" | "64K", number][] = [
    ["4K", 39],
    ["4K", 48],
    ["4K", 52],
    ["16K", 36],
    ["16K", 47],
    ["16K", 52],
    ["64K", 42],
    ["64K", 48],
    ["64K", 52],
  ];
  for (const [granule, vaBits] of regimes) {
    it(`${granule}/${vaBits}: the booted swapper_pg_dir ranks first with the booted TCR's granule and T1SZ`, () => {
      const b = bootKernel({ granule, vaBits, memory: [{ base: 0x4000_0000, size: 0x1000_0000 }] });
      const want = compileRegs(b.regs).halves[1];
      const r = findTables(b.mem);
      const top = r.candidates[0];
      expect(top?.strong).toBe(true);
      expect(top?.rootPa).toBe(BigInt(b.pgd));
      expect(top?.granule).toBe(granule);
      expect(top?.t1sz).toBe(want.tnsz);
      expect(top?.ttbr1).toBe(b.regs.ttbr1);
    });
  }

  it("64K/48 on a kernel built for 52 bits: the root is the last 64 entries of the 52-bit table (TTBR1 + 0x1e00)", () => {
    // arch/arm64: TTBR1_BADDR_4852_OFFSET = (PTRS_PER_PGD - PTRS_PER_PGD_48) * 8 when a 52-bit VA
    // kernel runs on a CPU without FEAT_LVA.
    const b = bootKernel({ granule: "64K", vaBits: 48, memory: [{ base: 0x4000_0000, size: 0x1000_0000 }] });
    const page = 0x3000_0000;
    b.mem.zero(BigInt(page), 0x10000);
    for (let i = 0; i < 64; i++) {
      const v = b.mem.read64(BigInt(b.pgd + i * 8)) ?? 0n;
      b.mem.write64(BigInt(page + 0x1e00 + i * 8), v);
      b.mem.write64(BigInt(b.pgd + i * 8), 0n);
    }
    const top = findTables(b.mem).candidates[0];
    expect(top?.strong).toBe(true);
    expect(top?.rootPa).toBe(BigInt(page + 0x1e00));
    expect(top?.vaBits).toBe(48);
  });

  it("tables that alias each other are read once per level: the work stays bounded and the candidate is weak", () => {
    // 64 pages whose 512 entries all point at the next page (the last at the first): 512^4 paths
    // through a 4-level walk, 64 distinct tables.
    const mem = new PhysMem();
    const base = 0x4000_0000;
    for (let p = 0; p < 64; p++) {
      const next = base + ((p + 1) % 64) * 0x1000;
      for (let i = 0; i < 512; i++) mem.write64(BigInt(base + p * 0x1000 + i * 8), BigInt(next) | 3n);
    }
    const r = findTables(mem, { granules: ["4K"] });
    // Each (table, level) is summarised once per descriptor format (4K, 4K with DS).
    expect(r.nodesRead).toBeLessThanOrEqual(64 * 5 * 2);
    expect(r.candidates.length).toBeGreaterThan(0);
    expect(r.candidates.every((c) => !c.strong)).toBe(true);
    expect(r.candidates[0]?.evidence.aliases).toBeGreaterThan(0);
  });
});

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe("find-tables without tables", () => {
  const dir = mkdtempSync(join(tmpdir(), "vmsa-find-"));

  it("random bytes: inconclusive (exit 3), never a found root", async () => {
    const buf = Buffer.alloc(16 * 1024 * 1024);
    const rnd = xorshift(11);
    for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE(rnd(), i);
    const f = join(dir, "random.bin");
    writeFileSync(f, buf);
    const r = await vmsa("find-tables", `${f}@0x40000000`);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^vmsa: inconclusive: /);
    expect(r.out).not.toMatch(/strong/);
  });

  it("zeros: inconclusive (exit 3), saying no page looks like a root", async () => {
    const f = join(dir, "zeros.bin");
    writeFileSync(f, Buffer.alloc(4 * 1024 * 1024));
    const r = await vmsa("find-tables", `${f}@0x40000000`, "-f", "json");
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^vmsa: inconclusive: no page looks like a TTBR1 root of any of the 9 Linux formats tried/);
    expect(JSON.parse(r.out).candidates).toEqual([]);
  });

  it("bad input exits 2 with one error line", async () => {
    const missing = await vmsa("find-tables", join(dir, "nope.core"));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^vmsa: error: .*nope\.core.*\n$/);
    const top = await vmsa("find-tables", "--top", "x", join(dir, "zeros.bin@0x40000000"));
    expect(top.code).toBe(2);
    expect(top.err).toBe('vmsa: error: --top: "x" is not a decimal count (expected 1..1000000)\n');
    const g = await vmsa("find-tables", "--granule", "8K", join(dir, "zeros.bin@0x40000000"));
    expect(g.code).toBe(2);
    expect(g.err).toBe('vmsa: error: --granule: "8K" is not 4K, 16K or 64K\n');
  });

  it("loads inputs the way dump does (snapshot, ELF core, FILE@PA)", () => {
    const m = loadInputs([join(ROOT, "linux-6.1-4k48", "machine.json")], false);
    expect(m.memory).toMatch(/^snapshot /);
  });
});

describe("find-tables: the linear map is the run in the lower half", () => {
  it("a PA-contiguous ioremap bigger than RAM (PCIe ECAM in vmalloc) does not hide the linear map", () => {
    // QEMU virt's high PCIe ECAM is 256 MiB at 0x4010000000; Linux ioremaps it in the vmalloc area,
    // above PAGE_END, while the linear map starts the half (arch/arm64 memory layout).
    const b = bootKernel({ granule: "4K", vaBits: 48, memory: [{ base: 0x4000_0000, size: 0x400_0000 }] });
    const alloc = new MemblockAllocator(0x3000_0000, 0x100_0000, 4096);
    const va = b.layout.VMALLOC_START + 0x4000_0000n;
    createMapping(b.k, b.pgd, 0x40_1000_0000, va - (va % 0x4000_0000n), 0x1000_0000, b.k.prots.PROT_DEVICE_nGnRE, { alloc });
    const top = findTables(b.mem).candidates[0];
    expect(top?.rootPa).toBe(BigInt(b.pgd));
    expect(top?.strong).toBe(true);
    expect(top?.evidence.linearMap.pa).toBe(0x4000_0000n);
    expect(top?.evidence.linearMap.size).toBe(0x400_0000);
  });
});

// Whole RAM, not only the table pages: user page tables, the idmap, freed early tables and data
// all compete with swapper_pg_dir here.
const live = process.env.VMSA_REAL_KERNEL === "1";
const notLive = live ? undefined : "set VMSA_REAL_KERNEL=1 to boot Debian arm64 kernels in QEMU and scan their whole RAM";
describe.skipIf(skipBecause("find-tables on whole-RAM dumps of kernels booted now", notLive))(
  "find-tables on whole-RAM dumps of kernels booted now (VMSA_REAL_KERNEL=1)",
  () => {
    for (const cfg of CONFIGS.filter((c) => c.pkgPattern !== undefined)) {
      it(`${cfg.name}: the top candidate is the CPU's TTBR1 root`, async () => {
        const missing = toolsAvailable();
        if (missing) throw new Error(`VMSA_REAL_KERNEL=1 but ${missing}`);
        const work = mkdtempSync(join(tmpdir(), "vmsa-find-rk-"));
        const s = await bootGuest(cfg);
        let regsText: string;
        try {
          regsText = s.gdb(["info registers TTBR1_EL1 TCR_EL1"]);
          await s.hmp("stop");
          await s.hmp(`dump-guest-memory ${join(work, "guest.core")}`);
        } finally {
          s.close();
        }
        const regsFile = join(work, "registers.txt");
        writeFileSync(regsFile, regsText);
        const real = compileRegs(openDump({ inputs: [join(work, "guest.core")], regsFile, vmcoreinfo: false, progress: false }).regs)
          .halves[1];
        const r = await vmsa("find-tables", join(work, "guest.core"), "-f", "json");
        rmSync(work, { recursive: true, force: true });
        expect(r.code).toBe(0);
        const top = (JSON.parse(r.out) as { candidates: { strength: string; rootPa: string; granule: string; t1sz: number }[] })
          .candidates[0];
        expect(top?.strength).toBe("strong");
        expect(BigInt(top?.rootPa ?? "0")).toBe(BigInt(real.base));
        expect(top?.granule).toBe(real.granule.name);
        expect(top?.t1sz).toBe(real.tnsz);
      }, 600_000);
    }
  },
);

describe("find-tables --help", () => {
  it("lists the exit statuses one per line, 3 being inconclusive", async () => {
    const r = await vmsa("find-tables", "--help");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Exit status:\n {2}0 {2}found: .*\n {2}2 {2}bad input.*\n {2}3 {2}inconclusive: /m);
  });
});
