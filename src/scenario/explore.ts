/**
 * `--explore`: run a small multi-CPU scenario under every interleaving of its CPUs' steps
 * (each CPU's own steps stay in program order), bounded by an interleaving limit and an optional
 * time budget, and collect every distinct violation with the first interleaving that shows it.
 *
 * A bound that stops the search before every interleaving ran makes the result inconclusive:
 * the interleavings not run may break rules, so "no violation seen" is never reported as clean.
 */
import type { Violation } from "../machine/types.js";
import type { Scenario } from "./format.js";
import { independence } from "./reduction.js";
import { makeReusable, prepareScenario, runPrepared, type ScenarioResult } from "./run.js";

export interface ExploreFinding {
  readonly violation: Violation;
  /** Scenario step numbers (1-based) in the executed order. */
  readonly order: readonly number[];
  /** How many explored interleavings show it. */
  count: number;
}

/** Why an exploration stopped before running every interleaving. */
export type ExploreStopReason = "interleaving-limit" | "time-budget";

interface ExploreCommon {
  readonly scenario: Scenario;
  /** Interleavings run (with partial-order reduction, one per class of equivalent ones). */
  readonly explored: number;
  /** Whether partial-order reduction skipped interleavings equivalent to ones run (reduction.ts). */
  readonly reduced: boolean;
  /** Interleavings there are in all (the multinomial coefficient of the CPUs' step counts). */
  readonly total: bigint;
  /** The interleaving limit the run had. */
  readonly limit: number;
  /** The time budget the run had, in milliseconds (undefined: none). */
  readonly budgetMs: number | undefined;
}

/** Every interleaving ran and none broke a rule. */
export interface ExploreClean extends ExploreCommon {
  readonly verdict: "clean";
}

/** Some interleaving broke a rule; `incomplete` says why not every interleaving ran, if so. */
export interface ExploreViolations extends ExploreCommon {
  readonly verdict: "violations";
  readonly findings: readonly ExploreFinding[];
  readonly incomplete: ExploreStopReason | undefined;
}

/** No interleaving run broke a rule, but a bound stopped the search before all of them ran. */
export interface ExploreInconclusive extends ExploreCommon {
  readonly verdict: "inconclusive";
  readonly reason: ExploreStopReason;
}

export type ExploreResult = ExploreClean | ExploreViolations | ExploreInconclusive;

export interface ExploreOptions {
  /** Stop after this many interleavings (default 1000). */
  readonly limit?: number;
  /** Stop starting new interleavings once this many milliseconds have passed (default: none). */
  readonly budgetMs?: number;
  /** Clock in milliseconds (default performance.now); injectable so tests need no timing. */
  readonly now?: () => number;
  /** Partial-order reduction: skip interleavings equivalent to one already run (default true). */
  readonly reduce?: boolean;
  /** Called with each interleaving run (0-based step indices, valid during the call) and its result. */
  readonly onRun?: (order: readonly number[], result: ScenarioResult) => void;
}

/** Number of interleavings of queues of these sizes (the multinomial coefficient), exactly. */
export function countInterleavings(sizes: readonly number[]): bigint {
  let total = 1n;
  let n = 0n;
  for (const k of sizes) {
    // Multiply by C(n + k, k) one factor at a time; each partial product is an integer.
    for (let i = 1n; i <= BigInt(k); i++) {
      n++;
      total = (total * n) / i;
    }
  }
  return total;
}

export function exploreScenario(s: Scenario, opts: ExploreOptions = {}): ExploreResult {
  const limit = opts.limit ?? 1000;
  const budgetMs = opts.budgetMs;
  const now = opts.now ?? (() => performance.now());
  // Built once: each interleaving rolls the memory back and reuses the first machine's table index.
  const prepared = prepareScenario(s);
  makeReusable(prepared);
  const queues: number[][] = [];
  s.steps.forEach((st, i) => {
    while (queues.length <= st.cpu) queues.push([]);
    (queues[st.cpu] as number[]).push(i);
  });
  const live = queues.filter((q) => q.length > 0);
  const independent = opts.reduce === false ? undefined : independence(s);
  const pos = live.map(() => 0);
  const order: number[] = [];
  /** The queue the last step in `order` came from (-1: none). */
  let lastQueue = -1;
  /** Choices skipped as equivalent to an order run. */
  let skipped = 0;
  const findings = new Map<string, ExploreFinding>();
  const start = budgetMs === undefined ? 0 : now();
  let runs = 0;
  let stopped: ExploreStopReason | undefined;
  const total = s.steps.length;
  const visit = (): void => {
    if (runs >= limit) {
      stopped = "interleaving-limit";
      return;
    }
    if (order.length === total) {
      if (budgetMs !== undefined && now() - start >= budgetMs) {
        stopped = "time-budget";
        return;
      }
      runs++;
      const r = runPrepared(prepared, { order });
      opts.onRun?.(order, r);
      for (const v of r.reports) {
        const key = `${v.rule}|${v.detail}|${v.step}|${v.cpu}`;
        const f = findings.get(key);
        if (f) f.count++;
        else findings.set(key, { violation: v, order: order.map((x) => x + 1), count: 1 });
      }
      return;
    }
    const last = order[order.length - 1];
    for (let q = 0; q < live.length; q++) {
      const queue = live[q] as number[];
      const p = pos[q] as number;
      if (p >= queue.length) continue;
      const next = queue[p] as number;
      // Only the lexicographically least order of two adjacent commuting steps (reduction.ts).
      if (independent !== undefined && last !== undefined && lastQueue > q && independent(last, next)) {
        skipped++;
        continue;
      }
      order.push(next);
      const prevQueue = lastQueue;
      lastQueue = q;
      pos[q] = p + 1;
      visit();
      lastQueue = prevQueue;
      pos[q] = p;
      order.pop();
      if (stopped !== undefined) return;
    }
  };
  visit();
  const common: ExploreCommon = {
    scenario: s,
    explored: runs,
    total: countInterleavings(live.map((q) => q.length)),
    limit,
    budgetMs,
    reduced: skipped > 0,
  };
  if (findings.size > 0) return { ...common, verdict: "violations", findings: [...findings.values()], incomplete: stopped };
  if (stopped !== undefined) return { ...common, verdict: "inconclusive", reason: stopped };
  return { ...common, verdict: "clean" };
}
