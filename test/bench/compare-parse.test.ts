/** bench:compare reading the JSON lines of the C yardstick and of `npm run bench`. */
import { describe, expect, it } from "vitest";
import { collect, parseBenchLine, parseBenchOutput } from "../../bench/compare/parse.js";

// One round of ptbench-fair.c run with "1" (its REPORT line shape).
const C_OUTPUT = `{"workload":"walk-weak","ops_per_s":145021355,"med_s":0.028922,"min_s":0.028922,"max_s":0.028922}
{"workload":"walk-full","ops_per_s":111489770,"med_s":0.037621,"min_s":0.037621,"max_s":0.037621}
{"workload":"map-4k-pages-linux","ops_per_s":364374695,"med_s":0.002878,"min_s":0.002878,"max_s":0.002878}
`;

describe("parseBenchOutput", () => {
  it("reads every workload line of the C yardstick", () => {
    expect(parseBenchOutput(C_OUTPUT)).toEqual([
      { workload: "walk-weak", opsPerS: 145021355 },
      { workload: "walk-full", opsPerS: 111489770 },
      { workload: "map-4k-pages-linux", opsPerS: 364374695 },
    ]);
  });
  it("reads vmsa's bench lines with extra fields", () => {
    expect(parseBenchOutput('{"workload":"map-1t-blocks","ops_per_s":146741042,"seconds":0.0035,"descriptors":525314}\n')).toEqual([
      { workload: "map-1t-blocks", opsPerS: 146741042 },
    ]);
  });
  it("skips blank lines, text and truncated JSON", () => {
    expect(parseBenchOutput('\nwarming up\n{"workload":"walk-full","ops_\n')).toEqual([]);
  });
});

describe("parseBenchLine", () => {
  it("rejects a line without a usable throughput", () => {
    expect(parseBenchLine('{"workload":"walk-full"}')).toBeUndefined();
    expect(parseBenchLine('{"workload":"walk-full","ops_per_s":"fast"}')).toBeUndefined();
    expect(parseBenchLine('{"workload":"walk-full","ops_per_s":0}')).toBeUndefined();
    expect(parseBenchLine('{"ops_per_s":5}')).toBeUndefined();
    expect(parseBenchLine("[1,2]")).toBeUndefined();
  });
});

describe("collect", () => {
  it("keeps one sample per round under each workload", () => {
    const m = new Map<string, number[]>();
    collect(m, parseBenchOutput(C_OUTPUT));
    collect(m, parseBenchOutput(C_OUTPUT.replace("111489770", "99")));
    expect(m.get("walk-full")).toEqual([111489770, 99]);
    expect(m.get("walk-weak")).toEqual([145021355, 145021355]);
  });
});
