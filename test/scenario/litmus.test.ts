/**
 * The litmus model through scenario files: the suite in examples/litmus (each file states its
 * shape, the Arm ARM / herd rule it encodes and its expected verdict as the final condition's
 * quantifier: exists = allowed, ~exists = forbidden, forall = required), `vmsa check` exit
 * statuses for litmus files, and input errors.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/format.js";
import { runLitmus } from "../../src/scenario/litmus.js";
import { litmusStatus, observedOf } from "../../src/scenario/litmus-render.js";
import { checkCapture } from "../helpers/check-files.js";

const DIR = "examples/litmus";
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

function load(name: string) {
  return parseScenario(readFileSync(join(DIR, name), "utf8"), join(DIR, name));
}

const check = checkCapture;

function tmp(name: string, text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), "vmsa-litmus-")), name);
  writeFileSync(p, text);
  return p;
}

describe("litmus suite (examples/litmus)", () => {
  it("has allowed, forbidden and required cases, with and without ETS", () => {
    const q = FILES.map((f) => load(f).final?.text.trim().split(/\s|\(/)[0]);
    expect(q.filter((x) => x === "exists").length).toBeGreaterThan(10);
    expect(q.filter((x) => x === "~exists").length).toBeGreaterThan(10);
    expect(q.filter((x) => x === "forall").length).toBeGreaterThan(3);
    expect(FILES.some((f) => f.includes(".ets2"))).toBe(true);
    expect(FILES.some((f) => f.includes(".ets3"))).toBe(true);
  });
  it.each(FILES)("%s: the model gives the verdict the file claims", (f) => {
    const r = runLitmus(load(f));
    expect(r.stopped).toBeUndefined();
    expect(r.condition?.verdict, `${f}: ${r.states.map((s) => s.key).join("\n")}`).toBe("as-claimed");
  });
});

describe("litmus model: ETS level is a machine option", () => {
  // herd7 I2V-UP-DSB: Allowed without ETS, Forbidden with ETS2 (DSB orders later walks).
  it("the same program is allowed without ETS and forbidden with ETS2", () => {
    const base = load("I2V-UP-dsb.yaml");
    const ets2 = { ...base, litmus: { ...base.litmus, ets: 2 } };
    expect(observedOf(runLitmus(base))).toBe("allowed");
    expect(observedOf(runLitmus(ets2))).toBe("forbidden");
  });
  // ETS=1 gives nothing beyond ETS=0 (herd: the cat files test ETS2/ETS3 only; ID_AA64MMFR1_EL1.ETS).
  it("ETS level 1 behaves as no ETS", () => {
    const base = load("I2V-UP-dsb.yaml");
    expect(observedOf(runLitmus({ ...base, litmus: { ...base.litmus, ets: 1 } }))).toBe("allowed");
  });
  // herd -variant ets3: only ETS3 orders po-earlier accesses before a Permission-faulting walk.
  it("ETS3 forbids what ETS2 allows for Permission faults", () => {
    const s = load("S+tlbi-sync.pteap+po.yaml");
    expect(observedOf(runLitmus({ ...s, litmus: { ...s.litmus, ets: 2 } }))).toBe("allowed");
    expect(observedOf(runLitmus({ ...s, litmus: { ...s.litmus, ets: 3 } }))).toBe("forbidden");
  });
});

describe("vmsa check on litmus files", () => {
  it("exit 0 and the verdict line when the claim holds", () => {
    const r = check([join(DIR, "MP+shoot+po.yaml")]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("allowed — 1 of 4 final states satisfy it; as the file claims (allowed)");
  });
  it("exit 1 when the claim is contradicted", () => {
    const text = readFileSync(join(DIR, "MP+shoot+po.yaml"), "utf8").replace('final: "exists', 'final: "~exists');
    const r = check([tmp("flipped.yaml", text)]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("the file claims forbidden: CONTRADICTED");
  });
  it("exit 3 when the execution limit stops the search before the claim is decided", () => {
    const r = check([join(DIR, "MP+shoot+dmb.ld.yaml")], { explore: true, exploreLimit: "2" });
    expect(r.code).toBe(3);
    expect(r.out).toContain("stopped at the execution limit of 2");
  });
  it("a CPU looping past the step bound leaves the claim inconclusive (exit 3)", () => {
    const text = `machine: { cpus: 1, regs: { TTBR1_EL1: 0x80000 } }
memory: { ram: [{ base: 0x40000000, size: 0x100000 }], pool: 0x81000, map: [{ va: 0xffff000000200000, pa: 0x40000000 }] }
steps:
  - "P0: L1: ldr X0, 0xffff000000200000"
  - "P0: cbz X0, L1"
final: "~exists (P0:X0=1)"
`;
    const r = check([tmp("loop.yaml", text)]);
    expect(r.code).toBe(3);
    expect(r.out).toContain("ran past the step bound");
  });
  it("a witness found before the limit decides an exists claim (exit 0)", () => {
    const r = check([join(DIR, "MP-pte.yaml")], { explore: true, exploreLimit: "1000" });
    expect(r.code).toBe(0);
  });
  it("--outcomes --explore lists every final state of an ordinary scenario, faults per access, and its rule findings", () => {
    const r = check(["examples/scenarios/explore-shootdown.yaml"], { outcomes: true, explore: true });
    // No final condition: the rules broken in some execution decide (the load racing the unmap).
    expect(r.code).toBe(1);
    expect(r.out).toContain("flag: rule 5 missing-barrier (barrier.dsb-after-tlbi) at step 6 on P1");
    expect(r.out).toContain("2 final states");
    expect(r.out).toContain("fault(P1:step6,0xffff000000200000,translation)");
  });
  it("JSON lists registers, memory and faults of each state and the condition", () => {
    const r = check([join(DIR, "SB+po+po.yaml")], { format: "json" });
    const j = JSON.parse(r.out) as { states: { registers: Record<string, string> }[]; condition: { observed: string } }[];
    expect(j[0]?.condition.observed).toBe("allowed");
    expect(j[0]?.states.length).toBe(4);
    expect(Object.keys(j[0]?.states[0]?.registers ?? {})).toEqual(["P0:X0", "P0:X1", "P1:X0", "P1:X1"]);
  });
});

describe("litmus executions on the rule checker (flags beside the outcome)", () => {
  // herd7 aarch64-BBM CoRR+PteOA.DB0: Allowed and flagged Warning-BBM-expected (RWHZWS).
  it("an OA change without BBM is allowed and flagged bbm", () => {
    const r = runLitmus(load("CoRR+pteoa.yaml"));
    expect(r.condition?.verdict).toBe("as-claimed");
    expect(r.findings.map((f) => `${f.violation.rule}@${f.violation.step}`)).toContain("bbm@1");
  });
  // RWHZWS: a read-only swap of identical contents needs no break (item 5 of issue 13).
  it("a read-only swap of identical pages is not flagged", () => {
    expect(runLitmus(load("CoRR+ro-swap.yaml")).findings).toEqual([]);
  });
  it("without a condition, executions not replayed on the rule checker make the result inconclusive (3)", () => {
    const s = load("MP+shoot+po.yaml");
    const r = runLitmus({ ...s, final: undefined }, { traceLimit: 1 });
    expect(r.tracesTruncated).toBe(true);
    // The one replayed execution breaks BBM (rule 1): findings decide first.
    expect(litmusStatus(r)).toBe(1);
    const clean = runLitmus({ ...load("CoRR+ro-swap.yaml"), final: undefined }, { traceLimit: 1 });
    expect(clean.findings).toEqual([]);
    expect(clean.tracesTruncated).toBe(true);
    expect(litmusStatus(clean)).toBe(3);
    expect(litmusStatus(runLitmus({ ...load("CoRR+ro-swap.yaml"), final: undefined }))).toBe(0);
  });
  it("the flag does not change the exit status when the file states a claim", () => {
    const r = check([join(DIR, "CoRR+pteoa.yaml")]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("flag: rule 1 bbm (bbm.output-address) at step 1 on P0");
  });
});

describe("litmus model: stage 2", () => {
  // Arm ARM D8.2: an IPA with an invalid stage-2 descriptor faults at stage 2 (taken to EL2).
  it("a fault at stage 2 is recorded as a stage-2 fault", () => {
    const r = check([join(DIR, "S2-unmapped.yaml")], { format: "json" });
    const j = JSON.parse(r.out) as { states: { faults: { stage: number; text: string }[] }[] }[];
    expect(j[0]?.states[0]?.faults[0]?.stage).toBe(2);
    expect(j[0]?.states[0]?.faults[0]?.text).toContain(",stage2)");
  });
  // D8.14: a stage-1 TLBI only acts on the issuing CPU's VMID.
  it("the same shootdown is forbidden in one VMID and allowed across VMIDs", () => {
    const s = load("MP+shoot+dsb-isb.vmid2.yaml");
    expect(observedOf(runLitmus(s))).toBe("allowed");
    const one = { ...s, litmus: { ...s.litmus, stage2: s.litmus.stage2.map((x) => (x ? { ...x, vmid: 1 } : x)) } };
    expect(observedOf(runLitmus(one))).toBe("forbidden");
  });
});

describe("litmus input errors (exit 2, one line naming file:line)", () => {
  const base = (steps: string, final = 'final: "exists (P0:X0=1)"') =>
    `machine: { cpus: 1, regs: { TTBR1_EL1: 0x80000 } }\nmemory: { ram: [{ base: 0x40000000, size: 0x100000 }], pool: 0x81000, map: [{ va: 0xffff000000200000, pa: 0x40000000 }] }\nsteps:\n${steps}\n${final}\n`;
  it.each([
    ['  - "P0: cbz X0, NOWHERE"', "no label NOWHERE on P0"],
    ['  - "P0: ldr X31, 0xffff000000200000"', "must be a register X0..X30"],
    ['  - "P0: ldr X0, [X1, X2, X3]"', "must be [Xn] or [Xn, Xm]"],
    ['  - "P0: add X0, X1"', "add expects Xd, Xn, Xm|VALUE"],
    ['  - "P0: L0: nop"\n  - "P0: L0: nop"', "label L0 is already used on P0"],
  ])("%s", (steps, want) => {
    const r = check([tmp("bad.yaml", base(steps))]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: [^\n]+\n$/);
    expect(r.err).toContain(want);
  });
  it.each([
    ['final: "maybe (P0:X0=1)"', "expected a condition like"],
    ['final: "exists (P3:X0=1)"', "is not a CPU"],
    ['final: "exists (P0:X0=1"', "parenthesis is not closed"],
    ['final: "exists (P0:X0=one)"', "is not a value"],
    ['final: "exists ([0xffff000000300000]=1)"', "is not mapped"],
  ])("%s", (final, want) => {
    const r = check([tmp("bad.yaml", base('  - "P0: ldr X0, 0xffff000000200000"', final))]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: [^\n]+\n$/);
    expect(r.err).toContain(want);
  });
});
