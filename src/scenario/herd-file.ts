/**
 * A herd7 `.litmus` file as `vmsa check` reads it: told by its name, its text made a scenario on
 * the litmus model (herd-import.ts), and its final condition taken as herd's question
 * (Allowed / Forbidden / Required), not as a claim. The CLI and the web checker share this.
 */
import { herdFileToScenarioText } from "./herd-import.js";
import type { LitmusResult } from "./litmus.js";
import { observedOf } from "./litmus-render.js";

export function isHerdFile(name: string): boolean {
  return /\.litmus$/i.test(name);
}

/** The scenario text of `text` read from the file `name`: a herd test converted, anything else as is. */
export function scenarioTextOf(text: string, name: string): string {
  return isHerdFile(name) ? herdFileToScenarioText(text, name) : text;
}

/**
 * A herd test's result: its condition is herd's question, so whatever the answer, the run is
 * "as claimed" (exit 0) unless the search stopped first (inconclusive, exit 3).
 */
export function asHerdQuestion(r: LitmusResult): LitmusResult {
  const c = r.condition;
  if (c === undefined || c.verdict === "inconclusive") return r;
  const answer = observedOf(r) ?? "";
  return { ...r, condition: { ...c, claim: answer as "allowed" | "forbidden" | "required", verdict: "as-claimed" } };
}
