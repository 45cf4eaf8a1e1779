import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// In CI, also write machine-readable results: VMSA_TEST_JSON (vitest's JSON report) and
// VMSA_TEST_SUMMARY (test/helpers/summary-reporter.ts: the counts .ci/run's last line is made of).
const json = process.env.VMSA_TEST_JSON;
const summary = process.env.VMSA_TEST_SUMMARY;

// Test files run in child processes (forks), at most one per core beyond the first: the main
// vitest process (transforms, reporters, the workers' RPC) keeps a core, and the tests that start
// QEMU or chromium have room for them. VMSA_TEST_WORKERS overrides (e.g. 1 on a very busy host).
function workers(): number {
  const set = process.env.VMSA_TEST_WORKERS;
  if (set !== undefined && set !== "") {
    if (!/^[1-9][0-9]*$/.test(set)) throw new Error(`VMSA_TEST_WORKERS must be a positive integer, got "${set}"`);
    return Number(set);
  }
  return Math.max(1, availableParallelism() - 1);
}
const maxWorkers = workers();

type ReporterEntry = string | [string, Record<string, unknown>];
const reporters: ReporterEntry[] = ["default"];
if (json) reporters.push(["json", { outputFile: json }]);
if (summary) reporters.push("./test/helpers/summary-reporter.ts");

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Per-test limit for asynchronous tests (process-spawning ones set their own), there to catch
    // hangs: they run 5-10x slower on a loaded two-core machine than on an idle one. A synchronous
    // test cannot be interrupted, and one that blocks its worker for about a minute makes the
    // worker's RPC to the main process time out (an unhandled error that fails the run): keep
    // each property test a few seconds on an idle core (test/helpers/property.ts).
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Closing a worker that ran chromium or QEMU can take a while on a loaded machine.
    teardownTimeout: 60_000,
    pool: "forks",
    maxWorkers,
    minWorkers: 1,
    reporters,
  },
});
