/**
 * Every shipped example scenario runs with its stated verdict, and the verdicts are pinned here
 * too: each checker rule has a bad example that fires it and a fixed variant that stays clean.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RULE_IDS } from "../../src/machine/rules.js";
import { parseScenario } from "../../src/scenario/format.js";
import { renderText } from "../../src/scenario/render.js";
import { runScenario } from "../../src/scenario/run.js";

const DIR = "examples/scenarios";
const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml"));

function run(f: string) {
  const p = join(DIR, f);
  return runScenario(parseScenario(readFileSync(p, "utf8"), p));
}

/** Exact verdicts: rule@step/cpu of every report, in report order. */
const VERDICTS: Record<string, string[]> = {
  "bbm-oa-bad.yaml": ["bbm@1/0", "stale-translation@4/1"],
  "bbm-oa-fixed.yaml": [],
  "split-bbm0-bad.yaml": ["bbm@1/0", "tlb-conflict@4/1"],
  "split-bbm0-fixed.yaml": [],
  "split-bbm2-bad.yaml": ["tlb-conflict@4/1"],
  "split-bbm2-fixed.yaml": [],
  "contiguous-bad.yaml": ["contiguous@1/0"],
  "contiguous-partial-bad.yaml": ["contiguous@2/0"],
  "contiguous-fixed.yaml": [],
  "stale-permission-bad.yaml": ["stale-translation@4/1"],
  "stale-permission-fixed.yaml": [],
  "asid-global-bad.yaml": ["stale-translation@6/1"],
  "asid-global-fixed.yaml": [],
  "unmap-no-dsb-bad.yaml": ["missing-barrier@4/1"],
  "unmap-tlbi-before-dsb-bad.yaml": ["missing-barrier@5/1"],
  "unmap-fixed.yaml": [],
  "map-no-isb-bad.yaml": ["missing-barrier@3/0"],
  "map-fixed.yaml": [],
  "freed-table-bad.yaml": ["freed-table-reuse@6/0"],
  "freed-table-fixed.yaml": [],
  "protect-bad.yaml": ["protected-reach@1/0", "protected-reach@1/1"],
  "protect-fixed.yaml": [],
  "wx-bad.yaml": ["wx@1/0"],
  "wx-fixed.yaml": [],
  "explore-shootdown.yaml": [],
  "dc-mmu-off-bad.yaml": ["missing-barrier@7/0"],
  "dc-mmu-off-fixed.yaml": [],
};

describe("example scenarios", () => {
  it("ships at least a dozen, all with pinned verdicts", () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
    expect(files.sort()).toEqual(Object.keys(VERDICTS).sort());
  });

  for (const f of files) {
    it(`${f} has its stated and pinned verdict`, () => {
      const r = run(f);
      expect(r.hasExpectations).toBe(true);
      expect(r.expectationFailures).toEqual([]);
      expect(r.reports.map((v) => `${v.rule}@${v.step}/${v.cpu}`)).toEqual(VERDICTS[f]);
      // Each example says what it shows and its expected verdict.
      const head = readFileSync(join(DIR, f), "utf8");
      expect(head).toMatch(/^# Shows: /);
      expect(head).toMatch(/# Expected verdict: /);
    });
  }

  it("covers every rule with a bad example and a clean fixed variant", () => {
    for (const rule of RULE_IDS) {
      const bad = Object.entries(VERDICTS).filter(([, v]) => v.some((x) => x.startsWith(`${rule}@`)));
      expect(bad.length, rule).toBeGreaterThan(0);
    }
    const fixed = Object.entries(VERDICTS).filter(([f, v]) => f.includes("fixed") && v.length === 0);
    // Every bad example has a clean counterpart with the same stem.
    for (const f of Object.keys(VERDICTS).filter((x) => x.includes("-bad"))) {
      const stem = f.split("-")[0] as string;
      expect(
        fixed.some(([g]) => g.startsWith(stem)),
        f,
      ).toBe(true);
    }
    expect(fixed.length).toBeGreaterThanOrEqual(RULE_IDS.length);
  });

  it("renders the BBM example exactly as the golden text", () => {
    const golden = readFileSync("test/scenario/golden/bbm-oa-bad.txt", "utf8");
    expect(renderText(run("bbm-oa-bad.yaml"), { outcomes: true })).toBe(golden);
  });
});
