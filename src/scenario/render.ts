/**
 * Renderers for scenario results: readable text (violations with traces, optional outcome
 * sets) and JSON (bigints as hex strings).
 */
import type { Outcome, Violation } from "../machine/types.js";
import type { ExploreResult, ExploreStopReason } from "./explore.js";
import type { Scenario } from "./format.js";
import type { ScenarioResult } from "./run.js";

function hx(v: bigint): string {
  return `0x${v.toString(16)}`;
}

export function formatOutcome(o: Outcome): string {
  const src = o.source === "memory" ? "" : ` [${o.source}${o.fromStep ? `, from step ${o.fromStep}` : ""}]`;
  if (o.kind === "ok") return `pa=${hx(o.pa ?? 0n)} (level ${o.level}, attr ${hx(BigInt(o.attr ?? 0))})${src}`;
  if (o.kind === "fault") return `fault:${o.fault} (level ${o.level})${src}`;
  return `tlb-conflict${src}`;
}

function stepLabel(r: { scenario: Scenario }, step: number): string {
  if (step === 0) return "initial memory";
  const spec = r.scenario.steps[step - 1];
  return spec ? `step ${step} (line ${spec.line}) ${spec.text}` : `step ${step}`;
}

function formatViolation(r: { scenario: Scenario }, v: Violation): string {
  const where: string[] = [`CPU ${v.cpu}`];
  if (v.va !== undefined) where.push(`VA ${hx(v.va)}`);
  if (v.pa !== undefined) where.push(`PA ${hx(v.pa)}`);
  if (v.descAddr !== undefined) where.push(`descriptor ${hx(v.descAddr)}`);
  const lines = [
    `  rule ${v.ruleNumber} ${v.rule} (${v.detail}) at ${stepLabel(r, v.step)}`,
    `    ${where.join(", ")}`,
    `    ${v.message}`,
  ];
  if (v.fix) lines.push(`    fix: ${v.fix}`);
  if (v.trace.length > 0) {
    lines.push("    trace:");
    for (const t of v.trace) lines.push(`      ${stepLabel(r, t.step)} — ${t.role}`);
  }
  lines.push(`    source: ${v.citation}`);
  return lines.join("\n");
}

export interface RenderOptions {
  readonly outcomes?: boolean;
}

/** Text report for one scenario. */
export function renderText(r: ScenarioResult, opts: RenderOptions = {}): string {
  const n = r.reports.length;
  const out = [`${r.scenario.file}: ${r.scenario.name}: ${n === 0 ? "clean" : `${n} violation${n === 1 ? "" : "s"}`}`];
  for (const v of r.reports) out.push(formatViolation(r, v));
  if (opts.outcomes) {
    for (const a of r.accesses) {
      out.push(`  outcomes of step ${a.step} (line ${a.line}) ${a.text}:`);
      const seen = new Set<string>();
      for (const o of a.outcomes) {
        const t = formatOutcome(o);
        if (seen.has(t)) continue;
        seen.add(t);
        out.push(`    ${t}`);
      }
      if (a.par !== undefined) out.push(`    PAR_EL1 = ${hx(a.par)}`);
    }
  }
  if (r.hasExpectations) {
    if (r.expectationFailures.length === 0) out.push("  expectations: met");
    else for (const f of r.expectationFailures) out.push(`  expectation failed: ${f}`);
  }
  return `${out.join("\n")}\n`;
}

function jsonable(v: unknown): unknown {
  if (typeof v === "bigint") return hx(v);
  if (Array.isArray(v)) return v.map(jsonable);
  if (v !== null && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = jsonable(x);
    return o;
  }
  return v;
}

/** JSON-ready object for one scenario (addresses as hex strings). */
export function resultToJson(r: ScenarioResult, opts: RenderOptions = {}): unknown {
  return jsonable({
    file: r.scenario.file,
    name: r.scenario.name,
    verdict: r.reports.length === 0 ? "clean" : "violations",
    violations: r.reports,
    ...(opts.outcomes ? { accesses: r.accesses } : {}),
    ...(r.hasExpectations ? { expectations: { met: r.expectationFailures.length === 0, failures: r.expectationFailures } } : {}),
  });
}

/** Why an exploration stopped early, in words. */
function stopText(e: ExploreResult, reason: ExploreStopReason): string {
  return reason === "interleaving-limit"
    ? `stopped at the interleaving limit of ${e.limit}`
    : `stopped when the time budget of ${formatBudget(e.budgetMs ?? 0)} ran out`;
}

function formatBudget(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Text report for an --explore run: clean, violations (possibly from an incomplete run) or inconclusive. */
export function renderExploreText(e: ExploreResult): string {
  const stopped = e.verdict === "inconclusive" || (e.verdict === "violations" && e.incomplete !== undefined);
  const plural = (n: bigint | number): string => (BigInt(n) === 1n ? "" : "s");
  // With partial-order reduction a complete run covers every interleaving through one of each class.
  const count =
    !stopped && e.reduced
      ? `explored ${e.explored} interleaving${plural(e.explored)} covering all ${e.total} (partial-order reduction)`
      : `explored ${e.explored}${stopped ? ` of ${e.total}` : ""} interleaving${plural(e.total)}`;
  let verdict: string;
  switch (e.verdict) {
    case "clean":
      verdict = "clean";
      break;
    case "inconclusive":
      verdict = `inconclusive (${stopText(e, e.reason)}; the interleavings not run may break rules)`;
      break;
    case "violations": {
      const n = e.findings.length;
      verdict = `${n} distinct violation${n === 1 ? "" : "s"}`;
      if (e.incomplete !== undefined)
        verdict += ` (exploration incomplete: ${stopText(e, e.incomplete)}; the interleavings not run may break more)`;
      break;
    }
  }
  const out = [`${e.scenario.file}: ${e.scenario.name}: ${count}: ${verdict}`];
  if (e.verdict === "violations") {
    for (const f of e.findings) {
      out.push(formatViolation(e, f.violation));
      out.push(`    seen in ${f.count} of ${e.explored} interleavings; first: steps ${f.order.join(" ")}`);
    }
  }
  return `${out.join("\n")}\n`;
}

/**
 * JSON-ready object for an --explore run. `complete` is false when a bound stopped the search
 * (`reason` says which bound); counts are decimal numbers, `total` a decimal string when it exceeds 2^53.
 */
export function exploreToJson(e: ExploreResult): unknown {
  const reason = e.verdict === "inconclusive" ? e.reason : e.verdict === "violations" ? e.incomplete : undefined;
  return {
    file: e.scenario.file,
    name: e.scenario.name,
    verdict: e.verdict,
    complete: reason === undefined,
    ...(reason !== undefined ? { reason } : {}),
    explored: e.explored,
    reduced: e.reduced,
    total: e.total <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(e.total) : e.total.toString(),
    limit: e.limit,
    ...(e.budgetMs !== undefined ? { budgetMs: e.budgetMs } : {}),
    findings: e.verdict === "violations" ? jsonable(e.findings) : [],
  };
}
