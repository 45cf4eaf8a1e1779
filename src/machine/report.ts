/**
 * Building checker reports: a rule id plus what happened becomes a `Violation` with the rule's
 * number, title and citation from the rule registry (rules.ts), a trace of the earlier steps
 * (deduplicated, oldest first) and an optional fix. A dedupe key makes a finding appear once.
 */
import type { HalfContext } from "../walk/context.js";
import { RULES, type RuleId } from "./rules.js";
import type { StepRecord, TraceEntry, Violation } from "./types.js";

/** Where a finding is: VA, mapped PA, descriptor PA (each optional). */
export interface Where {
  va?: bigint;
  pa?: number;
  descAddr?: number;
}

export function hx(n: number): string {
  return `0x${n.toString(16)}`;
}

/** The VA of offset `off` within a TTBR half. */
export function vaOf(h: HalfContext | { index: 0 | 1; iaBits: number }, off: number): bigint {
  return h.index === 0 ? BigInt(off) : (1n << 64n) - (1n << BigInt(h.iaBits)) + BigInt(off);
}

export class Reporter {
  private readonly reportedKeys = new Set<string>();
  /** `steps`: the machine's step log (read for trace texts); `emit`: receives each new report. */
  constructor(
    private readonly steps: readonly StepRecord[],
    private readonly emit: (v: Violation) => void,
  ) {}

  /** A trace entry: step `step` played `role` in the finding. */
  tr(step: number, role: string): TraceEntry {
    const rec = this.steps[step - 1];
    return { step, cpu: rec?.cpu ?? -1, role, text: step === 0 ? "initial memory" : (rec?.text ?? `step ${step}`) };
  }

  report(
    rule: RuleId,
    detail: string,
    step: number,
    cpu: number,
    message: string,
    where: Where,
    trace: TraceEntry[],
    fix?: string,
    dedupe?: string,
  ): void {
    if (dedupe !== undefined) {
      if (this.reportedKeys.has(dedupe)) return;
      this.reportedKeys.add(dedupe);
    }
    const info = RULES[rule];
    const v: Violation = {
      rule,
      ruleNumber: info.number,
      title: info.title,
      detail,
      citation: info.citation,
      step,
      cpu,
      ...(where.va !== undefined ? { va: where.va } : {}),
      ...(where.pa !== undefined ? { pa: BigInt(where.pa) } : {}),
      ...(where.descAddr !== undefined ? { descAddr: BigInt(where.descAddr) } : {}),
      message,
      ...(fix !== undefined ? { fix } : {}),
      trace: trace.filter((t, i, a) => a.findIndex((x) => x.step === t.step && x.role === t.role) === i).sort((a, b) => a.step - b.step),
    };
    this.emit(v);
  }
}
