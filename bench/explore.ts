/**
 * `--explore` benchmarks (issue 13, Speed): explored executions per CPU-second of small
 * multi-CPU scenarios, and how many interleavings partial-order reduction leaves.
 *
 * - explore-bbm-12reads: CPU 0 unmaps a page with the full break-before-make sequence (store
 *   invalid, DSB ISHST, TLBI VAAE1IS, DSB ISH, ISB) while CPU 1 reads it 12 times:
 *   C(17, 5) = 6,188 interleavings.
 *   (-full: without partial-order reduction, every interleaving run).
 * - explore-2cpu / -3cpu / -4cpu: the same unmap on CPU 0 and reads of the page on the other
 *   CPUs (8, 3+3 and 2+2+2 reads: 1,287, 9,240 and 41,580 interleavings).
 *
 * Times are CPU time of this process (process.cpuUsage): the shared machine's load makes wall
 * time meaningless. Fields: ops_per_s = executions per CPU-second, executions run,
 * interleavings (all of them), reduction = interleavings / executions.
 * - explore-4cpu-full-jobsN: the 4-CPU case without reduction on N worker threads, executions
 *   per wall-clock second (cpu_seconds holds the wall seconds there): only meaningful on an
 *   otherwise idle machine with N cores.
 */
import { exploreScenario } from "../src/scenario/explore.js";
import { exploreParallel } from "../src/scenario/explore-parallel.js";
import { parseScenario } from "../src/scenario/format.js";

const HEAD = `machine:
  cpus: CPUS
  regs: { TTBR1_EL1: 0x80000 }
memory:
  ram: [{ base: 0x40000000, size: 0x40000000 }]
  pool: 0x81000
  map:
    - { va: 0xffff000000200000, pa: 0x40000000, size: 0x1000, level: 3 }
values:
  PTE: desc(0xffff000000200000, 3)
steps:
  - "P0: store $PTE invalid"
  - "P0: dsb ISHST"
  - "P0: tlbi VAAE1IS 0xffff000000200000"
  - "P0: dsb ISH"
  - "P0: isb"
`;

/** CPU 0 unmaps; CPU i (1..) reads the page reads[i-1] times. */
export function unmapWhileReading(reads: readonly number[]): string {
  let text = HEAD.replace("CPUS", String(reads.length + 1));
  reads.forEach((n, i) => {
    for (let k = 0; k < n; k++) text += `  - "P${i + 1}: load 0xffff000000200000"\n`;
  });
  return text;
}

function cpuSeconds(f: () => void): number {
  const t0 = process.cpuUsage();
  f();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1e6;
}

interface ExploreBench {
  workload: string;
  ops_per_s: number;
  executions: number;
  interleavings: number;
  reduction: number;
  cpu_seconds: number;
}

export function benchExplore(workload: string, reads: readonly number[], reduce = true, limit = 1_000_000): ExploreBench {
  const s = parseScenario(unmapWhileReading(reads), `${workload}.yaml`);
  let explored = 0;
  let total = 0n;
  const secs = cpuSeconds(() => {
    const r = exploreScenario(s, { limit, reduce });
    explored = r.explored;
    total = r.total;
  });
  return {
    workload,
    ops_per_s: Math.round(explored / secs),
    executions: explored,
    interleavings: Number(total),
    reduction: Number((Number(total) / explored).toFixed(2)),
    cpu_seconds: Number(secs.toFixed(2)),
  };
}

/** Executions per wall-clock second of the full 4-CPU exploration on `jobs` worker threads (1: this thread). */
export function benchJobs(workload: string, jobs: number): ExploreBench {
  const text = unmapWhileReading([2, 2, 2]);
  const s = parseScenario(text, `${workload}.yaml`);
  const t0 = performance.now();
  const r =
    (jobs > 1 ? exploreParallel(s, text, { jobs, limit: 1_000_000, reduce: false }) : undefined) ??
    exploreScenario(s, { limit: 1_000_000, reduce: false });
  const secs = (performance.now() - t0) / 1000;
  return {
    workload,
    ops_per_s: Math.round(r.explored / secs),
    executions: r.explored,
    interleavings: Number(r.total),
    reduction: 1,
    cpu_seconds: Number(secs.toFixed(2)),
  };
}

export async function run(): Promise<ExploreBench[]> {
  benchExplore("warm-up", [3]);
  return [
    benchExplore("explore-bbm-12reads", [12]),
    benchExplore("explore-bbm-12reads-full", [12], false),
    benchExplore("explore-2cpu", [8]),
    benchExplore("explore-3cpu", [3, 3]),
    benchExplore("explore-4cpu", [2, 2, 2]),
    benchJobs("explore-4cpu-full-jobs1", 1),
    benchJobs("explore-4cpu-full-jobs2", 2),
    benchJobs("explore-4cpu-full-jobs4", 4),
  ];
}
