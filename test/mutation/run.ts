/**
 * `npm run test:mutation -- <module>...`: StrykerJS (vitest runner) over one module at a time,
 * incremental, one test process, with only that module's unit tests (see modules.ts). Not part
 * of CI. Prints the mutation score per module; exit 0 when every module reached 90%, 1 when one
 * did not, 2 on an unknown module name. Reports go to reports/mutation/<module>.html.
 * Environment: VMSA_MUTATION_CONCURRENCY (test processes, default 1), VMSA_MUTATION_FORCE=1
 * (ignore the incremental file and test every mutant again).
 */
import { Stryker } from "@stryker-mutator/core";
import { isMutationModule, MUTATION_MODULES, type MutationModuleName } from "./modules.js";

const TARGET = 90;

type StrykerOptions = NonNullable<ConstructorParameters<typeof Stryker>[0]>;
type MutantResult = Awaited<ReturnType<Stryker["runMutationTest"]>>[number];

function score(results: readonly MutantResult[]): { detected: number; valid: number; survived: MutantResult[] } {
  let detected = 0;
  let valid = 0;
  const survived: MutantResult[] = [];
  for (const r of results) {
    if (r.status === "Killed" || r.status === "Timeout") {
      detected++;
      valid++;
    } else if (r.status === "Survived" || r.status === "NoCoverage") {
      valid++;
      survived.push(r);
    }
  }
  return { detected, valid, survived };
}

async function runModule(name: MutationModuleName): Promise<number> {
  const m = MUTATION_MODULES[name];
  process.env.VMSA_MUTATION_MODULE = name;
  const options: StrykerOptions = {
    testRunner: "vitest",
    plugins: ["@stryker-mutator/vitest-runner"],
    vitest: { configFile: "test/mutation/vitest.config.ts", related: false },
    mutate: [...m.mutate],
    coverageAnalysis: "perTest",
    concurrency: Number(process.env.VMSA_MUTATION_CONCURRENCY ?? 1),
    incremental: true,
    // Static mutants (module-level constants) keep their old result in incremental mode even
    // when new tests would kill them: VMSA_MUTATION_FORCE=1 re-runs every mutant.
    force: process.env.VMSA_MUTATION_FORCE === "1",
    incrementalFile: `reports/mutation/${name}.incremental.json`,
    reporters: ["clear-text", "progress", "html"],
    htmlReporter: { fileName: `reports/mutation/${name}.html` },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    tempDirName: ".stryker-tmp",
    cleanTempDir: "always",
    ignorePatterns: ["dist", "web", "bench", "test/e2e"],
    timeoutMS: 20_000,
  };
  const results = await new Stryker(options).runMutationTest();
  const s = score(results);
  const pct = s.valid === 0 ? 100 : (100 * s.detected) / s.valid;
  console.log(`mutation score ${name} (${m.mutate.join(", ")}): ${pct.toFixed(2)}% (${s.detected}/${s.valid} detected)`);
  for (const r of s.survived) {
    const at = `${r.fileName}:${r.location.start.line}:${r.location.start.column}`;
    console.log(`  ${r.status.toLowerCase()} ${at} ${r.mutatorName}: ${(r.replacement ?? "").replace(/\s+/g, " ").slice(0, 100)}`);
  }
  return pct;
}

const names = process.argv.slice(2);
const bad = names.filter((n) => !isMutationModule(n));
if (names.length === 0 || bad.length > 0) {
  console.error(
    `vmsa: error: test:mutation needs module names from: ${Object.keys(MUTATION_MODULES).join(", ")}` +
      (bad.length > 0 ? ` (unknown: ${bad.join(", ")})` : ""),
  );
  process.exit(2);
}
let failed = false;
for (const n of names) {
  if (!isMutationModule(n)) continue;
  if ((await runModule(n)) < TARGET) failed = true;
}
process.exit(failed ? 1 : 0);
