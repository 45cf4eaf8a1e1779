/**
 * Differential test of the regimes beyond the EL1&0 stage 1 (issue 12): vmsa's PAR_EL1 against
 * QEMU's for AT S12E1R/W, S12E0R/W with HCR_EL2.VM=1 (random VTCR_EL2 geometry incl. concatenated
 * start tables, FWB and PTW on/off, IPA-size faults, stage-2 faults on stage-1 walks), AT S1E2R/W
 * in the EL2 regime (E2H=0) and AT S1E2R/W, S1E0R/W in the EL2&0 regime (E2H=TGE=1), over tables
 * vmsa wrote (src/diff-qemu/generate-regimes.ts). Bounded runs over fixed seeds; `npm run test:qemu
 * -- --regime s12|el2|el20 --seed N --jobs M` runs longer campaigns.
 *
 * QEMU's departures from the Arm ARM are counted as named deviations (compare.ts DEVIATIONS, with
 * the rule), never as agreement. Without the tools the test skips locally and fails under CI.
 */
import { describe, expect, it } from "vitest";
import { type CampaignResult, formatSummary, runCampaign } from "../../src/diff-qemu/campaign.js";
import type { RegimeKind } from "../../src/diff-qemu/generate-regimes.js";
import { qemuToolsOrSkip } from "../helpers/qemu-tools.js";

describe("AT on QEMU agrees with vmsa's PAR_EL1 for stage 2, EL2 and EL2&0", () => {
  const tools = qemuToolsOrSkip("QEMU regimes differential test");
  if (!tools) return;
  const results = new Map<RegimeKind, CampaignResult>();
  const run = async (regime: RegimeKind, seeds: number[], jobsPerSeed: number): Promise<CampaignResult> => {
    let r = results.get(regime);
    if (!r) {
      r = await runCampaign(tools, { seeds, jobsPerSeed, pathsPerHalf: 10, parallel: 2, regime });
      console.log(formatSummary(r, tools));
      results.set(regime, r);
    }
    return r;
  };

  it(
    "two stages (AT S12E*): no disagreement, stage-2 faults on stage-1 walks and on the final IPA compared",
    { timeout: 240_000 },
    async () => {
      const r = await run("s12", [1, 2, 3], 25);
      expect(r.queries).toBeGreaterThan(2000);
      // A disagreement prints its reproduction (registers, both stages' trails, both PAR_EL1 values) above.
      expect(r.mismatches.map((m) => m.text).join("\n\n")).toBe("");
      expect(r.mismatchCount).toBe(0);
      const keys = [...r.coverage.keys()];
      // PAR.S=1 PTW=1 (stage 2 faulted on a stage-1 table read) and S=1 PTW=0 (on the final IPA).
      for (const prefix of [
        "s2-ptw translation@L0",
        "s2-ptw translation",
        "s2 translation@L0",
        "s2 address-size",
        "s2 access-flag",
        "s12 ok",
      ]) {
        expect(
          keys.some((k) => k.startsWith(prefix)),
          prefix,
        ).toBe(true);
      }
    },
  );

  it("EL2 regime (AT S1E2R/W): no disagreement", { timeout: 240_000 }, async () => {
    const r = await run("el2", [1, 2], 15);
    expect(r.queries).toBeGreaterThan(800);
    expect(r.mismatches.map((m) => m.text).join("\n\n")).toBe("");
    expect(r.mismatchCount).toBe(0);
    for (const k of ["ok", "permission@L3", "translation@L0"]) expect(r.coverage.get(k) ?? 0, k).toBeGreaterThan(0);
  });

  it("EL2&0 regime (AT S1E2R/W, S1E0R/W with E2H=TGE=1): no disagreement", { timeout: 240_000 }, async () => {
    const r = await run("el20", [1, 2], 15);
    expect(r.queries).toBeGreaterThan(800);
    expect(r.mismatches.map((m) => m.text).join("\n\n")).toBe("");
    expect(r.mismatchCount).toBe(0);
    for (const k of ["ok", "permission@L3", "translation@L0"]) expect(r.coverage.get(k) ?? 0, k).toBeGreaterThan(0);
  });
});
