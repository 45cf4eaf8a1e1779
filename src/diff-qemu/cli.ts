/**
 * `npm run test:qemu -- [--seed N] [--seeds N] [--jobs M] [--paths P] [--parallel K] [--repro DIR]`:
 * a long differential campaign of vmsa's walker against AT on QEMU. Seeds N, N+1, ... N+seeds-1,
 * M jobs per seed. Exits 1 on any disagreement or missing coverage, 2 when the tools are missing.
 */

import { formatSummary, requiredCoverage, runCampaign } from "./campaign.js";
import { checkTools } from "./qemu.js";

function intArg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} needs a non-negative integer`);
  return v;
}

function strArg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log("usage: npm run test:qemu -- [--seed N=1] [--seeds S=1] [--jobs M=200] [--paths P=14] [--parallel K=2] [--repro DIR]");
    return 0;
  }
  const seed = intArg(args, "--seed", 1);
  const nSeeds = intArg(args, "--seeds", 1);
  const jobs = intArg(args, "--jobs", 200);
  const tc = checkTools();
  if (!tc.ok) {
    console.error(`vmsa/qemu: missing tools: ${tc.missing.join(", ")} (run qemu/ci-setup.sh)`);
    return 2;
  }
  const seeds = Array.from({ length: nSeeds }, (_, i) => seed + i);
  const res = await runCampaign(tc.tools, {
    seeds,
    jobsPerSeed: jobs,
    pathsPerHalf: intArg(args, "--paths", 14),
    parallel: intArg(args, "--parallel", 2),
    batchSize: 50,
    reproDir: strArg(args, "--repro"),
    log: (l) => console.log(l),
  });
  console.log(formatSummary(res, tc.tools));
  const afReported = !res.deviations.has("qemu-at-no-access-flag-fault");
  const missing = requiredCoverage({ accessFlag: afReported }).filter((k) => !res.coverage.has(k));
  if (missing.length > 0) console.log(`coverage missing: ${missing.join(", ")}`);
  return res.mismatchCount > 0 || missing.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exitCode = 1;
  },
);
