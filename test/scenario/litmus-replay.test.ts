/**
 * One execution of a litmus test run again from its recorded choices (LitmusState.samples,
 * replayLitmus): every instruction in execution order, and the write each read read from
 * (reads-from, Arm ARM B2.3) — what the UI's checker view steps through.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/format.js";
import { replayLitmus, runLitmus } from "../../src/scenario/litmus.js";

const load = (name: string) => parseScenario(readFileSync(join("examples/litmus", name), "utf8"), `examples/litmus/${name}`);

describe("litmus replay (reads-from of one execution)", () => {
  it("every sampled execution of MP+po+po replays to the final state it was sampled in", () => {
    const s = load("MP+po+po.yaml");
    const r = runLitmus(s, { samplesPerState: 50 });
    expect(r.states.length).toBe(4);
    let n = 0;
    for (const st of r.states) {
      expect(st.samples.length).toBeGreaterThan(0);
      for (const c of st.samples) {
        const p = replayLitmus(s, c);
        expect(p.kind).toBe("final");
        expect(p.key).toBe(st.key);
        n++;
      }
    }
    // Distinct traces only, and never more than were run.
    expect(n).toBeLessThanOrEqual(r.executions);
  });

  it("MP+po+po's allowed outcome X0=1, X2=0 reads Y from P0's store and X from initial memory", () => {
    // MP without barriers (Arm ARM B2.3: no ordering between the two loads or the two stores):
    // P1 sees the flag (step 3 reads from step 2) yet reads the old data (step 4: initial memory).
    const s = load("MP+po+po.yaml");
    const r = runLitmus(s, { samplesPerState: 10 });
    const weak = r.states.find((x) => x.satisfies === true);
    if (!weak) throw new Error("MP+po+po lost its allowed weak outcome");
    for (const c of weak.samples) {
      const p = replayLitmus(s, c);
      const data = p.events.flatMap((e) => e.reads.filter((x) => x.kind === "data").map((x) => ({ step: e.step, cpu: e.cpu, ...x })));
      expect(data.map((d) => [d.cpu, d.step, d.value, d.from])).toEqual([
        [1, 3, 1n, { kind: "store", cpu: 0, line: 1, step: 2 }],
        [1, 4, 0n, { kind: "initial" }],
      ]);
      // Every instruction ran once (the early store is its own event), in an order each CPU's
      // program order allows for everything but a store run early.
      expect(p.events.map((e) => e.step).sort()).toEqual([1, 2, 3, 4]);
    }
  });

  it("records the walk's descriptor reads with stage, level and the write they read", () => {
    // MP+shoot+dsb-isb: P0 unmaps X (store to the PTE by PA); P1's walk of X reads the PTE.
    const s = load("MP+shoot+dsb-isb.yaml");
    const r = runLitmus(s, { samplesPerState: 5 });
    const walks = r.states.flatMap((st) =>
      st.samples.flatMap((c) => replayLitmus(s, c).events.flatMap((e) => e.reads.filter((x) => x.kind === "walk"))),
    );
    expect(walks.length).toBeGreaterThan(0);
    expect(walks.every((w) => w.stage === 1 && w.level >= 0 && w.level <= 3)).toBe(true);
    // Some walk reads the PTE P0 wrote, some the initial one.
    const leafReads = walks.filter((w) => w.level === 3);
    expect(leafReads.some((w) => w.from.kind === "store")).toBe(true);
    expect(leafReads.some((w) => w.from.kind === "initial")).toBe(true);
  });

  it("a choice sequence that does not fit the program is refused, not replayed as something else", () => {
    const s = load("MP+po+po.yaml");
    expect(() => replayLitmus(s, [9, 9, 9])).toThrow(/replayed choice 0 is 9/);
    expect(() => replayLitmus(s, [])).toThrow(/missing/);
  });

  it("keeps no samples unless asked (the CLI's enumeration records nothing extra)", () => {
    const r = runLitmus(load("MP+po+po.yaml"));
    expect(r.states.every((x) => x.samples.length === 0)).toBe(true);
  });
});
