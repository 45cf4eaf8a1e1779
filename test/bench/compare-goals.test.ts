/** bench:compare goals measured on vmsa alone (issue 14): per-round values, medians, the bound (no timing involved). */
import { describe, expect, it } from "vitest";
import { evaluateGoal, GOAL_ROWS, goalWorkloads } from "../../bench/compare/goals.js";
import { reportText } from "../../bench/compare/report.js";
import { WORKLOAD_MODULES } from "../../bench/workloads.js";

describe("evaluateGoal", () => {
  it("a time ratio is taken per round from the same run (ops of the fast side over ops of the slow one)", () => {
    const row = { kind: "ratio" as const, name: "audit/dump", slow: "audit-4k", fast: "dump-4k", goal: 2 };
    // Round 1: audit 3x slower; round 2: 1x; round 3: 1.5x. Medians of each side would give 10/5 = 2.
    const samples = new Map([
      ["audit-4k", [10, 5, 20]],
      ["dump-4k", [30, 5, 30]],
    ]);
    const r = evaluateGoal(row, samples);
    expect(r).toEqual({ kind: "measured", row, median: 1.5, min: 1, max: 3, rounds: 3, met: true });
  });

  it("seconds are units over ops; a median above the goal is not met", () => {
    const row = { kind: "seconds" as const, name: "ptdump", workload: "ptdump-1tib", units: 100, goal: 5 };
    const r = evaluateGoal(row, new Map([["ptdump-1tib", [10, 20, 25]]]));
    expect(r).toMatchObject({ median: 5, min: 4, max: 10, met: true });
    expect(evaluateGoal(row, new Map([["ptdump-1tib", [10, 10]]]))).toMatchObject({ median: 10, met: false });
  });

  it("milliseconds per run come with the floor workload's median", () => {
    const row = { kind: "ms" as const, name: "version", workload: "startup-version", floor: "startup-node" };
    const r = evaluateGoal(
      row,
      new Map([
        ["startup-version", [10, 20]],
        ["startup-node", [20, 20]],
      ]),
    );
    expect(r).toMatchObject({ median: 75, min: 50, max: 100, floor: 50 });
    expect(r).not.toHaveProperty("met");
  });

  it("a workload without samples leaves the goal missing, never a made-up value", () => {
    const row = GOAL_ROWS[0] as (typeof GOAL_ROWS)[number];
    expect(evaluateGoal(row, new Map())).toEqual({ kind: "missing", row });
    expect(reportText([], 1, [{ kind: "missing", row }])).toContain("no result");
  });

  it("every goal workload is produced by a bench module", () => {
    const known = new Set(WORKLOAD_MODULES.flatMap((m) => m.workloads));
    for (const w of goalWorkloads(GOAL_ROWS)) expect(known.has(w)).toBe(true);
  });
});
