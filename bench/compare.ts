/**
 * `npm run bench:compare [-- --rounds N] [--json] [--c-source FILE] [WORKLOAD…]`: builds the C
 * yardstick, then runs it and vmsa's bench interleaved (C, vmsa, C, vmsa…) for N rounds and
 * prints each workload pair's medians, spreads and ratio (walk-4k-random also beside C's
 * walk-full-sparse, labelled, not a goal), then the issue-14 goals measured on vmsa
 * alone (audit/dump, json/text, ptdump of 1 TiB, startup: compare/goals.ts), per round. Exit 0 done, 2 bad input, 3 when the
 * C source or gcc is missing or a pair (or its second C workload) got no result (no ratio is printed for it).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { vmsaChildren } from "./compare/children.js";
import { evaluateGoal, GOAL_ROWS, type GoalRow, goalWorkloads } from "./compare/goals.js";
import { selectPairs } from "./compare/pairs.js";
import { collect, parseBenchOutput } from "./compare/parse.js";
import { reportJson, reportText } from "./compare/report.js";
import { comparePair } from "./compare/stats.js";
import { matchesName } from "./workloads.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");

let dir: string | undefined;

function fail(status: 2 | 3, msg: string): never {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`vmsa: error: ${msg}\n`);
  process.exit(status);
}

let rounds = 3;
let json = false;
let cSource = process.env.VMSA_PTBENCH_C || resolve(repo, "..", "shared", "bench", "ptbench-fair.c");
const names: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  if (a === "--json") json = true;
  else if (a === "--rounds" || a === "--c-source") {
    const v = args[++i];
    if (v === undefined) fail(2, `${a}: expected a value`);
    if (a === "--c-source") cSource = resolve(v);
    else {
      if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > 1000) fail(2, `--rounds: expected a decimal count 1..1000, got '${v}'`);
      rounds = Number(v);
    }
  } else if (a.startsWith("-")) fail(2, `unknown option '${a}': expected --rounds N, --json, --c-source FILE`);
  else names.push(a);
}
// No names: every C pair and every vmsa-alone goal. Names select pairs and goals by workload.
const goalHit = (g: GoalRow, n: string): boolean => goalWorkloads([g]).some((w) => w === n || matchesName(w, n));
const goals = names.length === 0 ? [...GOAL_ROWS] : GOAL_ROWS.filter((g) => names.some((n) => goalHit(g, n)));
const pairNames = names.filter((n) => !GOAL_ROWS.some((g) => goalHit(g, n)));
const sel = names.length > 0 && pairNames.length === 0 ? { kind: "selected" as const, pairs: [] } : selectPairs(pairNames);
if (sel.kind === "unknown")
  fail(2, `unknown workload '${sel.name}': expected one of ${sel.known.join(", ")}, ${goalWorkloads(GOAL_ROWS).join(", ")} (or a prefix)`);

if (!existsSync(cSource)) fail(3, `C yardstick ${cSource} not found (set --c-source or VMSA_PTBENCH_C); no comparison`);
const gcc = spawnSync("gcc", ["--version"], { encoding: "utf8" });
if (gcc.error || gcc.status !== 0) fail(3, "gcc not found; cannot build the C yardstick, no comparison");

dir = mkdtempSync(join(tmpdir(), "vmsa-ptbench-"));
try {
  const exe = join(dir, "ptbench");
  const cc = spawnSync("gcc", ["-O2", "-o", exe, cSource], { encoding: "utf8" });
  if (cc.status !== 0) fail(3, `gcc could not build ${cSource}: ${(cc.stderr || "").trim().split("\n")[0] ?? ""}`);
  // Map pairs run in their own child with fresh table memory, as C's (compare/children.ts).
  const children = vmsaChildren(sel.pairs, goalWorkloads(goals));
  const vmsa = new Map<string, number[]>();
  const c = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    // One rep of every C workload per round, then one vmsa run, so both see the same host load.
    if (sel.pairs.length > 0) {
      const cr = spawnSync(exe, ["1"], { encoding: "utf8", maxBuffer: 1 << 20 });
      if (cr.status !== 0) fail(3, `C yardstick exited ${cr.status}: ${(cr.stderr || "").trim()}`);
      collect(c, parseBenchOutput(cr.stdout));
    }
    for (const ch of children) {
      const vr = spawnSync(process.execPath, [...ch.nodeArgs, join(here, "run.js"), ...ch.names], {
        encoding: "utf8",
        maxBuffer: 1 << 20,
        env: { ...process.env, ...ch.env },
      });
      if (vr.status !== 0) fail(3, `vmsa bench exited ${vr.status}: ${(vr.stderr || "").trim().split("\n")[0] ?? ""}`);
      collect(vmsa, parseBenchOutput(vr.stdout));
    }
  }
  const results = sel.pairs.map((p) => comparePair(p, vmsa.get(p.vmsa) ?? [], c.get(p.c) ?? [], p.also ? (c.get(p.also.c) ?? []) : []));
  const goalResults = goals.map((g) => evaluateGoal(g, vmsa));
  process.stdout.write(json ? reportJson(results, rounds, goalResults) : reportText(results, rounds, goalResults));
  const missing = results.some((x) => x.kind === "missing" || x.also?.kind === "missing") || goalResults.some((x) => x.kind === "missing");
  process.exitCode = missing ? 3 : 0;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
