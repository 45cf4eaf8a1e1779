/**
 * Which vmsa workload is measured against which workload of the C yardstick
 * (../shared/bench/ptbench-fair.c): same shape, same work per op.
 */
import { matchesName } from "../workloads.js";

export interface WorkloadPair {
  vmsa: string;
  c: string;
  /**
   * "fresh": the C workload times first-touch pages (a new mmap per rep), so vmsa's workload runs
   * in a child whose table storage is fresh too (children.ts); absent: the default environment.
   */
  memory?: "fresh";
  /**
   * A second C workload the vmsa median is also divided by, printed beside the pair's ratio with
   * `note` (informative: the pair's ratio against `c` stays the goal row).
   */
  also?: { c: string; note: string };
}

export const WORKLOAD_PAIRS: readonly WorkloadPair[] = [
  {
    vmsa: "walk-4k-random",
    c: "walk-full",
    also: {
      c: "walk-full-sparse",
      note: "C's walk through a direct-mapped frame cache, the closer analogue of vmsa's sparse PhysMem; not the goal row",
    },
  },
  { vmsa: "map-4k-pages", c: "map-4k-pages-linux", memory: "fresh" },
  { vmsa: "map-1t-blocks", c: "map-1t-blocks-linux", memory: "fresh" },
];

export type PairSelection = { kind: "selected"; pairs: WorkloadPair[] } | { kind: "unknown"; name: string; known: string[] };

/**
 * No names: every pair. A name (or prefix) selects the pairs whose vmsa or C workload it matches,
 * exactly as `npm run bench` selects workloads; a name matching no pair is unknown.
 */
export function selectPairs(names: readonly string[], pairs: readonly WorkloadPair[] = WORKLOAD_PAIRS): PairSelection {
  if (names.length === 0) return { kind: "selected", pairs: [...pairs] };
  const picked = new Set<WorkloadPair>();
  for (const name of names) {
    const exact = pairs.filter((p) => p.vmsa === name || p.c === name);
    const hit = exact.length > 0 ? exact : pairs.filter((p) => matchesName(p.vmsa, name) || matchesName(p.c, name));
    if (hit.length === 0) return { kind: "unknown", name, known: pairs.map((p) => p.vmsa) };
    for (const p of hit) picked.add(p);
  }
  return { kind: "selected", pairs: pairs.filter((p) => picked.has(p)) };
}
