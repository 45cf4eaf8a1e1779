/**
 * .ci/run end to end, with its tools replaced by stubs (qemu/ci-setup.sh, npm, chromium,
 * gdb-multiarch): every stage runs, the output always ends with a plain "N passed, N failed"
 * line, and the exit status is 1 whenever anything failed (setup, typecheck, lint or tests).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

const NPM = `#!/bin/sh
echo "npm $*" >>"$FAKE_LOG"
case "$1 $2" in
  "install "*) exit "\${FAKE_INSTALL:-0}" ;;
  "run typecheck") exit "\${FAKE_TYPECHECK:-0}" ;;
  "run lint") exit "\${FAKE_LINT:-0}" ;;
  "test "*) [ -n "$FAKE_SUMMARY" ] && printf '%s' "$FAKE_SUMMARY" >"$VMSA_TEST_SUMMARY"; exit "\${FAKE_TEST:-0}" ;;
esac
exit 99
`;

interface Fake {
  setup?: number;
  install?: number;
  typecheck?: number;
  lint?: number;
  test?: number;
  /** What the summary reporter writes; undefined: vitest wrote nothing. */
  summary?: { passed: number; failed: number; reasons?: string[] };
}

function ciRun(f: Fake): { status: number | null; lines: string[]; npm: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "vmsa-ci-run-"));
  for (const d of [".ci", "qemu", "bin"]) mkdirSync(join(dir, d));
  copyFileSync(join(ROOT, ".ci/run"), join(dir, ".ci/run"));
  copyFileSync(join(ROOT, ".ci/summary.mjs"), join(dir, ".ci/summary.mjs"));
  writeFileSync(join(dir, "qemu/ci-setup.sh"), `exit ${f.setup ?? 0}\n`);
  const stub = (name: string, text: string): void => {
    writeFileSync(join(dir, "bin", name), text);
    chmodSync(join(dir, "bin", name), 0o755);
  };
  stub("npm", NPM);
  stub("chromium", "#!/bin/sh\nexit 0\n");
  stub("gdb-multiarch", "#!/bin/sh\nexit 0\n");
  const log = join(dir, "npm.log");
  writeFileSync(log, "");
  const summary = f.summary && { skipped: 0, reason: "passed", slowest: [], reasons: [], ...f.summary };
  const r = spawnSync("bash", [join(dir, ".ci/run")], {
    encoding: "utf8",
    env: {
      PATH: `${join(dir, "bin")}:${dirname(process.execPath)}:/usr/bin:/bin`,
      HOME: dir,
      FAKE_LOG: log,
      FAKE_INSTALL: String(f.install ?? 0),
      FAKE_TYPECHECK: String(f.typecheck ?? 0),
      FAKE_LINT: String(f.lint ?? 0),
      FAKE_TEST: String(f.test ?? 0),
      FAKE_SUMMARY: summary ? JSON.stringify(summary) : "",
    },
  });
  const npm = spawnSync("cat", [log], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
  return { status: r.status, lines: r.stdout.trimEnd().split("\n"), npm };
}

describe(".ci/run", () => {
  it("a clean run ends with 'N passed, 0 failed' and exits 0", () => {
    const r = ciRun({ summary: { passed: 7, failed: 0 } });
    expect(r.lines.at(-1)).toBe("7 passed, 0 failed");
    expect(r.status).toBe(0);
  });

  it("typecheck and lint failures are counted, and the tests still run", () => {
    const r = ciRun({ typecheck: 2, lint: 1, summary: { passed: 7, failed: 0 } });
    expect(r.npm).toEqual(["npm install --no-audit --no-fund", "npm run typecheck", "npm run lint", "npm test"]);
    expect(r.lines.slice(-3)).toEqual([
      "failed: typecheck: npm run typecheck exited 2",
      "failed: lint: npm run lint exited 1",
      "7 passed, 2 failed",
    ]);
    expect(r.status).toBe(1);
  });

  it("vitest failing with no failed test (an unhandled error) is never '0 failed'", () => {
    const r = ciRun({ test: 1, summary: { passed: 373, failed: 0 } });
    expect(r.lines.at(-1)).toBe("373 passed, 1 failed");
    expect(r.status).toBe(1);
  });

  it("failed tests are counted with vitest's failures", () => {
    const r = ciRun({ test: 1, summary: { passed: 370, failed: 3, reasons: ["unhandled error: Error: boom"] } });
    expect(r.lines.slice(-2)).toEqual(["failed: unhandled error: Error: boom", "370 passed, 3 failed"]);
    expect(r.status).toBe(1);
  });

  it("tests that never reported (the build failed first) count as a failure", () => {
    const r = ciRun({ test: 2 });
    expect(r.lines.at(-1)).toBe("0 passed, 1 failed");
    expect(r.status).toBe(1);
  });

  it("a setup failure stops the run but still ends with the summary line", () => {
    for (const f of [{ setup: 1 }, { install: 1 }]) {
      const r = ciRun(f);
      expect(r.lines.at(-1)).toBe("0 passed, 1 failed");
      expect(r.lines.at(-2)).toMatch(/^failed: setup: /);
      expect(r.npm).not.toContain("npm test");
      expect(r.status).toBe(1);
    }
  });
});
