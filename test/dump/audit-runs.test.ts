/**
 * The audit judges runs of leaves (range walk `runs`) as it judges their leaves one by one: the
 * report (text and JSON: every finding, its range, PA, descriptor and message, every count) is
 * the per-entry audit's, on random tables with mixed attributes, W+X and EL0-accessible runs,
 * RES0 bits (Arm ARM D8.3), output addresses above the PA size, protected ranges cut by runs,
 * attribute aliases, contiguous groups well formed, misaligned, cut short or with one member
 * changed (Arm ARM D8.6.1), holes, blocks, permission indirection, frames stored out of physical order and frames read from a source.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { audit, auditToJson, formatAudit } from "../../src/dump/audit.js";
import { propertyRuns } from "../helpers/property.js";
import { buildLeafTables, leafTablesSpec, pooledCopy, reversedCopy } from "../helpers/random-leaf-tables.js";

const json = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x));

describe("audit by leaf runs", () => {
  it("reports exactly what the leaf-by-leaf audit reports, on random tables", () => {
    let findings = 0;
    fc.assert(
      fc.property(leafTablesSpec, (spec) => {
        const { t, regs, protectedRanges, userHalf } = buildLeafTables(spec);
        const opts = { protectedRanges, userHalf };
        const ref = audit(t.mem, regs, { ...opts, perEntry: true });
        const fast = audit(t.mem, regs, opts);
        expect(formatAudit(fast)).toBe(formatAudit(ref));
        expect(json(auditToJson(fast))).toBe(json(auditToJson(ref)));
        expect(json(fast)).toBe(json(ref));
        expect(json(audit(pooledCopy(t.mem, 3), regs, opts))).toBe(json(ref));
        expect(json(audit(reversedCopy(t.mem), regs, opts))).toBe(json(ref));
        findings += ref.findings.length;
      }),
      { numRuns: propertyRuns(80) },
    );
    expect(findings).toBeGreaterThan(0); // the tables do trip the rules
  });
});
