/**
 * Random small multi-CPU scenarios for exploration property tests: two mapped pages, and per CPU
 * a few steps drawn from page-table stores, barriers, TLB maintenance, accesses and AT.
 */
import fc from "fast-check";

const A = "0xffff000000200000";
const B = "0xffff000000201000";

const STEP_TEXTS = [
  "store $PA invalid",
  "store $PA page(oa=0x40002000)",
  "store $PB page(oa=0x40000000)",
  "store $PB page(oa=0x40003000, cont=1)",
  "store $PA page(oa=0x40000000, ap=2)",
  "dsb ISHST",
  "dsb ISH",
  "dmb ISH",
  "isb",
  `tlbi VAAE1IS ${A}`,
  `tlbi VAE1IS ${B}`,
  "tlbi VMALLE1IS",
  `load ${A}`,
  `load ${B}`,
  `store-va ${A}`,
  `fetch ${B}`,
  `at S1E1R ${A}`,
  "protect 0x40002000 0x1000",
] as const;

export function scenarioText(cpus: readonly (readonly number[])[]): string {
  let text = `machine:
  cpus: ${cpus.length}
  regs: { TTBR1_EL1: 0x80000 }
memory:
  ram: [{ base: 0x40000000, size: 0x40000000 }]
  pool: 0x81000
  map:
    - { va: ${A}, pa: 0x40000000, size: 0x2000, level: 3, attrs: { pxn: 0 } }
values:
  PA: desc(${A}, 3)
  PB: desc(${B}, 3)
steps:
`;
  const longest = Math.max(...cpus.map((c) => c.length));
  for (let i = 0; i < longest; i++) {
    cpus.forEach((steps, c) => {
      const k = steps[i];
      if (k !== undefined) text += `  - "P${c}: ${STEP_TEXTS[k % STEP_TEXTS.length]}"\n`;
    });
  }
  return text;
}

/** 2 or 3 CPUs, 1..maxSteps steps each (the interleavings stay in the hundreds). */
export function arbScenario(maxSteps = 3): fc.Arbitrary<string> {
  const cpu = fc.array(fc.nat(STEP_TEXTS.length - 1), { minLength: 1, maxLength: maxSteps });
  return fc.oneof(fc.array(cpu, { minLength: 2, maxLength: 2 }), fc.array(cpu, { minLength: 3, maxLength: 3 })).map(scenarioText);
}
