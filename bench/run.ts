/**
 * `npm run bench [-- WORKLOAD…]`: one JSON line per workload. Workload modules export run().
 * Names select workloads by name or prefix; only the modules producing them are run.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { selectWorkloads } from "./workloads.js";

interface BenchResult {
  workload: string;
  ops_per_s: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const sel = selectWorkloads(process.argv.slice(2));
if (sel.kind === "unknown") {
  process.stderr.write(`vmsa: error: unknown workload '${sel.name}': expected one of ${sel.known.join(", ")} (or a prefix)\n`);
  process.exit(2);
}
for (const m of sel.modules) {
  const path = join(here, m.file);
  if (!existsSync(path)) continue;
  const mod = (await import(path)) as { run: () => Promise<BenchResult[]> };
  for (const r of await mod.run()) {
    if (!sel.workloads.has(r.workload)) continue;
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
}
