/**
 * herd7 litmus files: reading them (`vmsa check test.litmus`), the verdicts of the paraphrased
 * catalogue tests in examples/herd (herd7's verdict in each file's comment; relaxed-vmsa.md
 * §4.7), refusals of what is not supported, and exports that read back equal.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkFiles } from "../../src/cli/check.js";
import { ScenarioError } from "../../src/scenario/build.js";
import { parseScenario } from "../../src/scenario/format.js";
import { scenarioToHerd } from "../../src/scenario/herd-export.js";
import { herdFileToScenarioText } from "../../src/scenario/herd-import.js";
import { HerdError } from "../../src/scenario/herd-parse.js";
import { runLitmus } from "../../src/scenario/litmus.js";
import { observedOf } from "../../src/scenario/litmus-render.js";

const HERD = "examples/herd";
const dir = mkdtempSync(join(tmpdir(), "vmsa-herd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function importHerd(file: string): string {
  return herdFileToScenarioText(readFileSync(file, "utf8"), file);
}

function answer(yamlText: string, file: string): string | undefined {
  return observedOf(runLitmus(parseScenario(yamlText, file)));
}

describe("herd7 litmus files", () => {
  // herd7's verdicts (relaxed-vmsa.md §4.7, herdtools7 catalogue): an ISB or ETS2 orders the
  // walk after the DSB-completed store (Arm ARM D8.2 "context synchronization", FEAT_ETS2);
  // a completed TLBI plus DSB/ISB on the reader forbids the stale read (herd TLBI-ob); BBM with
  // a completed TLBI forbids reading new then old.
  const verdicts: [string, string][] = [
    ["I2V-UP-DSB.litmus", "allowed"],
    ["I2V-UP-DSB.ets2.litmus", "forbidden"],
    ["I2V-UP-DSB-ISB.litmus", "forbidden"],
    ["MP+shoot+dsb-isb.litmus", "forbidden"],
    ["MP+shoot+po.litmus", "allowed"],
    ["MP+tlbi-sync.bbm+pos.litmus", "forbidden"],
  ];
  it("answers each catalogue test as herd7 does", () => {
    expect(
      readdirSync(HERD)
        .filter((f) => f.endsWith(".litmus"))
        .sort(),
    ).toEqual(verdicts.map(([f]) => f).sort());
    for (const [f, want] of verdicts) expect(answer(importHerd(`${HERD}/${f}`), f), f).toBe(want);
  });
  it("reads init, columns and condition into the layout: locations as pages, PTE(x) as a physical address", () => {
    const y = importHerd(`${HERD}/MP+shoot+dsb-isb.litmus`);
    const s = parseScenario(y, "mp.litmus");
    expect(s.cpus).toBe(2);
    expect(s.maps.map((m) => m.va)).toEqual([0x20_0000n, 0x20_1000n, 0x20_2000n]);
    expect(s.steps.map((st) => st.text)).toContain("P0: str X0, pa:X1");
    expect(s.steps.map((st) => st.text)).toContain("P0: tlbi VAAE1IS, X9");
    expect(s.final?.text).toBe("exists (1:X0=1 /\\ 1:X2=0)");
    // (oa:PA(y)) with herd's defaults: valid, AF, writable, EL0, executable; Normal, inner shareable.
    expect(y).toContain('P0:X0: "0x40001743"');
  });
  it("exports read back equal (herd → scenario → herd → scenario)", () => {
    for (const [f] of verdicts) {
      const first = importHerd(`${HERD}/${f}`);
      const exported = scenarioToHerd(parseScenario(first, f));
      const again = herdFileToScenarioText(exported, `${HERD}/${f}`);
      expect(parseScenario(again, f), f).toEqual(parseScenario(first, f));
      expect(answer(again, f), f).toBe(answer(first, f));
    }
  });
  it("every exportable litmus example exports to a file that exports again unchanged and gets the same verdict", () => {
    let exported = 0;
    for (const f of readdirSync("examples/litmus").filter((x) => x.endsWith(".yaml"))) {
      const s = parseScenario(readFileSync(`examples/litmus/${f}`, "utf8"), f);
      let text: string;
      try {
        text = scenarioToHerd(s);
      } catch (e) {
        // What herd cannot say is refused with a reason, never exported wrong.
        expect(e, f).toBeInstanceOf(HerdError);
        expect((e as Error).message).toMatch(/--export-litmus: \S/);
        continue;
      }
      exported++;
      const back = parseScenario(herdFileToScenarioText(text, `${f}.litmus`), `${f}.litmus`);
      expect(scenarioToHerd(back), f).toBe(text);
      // herd writes every address as an initialised register; one written by no instruction
      // carries no dependency (Arm ARM B2.3 Dependency definitions), so the verdict is the same.
      expect(observedOf(runLitmus(back)), f).toBe(observedOf(runLitmus(s)));
    }
    expect(exported).toBeGreaterThan(40);
  });
  it("refuses what it does not support in one line naming the file, the line and what was expected", () => {
    const ok = "AArch64 t\n{ 0:X1=x; }\n P0 ;\n LDR X0,[X1] ;\nexists (0:X0=1)\n";
    const cases: [string, RegExp][] = [
      ["X86 t\n{ }\n P0 ;\n NOP ;\nexists (0:X0=1)\n", /^t\.litmus:1: architecture "X86": only AArch64/],
      [ok.replace("LDR X0,[X1]", "CSEL X0,X1,X2,EQ"), /^t\.litmus:4: P0: "CSEL X0,X1,X2,EQ": instruction CSEL is not supported/],
      [ok.replace("exists (0:X0=1)", "filter (0:X0=1)\nexists (0:X0=1)"), /^t\.litmus:5: filter is not supported/],
      [
        ok.replace("0:X1=x;", "0:X1=x; [PTE(x)]=(oa:PTE(y));"),
        /^t\.litmus:2: descriptor: oa:PTE\(y\) \(a page-table page as output\) is not supported/,
      ],
      [ok.replace("0:X1=x;", "0:X1=x; [PTE(x)]=(oa:PA(x), Device-nGnRnE);"), /memory attribute "Device-nGnRnE" is not supported/],
      [ok.replace("AArch64 t\n", "AArch64 t\nVariant=vmsa,mixed\n"), /^t\.litmus: Variant mixed is not supported/],
      [ok.replace("AArch64 t\n", "AArch64 t\nFoo=1\n"), /^t\.litmus:2: info key Foo is not supported/],
      [ok.replace("\nexists (0:X0=1)\n", "\n"), /no final condition/],
      [ok.replace("{ 0:X1=x; }", "{ 0:X1=x;"), /the init section "\{" is never closed/],
      [ok.replace("LDR X0,[X1]", "LDR X0,[X1,#8]"), /address "\[X1,#8\]" is not supported/],
      [ok.replace("0:X1=x;", "0:X31=x;"), /register X31 does not exist/],
    ];
    for (const [text, want] of cases) {
      let error: unknown;
      try {
        herdFileToScenarioText(text, "t.litmus");
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(ScenarioError);
      expect((error as Error).message, text).toMatch(want);
      expect((error as Error).message.split("\n")).toHaveLength(1);
    }
  });
  it("vmsa check runs a .litmus file (exit 0 with herd's answer) and --export-litmus writes one", () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(
      checkFiles(
        [`${HERD}/MP+shoot+po.litmus`],
        {},
        (s) => out.push(s),
        (s) => err.push(s),
      ),
    ).toBe(0);
    expect(out.join("")).toMatch(/condition exists \(1:X0=1 \/\\ 1:X2=0\): allowed/);
    const file = join(dir, "out.litmus");
    expect(
      checkFiles(
        ["examples/litmus/MP+shoot+dsb-isb.yaml"],
        { exportLitmus: file },
        () => {},
        (s) => err.push(s),
      ),
    ).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(/^AArch64 MP\+shoot\+dsb-isb\nVariant=vmsa\n/);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // Not expressible in herd: exit 2, one line, nothing written.
    const none = join(dir, "none.litmus");
    const e2: string[] = [];
    expect(
      checkFiles(
        ["examples/litmus/S2-read.yaml"],
        { exportLitmus: none },
        () => {},
        (s) => e2.push(s),
      ),
    ).toBe(2);
    expect(e2.join("")).toMatch(
      /^vmsa: error: examples\/litmus\/S2-read\.yaml: --export-litmus: machine\.stage2: herd's symbolic tables have no stage 2\n$/,
    );
    expect(readdirSync(dir)).not.toContain("none.litmus");
    expect(err).toEqual([]);
  });
});
