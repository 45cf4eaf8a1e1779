// The end of .ci/run: prints the slowest tests, one line per failure that is not a failed test
// (a failed stage, a file that failed outside its tests, an unhandled error, vitest itself), and
// last the plain "N passed, N failed" line. Exit status 1 when anything failed, else 0.
//
//   node .ci/summary.mjs --stages FILE [--summary FILE --status N]
//     --stages   failed stages, one "what: why" line each (typecheck, lint, …); may be empty
//     --summary  test/helpers/summary-reporter.ts's output; --status is vitest's exit status
//                (both omitted when the tests did not run)
import { existsSync, readFileSync } from "node:fs";

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const reasons = [];
let passed = 0;
let failed = 0;

const stages = arg("--stages");
if (stages && existsSync(stages)) {
  for (const line of readFileSync(stages, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    failed++;
    reasons.push(line.trim());
  }
}

const summaryFile = arg("--summary");
const statusArg = arg("--status");
if (summaryFile !== undefined || statusArg !== undefined) {
  const status = statusArg === undefined || !/^[0-9]+$/.test(statusArg) ? 1 : Number(statusArg);
  let report;
  try {
    report = JSON.parse(readFileSync(summaryFile ?? "", "utf8"));
  } catch (e) {
    report = undefined;
    failed++;
    reasons.push(`tests: no summary from vitest (${e instanceof Error ? e.message.split("\n")[0] : e}), exit status ${status}`);
  }
  if (report !== undefined) {
    passed += report.passed;
    failed += report.failed;
    for (const r of report.reasons ?? []) reasons.push(r);
    if (Array.isArray(report.slowest) && report.slowest.length > 0) {
      console.log("slowest tests:");
      for (const t of report.slowest) console.log(`  ${String(t.ms).padStart(7)} ms  ${t.name}`);
    }
    if (status !== 0 && report.failed === 0) {
      failed++;
      reasons.push(`tests: vitest exited with status ${status} although no test failed (run reason: ${report.reason})`);
    }
  }
}

for (const r of reasons) console.log(`failed: ${r}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
