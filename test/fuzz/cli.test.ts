/**
 * The error path through the CLI: a sample of the fuzzed inputs of every reader, given to the
 * in-process `vmsa` as the file it reads, ends either in a result (exit 0, 1 or 3) or in exit 2
 * with exactly one stderr line `vmsa: error: …` (the team rule for bad input); never an internal
 * error (exit 70) or a stack trace.
 */
import { rmSync } from "node:fs";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { vmsa } from "../cli/run.js";
import { getScratch, inputFile, targets } from "./targets.js";

const SAMPLE = Number(process.env.FUZZ_CLI_SAMPLE ?? 4);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

afterAll(() => getScratch().dispose());

/** What is wrong with a CLI run's status and stderr (undefined when it follows the rule). */
function cliViolation(r: { code: number; err: string }): string | undefined {
  const lines = r.err.split("\n").filter((l) => l.length > 0);
  if (r.code === 2) {
    const errors = lines.filter((l) => l.startsWith("vmsa: error: "));
    if (errors.length !== 1 || lines[lines.length - 1] !== errors[0]) return `exit 2 with stderr ${JSON.stringify(r.err.slice(0, 300))}`;
    return undefined;
  }
  if (![0, 1, 3].includes(r.code)) return `exit ${r.code}: ${r.err.split("\n")[0]}`;
  if (/internal error|^\s+at /m.test(r.err)) return `exit ${r.code} with a stack trace on stderr`;
  return undefined;
}

describe("fuzzed files through the CLI: a result, or exit 2 and one `vmsa: error:` line", () => {
  for (const t of targets()) {
    it(`${t.name}: a fuzzed ${t.fileName} given to vmsa`, async () => {
      const bad: string[] = [];
      for (const input of fc.sample(t.arbitrary, { numRuns: SAMPLE, seed: SEED })) {
        const f = inputFile(getScratch(), t.fileName, input.bytes);
        try {
          const r = await vmsa(...t.cli(f));
          const v = cliViolation(r);
          if (v) bad.push(`${input.seed}: ${v}`);
        } finally {
          rmSync(f, { force: true });
        }
      }
      expect(bad).toEqual([]);
    });
  }
});
