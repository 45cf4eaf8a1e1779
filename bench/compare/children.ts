/**
 * Which vmsa bench children bench:compare starts each round, and with which environment.
 *
 * The C yardstick's map workloads (ptbench-fair.c) map a new 64 MiB anonymous region per rep: every
 * table page is first touched (a page fault, the kernel zeroing it) inside the timer. vmsa's map
 * workloads reserve their table arena (a typed array, so calloc through V8) before the timer. With
 * glibc's defaults that arena is sometimes a recycled heap chunk that calloc zeroes (touches)
 * before the timer and sometimes fresh pages faulted inside it, so vmsa's figure was bimodal
 * (map-1t-blocks 143M–438M in one run) and not comparable to C's.
 *
 * Fix: those workloads run in their own child with MALLOC_MMAP_THRESHOLD_ set. A fixed threshold
 * also turns off glibc's dynamic one (which rises after the first free and sends later arenas back
 * to the recycled heap), so every allocation of FRESH_MMAP_THRESHOLD bytes or more — the table
 * arena, 4–8 MiB — is a new anonymous mmap: calloc does not touch it (its pages are known zero),
 * its pages fault on first touch inside the timer as C's do, and freeing it unmaps it, so no later
 * rep gets it back touched. Only that child gets the variable: the other workloads (walk, goals)
 * keep the allocator behaviour they were measured with, so they are not distorted by it.
 * The same child runs node with FRESH_NODE_ARGS: --expose-gc, so bench/kernel.ts runs a minor GC
 * before each rep's timer and the collector work left by earlier reps' garbage is not timed (C
 * has none); --no-concurrent-array-buffer-sweeping, so that GC frees the previous rep's arena
 * (an munmap of its 1–2 Ki touched pages) itself, before the timer, instead of a helper thread
 * doing it during the next rep (process CPU time counts every thread; the C program unmaps its
 * arena outside its timer). Measured: map-1t-blocks medians 2.64/2.70/2.67 ms with the flag,
 * 4.24/2.53/4.51 ms without, interleaved runs at load 7.
 */
import type { WorkloadPair } from "./pairs.js";

/** glibc's mmap threshold for the fresh-memory child: below every table arena the map benches reserve. */
export const FRESH_MMAP_THRESHOLD = 1024 * 1024;

/** node options of a child running fresh-memory workloads. */
export const FRESH_NODE_ARGS: readonly string[] = ["--expose-gc", "--no-concurrent-array-buffer-sweeping"];

/** Environment variables added for a child running fresh-memory workloads. */
export const FRESH_MEMORY_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: String(FRESH_MMAP_THRESHOLD) };

export interface VmsaChild {
  /** Workload names passed to the child (bench/run.js). */
  names: string[];
  /** node options before the script. */
  nodeArgs: string[];
  /** Variables added to the parent's environment. */
  env: Readonly<Record<string, string>>;
}

/**
 * The children of one round: the fresh-memory pairs' vmsa workloads in one child with
 * FRESH_MEMORY_ENV and FRESH_NODE_ARGS, every other workload (other pairs, then `others`) in one child with no
 * addition. A child with no workload is not started.
 */
export function vmsaChildren(pairs: readonly WorkloadPair[], others: readonly string[]): VmsaChild[] {
  const fresh = pairs.filter((p) => p.memory === "fresh").map((p) => p.vmsa);
  const plain = [...pairs.filter((p) => p.memory !== "fresh").map((p) => p.vmsa), ...others];
  const out: VmsaChild[] = [];
  if (plain.length > 0) out.push({ names: plain, nodeArgs: [], env: {} });
  if (fresh.length > 0) out.push({ names: fresh, nodeArgs: [...FRESH_NODE_ARGS], env: FRESH_MEMORY_ENV });
  return out;
}
