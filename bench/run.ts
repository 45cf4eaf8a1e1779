/** `npm run bench`: one JSON line per workload. Workload modules export run(). */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

interface BenchResult {
  workload: string;
  ops_per_s: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const modules = ["walk.js", "dump.js", "machine.js", "kernel.js", "find-tables.js"];
const only = process.argv[2];
for (const m of modules) {
  const path = join(here, m);
  if (!existsSync(path)) continue;
  const mod = (await import(path)) as { run: () => Promise<BenchResult[]> };
  for (const r of await mod.run()) {
    if (only && r.workload !== only) continue;
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
}
