/**
 * `vmsa check FILE...`: run scenario files on the machine model and report every rule they
 * break. Exit status: 0 clean, 1 violations found (or, with --expect, an expectation unmet),
 * 2 bad input, 3 inconclusive (--explore stopped by its interleaving limit or time budget
 * before every interleaving ran, and found no violation).
 */

import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { VmsaError } from "../arch/errors.js";
import { readTextFile, writeFileAtomic } from "../io/files.js";
import { PhysMem } from "../mem/physmem.js";
import { looksLikeCasemate, parseCasemate } from "../scenario/casemate-parse.js";
import { casemateStatus, casemateToJson, renderCasemateText } from "../scenario/casemate-render.js";
import { replayCasemate } from "../scenario/casemate-replay.js";
import { DEFAULT_EXPLORE_LIMIT, type ExploreResult, exploreScenario, interleavingsOf } from "../scenario/explore.js";
import { exploreParallel } from "../scenario/explore-parallel.js";
import { parseScenario } from "../scenario/format.js";
import { scenarioToHerd } from "../scenario/herd-export.js";
import { asHerdQuestion, isHerdFile, scenarioTextOf } from "../scenario/herd-file.js";
import { DEFAULT_LITMUS_LIMIT, isLitmusScenario, type LitmusResult, runLitmus } from "../scenario/litmus.js";
import { litmusStatus, litmusToJson, renderLitmusText } from "../scenario/litmus-render.js";
import { exploreToJson, renderExploreText, renderText, resultToJson } from "../scenario/render.js";
import { runScenario, type ScenarioResult } from "../scenario/run.js";
import { checkTrace } from "./check-trace.js";
import { UsageError } from "./common.js";
import { type ExploreBounds, parseExploreBounds } from "./explore-bounds.js";
import { exportTablesImage } from "./export-image.js";

interface CheckOptions {
  format?: string;
  outcomes?: boolean;
  expect?: boolean;
  explore?: boolean;
  /** Maximum number of interleavings --explore runs (decimal). */
  exploreLimit?: string;
  /** Wall-clock budget for --explore: `30s`, `2m`, `500ms`. */
  exploreBudget?: string;
  /** --explore without partial-order reduction: run every interleaving. */
  exploreFull?: boolean;
  /** Worker threads for --explore (decimal; default: one per core for large explorations). */
  jobs?: string;
  /** Write the scenario's final memory and CPU 0's registers as loadable tables into this directory. */
  exportImage?: string;
  /** Write the scenario as a herd7 AArch64 VMSA litmus test to this file. */
  exportLitmus?: string;
  /** A `vmsa record` trace to replay instead of scenario files. */
  trace?: string;
  systemMap?: string;
  /** Read every file as a Casemate trace (otherwise detected by content or a .casemate/.sexp name). */
  casemate?: boolean;
}

/** Validate the options; throws UsageError naming the option and what it takes. */
function exploreBounds(opts: CheckOptions): ExploreBounds | undefined {
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json") throw new UsageError(`--format: "${format}" is not text or json`);
  if (!opts.explore) {
    const stray = opts.exploreLimit !== undefined ? "--explore-limit" : opts.exploreBudget !== undefined ? "--explore-budget" : undefined;
    if (stray) throw new UsageError(`${stray} bounds --explore, which is not given`);
    return undefined;
  }
  // --expect judges one interleaving, the written order; --explore runs many. Refused, not ignored.
  // (--outcomes with --explore lists every reachable final state: the litmus model.)
  if (opts.expect)
    throw new UsageError("--expect judges the written order against the file's expect block; it does not combine with --explore");
  return parseExploreBounds(opts.exploreLimit, opts.exploreBudget);
}

/** One line, whatever the message holds. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ");
}

/**
 * Run scenario files; returns the exit status and writes the report to `out`, errors to `err`.
 * `now` is the clock --explore-budget is measured on (milliseconds; tests inject one).
 */
/** Explorations of at least this many interleavings use worker threads by default. */
const PARALLEL_FROM = 5000;

export function checkFiles(
  files: readonly string[],
  opts: CheckOptions,
  out: (s: string) => void,
  err: (s: string) => void,
  now?: () => number,
): number {
  const format = opts.format ?? "text";
  let bounds: ExploreBounds | undefined;
  try {
    bounds = exploreBounds(opts);
  } catch (e) {
    if (!(e instanceof VmsaError)) throw e;
    err(`vmsa: error: ${oneLine(e.message)}\n`);
    return 2;
  }
  let jobs = availableParallelism();
  if (opts.jobs !== undefined) {
    if (!/^[1-9][0-9]{0,3}$/.test(opts.jobs)) {
      err(`vmsa: error: --jobs: "${opts.jobs}" is not a positive decimal number of worker threads\n`);
      return 2;
    }
    jobs = Number(opts.jobs);
  }
  if (opts.exportLitmus !== undefined && (files.length !== 1 || bounds !== undefined)) {
    err("vmsa: error: --export-litmus: give exactly one scenario file, without --explore\n");
    return 2;
  }
  if (opts.exportImage !== undefined && (files.length !== 1 || bounds !== undefined)) {
    err("vmsa: error: --export-image: give exactly one scenario file, without --explore\n");
    return 2;
  }
  const results: ScenarioResult[] = [];
  const explored: ExploreResult[] = [];
  const litmus: LitmusResult[] = [];
  const casemate: Record<string, unknown>[] = [];
  const casemateStatuses: number[] = [];
  let bad = false;
  for (const f of files) {
    try {
      // A directory, a missing file or a binary one is one line naming it (FileError).
      const name = f === "-" ? "stdin" : f;
      const text = readTextFile(f, "scenario");
      // Casemate's s-expression traces (pKVM stage-2 / EL2 table maintenance) replay on the machine.
      if (opts.casemate || /\.(casemate|sexp)$/i.test(f) || looksLikeCasemate(text)) {
        const cr = replayCasemate(parseCasemate(text, name));
        casemateStatuses.push(casemateStatus(cr));
        if (format === "json") casemate.push(casemateToJson(cr));
        else out(renderCasemateText(cr));
        continue;
      }
      // herd7 litmus files (.litmus) are read as scenarios on the litmus model (herd-import.ts).
      const herd = isHerdFile(f);
      const scenarioText = scenarioTextOf(text, name);
      const sc = parseScenario(scenarioText, name);
      if (opts.exportLitmus !== undefined) writeFileAtomic(opts.exportLitmus, scenarioToHerd(sc), "--export-litmus");
      // Values, registers and final conditions, or every final state: the litmus model.
      if (isLitmusScenario(sc) || (bounds !== undefined && opts.outcomes)) {
        const r = runLitmus(sc, {
          limit: bounds !== undefined ? bounds.litmusLimit : DEFAULT_LITMUS_LIMIT,
          ...(bounds?.budgetMs !== undefined ? { budgetMs: bounds.budgetMs } : {}),
          ...(now ? { now } : {}),
        });
        // A herd test's condition is a question (herd answers Allowed / Forbidden / Required), not a claim.
        litmus.push(herd ? asHerdQuestion(r) : r);
        if (format === "text") out(renderLitmusText(herd ? asHerdQuestion(r) : r, { outcomes: opts.outcomes ?? false }));
        continue;
      }
      if (bounds !== undefined) {
        const reduce = opts.exploreFull !== true;
        // Worker threads for large explorations (or when --jobs asks); the result is the same.
        const parallel =
          jobs > 1 && now === undefined && (opts.jobs !== undefined || interleavingsOf(sc) >= PARALLEL_FROM)
            ? exploreParallel(sc, scenarioText, {
                jobs,
                limit: bounds.limit,
                ...(bounds.budgetMs !== undefined ? { budgetMs: bounds.budgetMs } : {}),
                reduce,
              })
            : undefined;
        const e =
          parallel ??
          exploreScenario(sc, {
            limit: bounds.limit,
            ...(bounds.budgetMs !== undefined ? { budgetMs: bounds.budgetMs } : {}),
            ...(now ? { now } : {}),
            reduce,
          });
        explored.push(e);
        if (format === "text") out(renderExploreText(e));
        continue;
      }
      const mem = new PhysMem();
      const r = runScenario(sc, { mem });
      if (opts.exportImage !== undefined) {
        exportTablesImage(opts.exportImage, mem, { ...sc.regs, ...(sc.cpuRegs[0] ?? {}) }, `vmsa check ${f}: final memory`);
      }
      results.push(r);
      if (format === "text") out(renderText(r, { outcomes: opts.outcomes ?? false }));
    } catch (e) {
      if (e instanceof VmsaError || e instanceof RangeError || (e instanceof Error && "code" in e)) {
        err(`vmsa: error: ${oneLine((e as Error).message)}\n`);
        bad = true;
        continue;
      }
      throw e;
    }
  }
  if (format === "json") {
    const data = [
      ...(bounds !== undefined ? explored.map(exploreToJson) : results.map((r) => resultToJson(r, { outcomes: opts.outcomes ?? false }))),
      ...litmus.map(litmusToJson),
      ...casemate,
    ];
    out(`${JSON.stringify(data, null, 2)}\n`);
  }
  if (bad) return 2;
  const lit = [...litmus.map(litmusStatus), ...casemateStatuses];
  if (lit.includes(1)) return 1;
  if (bounds !== undefined) {
    // A violation seen is a finding even when the search was cut short; otherwise a cut-short
    // search is inconclusive, never clean.
    if (explored.some((e) => e.verdict === "violations")) return 1;
    return explored.some((e) => e.verdict === "inconclusive") || lit.includes(3) ? 3 : 0;
  }
  if (opts.expect && results.length > 0 && !results.every((r) => r.hasExpectations && r.expectationFailures.length === 0)) return 1;
  if (!opts.expect && results.some((r) => r.reports.length > 0)) return 1;
  return lit.includes(3) ? 3 : 0;
}

export function registerCheckCommand(program: Command): void {
  program
    .command("check")
    .description("run scenario files (page-table writes, barriers, TLBIs, accesses on several CPUs) and report broken rules")
    .argument("[files...]", "scenario files (.yaml or .json; - reads standard input)")
    .option("--format <fmt>", "text or json", "text")
    .option(
      "--outcomes",
      "print the set of outcomes the architecture allows for every access; with --explore (and for litmus files) every reachable final state",
    )
    .option("--expect", "judge each scenario by its own `expect` block: exit 0 when every expectation holds")
    .option(
      "--explore",
      "run every interleaving of the CPUs' steps (each CPU's order kept) and report what any of them breaks (not with --outcomes or --expect)",
    )
    .option("--explore-limit <n>", `--explore: at most this many interleavings (decimal; default ${DEFAULT_EXPLORE_LIMIT})`)
    .option("--explore-budget <time>", "--explore: stop starting interleavings after this long (500ms, 30s, 2m, 1h; default none)")
    .option("--jobs <n>", "--explore: worker threads (decimal; default one per core, used from 5000 interleavings)")
    .option(
      "--explore-full",
      "--explore: run every interleaving (by default, of two adjacent steps of different CPUs that commute, such as two loads, only one order is run)",
    )
    .option("--trace <file>", "replay a `vmsa record` trace (plugins/record; gzip accepted) instead of scenario files")
    .option("--system-map <file>", "--trace: the kernel's System.map, to name the function of each guest PC")
    .option("--casemate", "read the files as Casemate traces (s-expressions; detected by content or a .casemate / .sexp name otherwise)")
    .option("--export-litmus <file>", "write the scenario as a herd7 AArch64 VMSA litmus test (one file; see examples/herd/README.md)")
    .option("--export-image <dir>", "write the final memory and CPU 0's registers as loadable tables (see vmsa boot --export-image)")
    .addHelpText(
      "after",
      `
Exit status:
  0  clean: no rule broken (with --expect: every expectation holds; with --explore: in every interleaving)
  1  violations found (with --expect: an expectation unmet), also when --explore stopped early
  2  bad input (unreadable or malformed scenario file, bad option), one "vmsa: error:" line each
  3  inconclusive: --explore reached --explore-limit or --explore-budget before running every
     interleaving and found no violation in those it ran (the rest may break rules); for a
     litmus file, the search stopped before its final condition was decided

Litmus files (a final: condition, registers or litmus instructions such as ldr X0, [X1]) run on
the litmus model: every execution, each final state (registers, memory, faults), and the
condition judged: exists claims allowed, ~exists forbidden, forall required (exit 1 when the
claim is contradicted). --explore-limit then counts executions (default ${DEFAULT_LITMUS_LIMIT}).

Examples:
  $ vmsa check examples/scenarios/bbm-oa-bad.yaml
  $ vmsa check --outcomes --format json examples/scenarios/*.yaml
  $ vmsa check --expect examples/scenarios/*.yaml
  $ vmsa check --explore examples/scenarios/explore-shootdown.yaml
  $ vmsa check --explore --explore-limit 100000 --explore-budget 2m FILE
  $ vmsa check --trace boot.vtrace --system-map System.map-6.1.0-50-arm64
  $ vmsa check examples/casemate/bbm-missing-tlbi.casemate

Casemate traces ((mem-write (id N) (tid T) …) records, named or positional; docs/casemate.md)
replay on the machine model with one regime per VMID (VTTBR_EL2) and one for TTBR0_EL2: exit 1
when a rule is broken, 3 when records were not replayed (unknown TLBI or register, a mem-read
the writes disagree with), 0 clean for the architecture rules. Casemate's locking and ownership
discipline (lock, unlock, hint records) is kept in the log and never judged.

With --trace, exit status 3 means no rule was broken in what was replayed, but the trace holds
records the model does not know (listed), so the replay is not complete.`,
    )
    .action((files: string[], opts: CheckOptions) => {
      const out = (s: string): boolean => process.stdout.write(s);
      const err = (s: string): boolean => process.stderr.write(s);
      if (opts.trace !== undefined || opts.systemMap !== undefined) {
        if (opts.trace === undefined || files.length > 0) {
          err("vmsa: error: --trace FILE replays one trace and takes no scenario files; --system-map goes with --trace\n");
          process.exitCode = 2;
          return;
        }
        process.exitCode = checkTrace(opts.trace, opts, out, err);
        return;
      }
      if (files.length === 0) {
        err("vmsa: error: check: give scenario files or --trace FILE (see vmsa check --help)\n");
        process.exitCode = 2;
        return;
      }
      process.exitCode = checkFiles(
        files,
        opts,
        (s) => process.stdout.write(s),
        (s) => process.stderr.write(s),
      );
    });
}
