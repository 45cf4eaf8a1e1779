/** Text and JSON renderings of a comparison. */
import type { GoalResult } from "./goals.js";
import type { PairResult } from "./stats.js";

function ops(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

function goalLine(g: GoalResult): string {
  if (g.kind === "missing") return `${g.row.name}: no result — no value`;
  const unit = g.row.kind === "ratio" ? "×" : g.row.kind === "seconds" ? " s" : " ms";
  const digits = g.row.kind === "ms" ? 1 : 2;
  const v = (x: number): string => `${x.toFixed(digits)}${unit}`;
  let line = `${g.row.name}: ${v(g.median)} [${v(g.min)}–${v(g.max)}]`;
  if (g.row.kind !== "ms") line += `  goal ≤ ${g.row.goal}${unit}: ${g.met ? "met" : "NOT met"}`;
  if (g.floor !== undefined) line += `  (node -e 0 alone: ${g.floor.toFixed(1)} ms)`;
  return line;
}

export function reportText(results: readonly PairResult[], rounds: number, goals: readonly GoalResult[] = []): string {
  const lines = [`vmsa vs C yardstick, ${rounds} interleaved rounds, ops/s median [min–max]; ratio = vmsa/C medians`];
  for (const r of results) {
    const name = `${r.pair.vmsa} ↔ ${r.pair.c}`;
    if (r.kind === "missing") {
      lines.push(`${name}: no result from ${r.missing.join(" and ")} — no ratio`);
      continue;
    }
    lines.push(
      `${name}: vmsa ${ops(r.vmsa.median)} [${ops(r.vmsa.min)}–${ops(r.vmsa.max)}]  C ${ops(r.c.median)} [${ops(r.c.min)}–${ops(r.c.max)}]  ratio ${r.ratio.toFixed(3)}`,
    );
    const a = r.also;
    if (a !== undefined) {
      lines.push(
        a.kind === "missing"
          ? `  also vs C ${a.c}: no result from C — no ratio (${a.note})`
          : `  also vs C ${a.c}: C ${ops(a.spread.median)} [${ops(a.spread.min)}–${ops(a.spread.max)}]  ratio ${a.ratio.toFixed(3)} (${a.note})`,
      );
    }
  }
  if (goals.length > 0) {
    lines.push(`vmsa alone, per-round values from the same vmsa run, median [min–max]:`);
    for (const g of goals) lines.push(goalLine(g));
  }
  return `${lines.join("\n")}\n`;
}

export function reportJson(results: readonly PairResult[], rounds: number, goals: readonly GoalResult[] = []): string {
  return `${JSON.stringify({ rounds, pairs: results, goals })}\n`;
}
