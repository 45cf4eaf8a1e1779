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
import { makeReusable, type PreparedScenario, prepareScenario, runPrepared, type ScenarioResult } from "./run.js";

/** Interleavings `vmsa check --explore` runs at most unless --explore-limit says otherwise. */
export const DEFAULT_EXPLORE_LIMIT = 10_000;

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

/** How many interleavings scenario `s` has (before any reduction). */
export function interleavingsOf(s: Scenario): bigint {
  const sizes: number[] = [];
  for (const st of s.steps) sizes[st.cpu] = (sizes[st.cpu] ?? 0) + 1;
  return countInterleavings(sizes.filter((n) => n > 0));
}

export function exploreScenario(s: Scenario, opts: ExploreOptions = {}): ExploreResult {
  const limit = opts.limit ?? 1000;
  const budgetMs = opts.budgetMs;
  const now = opts.now ?? (() => performance.now());
  const search = new InterleavingSearch(s, opts.reduce !== false);
  const start = budgetMs === undefined ? 0 : now();
  const part = search.run([], {
    limit,
    outOfTime: budgetMs === undefined ? undefined : () => now() - start >= budgetMs,
    ...(opts.onRun !== undefined ? { onRun: opts.onRun } : {}),
  });
  return exploreResult(s, search, [part], limit, budgetMs);
}

/** What one part of the search (the subtree under a prefix) found. */
export interface SearchPart {
  readonly runs: number;
  /** Distinct findings in the order first seen (DFS order). */
  readonly findings: readonly ExploreFinding[];
  readonly stopped: ExploreStopReason | undefined;
  /** Choices skipped as equivalent to an order run (partial-order reduction). */
  readonly skipped: number;
}

/** The ExploreResult of parts of one search, in DFS order (a finding's first order is from the first part showing it). */
export function exploreResult(
  s: Scenario,
  search: InterleavingSearch,
  parts: readonly SearchPart[],
  limit: number,
  budgetMs: number | undefined,
  stoppedEarly?: ExploreStopReason,
): ExploreResult {
  const findings = new Map<string, ExploreFinding>();
  let runs = 0;
  let skipped = 0;
  let stopped = stoppedEarly;
  skipped += search.prefixSkipped.n;
  for (const p of parts) {
    runs += p.runs;
    skipped += p.skipped;
    stopped ??= p.stopped;
    for (const f of p.findings) {
      const key = findingKey(f.violation);
      const had = findings.get(key);
      if (had) had.count += f.count;
      else findings.set(key, { ...f });
    }
  }
  const common: ExploreCommon = {
    scenario: s,
    explored: runs,
    total: countInterleavings(search.queueSizes()),
    limit,
    budgetMs,
    reduced: skipped > 0,
  };
  if (findings.size > 0) return { ...common, verdict: "violations", findings: [...findings.values()], incomplete: stopped };
  if (stopped !== undefined) return { ...common, verdict: "inconclusive", reason: stopped };
  return { ...common, verdict: "clean" };
}

function findingKey(v: Violation): string {
  return `${v.rule}|${v.detail}|${v.step}|${v.cpu}`;
}

/**
 * The depth-first search over interleavings (each CPU's steps in program order), with
 * partial-order reduction (reduction.ts) when asked. A search can be cut into the subtrees
 * under prefixes (`prefixes`), run separately (worker threads) and merged in prefix order.
 */
export class InterleavingSearch {
  private readonly live: number[][];
  private readonly independent: ((a: number, b: number) => boolean) | undefined;
  private prepared: PreparedScenario | undefined;
  /** Choices `prefixes` skipped (partial-order reduction above the parts). */
  readonly prefixSkipped = { n: 0 };
  constructor(
    readonly s: Scenario,
    reduce: boolean,
  ) {
    const queues: number[][] = [];
    s.steps.forEach((st, i) => {
      while (queues.length <= st.cpu) queues.push([]);
      (queues[st.cpu] as number[]).push(i);
    });
    this.live = queues.filter((q) => q.length > 0);
    this.independent = reduce ? independence(s) : undefined;
  }

  queueSizes(): number[] {
    return this.live.map((q) => q.length);
  }

  /** The choices (queue numbers) allowed after `last` (from queue `lastQueue`) at positions `pos`. */
  private choices(pos: readonly number[], last: number | undefined, lastQueue: number, skipped: { n: number }): number[] {
    const out: number[] = [];
    for (let q = 0; q < this.live.length; q++) {
      const queue = this.live[q] as number[];
      const p = pos[q] as number;
      if (p >= queue.length) continue;
      const next = queue[p] as number;
      // Only the lexicographically least order of two adjacent commuting steps (reduction.ts).
      if (this.independent !== undefined && last !== undefined && lastQueue > q && this.independent(last, next)) {
        skipped.n++;
        continue;
      }
      out.push(q);
    }
    return out;
  }

  /** Queue of step `i`. */
  private queueOf(i: number): number {
    return this.live.findIndex((q) => q.includes(i));
  }

  /** Prefixes (step indices) in DFS order whose subtrees cover the search: at least `want` of them when the tree allows. */
  prefixes(want: number): number[][] {
    let level: number[][] = [[]];
    const total = this.s.steps.length;
    while (level.length < want && (level[0]?.length ?? total) < total) {
      const next: number[][] = [];
      for (const pre of level) {
        const pos = this.live.map(() => 0);
        for (const i of pre) pos[this.queueOf(i)] = (pos[this.queueOf(i)] as number) + 1;
        const last = pre[pre.length - 1];
        const qs = this.choices(pos, last, last === undefined ? -1 : this.queueOf(last), this.prefixSkipped);
        for (const q of qs) next.push([...pre, (this.live[q] as number[])[pos[q] as number] as number]);
      }
      level = next;
    }
    return level;
  }

  /** Run every interleaving under `prefix` (0-based step indices) up to `limit` runs. */
  run(
    prefix: readonly number[],
    o: { limit: number; outOfTime: (() => boolean) | undefined; onRun?: (order: readonly number[], r: ScenarioResult) => void },
  ): SearchPart {
    // Built once: each interleaving rolls the memory back and reuses the first machine's table index.
    if (this.prepared === undefined) {
      this.prepared = prepareScenario(this.s);
      makeReusable(this.prepared);
    }
    const prepared = this.prepared;
    const pos = this.live.map(() => 0);
    const order: number[] = [...prefix];
    for (const i of prefix) pos[this.queueOf(i)] = (pos[this.queueOf(i)] as number) + 1;
    const lastStep = prefix[prefix.length - 1];
    let lastQueue = lastStep === undefined ? -1 : this.queueOf(lastStep);
    const skipped = { n: 0 };
    const findings = new Map<string, ExploreFinding>();
    let runs = 0;
    let stopped: ExploreStopReason | undefined;
    const total = this.s.steps.length;
    const visit = (): void => {
      if (runs >= o.limit) {
        stopped = "interleaving-limit";
        return;
      }
      if (order.length === total) {
        if (o.outOfTime?.()) {
          stopped = "time-budget";
          return;
        }
        runs++;
        const r = runPrepared(prepared, { order });
        o.onRun?.(order, r);
        for (const v of r.reports) {
          const key = findingKey(v);
          const f = findings.get(key);
          if (f) f.count++;
          else findings.set(key, { violation: v, order: order.map((x) => x + 1), count: 1 });
        }
        return;
      }
      const last = order[order.length - 1];
      for (const q of this.choices(pos, last, lastQueue, skipped)) {
        const p = pos[q] as number;
        order.push((this.live[q] as number[])[p] as number);
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
    return { runs, findings: [...findings.values()], stopped, skipped: skipped.n };
  }
}
