/**
 * Kernel-library workloads (issue 5):
 * - map-4k-pages: map 4 GiB at 4K pages only (NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS) into a new
 *   root, tables from a fresh allocator; ops = PTEs written per second (ptbench-fair.c's units:
 *   1 Mi PTEs; the 2053 table descriptors are written but not counted, as there). Unchecked
 *   (DirectPort: stores go straight to memory) and checked (every store, barrier and TLBI a
 *   machine step).
 * - map-1t-blocks: a 1 TiB linear map, PA only 2 MiB aligned, blocks and contiguous allowed;
 *   VA = PAGE_OFFSET (1 GiB aligned), PA 0x8020_0000: neither PUD blocks nor CONT_PMD groups fit,
 *   so this is 512 Ki PMD blocks; ops = descriptors written per second (blocks and table
 *   descriptors, 525314, as ptbench-fair.c counts them).
 * Timed as the C yardstick (ptbench-fair.c) times its maps: process CPU time of the mapping call
 * alone, the median of the repeats after a warm-up (`seconds`, with `min_s` / `max_s`). Each rep
 * maps into a new PhysMem whose table arena is sized to the tables the map needs and reserved
 * before the timer; its pages are first touched inside it. They are fresh (never touched) pages
 * only when glibc gives the arena a new mmap: bench:compare runs these workloads with
 * MALLOC_MMAP_THRESHOLD_ set for that (compare/children.ts), and `memory` in the output says
 * which ("fresh-mmap", or "glibc-default": the arena may be a recycled chunk calloc zeroed before
 * the timer, so figures are bimodal and not comparable with C's).
 * The work is checked after each rep: the exact PTE, block and table counts of the C yardstick's
 * shape, and no second arena (which would be allocated inside the timer).
 * Tables are allocated from PA 0 up, as the C yardstick's are at offsets 0.. of its arena.
 * When node runs with --expose-gc (bench:compare's map child does), a minor GC runs before each
 * rep's timer (`collector`): the young garbage of the previous reps (their PhysMem, Kernel) is
 * then not collected inside the next rep's timer, as the C program's previous arena is unmapped
 * outside its timer; process CPU time counts every thread, so collector work started by earlier
 * reps would otherwise land in the timed region too (about one rep in two had a scavenge there).
 * bench:compare also turns off concurrent array-buffer sweeping there, so that GC unmaps the
 * previous rep's arena itself rather than a helper thread during the timer (compare/children.ts).
 */
import { MemblockAllocator } from "../src/kernel/alloc.js";
import { Kernel } from "../src/kernel/context.js";
import { CheckedPort } from "../src/kernel/machine-port.js";
import { createMapping, type MapStats } from "../src/kernel/mmu.js";
import { DirectPort, type MachinePort } from "../src/kernel/port.js";
import { NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS } from "../src/kernel/prot.js";
import { kernelRegs } from "../src/kernel/regs.js";
import { Machine } from "../src/machine/machine.js";
import { PhysMem } from "../src/mem/physmem.js";

export interface KernelBenchResult {
  workload: string;
  ops_per_s: number;
  seconds: number;
  min_s: number;
  max_s: number;
  /** Ops of one rep (the C yardstick's units for the same shape). */
  descriptors: number;
  /** Whether the table arena's pages were fresh mmap'd pages (see the header). */
  memory: "fresh-mmap" | "glibc-default";
  /** Whether a minor GC ran before each rep's timer (see the header). */
  collector: "minor-gc-before-rep" | "as-is";
}

interface Timed {
  seconds: number;
  descriptors: number;
}

/** A map workload's shape and the exact work it must do (ptbench-fair.c's map-*-linux). */
export interface MapShape {
  size: number;
  pa: number;
  flags: number;
  /** Entries of each kind the map writes. */
  ptes: number;
  blocks: number;
  tables: number;
  /** Ops counted per rep (the C yardstick's units). */
  ops: (st: MapStats) => number;
}

const GiB = 2 ** 30;
const FRAME = 4096;

/** 4 GiB of 4K pages: 1 Mi PTEs in 2048 PTE tables, under 4 PMD tables and 1 PUD table. */
export const MAP_4K: MapShape = {
  size: 4 * GiB,
  pa: 0x4000_0000,
  flags: NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS,
  ptes: 1 << 20,
  blocks: 0,
  tables: 2048 + 4 + 1,
  ops: (st) => st.ptes,
};

/** 1 TiB of 2 MiB blocks: 512 Ki blocks in 1024 PMD tables under 2 PUD tables. */
export const MAP_1T: MapShape = {
  size: 1024 * GiB,
  pa: 0x8020_0000,
  flags: 0,
  ptes: 0,
  blocks: 512 * 1024,
  tables: 1024 + 2,
  ops: (st) => st.blocks + st.tables,
};

const memoryKind = (): KernelBenchResult["memory"] => (process.env.MALLOC_MMAP_THRESHOLD_ ? "fresh-mmap" : "glibc-default");

/** node's gc() when run with --expose-gc. */
const exposedGc = (globalThis as { gc?: (opts: { type: "minor" }) => void }).gc;

/**
 * Memory for one mapping run: one table arena sized to the map's tables and the root, reserved
 * before the timer (as the C yardstick maps its arena before its timer); first touches stay inside.
 */
function freshMem(shape: MapShape): PhysMem {
  return new PhysMem({ reserveBytes: arenaBytes(shape) });
}

/** Bytes of the table arena a rep of `shape` reserves: its tables and the root. */
export function arenaBytes(shape: MapShape): number {
  return (shape.tables + 1) * FRAME;
}

function once(port: MachinePort, shape: MapShape): Timed {
  const k = new Kernel(port, { granule: "4K", vaBits: 48 });
  const alloc = new MemblockAllocator(0, 64 * 1024 * 1024, FRAME);
  const root = alloc.alloc() as number;
  port.zero(0, root, FRAME);
  const arenas = port.mem.arenas.length;
  exposedGc?.({ type: "minor" });
  const c0 = process.cpuUsage();
  const st = createMapping(k, root, shape.pa, 0xffff_0000_0000_0000n, shape.size, k.prots.PAGE_KERNEL, { flags: shape.flags, alloc });
  const c = process.cpuUsage(c0);
  if (st.ptes !== shape.ptes || st.blocks !== shape.blocks || st.tables !== shape.tables) {
    throw new Error(
      `map bench: wrote ${st.ptes} PTEs, ${st.blocks} blocks, ${st.tables} tables; expected ${shape.ptes}, ${shape.blocks}, ${shape.tables}`,
    );
  }
  if (port instanceof DirectPort && port.mem.arenas.length !== arenas) {
    throw new Error("map bench: the table arena was too small; a second one was allocated inside the timer");
  }
  return { seconds: (c.user + c.system) / 1e6, descriptors: shape.ops(st) };
}

/** `warm` untimed runs (JIT), then the median of `n` runs, with the fastest and slowest. */
function median(warm: number, n: number, f: () => Timed): { seconds: number; min: number; max: number; descriptors: number } {
  for (let i = 0; i < warm; i++) f();
  const runs: Timed[] = [];
  for (let i = 0; i < n; i++) runs.push(f());
  runs.sort((a, b) => a.seconds - b.seconds);
  const m = runs[n >> 1] as Timed;
  return { seconds: m.seconds, min: (runs[0] as Timed).seconds, max: (runs[n - 1] as Timed).seconds, descriptors: m.descriptors };
}

function result(workload: string, r: { seconds: number; min: number; max: number; descriptors: number }): KernelBenchResult {
  return {
    workload,
    ops_per_s: Math.round(r.descriptors / r.seconds),
    seconds: r.seconds,
    min_s: r.min,
    max_s: r.max,
    descriptors: r.descriptors,
    memory: memoryKind(),
    collector: exposedGc !== undefined ? "minor-gc-before-rep" : "as-is",
  };
}

function checkedPort(): CheckedPort {
  const mem = new PhysMem();
  const k = new Kernel(new DirectPort(mem), { granule: "4K", vaBits: 48 });
  return new CheckedPort(new Machine({ cpus: 1, mem, regs: kernelRegs(k.geo, 0), recordSteps: false }));
}

export async function run(): Promise<KernelBenchResult[]> {
  return [
    result(
      "map-4k-pages",
      median(5, 21, () => once(new DirectPort(freshMem(MAP_4K)), MAP_4K)),
    ),
    result(
      "map-4k-pages-checked",
      median(0, 1, () => once(checkedPort(), MAP_4K)),
    ),
    result(
      "map-1t-blocks",
      median(5, 31, () => once(new DirectPort(freshMem(MAP_1T)), MAP_1T)),
    ),
    result(
      "map-1t-blocks-checked",
      median(0, 1, () => once(checkedPort(), MAP_1T)),
    ),
  ];
}
