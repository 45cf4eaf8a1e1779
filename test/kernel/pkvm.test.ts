/**
 * pKVM's init on the modelled machine (src/kernel/pkvm): the hypervisor's stage 1 in the EL2
 * regime and the host's stage 2, walked with the project's one walker. Each test names the kernel
 * behaviour it encodes (Linux arch/arm64/kvm/hyp/nvhe/setup.c, mm.c, mem_protect.c, pgtable.c).
 * Goldens: regenerate with UPDATE_GOLDEN=1 npx vitest run test/kernel/pkvm.test.ts and review the diff.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { presetByName } from "../../src/arch/registers.js";
import { audit } from "../../src/dump/audit.js";
import { auditStage2 } from "../../src/dump/audit-stage2.js";
import { kvmStage2PageTables } from "../../src/dump/kvm-stage2.js";
import { ptdumpReport } from "../../src/dump/ptdump.js";
import { KernelError } from "../../src/kernel/errors.js";
import { CheckedPort } from "../../src/kernel/machine-port.js";
import {
  hypLeafAttr,
  KVM_PGTABLE_PROT_SW0,
  KVM_PGTABLE_PROT_SW1,
  KVM_PGTABLE_PROT_X,
  ownerOfInvalidPte,
  PAGE_HYP,
  PAGE_HYP_EXEC,
  PKVM_ID_HYP,
  pkvmGetstate,
} from "../../src/kernel/pkvm/prot.js";
import { PKVM_MACHINE, pkvmInit } from "../../src/kernel/pkvm/setup.js";
import { Machine } from "../../src/machine/machine.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { compileRegs } from "../../src/walk/context.js";
import { compileStage2 } from "../../src/walk/stage2.js";
import { stage2Geometry } from "../../src/walk/stage2-range.js";
import { Walker } from "../../src/walk/walker.js";

const GOLDEN = join(import.meta.dirname, "golden");

function golden(name: string, text: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, "utf8"));
}

const sys = pkvmInit();
const hypWalker = new Walker(sys.mem, sys.hyp.regs);
const hostS2 = new Walker(sys.mem, compileStage2({ vtcr: sys.host.vtcr, vttbr: sys.host.vttbr, hcr: sys.host.hcr }, sys.host.features));
const M = PKVM_MACHINE;
const EL2R = { type: "read", el: 1 } as const;
const EL2W = { type: "write", el: 1 } as const;
const EL2X = { type: "exec", el: 1 } as const;

describe("pKVM registers", () => {
  it("TCR_EL2 (non-VHE layout), VTCR_EL2, SCTLR_EL2, HCR_EL2 and the two table bases are those of the captured pKVM (test/fixtures/pkvm)", () => {
    // arm.c cpu_prepare_hyp_mode: TCR_EL2 = TCR_EL1's TG0/SH0/ORGN0/IRGN0 | RES1 31, 23 | PS 48 bits | T0SZ(hyp_va_bits 48).
    expect(sys.hyp.regs.tcr).toBe(0x8085_3510n);
    // pgtable.c kvm_get_vtcr: RES1 31, HA 21, VS 19, PS 101, SH0 11, ORGN0/IRGN0 01, SL0 10 (4 levels), T0SZ 16.
    expect(sys.host.vtcr).toBe(0x802d_3590n);
    expect(sys.hyp.regs.sctlr).toBe(0xf8ed_383dn);
    expect(sys.host.hcr).toBe(0x300_8008_0001n);
    // divide_memory_pool: the 64-page vmemmap (4-byte struct hyp_page) and the VM table page come
    // first, so the hyp pgd is pool + 0x41000; the host's pgd follows the 648 hyp stage-1 pages
    // (hyp_s1_pgtable_pages with KVM_PGTABLE_FIRST_LEVEL -1). Both with CnP (bit 0).
    expect(sys.hyp.regs.ttbr0).toBe(0x4f84_1001n);
    expect(sys.host.vttbr).toBe(0x4fac_9001n);
    expect(sys.host.pgt.pgdPages).toBe(1);
    expect(compileRegs(sys.hyp.regs).halves[0].startLevel).toBe(0);
  });
});

describe("hypervisor stage 1 (EL2 regime)", () => {
  const text = sys.hypVa(M.hypText.base);
  const data = sys.hypVa(M.hypData.base);

  it("hyp text is executable and not writable at EL2 (PAGE_HYP_EXEC = R|X: AP[2:1] = 11, XN clear)", () => {
    // setup.c recreate_hyp_mappings maps __hyp_text with PAGE_HYP_EXEC; pgtable.c hyp_set_prot_attr
    // gives R without W the RO encoding. Arm ARM D8.4: AP[2]=1 is read-only at EL2.
    expect(text).toBe(0x8000_0021_0000n);
    const x = hypWalker.translate(text + 0x40n, EL2X);
    expect(x.kind).toBe("ok");
    if (x.kind === "ok") expect(x.pa).toBe(BigInt(M.hypText.base) + 0x40n);
    const w = hypWalker.translate(text + 0x40n, EL2W);
    expect(w.kind === "fault" && w.fault).toBe("permission");
  });

  it("hyp data is writable and never executable (PAGE_HYP = RW: XN, bit 54, set)", () => {
    expect(hypWalker.translate(data, EL2W).kind).toBe("ok");
    const x = hypWalker.translate(data, EL2X);
    expect(x.kind === "fault" && x.fault).toBe("permission");
  });

  it("each CPU's stack is one mapped page above an unmapped guard page at the start of the private VA range", () => {
    // mm.c pkvm_create_stack: 2 * NVHE_STACK_SIZE of private VA from __io_map_base, the upper page mapped.
    expect(sys.hypVa(0) >= 1n << 47n).toBe(true);
    const base = 0x4000_0000_0000n; // __io_map_base: the quarter of the low half without the idmap (BIT(46))
    for (let c = 0; c < M.cpus; c++) {
      const guard = base + BigInt(c) * 0x2000n;
      const g = hypWalker.translate(guard + 0xff8n, EL2W);
      expect(g.kind === "fault" && g.fault).toBe("translation");
      const s = hypWalker.translate(guard + 0x1ff8n, EL2W);
      expect(s.kind === "ok" && s.pa).toBe(BigInt(M.stacks[c] ?? 0) + 0xff8n);
    }
  });

  it("the idmap page is mapped at VA = PA, executable", () => {
    const r = hypWalker.translate(BigInt(M.hypIdmapText.base), EL2X);
    expect(r.kind === "ok" && r.pa).toBe(BigInt(M.hypIdmapText.base));
  });

  it("the fixmap slots are left invalid with their other bits (fixmap_clear_slot clears only the valid bit)", () => {
    const slot = sys.hyp.symbols.find((s) => s.name.startsWith("fixmap slot, CPU0"));
    expect(slot).toBeDefined();
    const leaf = sys.hyp.pgt.getLeaf(slot?.va ?? 0n);
    expect(leaf.level).toBe(3);
    expect(leaf.pte & 1n).toBe(0n);
    expect(leaf.pte & 0x0000_ffff_ffff_f000n).toBe(BigInt(M.hypBss.base));
  });

  it("GICH is mapped Device in the private range, not executable", () => {
    const gich = sys.hyp.symbols.find((s) => s.name.startsWith("GICH"));
    const r = hypWalker.translate(gich?.va ?? 0n, EL2R);
    expect(r.kind === "ok" && r.memAttr.name.startsWith("Device")).toBe(true);
    expect(hypWalker.translate(gich?.va ?? 0n, EL2X).kind).toBe("fault");
  });

  it("hyp_set_prot_attr refuses W+X and executable device mappings (-EINVAL): the hypervisor is W^X by construction", () => {
    expect(() => hypLeafAttr(PAGE_HYP | KVM_PGTABLE_PROT_X)).toThrow(KernelError);
    expect(() => hypLeafAttr(PAGE_HYP_EXEC | (1n << 3n))).toThrow(/executable device/);
    // nVHE encodings: RW = AP[2:1] 01, RO = 11 (AP[1] is RES1 at EL2).
    expect((hypLeafAttr(PAGE_HYP) >> 6n) & 3n).toBe(1n);
    expect((hypLeafAttr(PAGE_HYP_EXEC) >> 6n) & 3n).toBe(3n);
  });

  it("ptdump of TTBR0_EL2 (golden)", () => {
    const r = ptdumpReport(sys.mem, compileRegs(sys.hyp.regs), { start: 0n, end: 1n << 48n, markers: sys.hyp.markers });
    expect(r.missing).toEqual([]);
    golden("pkvm-hyp.txt", r.text);
  });
});

describe("host stage 2", () => {
  it("a host access to a hyp-owned page faults at stage 2: its entry is invalid and names the owner PKVM_ID_HYP", () => {
    // setup.c fix_host_ownership: every page the hypervisor owns in its linear range becomes
    // host_stage2_set_owner_locked(PKVM_ID_HYP): an invalid leaf with the owner in bits [9:2].
    for (const pa of [M.hypText.base, M.hypBss.base, M.pool.base, M.perCpu[0] ?? 0]) {
      const r = hostS2.translateIpa(BigInt(pa), { type: "read", el: 1 });
      expect(r.kind === "fault" && r.fault).toBe("translation");
      expect(r.kind === "fault" && r.level).toBe(3);
      expect(ownerOfInvalidPte(sys.host.pgt.getLeaf(BigInt(pa)).pte)).toBe(PKVM_ID_HYP);
    }
  });

  it("host_stage2_idmap refuses a hyp-owned page (-EPERM) and leaves it unmapped", () => {
    const r = sys.host.fault(BigInt(M.hypText.base));
    expect(r.outcome).toBe("refused");
    expect(hostS2.translateIpa(BigInt(M.hypText.base), { type: "read", el: 1 }).kind).toBe("fault");
  });

  it("host memory is identity-mapped RWX in the largest block that fits beside the hyp's pages; MMIO RW, not executable", () => {
    // mem_protect.c host_stage2_idmap/host_stage2_adjust_range; PKVM_HOST_MEM_PROT = RWX, PKVM_HOST_MMIO_PROT = RW.
    const big = sys.host.faults.find((f) => f.addr === 0x4800_0000n);
    expect(big).toMatchObject({ outcome: "mapped", level: 2, start: 0x4800_0000n, end: 0x4820_0000n });
    const beside = sys.host.faults.find((f) => f.addr === 0x4020_0000n);
    expect(beside).toMatchObject({ outcome: "mapped", level: 3 });
    const w = hostS2.translateIpa(0x4800_1234n, { type: "write", el: 1 });
    expect(w.kind === "ok" && w.pa).toBe(0x4800_1234n);
    expect(w.kind === "ok" && w.permissions).toEqual({ r: true, w: true, x1: true, x0: true });
    const uart = hostS2.translateIpa(0x0900_0000n, { type: "exec", el: 1 });
    expect(uart.kind === "fault" && uart.fault).toBe("permission");
    expect(sys.host.faults.find((f) => f.addr === 0x0900_0000n)).toMatchObject({ level: 1, start: 0n, end: 0x4000_0000n });
  });

  it("a page the hypervisor shares read-only carries the page state in SW bits on both sides", () => {
    // setup.c: kvm_vgic_global_state mapped pkvm_mkstate(PAGE_HYP_RO, SHARED_OWNED) in the hyp;
    // fix_host_ownership gives the host pkvm_mkstate(PKVM_HOST_MEM_PROT, SHARED_BORROWED).
    const pa = BigInt(M.vgicGlobalState.base);
    const hyp = sys.hyp.pgt.getLeaf(sys.hypVa(pa)).pte;
    expect(hyp & KVM_PGTABLE_PROT_SW0).toBe(KVM_PGTABLE_PROT_SW0);
    expect(pkvmGetstate(hyp)).toBe("shared-owned");
    const host = sys.host.pgt.getLeaf(pa);
    expect(host.level).toBe(3);
    expect(pkvmGetstate(host.pte)).toBe("shared-borrowed");
    expect(host.pte & KVM_PGTABLE_PROT_SW1).toBe(KVM_PGTABLE_PROT_SW1);
    expect(hostS2.translateIpa(pa, { type: "read", el: 1 }).kind).toBe("ok");
  });

  it("stage2_page_tables of the host (golden)", () => {
    const r = kvmStage2PageTables(sys.mem, stage2Geometry(hostS2.ctx), { marker: "Host IPA" });
    expect(r.missing).toEqual([]);
    golden("pkvm-host-s2.txt", r.text);
  });

  it("the same tables in the 6.19 format show the MMIO block PXNUXN and host memory px ux (golden)", () => {
    const r = kvmStage2PageTables(sys.mem, stage2Geometry(hostS2.ctx), { marker: "Host IPA", era: "linux-6.19" });
    golden("pkvm-host-s2-6.19.txt", r.text);
    expect(r.text).toContain("1G 1   R W PXNUXN AF BLK");
  });
});

describe("pKVM init on the checked machine", () => {
  it("builds the same tables through the checked machine, which reports nothing (EL2 TLB maintenance is not modelled)", () => {
    const mem = new PhysMem();
    const port = new CheckedPort(new Machine({ cpus: 2, mem, regs: sys.hyp.regs }));
    const s = pkvmInit({ port });
    expect(port.reports).toEqual([]);
    // The same tables as the unchecked build.
    const a = ptdumpReport(s.mem, compileRegs(s.hyp.regs), { start: 0n, end: 1n << 48n, markers: s.hyp.markers }).text;
    const b = ptdumpReport(sys.mem, compileRegs(sys.hyp.regs), { start: 0n, end: 1n << 48n, markers: sys.hyp.markers }).text;
    expect(a).toBe(b);
  });
});

describe("audit of the pKVM tables", () => {
  it("the hypervisor's stage 1 passes: no W+X page, and no EL1&0 findings (user half, nG, UXN) for the EL2 regime", () => {
    // EL2 (E2H=0) has one range and no EL0: TTBR0_EL2 is not a user half, nG and UXN do not apply.
    const r = audit(sys.mem, sys.hyp.regs);
    expect(r.findings).toEqual([]);
    expect(r.wx.summary).toBe("Checked W+X mappings: passed, no W+X pages found");
  });

  it("a hyp page made writable and executable behind KVM's back is a wx finding (XN is bit 54 at EL2)", () => {
    const s = pkvmInit();
    const va = s.hypVa(M.hypText.base);
    const leaf = s.hyp.pgt.getLeaf(va);
    // AP[2:1] = 01 (RW at EL2), XN clear: what hyp_set_prot_attr never writes.
    s.mem.write64(BigInt(leaf.ptep), (leaf.pte & ~(3n << 6n)) | (1n << 6n));
    const r = audit(s.mem, s.hyp.regs);
    expect(r.findings.map((f) => [f.kind, f.va])).toEqual([["wx", va]]);
    expect(r.wx.summary).toBe("Checked W+X mappings: FAILED, 1 W+X pages found, 0 non-UXN pages found");
  });

  it("the host stage 2 is W+X wherever the host has memory (PKVM_HOST_MEM_PROT = RWX: the host's own stage 1 enforces W^X), never on hyp pages or MMIO", () => {
    const r = auditStage2(sys.mem, hostS2.ctx);
    const wx = r.findings.filter((f) => f.kind === "s2-wx");
    expect(r.findings.every((f) => f.kind === "s2-wx")).toBe(true);
    // Every flagged range is host memory mapped by a host fault (or the shared vGIC page), none holds a hyp-owned page.
    for (const f of wx) {
      expect(f.ipa >= BigInt(M.ram[0]?.base ?? 0)).toBe(true);
      const owner = ownerOfInvalidPte(sys.host.pgt.getLeaf(f.ipa).pte);
      expect(owner).toBeUndefined();
    }
    expect(wx.map((f) => f.ipa)).toEqual([
      0x4000_0000n,
      0x4020_0000n,
      0x4140_0000n,
      0x4149_0000n,
      0x4400_0000n,
      0x4800_0000n,
      0x4f60_0000n,
    ]);
  });
});

describe("host hypercalls after init", () => {
  it("__pkvm_host_share_hyp: the host keeps the page as shared-owned (SW0), the hypervisor maps it RW as shared-borrowed (SW1)", () => {
    // mem_protect.c: host_stage2_idmap_locked(pkvm_mkstate(PKVM_HOST_MEM_PROT, SHARED_OWNED)) and
    // pkvm_create_mappings_locked(pkvm_mkstate(PAGE_HYP, SHARED_BORROWED)).
    const pa = 0x4400_0000n;
    expect(pkvmGetstate(sys.host.pgt.getLeaf(pa).pte)).toBe("shared-owned");
    expect(hostS2.translateIpa(pa, { type: "write", el: 1 }).kind).toBe("ok");
    const hyp = sys.hyp.pgt.getLeaf(sys.hypVa(pa)).pte;
    expect(pkvmGetstate(hyp)).toBe("shared-borrowed");
    expect(hypWalker.translate(sys.hypVa(pa), EL2W).kind).toBe("ok");
  });

  it("__pkvm_host_donate_hyp: the host loses the pages (owner hyp), the hypervisor maps them RW as owned", () => {
    for (const pa of [0x4400_2000n, 0x4400_3000n]) {
      expect(ownerOfInvalidPte(sys.host.pgt.getLeaf(pa).pte)).toBe(PKVM_ID_HYP);
      expect(hostS2.translateIpa(pa, { type: "read", el: 1 }).kind).toBe("fault");
      expect(pkvmGetstate(sys.hyp.pgt.getLeaf(sys.hypVa(pa)).pte)).toBe("owned");
    }
  });

  it("sharing or donating a page the host does not own is refused (-EPERM)", () => {
    const s = pkvmInit();
    expect(() => s.host.call({ kind: "share", pa: BigInt(M.hypText.base), pages: 1, what: "hyp text" })).toThrow(/does not own/);
    expect(() => s.host.call({ kind: "donate", pa: 0x4400_0000n, pages: 1, what: "a shared page" })).toThrow(/does not own/);
  });
});

describe("the host's two stages", () => {
  it("MMIO is Normal RW at stage 2 (PKVM_HOST_MMIO_PROT has no DEVICE) and the host's stage-1 Device type wins in the combination", () => {
    // Arm ARM S2CombineS1MemAttrs: Device at either stage gives Device (without FWB). A host stage 1
    // (Linux 4K/48) in host RAM: VA 0x1000 -> UART Device-nGnRE (AttrIndx 4), VA 0x2000 -> RAM Normal.
    const s = pkvmInit();
    const root = 0x4800_0000n;
    const l = [root, root + 0x1000n, root + 0x2000n, root + 0x3000n];
    for (let i = 0; i < 3; i++) s.mem.write64(l[i] ?? 0n, (l[i + 1] ?? 0n) | 3n);
    const AF = 1n << 10n;
    s.mem.write64((l[3] ?? 0n) + 8n, 0x0900_0000n | 3n | (4n << 2n) | AF | (3n << 53n));
    s.mem.write64((l[3] ?? 0n) + 16n, 0x4810_0000n | 3n | (3n << 8n) | AF | (3n << 53n));
    const preset = presetByName("linux-4k-48").regs;
    const two = new Walker(s.mem, { ...preset, ttbr0: root, hcr: s.host.hcr, vtcr: s.host.vtcr, vttbr: s.host.vttbr });
    const uart = two.translate(0x1000n, { type: "write", el: 1 });
    expect(uart.kind === "ok" && uart.pa).toBe(0x0900_0000n);
    // Stage 2 alone says Normal write-back for the UART...
    expect(uart.kind === "ok" && uart.stage2?.memType.name).toBe("Normal-WB");
    // ...combined with stage 1 it is Device-nGnRE (MAIR encoding 0x04).
    expect(uart.kind === "ok" && uart.stage2?.attr).toBe(0x04);
    const ram = two.translate(0x2000n, { type: "write", el: 1 });
    expect(ram.kind === "ok" && ram.stage2?.attr).toBe(0xff);
    // A hyp-owned page named by a host stage-1 entry faults at stage 2 (S=1).
    s.mem.write64((l[3] ?? 0n) + 24n, BigInt(M.hypBss.base) | 3n | (3n << 8n) | AF | (3n << 53n));
    const bss = two.translate(0x3000n, { type: "read", el: 1 });
    expect(bss.kind === "fault" && bss.stage).toBe(2);
  });
});
