import { describe, expect, it } from "vitest";
import { encodeTcr } from "../../src/arch/registers.js";
import { FailingAllocator, SafePageAllocator } from "../../src/kernel/alloc.js";
import { type KernelError, OutOfMemoryError } from "../../src/kernel/errors.js";
import { createMapping, findEntry } from "../../src/kernel/mmu.js";
import { NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS } from "../../src/kernel/prot.js";
import { kernelRegs } from "../../src/kernel/regs.js";
import { transPgdCreateCopy, transPgdIdmapPage, transPgdMapPage } from "../../src/kernel/transpgd.js";
import { Walker } from "../../src/walk/walker.js";
import { rig } from "./helpers.js";

const PO = 0xffff_0000_0000_0000n;

describe("trans_pgd_create_copy (trans_pgd.c; linux-arm64-mm.md 9, rule 19)", () => {
  it("copies valid PTEs writable, blocks with AP[2] cleared, never touches the source", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    const k = r.k;
    createMapping(k, r.root, 0x4000_0000, PO, 2 * 2 ** 20, k.prots.PAGE_KERNEL_RO, { alloc: r.alloc });
    createMapping(k, r.root, 0x4020_0000, PO + 0x20_0000n, 0x1000, k.prots.PAGE_KERNEL_ROX, {
      alloc: r.alloc,
      flags: NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS,
    });
    const srcBefore = r.mem.readBytes(0x8_0000_0000n, 8 * 4096);
    const safe = SafePageAllocator.range(0x9_0000_0000, 16, 4096);
    const c = transPgdCreateCopy(k, { alloc: safe }, r.root, PO, PO + (1n << 47n));
    expect(r.mem.readBytes(0x8_0000_0000n, 8 * 4096)).toEqual(srcBefore);
    const w = new Walker(r.mem, kernelRegs(k.geo, c.pgd));
    const blk = w.translate(PO + 0x1234n, { type: "write", el: 1 });
    expect(blk.kind === "ok" && blk.level === 2).toBe(true);
    const pte = w.translate(PO + 0x20_0010n, { type: "write", el: 1 });
    expect(pte.kind === "ok" && pte.level === 3 && pte.dbm && pte.permissions.px).toBe(true);
    expect(c.blocks).toBe(1);
    expect(c.ptes).toBe(1);
  });

  it("revalidates debug_pagealloc-invalidated PTEs only in the era that does it", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    const k = r.k;
    createMapping(k, r.root, 0x4000_0000, PO, 0x2000, k.prots.PAGE_KERNEL, { alloc: r.alloc, flags: NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS });
    const e = findEntry(k, r.root, PO + 0x1000n);
    if (!e) throw new Error("no entry");
    r.mem.write64(BigInt(e.ea), e.value & ~1n);
    const mk = (): SafePageAllocator => SafePageAllocator.range(0x9_0000_0000, 16, 4096);
    const old = transPgdCreateCopy(k, { alloc: mk() }, r.root, PO, PO + 0x4000n, { era: "v5.8" });
    expect(old.revalidated).toBe(0);
    const dbg = transPgdCreateCopy(k, { alloc: mk() }, r.root, PO, PO + 0x4000n, { era: "v5.8", debugPagealloc: true });
    expect(dbg.revalidated).toBe(1);
    const bad = (): unknown => transPgdCreateCopy(k, { alloc: mk() }, r.root, PO, PO + 0x4000n, { era: "v6.x", pfnValid: () => false });
    expect(bad).toThrow(/pfn_valid/);
  });

  it("returns -ENOMEM when the allocator fails", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 0x1000, r.k.prots.PAGE_KERNEL, { alloc: r.alloc });
    const failing = new FailingAllocator(SafePageAllocator.range(0x9_0000_0000, 16, 4096), { failAfter: 2 });
    let err: unknown;
    try {
      transPgdCreateCopy(r.k, { alloc: failing }, r.root, PO, PO + 0x1000n);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as KernelError).code).toBe("ENOMEM");
    expect(failing.failures).toBe(1);
  });
});

describe("trans_pgd_idmap_page (rule 20)", () => {
  for (const [granule, tables, pa] of [
    ["4K", 4, 0x4123_4000],
    ["16K", 4, 0x4123_4000],
    ["64K", 3, 0x4123_0000],
  ] as const) {
    it(`${granule}: VA == PA, ROX, T0SZ 16, built bottom-up in ${tables} tables`, () => {
      const r = rig({ granule, vaBits: 48 });
      const safe = SafePageAllocator.range(0x9_0000_0000, 8, r.k.geo.PAGE_SIZE);
      const id = transPgdIdmapPage(r.k, { alloc: safe }, pa);
      expect(id.t0sz).toBe(16);
      expect(id.tables).toHaveLength(tables);
      const regs = {
        ...kernelRegs(r.k.geo, 0),
        ttbr0: id.ttbr0,
        tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: granule, tg1: granule, ipsBits: 48 }),
      };
      const w = new Walker(r.mem, regs);
      const x = w.translate(BigInt(pa + 0x10), { type: "exec", el: 1 });
      expect(x.kind === "ok" && x.pa === BigInt(pa + 0x10) && !x.permissions.pw).toBe(true);
    });
  }
});

describe("trans_pgd_map_page (v5.8–v5.14; thread 004)", () => {
  it("builds the single-entry levels in a fresh pgd", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    const safe = SafePageAllocator.range(0x9_0000_0000, 8, 4096);
    const pgd = safe.alloc(r.port, 0) as number;
    transPgdMapPage(r.k, { alloc: safe }, pgd, 0x4567_8000, 0x1000n, r.k.prots.PAGE_KERNEL_EXEC);
    const w = new Walker(r.mem, kernelRegs(r.k.geo, 0, pgd));
    const t = w.translate(0x1234n, { type: "exec", el: 1 });
    expect(t.kind === "ok" && t.pa === 0x4567_8234n).toBe(true);
  });

  it("trips on a block with -ENXIO", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 2 ** 30, r.k.prots.PAGE_KERNEL, { alloc: r.alloc });
    const safe = SafePageAllocator.range(0x9_0000_0000, 8, 4096);
    let err: unknown;
    try {
      transPgdMapPage(r.k, { alloc: safe }, r.root, 0x4567_8000, PO + 0x1000n, r.k.prots.PAGE_KERNEL_EXEC);
    } catch (e) {
      err = e;
    }
    expect((err as KernelError).code).toBe("ENXIO");
  });
});
