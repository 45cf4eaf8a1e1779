/**
 * A Casemate trace replay as text or JSON, and its verdict: violations (exit 1), inconclusive
 * (records whose effect was not replayed, no violation: exit 3) or clean for the architecture
 * rules (exit 0). Casemate's locking / ownership discipline is never judged: the output says so
 * whenever the trace holds such records.
 */
import { hex } from "../arch/u64.js";
import type { CasemateRecord } from "./casemate-parse.js";
import type { CasemateFinding, CasemateReplayResult } from "./casemate-replay.js";

export type CasemateVerdict = "violations" | "inconclusive" | "clean";

export function casemateVerdict(r: CasemateReplayResult): CasemateVerdict {
  if (r.findings.length > 0) return "violations";
  return r.unreplayed.length > 0 ? "inconclusive" : "clean";
}

export function casemateStatus(r: CasemateReplayResult): number {
  const v = casemateVerdict(r);
  return v === "violations" ? 1 : v === "inconclusive" ? 3 : 0;
}

function where(file: string, rec: CasemateRecord): string {
  return `id ${rec.id} (${file}:${rec.line}${rec.src !== undefined ? `, src ${rec.src}` : ""}, thread ${rec.tid})`;
}

/** How many records of each discipline kind the trace holds. */
function disciplineCounts(r: CasemateReplayResult): { locks: number; hints: number; other: number } {
  let locks = 0;
  let hints = 0;
  let other = 0;
  for (const x of r.notJudged) {
    if (x.kind === "lock" || x.kind === "unlock") locks++;
    else if (x.kind === "hint") hints++;
    else other++;
  }
  return { locks, hints, other };
}

function findingLines(file: string, f: CasemateFinding): string[] {
  const v = f.violation;
  const out = [`  violation [${v.rule}] ${v.detail} in ${f.lane} at ${where(file, f.record)}: ${v.message}`];
  out.push(`    rule: ${v.title}; ${v.citation}`);
  for (const t of f.trace) out.push(`    ${where(file, t.record)}: ${t.role}`);
  if (v.fix !== undefined) out.push(`    fix: ${v.fix}`);
  return out;
}

export function renderCasemateText(r: CasemateReplayResult): string {
  const file = r.trace.file;
  const verdict = casemateVerdict(r);
  const out = [
    `${file}: Casemate trace, ${r.trace.records.length} records, ${r.threads} thread${r.threads === 1 ? "" : "s"}; replayed on ${
      r.lanes.length === 0 ? "no translation regime (no VTTBR_EL2 / TTBR0_EL2 write)" : r.lanes.join(", ")
    }`,
  ];
  for (const f of r.findings) out.push(...findingLines(file, f));
  for (const u of r.unreplayed) out.push(`  not replayed: ${where(file, u.record)}: ${u.why}`);
  const d = disciplineCounts(r);
  if (d.locks + d.hints > 0) {
    out.push(
      `  not judged: Casemate's locking and ownership discipline (${d.locks} lock/unlock, ${d.hints} hint records kept in the replay log): vmsa does not model locks, so a verdict that depends on them (unlocked or unauthorised writes, races, owner roots) is not given here`,
    );
  }
  for (const c of r.trace.casemateVerdicts) out.push(`  Casemate's verdict in the file (line ${c.line}): ${c.text}`);
  const n = r.findings.length;
  out.push(
    verdict === "violations"
      ? `  verdict: ${n} violation${n === 1 ? "" : "s"}`
      : verdict === "inconclusive"
        ? `  verdict: inconclusive: no violation in what was replayed, but ${r.unreplayed.length} record${r.unreplayed.length === 1 ? " was" : "s were"} not`
        : "  verdict: clean for the architecture rules (break-before-make, TLB maintenance, barriers, freed tables)",
  );
  return `${out.join("\n")}\n`;
}

function recordJson(file: string, rec: CasemateRecord): Record<string, unknown> {
  return { id: rec.id, tid: rec.tid, line: rec.line, file, ...(rec.src !== undefined ? { src: rec.src } : {}), kind: rec.kind };
}

export function casemateToJson(r: CasemateReplayResult): Record<string, unknown> {
  const file = r.trace.file;
  const d = disciplineCounts(r);
  return {
    file,
    format: "casemate",
    verdict: casemateVerdict(r),
    records: r.trace.records.length,
    threads: r.threads,
    lanes: r.lanes,
    findings: r.findings.map((f) => ({
      lane: f.lane,
      rule: f.violation.rule,
      detail: f.violation.detail,
      title: f.violation.title,
      citation: f.violation.citation,
      message: f.violation.message,
      ...(f.violation.pa !== undefined ? { pa: hex(f.violation.pa) } : {}),
      ...(f.violation.va !== undefined ? { va: hex(f.violation.va) } : {}),
      record: recordJson(file, f.record),
      trace: f.trace.map((t) => ({ role: t.role, record: recordJson(file, t.record) })),
    })),
    unreplayed: r.unreplayed.map((u) => ({ why: u.why, record: recordJson(file, u.record) })),
    notJudged: { lockRecords: d.locks, hintRecords: d.hints, otherRecords: d.other, judged: false },
    casemateVerdicts: r.trace.casemateVerdicts,
  };
}
