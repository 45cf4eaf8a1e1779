import { describe, expect, it } from "vitest";
import { MemblockAllocator, SafePageAllocator } from "../../src/kernel/alloc.js";
import { bootKernel } from "../../src/kernel/boot.js";
import { KernelError } from "../../src/kernel/errors.js";
import { Fixmap } from "../../src/kernel/fixmap.js";
import { debugPageallocUnmap } from "../../src/kernel/image.js";
import { kernelLayout } from "../../src/kernel/layout.js";
import { createMapping } from "../../src/kernel/mmu.js";
import { kernelRegs } from "../../src/kernel/regs.js";
import { transPgdCreateCopy } from "../../src/kernel/transpgd.js";
import { Walker } from "../../src/walk/walker.js";
import { traceRig } from "./helpers.js";

function setup() {
  const r = traceRig({ granule: "4K", vaBits: 48 });
  const fm = new Fixmap(r.k, kernelLayout(r.k.geo));
  fm.earlyInit(r.root, new MemblockAllocator(0x9_0000_0000, 0x10_0000, 4096));
  return { ...r, fm };
}

describe("fixmap slot discipline (fixmap.c __set_fixmap; linux-arm64-mm.md 9, rule 14)", () => {
  it("set maps the slot with no TLBI; clear zeroes it and flushes that page", () => {
    const { fm, trace, walker } = setup();
    trace.ops.length = 0;
    const va = fm.set(fm.slots.FIX_TEXT_POKE0, 0x4123_4567n);
    expect(va).toBe(fm.virt(fm.slots.FIX_TEXT_POKE0) + 0x567n);
    expect(trace.ops.some((o) => o.startsWith("TLBI"))).toBe(false);
    const t = walker().translate(va, { type: "read", el: 1 });
    expect(t.kind === "ok" && t.pa === 0x4123_4567n).toBe(true);
    trace.ops.length = 0;
    fm.clear(fm.slots.FIX_TEXT_POKE0);
    expect(trace.ops).toEqual([
      expect.stringMatching(/^STR 0 /),
      "DSB ISHST",
      `TLBI VAALE1IS ${fm.virt(fm.slots.FIX_TEXT_POKE0).toString(16)}`,
      "DSB ISH",
      "ISB",
    ]);
  });

  it("refuses FIX_HOLE, out-of-range indices and setting a busy slot", () => {
    const { fm } = setup();
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        if (e instanceof KernelError) return e.code;
      }
      return "none";
    };
    expect(code(() => fm.set(0, 0x4000_0000n))).toBe("EFIXMAP_SLOT");
    expect(code(() => fm.set(fm.slots.__end_of_fixed_addresses, 0x4000_0000n))).toBe("EFIXMAP_SLOT");
    fm.set(fm.slots.FIX_PTE, 0x4000_0000n);
    expect(code(() => fm.set(fm.slots.FIX_PTE, 0x4000_1000n))).toBe("EFIXMAP_BUSY");
  });

  it("building tables through the fixmap sets and clears FIX_PGD/PMD/PTE in nesting order", () => {
    const { fm, k, alloc, trace, mem } = setup();
    const pgd = alloc.alloc() as number;
    mem.zero(BigInt(pgd), 4096);
    k.tableAccess = fm.tableAccess();
    trace.ops.length = 0;
    createMapping(k, pgd, 0x4000_0000, 0xffff_0000_0000_0000n, 0x1000, k.prots.PAGE_KERNEL, { alloc });
    k.tableAccess = undefined;
    // Every slot set is cleared again, and the slots are all empty at the end.
    for (const s of [fm.slots.FIX_PGD, fm.slots.FIX_PUD, fm.slots.FIX_PMD, fm.slots.FIX_PTE]) expect(fm.slotValue(s)).toBe(0n);
    const flushes = trace.ops.filter((o) => o.startsWith("TLBI VAALE1IS")).map((o) => BigInt(`0x${o.split(" ")[2]}`));
    const slotOf = (va: bigint): number => Number((fm.layout.FIXADDR_TOP - va) / 4096n);
    const order = flushes.map(slotOf);
    // New tables are zeroed through FIX_PTE; the PTE table is left before the PMD, PMD before PUD, PUD before PGD.
    expect(order.slice(-4)).toEqual([fm.slots.FIX_PTE, fm.slots.FIX_PMD, fm.slots.FIX_PUD, fm.slots.FIX_PGD]);
    expect(order.filter((s) => s === fm.slots.FIX_PTE).length).toBe(4);
  });
});

describe("debug_pagealloc and trans_pgd (trans_pgd.c _copy_pte)", () => {
  it("pages unmapped by debug_pagealloc stay invalid in the live map and come back valid in the copy", () => {
    const b = bootKernel({ debugPagealloc: true, early: true });
    const pa = 0x6000_0000;
    debugPageallocUnmap(b.k, b.pgd, b.lm, pa, 4);
    const va = b.lm.lmAlias(pa + 0x1000);
    expect(new Walker(b.mem, b.regs).translate(va, { type: "read", el: 1 }).kind).toBe("fault");
    const safe = SafePageAllocator.range(0x9_0000_0000, 1024, 4096);
    const copy = transPgdCreateCopy(b.k, { alloc: safe }, b.pgd, b.layout.PAGE_OFFSET, b.layout.PAGE_END, {
      era: "v5.8",
      debugPagealloc: true,
    });
    expect(copy.revalidated).toBe(4);
    const t = new Walker(b.mem, kernelRegs(b.k.geo, copy.pgd)).translate(va, { type: "write", el: 1 });
    expect(t.kind === "ok" && t.pa === BigInt(pa + 0x1000)).toBe(true);
  });
});
