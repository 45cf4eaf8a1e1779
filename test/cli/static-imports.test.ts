/**
 * Startup (issue 14): what a command does not use is not in its static import graph, so Node
 * never reads, compiles or evaluates it. The graph is the one the compiler emits: each source is
 * transpiled as tsc does (imports used only as types are dropped) and its static `import … from`
 * and `export … from` are followed; dynamic `import()` is the lazy path and is not followed.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const STATIC = /^\s*(?:import|export)\s[^;]*?\sfrom\s*"([^"]+)"|^\s*import\s*"([^"]+)"/gm;

/** Static imports of one source file as emitted: relative ones as repo paths, packages by name. */
function emittedImports(file: string): string[] {
  const out = ts.transpileModule(readFileSync(file, "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: file,
  }).outputText;
  const specs: string[] = [];
  for (const m of out.matchAll(STATIC)) {
    const spec = m[1] ?? m[2] ?? "";
    specs.push(spec.startsWith(".") ? join(dirname(file), spec.replace(/\.js$/, ".ts")) : spec);
  }
  return specs;
}

/** Every module (repo-relative path, or package specifier) the entry loads before it runs. */
function staticGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
    const key = f.startsWith("/") ? relative(ROOT, f) : f;
    if (seen.has(key)) continue;
    seen.add(key);
    if (f.startsWith("/")) todo.push(...emittedImports(f));
  }
  return seen;
}

/** The decompressors, parsers and libraries only some inputs or commands need. */
const HEAVY = [/^pako/, /^fzstd/, /^snappyjs/, /^yaml/, /^sexpr-plus/, /^src\/kernel\//, /^src\/dump\/gdb\//, /^src\/machine\//];

describe("static import graph (what Node loads before a command runs)", () => {
  it("the graph follows relative imports and packages (sanity: the walker and the CLI plumbing are in translate's)", () => {
    const g = staticGraph("src/cli/translate.ts");
    expect(g).toContain("src/walk/walker.ts");
    expect(g).toContain("src/cli/common.ts");
  });

  it("vmsa's entry loads no command, no commander: `vmsa --version` is node's own startup", () => {
    expect([...staticGraph("src/cli/main.ts")].sort()).toEqual(["src/cli/main.ts"]);
  });

  it("translate loads no dump reader, codec, kernel model, gdb client or scenario parser (a built-in example needs none)", () => {
    const g = [...staticGraph("src/cli/translate.ts")];
    expect(g.filter((m) => HEAVY.some((r) => r.test(m)))).toEqual([]);
    // Nothing of src/dump/: the readers are ./open-inputs.ts's, imported by translate only for a
    // dump; the register-file parsers only for --regs, the kernel layout only for dump's markers.
    expect(g.filter((m) => m.startsWith("src/dump/"))).toEqual([]);
  });

  it("opening a dump (Node: openDump; browser: load-source) loads no decompressor until an input needs one", () => {
    for (const entry of ["src/dump/inputs.ts", "src/dump/load-source.ts", "src/cli/open-inputs.ts"]) {
      expect([...staticGraph(entry)].filter((m) => /^(pako|fzstd|snappyjs)/.test(m))).toEqual([]);
    }
  });

  it("describe loads no memory reader nor codec", () => {
    const g = [...staticGraph("src/cli/describe.ts")];
    expect(g.filter((m) => HEAVY.some((r) => r.test(m)))).toEqual([]);
  });
});
