/**
 * The litmus model gives the same answer whether a load/store address is written as an
 * immediate (`ldr X0, $X`) or held in a register initialised to it (`registers: P1:X20: $X`,
 * `ldr X0, [X20]`), as herd7 writes every test. Arm ARM B2.3 "Dependency definitions": an
 * address dependency runs from a register *written* by an earlier instruction in program order
 * (Register dataflow dependency); a register holding its initial value was written by none, so
 * it orders nothing and the store after such an access may still be performed early (LB, MP
 * without barriers are allowed). Before the fix, register addresses stopped a later store from
 * running early, turning these three allowed tests forbidden.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/format.js";
import { type LitmusResult, runLitmus } from "../../src/scenario/litmus.js";
import { observedOf } from "../../src/scenario/litmus-render.js";

const DIR = "examples/litmus";

/** The file with every `ldr|str Xt, [pa:]$NAME` address moved into a fresh register X20, X21, … of its CPU. */
function registerForm(text: string): { text: string; moved: number } {
  const inits: string[] = [];
  const next = new Map<string, number>();
  const step = /^(\s*- "P(\d+): (?:\w+: )?(?:ldr|ldar|ldapr|str|stlr) X\d+, )(pa:)?(\$\w+)"$/;
  const lines = text.split("\n").map((line) => {
    const m = step.exec(line);
    if (!m) return line;
    const cpu = m[2] as string;
    const r = 20 + (next.get(cpu) ?? 0);
    next.set(cpu, r - 19);
    inits.push(`  P${cpu}:X${r}: ${m[4] as string}`);
    return `${m[1] as string}${m[3] === undefined ? `[X${r}]` : `pa:X${r}`}"`;
  });
  const at = lines.indexOf("registers:");
  if (at < 0) throw new Error("registerForm: the file has no registers: block");
  lines.splice(at + 1, 0, ...inits);
  return { text: lines.join("\n"), moved: inits.length };
}

/** Final states without the address registers (which only the register form has). */
function outcomes(r: LitmusResult): string[] {
  return r.states.map((s) => `${s.key.replace(/P\d+:X2\d=0x[0-9a-f]+; /g, "")} ×${s.count}`).sort();
}

describe("litmus model: an initialised address register behaves as the immediate address", () => {
  // herd7: MP-pte (ETS2 variant) Allowed, LB Allowed, MP+HA-DSB.ST Allowed (relaxed-vmsa.md §4.7).
  it.each(["MP-pte.ets2.yaml", "LB+po+po.yaml", "MP+HA-dsb.st.yaml"])("%s: same verdict and final states in both forms", (f) => {
    const path = join(DIR, f);
    const text = readFileSync(path, "utf8");
    const reg = registerForm(text);
    expect(reg.moved).toBeGreaterThanOrEqual(3);
    const a = runLitmus(parseScenario(text, path));
    const b = runLitmus(parseScenario(reg.text, `${path} (register addresses)`));
    expect(a.stopped).toBeUndefined();
    expect(b.stopped).toBeUndefined();
    expect(observedOf(a)).toBe("allowed");
    expect(observedOf(b)).toBe(observedOf(a));
    expect(b.condition?.verdict).toBe(a.condition?.verdict);
    expect(outcomes(b)).toEqual(outcomes(a));
    expect(b.executions).toBe(a.executions);
  });
  // herd7 LB+addrs: Forbidden. A register written by an earlier load (through EOR) still makes an
  // address dependency (B2.3 Register dataflow dependency), so the store cannot run before the load.
  it("a register written by an earlier load still orders the store whose address it feeds (LB+addrs forbidden)", () => {
    const path = join(DIR, "LB+po+po.yaml");
    const lb = registerForm(readFileSync(path, "utf8")).text;
    const addrs = lb
      .replace('"P0: str X1, [X21]"', '"P0: eor X3, X0, X0"\n  - "P0: str X1, [X21, X3]"')
      .replace('"P1: str X1, [X21]"', '"P1: eor X3, X0, X0"\n  - "P1: str X1, [X21, X3]"')
      .replace("exists (", "~exists (");
    expect(addrs.match(/\[X21, X3\]/g)?.length).toBe(2);
    const r = runLitmus(parseScenario(addrs, `${path} (LB+addrs)`));
    expect(observedOf(r)).toBe("forbidden");
    expect(r.condition?.verdict).toBe("as-claimed");
  });
  // herd7 LB+addrpos (R -addr-> R' -po-> W on each CPU): Forbidden. Arm ARM B2.3 dependency-ordered-
  // before includes "addr; po; [W]": the store may not run before the first load, so it may not pass
  // the load between, whose address register the EOR writes.
  it("a store does not pass a load whose address depends on an earlier, completed load (LB+addrpos forbidden)", () => {
    const path = join(DIR, "LB+po+po.yaml");
    const lb = registerForm(readFileSync(path, "utf8")).text;
    const step = (cpu: number): string => `"P${cpu}: eor X3, X0, X0"\n  - "P${cpu}: ldr X5, [X22, X3]"\n  - "P${cpu}: str X1, [X21]"`;
    const addrpos = lb
      .replace('"P0: str X1, [X21]"', step(0))
      .replace('"P1: str X1, [X21]"', step(1))
      .replace("registers:", "registers:\n  P0:X22: $Z\n  P1:X22: $Z")
      .replace("exists (", "~exists (");
    expect(addrpos.match(/\[X22, X3\]/g)?.length).toBe(2);
    const r = runLitmus(parseScenario(addrpos, `${path} (LB+addrpos)`));
    expect(observedOf(r)).toBe("forbidden");
    expect(r.condition?.verdict).toBe("as-claimed");
  });
});
