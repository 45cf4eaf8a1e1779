/** The published JSON Schema describes what the parser accepts, and JSON scenario files work. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RULE_IDS } from "../../src/machine/rules.js";
import { parseScenario, SCENARIO_KEYS } from "../../src/scenario/format.js";
import { runScenario } from "../../src/scenario/run.js";

const schema = JSON.parse(readFileSync("examples/scenarios/scenario.schema.json", "utf8"));

describe("scenario schema", () => {
  it("lists exactly the fields the parser accepts", () => {
    expect(Object.keys(schema.properties).sort()).toEqual([...SCENARIO_KEYS.top].sort());
    expect(Object.keys(schema.properties.machine.properties).sort()).toEqual([...SCENARIO_KEYS.machine].sort());
    expect(Object.keys(schema.properties.memory.properties).sort()).toEqual([...SCENARIO_KEYS.memory].sort());
  });
  it("requires at least one step, as the parser does", () => {
    expect(schema.required).toContain("steps");
    expect(schema.properties.steps.minItems).toBe(1);
  });
  it("names every checker rule in expectations", () => {
    const rules = schema.properties.expect.oneOf[1].properties.violations.oneOf[1].items.properties.rule.enum;
    expect([...rules].sort()).toEqual([...RULE_IDS].sort());
  });
  it("a JSON scenario runs like its YAML twin", () => {
    const json = JSON.stringify({
      machine: { cpus: 1, regs: { TTBR1_EL1: "0x80000" } },
      memory: {
        ram: [{ base: "0x40000000", size: "1G" }],
        pool: "0x81000",
        map: [{ va: "0xffff000000200000", pa: "0x40000000", size: "4K" }],
      },
      values: { PTE: "desc(0xffff000000201000, 3)" },
      steps: ["P0: store $PTE page(oa=0x40001000, pxn=0)"],
      expect: { violations: [{ rule: "wx", step: 1 }] },
    });
    const r = runScenario(parseScenario(json, "inline.json"));
    expect(r.expectationFailures).toEqual([]);
    expect(r.reports.map((v) => v.rule)).toEqual(["wx"]);
  });
});
