/** Text and JSON reports of a `findTables` result. */
import { formatSize } from "../../arch/granule.js";
import { hex } from "../../arch/u64.js";
import type { Candidate, FindResult } from "./scan.js";

/** The flags the walking commands (dump, translate, audit) take to use a candidate. */
export function candidateFlags(c: Candidate): string {
  return `--ttbr1 ${hex(c.ttbr1)} --tcr ${hex(c.tcr)}`;
}

function size(n: number): string {
  if (n === 0) return "0";
  // Round to whole KiB for the report: counts are multiples of 4K anyway.
  return formatSize(n >= 1024 ? Math.round(n / 1024) * 1024 : n);
}

function describe(c: Candidate, rank: number): string {
  const e = c.evidence;
  const lines = [
    `#${rank} ${c.strong ? "strong" : "weak"}: root ${hex(c.rootPa)}, ${c.granule} granule, ${c.vaBits}-bit VA (T1SZ=${c.t1sz}, start level ${c.startLevel}${c.ds ? ", DS=1" : ""}), like preset ${c.preset}; score ${c.score}`,
    `    ${candidateFlags(c)}`,
    `    ${e.tables} tables (${e.emptyTables} empty), ${e.leaves} leaves mapping ${size(e.mappedBytes)}; linear map ${size(e.linearMap.size)} at ${hex(e.linearMap.va)} -> PA ${hex(e.linearMap.pa)}`,
    `    kernel text ${size(e.kernelTextBytes)} (EL1 RX), read-only ${size(e.readOnlyBytes)}, read-write NX ${size(e.readWriteBytes)}, W+X ${size(e.wxBytes)}, EL0-accessible ${size(e.userBytes)}`,
    `    format errors ${e.formatErrors}, tables outside RAM ${e.tablesOutsideRam}, leaves outside RAM ${e.leavesOutsideRam}, odd leaf attributes ${e.oddLeaves}, invalid non-zero entries ${e.invalidNonZero}, aliased tables ${e.aliases}`,
  ];
  if (!c.strong) lines.push(`    weak because: ${c.missing.join("; ")}`);
  return lines.join("\n");
}

export function scanLine(r: FindResult, seconds: number): string {
  return `scanned ${r.framesScanned} non-zero 4K frames (${size(r.dataBytes)}) as roots of ${r.formats.length} Linux table formats in ${seconds.toFixed(2)} s: ${r.rootsTried} roots tried, ${r.rootsPassed} passed the entry check, ${r.nodesRead} tables read`;
}

/** The verdict line: what was found, or why it is inconclusive. */
export function verdict(r: FindResult): { found: boolean; message: string } {
  const strong = r.candidates.filter((c) => c.strong);
  if (strong.length > 0) {
    const best = strong[0] as Candidate;
    return {
      found: true,
      message: `found: the kernel's TTBR1 root is most likely at ${hex(best.rootPa)} (${best.granule}, ${best.vaBits}-bit VA); use ${candidateFlags(best)}`,
    };
  }
  if (r.candidates.length === 0) {
    return {
      found: false,
      message: `inconclusive: no page looks like a TTBR1 root of any of the ${r.formats.length} Linux formats tried (${r.formats.join(", ")}); the root may not be in this dump, or the kernel uses another layout`,
    };
  }
  return {
    found: false,
    message: `inconclusive: ${r.candidates.length} page(s) could be a root, none with strong evidence (a linear map, kernel text and no format errors); the weak ones are listed, not a conclusion`,
  };
}

export function formatFindResult(r: FindResult, top: number, seconds: number): string {
  const out = [scanLine(r, seconds)];
  r.candidates.slice(0, top).forEach((c, i) => {
    out.push(describe(c, i + 1));
  });
  if (r.candidates.length > top) out.push(`(${r.candidates.length - top} more candidates not shown; --top N shows more)`);
  out.push(verdict(r).message);
  return `${out.join("\n")}\n`;
}

export function findResultToJson(r: FindResult, top: number, seconds: number): object {
  const v = verdict(r);
  return {
    verdict: v.found ? "found" : "inconclusive",
    message: v.message,
    scan: {
      framesScanned: r.framesScanned,
      dataBytes: r.dataBytes,
      formats: r.formats,
      rootsTried: r.rootsTried,
      rootsPassed: r.rootsPassed,
      tablesRead: r.nodesRead,
      seconds: Number(seconds.toFixed(3)),
    },
    candidates: r.candidates.slice(0, top).map((c, i) => ({
      rank: i + 1,
      strength: c.strong ? "strong" : "weak",
      rootPa: c.rootPa,
      granule: c.granule,
      vaBits: c.vaBits,
      t1sz: c.t1sz,
      ds: c.ds,
      startLevel: c.startLevel,
      preset: c.preset,
      ttbr1: c.ttbr1,
      tcr: c.tcr,
      flags: candidateFlags(c),
      score: c.score,
      weakBecause: c.missing,
      evidence: c.evidence,
    })),
  };
}
