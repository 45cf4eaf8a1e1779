import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemblockAllocator } from "../../src/kernel/alloc.js";
import { Kernel } from "../../src/kernel/context.js";
import { createMapping, isAligned } from "../../src/kernel/mmu.js";
import { DirectPort } from "../../src/kernel/port.js";
import { NO_BLOCK_MAPPINGS } from "../../src/kernel/prot.js";
import { PhysMem } from "../../src/mem/physmem.js";

const PO = 0xffff_0000_0000_0000n;
const M = 1024 * 1024;
const PTE_CONT = 1n << 52n;

/** DirectPort that counts storeRun calls (one per run of consecutive descriptors). */
class RunCountingPort extends DirectPort {
  runs = 0;
  override storeRun(cpu: number, pa: number, n: number, hi: number, lo: number, step: number): void {
    this.runs++;
    super.storeRun(cpu, pa, n, hi, lo, step);
  }
}

function setup(): { mem: PhysMem; port: RunCountingPort; k: Kernel; alloc: MemblockAllocator; root: number } {
  const mem = new PhysMem();
  const port = new RunCountingPort(mem);
  const k = new Kernel(port, { granule: "4K", vaBits: 48 });
  const alloc = new MemblockAllocator(0x10_0000_0000, 0x1_0000_0000, 4096);
  const root = alloc.alloc() as number;
  mem.zero(BigInt(root), 4096);
  return { mem, port, k, alloc, root };
}

/** The 512 entries of the level-`level` table reached for PO, as bigints. */
function tableAt(mem: PhysMem, root: number, level: number): bigint[] {
  let t = BigInt(root);
  for (let l = 0; l < level; l++) t = (mem.read64(t) as bigint) & 0x0000_ffff_ffff_f000n;
  return Array.from({ length: 512 }, (_, i) => mem.read64(t + BigInt(i * 8)) as bigint);
}

describe("mapper runs (mmu.c alloc_init_cont_pmd / alloc_init_cont_pte chunking)", () => {
  // Kernel behaviour: a CONT_PMD / CONT_PTE group is only set when VA, PA and the chunk end are
  // all aligned to the group span; with VA and PA not congruent modulo the span no chunk ever
  // is, so the descriptors are the same whether or not the range is cut at group boundaries.
  it.each([
    // 2 MiB aligned, not 32 MiB aligned: no CONT_PMD group can fit, so one run for the table.
    { what: "not congruent: one run, no PTE_CONT", pa: 0x8020_0000, cont: 0, runs: 1 },
    // 32 MiB aligned, not 1 GiB aligned: PMD blocks in CONT groups, cut at every group.
    { what: "congruent: a run per CONT_PMD group, all PTE_CONT", pa: 0x8200_0000, cont: 512, runs: 32 },
  ])("maps 1 GiB of PMD blocks with PA vs VA modulo CONT_PMD_SIZE $what", ({ pa, cont, runs }) => {
    const r = setup();
    const st = createMapping(r.k, r.root, pa, PO, 1024 * M, r.k.prots.PAGE_KERNEL, { alloc: r.alloc });
    expect(st.blocks).toBe(512);
    expect(st.cont).toBe(cont);
    expect(r.port.runs).toBe(runs);
    const pmd = tableAt(r.mem, r.root, 2);
    const first = pmd[0] as bigint;
    expect(first & 3n).toBe(1n); // block descriptor (DDI0487 D8.3.1: bits[1:0] = 0b01)
    expect(first & 0x0000_ffff_ffe0_0000n).toBe(BigInt(pa));
    expect(first & PTE_CONT).toBe(cont > 0 ? PTE_CONT : 0n);
    expect(pmd).toEqual(pmd.map((_, i) => first + BigInt(i) * 2n * BigInt(M)));
  });

  it("writes a PTE table as one run when PA is not congruent to VA modulo CONT_PTE_SIZE", () => {
    const r = setup();
    const pa = 0x4000_1000; // page aligned, not 64 KiB aligned
    const st = createMapping(r.k, r.root, pa, PO, 2 * M, r.k.prots.PAGE_KERNEL, { alloc: r.alloc, flags: NO_BLOCK_MAPPINGS });
    expect(st.ptes).toBe(512);
    expect(st.cont).toBe(0);
    expect(r.port.runs).toBe(1);
    const pte = tableAt(r.mem, r.root, 3);
    const first = pte[0] as bigint;
    expect(first & 3n).toBe(3n); // page descriptor
    expect(first & 0x0000_ffff_ffff_f000n).toBe(BigInt(pa));
    expect(pte).toEqual(pte.map((_, i) => first + BigInt(i) * 4096n));
  });
});

describe("DirectPort.storeRun (bulk descriptor stores)", () => {
  // The same meaning as n store64 calls of value + i * step: checked against bigint arithmetic,
  // with runs crossing frames and the low half carrying into the high half (OA bit 32 and up).
  it("writes value + i * step for every i, as 64-bit values, across frames and low-half carries", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1023 }),
        fc.integer({ min: 1, max: 1500 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(0xffff_f000, 0xfff0_0000, 0x8000_0000, 0),
        fc.constantFrom(0, 8, 4096, 2 * M, 1 << 30),
        (slot, n, hi, lo, step) => {
          const mem = new PhysMem();
          const port = new DirectPort(mem);
          const pa = 0x4000_0000 + slot * 8;
          port.storeRun(0, pa, n, hi, lo, step);
          const v0 = (BigInt(hi) << 32n) | BigInt(lo);
          for (let i = 0; i < n; i++) expect(mem.read64(BigInt(pa + i * 8))).toBe(v0 + BigInt(i) * BigInt(step));
          // The entry after the run is untouched: zero, or unbacked when the run ends a frame.
          expect(mem.read64(BigInt(pa + n * 8)) ?? 0n).toBe(0n);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("Kernel.entryAddr", () => {
  // The index of a VA offset at a level is bits [shift + 8 : shift] (4K granule, 512 entries;
  // the 48-bit PGD has 512 too): checked against bigint shifts for offsets above 2^32 and 2^47.
  it("gives table + index * 8 for offsets across the whole 48-bit half", () => {
    const k = new Kernel(new DirectPort(new PhysMem()), { granule: "4K", vaBits: 48 });
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), fc.integer({ min: 0, max: 3 }), (off, level) => {
        const shift = BigInt(12 + 9 * (3 - level));
        const idx = Number((off >> shift) & 511n);
        expect(k.entryAddr(0x1000, level, Number(off))).toBe(0x1000 + idx * 8);
      }),
      { numRuns: 500 },
    );
  });
});

describe("isAligned (power-of-two alignment on 32-bit halves)", () => {
  it("agrees with exact bigint arithmetic for every size 2^0..2^52 and addresses below 2^53", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }), fc.integer({ min: 0, max: 52 }), fc.boolean(), (x, k, snap) => {
        // Half the cases snapped onto a boundary so both answers are exercised.
        const v = snap ? x & ~((1n << BigInt(k)) - 1n) : x;
        expect(isAligned(Number(v), 2 ** k)).toBe(v % (1n << BigInt(k)) === 0n);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("DirectPort.storeRun", () => {
  it("writes runs that cross frames inside a loaded bank (frames at non-zero arena offsets)", () => {
    const mem = new PhysMem();
    mem.addBank(0x4000_0000n, new Uint8Array(3 * 4096), "bank");
    const port = new DirectPort(mem);
    // 4 entries from the last two slots of frame 1 into frame 2, lo carrying into hi.
    port.storeRun(0, 0x4000_1ff0, 4, 0x7, 0xffff_f000, 0x800);
    const got = [0, 1, 2, 3].map((i) => mem.read64(BigInt(0x4000_1ff0 + i * 8)));
    const base = (7n << 32n) | 0xffff_f000n;
    expect(got).toEqual([0, 1, 2, 3].map((i) => base + BigInt(i) * 0x800n));
    expect(mem.read64(0x4000_0ff8n)).toBe(0n); // frame 0 untouched
    expect(mem.read64(0x4000_2020n)).toBe(0n);
  });
});
