/** The scenario stepper's core (web/src/lib/stepper.ts): one run, a snapshot per step. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/format.js";
import { runScenario } from "../../src/scenario/run.js";
import { EXAMPLE_SCENARIOS, exampleScenario } from "../../web/src/lib/scenarios.js";
import { citedSteps, decodeText, encodeText, reportsUpTo, traceScenario } from "../../web/src/lib/stepper.js";

const ROOT = join(import.meta.dirname, "../..");

function example(name: string): string {
  const s = exampleScenario(name);
  if (!s) throw new Error(`no bundled example ${name}`);
  return s.text;
}

describe("bundled examples", () => {
  it("bundles every shipped scenario byte for byte", () => {
    expect(EXAMPLE_SCENARIOS.length).toBeGreaterThanOrEqual(20);
    for (const s of EXAMPLE_SCENARIOS) expect(s.text).toBe(readFileSync(join(ROOT, s.file), "utf8"));
  });
});

describe("traceScenario", () => {
  it("gives the runner's verdict and one snapshot per step for every example", () => {
    for (const ex of EXAMPLE_SCENARIOS) {
      if (ex.file.startsWith("examples/litmus/")) continue;
      const t = traceScenario(ex.text, ex.file);
      expect(t.litmus).toBe(false);
      const r = runScenario(parseScenario(ex.text, ex.file));
      expect(t.snapshots.length).toBe(t.steps.length + 1);
      expect(t.reports.map((v) => `${v.rule}@${v.step}`)).toEqual(r.reports.map((v) => `${v.rule}@${v.step}`));
      expect(t.expectationFailures).toEqual([]);
      for (const s of t.snapshots) expect(s.length).toBe(t.cpus);
    }
  });

  it("hands litmus files (values, registers, a final condition) to the checker view: no step-by-step run", () => {
    // `vmsa check` runs such files on the litmus model (every execution), never step by step:
    // runScenario refuses their instructions, and the stepper does not pretend to have snapshots.
    const litmus = EXAMPLE_SCENARIOS.filter((x) => x.file.startsWith("examples/litmus/"));
    expect(litmus.length).toBeGreaterThan(40);
    for (const ex of litmus) {
      const t = traceScenario(ex.text, ex.file);
      expect(t.litmus, ex.name).toBe(true);
      expect(t.snapshots).toEqual([]);
      expect(t.steps.length).toBe(parseScenario(ex.text, ex.file).steps.length);
    }
    const mp = litmus.find((x) => x.name === "litmus/MP+po+po");
    if (!mp) throw new Error("litmus/MP+po+po is not bundled");
    expect(() => runScenario(parseScenario(mp.text, mp.file))).toThrow(/litmus instruction/);
  });

  it("shows the global leaf CPU 1 may keep after TLBI ASIDE1 (asid-global-bad)", () => {
    // Arm ARM D8.14: TLBI ASIDE1 does not invalidate global (nG=0) entries.
    const t = traceScenario(example("asid-global-bad"), "asid-global-bad.yaml");
    const va = 0xffff_0000_0020_0000n;
    const before = t.snapshots[0]?.[1]?.tlb.find((e) => e.kind === "leaf" && e.va === va);
    expect(before).toMatchObject({ source: "memory", global: true });
    // After the invalid store (step 1) memory no longer maps it: the old leaf is a stale row.
    const at5 = t.snapshots[5]?.[1]?.tlb.filter((e) => e.va === va && e.kind === "leaf") ?? [];
    expect(at5.map((e) => e.source)).toEqual(["stale"]);
    expect(at5[0]).toMatchObject({ global: true, changed: 1, state: "live" });
    expect(at5[0]?.note).toContain("ASIDE1");
    // The violation appears at step 6 and cites earlier steps.
    expect(reportsUpTo(t, 5)).toEqual([]);
    const v = reportsUpTo(t, 6)[0];
    expect(v?.rule).toBe("stale-translation");
    if (!v) return;
    const cited = citedSteps(v);
    expect(cited.length).toBeGreaterThan(0);
    expect(cited.every((s) => s < 6)).toBe(true);
  });

  it("shows a pending (unsynchronized) store until the storing CPU's DSB", () => {
    const t = traceScenario(example("asid-global-bad"), "asid-global-bad.yaml");
    expect(t.snapshots[1]?.[0]?.pending.map((p) => p.step)).toEqual([1]);
    // After DSB ISHST (step 2) and the ISB (step 5) the store is visible to this CPU's walks.
    expect(t.snapshots[5]?.[0]?.pending).toEqual([]);
  });

  it("caps the listed entries and counts the rest", () => {
    const t = traceScenario(example("asid-global-bad"), "asid-global-bad.yaml", 2);
    const s = t.snapshots[0]?.[0];
    expect(s?.tlb.length).toBe(2);
    expect(s?.omitted).toBeGreaterThan(0);
  });

  it("shows the 512 pages of a split block as one run of level-3 leaves", () => {
    // split-bbm0-fixed replaces a 2M block by a table of 512 4K pages with the same attributes.
    const t = traceScenario(example("split-bbm0-fixed"), "split-bbm0-fixed.yaml");
    const before = t.snapshots[0]?.[0]?.tlb.filter((e) => e.kind === "leaf") ?? [];
    expect(before.map((e) => [e.level, e.count])).toEqual([[2, 1]]);
    const after = t.snapshots[t.steps.length]?.[0]?.tlb.filter((e) => e.kind === "leaf") ?? [];
    expect(after.map((e) => [e.level, e.count, e.size])).toEqual([[3, 512, 4096]]);
    expect(after[0]?.va).toBe(before[0]?.va);
    expect(after[0]?.target).toBe(before[0]?.target);
  });

  it("names file and line for bad input", () => {
    expect(() => traceScenario("steps:\n  - 'P0: frobnicate'\n", "pasted.yaml")).toThrow(/pasted\.yaml:2: steps\[0\]/);
  });
});

describe("pasted text in the URL", () => {
  it("round-trips UTF-8 through base64url", () => {
    const text = "name: x # ünïcode\nsteps: []\n";
    const enc = encodeText(text);
    expect(enc).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeText(enc)).toBe(text);
  });
});

describe("PAR_EL1 in the CPU panels", () => {
  // PAR_EL1's reset value is UNKNOWN (Arm ARM D19.2 PAR_EL1): a 0 there before any AT is not
  // "F=0, PA 0", a successful translation. Only an AT that completes (or an MSR) writes it.
  const text = `name: par-origin
machine:
  cpus: 2
  preset: linux-4k-48
  bbm: 0
  regs: { TTBR1_EL1: 0x80000 }
memory:
  ram: [{ base: 0x40000000, size: 0x40000000 }]
  pool: 0x81000
  map:
    - { va: 0xffff000000200000, pa: 0x40000000, size: 0x1000, level: 3 }
steps:
  - "P0: isb"
  - "P0: at S1E1R 0xffff000000200000"
  - "P1: at S1E1R 0xffff000000400000"
  - "P0: isb"
`;
  it("marks PAR_EL1 as never written until this CPU's AT, then names the AT's step", () => {
    const t = traceScenario(text, "par-origin.yaml");
    const at = t.steps.filter((s) => s.par !== undefined).map((s) => s.step);
    expect(at).toEqual([2, 3]);
    // Before any AT: nothing wrote PAR_EL1 on either CPU, though the machine holds 0 there.
    expect(t.snapshots[0]?.[0]?.regs.par).toBe(0n);
    expect(t.snapshots[0]?.map((c) => c.parFrom)).toEqual([undefined, undefined]);
    expect(t.snapshots[1]?.map((c) => c.parFrom)).toEqual([undefined, undefined]);
    // Step 2: CPU 0's AT succeeds (F=0, PA 0x40000000); CPU 1 still has none.
    expect(t.snapshots[2]?.map((c) => c.parFrom)).toEqual([2, undefined]);
    expect((t.snapshots[2]?.[0]?.regs.par ?? 1n) & 1n).toBe(0n);
    // Step 3: CPU 1's AT of an unmapped VA faults: PAR.F=1, written by step 3.
    expect(t.snapshots[3]?.map((c) => c.parFrom)).toEqual([2, 3]);
    expect((t.snapshots[3]?.[1]?.regs.par ?? 0n) & 1n).toBe(1n);
    expect(t.snapshots[4]?.map((c) => c.parFrom)).toEqual([2, 3]);
  });
});
