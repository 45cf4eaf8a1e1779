import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LitmusJson } from "../../src/scenario/litmus-render.js";
import { exploreInterleavings, exploreOutcomes, replayInterleaving } from "../../web/src/lib/checker.js";
import { readText, verdictText } from "../../web/src/lib/checkerText.js";
import { traceScenario } from "../../web/src/lib/stepper.js";
import { vmsa } from "../cli/run.js";

const ROOT = join(import.meta.dirname, "../..");

describe("the checker view's data (lib/checker.ts)", () => {
  for (const name of ["MP+po+po", "MP+shoot+dsb-isb", "CoRR"]) {
    it(`${name}: the outcomes and exit status are vmsa check --explore --outcomes --format json's`, async () => {
      const rel = `examples/litmus/${name}.yaml`;
      const cli = await vmsa("check", "--explore", "--outcomes", "--format", "json", join(ROOT, rel));
      const [json] = JSON.parse(cli.out) as LitmusJson[];
      const o = exploreOutcomes(readFileSync(join(ROOT, rel), "utf8"), join(ROOT, rel));
      expect(o.json).toEqual(json);
      expect(o.status).toBe(cli.code);
      expect(o.litmusFile).toBe(true);
      expect(o.keys.length).toBe(o.json.states.length);
      // Every final state offers at least one execution to step through, and it replays to that state.
      o.samples.forEach((ss, i) => {
        expect(ss.length).toBeGreaterThan(0);
        const first = ss[0] as readonly number[];
        expect(replayInterleaving(readFileSync(join(ROOT, rel), "utf8"), rel, first).key).toBe(o.keys[i]);
      });
    });
  }

  it("words a read with its source and the verdict as herd's kinds", () => {
    const rel = "examples/litmus/MP+dmb.st+dmb.ld.yaml";
    const text = readFileSync(join(ROOT, rel), "utf8");
    const o = exploreOutcomes(text, rel);
    // ~exists claims forbidden (herd7 MP+dmb.st+dmb.ld: Forbidden).
    expect(verdictText(o)).toBe("forbidden — as the file claims (forbidden)");
    const il = replayInterleaving(text, rel, o.samples[0]?.[0] ?? []);
    const reads = il.events.flatMap((e) => e.reads.filter((r) => r.kind === "data").map((r) => readText(r, o.steps)));
    expect(reads.length).toBe(2);
    for (const r of reads) expect(r).toMatch(/^reads 0x[01] \[pa:0x4000[01]000\] from (initial memory|P0 step [13] \(str X1, \$[XY]\))$/);
  });

  it("--explore of an ordinary scenario: the CLI's text and exit status, and each finding's interleaving steps to it", async () => {
    const rel = "examples/scenarios/explore-shootdown.yaml";
    const text = readFileSync(join(ROOT, rel), "utf8");
    const cli = await vmsa("check", "--explore", join(ROOT, rel));
    const e = exploreInterleavings(text, join(ROOT, rel));
    expect(e.text).toBe(cli.out);
    expect(e.status).toBe(cli.code);
    expect(e.findings.length).toBe(2);
    for (const f of e.findings) {
      // Run in the finding's order, the stepper reports it at the position its step ran in.
      const t = traceScenario(text, rel, undefined, f.order);
      expect(t.steps.map((x) => x.fileStep)).toEqual(f.order);
      const at = f.order.indexOf(f.step) + 1;
      expect(t.reports.some((v) => v.rule === f.rule && v.step === at)).toBe(true);
      expect(t.steps[at - 1]?.cpu).toBe(f.cpu);
    }
    // In the file's order there is no fileStep numbering.
    expect(traceScenario(text, rel).steps.every((x) => x.fileStep === undefined)).toBe(true);
  });
});
