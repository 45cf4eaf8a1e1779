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

/** The vmsa median divided by the pair's second C workload (WorkloadPair.also), or why there is no ratio. */
export type AlsoResult =
  | { kind: "compared"; c: string; note: string; spread: Spread; ratio: number }
  | { kind: "missing"; c: string; note: string };

export type PairResult =
  | { kind: "compared"; pair: WorkloadPair; vmsa: Spread; c: Spread; ratio: number; also?: AlsoResult }
  | { kind: "missing"; pair: WorkloadPair; missing: ("vmsa" | "c")[] };

/**
 * ratio = vmsa median ops/s / C median ops/s (above 1: vmsa is faster). A side with no sample
 * makes the pair "missing" — never a ratio made up from one side. With `pair.also`, `alsoSamples`
 * (that C workload's samples) give a second ratio, or an `also` marked missing.
 */
export function comparePair(
  pair: WorkloadPair,
  vmsaSamples: readonly number[],
  cSamples: readonly number[],
  alsoSamples: readonly number[] = [],
): PairResult {
  const v = spread(vmsaSamples);
  const c = spread(cSamples);
  if (v === undefined || c === undefined || c.median <= 0) {
    const missing: ("vmsa" | "c")[] = [];
    if (v === undefined) missing.push("vmsa");
    if (c === undefined || c.median <= 0) missing.push("c");
    return { kind: "missing", pair, missing };
  }
  const result = { kind: "compared" as const, pair, vmsa: v, c, ratio: v.median / c.median };
  if (pair.also === undefined) return result;
  const { c: alsoC, note } = pair.also;
  const a = spread(alsoSamples);
  const also: AlsoResult =
    a === undefined || a.median <= 0
      ? { kind: "missing", c: alsoC, note }
      : { kind: "compared", c: alsoC, note, spread: a, ratio: v.median / a.median };
  return { ...result, also };
}
