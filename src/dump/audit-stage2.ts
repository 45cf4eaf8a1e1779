/**
 * Security audit of a hypervisor's stage-2 tables (one IPA space, `vmsa audit --stage 2`).
 *
 * Checks (each finding names the rule it encodes):
 * - s2-wx: a leaf the guest may both write and execute: S2AP[1] (bit 7) set, or DBM (bit 51) with
 *   VTCR_EL2.HD hardware dirty-state management, and XN[1:0] allowing execution at EL1 or EL0
 *   (ASL AArch64.S2DirectBasePermissions; XN[0] only with FEAT_XNX), or with VTCR_EL2.S2PIE what
 *   S2PIR_EL2 grants (the walk's own permission stage, walk/permissions.ts);
 *   counted in pages of the granule, as the kernel's W+X check counts stage-1 pages;
 * - s2-exec-device: a leaf of Device memory (MemAttr[3:2]=00, or MemAttr[2]=0 under HCR_EL2.FWB)
 *   that is executable: instruction fetches from Device memory are never what a hypervisor means
 *   (KVM maps device memory with XN, arch/arm64/kvm/hyp/pgtable.c stage2_set_prot_attr);
 * - s2-address-size: a leaf or table whose output address is at or above the output size
 *   (VTCR_EL2.PS and the implemented PA size): the walk takes a stage-2 Address size fault there;
 * - missing-table: a table the walk reaches that the input does not contain: the verdict is
 *   inconclusive (never "passed");
 * - shared-table (warning): table descriptors naming a table already audited at another IPA.
 */
import { formatSize } from "../arch/granule.js";
import { hex64, sumHi, sumLo } from "../arch/u64.js";
import type { PhysMem } from "../mem/physmem.js";
import type { WalkContext } from "../walk/context.js";
import { leafOutputAddress } from "../walk/fields.js";
import { leafPermissions, PERM_PW, PERM_PX, PERM_UW, PERM_UX } from "../walk/permissions.js";
import { type RawEntry, walkEntries } from "../walk/range.js";
import { stage2Geometry } from "../walk/stage2-range.js";
import { type Finding, findingDetailsJson } from "./audit.js";

export type Stage2FindingKind = "s2-wx" | "s2-exec-device" | "s2-address-size" | "missing-table" | "shared-table";

/** A finding of the stage-1 audit's shape (dump/audit.ts Finding), over IPAs. */
export type Stage2Finding = Omit<Finding, "kind" | "va"> & {
  readonly kind: Stage2FindingKind;
  /** First IPA of the affected range. */
  readonly ipa: bigint;
};

export interface Stage2MissingTable {
  readonly ipa: bigint;
  readonly size: bigint;
  readonly level: number;
  readonly table: bigint;
}

export interface Stage2AuditReport {
  readonly findings: readonly Stage2Finding[];
  /** W+X pages (granule-sized) at stage 2. */
  readonly wxPages: bigint;
  readonly leaves: number;
  readonly missing: readonly Stage2MissingTable[];
  readonly passed: boolean;
  readonly summary: string;
}

const RULES: Record<Stage2FindingKind, string> = {
  "s2-wx":
    "stage-2 permissions (ASL AArch64.S2DirectBasePermissions): S2AP[1] (or DBM with VTCR_EL2.HD) grants write, XN[1:0] != 0b10 grants execute (XN[0] with FEAT_XNX)",
  "s2-exec-device":
    "stage-2 MemAttr Device (ASL S2DecodeMemAttrs) with execute granted; KVM maps device memory non-executable (stage2_set_prot_attr)",
  "s2-address-size":
    "an output address at or above 2^PS (VTCR_EL2.PS, the implemented PA size) gives a stage-2 Address size fault (ASL AArch64.S2Walk)",
  "missing-table": "data missing from the input: the walk reaches a table whose memory is not in the dump",
  "shared-table": "Arm ARM D8.2: several table descriptors may name one table; its mappings repeat at each IPA",
};

/** Per leaf: bitmask of permission problems (1 W+X, 2 exec-Device); the output address is judged apart. */
const P_WX = 1;
const P_EXEC_DEVICE = 2;

/** perEntry: walk leaf by leaf, not by leaf runs (the same report; the reference the runs are tested against). */
export interface Stage2AuditOptions {
  readonly perEntry?: boolean;
}

export function auditStage2(mem: PhysMem, s2: WalkContext, opts: Stage2AuditOptions = {}): Stage2AuditReport {
  const g = stage2Geometry(s2);
  const findings: Stage2Finding[] = [];
  const missing: Stage2MissingTable[] = [];
  const missingTables = new Set<number>();
  let wxPages = 0n;
  let leaves = 0;
  const page = 2 ** g.gShift;
  // Open run of one finding kind (consecutive IPAs, same level, same problem).
  let run: { kind: Stage2FindingKind; ipa: number; end: number; pa: number | undefined; level: number; hi: number; lo: number } | undefined;
  const flush = (): void => {
    if (!run) return;
    findings.push(finding(run.kind, run.ipa, run.end, run.pa, run.level, run.hi, run.lo));
    run = undefined;
  };
  /** Entries [off, end) of one level with one problem: extend the open finding or start one (pa, hi, lo: its first entry's). */
  const extendRange = (
    kind: Stage2FindingKind,
    off: number,
    end: number,
    level: number,
    pa: number | undefined,
    hi: number,
    lo: number,
  ): void => {
    if (run && run.kind === kind && run.end === off && run.level === level) {
      run.end = end;
      return;
    }
    flush();
    run = { kind, ipa: off, end, pa, level, hi, lo };
  };
  const extend = (kind: Stage2FindingKind, e: RawEntry, pa: number | undefined): void =>
    extendRange(kind, e.off, e.off + e.size * e.count, e.level, pa, e.hi, e.lo);
  walkEntries(
    mem,
    g,
    0,
    2 ** g.iaBits,
    (e) => {
      switch (e.kind) {
        case "leaf": {
          // A run of e.count leaves (range walk `runs`): one set of permission and MemAttr bits,
          // output addresses pa + j·size. Those below the output size come first, then the rest.
          leaves += e.count;
          const pa = leafOutputAddress(g, e.hi, e.lo, e.level);
          const base = leafProblems(s2, e.hi, e.lo);
          if (base & P_WX) wxPages += BigInt((e.size / page) * e.count);
          const below = pa >= g.paLimit ? 0 : Math.min(e.count, Math.ceil((g.paLimit - pa) / e.size));
          if (below > 0) {
            if (base === 0) flush();
            else extendRange(base & P_EXEC_DEVICE ? "s2-exec-device" : "s2-wx", e.off, e.off + e.size * below, e.level, pa, e.hi, e.lo);
          }
          if (below < e.count) {
            // Entry `below`'s descriptor: the first one plus below·size, as a 64-bit sum.
            const add = below * e.size;
            extendRange(
              "s2-address-size",
              e.off + add,
              e.off + e.size * e.count,
              e.level,
              pa + add,
              sumHi(e.hi, e.lo, add),
              sumLo(e.lo, add),
            );
          }
          return;
        }
        case "unbacked": {
          flush();
          missingTables.add(e.table);
          const last = missing[missing.length - 1];
          if (last && last.table === BigInt(e.table) && last.ipa + last.size === BigInt(e.off)) {
            missing[missing.length - 1] = { ...last, size: last.size + BigInt(e.size) };
            return;
          }
          missing.push({ ipa: BigInt(e.off), size: BigInt(e.size), level: e.level, table: BigInt(e.table) });
          return;
        }
        case "bad-table":
          extend("s2-address-size", e, undefined);
          return;
        case "shared":
          flush();
          findings.push({
            ...finding("shared-table", e.off, e.off + e.size, e.next, e.level, e.hi, e.lo),
            message: `table at PA 0x${e.next.toString(16)} already audited at IPA ${hex64(BigInt(e.firstOff))}: its mappings repeat here`,
          });
          return;
        default:
          flush();
          return;
      }
    },
    { shared: true, runs: opts.perEntry !== true },
  );
  flush();
  for (const m of missing)
    findings.push(finding("missing-table", Number(m.ipa), Number(m.ipa + m.size), undefined, m.level, 0, 0, m.table));
  const errors = findings.filter((f) => f.severity === "error" && f.kind !== "missing-table").length;
  const passed = wxPages === 0n && errors === 0 && missing.length === 0;
  const summary =
    wxPages > 0n
      ? `Checked stage-2 W+X mappings: FAILED, ${wxPages} W+X pages found`
      : missingTables.size === 0
        ? "Checked stage-2 W+X mappings: passed, no W+X pages found"
        : `Checked stage-2 W+X mappings: INCONCLUSIVE, ${missingTables.size} reachable table${missingTables.size === 1 ? " is" : "s are"} not in the input (no W+X pages in the tables read)`;
  return { findings, wxPages, leaves, missing, passed, summary };
}

/** Permission problems of one stage-2 leaf (P_WX, P_EXEC_DEVICE), through the walk's permission stage (S2PIE included). */
function leafProblems(s2: WalkContext, hi: number, lo: number): number {
  const perms = leafPermissions(s2, hi, lo, 0, 0, 0, false);
  const write = (perms & (PERM_PW | PERM_UW)) !== 0;
  const exec = (perms & (PERM_PX | PERM_UX)) !== 0;
  let p = write && exec ? P_WX : 0;
  // Device is MemAttr[3:2] = 00, or MemAttr[2] = 0 under HCR_EL2.FWB (vmsa-regimes.md §1.6).
  const memAttr = (lo >>> 2) & 15;
  const device = s2.s2?.fwb ? (memAttr & 4) === 0 : (memAttr & 12) === 0;
  if (device && exec) p |= P_EXEC_DEVICE;
  return p;
}

function finding(
  kind: Stage2FindingKind,
  ipa: number,
  end: number,
  pa: number | undefined,
  level: number,
  hi: number,
  lo: number,
  table?: bigint,
): Stage2Finding {
  const size = BigInt(end - ipa);
  const descriptor = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const messages: Record<Stage2FindingKind, string> = {
    "s2-wx": "the guest can write and execute this memory (stage 2 W+X)",
    "s2-exec-device": "Device memory the guest can execute",
    "s2-address-size":
      pa === undefined ? "table descriptor beyond the output size (VTCR_EL2.PS)" : "output address beyond the output size (VTCR_EL2.PS)",
    "missing-table": `table at PA 0x${(table ?? 0n).toString(16)} (level ${level}) is not in the input: this range was not audited`,
    "shared-table": "",
  };
  return {
    kind,
    ipa: BigInt(ipa),
    size,
    pa: pa === undefined ? undefined : BigInt(pa),
    level,
    descriptor,
    message: messages[kind],
    rule: RULES[kind],
    severity: kind === "shared-table" ? "warning" : "error",
  };
}

export function formatStage2Audit(r: Stage2AuditReport, header?: string): string {
  const lines: string[] = [];
  if (header) lines.push(header);
  lines.push(r.summary);
  const errors = r.findings.filter((f) => f.severity === "error").length;
  if (r.findings.length === 0) lines.push("no findings");
  else {
    const warnings = r.findings.length - errors;
    lines.push(`${errors} finding${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}:`);
    for (const f of r.findings) {
      const range = `${hex64(f.ipa)}-${hex64(f.ipa + f.size)}`;
      const pa = f.pa === undefined ? "" : ` PA 0x${f.pa.toString(16)}`;
      lines.push(
        `  ${f.severity === "warning" ? "warning " : ""}${f.kind.padEnd(15)} IPA ${range} ${formatSize(Number(f.size)).padStart(6)}${pa}: ${f.message}`,
      );
      lines.push(`  ${"".padEnd(15)} rule: ${f.rule}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function stage2AuditToJson(r: Stage2AuditReport): unknown {
  const hx = (v: bigint): string => `0x${v.toString(16)}`;
  return {
    stage: 2,
    summary: r.summary,
    passed: r.passed,
    inconclusive: r.missing.length > 0,
    wxPages: Number(r.wxPages),
    leaves: r.leaves,
    errors: r.findings.filter((f) => f.severity === "error").length,
    findings: r.findings.map((f) => ({
      kind: f.kind,
      ipa: hx(f.ipa),
      end: hx(f.ipa + f.size),
      ...findingDetailsJson(f),
    })),
  };
}
