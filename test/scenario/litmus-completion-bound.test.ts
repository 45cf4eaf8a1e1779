/**
 * The litmus model tells apart a bounded number of TLBI completions per execution (each
 * completing DSB gets one bit of the views' completion sets, Arm ARM D8.14 completion of TLB
 * maintenance, herd TLBI-ob). Sharing a bit would order accesses after TLBIs they are not ordered
 * after, which can only turn allowed outcomes into forbidden ones: past the bound the search is
 * incomplete (inconclusive, exit 3), never a verdict.
 */
import { describe, expect, it } from "vitest";
import { MAX_TLBI_COMPLETIONS } from "../../src/machine/litmus/exec.js";
import { parseScenario } from "../../src/scenario/format.js";
import { runLitmus } from "../../src/scenario/litmus.js";
import { renderLitmusText } from "../../src/scenario/litmus-render.js";

function shootdowns(n: number): string {
  const steps: string[] = [];
  for (let i = 0; i < n; i++) steps.push(`  - "P0: tlbi VAAE1IS $X"`, `  - "P0: dsb ISH"`);
  return `name: many-shootdowns-${n}
machine:
  cpus: 2
  regs: { TTBR1_EL1: 0x80000 }
memory:
  ram: [{ base: 0x40000000, size: 0x100000 }]
  pool: 0x81000
  map:
    - { va: 0xffff000000200000, pa: 0x40000000 }
values:
  X: 0xffff000000200000
steps:
${steps.join("\n")}
  - "P1: ldr X0, $X"
final: "exists (P1:X0=0)"
`;
}

describe("TLBI completions beyond what the litmus model tells apart", () => {
  it(`an execution with ${MAX_TLBI_COMPLETIONS} completing DSBs is decided`, () => {
    const r = runLitmus(parseScenario(shootdowns(MAX_TLBI_COMPLETIONS), "ok.yaml"), {});
    expect(r.stopped).toBeUndefined();
    expect(r.states.length).toBeGreaterThan(0);
  });

  it(`one more completing DSB makes the search incomplete, and the text says why`, () => {
    const r = runLitmus(parseScenario(shootdowns(MAX_TLBI_COMPLETIONS + 1), "over.yaml"), {});
    expect(r.stopped).toBe("completion-bound");
    const text = renderLitmusText(r, { outcomes: false });
    expect(text).toContain(`completed more than ${MAX_TLBI_COMPLETIONS} TLBIs`);
    expect(text).toContain("incomplete");
  });
});
