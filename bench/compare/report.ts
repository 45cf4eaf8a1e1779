/** Text and JSON renderings of a comparison. */
import type { PairResult } from "./stats.js";

function ops(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

export function reportText(results: readonly PairResult[], rounds: number): string {
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
  }
  return `${lines.join("\n")}\n`;
}

export function reportJson(results: readonly PairResult[], rounds: number): string {
  return `${JSON.stringify({ rounds, pairs: results })}\n`;
}
