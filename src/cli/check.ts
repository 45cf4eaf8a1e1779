/**
 * `vmsa check FILE...`: run scenario files on the machine model and report every rule they
 * break. Exit status: 0 clean, 1 violations found (or, with --expect, an expectation unmet),
 * 2 bad input.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { ScenarioError } from "../scenario/build.js";
import { type ExploreResult, exploreScenario } from "../scenario/explore.js";
import { parseScenario } from "../scenario/format.js";
import { exploreToJson, renderExploreText, renderText, resultToJson } from "../scenario/render.js";
import { runScenario, type ScenarioResult } from "../scenario/run.js";

interface CheckOptions {
  format?: string;
  outcomes?: boolean;
  expect?: boolean;
  explore?: boolean;
  /** Maximum number of interleavings --explore runs. */
  exploreLimit?: string;
}

/** Run scenario files; returns the exit status and writes the report to `out`. */
export function checkFiles(files: readonly string[], opts: CheckOptions, out: (s: string) => void, err: (s: string) => void): number {
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json") {
    err(`vmsa check: --format must be text or json (got "${format}")\n`);
    return 2;
  }
  const results: ScenarioResult[] = [];
  const explored: ExploreResult[] = [];
  let limit = 0;
  if (opts.explore) {
    limit = opts.exploreLimit === undefined ? 10000 : Number(opts.exploreLimit);
    if (!Number.isInteger(limit) || limit < 1) {
      err(`vmsa check: --explore-limit takes a positive number of interleavings (got "${String(opts.exploreLimit)}")\n`);
      return 2;
    }
  }
  let bad = false;
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch (e) {
      err(`vmsa: error: ${f}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`);
      bad = true;
      continue;
    }
    try {
      const sc = parseScenario(text, f);
      if (limit > 0) {
        const e = exploreScenario(sc, limit);
        explored.push(e);
        if (format === "text") out(renderExploreText(e));
        continue;
      }
      const r = runScenario(sc);
      results.push(r);
      if (format === "text") out(renderText(r, { outcomes: opts.outcomes ?? false }));
    } catch (e) {
      if (e instanceof ScenarioError || e instanceof RangeError || (e instanceof Error && "code" in e)) {
        err(`vmsa: error: ${(e as Error).message}\n`);
        bad = true;
        continue;
      }
      throw e;
    }
  }
  if (format === "json") {
    const data = limit > 0 ? explored.map(exploreToJson) : results.map((r) => resultToJson(r, { outcomes: opts.outcomes ?? false }));
    out(`${JSON.stringify(data, null, 2)}\n`);
  }
  if (bad) return 2;
  if (limit > 0) return explored.some((e) => e.findings.length > 0) ? 1 : 0;
  if (opts.expect) return results.every((r) => r.hasExpectations && r.expectationFailures.length === 0) ? 0 : 1;
  return results.some((r) => r.reports.length > 0) ? 1 : 0;
}

export function registerCheckCommand(program: Command): void {
  program
    .command("check")
    .description("run scenario files (page-table writes, barriers, TLBIs, accesses on several CPUs) and report broken rules")
    .argument("<files...>", "scenario files (.yaml or .json)")
    .option("--format <fmt>", "text or json", "text")
    .option("--outcomes", "print the set of outcomes the architecture allows for every access")
    .option("--expect", "judge each scenario by its own `expect` block: exit 0 when every expectation holds")
    .option("--explore", "run every interleaving of the CPUs' steps (each CPU's order kept) and report what any of them breaks")
    .option("--explore-limit <n>", "at most this many interleavings (default 10000)")
    .addHelpText(
      "after",
      `
Exit status: 0 clean, 1 violations (with --expect: an unmet expectation), 2 bad input.
Examples:
  $ vmsa check examples/scenarios/bbm-oa-bad.yaml
  $ vmsa check --outcomes --format json examples/scenarios/*.yaml
  $ vmsa check --expect examples/scenarios/*.yaml
  $ vmsa check --explore examples/scenarios/explore-shootdown.yaml`,
    )
    .action((files: string[], opts: CheckOptions) => {
      process.exitCode = checkFiles(
        files,
        opts,
        (s) => process.stdout.write(s),
        (s) => process.stderr.write(s),
      );
    });
}
