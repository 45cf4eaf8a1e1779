/**
 * `--explore`: run a small multi-CPU scenario under every interleaving of its CPUs' steps
 * (each CPU's own steps stay in program order), bounded by a limit, and collect every distinct
 * violation with the first interleaving that shows it.
 */
import type { Violation } from "../machine/types.js";
import type { Scenario } from "./format.js";
import { runScenario } from "./run.js";

export interface ExploreFinding {
  readonly violation: Violation;
  /** Scenario step numbers (1-based) in the executed order. */
  readonly order: readonly number[];
  /** How many explored interleavings show it. */
  count: number;
}

export interface ExploreResult {
  readonly scenario: Scenario;
  readonly interleavings: number;
  readonly truncated: boolean;
  readonly findings: readonly ExploreFinding[];
}

/** Number of interleavings (multinomial coefficient), capped at `cap`. */
export function countInterleavings(sizes: readonly number[], cap = Number.MAX_SAFE_INTEGER): number {
  let total = 1;
  let n = 0;
  for (const k of sizes) {
    for (let i = 1; i <= k; i++) {
      n++;
      total = (total * n) / i;
      if (total > cap) return cap + 1;
    }
  }
  return Math.round(total);
}

export function exploreScenario(s: Scenario, limit = 1000): ExploreResult {
  const queues: number[][] = [];
  s.steps.forEach((st, i) => {
    while (queues.length <= st.cpu) queues.push([]);
    (queues[st.cpu] as number[]).push(i);
  });
  const live = queues.filter((q) => q.length > 0);
  const pos = live.map(() => 0);
  const order: number[] = [];
  const findings = new Map<string, ExploreFinding>();
  let runs = 0;
  let truncated = false;
  const total = s.steps.length;
  const visit = (): void => {
    if (runs >= limit) {
      truncated = true;
      return;
    }
    if (order.length === total) {
      runs++;
      const r = runScenario(s, { order });
      for (const v of r.reports) {
        const key = `${v.rule}|${v.detail}|${v.step}|${v.cpu}`;
        const f = findings.get(key);
        if (f) f.count++;
        else findings.set(key, { violation: v, order: order.map((x) => x + 1), count: 1 });
      }
      return;
    }
    for (let q = 0; q < live.length; q++) {
      const queue = live[q] as number[];
      const p = pos[q] as number;
      if (p >= queue.length) continue;
      order.push(queue[p] as number);
      pos[q] = p + 1;
      visit();
      pos[q] = p;
      order.pop();
      if (truncated) return;
    }
  };
  visit();
  return { scenario: s, interleavings: runs, truncated, findings: [...findings.values()] };
}
