/** bench:compare's vmsa children: which workloads get fresh table memory (no timing involved). */
import { describe, expect, it } from "vitest";
import { FRESH_MEMORY_ENV, FRESH_MMAP_THRESHOLD, vmsaChildren } from "../../bench/compare/children.js";
import { WORKLOAD_PAIRS } from "../../bench/compare/pairs.js";
import { arenaBytes, MAP_1T, MAP_4K } from "../../bench/kernel.js";

describe("vmsaChildren", () => {
  it("runs the map pairs alone with glibc's mmap threshold fixed and gc exposed, the rest as they are", () => {
    // ptbench-fair.c maps a new anonymous arena per map rep: its table pages fault inside the timer.
    const ch = vmsaChildren(WORKLOAD_PAIRS, ["dump-4k", "startup-node"]);
    expect(ch).toEqual([
      { names: ["walk-4k-random", "dump-4k", "startup-node"], nodeArgs: [], env: {} },
      {
        names: ["map-4k-pages", "map-1t-blocks"],
        nodeArgs: ["--expose-gc", "--no-concurrent-array-buffer-sweeping"],
        env: { MALLOC_MMAP_THRESHOLD_: String(FRESH_MMAP_THRESHOLD) },
      },
    ]);
  });
  it("starts no child without workloads", () => {
    expect(vmsaChildren([], [])).toEqual([]);
    const maps = WORKLOAD_PAIRS.filter((p) => p.vmsa.startsWith("map-"));
    expect(vmsaChildren(maps, [])).toEqual([
      {
        names: ["map-4k-pages", "map-1t-blocks"],
        nodeArgs: ["--expose-gc", "--no-concurrent-array-buffer-sweeping"],
        env: FRESH_MEMORY_ENV,
      },
    ]);
    expect(vmsaChildren([], ["ptdump-1tib"])).toEqual([{ names: ["ptdump-1tib"], nodeArgs: [], env: {} }]);
  });
  it("sets the threshold below every table arena the map benches reserve, so each arena is a new mmap", () => {
    // glibc serves calloc requests at or above M_MMAP_THRESHOLD with a new mmap (pages not touched).
    for (const shape of [MAP_4K, MAP_1T]) expect(arenaBytes(shape)).toBeGreaterThanOrEqual(FRESH_MMAP_THRESHOLD);
  });
});
