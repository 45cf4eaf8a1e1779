/**
 * `vmsa check --explore --jobs N` on worker threads (the installed entry point over dist/: the
 * worker is compiled code): a complete run reports exactly what the one-thread run reports.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { skipBecause } from "../helpers/skip.js";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/vmsa.js");
const built = existsSync(join(ROOT, "dist/src/scenario/explore-worker.js"));
const notBuilt = built || process.env.CI ? undefined : "dist/ is not built (npx tsc -p tsconfig.json; npm test builds it first)";
const dir = mkdtempSync(join(tmpdir(), "vmsa-jobs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, "check", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** CPU 0 unmaps a page with break-before-make; CPUs 1 and 2 read it twice each (756 interleavings). */
const THREE_CPUS = `machine: { cpus: 3, regs: { TTBR1_EL1: 0x80000 } }
memory:
  ram: [{ base: 0x40000000, size: 0x40000000 }]
  pool: 0x81000
  map: [{ va: 0xffff000000200000, pa: 0x40000000 }]
values: { PTE: "desc(0xffff000000200000, 3)" }
steps:
  - "P0: store $PTE invalid"
  - "P0: dsb ISHST"
  - "P0: tlbi VAAE1IS 0xffff000000200000"
  - "P0: dsb ISH"
  - "P0: isb"
  - "P1: load 0xffff000000200000"
  - "P2: load 0xffff000000200000"
  - "P1: load 0xffff000000200000"
  - "P2: load 0xffff000000200000"
`;

describe.skipIf(skipBecause("--explore --jobs", notBuilt))("--explore on worker threads", () => {
  it("reports the same findings, counts and first orders as one thread (reduced and full)", () => {
    const file = join(dir, "three.yaml");
    writeFileSync(file, THREE_CPUS);
    for (const full of [[], ["--explore-full"]]) {
      const one = check("--explore", ...full, "--jobs", "1", "--format", "json", file, "examples/scenarios/explore-shootdown.yaml");
      const two = check("--explore", ...full, "--jobs", "3", "--format", "json", file, "examples/scenarios/explore-shootdown.yaml");
      expect(one.code).toBe(1);
      expect(two.err).toBe("");
      expect(two.code).toBe(one.code);
      expect(JSON.parse(two.out)).toEqual(JSON.parse(one.out));
      expect(JSON.parse(one.out)[0]).toMatchObject({ complete: true, total: 756 });
    }
  });
  it("a limit stops the parallel run too: never clean, exit 3 or 1", () => {
    const file = join(dir, "three.yaml");
    writeFileSync(file, THREE_CPUS);
    const r = check("--explore", "--explore-full", "--jobs", "2", "--explore-limit", "5", "--format", "json", file);
    expect([1, 3]).toContain(r.code);
    expect(JSON.parse(r.out)[0]).toMatchObject({ complete: false, reason: "interleaving-limit" });
  });
  it("rejects a bad --jobs in one line, exit 2", () => {
    for (const bad of ["0", "-1", "two", "0x2", "1.5"]) {
      const r = check("--explore", "--jobs", bad, "examples/scenarios/explore-shootdown.yaml");
      expect(r.code, bad).toBe(2);
      expect(r.err, bad).toBe(`vmsa: error: --jobs: "${bad}" is not a positive decimal number of worker threads\n`);
    }
  });
});
