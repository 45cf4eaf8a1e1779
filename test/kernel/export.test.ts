/**
 * Recorded thread scenarios replay as scenario files: `vmsa check` (src/scenario) reaches the
 * verdict the kernel library's run reached, step for step; the shipped examples/kernel files are
 * exactly what the exporter writes today (golden).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { recordRun, SCENARIOS, scenarioById, scenarioYaml } from "../../src/kernel/scenarios/index.js";
import { parseScenario } from "../../src/scenario/format.js";
import { runScenario } from "../../src/scenario/run.js";

const DIR = join(import.meta.dirname, "../../examples/kernel");

describe("thread scenarios exported as scenario files", () => {
  for (const s of SCENARIOS) {
    it(`${s.id}: both variants replay with the same verdict`, () => {
      for (const v of ["bad", "good"] as const) {
        const r = recordRun(s, v);
        const res = runScenario(parseScenario(scenarioYaml(s, r), `${s.id}-${v}.yaml`));
        expect(res.expectationFailures).toEqual([]);
        expect(res.reports.length).toBe(r.violations.length);
      }
    });
  }

  it("examples/kernel files are current", () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(9);
    for (const f of files) {
      const m = /^(.*)-(bad|good)\.yaml$/.exec(f);
      const s = m ? scenarioById(m[1] ?? "") : undefined;
      if (!m || !s) throw new Error(`examples/kernel/${f}: not <scenario>-<variant>.yaml`);
      expect(scenarioYaml(s, recordRun(s, m[2] as "bad" | "good")), f).toBe(readFileSync(join(DIR, f), "utf8"));
    }
  });
});
