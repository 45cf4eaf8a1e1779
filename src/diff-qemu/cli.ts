/**
 * `npm run test:qemu -- [--seed N] [--seeds N] [--jobs M] [--paths P] [--parallel K] [--repro DIR]
 * [--ips BITS] [--contiguous PCT]`:
 * a long differential campaign of vmsa's walker against AT on QEMU. Seeds N, N+1, ... N+seeds-1,
 * M jobs per seed. Exits 1 on any disagreement or missing coverage, 2 when the tools are missing.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { decodeIdAa64mmfr3 } from "../arch/registers.js";
import { formatSummary, generateCases, PIE_REQUIRED_COVERAGE, requiredCoverage, runCampaign } from "./campaign.js";
import { describeOutcome } from "./compare.js";
import type { GenOptions } from "./generate.js";
import type { RegimeKind } from "./generate-regimes.js";
import { decodeResults, encodeJobs, HARNESS_OPS, JOB_MAGIC2, type Job } from "./jobfile.js";
import { buildHarness, checkTools, hasPie, pieQemu, QEMU_BIN, qemuArgs, readMmfr3 } from "./qemu.js";

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
    console.log("         [--ips BITS] (TCR_EL1.IPS for every job: 32 36 40 42 44 48 52; default random)");
    console.log("         [--contiguous PCT=10] (chance, in percent, that a new entry becomes a whole contiguous group)");
    console.log("         [--pie linux|random|mixed] (TCR2_EL1.PIE with Linux's or random PIR_EL1/PIRE0_EL1, AT S1E1RP/WP too;");
    console.log("          POR_EL1/POR_EL0 as well when QEMU implements FEAT_S1POE; needs QEMU >= 10.2: qemu/install-qemu-pie.sh,");
    console.log("          found through $VMSA_QEMU_PIE or that script's wrapper)");
    console.log("         [--regime el2|el20|s12] (AT S1E2R/W in the EL2 regime; S1E2R/W, S1E0R/W in EL2&0 (E2H=TGE=1);");
    console.log("          or two stages with HCR_EL2.VM=1 and random VTCR_EL2/FWB/PTW: AT S12E1R/W, S12E0R/W)");
    console.log("       npm run test:qemu -- --write-jobs FILE [--seed N] [--seeds S] [--jobs M]   (job file + QEMU command, no run)");
    console.log("       npm run test:qemu -- --show-results JOBFILE RESULTFILE                    (print PAR_EL1 per query)");
    return 0;
  }
  const show = args.indexOf("--show-results");
  if (show >= 0) return showResults(args[show + 1], args[show + 2]);
  const seed = intArg(args, "--seed", 1);
  const nSeeds = intArg(args, "--seeds", 1);
  const jobs = intArg(args, "--jobs", 200);
  const ipsArg = intArg(args, "--ips", 0);
  if (ipsArg !== 0 && ![32, 36, 40, 42, 44, 48, 52].includes(ipsArg)) throw new Error("--ips needs one of 32 36 40 42 44 48 52");
  const ipsBits = ipsArg === 0 ? undefined : ipsArg;
  const contiguousPct = intArg(args, "--contiguous", 10);
  if (contiguousPct > 100) throw new Error("--contiguous needs a percentage from 0 to 100");
  const pieMode = strArg(args, "--pie");
  if (pieMode !== undefined && pieMode !== "linux" && pieMode !== "random" && pieMode !== "mixed") {
    throw new Error("--pie needs linux, random or mixed");
  }
  const tc = checkTools(pieMode === undefined ? QEMU_BIN : pieQemu());
  if (!tc.ok) {
    console.error(
      `vmsa/qemu: missing tools: ${tc.missing.join(", ")} (run qemu/ci-setup.sh${pieMode ? " and qemu/install-qemu-pie.sh" : ""})`,
    );
    return 2;
  }
  let pie: GenOptions["pie"];
  if (pieMode !== undefined) {
    if (!hasPie(tc.tools)) {
      console.error(`vmsa/qemu: ${tc.tools.qemu} is ${tc.tools.qemuVersion}: FEAT_S1PIE needs QEMU >= 10.2 (run qemu/install-qemu-pie.sh)`);
      return 2;
    }
    const m3 = decodeIdAa64mmfr3(await readMmfr3(buildHarness(), tc.tools));
    console.log(`vmsa/qemu: ID_AA64MMFR3_EL1: TCRX=${m3.tcrx} S1PIE=${m3.s1pie} S1POE=${m3.s1poe}`);
    if (m3.s1pie === 0 || m3.tcrx === 0) {
      console.error(`vmsa/qemu: ${tc.tools.qemuVersion} -cpu max reports no FEAT_S1PIE/FEAT_TCR2: nothing to compare`);
      return 3;
    }
    pie = { mode: pieMode, poe: m3.s1poe !== 0 };
  }
  const regimeArg = strArg(args, "--regime");
  if (regimeArg !== undefined && regimeArg !== "el2" && regimeArg !== "el20" && regimeArg !== "s12") {
    throw new Error("--regime needs el2, el20 or s12");
  }
  const regime: RegimeKind | undefined = regimeArg;
  const gen = { ipsBits, contiguousChance: contiguousPct / 100, pie, regime };
  const seeds = Array.from({ length: nSeeds }, (_, i) => seed + i);
  const writeJobs = strArg(args, "--write-jobs");
  if (writeJobs !== undefined) {
    const cases = generateCases({ seeds, jobsPerSeed: jobs, pathsPerHalf: intArg(args, "--paths", 14), ...gen });
    writeFileSync(writeJobs, encodeJobs(cases.map((c) => c.job)));
    const elf = buildHarness();
    console.log(`wrote ${cases.length} jobs to ${writeJobs}; run them with:`);
    console.log([tc.tools.qemu, ...qemuArgs(elf, writeJobs, `${writeJobs}.results`)].join(" "));
    return 0;
  }
  const res = await runCampaign(tc.tools, {
    seeds,
    jobsPerSeed: jobs,
    pathsPerHalf: intArg(args, "--paths", 14),
    parallel: intArg(args, "--parallel", 2),
    batchSize: 50,
    reproDir: strArg(args, "--repro"),
    ...gen,
    log: (l) => console.log(l),
  });
  console.log(formatSummary(res, tc.tools));
  const afReported = !res.deviations.has("qemu-at-no-access-flag-fault");
  const required = [
    ...requiredCoverage({ accessFlag: afReported, levelMinus1: tc.tools.major >= 8 }),
    // (PAN, GCS pages and nDirty are EL1&0 stage-1 matters: not required of the other regimes.)
    ...(pie && regime === undefined ? PIE_REQUIRED_COVERAGE : []),
  ];
  if (pie?.poe) required.push("poe overlay-fault");
  // Two stages: stage-1 successes are keyed "s12 ok"; stage-2 faults on the final IPA ("s2 …") and
  // on stage-1 table reads ("s2-ptw …", PAR.PTW=1) must both have been compared.
  if (regime === "s12") required.splice(required.indexOf("ok"), 1, "s12 ok", "s2 translation@L0", "s2-ptw translation@L0");
  const missing = required.filter((k) => !res.coverage.has(k));
  if (missing.length > 0) console.log(`coverage missing: ${missing.join(", ")}`);
  return res.mismatchCount > 0 || missing.length > 0 ? 1 : 0;
}

/** Print each query of a job file with QEMU's outcome from a result file. */
function showResults(jobFile: string | undefined, resultFile: string | undefined): number {
  if (!jobFile || !resultFile) throw new Error("--show-results needs JOBFILE RESULTFILE");
  const jobs = parseJobQueries(new Uint8Array(readFileSync(jobFile)));
  const res = decodeResults(new Uint8Array(readFileSync(resultFile)), jobs);
  jobs.forEach((j, ji) => {
    j.queries.forEach((q, qi) => {
      const o = res[ji]?.[qi];
      if (o) console.log(`job ${ji} AT ${q.op} 0x${q.va.toString(16).padStart(16, "0")}: ${describeOutcome(o)}`);
    });
  });
  return 0;
}

/** Just enough of a job file to list its queries (registers and chunks are skipped). */
function parseJobQueries(b: Uint8Array): Job[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 8;
  const get = (): bigint => {
    const v = dv.getBigUint64(off, true);
    off += 8;
    return v;
  };
  const v2 = dv.getBigUint64(0, true) === JOB_MAGIC2;
  const n = Number(get());
  const jobs: Job[] = [];
  for (let j = 0; j < n; j++) {
    const regs = { ttbr0: get(), ttbr1: get(), tcr: get(), mair: get(), sctlr: get() };
    const nchunks = Number(get());
    const nq = Number(get());
    const nextra = v2 ? Number(get()) : 0;
    off += 16 * nextra;
    for (let c = 0; c < nchunks; c++) {
      get(); // pa
      const len = Number(get());
      off += len;
    }
    const queries = Array.from({ length: nq }, () => {
      const va = get();
      const op = HARNESS_OPS[Number(get())] ?? "S1E1R";
      return { va, op };
    });
    jobs.push({ regs, chunks: [], queries });
  }
  return jobs;
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
