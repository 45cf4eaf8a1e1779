/** Text and JSON reports of a litmus run (final states and the final condition's verdict). */
import { MAX_TLBI_COMPLETIONS } from "../machine/litmus/exec.js";
import { faultText, type LitmusResult } from "./litmus.js";

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** What the states show: allowed / forbidden for exists and ~exists, required / not required for forall. */
export function observedOf(r: LitmusResult): string | undefined {
  const c = r.condition;
  if (c === undefined) return undefined;
  if (c.final.quantifier === "forall") return c.witnesses === r.states.length ? "required" : "not required";
  return c.witnesses > 0 ? "allowed" : "forbidden";
}

function stopText(r: LitmusResult): string {
  if (r.stopped === undefined) return "";
  const why =
    r.stopped === "execution-limit"
      ? `stopped at the execution limit of ${r.limit}`
      : r.stopped === "time-budget"
        ? "stopped by the time budget"
        : r.stopped === "completion-bound"
          ? `an execution completed more than ${MAX_TLBI_COMPLETIONS} TLBIs, more than the model tells apart`
          : "a CPU ran past the step bound (a loop?)";
  return ` (incomplete: ${why}; executions not run may reach other states)`;
}

export function renderLitmusText(r: LitmusResult, o: { outcomes: boolean }): string {
  const s = r.scenario;
  const lines: string[] = [];
  lines.push(
    `${s.name} (${s.file}): ${r.states.length} final state${r.states.length === 1 ? "" : "s"} from ${r.executions} execution${r.executions === 1 ? "" : "s"} (${r.blocked} inconsistent)${stopText(r)}`,
  );
  const c = r.condition;
  for (const st of r.states) {
    if (!o.outcomes && !(c !== undefined && st.satisfies === (c.final.quantifier !== "forall"))) continue;
    const mark =
      st.satisfies === undefined
        ? ""
        : st.satisfies
          ? "  [satisfies the condition]"
          : c?.final.quantifier === "forall"
            ? "  [does not satisfy the condition]"
            : "";
    lines.push(`  ${st.key || "(no registers, memory or faults observed)"}  ×${st.count}${mark}`);
  }
  if (c !== undefined) {
    const obs = observedOf(r);
    const verdict =
      c.verdict === "as-claimed"
        ? `as the file claims (${c.claim})`
        : c.verdict === "contradicted"
          ? `the file claims ${c.claim}: CONTRADICTED`
          : `the file claims ${c.claim}: inconclusive (the search stopped before every execution ran)`;
    lines.push(`  condition ${c.final.text}: ${obs} — ${c.witnesses} of ${r.states.length} final states satisfy it; ${verdict}`);
  }
  for (const f of r.findings) {
    const v = f.violation;
    lines.push(
      `  flag: rule ${v.ruleNumber} ${v.rule} (${v.detail}) at step ${v.step} on P${v.cpu}, in ${f.count} of ${r.tracesChecked} distinct executions: ${v.message}`,
    );
  }
  if (r.tracesTruncated) lines.push(`  (rules checked on the first ${r.tracesChecked} distinct executions only)`);
  return `${lines.join("\n")}\n`;
}

/** `vmsa check --format json`'s object for a litmus run (values hex strings). */
export interface LitmusJson {
  readonly name: string;
  readonly file: string;
  readonly model: "litmus";
  readonly executions: number;
  readonly inconsistent: number;
  readonly complete: boolean;
  readonly stopped?: string;
  readonly limit?: number;
  readonly states: readonly {
    readonly registers: Readonly<Record<string, string>>;
    readonly memory: Readonly<Record<string, string>>;
    readonly faults: readonly {
      readonly cpu: number;
      readonly label: string | null;
      readonly step: number;
      readonly va: string;
      readonly kind: string;
      readonly stage: 1 | 2;
      readonly text: string;
    }[];
    readonly count: number;
    readonly satisfies?: boolean;
  }[];
  readonly findings: readonly {
    readonly rule: string;
    readonly detail: string;
    readonly step: number;
    readonly cpu: number;
    readonly message: string;
    readonly executions: number;
  }[];
  readonly tracesChecked: number;
  readonly condition?: {
    readonly text: string;
    readonly quantifier: string;
    readonly claim: string;
    readonly observed: string | undefined;
    readonly witnesses: number;
    readonly verdict: string;
  };
}

export function litmusToJson(r: LitmusResult): LitmusJson {
  const c = r.condition;
  return {
    name: r.scenario.name,
    file: r.scenario.file,
    model: "litmus" as const,
    executions: r.executions,
    inconsistent: r.blocked,
    complete: r.stopped === undefined,
    ...(r.stopped !== undefined ? { stopped: r.stopped, limit: r.limit } : {}),
    states: r.states.map((st) => ({
      registers: Object.fromEntries(r.registers.map((x) => [`P${x.cpu}:X${x.reg}`, hex(st.state.regs[x.cpu]?.[x.reg] ?? 0n)])),
      memory: Object.fromEntries([...st.state.mem.entries()].sort((a, b) => a[0] - b[0]).map(([pa, v]) => [hex(pa), hex(v)])),
      faults: st.state.faults.map((f) => ({
        cpu: f.cpu,
        label: f.label ?? null,
        step: f.step,
        va: hex(f.va),
        kind: f.kind,
        stage: f.stage,
        text: faultText(f),
      })),
      count: st.count,
      ...(st.satisfies !== undefined ? { satisfies: st.satisfies } : {}),
    })),
    findings: r.findings.map((f) => ({
      rule: f.violation.rule,
      detail: f.violation.detail,
      step: f.violation.step,
      cpu: f.violation.cpu,
      message: f.violation.message,
      executions: f.count,
    })),
    tracesChecked: r.tracesChecked,
    ...(c !== undefined
      ? {
          condition: {
            text: c.final.text,
            quantifier: c.final.quantifier,
            claim: c.claim,
            observed: observedOf(r),
            witnesses: c.witnesses,
            verdict: c.verdict,
          },
        }
      : {}),
  };
}

/**
 * Exit status of one litmus run: with a final condition 1 when the claim is contradicted, 3
 * inconclusive; without one, 1 when an execution breaks a rule, 3 when the search stopped early.
 */
export function litmusStatus(r: LitmusResult): 0 | 1 | 3 {
  const c = r.condition;
  // With a final condition the claim decides (rule findings are flags beside it, as in herd7).
  if (c !== undefined) return c.verdict === "contradicted" ? 1 : c.verdict === "inconclusive" ? 3 : 0;
  if (r.findings.length > 0) return 1;
  // Executions not run, or not replayed on the rule checker, may break rules: never clean.
  return r.stopped !== undefined || r.tracesTruncated ? 3 : 0;
}
