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

const DIR = join(import.meta.dirname, "..", "fixtures", "pkvm", "linux-6.12-4k-nvhe");
/** registers.txt: NAME=0x... lines (the EL2 names are not all in vmsa's register-file set). */
const regs: Record<string, bigint> = {};
for (const m of readFileSync(join(DIR, "registers.txt"), "utf8").matchAll(/^(\w+)=(0x[0-9a-f]+)$/gm))
  regs[m[1] as string] = BigInt(m[2] as string);
const mem = loadInputs([join(DIR, "tables.core.gz")], false).mem;
const real = pkvmFixtureRegs(regs);
const model = pkvmInit();
const el2 = new Walker(mem, real.hyp);
const hostS2 = new Walker(mem, real.host);

/** The real hyp stage-1 leaves (level, VA, descriptor). */
function hypLeaves(): { va: bigint; level: number; pte: bigint }[] {
  const out: { va: bigint; level: number; pte: bigint }[] = [];
  walkEntries(mem, real.hyp.halves[0], 0, 2 ** 48, (e) => {
    if (e.kind === "leaf") out.push({ va: BigInt(e.off), level: e.level, pte: (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0) });
  });
  return out;
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
    expect(hypLeaves().length).toBeGreaterThan(1000);
  });

  it("every page the real hypervisor owns in its linear range is invalid in the host stage 2 with owner PKVM_ID_HYP; its one shared page is shared-borrowed there", () => {
    // setup.c fix_host_ownership: owned → host_stage2_set_owner_locked(PKVM_ID_HYP); shared-owned → host shared-borrowed.
    let owned = 0;
    let shared = 0;
    for (const l of hypLeaves()) {
      if (l.va < 1n << 47n || l.level !== 3) continue; // the linear half only (bit 47 set)
      const pa = l.pte & 0x0000_ffff_ffff_f000n;
      const r = hostS2.translateIpa(pa, { type: "read", el: 1 });
      if (pkvmGetstate(l.pte) === "owned") {
        owned++;
        expect(r.kind).toBe("fault");
        expect(r.trail[r.trail.length - 1]?.value !== undefined && ownerOfInvalidPte(r.trail[r.trail.length - 1]?.value ?? 1n)).toBe(
          PKVM_ID_HYP,
        );
      } else {
        shared++;
        expect(pkvmGetstate(l.pte)).toBe("shared-owned");
        expect(r.kind === "ok" && pkvmGetstate(r.descriptor.raw)).toBe("shared-borrowed");
      }
    }
    expect(owned).toBeGreaterThan(1000);
    expect(shared).toBe(1);
  });

  it("the private range starts at __io_map_base 0x4000_0000_0000 with a guard page, the stack page and an invalid fixmap slot, as the model builds it", () => {
    const at = (va: bigint) => ({ real: el2.translate(va, { type: "write", el: 1 }).kind, model: model.hyp.pgt.getLeaf(va).pte & 1n });
    expect(at(0x4000_0000_0000n)).toEqual({ real: "fault", model: 0n });
    expect(at(0x4000_0000_1000n)).toEqual({ real: "ok", model: 1n });
    const slot = el2.translate(0x4000_0000_2000n, { type: "read", el: 1 });
    expect(slot.kind === "fault" && slot.trail[slot.trail.length - 1]?.value !== 0n).toBe(true);
    expect((model.hyp.pgt.getLeaf(0x4000_0000_4000n).pte & 0xffffn) !== 0n).toBe(true); // the model's CPU0 slot (2 CPUs: 2 stacks first)
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
