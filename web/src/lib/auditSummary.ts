/**
 * The audit panel's headline, counted as `vmsa audit` counts (src/cli/audit.ts): a finding is an
 * error-severity finding other than a missing table (exit 1), a warning passes, and a table the
 * walk reaches that the input lacks makes the audit inconclusive (exit 3), never "0 findings".
 */
import type { AuditReport } from "../../../src/dump/audit.js";

export type AuditVerdict = "findings" | "inconclusive" | "clean";

export interface AuditCounts {
  readonly findings: number;
  readonly warnings: number;
  /** Reachable tables missing from the input (distinct table PAs, as the W+X verdict counts them). */
  readonly missingTables: number;
  /** The CLI's exit status: findings 1, inconclusive 3, clean 0. */
  readonly verdict: AuditVerdict;
}

export function auditCounts(r: AuditReport): AuditCounts {
  let findings = 0;
  let warnings = 0;
  let missingRuns = 0;
  for (const f of r.findings) {
    if (f.kind === "missing-table") missingRuns++;
    else if (f.severity === "warning") warnings++;
    else findings++;
  }
  const missingTables = Math.max(r.wx.missingTables, r.missing.length > 0 || missingRuns > 0 ? 1 : 0);
  const verdict: AuditVerdict = findings > 0 ? "findings" : missingTables > 0 ? "inconclusive" : "clean";
  return { findings, warnings, missingTables, verdict };
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? "" : "s"}`;

/** "0 findings, 3 warnings", with the missing tables first when there are any. */
export function auditHeadline(c: AuditCounts): string {
  const counts = `${plural(c.findings, "finding")}, ${plural(c.warnings, "warning")}`;
  if (c.missingTables === 0) return counts;
  const tables = `${plural(c.missingTables, "reachable table")} not in the input`;
  return c.verdict === "inconclusive" ? `INCONCLUSIVE: ${tables}; ${counts} in the tables read` : `${counts}; ${tables}`;
}
