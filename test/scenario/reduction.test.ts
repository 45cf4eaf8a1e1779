/**
 * Partial-order reduction must stay sound: a reduced exploration finds every distinct violation
 * and every access outcome the full one finds (a reduction that drops one is a bug).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { exploreScenario } from "../../src/scenario/explore.js";
import { parseScenario, type Scenario } from "../../src/scenario/format.js";
import { independence, mayUseContiguous } from "../../src/scenario/reduction.js";
import { propertyRuns } from "../helpers/property.js";
import { arbScenario, scenarioText } from "./random-scenario.js";

/** Distinct violations (rule, detail, step, CPU) an exploration found. */
function findingKeys(s: Scenario, reduce: boolean): string[] {
  const r = exploreScenario(s, { limit: 1_000_000, reduce });
  expect(r.verdict).not.toBe("inconclusive");
  const keys =
    r.verdict === "violations"
      ? r.findings.map((f) => `${f.violation.rule}|${f.violation.detail}|${f.violation.step}|${f.violation.cpu}`)
      : [];
  return [...new Set(keys)].sort();
}

describe("partial-order reduction", () => {
  it("finds the same distinct violations as the full exploration (random scenarios)", () => {
    let reducedAny = 0;
    fc.assert(
      fc.property(arbScenario(3), (text) => {
        const s = parseScenario(text, "random.yaml");
        const r = exploreScenario(s, { limit: 1_000_000 });
        if (r.reduced) reducedAny++;
        expect(findingKeys(s, true), text).toEqual(findingKeys(s, false));
      }),
      { numRuns: propertyRuns(20) },
    );
    // The property must have exercised the reduction, not only scenarios it leaves alone.
    expect(reducedAny).toBeGreaterThan(0);
  });
  it("reaches every access outcome of every step that the full exploration reaches (random scenarios)", () => {
    fc.assert(
      fc.property(arbScenario(3), (text) => {
        const s = parseScenario(text, "random.yaml");
        const full = outcomesOf(s, false);
        expect(outcomesOf(s, true), text).toEqual(full);
      }),
      { numRuns: propertyRuns(12) },
    );
  });
  it("cuts the unmap-while-reading case: the reads commute with the ISB of the unmap (and with nothing else of it)", () => {
    const s = parseScenario(
      scenarioText([
        [0, 5, 9, 6, 8],
        [12, 12],
      ]),
      "x.yaml",
    );
    const full = exploreScenario(s, { reduce: false });
    const reduced = exploreScenario(s, {});
    expect(full.explored).toBe(21);
    expect(reduced.reduced).toBe(true);
    expect(reduced.explored).toBeLessThan(full.explored);
  });
  it("is off when a descriptor may be contiguous (the contiguous rule reports a group once, whichever CPU reaches it first)", () => {
    const s = parseScenario(scenarioText([[3, 12], [13]]), "c.yaml");
    expect(mayUseContiguous(s)).toBe(true);
    expect(independence(s)).toBeUndefined();
  });
  it("stores, DSBs and TLBIs commute with nothing; loads of two CPUs commute", () => {
    // Steps: P0 store, P1 load, P0 dsb ISH, P1 isb, P0 tlbi, P1 load
    const s = parseScenario(
      scenarioText([
        [0, 6, 9],
        [12, 8, 13],
      ]),
      "i.yaml",
    );
    const ind = independence(s);
    expect(ind).toBeDefined();
    const at = (cpu: number, k: number): number =>
      s.steps.findIndex((st, i) => st.cpu === cpu && s.steps.slice(0, i).filter((x) => x.cpu === cpu).length === k);
    const f = ind as (a: number, b: number) => boolean;
    expect(f(at(0, 0), at(1, 0))).toBe(false); // store vs load
    expect(f(at(0, 1), at(1, 0))).toBe(false); // DSB vs load
    expect(f(at(0, 2), at(1, 1))).toBe(false); // TLBI vs ISB
    expect(f(at(1, 0), at(1, 2))).toBe(false); // same CPU
  });
});

/** Per scenario step: the set of access outcomes seen over every explored interleaving. */
function outcomesOf(s: Scenario, reduce: boolean): Record<number, string[]> {
  const seen = new Map<number, Set<string>>();
  exploreScenario(s, {
    limit: 1_000_000,
    reduce,
    onRun: (_order, r) => {
      for (const a of r.accesses) {
        let set = seen.get(a.step);
        if (set === undefined) {
          set = new Set();
          seen.set(a.step, set);
        }
        for (const o of a.outcomes) set.add(JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? v.toString(16) : v)));
      }
    },
  });
  return Object.fromEntries([...seen].sort((x, y) => x[0] - y[0]).map(([k, v]) => [k, [...v].sort()]));
}
