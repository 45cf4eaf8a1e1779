/** The audit panel's headline counts as `vmsa audit` does (src/cli/audit.ts exit statuses). */
import { describe, expect, it } from "vitest";
import { type AuditReport, audit, type Finding, type FindingKind, formatAudit } from "../../src/dump/audit.js";
import { auditCounts, auditHeadline } from "../../web/src/lib/auditSummary.js";
import { buildExample } from "../../web/src/lib/demo.js";

function finding(kind: FindingKind, severity: "error" | "warning"): Finding {
  return { kind, severity, va: 0xffff_0000_0000_0000n, size: 0x1000n, pa: undefined, level: 3, descriptor: 0n, message: kind, rule: kind };
}

function report(findings: Finding[], missingTables: number): AuditReport {
  const missing = Array.from({ length: missingTables }, (_, i) => ({
    va: 0xffff_0000_0000_0000n + BigInt(i) * 0x20_0000n,
    size: 0x20_0000n,
    level: 3,
    table: 0x5000_0000n + BigInt(i) * 0x1000n,
  }));
  return {
    wx: {
      wxPages: 0n,
      nonUxnPages: 0n,
      passed: missingTables === 0,
      missingTables,
      summary: "Checked W+X mappings: passed, no W+X pages found",
    },
    findings,
    leaves: [0, 1],
    missing,
  };
}

describe("audit panel headline", () => {
  it("counts warnings (Normal-memory attribute aliases) apart from findings: 0 findings, 3 warnings", () => {
    // An alias of two Normal cacheabilities is allowed with cache maintenance (Arm ARM B2.16): a warning.
    const r = report([finding("attr-alias", "warning"), finding("attr-alias", "warning"), finding("attr-alias", "warning")], 0);
    const c = auditCounts(r);
    expect(c).toEqual({ findings: 0, warnings: 3, missingTables: 0, verdict: "clean" });
    expect(auditHeadline(c)).toBe("0 findings, 3 warnings");
    // The CLI's own text reports the same counts.
    expect(formatAudit(r)).toContain("0 findings, 3 warnings");
  });

  it("never reports a clean 0 findings when a reachable table is missing: INCONCLUSIVE (exit 3)", () => {
    const r = report([finding("missing-table", "error"), finding("missing-table", "error")], 2);
    const c = auditCounts(r);
    expect(c.verdict).toBe("inconclusive");
    expect(c.findings).toBe(0);
    expect(auditHeadline(c)).toMatch(/^INCONCLUSIVE: 2 reachable tables not in the input/);
  });

  it("findings outrank missing tables (exit 1), and both are shown", () => {
    const r = report([finding("wx", "error"), finding("missing-table", "error")], 1);
    const c = auditCounts(r);
    expect(c).toEqual({ findings: 1, warnings: 0, missingTables: 1, verdict: "findings" });
    expect(auditHeadline(c)).toBe("1 finding, 0 warnings; 1 reachable table not in the input");
  });

  it("the built-in example audits clean", () => {
    const ex = buildExample("linux-4k-48");
    const c = auditCounts(audit(ex.mem, ex.regs, { userHalf: false }));
    expect(c.verdict).toBe("clean");
    expect(auditHeadline(c)).toBe("0 findings, 0 warnings");
  });
});
