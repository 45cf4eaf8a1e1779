/** The published JSON Schema describes what the parser accepts, and JSON scenario files work. */
import { readdirSync, readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { GENERATED_FILE, generateSchemaModule, SCHEMA_FILE } from "../../scripts/scenario-schema.js";
import { RULE_IDS } from "../../src/machine/rules.js";
import { ScenarioError } from "../../src/scenario/build.js";
import { parseScenario, SCENARIO_KEYS } from "../../src/scenario/format.js";
import { runScenario } from "../../src/scenario/run.js";
import { fieldsAt } from "../../src/scenario/schema.js";
import { propertyRuns } from "../helpers/property.js";

const schema = JSON.parse(readFileSync("examples/scenarios/scenario.schema.json", "utf8"));

/** Visit the `at`-th node (mod the count) of a JSON tree and set, add or drop a field or item there. */
function mutate(doc: unknown, at: number, value: unknown, how: "set" | "add" | "drop"): void {
  const spots: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v))
      v.forEach((x, i) => {
        spots.push([v, i]);
        walk(x);
      });
    else if (v !== null && typeof v === "object")
      for (const [k, x] of Object.entries(v)) {
        spots.push([v as Record<string, unknown>, k]);
        walk(x);
      }
  };
  walk(doc);
  const spot = spots[at % Math.max(1, spots.length)];
  if (spot === undefined) return;
  const [holder, key] = spot;
  if (Array.isArray(holder)) {
    if (how === "drop") holder.splice(Number(key), 1);
    else if (how === "add") holder.push(value);
    else holder[Number(key)] = value;
  } else if (how === "drop") delete holder[key as string];
  else if (how === "add") holder[`extra${String(key)}`] = value;
  else holder[key as string] = value;
}

describe("scenario schema", () => {
  it("the generated validator and schema module are up to date with the schema file (npm run gen:schema)", () => {
    expect(readFileSync(GENERATED_FILE, "utf8")).toBe(generateSchemaModule(readFileSync(SCHEMA_FILE, "utf8")));
  });
  it("the parser's field lists are the schema's", () => {
    expect(SCENARIO_KEYS.top).toEqual(Object.keys(schema.properties));
    expect(SCENARIO_KEYS.machine).toEqual(Object.keys(schema.properties.machine.properties));
    expect(SCENARIO_KEYS.memory).toEqual(Object.keys(schema.properties.memory.properties));
  });
  it("a field added to the schema is accepted by the parser, one removed is rejected", () => {
    // The field lists are read from the schema, not kept beside it: editing the schema is enough.
    expect(fieldsAt(["memory", "map", 0, "attrs"])).toEqual(Object.keys(schema.$defs.attrs.properties));
    expect(fieldsAt(["steps", 0])).toEqual(["do", "allowed", "forbidden"]);
    expect(fieldsAt(["expect", "violations", 0])).toEqual(["rule", "step", "cpu"]);
  });
  it("the register names the schema allows are the registers the parser knows (any case, _EL1 optional)", () => {
    const [pattern] = Object.keys(schema.$defs.regs.patternProperties);
    const re = new RegExp(pattern as string, "u");
    for (const r of ["TTBR0_EL1", "ttbr1", "Tcr_El1", "MAIR", "sctlr_el1"]) expect(re.test(r), r).toBe(true);
    for (const r of ["TTBR2_EL1", "VTTBR_EL2", "TCR_EL2", "foo"]) expect(re.test(r), r).toBe(false);
    const text = (r: string): string => `machine: { regs: { ${r}: 0x80000 } }\nsteps: ['P0: isb']\n`;
    expect(parseScenario(text("ttbr1"), "r.yaml").regs.ttbr1).toBe(0x80000n);
    expect(() => parseScenario(text("TTBR2_EL1"), "r.yaml")).toThrow(/machine\.regs\.TTBR2_EL1: unknown field/);
  });
  it("a value the schema does not allow is rejected even where the parser could read it", () => {
    // expect.violations[].step is an integer in the schema; the parser alone read the text "1" as step 1.
    const text = "steps: ['P0: isb']\nexpect:\n  violations:\n    - { rule: bbm, step: '1' }\n";
    expect(() => parseScenario(text, "s.yaml")).toThrow(/^s\.yaml:4: expect\.violations\[0\]\.step: expected a whole number ≥ 1, got "1"$/);
  });
  it("every example scenario conforms to the schema (ajv compiled from the JSON file)", () => {
    const validate = new Ajv2020({ strict: true }).compile(schema);
    const files = readdirSync("examples/scenarios").filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const doc = parse(readFileSync(`examples/scenarios/${f}`, "utf8"));
      expect(validate(doc), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });
  it("whatever the schema rejects, the parser rejects with one line naming the file and the field (random edits of the examples)", () => {
    const validate = new Ajv2020({ strict: true }).compile(schema);
    const docs = readdirSync("examples/scenarios")
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => parse(readFileSync(`examples/scenarios/${f}`, "utf8")) as unknown);
    const junk = fc.oneof(
      fc.constantFrom<unknown>(-1, 1.5, "zz", "1", "", true, null, [], {}, [1], { x: 1 }, "P9: isb", "0x10", "4K", "pa=0x1000", "clean"),
      fc.integer({ min: 0, max: 99 }),
    );
    let rejected = 0;
    fc.assert(
      fc.property(
        fc.nat(docs.length - 1),
        fc.array(fc.tuple(fc.nat(), junk, fc.constantFrom("set", "add", "drop")), { minLength: 1, maxLength: 3 }),
        (d, edits) => {
          const doc = structuredClone(docs[d]);
          for (const [at, value, how] of edits) mutate(doc, at, value, how);
          const text = JSON.stringify(doc);
          let error: unknown;
          try {
            parseScenario(text, "edited.json");
          } catch (e) {
            error = e;
          }
          if (!validate(doc)) {
            rejected++;
            expect(error, `${text}\n${JSON.stringify(validate.errors)}`).toBeInstanceOf(ScenarioError);
          }
          if (error !== undefined) {
            expect(error).toBeInstanceOf(ScenarioError);
            const msg = (error as Error).message;
            expect(msg.split("\n")).toHaveLength(1);
            expect(msg).toMatch(/^edited\.json(:\d+)?: \S/);
          }
        },
      ),
      { numRuns: propertyRuns(300) },
    );
    expect(rejected).toBeGreaterThan(0);
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
