/**
 * A differential campaign: generate jobs from seeds, run them on QEMU, compare every query's
 * PAR_EL1 with vmsa's walker, and tally agreement, known QEMU deviations, mismatches and coverage.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TranslationResult, Walker } from "../walk/walker.js";
import { AT_OPS, classify, classifyRegime, DEVIATIONS, type Deviation, formatRepro, HARNESS_ACCESS, outcomeKey } from "./compare.js";
import { type GenCase, type GenOptions, generateCase } from "./generate.js";
import { generateRegimeCase, type RegimeKind } from "./generate-regimes.js";
import { type AtOutcome, encodeJobs, type Job } from "./jobfile.js";
import { buildHarness, runBatch, type Tools } from "./qemu.js";
import { Rng } from "./rng.js";

export interface CampaignOptions {
  readonly seeds: readonly number[];
  readonly jobsPerSeed: number;
  /** Random paths per TTBR half per job (each gives 1-4 AT queries). */
  readonly pathsPerHalf?: number;
  /** See GenOptions.noLevelMinus1 (set automatically for QEMU < 8). */
  readonly noLevelMinus1?: boolean;
  /** See GenOptions.ipsBits and GenOptions.contiguousChance. */
  readonly ipsBits?: number;
  readonly contiguousChance?: number;
  /** See GenOptions.pie. */
  readonly pie?: GenOptions["pie"];
  /** Jobs of another regime (generate-regimes.ts): EL2, EL2&0 or two stages. */
  readonly regime?: RegimeKind;
  /** See RegimeGenOptions.s2DbmWithoutPie (set automatically for QEMU < 10.1). */
  readonly s2DbmWithoutPie?: boolean;
  /** QEMU processes run at once. */
  readonly parallel?: number;
  /** Jobs per QEMU process. */
  readonly batchSize?: number;
  /** Where to write one-job reproduction files for mismatches (none when undefined). */
  readonly reproDir?: string;
  readonly maxReports?: number;
  readonly log?: (line: string) => void;
}

export interface Mismatch {
  readonly caseId: string;
  readonly text: string;
  readonly reproFile?: string;
}

export interface CampaignResult {
  readonly jobs: number;
  readonly queries: number;
  /** Queries generated but not run (DEVIATIONS.atS12PermissionAbort). */
  readonly excluded: number;
  readonly agreed: number;
  readonly mismatches: readonly Mismatch[];
  readonly mismatchCount: number;
  readonly deviations: ReadonlyMap<string, { deviation: Deviation; count: number; example: string }>;
  /** vmsa outcome key → number of agreeing queries with it; a leaf with the Contiguous bit is
   * counted once more under "contiguous KEY". */
  readonly coverage: ReadonlyMap<string, number>;
  readonly ms: number;
}

/** The campaign's cases, generated lazily (each seed's jobs come from one PRNG stream). */
export function* iterateCases(o: CampaignOptions): Generator<GenCase> {
  for (const seed of o.seeds) {
    const rng = new Rng(seed);
    for (let j = 0; j < o.jobsPerSeed; j++) {
      if (o.regime !== undefined) {
        yield generateRegimeCase(rng, `seed ${seed} ${o.regime} job ${j}`, {
          regime: o.regime,
          pathsPerHalf: o.pathsPerHalf,
          pie: o.pie,
          s2DbmWithoutPie: o.s2DbmWithoutPie,
        });
        continue;
      }
      yield generateCase(rng, `seed ${seed} job ${j}`, {
        pathsPerHalf: o.pathsPerHalf,
        noLevelMinus1: o.noLevelMinus1,
        ipsBits: o.ipsBits,
        contiguousChance: o.contiguousChance,
        pie: o.pie,
      });
    }
  }
}

export function generateCases(o: CampaignOptions): GenCase[] {
  return [...iterateCases(o)];
}

async function runAll(elf: string, qemu: string, cases: readonly GenCase[], parallel: number, batchSize: number): Promise<AtOutcome[][]> {
  const batches: GenCase[][] = [];
  for (let i = 0; i < cases.length; i += batchSize) batches.push(cases.slice(i, i + batchSize));
  const results: AtOutcome[][][] = new Array(batches.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= batches.length) return;
      const b = batches[i] as GenCase[];
      results[i] = await runBatch(
        elf,
        b.map((c) => c.job),
        120_000,
        [],
        qemu,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return results.flat();
}

export async function runCampaign(tools: Tools, o: CampaignOptions): Promise<CampaignResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const elf = buildHarness();
  // QEMU 7.2 asserts (arm_fi_to_lfsc) on a level -1 fault and dies: keep those walks away from it.
  // QEMU 10.1+ loses DBM's write permission for AT and would abort on the stage-2 fault it then
  // reports: stage-2 DBM without S2PIE is generated only for older versions.
  const opts = {
    ...o,
    noLevelMinus1: o.noLevelMinus1 ?? tools.major < 8,
    s2DbmWithoutPie: o.s2DbmWithoutPie ?? (tools.major < 10 || (tools.major === 10 && tools.minor < 1)),
  };
  const parallel = o.parallel ?? 2;
  const totalJobs = o.seeds.length * o.jobsPerSeed;
  const batchSize = o.batchSize ?? Math.min(100, Math.max(1, Math.ceil(totalJobs / parallel)));
  log(`vmsa/qemu: ${tools.qemuVersion}; ${totalJobs} jobs`);
  let agreed = 0;
  let mismatchCount = 0;
  const mismatches: Mismatch[] = [];
  const deviations = new Map<string, { deviation: Deviation; count: number; example: string }>();
  const coverage = new Map<string, number>();
  let total = 0;
  let excluded = 0;
  // Generate, run and compare one group of batches at a time, so memory stays bounded.
  const it = iterateCases(opts);
  for (;;) {
    const group: GenCase[] = [];
    for (let i = 0; i < parallel * batchSize; i++) {
      const n = it.next();
      if (n.done) break;
      group.push(n.value);
    }
    if (group.length === 0) break;
    const outcomes = await runAll(elf, tools.qemu, group, parallel, batchSize);
    for (const [ci, c] of group.entries()) {
      total += c.job.queries.length;
      excluded += c.excluded ?? 0;
      const walker = new Walker(c.mem, c.regs);
      const outs = outcomes[ci] as AtOutcome[];
      c.job.queries.forEach((q, qi) => {
        const out = outs[qi] as AtOutcome;
        const r = walker.translate(q.va, HARNESS_ACCESS[q.op]);
        const v =
          c.regs.regime !== undefined || c.regs.hcr !== undefined
            ? classifyRegime(r, out, c.regs, c.mem)
            : classify(r, out, c.regs, walker);
        if (v.kind === "agree") {
          agreed++;
          const k = r.par === null ? `${outcomeKey(r)} (exception)` : outcomeKey(r);
          coverage.set(k, (coverage.get(k) ?? 0) + 1);
          for (const tag of contiguousTags(r, walker)) coverage.set(`${tag} ${k}`, (coverage.get(`${tag} ${k}`) ?? 0) + 1);
          if (c.regs.tcr2 !== undefined) for (const tag of pieTags(r, q.op, walker)) coverage.set(tag, (coverage.get(tag) ?? 0) + 1);
          if (isS2DbmWrite(r, walker)) coverage.set("s2 dbm-write", (coverage.get("s2 dbm-write") ?? 0) + 1);
        } else if (v.kind === "deviation") {
          const d = deviations.get(v.deviation.id);
          if (d) d.count++;
          else deviations.set(v.deviation.id, { deviation: v.deviation, count: 1, example: formatRepro(c.id, c.regs, q.va, q.op, r, out) });
        } else {
          mismatchCount++;
          if (mismatches.length < (o.maxReports ?? 20)) {
            let reproFile: string | undefined;
            if (o.reproDir !== undefined) {
              const one: Job = { ...c.job, queries: [q] };
              reproFile = join(o.reproDir, `vmsa-at-repro-${c.id.replace(/\W+/g, "-")}-q${qi}.bin`);
              writeFileSync(reproFile, encodeJobs([one]));
            }
            const text = formatRepro(c.id, c.regs, q.va, q.op, r, out, reproFile ? `job file ${reproFile}` : "");
            mismatches.push(reproFile === undefined ? { caseId: c.id, text } : { caseId: c.id, text, reproFile });
          }
        }
      });
    }
  }
  return { jobs: totalJobs, queries: total, excluded, agreed, mismatches, mismatchCount, deviations, coverage, ms: Date.now() - t0 };
}

/**
 * Extra coverage tags for a walk that ended at a block or page descriptor with the Contiguous bit
 * (success or a leaf fault): "contiguous", plus "contiguous-crossing" when the group's aligned base
 * is inside the PA size but this entry's own OA is not (the case issue 10 found mis-walked).
 */
function contiguousTags(r: TranslationResult, w: Walker): string[] {
  const d = r.trail[r.trail.length - 1]?.descriptor;
  const h = w.half;
  if (d === undefined || h === undefined || (d.kind !== "block" && d.kind !== "page") || !d.contiguous) return [];
  const span = BigInt((h.shiftAt[d.level + 1] ?? 0) + (h.contAt[d.level + 1] ?? 0));
  const limit = 1n << BigInt(h.paBits);
  const base = (d.oa >> span) << span;
  return base < limit && d.oa >= limit ? ["contiguous", "contiguous-crossing"] : ["contiguous"];
}

/**
 * Coverage tags of an agreeing query in a PIE/POE job: "pie pan-restricted" (AT S1E1RP/WP denied
 * where S1E1R/W is allowed: PAN under PIE), "pie gcs-page" (a page whose PI value grants GCS),
 * "pie clean-write-hw" (a write allowed on a clean page, nDirty=1, thanks to TCR.HA=HD=1),
 * "poe overlay-fault" (a Permission fault with PAR_EL1.Overlay).
 */
export function pieTags(r: TranslationResult, op: string, w: Walker): string[] {
  const tags: string[] = [];
  if ((op === "S1E1RP" || op === "S1E1WP") && r.kind === "fault" && r.fault === "permission") {
    const plain = new Walker(w.mem, w.ctx).translate(r.va, op === "S1E1RP" ? AT_OPS.S1E1R : AT_OPS.S1E1W);
    if (plain.kind === "ok") tags.push("pie pan-restricted");
  }
  if (r.kind === "ok" && w.ctx.pie) {
    if (r.permissions.pgcs || r.permissions.ugcs) tags.push("pie gcs-page");
    if (r.access.type === "write" && (w.descLo & 0x80) !== 0) tags.push("pie clean-write-hw");
  }
  if (r.kind === "fault" && r.par !== null && ((r.par >> 14n) & 1n) === 1n) tags.push("poe overlay-fault");
  return tags;
}

/**
 * A successful two-stage write that only stage-2 DBM allows: the final IPA's leaf has DBM=1 and
 * S2AP[1]=0 under VTCR_EL2.HA=HD=1 without S2PIE (ASL AArch64.S2ApplyOutputPerms).
 */
export function isS2DbmWrite(r: TranslationResult, w: Walker): boolean {
  if (r.kind !== "ok" || r.stage2 === undefined || r.access.type !== "write" || w.s2 === null) return false;
  const d = r.stage2.result.descriptor;
  return w.s2.ctx.hd && !w.s2.ctx.pie && (d.kind === "block" || d.kind === "page") && d.dbm && (d.s2ap & 2) === 0;
}

/** Tags every PIE campaign must have compared (see pieTags). */
export const PIE_REQUIRED_COVERAGE = ["pie pan-restricted", "pie gcs-page", "pie clean-write-hw"] as const;

/** The fault kinds and levels every campaign must have compared (issue 3 acceptance). */
export function requiredCoverage(opts: { accessFlag: boolean; levelMinus1?: boolean }): string[] {
  const keys = opts.levelMinus1 === false ? ["ok"] : ["ok", "translation@L-1"];
  for (const l of [0, 1, 2, 3]) keys.push(`translation@L${l}`, `address-size@L${l}`);
  for (const l of [1, 2, 3]) {
    keys.push(`permission@L${l}`);
    if (opts.accessFlag) keys.push(`access-flag@L${l}`);
  }
  return keys;
}

export function formatSummary(r: CampaignResult, tools: Tools): string {
  const lines: string[] = [];
  lines.push(
    `vmsa/qemu: ${tools.qemuVersion}: ${r.jobs} jobs, ${r.queries} queries: ${r.agreed} agree, ${[...r.deviations.values()].reduce((n, d) => n + d.count, 0)} known QEMU deviations, ${r.mismatchCount} disagreements (${(r.ms / 1000).toFixed(1)} s)`,
  );
  if (r.excluded > 0) {
    const d = DEVIATIONS.atS12PermissionAbort;
    lines.push(`  not run: ${r.excluded} queries (QEMU deviation ${d.id}: ${d.what}. Rule: ${d.rule})`);
  }
  const cov = [...r.coverage.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  lines.push(`  compared outcomes: ${cov.map(([k, n]) => `${k}=${n}`).join(", ")}`);
  for (const d of r.deviations.values()) {
    lines.push(`  QEMU deviation ${d.deviation.id} x${d.count}: ${d.deviation.what}. Rule: ${d.deviation.rule}. Example:`);
    lines.push(d.example.replace(/^/gm, "    "));
  }
  for (const m of r.mismatches) {
    lines.push("DISAGREEMENT");
    lines.push(m.text);
  }
  return lines.join("\n");
}
