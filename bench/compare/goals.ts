/**
 * The issue-14 goals measured on vmsa alone (no C twin), computed per round from one vmsa bench
 * run so both sides of a ratio see the same load:
 * - "ratio": time of `slow` over time of `fast` on the same tables (= ops of fast / ops of slow);
 * - "seconds": `units` / ops (ptdump-1tib: CPU seconds for 2^28 PTEs, 1 TiB of 4K pages);
 * - "ms": milliseconds per op (startup: CPU ms per CLI run).
 * `goal` is the bound the issue sets (at most), `floor` a reference workload shown beside it.
 */
import { median } from "./stats.js";

export type GoalRow =
  | { kind: "ratio"; name: string; slow: string; fast: string; goal: number }
  | { kind: "seconds"; name: string; workload: string; units: number; goal: number }
  | { kind: "ms"; name: string; workload: string; floor?: string };

export const GOAL_ROWS: readonly GoalRow[] = [
  { kind: "ratio", name: "audit/dump (4K, 8 GiB)", slow: "audit-4k", fast: "dump-4k", goal: 2 },
  { kind: "ratio", name: "audit/dump (fragmented)", slow: "audit-frag", fast: "dump-frag", goal: 2 },
  { kind: "ratio", name: "json/text (4K, 8 GiB)", slow: "json-4k", fast: "dump-4k", goal: 1.5 },
  { kind: "ratio", name: "json/text (fragmented)", slow: "json-frag", fast: "dump-frag", goal: 1.5 },
  { kind: "seconds", name: "ptdump of 1 TiB of 4K tables (s CPU)", workload: "ptdump-1tib", units: 2 ** 28, goal: 5 },
  { kind: "ms", name: "vmsa --version (ms CPU)", workload: "startup-version", floor: "startup-node" },
  { kind: "ms", name: "vmsa translate, one address (ms CPU)", workload: "startup-translate", floor: "startup-node" },
  {
    kind: "ms",
    name: "vmsa translate, one address of a real ELF core (ms CPU)",
    workload: "startup-translate-core",
    floor: "startup-node",
  },
];

export function goalWorkloads(rows: readonly GoalRow[]): string[] {
  const out = new Set<string>();
  for (const r of rows) {
    if (r.kind === "ratio") {
      out.add(r.slow);
      out.add(r.fast);
    } else {
      out.add(r.workload);
      if (r.kind === "ms" && r.floor) out.add(r.floor);
    }
  }
  return [...out];
}

export type GoalResult =
  | { kind: "measured"; row: GoalRow; median: number; min: number; max: number; rounds: number; floor?: number; met?: boolean }
  | { kind: "missing"; row: GoalRow };

/** One value per round from that round's samples (rounds where a workload is missing are skipped). */
function perRound(samples: ReadonlyMap<string, readonly number[]>, names: readonly string[], f: (ops: number[]) => number): number[] {
  const lists = names.map((n) => samples.get(n) ?? []);
  const rounds = Math.min(...lists.map((l) => l.length));
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) out.push(f(lists.map((l) => l[i] as number)));
  return out;
}

export function evaluateGoal(row: GoalRow, samples: ReadonlyMap<string, readonly number[]>): GoalResult {
  let values: number[];
  let floor: number | undefined;
  if (row.kind === "ratio") values = perRound(samples, [row.slow, row.fast], ([slow, fast]) => (fast as number) / (slow as number));
  else if (row.kind === "seconds") values = perRound(samples, [row.workload], ([ops]) => row.units / (ops as number));
  else {
    values = perRound(samples, [row.workload], ([ops]) => 1000 / (ops as number));
    if (row.floor) floor = median(perRound(samples, [row.floor], ([ops]) => 1000 / (ops as number)));
  }
  const m = median(values);
  if (m === undefined) return { kind: "missing", row };
  const goal = row.kind === "ms" ? undefined : row.goal;
  return {
    kind: "measured",
    row,
    median: m,
    min: Math.min(...values),
    max: Math.max(...values),
    rounds: values.length,
    ...(floor !== undefined ? { floor } : {}),
    ...(goal !== undefined ? { met: m <= goal } : {}),
  };
}
