/** Workload names for `npm run bench` and `npm run bench:compare`: exact name or prefix. */
import { describe, expect, it } from "vitest";
import { selectPairs } from "../../bench/compare/pairs.js";
import { selectWorkloads, WORKLOAD_MODULES } from "../../bench/workloads.js";

describe("selectWorkloads", () => {
  it("runs only the module producing a named workload", () => {
    const s = selectWorkloads(["walk-4k-random"]);
    expect(s.kind).toBe("selected");
    if (s.kind !== "selected") return;
    expect(s.modules.map((m) => m.file)).toEqual(["walk.js"]);
    expect([...s.workloads]).toEqual(["walk-4k-random"]);
  });
  it("an exact name does not also select the workloads it is a prefix of", () => {
    const s = selectWorkloads(["map-4k-pages"]);
    if (s.kind !== "selected") throw new Error("expected a selection");
    expect([...s.workloads]).toEqual(["map-4k-pages"]);
    expect(s.modules.map((m) => m.file)).toEqual(["kernel.js"]);
  });
  it("a prefix selects every workload it starts", () => {
    const s = selectWorkloads(["map-", "dump-aliased"]);
    if (s.kind !== "selected") throw new Error("expected a selection");
    expect([...s.workloads].sort()).toEqual(
      ["dump-aliased", "map-1t-blocks", "map-1t-blocks-checked", "map-4k-pages", "map-4k-pages-checked"].sort(),
    );
    expect(s.modules.map((m) => m.file)).toEqual(["dump.js", "kernel.js"]);
  });
  it("no name selects every module", () => {
    const s = selectWorkloads([]);
    if (s.kind !== "selected") throw new Error("expected a selection");
    expect(s.modules.length).toBe(WORKLOAD_MODULES.length);
    expect(s.modules.map((m) => m.file)).toContain("lazy-dump.js");
    expect(s.workloads.has("check-throughput")).toBe(true);
    expect(s.workloads.has("walk-s12-4k-random")).toBe(true);
  });
  it("an unknown name is reported with the known ones", () => {
    const s = selectWorkloads(["walk-4k-random", "nope"]);
    expect(s.kind).toBe("unknown");
    if (s.kind !== "unknown") return;
    expect(s.name).toBe("nope");
    expect(s.known).toContain("map-1t-blocks");
  });
  it("an empty name is unknown, not a prefix of everything", () => {
    expect(selectWorkloads([""]).kind).toBe("unknown");
  });
});

describe("selectPairs", () => {
  it("selects pairs by the vmsa or the C workload name", () => {
    const a = selectPairs(["walk-full"]);
    const b = selectPairs(["map-1t"]);
    expect(a.kind === "selected" && a.pairs.map((p) => p.vmsa)).toEqual(["walk-4k-random"]);
    expect(b.kind === "selected" && b.pairs.map((p) => p.vmsa)).toEqual(["map-1t-blocks"]);
  });
  it("a name matching no pair is unknown (a vmsa workload without a C twin too)", () => {
    const s = selectPairs(["dump-linux"]);
    expect(s.kind).toBe("unknown");
    if (s.kind === "unknown") expect(s.known).toEqual(["walk-4k-random", "map-4k-pages", "map-1t-blocks"]);
  });
  it("no name selects every pair", () => {
    const s = selectPairs([]);
    expect(s.kind === "selected" && s.pairs.length).toBe(3);
  });
});
