import { describe, expect, it } from "vitest";
import { KernelError } from "../../src/kernel/errors.js";
import { createMapping, findEntry, leavesIn, splitBlock, splitContiguous, unmap, updateMappingProt } from "../../src/kernel/mmu.js";
import { NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS, NO_EXEC_MAPPINGS } from "../../src/kernel/prot.js";
import { rig, traceRig } from "./helpers.js";

const PO = 0xffff_0000_0000_0000n;
const M = 1024 * 1024;

function refusal(f: () => unknown): KernelError {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error("expected a KernelError");
}

describe("__create_pgd_mapping rules (mmu.c; linux-arm64-mm.md 9, rules 1-5)", () => {
  it("uses PMD blocks, contiguous groups and PTEs only where a chunk covers them (4K)", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    // [32M - 64K, 64M + 64K + 4K): CONT PTEs, a CONT_PMD group of blocks, CONT PTEs, a page.
    const start = 32 * M - 64 * 1024;
    const size = 64 * 1024 + 32 * M + 64 * 1024 + 4096;
    const st = createMapping(r.k, r.root, 0x4000_0000 + start, PO + BigInt(start), size, r.k.prots.PAGE_KERNEL, { alloc: r.alloc });
    expect(st.blocks).toBe(16);
    expect(st.ptes).toBe(16 + 16 + 1);
    expect(st.cont).toBe(16 + 16 + 16);
    const w = r.walker();
    const t = w.translate(PO + BigInt(start + 64 * 1024), { type: "read", el: 1 });
    expect(t.kind === "ok" && t.level === 2 && t.contiguous).toBe(true);
  });

  it("NO_EXEC_MAPPINGS sets PXNTable on new tables; every new table has UXNTable", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 4096, r.k.prots.PAGE_KERNEL, { alloc: r.alloc, flags: NO_EXEC_MAPPINGS });
    const t = r.walker().translate(PO, { type: "read", el: 1 });
    expect(t.kind === "ok" && t.pxnTable && t.uxnTable).toBe(true);
    const r2 = rig({ granule: "4K", vaBits: 48 });
    createMapping(r2.k, r2.root, 0x4000_0000, PO, 4096, r2.k.prots.PAGE_KERNEL, { alloc: r2.alloc });
    const t2 = r2.walker().translate(PO, { type: "read", el: 1 });
    expect(t2.kind === "ok" && !t2.pxnTable && t2.uxnTable).toBe(true);
  });

  it("refuses different page offsets of VA and PA, and maps nothing (WARN_ON)", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    const e = refusal(() => createMapping(r.k, r.root, 0x4000_0100, PO, 4096, r.k.prots.PAGE_KERNEL, { alloc: r.alloc }));
    expect(e.code).toBe("EKERN_ALIGN");
    expect(leavesIn(r.k, r.root, PO, 1 << 30)).toHaveLength(0);
  });

  it("refuses to split a live block, before writing anything (BUG_ON(pmd_sect))", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 2 * M, r.k.prots.PAGE_KERNEL, { alloc: r.alloc });
    const before = r.port.stores;
    const e = refusal(() => createMapping(r.k, r.root, 0x4000_0000, PO, 4096, r.k.prots.PAGE_KERNEL_RO, { alloc: r.alloc }));
    expect(e.code).toBe("EKERN_LIVE_BLOCK");
    expect(e.rule).toMatch(/never splits/);
    expect(r.port.stores).toBe(before);
  });

  it("refuses to replace a table by a block", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 4096, r.k.prots.PAGE_KERNEL, { alloc: r.alloc });
    const e = refusal(() => createMapping(r.k, r.root, 0x4000_0000, PO, 2 * M, r.k.prots.PAGE_KERNEL, { alloc: r.alloc }));
    expect(e.code).toBe("EKERN_TABLE_REPOINT");
  });

  it("refuses unsafe live changes (new output address) and names pgattr_change_is_safe", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 4096, r.k.prots.PAGE_KERNEL, { alloc: r.alloc });
    const e = refusal(() => createMapping(r.k, r.root, 0x5000_0000, PO, 4096, r.k.prots.PAGE_KERNEL, { alloc: r.alloc }));
    expect(e.code).toBe("EKERN_UNSAFE_CHANGE");
    expect(e.message).toMatch(/output address/);
    expect(e.rule).toMatch(/pgattr_change_is_safe/);
  });

  it("without an allocator, refuses to create tables", () => {
    const r = rig({ granule: "16K", vaBits: 47 });
    const e = refusal(() => createMapping(r.k, r.root, 0x4000_0000, PO, 16384, r.k.prots.PAGE_KERNEL));
    expect(e.code).toBe("EKERN_NO_ALLOC");
  });
});

describe("update_mapping_prot", () => {
  it("changes permissions in place and flushes the range (TLBI VAALE1IS per page)", () => {
    const r = traceRig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 4 * 4096, r.k.prots.PAGE_KERNEL, { alloc: r.alloc, flags: NO_CONT_MAPPINGS });
    r.trace.ops.length = 0;
    updateMappingProt(r.k, r.root, 0x4000_0000, PO, 4 * 4096, r.k.prots.PAGE_KERNEL_RO);
    const t = r.walker().translate(PO + 0x3000n, { type: "write", el: 1 });
    expect(t.kind === "fault" && t.fault === "permission").toBe(true);
    const ops = r.trace.ops;
    expect(ops.filter((o) => o.startsWith("TLBI VAALE1IS"))).toHaveLength(4);
    // Stores come before the flush sequence, which ends DSB ISH; ISB.
    expect(ops.lastIndexOf("DSB ISH")).toBeGreaterThan(ops.findLastIndex((o) => o.startsWith("STR")));
    expect(ops[ops.length - 1]).toBe("ISB");
  });

  it("refuses contiguous entries (live CONT may not change at all)", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 64 * 1024, r.k.prots.PAGE_KERNEL, { alloc: r.alloc, flags: NO_BLOCK_MAPPINGS });
    const e = refusal(() => updateMappingProt(r.k, r.root, 0x4000_0000, PO, 64 * 1024, r.k.prots.PAGE_KERNEL_RO));
    expect(e.message).toMatch(/contiguous/);
  });
});

describe("unmap", () => {
  it("clears leaves, flushes, then frees empty tables: clear parent, TLBI VAAE1IS, DSB, only then free", () => {
    const r = traceRig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 2 * M, r.k.prots.PAGE_KERNEL, { alloc: r.alloc, flags: NO_BLOCK_MAPPINGS });
    const pte = findEntry(r.k, r.root, PO);
    expect(pte?.level).toBe(3);
    r.trace.ops.length = 0;
    const freedAt: number[] = [];
    const alloc = r.alloc;
    const origFree = alloc.free.bind(alloc);
    alloc.free = (pa: number) => {
      freedAt.push(r.trace.ops.length);
      origFree(pa);
    };
    const st = unmap(r.k, r.root, PO, 2 * M, { freeTables: alloc });
    expect(st.leaves).toBe(512);
    expect(st.tablesFreed).toBe(1);
    const ops = r.trace.ops;
    const i = freedAt[0] as number;
    // The ops just before the free: STR 0 (parent), DSB ISHST, TLBI VAAE1IS, DSB ISH, ISB.
    expect(ops.slice(i - 5, i).map((o) => o.split(" ").slice(0, 2).join(" "))).toEqual([
      "STR 0",
      "DSB ISHST",
      "TLBI VAAE1IS",
      "DSB ISH",
      "ISB",
    ]);
    expect(r.walker().translate(PO, { type: "read", el: 1 }).kind).toBe("fault");
  });

  it("refuses to cut a block or a contiguous group in part", () => {
    const r = rig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 2 * M, r.k.prots.PAGE_KERNEL, { alloc: r.alloc });
    expect(refusal(() => unmap(r.k, r.root, PO, 4096)).code).toBe("EKERN_LIVE_BLOCK");
    const r2 = rig({ granule: "4K", vaBits: 48 });
    createMapping(r2.k, r2.root, 0x4000_0000, PO, 64 * 1024, r2.k.prots.PAGE_KERNEL, { alloc: r2.alloc, flags: NO_BLOCK_MAPPINGS });
    expect(refusal(() => unmap(r2.k, r2.root, PO, 4096)).code).toBe("EKERN_CONT_PARTIAL");
  });
});

describe("splitBlock / splitContiguous", () => {
  for (const granule of ["4K", "16K", "64K"] as const) {
    it(`splitBlock keeps every translation (${granule}) and breaks before making`, () => {
      const r = traceRig({ granule, vaBits: 48 });
      const pmd = r.k.geo.PMD_SIZE;
      createMapping(r.k, r.root, 0x4000_0000 + pmd, PO + BigInt(pmd), pmd, r.k.prots.PAGE_KERNEL_EXEC, { alloc: r.alloc });
      const w = r.walker();
      const probe = PO + BigInt(pmd + 3 * r.k.geo.PAGE_SIZE + 5);
      const before = w.translate(probe, { type: "exec", el: 1 });
      r.trace.ops.length = 0;
      splitBlock(r.k, r.root, probe, r.alloc);
      const after = w.translate(probe, { type: "exec", el: 1 });
      expect(before.kind === "ok" && before.level === 2).toBe(true);
      expect(after.kind === "ok" && after.level === 3 && after.pa === (before.kind === "ok" ? before.pa : -1n)).toBe(true);
      const i0 = r.trace.ops.findIndex((o) => o.startsWith("STR 0 "));
      const it = r.trace.ops.findIndex((o) => o.startsWith("TLBI VAAE1IS"));
      expect(i0).toBeGreaterThan(0);
      expect(it).toBeGreaterThan(i0);
    });
  }

  it("splitContiguous with BBM clears the whole group before rewriting it", () => {
    const r = traceRig({ granule: "4K", vaBits: 48 });
    createMapping(r.k, r.root, 0x4000_0000, PO, 64 * 1024, r.k.prots.PAGE_KERNEL, { alloc: r.alloc, flags: NO_BLOCK_MAPPINGS });
    r.trace.ops.length = 0;
    splitContiguous(r.k, r.root, PO + 0x5000n);
    const ops = r.trace.ops;
    expect(ops.slice(0, 16).every((o) => o.startsWith("STR 0 "))).toBe(true);
    const t = r.walker().translate(PO + 0x5000n, { type: "read", el: 1 });
    expect(t.kind === "ok" && !t.contiguous && t.pa === 0x4000_5000n).toBe(true);
  });
});
