/**
 * trace-replay-boot: replay the committed `vmsa record` trace of Debian 6.1 booting with -smp 2
 * (test/fixtures/trace, ~800k records: stores into page tables, barriers, TLBIs, MSRs, exception
 * entries/returns) on the machine model, as `vmsa check --trace` does. Reports records per second
 * of CPU time and milliseconds per replay (the boot itself took ~30-45 s under QEMU with the plugin).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { replayTrace } from "../src/trace/replay.js";

const here = dirname(fileURLToPath(import.meta.url));

function fixture(): Uint8Array {
  // From bench/ (tsx) or dist/bench/ (npm run bench).
  for (const up of ["..", "../.."]) {
    try {
      return gunzipSync(readFileSync(join(here, up, "test/fixtures/trace/linux-6.1-smp2-boot.vtrace.gz")));
    } catch {}
  }
  throw new Error("trace-replay bench: test/fixtures/trace/linux-6.1-smp2-boot.vtrace.gz not found");
}

export async function run(): Promise<{ workload: string; ops_per_s: number; ms: number; records: number }[]> {
  const data = fixture();
  const first = replayTrace(data, "boot");
  if (first.violations.length !== 0) throw new Error("trace-replay bench: the recorded boot is expected clean");
  const n = 2;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) replayTrace(data, "boot");
  const c = process.cpuUsage(c0);
  const s = (c.user + c.system) / 1e6 / n;
  return [{ workload: "trace-replay-boot", ops_per_s: Math.round(first.records / s), ms: Math.round(s * 1000), records: first.records }];
}
