/**
 * A real pKVM's tables (test/fixtures/pkvm/linux-6.12-4k-nvhe: Debian 6.12, kvm-arm.mode=protected,
 * nVHE, QEMU -cpu max,lpa2=off, 256 MiB; capture with npm run capture:pkvm) against the model of
 * src/kernel/pkvm, walked with the project's one walker: the model's registers are the captured
 * ones, and the real tables keep the invariants the model builds (Linux arch/arm64/kvm/hyp/nvhe).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { audit } from "../../src/dump/audit.js";
import { loadInputs } from "../../src/dump/inputs.js";
import { ownerOfInvalidPte, PKVM_ID_HYP, pkvmGetstate } from "../../src/kernel/pkvm/prot.js";
import { PKVM_MACHINE, pkvmInit } from "../../src/kernel/pkvm/setup.js";
import { walkEntries } from "../../src/walk/range.js";
import { compileStage2 } from "../../src/walk/stage2.js";
import { Walker } from "../../src/walk/walker.js";
import { vmsa } from "../cli/run.js";
import { pkvmFixtureRegs } from "./capture-pkvm.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "pkvm");
const DIR = join(FIXTURES, "linux-6.12-4k-nvhe");

/** registers.txt: NAME=0x... lines (the EL2 names are not all in vmsa's register-file set). */
function readRegs(dir: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const m of readFileSync(join(dir, "registers.txt"), "utf8").matchAll(/^(\w+)=(0x[0-9a-f]+)$/gm))
    out[m[1] as string] = BigInt(m[2] as string);
  return out;
}

function fixture(dir: string, regime: "el2" | "el20") {
  const regs = readRegs(dir);
  const mem = loadInputs([join(dir, "tables.core.gz")], false).mem;
  const ctx = pkvmFixtureRegs(regs, regime);
  return { regs, mem, real: ctx, el2: new Walker(mem, ctx.hyp), hostS2: new Walker(mem, ctx.host) };
}

const { regs, mem, real, el2, hostS2 } = fixture(DIR, "el2");
const model = pkvmInit();

/** The hyp stage-1 leaves of a fixture (level, VA, descriptor). */
function leavesOf(f: { mem: typeof mem; real: typeof real }): { va: bigint; level: number; pte: bigint }[] {
  const out: { va: bigint; level: number; pte: bigint }[] = [];
  const h = f.real.hyp.halves[0];
  walkEntries(f.mem, h, 0, 2 ** h.iaBits, (e) => {
    if (e.kind === "leaf") out.push({ va: BigInt(e.off), level: e.level, pte: (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0) });
  });
  return out;
}

/**
 * setup.c fix_host_ownership, checked on real tables: every page the hypervisor maps owned in its
 * linear half (VA bit `linearBit` set) is invalid in the host stage 2 with owner PKVM_ID_HYP;
 * a shared-owned page is shared-borrowed there. Returns the counts.
 */
function checkOwnership(f: ReturnType<typeof fixture>, linearBit: number): { owned: number; shared: number } {
  let owned = 0;
  let shared = 0;
  for (const l of leavesOf(f)) {
    if (l.va < 1n << BigInt(linearBit) || l.level !== 3) continue;
    const pa = l.pte & 0x0000_ffff_ffff_f000n;
    const r = f.hostS2.translateIpa(pa, { type: "read", el: 1 });
    if (pkvmGetstate(l.pte) === "owned") {
      owned++;
      expect(r.kind).toBe("fault");
      const last = r.trail[r.trail.length - 1]?.value;
      expect(last !== undefined && ownerOfInvalidPte(last)).toBe(PKVM_ID_HYP);
    } else {
      shared++;
      expect(pkvmGetstate(l.pte)).toBe("shared-owned");
      expect(r.kind === "ok" && pkvmGetstate(r.descriptor.raw)).toBe("shared-borrowed");
    }
  }
  return { owned, shared };
}

describe("real pKVM (Debian 6.12, protected nVHE) against the model", () => {
  it("the model's EL2 and stage-2 registers are the captured ones, table bases included", () => {
    expect(model.hyp.regs.tcr).toBe(regs.TCR_EL2);
    expect(model.hyp.regs.mair).toBe(regs.MAIR_EL2);
    expect(model.hyp.regs.sctlr).toBe(regs.SCTLR_EL2);
    expect(model.host.hcr).toBe(regs.HCR_EL2);
    expect(model.host.vtcr).toBe(regs.VTCR_EL2);
    // divide_memory_pool over the pool the kernel reported ("Reserved 6 MiB at 0x4f800000").
    expect(readFileSync(join(DIR, "kvm-dmesg.txt"), "utf8")).toContain(`Reserved 6 MiB at 0x${PKVM_MACHINE.pool.base.toString(16)}`);
    expect(model.hyp.regs.ttbr0).toBe(regs.TTBR0_EL2);
    expect(model.host.vttbr).toBe(regs.VTTBR_EL2);
  });

  it("the real hypervisor is W^X at EL2 and the audit has nothing to report", () => {
    const r = audit(mem, real.hyp);
    expect(r.findings).toEqual([]);
    expect(r.wx.summary).toBe("Checked W+X mappings: passed, no W+X pages found");
    expect(leavesOf({ mem, real }).length).toBeGreaterThan(1000);
  });

  it("every page the real hypervisor owns in its linear range is invalid in the host stage 2 with owner PKVM_ID_HYP; its one shared page is shared-borrowed there", () => {
    const c = checkOwnership({ regs, mem, real, el2, hostS2 }, 47);
    expect(c.owned).toBeGreaterThan(1000);
    expect(c.shared).toBe(1);
  });

  it("the private range starts at __io_map_base 0x4000_0000_0000 with a guard page, the stack page and an invalid fixmap slot, as the model builds it", () => {
    const at = (va: bigint) => ({ real: el2.translate(va, { type: "write", el: 1 }).kind, model: model.hyp.pgt.getLeaf(va).pte & 1n });
    expect(at(0x4000_0000_0000n)).toEqual({ real: "fault", model: 0n });
    expect(at(0x4000_0000_1000n)).toEqual({ real: "ok", model: 1n });
    const slot = el2.translate(0x4000_0000_2000n, { type: "read", el: 1 });
    expect(slot.kind === "fault" && slot.trail[slot.trail.length - 1]?.value !== 0n).toBe(true);
    expect((model.hyp.pgt.getLeaf(0x4000_0000_4000n).pte & 0xffffn) !== 0n).toBe(true); // the model's CPU0 slot (2 CPUs: 2 stacks first)
  });

  it("the hyp stack page (a private VA) is NOT taken from the host: the real host stage 2 maps it RWX, and so does the model on a host fault", () => {
    // setup.c fix_host_ownership walks only the hyp linear range; pkvm_create_stack maps the stack
    // (a page the host allocated) at a private VA, so nothing annotates it in the host stage 2.
    const stack = el2.translate(0x4000_0000_1000n, { type: "write", el: 1 });
    expect(stack.kind).toBe("ok");
    const pa = stack.kind === "ok" ? stack.pa : 0n;
    const host = hostS2.translateIpa(pa, { type: "write", el: 1 });
    expect(host.kind === "ok" && host.permissions).toEqual({ r: true, w: true, x1: true, x0: true });
    const m = pkvmInit();
    expect(m.host.fault(BigInt(PKVM_MACHINE.stacks[0] ?? 0)).outcome).toBe("mapped");
  });

  it("the vmemmap is mapped where the model maps it, backed by the pool's first pages", () => {
    const start = model.hyp.vmemmap + 0x10_0000n; // (0x4000_0000 >> 12) * 4
    const r = el2.translate(start, { type: "write", el: 1 });
    expect(r.kind === "ok" && r.pa).toBe(BigInt(PKVM_MACHINE.pool.base));
    const m = new Walker(model.mem, model.hyp.regs).translate(start, { type: "write", el: 1 });
    expect(m.kind === "ok" && m.pa).toBe(BigInt(PKVM_MACHINE.pool.base));
  });

  it("the host's MMIO below RAM is one 1 GiB block, RW and not executable, in both", () => {
    const modelS2 = new Walker(
      model.mem,
      compileStage2({ vtcr: model.host.vtcr, vttbr: model.host.vttbr, hcr: model.host.hcr }, model.host.features),
    );
    for (const w of [hostS2, modelS2]) {
      const r = w.translateIpa(0x0900_0000n, { type: "write", el: 1 });
      expect(r.kind === "ok" && r.level).toBe(1);
      expect(r.kind === "ok" && r.permissions).toMatchObject({ r: true, w: true, x1: false, x0: false });
    }
  });

  it("vmsa translate --regime el2 reads the real hypervisor's tables from the dump (no TTBR1 needed)", async () => {
    const r = await vmsa(
      "translate",
      "--dump",
      join(DIR, "tables.core.gz"),
      "--regime",
      "el2",
      "--ttbr0",
      "0x4f841001",
      "--tcr",
      "0x80853510",
      "--mair",
      "0x40044ffff",
      "--sctlr",
      "0xf8ed383d",
      "0x400000001000:w",
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain("ACCESS: EL2 rw-");
  });
});

describe("real pKVM in hVHE mode with LPA2 (the same kernel's default on -cpu max)", () => {
  const h = fixture(join(FIXTURES, "linux-6.12-4k-hvhe-lpa2"), "el20");

  it("runs the hypervisor in the EL2&0 regime: HCR_EL2.E2H=1, TCR_EL2 in the TCR_EL1 layout with DS=1, a 52-bit VA and EPD1", () => {
    expect(((h.regs.HCR_EL2 ?? 0n) >> 34n) & 1n).toBe(1n);
    const tcr = h.real.hyp.tcr;
    expect(tcr.ds).toBe(true);
    expect(h.real.hyp.halves[0].iaBits).toBe(52);
    expect(h.real.hyp.halves[1].epd).toBe(true);
  });

  it("the same layout one VA bit higher: guard page and stack at BIT(50); AP[1] clear (no EL0 access under E2H=1)", () => {
    const io = 1n << 50n;
    expect(h.el2.translate(io, { type: "write", el: 1 }).kind).toBe("fault");
    expect(h.el2.translate(io + 0x1000n, { type: "write", el: 1 }).kind).toBe("ok");
    for (const l of leavesOf(h)) expect(l.pte & (1n << 6n)).toBe(0n);
  });

  it("writable hyp pages leave PXN (bit 53) clear and set only bit 54, UXN under E2H=1: SCTLR_EL2.WXN alone keeps them non-executable", () => {
    // Observed on this 6.12 capture: KVM writes its nVHE XN bit (54); in the EL2&0 regime that is
    // UXN, so the effective W^X comes from WXN (Arm ARM D8.4: WXN makes writable memory XN).
    let writable = 0;
    for (const l of leavesOf(h)) {
      if ((l.pte & 1n) === 0n || (l.pte & (1n << 7n)) !== 0n) continue;
      writable++;
      expect(l.pte & (3n << 53n)).toBe(1n << 54n);
      expect(h.el2.translate(l.va, { type: "write", el: 1 }).kind).toBe("ok");
      expect(h.el2.translate(l.va, { type: "exec", el: 1 }).kind).toBe("fault");
    }
    expect(writable).toBeGreaterThan(100);
    // Without WXN the same pages would be executable at EL2.
    const noWxn = new Walker(h.mem, { ...h.real.hyp.regs, sctlr: (h.regs.SCTLR_EL2 ?? 0n) & ~(1n << 19n) });
    expect(noWxn.translate((1n << 50n) + 0x1000n, { type: "exec", el: 1 }).kind).toBe("ok");
  });

  it("fix_host_ownership holds there too: owned hyp pages are owner-annotated in the host stage 2 (a 52-bit IPA, DS=1)", () => {
    const c = checkOwnership(h, 51);
    expect(c.owned).toBeGreaterThan(1000);
    expect(c.shared).toBe(1);
  });
});
