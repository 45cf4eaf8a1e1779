/**
 * Differential test of permission indirection (FEAT_S1PIE) against QEMU >= 10.2: TCR2_EL1.PIE=1
 * with Linux's PIR_EL1/PIRE0_EL1 values (pgtable-prot.h PIE_E1 / PIE_E0 of three kernel eras) and
 * with random ones, over random tables; AT S1E1R/W, S1E0R/W and S1E1RP/WP with PSTATE.PAN=1.
 * POR_EL1/POR_EL0 are programmed too when QEMU reports FEAT_S1POE (11.1 does not).
 * `npm run test:qemu -- --pie linux|random|mixed --seed N --jobs M` runs longer campaigns.
 *
 * The QEMU comes from qemu/install-qemu-pie.sh ($VMSA_QEMU_PIE or its wrapper). Without it the
 * test skips locally and fails under CI (process.env.CI set), which installs it.
 */
import { describe, expect, it } from "vitest";
import { decodeIdAa64mmfr3 } from "../../src/arch/registers.js";
import { formatSummary, PIE_REQUIRED_COVERAGE, requiredCoverage, runCampaign } from "../../src/diff-qemu/campaign.js";
import { DEVIATIONS } from "../../src/diff-qemu/compare.js";
import { buildHarness, checkTools, hasPie, pieQemu, readMmfr3 } from "../../src/diff-qemu/qemu.js";
import { skipBecause } from "../helpers/skip.js";

const tc = checkTools(pieQemu());
const inCi = Boolean(process.env.CI);
const problem = !tc.ok
  ? `needs ${tc.missing.join(", ")}`
  : !hasPie(tc.tools)
    ? `${tc.tools.qemu} is ${tc.tools.qemuVersion}, FEAT_S1PIE needs QEMU >= 10.2`
    : undefined;

describe("AT under permission indirection on QEMU agrees with vmsa's PAR_EL1", () => {
  if (problem !== undefined || !tc.ok) {
    const msg = `PIE differential test ${problem}; install it with qemu/install-qemu-pie.sh`;
    if (inCi) {
      it("has its QEMU under CI", () => {
        throw new Error(msg);
      });
    } else {
      it.skipIf(skipBecause("PIE differential test", msg))(`skipped: ${msg}`, () => {});
    }
    return;
  }
  const tools = tc.tools;

  it("QEMU -cpu max reports FEAT_TCR2 and FEAT_S1PIE in ID_AA64MMFR3_EL1", { timeout: 60_000 }, async () => {
    const m3 = decodeIdAa64mmfr3(await readMmfr3(buildHarness(), tools));
    expect(m3.tcrx).toBeGreaterThan(0);
    expect(m3.s1pie).toBeGreaterThan(0);
  });

  for (const mode of ["linux", "random"] as const) {
    it(`compares ${mode} PIR values with no disagreement and covers PAN, GCS pages and nDirty`, { timeout: 240_000 }, async () => {
      const m3 = decodeIdAa64mmfr3(await readMmfr3(buildHarness(), tools));
      const r = await runCampaign(tools, {
        seeds: [1, 2, 3],
        jobsPerSeed: 15,
        pathsPerHalf: 14,
        parallel: 2,
        pie: { mode, poe: m3.s1poe !== 0 },
      });
      console.log(formatSummary(r, tools));
      expect(r.queries).toBeGreaterThan(3000);
      // A disagreement prints its reproduction (registers incl. TCR2/PIR/PIRE0, trail with PIIndex) above.
      expect(r.mismatches.map((m) => m.text).join("\n\n")).toBe("");
      expect(r.mismatchCount).toBe(0);
      const afCompared = !r.deviations.has(DEVIATIONS.atAccessFlag.id);
      const required = [...requiredCoverage({ accessFlag: afCompared }), ...PIE_REQUIRED_COVERAGE];
      expect(required.filter((k) => !r.coverage.has(k))).toEqual([]);
    });
  }

  // Stage 2 with VTCR_EL2.S2PIE and a random S2PIR_EL2 (random DBM = PIIndex[1] on stage-2 leaves),
  // and the EL2 / EL2&0 regimes with TCR2_EL2.PIE and PIR_EL2/PIRE0_EL2 (generate-regimes.ts).
  for (const regime of ["s12", "el2", "el20"] as const) {
    it(`compares ${regime} jobs with permission indirection with no disagreement`, { timeout: 240_000 }, async () => {
      const r = await runCampaign(tools, {
        seeds: [1, 2],
        jobsPerSeed: 15,
        pathsPerHalf: 10,
        parallel: 2,
        regime,
        pie: { mode: "random", poe: false },
      });
      console.log(formatSummary(r, tools));
      expect(r.queries).toBeGreaterThan(800);
      expect(r.mismatches.map((m) => m.text).join("\n\n")).toBe("");
      expect(r.mismatchCount).toBe(0);
      expect(r.coverage.get("permission@L3") ?? 0).toBeGreaterThan(0);
    });
  }
});
