/**
 * A vitest reporter for CI (vitest.config.ts adds it when VMSA_TEST_SUMMARY names a file): writes
 * the counts .ci/run's last line is made of, including what vitest's JSON report leaves out.
 * vitest's `success`/`numFailedTests` ignore unhandled errors (a worker RPC timeout, an error
 * thrown after a test ended) and a file that fails outside its tests; here each of those counts
 * as a failure with its reason, so a failed run never reads "0 failed".
 */
import { writeFileSync } from "node:fs";
import { relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";

export interface RunSummary {
  passed: number;
  /** Failed tests plus failed files (errors outside tests) plus unhandled errors. */
  failed: number;
  skipped: number;
  /** One line per failure that is not a failed test: what failed and why. */
  reasons: string[];
  /** vitest's own verdict for the run. */
  reason: string;
  /** The slowest tests, slowest first. */
  slowest: { name: string; ms: number }[];
}

interface ErrorLike {
  readonly message?: unknown;
  readonly name?: unknown;
}

function firstLine(e: ErrorLike): string {
  const name = typeof e.name === "string" && e.name !== "" ? `${e.name}: ` : "";
  const msg = typeof e.message === "string" ? e.message : String(e);
  return `${name}${msg.split("\n")[0] ?? ""}`;
}

export function summarize(
  modules: ReadonlyArray<TestModule>,
  unhandled: ReadonlyArray<ErrorLike>,
  reason: string,
  root: string,
  slowestCount = 10,
): RunSummary {
  const s: RunSummary = { passed: 0, failed: 0, skipped: 0, reasons: [], reason, slowest: [] };
  const times: { name: string; ms: number }[] = [];
  for (const m of modules) {
    const file = relative(root, m.moduleId);
    let failedTests = 0;
    for (const t of m.children.allTests()) {
      const state = t.result().state;
      if (state === "passed") s.passed++;
      else if (state === "failed") {
        s.failed++;
        failedTests++;
      } else if (state === "skipped") s.skipped++;
      const ms = t.diagnostic()?.duration;
      if (ms !== undefined) times.push({ name: `${file} › ${t.fullName}`, ms: Math.round(ms) });
    }
    // Errors of the file itself (import, collection, beforeAll/afterAll) or a failed file with no failed test.
    const errs = [...m.errors(), ...[...m.children.allSuites()].flatMap((x) => x.errors())];
    if (errs.length > 0 || (m.state() === "failed" && failedTests === 0)) {
      s.failed++;
      s.reasons.push(`${file}: ${errs.length > 0 ? errs.map(firstLine).join("; ") : "failed outside its tests"}`);
    }
  }
  for (const e of unhandled) {
    s.failed++;
    s.reasons.push(`unhandled error: ${firstLine(e)}`);
  }
  s.slowest = times.sort((a, b) => b.ms - a.ms).slice(0, slowestCount);
  return s;
}

export default class SummaryReporter implements Reporter {
  private root = process.cwd();

  onInit(ctx: { config: { root: string } }): void {
    this.root = ctx.config.root;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<ErrorLike>, reason: string): void {
    const out = process.env.VMSA_TEST_SUMMARY;
    if (!out) return;
    writeFileSync(out, `${JSON.stringify(summarize(modules, unhandled, reason, this.root), null, 2)}\n`);
  }
}
