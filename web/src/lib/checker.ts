/**
 * The checker views' data (runs in the worker, pure): every execution of a scenario on the
 * litmus model exactly as `vmsa check --explore --outcomes --format json` reports it (the same
 * runLitmus, limit and litmusToJson), plus a few recorded executions per final state, and one of
 * them run again with its reads-from (src/scenario/litmus.ts replayLitmus).
 * A herd7 `.litmus` file (told by its name) is read as the CLI reads it (src/scenario/herd-file.ts),
 * and the limits are the CLI's --explore-limit / --explore-budget / --explore-full, read by its reader.
 */

import { parseExploreBounds } from "../../../src/cli/explore-bounds.js";
import type { ExecEvent } from "../../../src/machine/litmus/record.js";
import { exploreScenario } from "../../../src/scenario/explore.js";
import { parseScenario } from "../../../src/scenario/format.js";
import { asHerdQuestion, isHerdFile, scenarioTextOf } from "../../../src/scenario/herd-file.js";
import { isLitmusScenario, replayLitmus, runLitmus } from "../../../src/scenario/litmus.js";
import { type LitmusJson, litmusStatus, litmusToJson } from "../../../src/scenario/litmus-render.js";
import { renderExploreText } from "../../../src/scenario/render.js";

/** Executions (distinct interleavings) offered per final state. */
export const SAMPLES_PER_STATE = 12;

/**
 * The explore-limit inputs as typed (undefined or blank: the option not given):
 * `limit` is --explore-limit, `budget` --explore-budget, `full` --explore-full.
 */
export interface ExploreLimits {
  readonly limit?: string;
  readonly budget?: string;
  readonly full?: boolean;
}

function boundsOf(limits: ExploreLimits | undefined) {
  const given = (t: string | undefined) => (t === undefined || t.trim() === "" ? undefined : t);
  return parseExploreBounds(given(limits?.limit), given(limits?.budget));
}

export interface CheckerStep {
  readonly step: number;
  readonly cpu: number;
  readonly text: string;
}

export interface CheckerOutcomes {
  /** The CLI's JSON object for this file (`vmsa check --explore --outcomes --format json`). */
  readonly json: LitmusJson;
  /** The CLI's exit status for it: 0 as claimed / clean, 1 contradicted / findings, 3 inconclusive. */
  readonly status: 0 | 1 | 3;
  /** Per final state (same order as json.states): its text as the CLI prints it, and recorded executions. */
  readonly keys: readonly string[];
  readonly samples: readonly (readonly (readonly number[])[])[];
  readonly steps: readonly CheckerStep[];
  /** Whether plain `vmsa check` also runs this file on the litmus model (values, registers, a final condition). */
  readonly litmusFile: boolean;
  readonly runMs: number;
}

function stepsOf(text: string, file: string): { s: ReturnType<typeof parseScenario>; steps: CheckerStep[] } {
  const s = parseScenario(scenarioTextOf(text, file), file);
  return { s, steps: s.steps.map((x, i) => ({ step: i + 1, cpu: x.cpu, text: x.text.replace(/^\s*(P|cpu)\d+(\.F)?\s*:\s*/i, "") })) };
}

export function exploreOutcomes(text: string, file: string, limits?: ExploreLimits): CheckerOutcomes {
  const t0 = performance.now();
  const b = boundsOf(limits);
  const { s, steps } = stepsOf(text, file);
  const run = runLitmus(s, {
    limit: b.litmusLimit,
    ...(b.budgetMs !== undefined ? { budgetMs: b.budgetMs } : {}),
    samplesPerState: SAMPLES_PER_STATE,
  });
  // A herd test's condition is herd's question, as `vmsa check FILE.litmus` takes it.
  const r = isHerdFile(file) ? asHerdQuestion(run) : run;
  return {
    json: litmusToJson(r),
    status: litmusStatus(r),
    keys: r.states.map((x) => x.key),
    samples: r.states.map((x) => x.samples),
    steps,
    litmusFile: isLitmusScenario(s),
    runMs: performance.now() - t0,
  };
}

export interface Interleaving {
  readonly kind: "final" | "blocked" | "bounded" | "completion-bound";
  readonly key: string | undefined;
  readonly events: readonly ExecEvent[];
}

export function replayInterleaving(text: string, file: string, choices: readonly number[]): Interleaving {
  const { s } = stepsOf(text, file);
  const r = replayLitmus(s, choices);
  return { kind: r.kind, key: r.key, events: r.events };
}

/** `vmsa check --explore` of a scenario: its text report, exit status and each finding's first interleaving. */
export interface InterleavingSearch {
  readonly verdict: "clean" | "violations" | "inconclusive";
  /** The CLI's text report, as it prints it. */
  readonly text: string;
  readonly status: 0 | 1 | 3;
  readonly findings: readonly {
    readonly rule: string;
    readonly step: number;
    readonly cpu: number;
    readonly message: string;
    readonly count: number;
    /** Scenario step numbers (1-based) in the order the first interleaving showing it ran them. */
    readonly order: readonly number[];
  }[];
}

export function exploreInterleavings(text: string, file: string, limits?: ExploreLimits): InterleavingSearch {
  const b = boundsOf(limits);
  const s = parseScenario(scenarioTextOf(text, file), file);
  const e = exploreScenario(s, {
    limit: b.limit,
    ...(b.budgetMs !== undefined ? { budgetMs: b.budgetMs } : {}),
    reduce: limits?.full !== true,
  });
  const findings =
    e.verdict === "violations"
      ? e.findings.map((f) => ({
          rule: f.violation.rule,
          step: f.violation.step,
          cpu: f.violation.cpu,
          message: f.violation.message,
          count: f.count,
          order: f.order,
        }))
      : [];
  return {
    verdict: e.verdict,
    text: renderExploreText(e),
    status: e.verdict === "violations" ? 1 : e.verdict === "inconclusive" ? 3 : 0,
    findings,
  };
}
