/**
 * Every execution of a litmus program, by re-running it with every sequence of answers to its
 * choices (stateless depth-first search over the choice tree; each run is cheap: memory is the
 * message log over the shared initial memory). Collects the distinct final states; bounded by
 * an execution limit and an optional time budget, in which case the result says so.
 */
import { type ExecResult, LitmusExecution, type LitmusSetup } from "./exec.js";
import type { FinalState } from "./outcome.js";
import { type TraceEntry, traceKey } from "./trace.js";

export interface StateCount {
  readonly state: FinalState;
  count: number;
  /**
   * Choice sequences of executions that end here, with distinct traces (at most
   * `samplesPerState`): record.ts replayChoices runs one of them again.
   */
  readonly samples: (readonly number[])[];
}

export type StopReason = "execution-limit" | "time-budget" | "step-bound" | "completion-bound";

export interface Enumeration {
  /** Distinct final states by key (see stateKey), in the order first seen. */
  readonly states: Map<string, StateCount>;
  /** Executions run (including those found inconsistent). */
  readonly executions: number;
  /** Executions whose choices were inconsistent (no final state). */
  readonly blocked: number;
  /** Undefined when every execution ran to its end. */
  readonly stopped: StopReason | undefined;
  /** Distinct execution traces (as Machine steps), at most `traceLimit` of them. */
  readonly traces: readonly (readonly TraceEntry[])[];
  /** More distinct traces existed than `traceLimit`. */
  readonly tracesTruncated: boolean;
}

export interface EnumerateOptions {
  readonly limit: number;
  readonly budgetMs?: number;
  readonly now?: () => number;
  /** Key of a final state: which registers and locations are observed. */
  readonly key: (s: FinalState) => string;
  /** Keep up to this many distinct execution traces (default 0: none). */
  readonly traceLimit?: number;
  /** Keep the choices of up to this many executions per final state, distinct by trace (default 0: none). */
  readonly samplesPerState?: number;
}

/** Depth-first choice oracle: replays a prefix, extends it with first answers, then backtracks. */
class ChoiceTree {
  private readonly path: number[] = [];
  private readonly width: number[] = [];
  private pos = 0;

  choose = (n: number): number => {
    const p = this.pos++;
    if (p < this.path.length) {
      if (this.width[p] !== n) throw new RangeError(`litmus: choice ${p} replayed with ${n} options, not ${this.width[p]}`);
      return this.path[p] as number;
    }
    this.path.push(0);
    this.width.push(n);
    return 0;
  };

  /** The answers the current execution was given. */
  answers(): number[] {
    return this.path.slice(0, this.pos);
  }

  /** Move to the next unexplored answer sequence; false when all are done. */
  next(): boolean {
    this.path.length = this.pos;
    this.width.length = this.pos;
    this.pos = 0;
    while (this.path.length > 0) {
      const i = this.path.length - 1;
      const v = (this.path[i] as number) + 1;
      if (v < (this.width[i] as number)) {
        this.path[i] = v;
        return true;
      }
      this.path.pop();
      this.width.pop();
    }
    return false;
  }
}

export function enumerateExecutions(setup: LitmusSetup, o: EnumerateOptions): Enumeration {
  const states = new Map<string, StateCount>();
  const tree = new ChoiceTree();
  const now = o.now ?? (() => performance.now());
  const start = o.budgetMs === undefined ? 0 : now();
  let executions = 0;
  let blocked = 0;
  let stopped: StopReason | undefined;
  const traces = new Map<string, readonly TraceEntry[]>();
  const traceLimit = o.traceLimit ?? 0;
  const perState = o.samplesPerState ?? 0;
  const sampled = new Map<string, Set<string>>();
  let tracesTruncated = false;
  for (;;) {
    if (executions >= o.limit) {
      stopped = "execution-limit";
      break;
    }
    if (o.budgetMs !== undefined && now() - start >= o.budgetMs) {
      stopped = "time-budget";
      break;
    }
    executions++;
    const r: ExecResult = new LitmusExecution(setup, tree.choose).run();
    if (r.kind === "blocked") blocked++;
    else if (r.kind === "bounded") stopped = "step-bound";
    else if (r.kind === "completion-bound") stopped = "completion-bound";
    else if (r.kind === "final") {
      const tk = traceLimit > 0 || perState > 0 ? traceKey(r.trace) : "";
      if (traceLimit > 0 && !traces.has(tk)) {
        if (traces.size < traceLimit) traces.set(tk, r.trace);
        else tracesTruncated = true;
      }
      const k = o.key(r.state);
      let e = states.get(k);
      if (e) e.count++;
      else {
        e = { state: r.state, count: 1, samples: [] };
        states.set(k, e);
      }
      if (perState > 0) {
        let seen = sampled.get(k);
        if (!seen) {
          seen = new Set();
          sampled.set(k, seen);
        }
        if (seen.size < perState && !seen.has(tk)) {
          seen.add(tk);
          e.samples.push(tree.answers());
        }
      }
    }
    if (!tree.next()) break;
  }
  return { states, executions, blocked, stopped, traces: [...traces.values()], tracesTruncated };
}
