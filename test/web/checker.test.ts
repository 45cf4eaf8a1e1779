import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LitmusJson } from "../../src/scenario/litmus-render.js";
import { exploreInterleavings, exploreOutcomes, replayInterleaving } from "../../web/src/lib/checker.js";
import { errorLine, readText, verdictText } from "../../web/src/lib/checkerText.js";
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

describe("herd .litmus files and the explore limits in the checker (issue 15's leftovers)", () => {
  const cliJson = async (...args: string[]) => {
    const r = await vmsa("check", "--explore", "--outcomes", "--format", "json", ...args);
    const all = JSON.parse(r.out || "[]") as LitmusJson[];
    return { code: r.code, json: all[0], err: r.err };
  };

  for (const name of ["MP+shoot+po", "I2V-UP-DSB-ISB"]) {
    it(`herd ${name}.litmus: the outcomes, herd's answer and exit status are vmsa check FILE.litmus's`, async () => {
      // herd-import.ts reads the test (one 4K page per location); the condition is herd's
      // question, so the run is "as claimed" whatever the answer (src/scenario/herd-file.ts).
      const file = join(ROOT, `examples/herd/${name}.litmus`);
      const cli = await cliJson(file);
      const o = exploreOutcomes(readFileSync(file, "utf8"), file);
      expect(o.json).toEqual(cli.json);
      expect(o.status).toBe(cli.code);
      expect(o.json.condition?.verdict).toBe("as-claimed");
      // The stepper opens it too (as a litmus-model file), and an execution replays to its state.
      expect(traceScenario(readFileSync(file, "utf8"), file).litmus).toBe(true);
      const first = o.samples[0]?.[0];
      if (!first) throw new Error("no recorded execution");
      expect(replayInterleaving(readFileSync(file, "utf8"), file, first).key).toBe(o.keys[0]);
    });
  }

  it("a malformed herd file gives the CLI's one error line, not a stack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-herd-"));
    try {
      const file = join(dir, "bad.litmus");
      const text = readFileSync(join(ROOT, "examples/herd/MP+shoot+po.litmus"), "utf8").replace("exists", "exits");
      writeFileSync(file, text);
      const cli = await cliJson(file);
      expect(cli.code).toBe(2);
      const e = (() => {
        try {
          exploreOutcomes(text, file);
        } catch (x) {
          return x as Error;
        }
        throw new Error("the malformed file was accepted");
      })();
      expect(`${errorLine(e.message)}\n`).toBe(cli.err);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--explore-limit low enough: inconclusive (exit 3) with the CLI's JSON, never allowed/forbidden", async () => {
    // MP+po+po has more than 2 executions; two run, the claim (exists) is undecided.
    const file = join(ROOT, "examples/litmus/MP+po+po.yaml");
    const text = readFileSync(file, "utf8");
    const cli = await cliJson("--explore-limit", "2", file);
    expect(cli.code).toBe(3);
    const o = exploreOutcomes(text, file, { limit: "2" });
    expect(o.json).toEqual(cli.json);
    expect(o.status).toBe(3);
    expect(o.json.condition?.verdict).toBe("inconclusive");
    expect(verdictText(o)).toContain("inconclusive");
    // Blank inputs are the options not given: the CLI's defaults, a complete search.
    expect(exploreOutcomes(text, file, { limit: " ", budget: "" }).status).toBe(0);
  });

  it("the limits reach --explore of an ordinary scenario (limit, full) as the CLI's options do", async () => {
    const file = join(ROOT, "examples/scenarios/explore-shootdown.yaml");
    const text = readFileSync(file, "utf8");
    for (const [args, limits] of [
      [["--explore-limit", "1"], { limit: "1" }],
      [["--explore-full"], { full: true }],
    ] as const) {
      const cli = await vmsa("check", "--explore", ...args, file);
      const e = exploreInterleavings(text, file, limits);
      expect(e.text).toBe(cli.out);
      expect(e.status).toBe(cli.code);
    }
    // One interleaving (the file's order, which breaks no rule) and the rest not run: inconclusive,
    // never clean (a cut-short search proves nothing about the interleavings it did not run).
    const one = exploreInterleavings(text, file, { limit: "1" });
    expect(one.verdict).toBe("inconclusive");
    expect(one.status).toBe(3);
  });

  it("bad limit text gives the CLI's error line for the option", async () => {
    const file = join(ROOT, "examples/litmus/MP+po+po.yaml");
    for (const [opt, limits] of [
      ["--explore-limit=0x10", { limit: "0x10" }],
      ["--explore-budget=5", { budget: "5" }],
    ] as const) {
      const cli = await vmsa("check", "--explore", "--outcomes", opt, file);
      expect(cli.code).toBe(2);
      expect(() => exploreOutcomes(readFileSync(file, "utf8"), file, limits)).toThrow();
      try {
        exploreOutcomes(readFileSync(file, "utf8"), file, limits);
      } catch (x) {
        expect(`${errorLine((x as Error).message)}\n`).toBe(cli.err);
      }
    }
  });
});
