/**
 * `vmsa check`: exit codes (0 clean, 1 violations, 2 bad input, 3 inconclusive), JSON, --expect,
 * --explore with its interleaving limit and time budget, input errors naming file:line: field.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmsa } from "../cli/run.js";
import { checkCapture } from "../helpers/check-files.js";

const check = checkCapture;

/** `text` as a scenario file exits 2 with one error line: `vmsa: error: FILE` then `want`. */
function expectRejected(name: string, text: string, want: string): void {
  const p = tmp(name, text);
  const r = check([p]);
  expect(r.code, text).toBe(2);
  expectOneErrorLine(r.err, text);
  expect(r.err, text).toContain(`vmsa: error: ${p}${want}`);
}

/** The error output is exactly one `vmsa: error:` line. */
function expectOneErrorLine(err: string, what: string): void {
  expect(err, what).toMatch(/^vmsa: error: [^\n]+\n$/);
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
    // The load commutes with the unmap's ISB: one of the 6 orders is equivalent to another (partial-order reduction).
    expect(r.out).toContain("explored 5 interleavings covering all 6 (partial-order reduction): 2 distinct violations");
    const full = check([`${EX}/explore-shootdown.yaml`], { explore: true, exploreFull: true });
    expect(full.out).toContain("explored 6 interleavings: 2 distinct violations");
    expect(r.out).not.toContain("incomplete");
  });
  it("--explore stopped by its limit with no violation is inconclusive, exit 3, never clean", () => {
    // The first two interleavings of explore-shootdown are clean; four more are not run.
    const r = check([`${EX}/explore-shootdown.yaml`], { explore: true, exploreFull: true, exploreLimit: "2" });
    expect(r.code).toBe(3);
    expect(r.out).toContain("explored 2 of 6 interleavings: inconclusive (stopped at the interleaving limit of 2");
    expect(r.out).not.toMatch(/clean/);
    const j = check([`${EX}/explore-shootdown.yaml`], { explore: true, exploreFull: true, exploreLimit: "2", format: "json" });
    expect(j.code).toBe(3);
    expect(JSON.parse(j.out)).toMatchObject([
      { verdict: "inconclusive", complete: false, reason: "interleaving-limit", explored: 2, total: 6, limit: 2, findings: [] },
    ]);
  });
  it("--explore reports violations found before its limit (exit 1) and says the search was incomplete", () => {
    const r = check([`${EX}/explore-shootdown.yaml`], { explore: true, exploreFull: true, exploreLimit: "3" });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /explored 3 of 6 interleavings: 1 distinct violation \(exploration incomplete: stopped at the interleaving limit of 3/,
    );
    const j = check([`${EX}/explore-shootdown.yaml`], { explore: true, exploreFull: true, exploreLimit: "3", format: "json" });
    expect(JSON.parse(j.out)).toMatchObject([{ verdict: "violations", complete: false, reason: "interleaving-limit", explored: 3 }]);
  });
  it("--explore-budget 0 is inconclusive (time budget) whatever the machine's speed", () => {
    const r = check([`${EX}/explore-shootdown.yaml`], { explore: true, exploreBudget: "0s" });
    expect(r.code).toBe(3);
    expect(r.out).toContain("explored 0 of 6 interleavings: inconclusive (stopped when the time budget of 0s ran out");
    const j = check([`${EX}/explore-shootdown.yaml`], { explore: true, exploreBudget: "0", format: "json" });
    expect(JSON.parse(j.out)).toMatchObject([{ verdict: "inconclusive", reason: "time-budget", budgetMs: 0, explored: 0 }]);
  });
  it("--explore-budget is measured on the clock it is given", () => {
    // A clock advancing 1 s per read: a 2 s budget runs one interleaving (read at t=2 after the start at t=1).
    let t = 0;
    const clock = (): number => {
      t += 1000;
      return t;
    };
    const r = check([`${EX}/explore-shootdown.yaml`], { explore: true, exploreBudget: "2s" }, clock);
    expect(r.code).toBe(3);
    expect(r.out).toContain("explored 1 of 6 interleavings: inconclusive (stopped when the time budget of 2s ran out");
  });
  it("one inconclusive file and one clean file give 3; a violation anywhere gives 1", () => {
    const clean = tmp("one-cpu.yaml", "machine: { cpus: 2 }\nsteps: ['P0: isb', 'P1: isb']\n");
    const many = tmp("many.yaml", "machine: { cpus: 2 }\nsteps: ['P0: isb', 'P0: isb', 'P1: isb', 'P1: isb']\n");
    expect(check([clean, many], { explore: true, exploreFull: true, exploreLimit: "2" }).code).toBe(3);
    expect(check([clean], { explore: true, exploreFull: true, exploreLimit: "2" }).code).toBe(0);
    expect(check([many, `${EX}/explore-shootdown.yaml`], { explore: true, exploreFull: true, exploreLimit: "3" }).code).toBe(1);
  });
  it("rejects bad --explore-limit, --explore-budget and --format values in one error line, exit 2", () => {
    const cases: [Parameters<typeof checkCapture>[1], RegExp][] = [
      [{ explore: true, exploreLimit: "0" }, /--explore-limit: "0" is not a positive decimal number/],
      [{ explore: true, exploreLimit: "-5" }, /--explore-limit: "-5"/],
      // Counts are decimal (team number convention): no other radix, no exponent.
      [{ explore: true, exploreLimit: "0x10" }, /--explore-limit: "0x10"/],
      [{ explore: true, exploreLimit: "1e3" }, /--explore-limit: "1e3"/],
      [{ explore: true, exploreLimit: "" }, /--explore-limit: ""/],
      [{ explore: true, exploreBudget: "30" }, /--explore-budget: "30" is not a duration \(expected a number and a unit/],
      [{ explore: true, exploreBudget: "-1s" }, /--explore-budget: "-1s"/],
      [{ explore: true, exploreBudget: "2 minutes" }, /--explore-budget: "2 minutes"/],
      [{ explore: true, exploreBudget: "" }, /--explore-budget: ""/],
      [{ exploreBudget: "30s" }, /--explore-budget bounds --explore, which is not given/],
      [{ exploreLimit: "10" }, /--explore-limit bounds --explore, which is not given/],
      [{ format: "xml" }, /--format: "xml" is not text or json/],
      [{ explore: true, expect: true }, /--expect .* does not combine with --explore/],
    ];
    for (const [opts, re] of cases) {
      const r = check([`${EX}/explore-shootdown.yaml`], opts);
      expect(r.code, JSON.stringify(opts)).toBe(2);
      expectOneErrorLine(r.err, JSON.stringify(opts));
      expect(r.err).toMatch(re);
      expect(r.out).toBe("");
    }
  });
  it("a scenario with nothing to check is an error naming the file and what is missing, not clean", () => {
    const cases: [string, RegExp][] = [
      ["", /: empty file: a scenario needs at least one step/],
      ["# only a comment\n\n", /: empty file: a scenario needs at least one step/],
      ["machine: { cpus: 2 }\n", /\.yaml: steps: missing: a scenario needs at least one step/],
      ["machine: { cpus: 2 }\nsteps: []\n", /:2: steps: the list is empty: a scenario needs at least one step/],
      ["machine: { cpus: 2 }\nsteps:\n", /:2: steps: the list is empty/],
      ["machine: { cpus: 0 }\nsteps: ['P0: isb']\n", /:1: machine\.cpus: 0 CPUs: a scenario needs at least one CPU/],
    ];
    for (const [text, re] of cases) {
      const p = tmp("empty.yaml", text);
      for (const opts of [{}, { explore: true }, { expect: true }]) {
        const r = check([p], opts);
        expect(r.code, text).toBe(2);
        expectOneErrorLine(r.err, text);
        expect(r.err, text).toMatch(re);
        expect(r.err).toContain(p);
        expect(r.out).not.toContain("clean");
      }
    }
  });
  it("YAML syntax errors name the file's own line and column", () => {
    const cases: [string, string][] = [
      // An unclosed flow sequence is found where the file ends (line 6, column 1).
      ["machine:\n  cpus: 2\nsteps:\n  - 'P0: isb'\n  - [oops\n", ":6:1: syntax: Flow sequence"],
      ["name: x\nmachine: cpus: 2\n", ":2:10: syntax: Nested mappings are not allowed"],
      ["name: x\nname: y\nsteps: ['P0: isb']\n", ":2:1: syntax: Map keys must be unique"],
      ["steps: ['P0: isb']\n---\nsteps: ['P0: isb']\n", ":2:1: syntax: a second YAML document starts here"],
      ["machine:\n  cpus: 1\nsteps:\n  - *step\n", ":4:5: syntax: alias *step has no anchor &step before it"],
    ];
    for (const [text, want] of cases) expectRejected("syntax.yaml", text, want);
  });
  it("an alias bomb is one error line, not a hang or a stack trace", () => {
    const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 12; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    const p = tmp("bomb.yaml", `${lines.join("\n")}\nsteps: ['P0: isb']\n`);
    const r = check([p]);
    expect(r.code).toBe(2);
    expectOneErrorLine(r.err, "bomb");
    expect(r.err).toContain(p);
  });
  it("bad input exits 2 with file, line and field", () => {
    const cases: [string, RegExp][] = [
      ["machine:\n  cpus: 2\nsteps:\n  - 'P0: frobnicate 1'\n", /:4: steps\[0\]: unknown operation "frobnicate"/],
      ["machine:\n  cpus: 2\n  bbm: 7\n", /:3: machine\.bbm: expected FEAT_BBM level/],
      ["machine:\n  cpuz: 2\n", /:2: machine\.cpuz: unknown field/],
      ["steps:\n  - 'P0: store 0x1001 0'\n", /:2: steps\[0\]: store address 0x1001 is not 8-byte aligned/],
      ["steps:\n  - 'P0: store $NOPE 0'\n", /:2: steps\[0\]: unknown value \$NOPE/],
      [
        "memory:\n  map:\n    - { va: 0x1000, pa: 0x1000 }\nsteps: ['P0: isb']\n",
        /:3: memory\.map: VA 0x1000 is in the TTBR0 half but machine\.regs\.TTBR0_EL1 is not set/,
      ],
      ["steps: [\n", /:2:1: syntax:/],
    ];
    for (const [text, re] of cases) {
      const p = tmp("bad.yaml", text);
      const r = check([p]);
      expect(r.code, text).toBe(2);
      expect(r.err, text).toMatch(re);
      expect(r.err).toContain(p);
      expectOneErrorLine(r.err, text);
    }
    const missing = check([join(dir, "missing.yaml")]);
    expect(missing.code).toBe(2);
    expectOneErrorLine(missing.err, "missing");
    const folder = check([dir]);
    expect(folder.code).toBe(2);
    expect(folder.err).toBe(`vmsa: error: scenario ${dir}: cannot read (EISDIR: is a directory)\n`);
    // A binary file is named with the offset of its first NUL byte, its bytes never echoed.
    const binary = tmp("binary.yaml", "steps: ['P0: isb']\n\u0000\u0001\u00ff");
    const b = check([binary]);
    expect(b.code).toBe(2);
    expect(b.err).toBe(`vmsa: error: scenario ${binary}: not a text file (NUL byte at offset 0x13)\n`);
  });
  it("the vmsa command returns 3 for an inconclusive --explore and documents the statuses in its help", async () => {
    const r = await vmsa("check", "--explore", "--explore-full", "--explore-limit", "2", `${EX}/explore-shootdown.yaml`);
    expect(r.code).toBe(3);
    const bad = await vmsa("check", "--format", "xml", `${EX}/explore-shootdown.yaml`);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('vmsa: error: --format: "xml" is not text or json\n');
    const help = await vmsa("check", "--help");
    expect(help.out).toMatch(/Exit status:\n {2}0 {2}clean.*\n {2}1 {2}violations.*\n {2}2 {2}bad input.*\n {2}3 {2}inconclusive/);
    expect(help.out).toContain("--explore-budget <time>");
  });
  it("scenario and demo, which exit on a checker verdict, document the same four statuses", async () => {
    for (const c of ["scenario", "demo"]) {
      const help = await vmsa(c, "--help");
      expect(help.out, c).toMatch(/Exit status:\n {2}0 {2}.*\n(?: {5}.*\n)? {2}1 {2}.*\n {2}2 {2}bad input.*\n {2}3 {2}\(not used/);
    }
  });
  it("wrong types, unknown keys and out-of-range values are one line naming the file, the field's own line and the field", () => {
    const T1 = "machine:\n  regs:\n    TTBR1_EL1: 0x80000\n";
    const cases: [string, string][] = [
      ["name: [1]\nsteps: ['P0: isb']\n", ":1: name: expected a string"],
      ["machine:\n  preset: 5\nsteps: ['P0: isb']\n", ":2: machine.preset: expected a preset name"],
      // Register values are 64-bit: wider or negative values are rejected, not wrapped.
      [
        "machine:\n  regs:\n    TTBR1_EL1: 0x1ffffffffffffffff\nsteps: ['P0: isb']\n",
        ":3: machine.regs.TTBR1_EL1: 0x1ffffffffffffffff does not fit in 64 bits",
      ],
      [
        "memory:\n  pool: -1\nsteps: ['P0: isb']\n",
        ":2: memory.pool: expected a number (hex like 0x83000, decimal, or a size like 4K/2M), got -1",
      ],
      ["steps: ['P0: store 0x1000 0x10000000000000000']\n", ":1: steps[0]: 0x10000000000000000 does not fit in 64 bits"],
      // Numeric keys (CPU 1, word 0x1000) keep their line.
      [
        "machine:\n  cpus: 2\n  cpu:\n    1: 7\nsteps: ['P0: isb']\n",
        ":4: machine.cpu.1: expected registers TTBR0_EL1, TTBR1_EL1, TCR_EL1, MAIR_EL1 or SCTLR_EL1 (the _EL1 may be left out; any case), got 7",
      ],
      ["machine:\n  cpus: 2\n  cpu:\n    P2: {}\nsteps: ['P0: isb']\n", ":4: machine.cpu.P2: no CPU P2 (machine.cpus is 2"],
      [
        "memory:\n  words:\n    0x1000: [1]\nsteps: ['P0: isb']\n",
        ":3: memory.words.0x1000: expected a number or value expression (0x83000, $NAME, invalid, leaf(…), page(…), block(…), table(PA), desc(VA, LEVEL)), got a list",
      ],
      [
        "memory:\n  ram:\n    - base: 0x40000000\n\n      size: zz\nsteps: ['P0: isb']\n",
        ':5: memory.ram[0].size: expected a number (hex like 0x83000, decimal, or a size like 4K/2M), got "zz"',
      ],
      [
        "memory:\n  ram:\n    - base: 0x40000000\nsteps: ['P0: isb']\n",
        ":3: memory.ram[0].size: missing (expected a number (hex like 0x83000, decimal, or a size like 4K/2M))",
      ],
      [
        `${T1}memory:\n  map:\n    - va: 0xffff000000200000\n      pa: 0x40000000\n      attrs:\n        ap: 1\n        foo: 1\nsteps: ['P0: isb']\n`,
        ":10: memory.map[0].attrs.foo: unknown field (expected one of attr,",
      ],
      // SH is SH[1:0] and AP is AP[2:1] of a stage-1 block/page descriptor (Arm ARM DDI0487 D8.3): two bits each.
      [
        `${T1}memory:\n  map:\n    - va: 0xffff000000200000\n      pa: 0x40000000\n      attrs:\n        sh: 4\nsteps: ['P0: isb']\n`,
        ":9: memory.map[0].attrs.sh: 4 does not fit the field (expected 0..3)",
      ],
      [
        `${T1}steps:\n  - 'P0: isb'\n  - 'P0: store 0x1000 leaf(oa=0x1000, ap=5)'\n`,
        ":6: steps[1]: leaf(): ap=5 does not fit the field (expected 0..3)",
      ],
      // Translation levels of a leaf are 0..3; level -1 (FEAT_LPA2) holds only table descriptors.
      [
        `${T1}memory:\n  map:\n    - { va: 0xffff000000200000, pa: 0x40000000, level: 9 }\nsteps: ['P0: isb']\n`,
        ":6: memory.map[0].level: 9 (expected 0..3)",
      ],
      [`${T1}steps:\n  - 'P0: store 0x1000 leaf(oa=0x1000, level=7)'\n`, ":5: steps[0]: leaf(): level 7 does not exist (expected 0..3)"],
      // A fill this large would only hang; the bound is 2^20 words.
      [
        "memory:\n  fill:\n    - { pa: 0x1000, count: 99999999999, value: 0 }\nsteps: ['P0: isb']\n",
        ":3: memory.fill[0].count: 99999999999 words (expected 1..1048576)",
      ],
      // An expectation naming a step or CPU that does not exist could never be met.
      [
        "steps:\n  - 'P0: isb'\nexpect:\n  violations:\n    - rule: bbm\n      step: 99\n",
        ":6: expect.violations[0].step: 99 (expected 1..1)",
      ],
      ["steps:\n  - 'P0: isb'\nexpect:\n  violations:\n    - rule: bbm\n      cpu: 3\n", ":6: expect.violations[0].cpu: 3 (expected 0..0)"],
      [
        "steps:\n  - 'P0: isb'\nexpect:\n  violations:\n    - step: 1\n",
        ":5: expect.violations[0].rule: missing (expected a rule id: one of bbm, ",
      ],
      ["- 'P0: isb'\n", ":1: (top level): expected a mapping with steps: (and machine:, memory:), got a list"],
      ["hello\n", ":1: (top level): expected a mapping with steps: (and machine:, memory:), got a single value"],
      [
        "machine:\n  regs: [1]\nsteps: ['P0: isb']\n",
        ":2: machine.regs: expected registers TTBR0_EL1, TTBR1_EL1, TCR_EL1, MAIR_EL1 or SCTLR_EL1 (the _EL1 may be left out; any case), got a list",
      ],
      ["steps:\n  - 'P0: isb'\n  - { do: 'P0: dsb ISH', allowed: ok }\n", ':3: steps[1].allowed: "dsb" has no outcome to judge'],
      // The file and field are named once, not twice.
      [
        "steps: ['P0: store 0x1000 desc(0x1000, 3)']\n",
        ":1: steps[0]: VA 0x1000 is in the TTBR0 half but machine.regs.TTBR0_EL1 is not set\n",
      ],
    ];
    for (const [text, want] of cases) expectRejected("fields.yaml", text, want);
  });
  it("a step with an operand, option or exception level its operation does not take is an error, not ignored", () => {
    const T1 = "machine: { regs: { TTBR1_EL1: 0x80000 } }\nmemory: { ram: [{ base: 0x40000000, size: 1G }], pool: 0x81000 }\nsteps:\n";
    const cases: [string, string][] = [
      ["P0: isb extra", 'isb expects no operand (got "isb extra")'],
      ["P0: ic IALLU 5", "ic expects [IALLU|IALLUIS]"],
      ["P0: dsb ISH SY", "dsb expects [KIND]"],
      ["P0: store 0x1000 0 el0", "store does not take an exception level"],
      ["P0: tlbi VAE1IS 0xffff000000200000 foo=1", "tlbi does not take foo= "],
      ["P0: tlbi VMALLE1IS 0x1000", "TLBI VMALLE1IS takes no VA"],
      ["P0: tlbi VAE1IS 0xffff000000200000 pages=2", "TLBI VAE1IS is not a range operation"],
      // VMALLE1 and VAAE1/VAALE1 apply to all ASIDs, the ASID field ignored (Arm system-register pages TLBI VAAE1, VMALLE1).
      ["P0: tlbi VAAE1IS 0xffff000000200000 asid=5", "TLBI VAAE1IS applies to every ASID: it takes no asid="],
      ["P0: tlbi VAE1IS op=0x1 asid=2", "TLBI VAE1IS op=XT gives the whole operand"],
      // The ASID field of a TLBI operand is Xt[63:48], 16 bits; an RVA* range is (NUM+1) << (5*SCALE+1) pages, never 0
      // (Arm system-register pages TLBI VAE1, TLBI RVAE1).
      ["P0: tlbi VAE1IS 0xffff000000200000 asid=0x1ffff", "asid=0x1ffff does not fit the 16-bit ASID field"],
      ["P0: tlbi RVAE1IS 0xffff000000200000 pages=0", "TLBI pages=0: a range operation covers at least one page"],
    ];
    for (const [step, want] of cases) expectRejected("step.yaml", `${T1}  - '${step}'\n`, `:4: steps[0]: ${want}`);
    // What they do take still works.
    const ok = tmp(
      "ok.yaml",
      `${T1}  - 'P0: tlbi ASIDE1IS asid=5'\n  - 'P0: tlbi RVAE1IS 0xffff000000200000 pages=4 asid=1'\n  - 'P0: load 0xffff000000200000 el0'\n  - 'P0: dsb ISH'\n`,
    );
    expect(check([ok]).code).toBe(0);
  });
});
