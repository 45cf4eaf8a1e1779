/** The library entry (src/index.ts) must run in a browser unchanged: no Node-only import in its graph. */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

function graph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    const text = readFileSync(file, "utf8");
    const specs = [...text.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)].map((m) => m[1] as string);
    seen.set(file, specs);
    for (const s of specs) if (s.startsWith(".")) todo.push(resolve(dirname(file), s.replace(/\.js$/, ".ts")));
  }
  return seen;
}

describe("library entry points", () => {
  it("src/index.ts reaches no node: module", () => {
    const g = graph(join(import.meta.dirname, "../../src/index.ts"));
    expect(g.size).toBeGreaterThan(20);
    const nodeImports = [...g].flatMap(([f, specs]) => specs.filter((s) => s.startsWith("node:")).map((s) => `${f}: ${s}`));
    expect(nodeImports).toEqual([]);
  });

  it("src/node.ts adds the file-loading helpers", async () => {
    const m = await import("../../src/node.js");
    expect(typeof m.loadMemory).toBe("function");
    expect(typeof m.openDump).toBe("function");
  });
});
