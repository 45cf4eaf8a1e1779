/** bench:compare statistics: medians, spreads and the vmsa/C ratio (no timing involved). */
import { describe, expect, it } from "vitest";
import { WORKLOAD_PAIRS } from "../../bench/compare/pairs.js";
import { reportJson, reportText } from "../../bench/compare/report.js";
import { comparePair, median, spread } from "../../bench/compare/stats.js";

const pair = { vmsa: "walk-4k-random", c: "walk-full" };

describe("median", () => {
  it("takes the middle sample of an odd count whatever the order", () => {
    expect(median([30, 10, 20])).toBe(20);
    expect(median([5])).toBe(5);
  });
  it("averages the two middle samples of an even count", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it("has no median without samples", () => {
    expect(median([])).toBeUndefined();
  });
  it("does not reorder the caller's samples", () => {
    const s = [3, 1, 2];
    median(s);
    expect(s).toEqual([3, 1, 2]);
  });
});

describe("spread", () => {
  it("reports median, min, max and the round count", () => {
    expect(spread([7, 2, 9, 4, 5])).toEqual({ median: 5, min: 2, max: 9, rounds: 5 });
  });
  it("is undefined without samples", () => {
    expect(spread([])).toBeUndefined();
  });
});

describe("comparePair", () => {
  it("divides the vmsa median by the C median (above 1: vmsa faster)", () => {
    const r = comparePair(pair, [100, 300, 200], [400, 50, 100]);
    expect(r.kind).toBe("compared");
    if (r.kind !== "compared") return;
    expect(r.ratio).toBe(2);
    expect(r.vmsa).toEqual({ median: 200, min: 100, max: 300, rounds: 3 });
    expect(r.c).toEqual({ median: 100, min: 50, max: 400, rounds: 3 });
  });
  it("gives no ratio when the C side has no sample", () => {
    expect(comparePair(pair, [1, 2, 3], [])).toEqual({ kind: "missing", pair, missing: ["c"] });
  });
  it("gives no ratio when the vmsa side has no sample", () => {
    expect(comparePair(pair, [], [1])).toEqual({ kind: "missing", pair, missing: ["vmsa"] });
  });
  it("names both sides when neither produced a sample", () => {
    expect(comparePair(pair, [], [])).toEqual({ kind: "missing", pair, missing: ["vmsa", "c"] });
  });
});

describe("comparePair with a second C workload (WorkloadPair.also)", () => {
  const withAlso = { ...pair, also: { c: "walk-full-sparse", note: "frame-cache variant" } };
  it("divides the vmsa median by the second C workload's median too, keeping the goal ratio against the first", () => {
    const r = comparePair(withAlso, [100, 300, 200], [400, 50, 100], [40, 80, 100]);
    expect(r.kind === "compared" && r.ratio).toBe(2);
    expect(r.kind === "compared" && r.also).toEqual({
      kind: "compared",
      c: "walk-full-sparse",
      note: "frame-cache variant",
      spread: { median: 80, min: 40, max: 100, rounds: 3 },
      ratio: 2.5,
    });
  });
  it("marks the second ratio missing when that C workload printed nothing (no ratio made up)", () => {
    const r = comparePair(withAlso, [100], [50], []);
    expect(r.kind === "compared" && r.also).toEqual({ kind: "missing", c: "walk-full-sparse", note: "frame-cache variant" });
  });
  it("prints the second ratio on its own labelled line under the pair's goal ratio", () => {
    const text = reportText([comparePair(withAlso, [100, 300, 200], [400, 50, 100], [40, 80, 100])], 3);
    const lines = text.trimEnd().split("\n");
    expect(lines[1]).toMatch(/^walk-4k-random ↔ walk-full: .* ratio 2\.000$/);
    expect(lines[2]).toBe("  also vs C walk-full-sparse: C 80 [40–100]  ratio 2.500 (frame-cache variant)");
    expect(reportText([comparePair(withAlso, [100], [50], [])], 1)).toContain("also vs C walk-full-sparse: no result from C — no ratio");
    expect(JSON.parse(reportJson([comparePair(withAlso, [100], [50], [25])], 1)).pairs[0].also.ratio).toBe(4);
  });
  it("is what the walk pair compares against besides walk-full", () => {
    expect(WORKLOAD_PAIRS.find((p) => p.vmsa === "walk-4k-random")?.also?.c).toBe("walk-full-sparse");
  });
});

describe("WORKLOAD_PAIRS", () => {
  it("pairs each vmsa workload with the C workload of the same shape", () => {
    // Names as printed by bench/walk.ts, bench/kernel.ts and ptbench-fair.c's REPORT lines.
    expect(WORKLOAD_PAIRS.map((p) => `${p.vmsa}=${p.c}`)).toEqual([
      "walk-4k-random=walk-full",
      "map-4k-pages=map-4k-pages-linux",
      "map-1t-blocks=map-1t-blocks-linux",
    ]);
  });
});
