/**
 * `vmsa dump --stage 2` (KVM's debugfs files) and `vmsa audit --stage 2` from host memory plus
 * VTCR_EL2/VTTBR_EL2 (issue 12). The tables are hand-written (test/helpers/kvm-stage2-tables.ts).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { PhysMem } from "../../src/mem/physmem.js";
import { startFakeStub } from "../dump/gdb/fake-stub.js";
import {
  AF,
  DEVICE_NGNRE,
  KVM_TABLES_TEXT,
  kvmTables,
  L2,
  L3,
  NORMAL_WB,
  put,
  R,
  ROOT,
  TABLE_RAM,
  tableMemory,
  VTCR_40,
  W,
  XN,
} from "../helpers/kvm-stage2-tables.js";
import { vmsa } from "./run.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-stage2-"));

/** The table RAM as a raw FILE@PA input. */
function ramFile(mem: PhysMem, name: string): string {
  const f = join(dir, name);
  writeFileSync(f, mem.readBytes(ROOT, TABLE_RAM));
  return `${f}@0x${ROOT.toString(16)}`;
}

const VTTBR = `0x${ROOT.toString(16)}`;
const VTCR = `0x${VTCR_40.toString(16)}`;

async function expectOneLineError(args: string[], pattern: RegExp): Promise<void> {
  const r = await vmsa(...args);
  expect(r.code).toBe(2);
  expect(r.err.trimEnd().split("\n")).toHaveLength(1);
  expect(r.err).toMatch(/^vmsa: error: /);
  expect(r.err).toMatch(pattern);
}

describe("vmsa dump --stage 2", () => {
  const ram = ramFile(kvmTables(), "kvm.bin");

  it("prints KVM's stage2_page_tables from VTCR_EL2/VTTBR_EL2 (concatenated level-1 start tables)", async () => {
    const r = await vmsa("dump", "--stage", "2", ram, "--vtcr", VTCR, "--vttbr", VTTBR);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(KVM_TABLES_TEXT);
  });

  it("takes the registers from a register file (VTTBR_EL2 carries a VMID in bits [63:48])", async () => {
    const regs = join(dir, "el2.txt");
    writeFileSync(regs, `VTTBR_EL2      0x1000048000000     281476187766784\nVTCR_EL2=${VTCR}\n`);
    const r = await vmsa("dump", "--stage", "2", ram, "--regs", regs);
    expect(r.out).toBe(KVM_TABLES_TEXT);
  });

  it("--kvm-file ipa_range and stage2_levels print the companion files", async () => {
    expect((await vmsa("dump", "--stage", "2", ram, "--vtcr", VTCR, "--vttbr", VTTBR, "--kvm-file", "ipa_range")).out).toBe("40\n");
    expect((await vmsa("dump", "--stage", "2", ram, "--vtcr", VTCR, "--vttbr", VTTBR, "--kvm-file", "stage2_levels")).out).toBe("3\n");
  });

  it("--format json lists coalesced runs with stage-2 permissions (XN[1:0] per EL) and MemAttr", async () => {
    const r = await vmsa("dump", "--stage", "2", ram, "--vtcr", VTCR, "--vttbr", VTTBR, "-f", "json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      ipaBits: number;
      startLevel: number;
      startTableEntries: number;
      complete: boolean;
      mappings: Record<string, unknown>[];
    };
    expect(j).toMatchObject({ ipaBits: 40, startLevel: 1, startTableEntries: 1024, complete: true });
    // L3[0..1] coalesce (same bits, contiguous IPA and PA); L3[2] differs; then the 2M and two 1G blocks.
    expect(j.mappings.map((m) => [m.ipa, m.pa, m.size, m.level])).toEqual([
      ["0x40000000", "0x60000000", "0x2000", 3],
      ["0x40002000", "0x60002000", "0x1000", 3],
      ["0x40200000", "0x60200000", "0x200000", 2],
      ["0x8000000000", "0xc0000000", "0x40000000", 1],
      ["0xffc0000000", "0xc0000000", "0x40000000", 1],
    ]);
    expect(j.mappings[0]).toMatchObject({ read: true, write: true, el1Exec: false, el0Exec: false, af: true, memType: "Normal-WB" });
    expect(j.mappings[1]).toMatchObject({ read: true, write: false, el1Exec: true, el0Exec: true });
  });

  it("a missing table is a MISSING line, a warning naming the IPA, and exit 3", async () => {
    const mem = tableMemory();
    put(mem, ROOT, 1, 0x5000_0000n | 3n); // level-2 table outside the input
    const r = await vmsa("dump", "--stage", "2", ramFile(mem, "missing.bin"), "--vtcr", VTCR, "--vttbr", VTTBR);
    expect(r.code).toBe(3);
    expect(r.out).toContain("1G 2 MISSING table at PA 0x50000000 (not in the input)");
    expect(r.err).toMatch(/1 table reached by the walk is not in the input: PA 0x50000000 \(level 2, for IPA 0x0000000040000000\)/);
  });

  it("bad input is one line: no VTTBR_EL2, an illegal VTCR_EL2, stage-2 flags without --stage 2, stage-1 flags with it", async () => {
    await expectOneLineError(["dump", "--stage", "2", ram, "--vtcr", VTCR], /no VTTBR_EL2/);
    await expectOneLineError(["dump", "--stage", "2", ram, "--vttbr", VTTBR], /no VTCR_EL2/);
    // SL0=11 names start level 3 for 4K: a 40-bit IPA cannot start there (ASL AArch64.S2InconsistentSL).
    await expectOneLineError(["dump", "--stage", "2", ram, "--vtcr", "0x800235d8", "--vttbr", VTTBR], /VTCR_EL2 0x0*800235d8/);
    await expectOneLineError(["dump", ram, "--vtcr", VTCR], /--vtcr applies to --stage 2 only/);
    await expectOneLineError(
      ["dump", "--stage", "2", ram, "--vtcr", VTCR, "--vttbr", VTTBR, "--ttbr1", "0x1000"],
      /--ttbr1 does not apply/,
    );
    await expectOneLineError(["dump", "--stage", "3", ram], /--stage: "3" is not 1 or 2/);
    await expectOneLineError(["dump", "--stage", "2", ram, "--vtcr", VTCR, "--vttbr", VTTBR, "--kvm-file", "x"], /--kvm-file/);
    // The start table above the 40-bit output size (VTCR_EL2.PS): every walk faults.
    await expectOneLineError(["dump", "--stage", "2", ram, "--vtcr", VTCR, "--vttbr", "0x10000000000"], /beyond the 40-bit output size/);
  });
});

describe("vmsa dump --stage 2 --gdb (a live KVM host in QEMU)", () => {
  it("reads VTTBR_EL2/VTCR_EL2 from the gdbstub, then only the stage-2 table pages, and detaches", async () => {
    const stub = await startFakeStub({
      mem: kvmTables(),
      // The stage-1 registers exist too (QEMU lists them all); the host's HCR_EL2 has TGE=1 and E2H=1.
      regs: { TTBR1_EL1: 0n, TCR_EL1: 0n, VTTBR_EL2: ROOT | (1n << 48n), VTCR_EL2: VTCR_40, HCR_EL2: 0x4_8800_0000n },
    });
    try {
      const r = await vmsa("dump", "--stage", "2", "--gdb", `127.0.0.1:${stub.port}`);
      expect(r.code).toBe(0);
      expect(r.out).toBe(KVM_TABLES_TEXT);
      expect(r.err).toMatch(/^vmsa: note: HCR_EL2 has TGE=1: it is the host's value/);
      // The two concatenated start tables, the level-2 and the level-3 table: nothing else.
      const pages = [...new Set(stub.reads.map((x) => x.addr - (x.addr % 4096)))].sort((a, b) => a - b);
      expect(pages).toEqual([Number(ROOT), Number(ROOT) + 0x1000, Number(L2), Number(L3)]);
      expect(stub.requests[stub.requests.length - 1]).toBe("D");
    } finally {
      await stub.close();
    }
  });

  it("--gdb with dump inputs is refused", async () => {
    await expectOneLineError(["dump", "--stage", "2", "--gdb", "127.0.0.1:1", ramFile(kvmTables(), "x.bin")], /--gdb reads a live host/);
  });
});

describe("vmsa audit --stage 2", () => {
  it("reports stage-2 W+X per page and exits 1 (S2AP[1] with XN[1:0] = 00)", async () => {
    const r = await vmsa("audit", "--stage", "2", ramFile(kvmTables(), "audit.bin"), "--vtcr", VTCR, "--vttbr", VTTBR);
    expect(r.code).toBe(1);
    // 2M block (512 pages) + two 1G blocks (2 x 262144 pages).
    expect(r.out).toContain(`Checked stage-2 W+X mappings: FAILED, ${512 + 2 * 262144} W+X pages found`);
    expect(r.out).toMatch(/s2-wx +IPA 0x0000000040200000-0x0000000040400000 +2M PA 0x60200000/);
    // The RW pages with XN[1]=1 and the read-only executable page are not W+X.
    expect(r.out).not.toMatch(/IPA 0x0000000040000000-/);
  });

  it("passes a VM whose writable pages are execute-never, exit 0", async () => {
    const mem = tableMemory();
    put(mem, ROOT, 1, L2 | 3n);
    put(mem, L2, 0, L3 | 3n);
    put(mem, L3, 0, 0x6000_0000n | AF | R | W | NORMAL_WB | 3n | XN);
    put(mem, L3, 1, 0x6000_1000n | AF | R | NORMAL_WB | 3n);
    const r = await vmsa("audit", "--stage", "2", ramFile(mem, "clean.bin"), "--vtcr", VTCR, "--vttbr", VTTBR, "-f", "json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { passed: boolean; wxPages: number; leaves: number; findings: unknown[] };
    expect(j).toMatchObject({ passed: true, wxPages: 0, leaves: 2, findings: [] });
  });

  it("flags executable Device memory (KVM maps device memory XN)", async () => {
    const mem = tableMemory();
    put(mem, ROOT, 0, L2 | 3n);
    put(mem, L2, 0x40, 0x0900_0000n | AF | R | DEVICE_NGNRE | 1n); // read-only, executable, Device-nGnRE
    const r = await vmsa("audit", "--stage", "2", ramFile(mem, "dev.bin"), "--vtcr", VTCR, "--vttbr", VTTBR);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/s2-exec-device +IPA 0x0000000008000000-0x0000000008200000/);
    expect(r.out).toContain("Checked stage-2 W+X mappings: passed");
  });

  /** A RAM file with one stage-2 page at IPA 0x4000_0000 whose descriptor has S2AP=00, XN=00, bits [62:59] clear. */
  function pieIndex0Page(name: string): string {
    const mem = tableMemory();
    put(mem, ROOT, 1, L2 | 3n);
    put(mem, L2, 0, L3 | 3n);
    put(mem, L3, 0, 0x6000_0000n | AF | NORMAL_WB | 3n);
    return ramFile(mem, name);
  }

  it("with VTCR_EL2.S2PIE the permissions come from S2PIR_EL2, not S2AP/XN (ASL AArch64.S2IndirectBasePermissions)", async () => {
    // One page with S2AP=00 and XN=00: PIIndex 0 (bits {54,53,51,6} all clear).
    const ram = pieIndex0Page("pie.bin");
    const vtcrPie = `0x${(VTCR_40 | (1n << 36n)).toString(16)}`;
    const args = ["audit", "--stage", "2", ram, "--vtcr", vtcrPie, "--vttbr", VTTBR];
    // S2PIR_EL2 index 0 = 0b1111: RW, px, ux -> W+X although S2AP grants nothing.
    const rwx = await vmsa(...args, "--s2pir", "0xf");
    expect(rwx.code).toBe(1);
    expect(rwx.out).toContain("Checked stage-2 W+X mappings: FAILED, 1 W+X pages found");
    // Index 0 = 0b1100: RW, no execute -> clean although XN=00 would allow execution.
    const rw = await vmsa(...args, "--s2pir", "0xc");
    expect(rw.code).toBe(0);
    // Without S2PIE the same page grants no write (S2AP=00): clean too.
    expect((await vmsa("audit", "--stage", "2", ram, "--vtcr", VTCR, "--vttbr", VTTBR)).code).toBe(0);
  });

  it("with VTCR_EL2.S2POE an S2POR_EL1 overlay removes what S2PIR_EL2 grants (ASL AArch64.S2OverlayPermissions)", async () => {
    // The same page, S2POIndex 0 (bits [62:59] clear); S2PIR index 0 = RW px ux (W+X).
    const ram = pieIndex0Page("poe.bin");
    const vtcrPoe = `0x${(VTCR_40 | (1n << 36n) | (1n << 37n)).toString(16)}`;
    const args = ["audit", "--stage", "2", ram, "--vtcr", vtcrPoe, "--vttbr", VTTBR, "--s2pir", "0xf"];
    // Overlay index 0 = 0b1100 (RW, no execute): the page is no longer W+X.
    expect((await vmsa(...args, "--s2por", "0xc")).code).toBe(0);
    // Overlay index 0 = 0b1111: nothing removed, W+X.
    expect((await vmsa(...args, "--s2por", "0xf")).code).toBe(1);
    // --s2por belongs to stage 2.
    const bad = await vmsa("audit", ram, "--s2por", "0xc");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^vmsa: error: .*--s2por applies to --stage 2 only/);
  });

  it("a missing table makes the verdict INCONCLUSIVE, exit 3, never passed", async () => {
    const mem = tableMemory();
    put(mem, ROOT, 2, 0x5000_0000n | 3n);
    const r = await vmsa("audit", "--stage", "2", ramFile(mem, "miss.bin"), "--vtcr", VTCR, "--vttbr", VTTBR);
    expect(r.code).toBe(3);
    expect(r.out).toContain("Checked stage-2 W+X mappings: INCONCLUSIVE, 1 reachable table is not in the input");
    expect(r.out).toMatch(/missing-table +IPA 0x0000000080000000-0x00000000c0000000/);
  });
});
