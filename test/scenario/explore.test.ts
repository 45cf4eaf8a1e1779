/**
 * `--explore` as a library: every interleaving keeps each CPU's program order; a search cut short
 * by the interleaving limit or the time budget is inconclusive (or violations, still marked
 * incomplete), never clean. The budget is tested with an injected clock, not with timing.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countInterleavings, exploreResult, exploreScenario, InterleavingSearch } from "../../src/scenario/explore.js";
import { exploreParallel } from "../../src/scenario/explore-parallel.js";
import { parseScenario, type Scenario } from "../../src/scenario/format.js";
import { runScenario } from "../../src/scenario/run.js";
import { propertyRuns } from "../helpers/property.js";
import { arbScenario } from "./random-scenario.js";

const FOUR_ISBS = parseScenario("machine: { cpus: 2 }\nsteps: ['P0: isb', 'P0: isb', 'P1: isb', 'P1: isb']\n", "x.yaml");
const SHOOTDOWN = "examples/scenarios/explore-shootdown.yaml";
const shootdown = parseScenario(readFileSync(SHOOTDOWN, "utf8"), SHOOTDOWN);

/** A clock that advances by `step` ms every time it is read. */
function tickingClock(step: number): () => number {
  let t = 0;
  return () => {
    t += step;
    return t;
  };
}

/** These tests are about the bounds: every interleaving is run (no partial-order reduction). */
const FULL = { reduce: false } as const;

describe("exploreScenario", () => {
  it("counts interleavings as the multinomial coefficient, exactly", () => {
    expect(countInterleavings([2, 2])).toBe(6n);
    expect(countInterleavings([5, 1])).toBe(6n);
    expect(countInterleavings([3, 3, 3])).toBe(1680n);
    // 40 steps on each of two CPUs: C(80, 40), beyond 2^53.
    expect(countInterleavings([40, 40])).toBe(107507208733336176461620n);
  });

  it("runs every interleaving and says clean only when all of them ran", () => {
    const r = exploreScenario(FOUR_ISBS, FULL);
    expect(r).toMatchObject({ verdict: "clean", explored: 6, total: 6n });
  });

  it("is inconclusive, not clean, when the interleaving limit stops it", () => {
    const r = exploreScenario(FOUR_ISBS, { ...FULL, limit: 4 });
    expect(r).toMatchObject({ verdict: "inconclusive", reason: "interleaving-limit", explored: 4, total: 6n, limit: 4 });
  });

  it("a limit equal to the number of interleavings is complete", () => {
    expect(exploreScenario(FOUR_ISBS, { ...FULL, limit: 6 })).toMatchObject({ verdict: "clean", explored: 6 });
  });

  it("reports violations found before the limit, marked incomplete", () => {
    // The third interleaving (P1's load between P0's DSB ISH and ISB) breaks a rule; the limit stops at 3 of 6.
    const r = exploreScenario(shootdown, { ...FULL, limit: 3 });
    expect(r.verdict).toBe("violations");
    if (r.verdict !== "violations") return;
    expect(r.incomplete).toBe("interleaving-limit");
    expect(r.explored).toBe(3);
    expect(r.findings.length).toBeGreaterThan(0);
    const full = exploreScenario(shootdown, FULL);
    expect(full).toMatchObject({ verdict: "violations", incomplete: undefined, explored: 6 });
  });

  it("a time budget of 0 is inconclusive before any interleaving runs", () => {
    const r = exploreScenario(FOUR_ISBS, { ...FULL, budgetMs: 0 });
    expect(r).toMatchObject({ verdict: "inconclusive", reason: "time-budget", explored: 0, budgetMs: 0 });
  });

  it("stops at the time budget measured on the injected clock", () => {
    // Start reads t=1; interleaving k is checked at t=k+1; a 3 ms budget lets t=2 and t=3 run, stops at t=4.
    const r = exploreScenario(FOUR_ISBS, { ...FULL, budgetMs: 3, now: tickingClock(1) });
    expect(r).toMatchObject({ verdict: "inconclusive", reason: "time-budget", explored: 2 });
    // A budget the clock never reaches lets the search finish: clean.
    expect(exploreScenario(FOUR_ISBS, { ...FULL, budgetMs: 1000, now: tickingClock(1) })).toMatchObject({ verdict: "clean", explored: 6 });
  });

  it("whichever bound comes first names the reason", () => {
    expect(exploreScenario(FOUR_ISBS, { ...FULL, limit: 2, budgetMs: 1000, now: tickingClock(1) })).toMatchObject({
      reason: "interleaving-limit",
      explored: 2,
    });
    expect(exploreScenario(FOUR_ISBS, { ...FULL, limit: 5, budgetMs: 2, now: tickingClock(1) })).toMatchObject({
      reason: "time-budget",
      explored: 1,
    });
  });
});

describe("the public library", () => {
  it("exports parse, explore and its three-way verdict through `scenario`", async () => {
    const { scenario } = await import("../../src/index.js");
    const s = scenario.parseScenario("machine: { cpus: 2 }\nsteps: ['P0: isb', 'P1: isb']\n", "lib.yaml");
    const r = scenario.exploreScenario(s, { limit: 1 });
    expect(r).toMatchObject({ verdict: "inconclusive", reason: "interleaving-limit", explored: 1, total: 2n });
    expect(scenario.renderExploreText(r)).toContain("explored 1 of 2 interleavings: inconclusive");
  });
});

/** Every interleaving, each run on a fresh machine and memory (the reference the reused runs must equal). */
function referenceFindings(s: Scenario): Map<string, { order: number[]; count: number }> {
  const queues: number[][] = [];
  s.steps.forEach((st, i) => {
    while (queues.length <= st.cpu) queues.push([]);
    (queues[st.cpu] as number[]).push(i);
  });
  const live = queues.filter((q) => q.length > 0);
  const out = new Map<string, { order: number[]; count: number }>();
  const order: number[] = [];
  const pos = live.map(() => 0);
  const visit = (): void => {
    if (order.length === s.steps.length) {
      for (const v of runScenario(s, { order }).reports) {
        const key = `${v.rule}|${v.detail}|${v.step}|${v.cpu}`;
        const f = out.get(key);
        if (f) f.count++;
        else out.set(key, { order: order.map((x) => x + 1), count: 1 });
      }
      return;
    }
    live.forEach((q, i) => {
      const p = pos[i] as number;
      if (p >= q.length) return;
      order.push(q[p] as number);
      pos[i] = p + 1;
      visit();
      pos[i] = p;
      order.pop();
    });
  };
  visit();
  return out;
}

describe("exploration reuses one memory and table index", () => {
  it("finds exactly what fresh runs of every interleaving find (random scenarios)", () => {
    fc.assert(
      fc.property(arbScenario(3), (text) => {
        const s = parseScenario(text, "random.yaml");
        const r = exploreScenario(s, { limit: 100_000, reduce: false });
        const got = new Map(
          (r.verdict === "violations" ? r.findings : []).map((f) => [
            `${f.violation.rule}|${f.violation.detail}|${f.violation.step}|${f.violation.cpu}`,
            { order: [...f.order], count: f.count },
          ]),
        );
        expect(got).toEqual(referenceFindings(s));
      }),
      { numRuns: propertyRuns(15) },
    );
  });
});

describe("a search cut into parts", () => {
  it("merged in prefix order, the parts report what the whole search reports (random scenarios)", () => {
    fc.assert(
      fc.property(arbScenario(3), fc.integer({ min: 2, max: 40 }), fc.boolean(), (text, want, reduce) => {
        const s = parseScenario(text, "random.yaml");
        const whole = exploreScenario(s, { limit: 100_000, reduce });
        const search = new InterleavingSearch(s, reduce);
        const parts = search.prefixes(want).map((p) => search.run(p, { limit: 100_000, outOfTime: undefined }));
        const merged = exploreResult(s, search, parts, 100_000, undefined);
        expect(merged).toEqual(whole);
      }),
      { numRuns: propertyRuns(15) },
    );
  });
});

describe("worker threads", () => {
  it("a worker that never loads makes the search fall back to this thread instead of waiting forever", () => {
    const text = readFileSync(SHOOTDOWN, "utf8");
    const worker = new URL("../fixtures/explore/never-ready.mjs", import.meta.url);
    expect(exploreParallel(shootdown, text, { jobs: 2, limit: 1000, reduce: true, worker, readyMs: 300 })).toBeUndefined();
  });
});
