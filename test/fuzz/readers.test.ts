/**
 * Fuzzed readers (issue 10 §6): every input reader, fed mutated and truncated versions of the
 * real fixtures and examples, returns a result or throws a VmsaError with a stable code and a
 * one-line message, never a TypeError/RangeError/plain Error. The run is sized by input count
 * (each reader's `ciRuns`, scaled by VMSA_PROPERTY_SCALE: test/helpers/property.ts) with a fixed
 * seed (FUZZ_SEED) so a failure reproduces; `npm run fuzz -- --runs N` is the longer campaign.
 */
import { afterAll, describe, expect, it } from "vitest";
import { propertyRuns } from "../helpers/property.js";
import { distinctCrashes, fuzzTarget } from "./harness.js";
import { getScratch, targets } from "./targets.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

afterAll(() => getScratch().dispose());

describe("fuzzed readers: a result or one VmsaError line, never a crash", () => {
  for (const t of targets()) {
    it(`${t.name}: ${t.reads}`, async () => {
      const runs = propertyRuns(t.ciRuns);
      const fig = await fuzzTarget(t, runs, SEED);
      const crashes = distinctCrashes(fig.crashes).map((c) => `#${c.index} from ${c.seed}: ${c.what}`);
      expect(crashes).toEqual([]);
      expect(fig.tried).toBe(runs);
    });
  }
});
