/**
 * Reads bench output: one JSON object per line with a string `workload` and a finite positive
 * number `ops_per_s` (vmsa's `npm run bench` and the C yardstick print the same shape; the C
 * one adds med_s/min_s/max_s). Other lines (warnings, blank) are skipped.
 */
export interface Sample {
  workload: string;
  opsPerS: number;
}

export function parseBenchLine(line: string): Sample | undefined {
  const t = line.trim();
  if (!t.startsWith("{")) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const rec = v as Record<string, unknown>;
  const w = rec.workload;
  const ops = rec.ops_per_s;
  if (typeof w !== "string" || typeof ops !== "number" || !Number.isFinite(ops) || ops <= 0) return undefined;
  return { workload: w, opsPerS: ops };
}

export function parseBenchOutput(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const s = parseBenchLine(line);
    if (s) out.push(s);
  }
  return out;
}

/** Appends each sample's ops/s to its workload's list (one entry per round). */
export function collect(into: Map<string, number[]>, samples: readonly Sample[]): void {
  for (const s of samples) {
    const list = into.get(s.workload);
    if (list) list.push(s.opsPerS);
    else into.set(s.workload, [s.opsPerS]);
  }
}
