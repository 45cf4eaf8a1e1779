/**
 * The rule checker over litmus executions: each distinct execution's trace (machine/litmus
 * trace.ts) is replayed on the may-cache Machine, which reports the rules it breaks (BBM,
 * missing barriers, stale translations, …). Like herd7's flags (Warning-BBM-expected), these
 * findings sit beside the outcome: a test may be allowed and still break a software rule.
 */

import type { TraceEntry } from "../machine/litmus/trace.js";
import { Machine } from "../machine/machine.js";
import type { Violation } from "../machine/types.js";
import { PhysMem } from "../mem/physmem.js";
import type { Scenario } from "./format.js";
import { buildInitialMemory } from "./run.js";

export interface LitmusFinding {
  /** The first report (steps in scenario numbering). */
  readonly violation: Violation;
  /** Execution traces that show it. */
  count: number;
}

function replay(m: Machine, e: TraceEntry): void {
  const op = e.op;
  switch (op.k) {
    case "store-pa":
      if (op.release) m.storeRelease(e.cpu, op.pa, op.value);
      else m.store64(e.cpu, op.pa, op.value);
      return;
    case "access":
      if (op.type === "load") m.load(e.cpu, op.va, op.el);
      else if (op.type === "fetch") m.fetch(e.cpu, op.va, op.el);
      else m.store(e.cpu, op.va, op.el, op.value);
      return;
    case "dsb":
      m.dsb(e.cpu, op.kind);
      return;
    case "dmb":
      m.dmb(e.cpu, op.kind);
      return;
    case "isb":
      m.isb(e.cpu);
      return;
    case "tlbi":
      m.tlbi(e.cpu, op.op, op.operand);
      return;
    case "msr":
      m.msr(e.cpu, op.reg, op.value);
      return;
  }
}

/** Replay every trace; the distinct findings (rule, detail, step, CPU) with how many traces show each. */
export function checkLitmusTraces(s: Scenario, traces: readonly (readonly TraceEntry[])[]): LitmusFinding[] {
  const found = new Map<string, LitmusFinding>();
  if (traces.length === 0) return [];
  const mem = new PhysMem();
  buildInitialMemory(s, mem);
  mem.checkpoint();
  for (const trace of traces) {
    const m = new Machine({ cpus: s.cpus, mem, bbmLevel: s.bbmLevel, regs: s.regs, cpuRegs: s.cpuRegs, recordSteps: true });
    for (const e of trace) replay(m, e);
    m.finish();
    const stepOf = (x: number): number => (x === 0 ? 0 : (trace[x - 1]?.step ?? x));
    for (const v of m.reports) {
      const step = stepOf(v.step);
      const key = `${v.rule}|${v.detail}|${step}|${v.cpu}`;
      const f = found.get(key);
      if (f) f.count++;
      else found.set(key, { violation: { ...v, step, trace: v.trace.map((t) => ({ ...t, step: stepOf(t.step) })) }, count: 1 });
    }
    mem.rollback();
  }
  return [...found.values()];
}
