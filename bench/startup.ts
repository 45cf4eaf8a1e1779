/**
 * Startup of the CLI (issue 14): `bin/vmsa.js` run in a child process, its own CPU time (user +
 * system, read in the child at exit by bench/startup-probe.ts) per invocation, median of runs.
 * - startup-node: `node -e 0` with the same probe, what Node itself costs (the floor);
 * - startup-version: `vmsa --version`;
 * - startup-translate: `vmsa translate --example linux-6.1-4k48 ffff000000210000`, one address;
 * - startup-translate-core: one address of a real kernel's dump (Linux 6.1, 4K/48-bit: the ELF
 *   core test/fixtures/markers/4k48-noghes/tables.core.gz, gzip, with its gdb `info registers`).
 * ops_per_s = invocations per CPU second; ms = median CPU milliseconds, min/max the spread.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** A real dump, relative to the repository root. */
const CORE = "test/fixtures/markers/4k48-noghes";

export interface StartupResult {
  workload: string;
  ops_per_s: number;
  ms: number;
  min_ms: number;
  max_ms: number;
}

function repoRoot(): string {
  // From dist/bench/ (npm run bench) or bench/ (tsx).
  for (const up of ["../..", ".."]) if (existsSync(join(here, up, "bin/vmsa.js"))) return join(here, up);
  throw new Error("startup bench: bin/vmsa.js not found");
}

/** CPU milliseconds of one child run of `node --import probe ARGS`. */
function cpuMs(probe: string, args: readonly string[], cwd: string): number {
  const r = spawnSync(process.execPath, ["--import", probe, ...args], { cwd, stdio: ["ignore", "pipe", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`startup bench: ${args.join(" ")} exited ${r.status}: ${(r.stderr ?? "").trim().split("\n")[0]}`);
  const line = (r.output[3] ?? "").trim();
  const u = JSON.parse(line) as { user: number; system: number };
  return (u.user + u.system) / 1000;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export async function run(): Promise<StartupResult[]> {
  const root = repoRoot();
  const probeFile = join(here, "startup-probe.js");
  if (!existsSync(probeFile)) throw new Error("startup bench: dist/bench/startup-probe.js missing (npm run bench builds it)");
  const probe = pathToFileURL(probeFile).href;
  const cases: [string, string[]][] = [
    ["startup-node", ["-e", "0"]],
    ["startup-version", ["bin/vmsa.js", "--version"]],
    ["startup-translate", ["bin/vmsa.js", "translate", "--example", "linux-6.1-4k48", "ffff000000210000"]],
    [
      "startup-translate-core",
      ["bin/vmsa.js", "translate", "--dump", `${CORE}/tables.core.gz`, "--regs", `${CORE}/registers.txt`, "ffff800008000000"],
    ],
  ];
  const runs = 10;
  const samples = new Map<string, number[]>(cases.map(([w]) => [w, []]));
  cpuMs(probe, ["bin/vmsa.js", "--version"], root); // warm the file cache
  // Interleaved: one run of each case per round, so a load change hits every case alike.
  for (let i = 0; i < runs; i++) for (const [w, args] of cases) samples.get(w)?.push(cpuMs(probe, args, root));
  return cases.map(([w]) => {
    const xs = samples.get(w) ?? [];
    const m = median(xs);
    return {
      workload: w,
      ops_per_s: Number((1000 / m).toFixed(3)),
      ms: Number(m.toFixed(1)),
      min_ms: Number(Math.min(...xs).toFixed(1)),
      max_ms: Number(Math.max(...xs).toFixed(1)),
    };
  });
}
