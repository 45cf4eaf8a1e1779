/**
 * Every skipped test says why: a conditional skip goes through skipBecause (test/helpers/skip.ts),
 * which prints "skipped: what: why" once when the file is collected. `runIf` and bare `skip`
 * leave nothing but a count in the output, so they are not used.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const TEST = join(import.meta.dirname, "..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "fixtures" || e.name === "node_modules" ? [] : sources(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

/** `.skip(`, `.skipIf(` or `.runIf(` (on it/test/describe/ctx) not given a skipBecause(…) condition. */
function silentSkips(text: string): number[] {
  const lines: number[] = [];
  text.split("\n").forEach((line, i) => {
    for (const m of line.matchAll(/\.(skip|skipIf|runIf)\(/g)) {
      const rest = line.slice((m.index ?? 0) + m[0].length);
      if (m[1] !== "skipIf" || !rest.startsWith("skipBecause(")) lines.push(i + 1);
    }
  });
  return lines;
}

describe("skipped tests print their reason", () => {
  it("finds silent skips", () => {
    expect(silentSkips('describe.runIf(ok)("x", () => {});')).toEqual([1]);
    expect(silentSkips('\nit.skip("later", () => {});')).toEqual([2]);
    expect(silentSkips("describe.skipIf(!HAVE)(…)")).toEqual([1]);
    expect(silentSkips("ctx.skip();")).toEqual([1]);
    expect(silentSkips('describe.skipIf(skipBecause("ui", why))("ui", () => {});')).toEqual([]);
  });

  it("no test file skips without saying why", () => {
    const self = relative(TEST, import.meta.filename);
    const found = sources(TEST)
      .filter((f) => relative(TEST, f) !== self)
      .flatMap((f) => silentSkips(readFileSync(f, "utf8")).map((l) => `test/${relative(TEST, f)}:${l}`));
    expect(found).toEqual([]);
  });
});
