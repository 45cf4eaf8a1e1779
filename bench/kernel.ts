/**
 * Kernel-library workloads (issue 5):
 * - map-4k-pages: map 4 GiB at 4K pages only (NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS) into a new
 *   root, tables from a fresh allocator; ops = PTEs written per second. Unchecked (DirectPort:
 *   stores go straight to memory) and checked (every store, barrier and TLBI a machine step).
 * - map-1t-blocks: a 1 TiB linear map, PA only 2 MiB aligned, blocks and contiguous allowed;
 *   VA = PAGE_OFFSET (1 GiB aligned), PA 0x8020_0000: neither PUD blocks nor CONT_PMD groups fit,
 *   so this is 512 Ki PMD blocks; ops = descriptors written per second.
 * Timed as the C yardstick (ptbench-fair.c) times its maps: process CPU time of the mapping call
 * alone, the median of the repeats after a warm-up (`seconds`, with `min_s` / `max_s`).
 */
import { MemblockAllocator } from "../src/kernel/alloc.js";
import { Kernel } from "../src/kernel/context.js";
import { CheckedPort } from "../src/kernel/machine-port.js";
import { createMapping } from "../src/kernel/mmu.js";
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
  descriptors: number;
}

interface Timed {
  seconds: number;
  descriptors: number;
}

const GiB = 2 ** 30;

/**
 * Memory for one mapping run: table storage reserved before the timer starts, as the C yardstick
 * (ptbench-fair.c) maps its 64 MiB arena before its timer; first-touch page faults stay inside.
 */
function freshMem(): PhysMem {
  return new PhysMem({ reserveBytes: 16 * 1024 * 1024 });
}

function once(port: MachinePort, size: number, pa: number, flags: number): Timed {
  const k = new Kernel(port, { granule: "4K", vaBits: 48 });
  const alloc = new MemblockAllocator(0x10_0000_0000, 0x1_0000_0000, 4096);
  const root = alloc.alloc() as number;
  port.zero(0, root, 4096);
  const c0 = process.cpuUsage();
  const st = createMapping(k, root, pa, 0xffff_0000_0000_0000n, size, k.prots.PAGE_KERNEL, { flags, alloc });
  const c = process.cpuUsage(c0);
  return { seconds: (c.user + c.system) / 1e6, descriptors: st.ptes + st.blocks + st.tables };
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
  };
}

function checkedPort(): CheckedPort {
  const mem = new PhysMem();
  const k = new Kernel(new DirectPort(mem), { granule: "4K", vaBits: 48 });
  return new CheckedPort(new Machine({ cpus: 1, mem, regs: kernelRegs(k.geo, 0), recordSteps: false }));
}

export async function run(): Promise<KernelBenchResult[]> {
  const flags4k = NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS;
  return [
    result(
      "map-4k-pages",
      median(5, 15, () => once(new DirectPort(freshMem()), 4 * GiB, 0x4000_0000, flags4k)),
    ),
    result(
      "map-4k-pages-checked",
      median(0, 1, () => once(checkedPort(), 4 * GiB, 0x4000_0000, flags4k)),
    ),
    result(
      "map-1t-blocks",
      median(5, 31, () => once(new DirectPort(freshMem()), 1024 * GiB, 0x8020_0000, 0)),
    ),
    result(
      "map-1t-blocks-checked",
      median(0, 1, () => once(checkedPort(), 1024 * GiB, 0x8020_0000, 0)),
    ),
  ];
}
