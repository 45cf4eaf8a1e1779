/**
 * .ci/run's last line ("N passed, N failed", .ci/summary.mjs over test/helpers/summary-reporter.ts)
 * counts every way a run fails. Found on a loaded CI machine: vitest reported an unhandled error
 * (`[vitest-worker]: Timeout calling "onTaskUpdate"`) and exited 1, while its JSON report said
 * success with 0 failed tests, so the line read "373 passed, 0 failed".
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunSummary } from "../helpers/summary-reporter.js";

const ROOT = join(import.meta.dirname, "../..");
const SUMMARY = join(ROOT, ".ci/summary.mjs");

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "vmsa-ci-"));
}

function summary(args: string[]): { status: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, [SUMMARY, ...args], { encoding: "utf8" });
  return { status: r.status, lines: r.stdout.trimEnd().split("\n") };
}

function report(dir: string, s: Partial<RunSummary>): string {
  const file = join(dir, "summary.json");
  writeFileSync(file, JSON.stringify({ passed: 0, failed: 0, skipped: 0, reasons: [], reason: "passed", slowest: [], ...s }));
  return file;
}

/** vitest run over one fixture file of fixtures/unhandled, writing both reports into a new directory. */
function nested(fixture: string): { out: string; status: number | null } {
  const out = tmp();
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, "node_modules/vitest/vitest.mjs"),
      "run",
      "--config",
      join(import.meta.dirname, "fixtures/unhandled/vitest.config.ts"),
      fixture,
    ],
    { encoding: "utf8", env: { ...process.env, VMSA_TEST_OUT: out, VMSA_TEST_SUMMARY: join(out, "summary.json") } },
  );
  return { out, status: r.status };
}

describe("the CI summary line", () => {
  it("counts an unhandled error of a run whose tests all passed (nested vitest run)", { timeout: 120_000 }, () => {
    const { out, ...r } = nested("late");
    expect(r.status).toBe(1);
    // vitest's own JSON report calls this run a success with no failed test...
    const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { success: boolean; numFailedTests: number };
    expect({ success: json.success, numFailedTests: json.numFailedTests }).toEqual({ success: true, numFailedTests: 0 });
    // ...the summary reporter counts the unhandled error, and the last line says so.
    const s = summary(["--stages", "/dev/null", "--summary", join(out, "summary.json"), "--status", String(r.status)]);
    expect(s.lines.at(-1)).toBe("2 passed, 1 failed");
    expect(s.lines).toContain("failed: unhandled error: Error: thrown after the test ended");
    expect(s.status).toBe(1);
  });

  it("counts a file that fails while it is imported, with its error (nested vitest run)", { timeout: 120_000 }, () => {
    const { out, status } = nested("broken");
    expect(status).toBe(1);
    const s = summary(["--stages", "/dev/null", "--summary", join(out, "summary.json"), "--status", String(status)]);
    expect(s.lines.slice(-2)).toEqual(["failed: broken.fixture.ts: Error: cannot load this file", "0 passed, 1 failed"]);
    expect(s.status).toBe(1);
  });

  it("counts a vitest failure that nothing else explains as one failed run, with the reason", () => {
    const s = summary(["--stages", "/dev/null", "--summary", report(tmp(), { passed: 373 }), "--status", "1"]);
    expect(s.lines.at(-1)).toBe("373 passed, 1 failed");
    expect(s.lines.some((l) => l.startsWith("failed: tests: vitest exited with status 1 although no test failed"))).toBe(true);
    expect(s.status).toBe(1);
  });

  it("counts a missing report (vitest or the build did not get that far) as a failure", () => {
    const s = summary(["--stages", "/dev/null", "--summary", join(tmp(), "absent.json"), "--status", "2"]);
    expect(s.lines.at(-1)).toBe("0 passed, 1 failed");
    expect(s.lines.some((l) => l.startsWith("failed: tests: no summary from vitest"))).toBe(true);
    expect(s.status).toBe(1);
  });

  it("counts failed stages (typecheck, lint) next to the tests", () => {
    const dir = tmp();
    writeFileSync(join(dir, "stages"), "typecheck: npm run typecheck exited 2\nlint: npm run lint exited 1\n");
    const s = summary(["--stages", join(dir, "stages"), "--summary", report(dir, { passed: 10 }), "--status", "0"]);
    expect(s.lines.slice(-3)).toEqual([
      "failed: typecheck: npm run typecheck exited 2",
      "failed: lint: npm run lint exited 1",
      "10 passed, 2 failed",
    ]);
    expect(s.status).toBe(1);
  });

  it("is 0 failed and exit 0 only for a clean run, and lists the slowest tests above the line", () => {
    const file = report(tmp(), { passed: 5, skipped: 1, slowest: [{ name: "a.test.ts › slow", ms: 1234 }] });
    const s = summary(["--stages", "/dev/null", "--summary", file, "--status", "0"]);
    expect(s.lines).toEqual(["slowest tests:", "     1234 ms  a.test.ts › slow", "5 passed, 0 failed"]);
    expect(s.status).toBe(0);
  });

  it("passes a report's own failures through (failed tests and files that failed outside their tests)", () => {
    const file = report(tmp(), { passed: 3, failed: 2, reasons: ["test/x.test.ts: Error: cannot import"] });
    const s = summary(["--stages", "/dev/null", "--summary", file, "--status", "1"]);
    expect(s.lines.slice(-2)).toEqual(["failed: test/x.test.ts: Error: cannot import", "3 passed, 2 failed"]);
  });
});
