/**
 * The checker view's words for reads-from and verdicts (main thread: type imports only, so the
 * page bundle stays free of the model, which runs in the worker).
 */
import type { ReadRecord } from "../../../src/machine/litmus/record.js";
import type { CheckerOutcomes, CheckerStep } from "./checker.js";

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** Where a read's value came from, in words: "P0 step 2 (str X1, $Y)", "initial memory", "P1's walk (hardware AF update)". */
export function sourceText(r: ReadRecord, steps: readonly CheckerStep[]): string {
  const f = r.from;
  if (f.kind === "initial") return "initial memory";
  if (f.kind === "hardware") return `P${f.cpu}'s walk (hardware Access flag / dirty update)`;
  const st = steps[f.step - 1];
  return `P${f.cpu} step ${f.step}${st ? ` (${st.text})` : ""}`;
}

/** One read: "reads 0x1 from P0 step 2 (str X1, $Y)" or "walk L3 [pa:0x83000] = 0x…  from initial memory". */
export function readText(r: ReadRecord, steps: readonly CheckerStep[]): string {
  const what =
    r.kind === "data"
      ? `reads ${hex(r.value)} [pa:${hex(r.pa)}]`
      : `${r.stage === 2 ? "stage-2 " : ""}walk L${r.level} [pa:${hex(r.pa)}] = ${hex(r.value)}`;
  return `${what} from ${sourceText(r, steps)}`;
}

/** The herd-style verdict line: "forbidden — as the file claims (forbidden)", or why there is none. */
export function verdictText(o: CheckerOutcomes): string {
  const c = o.json.condition;
  if (!c) {
    const flags = o.json.findings.length;
    if (flags > 0) return `${flags} rule finding${flags === 1 ? "" : "s"} in the executions`;
    return o.status === 3 ? "inconclusive: the search stopped before every execution ran" : "no final condition; no rule broken";
  }
  const v =
    c.verdict === "as-claimed"
      ? `as the file claims (${c.claim})`
      : c.verdict === "contradicted"
        ? `the file claims ${c.claim}: CONTRADICTED`
        : `the file claims ${c.claim}: inconclusive (the search stopped before every execution ran)`;
  return `${c.observed} — ${v}`;
}

/** A failure as `vmsa check` prints it: one `vmsa: error: …` line (the worker sends only the message, never a stack). */
export function errorLine(message: string): string {
  return `vmsa: error: ${message.replace(/\s*\n\s*/g, " ").replace(/^vmsa: error: /, "")}`;
}
