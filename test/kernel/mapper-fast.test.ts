/**
 * The mapper's fast paths (runs of descriptors through DirectPort.storeRun in int32 words, new
 * tables filled without reading them) against the per-entry reference: the same requests on a
 * port without storeRun, where every descriptor is one store64 of its exact 64-bit value.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VmsaError } from "../../src/arch/errors.js";
import { MemblockAllocator } from "../../src/kernel/alloc.js";
import { Kernel, type KernelOptions } from "../../src/kernel/context.js";
import { createMapping, findEntry } from "../../src/kernel/mmu.js";
import { DirectPort } from "../../src/kernel/port.js";
import { NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS } from "../../src/kernel/prot.js";
import { kernelRegs } from "../../src/kernel/regs.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { Walker } from "../../src/walk/walker.js";
import { propertyRuns } from "../helpers/property.js";

interface Side {
  mem: PhysMem;
  port: DirectPort;
  k: Kernel;
  alloc: MemblockAllocator;
  root: number;
}

function side(cfg: KernelOptions, perEntry: boolean, mem = new PhysMem()): Side {
  const port = new DirectPort(mem);
  // The reference: no bulk stores, so the mapper writes each descriptor with one store64.
  if (perEntry) Object.defineProperty(port, "storeRun", { value: undefined });
  const k = new Kernel(port, cfg);
  const alloc = new MemblockAllocator(0x8_0000_0000, 0x1_0000_0000, k.geo.PAGE_SIZE);
  const root = alloc.alloc() as number;
  port.zero(0, root, k.geo.PAGE_SIZE);
  return { mem, port, k, alloc, root };
}

interface Request {
  start: number;
  size: number;
  pa: number;
  flags: number;
}

/** Outcome of one request: stats, or the refusal's code (a refusal stores nothing). */
function apply(s: Side, r: Request): string {
  try {
    const st = createMapping(s.k, s.root, r.pa, s.k.kva(r.start), r.size, s.k.prots.PAGE_KERNEL, { flags: r.flags, alloc: s.alloc });
    return JSON.stringify(st);
  } catch (e) {
    if (e instanceof VmsaError) return e.code;
    throw e;
  }
}

/** Every backed frame's words, by frame number. */
function image(mem: PhysMem): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const pfn of mem.backedFrames()) out.set(pfn, Array.from(mem.frame(pfn) ?? []));
  return out;
}

const CFGS: readonly KernelOptions[] = [
  { granule: "4K", vaBits: 48 },
  { granule: "16K", vaBits: 47 },
  { granule: "64K", vaBits: 42 },
  { granule: "4K", vaBits: 52 },
];

describe("fast mapper vs per-entry reference", () => {
  for (const cfg of CFGS) {
    it(`${cfg.granule}/${cfg.vaBits}: same tables, stats, refusals and store count for random request sequences`, () => {
      const g = side(cfg, false).k.geo;
      const ps = g.PAGE_SIZE;
      const pmd = 2 ** g.PMD_SHIFT;
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              // VA offsets inside a window of a few PMD spans, so later requests meet earlier tables and blocks.
              startPages: fc.integer({ min: 0, max: (4 * pmd) / ps }),
              sizePages: fc.integer({ min: 1, max: Math.min((3 * pmd) / ps, 3000) }),
              // PA: the same offset modulo the PMD span as VA (blocks, CONT groups) or not, below and above 4 GiB.
              paBase: fc.constantFrom(0x4000_0000, 0x1_0000_0000 - pmd, 0x3_fff0_0000, 0xff_0000_0000),
              paSkew: fc.constantFrom(0, 0, ps, 16 * ps, 0x10_0000),
              flags: fc.constantFrom(0, NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS, NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS),
            }),
            { minLength: 1, maxLength: 3 },
          ),
          (reqs) => {
            const fast = side(cfg, false);
            const ref = side(cfg, true);
            const mapped: Request[] = [];
            for (const q of reqs) {
              const start = q.startPages * ps;
              const r: Request = { start, size: q.sizePages * ps, pa: q.paBase + q.paSkew + (start % pmd), flags: q.flags };
              const out = apply(fast, r);
              expect(out).toBe(apply(ref, r));
              if (out.startsWith("{")) mapped.push(r);
            }
            expect(fast.port.stores).toBe(ref.port.stores);
            expect(image(fast.mem)).toEqual(image(ref.mem));
            // Oracle independent of the mapper: a live entry's output address never changes
            // without break-before-make (pgattr_change_is_safe), so every VA of an accepted
            // request walks to the PA the first accepted request covering it gave.
            const w = new Walker(fast.mem, kernelRegs(fast.k.geo, fast.root));
            for (const r of mapped) {
              for (const off of [r.start, r.start + r.size - 8, r.start + Math.floor(r.size / 16) * 8]) {
                const first = mapped.find((m) => off >= m.start && off < m.start + m.size) as Request;
                const t = w.translate(fast.k.kva(off), { type: "read", el: 1 });
                expect(t.kind === "ok" ? t.pa : t.kind).toBe(BigInt(first.pa + (off - first.start)));
              }
            }
          },
        ),
        { numRuns: propertyRuns(20) },
      );
    });
  }
});

/** A PhysMem counting descriptor loads. */
class CountingMem extends PhysMem {
  loads = 0;
  override load64(pa: number): boolean {
    this.loads++;
    return super.load64(pa);
  }
}

describe("tables the mapping call allocates", () => {
  // mmu.c alloc_init_p?d on a table it just allocated finds every entry empty; the fast path
  // does not read them (a CPU observes its own zeroing stores), only entries of tables that
  // existed before the call.
  it("are filled without reading their entries; tables found in place are read", () => {
    const mem = new CountingMem();
    const s = side({ granule: "4K", vaBits: 48 }, false, mem);
    const GiB = 2 ** 30;
    createMapping(s.k, s.root, 0x4000_0000, s.k.kva(0), GiB, s.k.prots.PAGE_KERNEL, { flags: NO_BLOCK_MAPPINGS, alloc: s.alloc });
    // Root entry: once by the dry run (empty: nothing below can conflict), once by the write pass.
    expect(mem.loads).toBe(2);
    mem.loads = 0;
    // The next GiB: root entry and PUD table exist now (read), the PMD and PTE tables are new.
    createMapping(s.k, s.root, 0x8000_0000, s.k.kva(GiB), GiB, s.k.prots.PAGE_KERNEL, { flags: NO_BLOCK_MAPPINGS, alloc: s.alloc });
    expect(mem.loads).toBe(4);
  });

  it("keep a table found in place after allocating a new one beside it in the same parent", () => {
    // Only the child tables the call allocates are new: an existing table further on in the same
    // parent is still read and reused (mmu.c: pmd_none() decides per entry), never replaced.
    const s = side({ granule: "4K", vaBits: 48 }, false);
    const M = 2 ** 20;
    const opts = { flags: NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS, alloc: s.alloc };
    createMapping(s.k, s.root, 0x4020_0000, s.k.kva(2 * M), 2 * M, s.k.prots.PAGE_KERNEL, opts);
    const before = findEntry(s.k, s.root, s.k.kva(2 * M));
    // Same VA-to-PA relation over [0, 6 MiB): PMD entries 0 and 2 are empty, entry 1 holds the table above.
    const st = createMapping(s.k, s.root, 0x4000_0000, s.k.kva(0), 6 * M, s.k.prots.PAGE_KERNEL, opts);
    expect(st.tables).toBe(2);
    expect(st.ptes).toBe(3 * 512);
    const pmdEntry = (va: number): ReturnType<typeof findEntry> => findEntry(s.k, s.root, s.k.kva(va));
    expect(before?.level).toBe(3);
    expect(pmdEntry(2 * M)?.ea).toBe(before?.ea);
  });
});
