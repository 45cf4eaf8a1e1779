/**
 * Which bench module produces which workloads. A module produces all of its workloads from one
 * run, so asking for any one of them runs the whole module (the others are then not printed).
 */
export interface WorkloadModule {
  file: string;
  workloads: readonly string[];
}

export const WORKLOAD_MODULES: readonly WorkloadModule[] = [
  { file: "walk.js", workloads: ["walk-4k-random"] },
  { file: "walk-s12.js", workloads: ["walk-s12-4k-random"] },
  { file: "dump.js", workloads: ["dump-linux", "dump-aliased"] },
  { file: "machine.js", workloads: ["check-throughput"] },
  {
    file: "kernel.js",
    workloads: ["map-4k-pages", "map-4k-pages-checked", "map-1t-blocks", "map-1t-blocks-checked"],
  },
  { file: "find-tables.js", workloads: ["find-tables-sparse-512m"] },
  { file: "lazy-dump.js", workloads: ["sparse-dump-raw", "sparse-dump-elf", "sparse-dump-kdump", "sparse-dump-gz"] },
  { file: "trace-replay.js", workloads: ["trace-replay-boot"] },
  {
    file: "report.js",
    workloads: ["dump-4k", "audit-4k", "json-4k", "dump-frag", "audit-frag", "json-frag", "ptdump-1tib"],
  },
  { file: "diff.js", workloads: ["diff-4k-few", "diff-4k-many"] },
  { file: "startup.js", workloads: ["startup-node", "startup-version", "startup-translate", "startup-translate-core"] },
  {
    file: "explore.js",
    workloads: [
      "explore-bbm-12reads",
      "explore-bbm-12reads-full",
      "explore-2cpu",
      "explore-3cpu",
      "explore-4cpu",
      "explore-4cpu-full-jobs1",
      "explore-4cpu-full-jobs2",
      "explore-4cpu-full-jobs4",
    ],
  },
];

export function allWorkloads(): string[] {
  return WORKLOAD_MODULES.flatMap((m) => m.workloads);
}

/** A name selects a workload equal to it or starting with it (`map-` selects every map workload). */
export function matchesName(workload: string, name: string): boolean {
  return name !== "" && workload.startsWith(name);
}

/** The workloads a name selects: the one it names exactly, else every one it is a prefix of. */
export function resolveName(known: readonly string[], name: string): string[] {
  if (known.includes(name)) return [name];
  return known.filter((w) => matchesName(w, name));
}

export type Selection =
  | { kind: "selected"; workloads: Set<string>; modules: WorkloadModule[] }
  | { kind: "unknown"; name: string; known: string[] };

/** No names: every workload. Otherwise the workloads each name resolves to; a name matching none is unknown. */
export function selectWorkloads(names: readonly string[]): Selection {
  const known = allWorkloads();
  const workloads = new Set<string>();
  for (const name of names) {
    const hit = resolveName(known, name);
    if (hit.length === 0) return { kind: "unknown", name, known };
    for (const w of hit) workloads.add(w);
  }
  if (names.length === 0) for (const w of known) workloads.add(w);
  const modules = WORKLOAD_MODULES.filter((m) => m.workloads.some((w) => workloads.has(w)));
  return { kind: "selected", workloads, modules };
}
