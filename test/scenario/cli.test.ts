/** `vmsa check`: exit codes (0 clean, 1 violations, 2 bad input), JSON, --expect, --explore, input errors naming file:line: field. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkFiles } from "../../src/cli/check.js";
import { exploreScenario } from "../../src/scenario/explore.js";
import { parseScenario } from "../../src/scenario/format.js";

function check(files: string[], opts: Parameters<typeof checkFiles>[1] = {}) {
  let out = "";
  let err = "";
  const code = checkFiles(
    files,
    opts,
    (s) => {
      out += s;
    },
    (s) => {
      err += s;
    },
  );
  return { code, out, err };
}

const EX = "examples/scenarios";
const dir = mkdtempSync(join(tmpdir(), "vmsa-check-"));
function tmp(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("vmsa check", () => {
  it("exits 0 on a clean scenario and 1 on violations", () => {
    expect(check([`${EX}/bbm-oa-fixed.yaml`]).code).toBe(0);
    const bad = check([`${EX}/bbm-oa-bad.yaml`]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("rule 1 bbm (bbm.output-address) at step 1");
  });
  it("--expect judges scenarios by their own expectations", () => {
    expect(check([`${EX}/bbm-oa-bad.yaml`, `${EX}/wx-bad.yaml`], { expect: true }).code).toBe(0);
    const p = tmp("wrong-expect.yaml", "machine: { cpus: 1 }\nsteps: ['P0: isb']\nexpect: { violations: [{ rule: bbm }] }\n");
    const r = check([p], { expect: true });
    expect(r.code).toBe(1);
    expect(r.out).toContain("expected a bbm violation, none reported");
  });
  it("--format json gives violations with hex addresses", () => {
    const r = check([`${EX}/wx-bad.yaml`], { format: "json" });
    const j = JSON.parse(r.out) as { verdict: string; violations: { rule: string; va: string; step: number }[] }[];
    expect(j[0]?.verdict).toBe("violations");
    expect(j[0]?.violations[0]).toMatchObject({ rule: "wx", step: 1, va: "0xffff000000201000" });
  });
  it("--explore tries every interleaving and finds the racy ones", () => {
    const r = check([`${EX}/explore-shootdown.yaml`], { explore: true });
    expect(r.code).toBe(1);
    expect(r.out).toContain("explored 6 interleavings");
    const s = parseScenario("machine: { cpus: 2 }\nsteps: ['P0: isb', 'P0: isb', 'P1: isb', 'P1: isb']\n", "x.yaml");
    expect(exploreScenario(s).interleavings).toBe(6);
    expect(exploreScenario(s, 4)).toMatchObject({ interleavings: 4, truncated: true });
  });
  it("bad input exits 2 with file, line and field", () => {
    const cases: [string, RegExp][] = [
      ["machine:\n  cpus: 2\nsteps:\n  - 'P0: frobnicate 1'\n", /:4: steps\[0\]: unknown operation "frobnicate"/],
      ["machine:\n  cpus: 2\n  bbm: 7\n", /:3: machine\.bbm: expected FEAT_BBM level/],
      ["machine:\n  cpuz: 2\n", /:2: machine\.cpuz: unknown field/],
      ["steps:\n  - 'P0: store 0x1001 0'\n", /:2: steps\[0\]: store address 0x1001 is not 8-byte aligned/],
      ["steps:\n  - 'P0: store $NOPE 0'\n", /:2: steps\[0\]: unknown value \$NOPE/],
      [
        "memory:\n  map:\n    - { va: 0x1000, pa: 0x1000 }\n",
        /:3: memory\.map: VA 0x1000 is in the TTBR0 half but machine\.regs\.TTBR0_EL1 is not set/,
      ],
      ["steps: [\n", /:\d+: syntax:/],
    ];
    for (const [text, re] of cases) {
      const p = tmp("bad.yaml", text);
      const r = check([p]);
      expect(r.code, text).toBe(2);
      expect(r.err, text).toMatch(re);
      expect(r.err).toContain(p);
    }
    expect(check([join(dir, "missing.yaml")]).code).toBe(2);
  });
});
