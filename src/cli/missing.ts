/**
 * Missing data and exit statuses shared by the commands that read real dumps: a table the walk
 * reaches that memory does not back is data missing from the input ("I could not see" is never
 * "nothing there"), reported on stderr and ending in the inconclusive status.
 */
import { hex64 } from "../arch/u64.js";

/** Exit statuses of every vmsa command. */
export const EXIT_CLEAN = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_INCONCLUSIVE = 3;

/** The exit-status paragraph of a command's --help; `one` says what status 1 means for it. */
export function exitStatusHelp(one: string): string {
  return `Exit status:
  0  clean
  1  ${one}
  2  bad input (one "vmsa: error: …" line)
  3  inconclusive: data missing from the input (a table the walk reaches is not in memory) or a
     limit reached; 1 wins when something was found beside the missing data`;
}

/** A VA range whose table is not in the input. */
export interface MissingTableRange {
  readonly va: bigint;
  readonly size: bigint;
  readonly level: number;
  readonly table: bigint;
}

/** Distinct missing tables (PA and level), in the order first met. */
export function distinctMissing(list: readonly MissingTableRange[]): MissingTableRange[] {
  const seen = new Set<string>();
  const out: MissingTableRange[] = [];
  for (const m of list) {
    const k = `${m.table}:${m.level}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(m);
  }
  return out;
}

/**
 * One stderr warning naming how many tables are missing and the first few (PA, level and the VA
 * where the walk needed it); nothing when none is.
 */
export function warnMissing(list: readonly MissingTableRange[], what: string, space: "VA" | "IPA" = "VA"): void {
  const d = distinctMissing(list);
  if (d.length === 0) return;
  const shown = d
    .slice(0, 3)
    .map((m) => `PA 0x${m.table.toString(16)} (level ${m.level}, for ${space} ${hex64(m.va)})`)
    .join(", ");
  const more = d.length > 3 ? `, and ${d.length - 3} more` : "";
  process.stderr.write(
    `vmsa: warning: ${d.length} table${d.length === 1 ? "" : "s"} reached by the walk ${d.length === 1 ? "is" : "are"} not in the input: ${shown}${more}; ${what}\n`,
  );
}
