/** Summary of one workload's per-round throughputs (ops/s) and the vmsa/C ratio of medians. */
import type { WorkloadPair } from "./pairs.js";

export interface Spread {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

/** Median of the samples (mean of the middle two for an even count); undefined when there are none. */
export function median(samples: readonly number[]): number | undefined {
  if (samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const hi = s[mid] as number;
  return s.length % 2 === 1 ? hi : ((s[mid - 1] as number) + hi) / 2;
}

export function spread(samples: readonly number[]): Spread | undefined {
  const m = median(samples);
  if (m === undefined) return undefined;
  return { median: m, min: Math.min(...samples), max: Math.max(...samples), rounds: samples.length };
}

export type PairResult =
  | { kind: "compared"; pair: WorkloadPair; vmsa: Spread; c: Spread; ratio: number }
  | { kind: "missing"; pair: WorkloadPair; missing: ("vmsa" | "c")[] };

/**
 * ratio = vmsa median ops/s / C median ops/s (above 1: vmsa is faster). A side with no sample
 * makes the pair "missing" — never a ratio made up from one side.
 */
export function comparePair(pair: WorkloadPair, vmsaSamples: readonly number[], cSamples: readonly number[]): PairResult {
  const v = spread(vmsaSamples);
  const c = spread(cSamples);
  if (v === undefined || c === undefined || c.median <= 0) {
    const missing: ("vmsa" | "c")[] = [];
    if (v === undefined) missing.push("vmsa");
    if (c === undefined || c.median <= 0) missing.push("c");
    return { kind: "missing", pair, missing };
  }
  return { kind: "compared", pair, vmsa: v, c, ratio: v.median / c.median };
}
