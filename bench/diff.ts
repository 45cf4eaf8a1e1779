/**
 * `vmsa diff` of two large table sets (issue 14): two copies of 8 GiB of the linear map at 4K pages
 * (PAGE_KERNEL, 2 Mi PTEs each, as bench/report.ts builds them), the second with PTEs made
 * read-only (AP[2]=1, as mark_rodata_ro does):
 * - diff-4k-few: 16 PTEs changed, spread over the range;
 * - diff-4k-many: every 64th PTE changed (32 Ki changes).
 * Each rep compares both snapshots and renders the text report as the CLI does (formatDiff).
 * ops_per_s = PTEs of one side per CPU second; ms = CPU milliseconds per diff (median of runs).
 */
import { diffTables, formatDiff } from "../src/dump/diff.js";
import { walkEntries } from "../src/walk/range.js";
import { build, type ReportBenchResult, result, type Tables, timed } from "./report.js";

const GiB = 2 ** 30;

/** Set AP[2] (read-only) in every `every`-th PTE of the table set, starting at PTE `every`/2. */
function makeReadOnly(t: Tables, every: number): number {
  const h = t.ctx.halves[1];
  const at: number[] = [];
  let n = 0;
  walkEntries(t.mem, h, 0, 2 ** h.iaBits, (e) => {
    if (e.kind === "leaf" && n++ % every === every >> 1) at.push(e.descAddr);
  });
  for (const da of at) {
    const pa = BigInt(da);
    t.mem.write64(pa, (t.mem.read64(pa) ?? 0n) | (1n << 7n));
  }
  return at.length;
}

function diffBench(workload: string, every: number, runs: number): ReportBenchResult {
  const a = build(8 * GiB, 0);
  const b = build(8 * GiB, 0);
  const changed = makeReadOnly(b, every);
  const r = timed(runs, () => {
    const d = diffTables(a.mem, a.ctx, b.mem, b.ctx);
    if (d.counts["permission-only"] === 0 || changed === 0) throw new Error(`${workload}: no change found`);
    return formatDiff(d).length;
  });
  return result(workload, a, r);
}

export async function run(): Promise<ReportBenchResult[]> {
  return [diffBench("diff-4k-few", (8 * GiB) / 4096 / 16, 5), diffBench("diff-4k-many", 64, 5)];
}
