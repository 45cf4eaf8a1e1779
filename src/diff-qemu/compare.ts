/**
 * Comparing QEMU's PAR_EL1 with vmsa's prediction, classifying QEMU's known deviations from the
 * Arm ARM, and printing reproductions.
 */
import { SH_NAMES } from "../arch/descriptor.js";
import { faultStatusCode } from "../arch/fault.js";
import { piIndex } from "../arch/pie.js";
import { poIndex } from "../arch/poe.js";
import { decodeTcr, type Regs } from "../arch/registers.js";
import { hex64 } from "../arch/u64.js";
import { AT_OPS, type TranslationResult, Walker } from "../walk/walker.js";
import type { AtOutcome, HarnessOp } from "./jobfile.js";

/** A way QEMU is known to differ from the Arm ARM; such results are counted, not failed. */
export interface Deviation {
  readonly id: string;
  readonly what: string;
  /** The Arm ARM / ASL rule QEMU departs from. */
  readonly rule: string;
}

export const DEVIATIONS = {
  parShareability: {
    id: "qemu-par-sh-device-nc",
    what: "QEMU (7.2) reports the descriptor's SH in PAR_EL1.SH for Device and Normal Inner+Outer Non-cacheable memory",
    rule: "Arm ARM PAR_EL1.SH: reads 0b10 for Device or Normal Inner and Outer Non-cacheable memory (ASL PAREncodeShareability)",
  },
  blockLevel: {
    id: "qemu-block-at-illegal-level",
    what: "QEMU (7.2) accepts a block descriptor where the granule allows none (4K level 0 / 16K level 1 with TCR_EL1.DS=0, 16K level 0)",
    rule: "Arm ARM D8.3 (descriptor formats) / ASL AArch64.BlockDescSupported: bits[1:0]=0b01 there is invalid, a Translation fault at that level",
  },
  atAccessFlag: {
    id: "qemu-at-no-access-flag-fault",
    what: "QEMU (10.1+, commit 'Skip AF and DB updates for AccessType_AT') gives no Access flag fault for AT when AF=0 and TCR_EL1.HA=0",
    rule: "ASL AArch64.S1Translate / AArch64.S1CheckAccessFlag: AF=0 with HA=0 is an Access flag fault; AT instructions are not exempt (only IMPDEF for DC/IC)",
  },
  atPieNoDirtyFault: {
    id: "qemu-at-pie-no-dirty-fault",
    what: "QEMU (11.1) gives no dirty-state Permission fault for AT S1E1W/S1E0W/S1E1WP on a PIE page with nDirty (bit 7) = 1 when TCR_EL1.{HA,HD} != {1,1}: its nDirty check runs only for MMU_DATA_STORE, and AT checks write permission as a load with a write prot_check",
    rule: "ASL AArch64.S1CheckPermissions (FEAT_S1PIE): a write access to a page whose nDirty is 1 without hardware dirty-state update is a Permission fault with DirtyBit=1; AT S1E*W reports the fault the write would take (AT only skips the hardware update, AArch64.SetDirtyFlag)",
  },
} as const satisfies Record<string, Deviation>;

export type Verdict =
  | { readonly kind: "agree" }
  | { readonly kind: "deviation"; readonly deviation: Deviation }
  | { readonly kind: "mismatch" };

/** Key used for fault coverage: "ok", "exception", or `${fault}@L${level}`. */
export function outcomeKey(r: TranslationResult): string {
  return r.kind === "ok" ? "ok" : `${r.fault}@L${r.level}`;
}

function parIsFault(par: bigint): boolean {
  return (par & 1n) === 1n;
}

function parIsTranslationAt(par: bigint, level: number): boolean {
  return parIsFault(par) && Number((par >> 1n) & 0x3fn) === faultStatusCode("translation", level);
}

const SH_MASK = 3n << 7n;

function withHa(regs: Regs): Regs {
  return { ...regs, tcr: regs.tcr | (1n << 39n) };
}

function withHaHd(regs: Regs): Regs {
  return { ...regs, tcr: regs.tcr | (1n << 39n) | (1n << 40n) };
}

/** PAR_EL1.DirtyBit (bit 15): the Permission fault was a dirty-state fault (FEAT_S1PIE). */
const PAR_DIRTY_BIT = 1n << 15n;

export function classify(r: TranslationResult, q: AtOutcome, regs: Regs, walker: Walker): Verdict {
  if (r.par === null) {
    // External abort on the walk: AT takes a synchronous Data Abort (ESR.DFSC 0b0101LL) instead of
    // writing PAR_EL1 (Arm ARM PAR_EL1 / AT instructions: "synchronous External abort ... taken").
    if (q.kind === "exception" && r.kind === "fault" && (q.esr & 0x3f) === faultStatusCode("external-abort", r.level)) {
      return { kind: "agree" };
    }
    return { kind: "mismatch" };
  }
  if (q.kind === "exception") return { kind: "mismatch" };
  if (q.par === r.par) return { kind: "agree" };
  const qp = q.par;
  if (r.kind === "ok" && !parIsFault(qp) && (qp & ~SH_MASK) === (r.par & ~SH_MASK)) {
    const byte = r.mairByte;
    const forced = byte >> 4 === 0 || byte === 0x44;
    // The SH QEMU 7.2 reports: the descriptor's, or TCR_EL1.SHn with DS=1 (walker's `shareability`).
    const rawSh = BigInt(SH_NAMES.indexOf(r.shareability));
    if (forced && ((qp >> 7n) & 3n) === rawSh) return { kind: "deviation", deviation: DEVIATIONS.parShareability };
  }
  if (r.kind === "fault" && r.fault === "translation") {
    const last = r.trail[r.trail.length - 1]?.descriptor;
    const tcr = decodeTcr(regs.tcr);
    const g = r.half === 1 ? tcr.t1.granule : tcr.t0.granule;
    // 64K is left out on purpose: its only block-less level with -cpu max (PARange=52) is none.
    if (last?.kind === "invalid" && last.reason === "block-not-allowed" && g.size !== 65536 && !parIsTranslationAt(qp, r.level)) {
      return { kind: "deviation", deviation: DEVIATIONS.blockLevel };
    }
  }
  if (r.kind === "fault" && r.fault === "permission" && r.par !== null && (r.par & PAR_DIRTY_BIT) !== 0n) {
    // QEMU must then agree with the same walk with hardware dirty-state update on (no other check
    // changes: the Access flag was already 1, or HA was on).
    const alt = new Walker(walker.mem, withHaHd(regs)).translate(r.va, r.access);
    if (alt.par === qp) return { kind: "deviation", deviation: DEVIATIONS.atPieNoDirtyFault };
  }
  if (r.kind === "fault" && r.fault === "access-flag") {
    // QEMU must then agree with the same walk with hardware AF update on.
    const alt = new Walker(walker.mem, withHa(regs)).translate(r.va, r.access);
    if (alt.par === qp) return { kind: "deviation", deviation: DEVIATIONS.atAccessFlag };
  }
  return { kind: "mismatch" };
}

/** PAR_EL1 in words (64-bit format, Arm ARM PAR_EL1). */
export function describePar(par: bigint): string {
  if (parIsFault(par)) {
    const fst = Number((par >> 1n) & 0x3fn);
    return `F=1 FST=0b${fst.toString(2).padStart(6, "0")} PTW=${(par >> 8n) & 1n} S=${(par >> 9n) & 1n}${(par >> 14n) & 1n ? " Overlay=1" : ""}${(par >> 15n) & 1n ? " DirtyBit=1" : ""}${(par >> 48n) !== 0n ? ` IMPDEF[63:48]=0x${(par >> 48n).toString(16)}` : ""}`;
  }
  const pa = par & 0x000f_ffff_ffff_f000n;
  return `F=0 PA=0x${pa.toString(16)} SH=0b${((par >> 7n) & 3n).toString(2).padStart(2, "0")} NS=${(par >> 9n) & 1n} ATTR=0x${(par >> 56n).toString(16).padStart(2, "0")} bit10=${(par >> 10n) & 1n} bit11=${(par >> 11n) & 1n}`;
}

export function describeOutcome(q: AtOutcome): string {
  if (q.kind === "exception") {
    return `exception to EL2, ESR_EL2=0x${q.esr.toString(16)} (EC=0x${(q.esr >>> 26).toString(16)}, DFSC=0b${(q.esr & 0x3f).toString(2).padStart(6, "0")})`;
  }
  return `PAR_EL1=${hex64(q.par)}  ${describePar(q.par)}`;
}

/** A self-contained reproduction: registers, the query, vmsa's trail and both results. */
export function formatRepro(caseId: string, regs: Regs, va: bigint, op: HarnessOp, r: TranslationResult, q: AtOutcome, note = ""): string {
  const lines: string[] = [];
  lines.push(`case ${caseId}: AT ${op}, ${hex64(va)}${note ? `  [${note}]` : ""}`);
  lines.push(
    `  TTBR0_EL1=${hex64(regs.ttbr0)} TTBR1_EL1=${hex64(regs.ttbr1)} TCR_EL1=${hex64(regs.tcr)} MAIR_EL1=${hex64(regs.mair)} SCTLR_EL1=${hex64(regs.sctlr)}`,
  );
  const extra = (
    [
      ["TCR2_EL1", regs.tcr2],
      ["PIR_EL1", regs.pir],
      ["PIRE0_EL1", regs.pire0],
      ["POR_EL1", regs.por1],
      ["POR_EL0", regs.por0],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (extra.length > 0) lines.push(`  ${extra.map(([n, v]) => `${n}=${hex64(v as bigint)}`).join(" ")}`);
  const tcr = decodeTcr(regs.tcr);
  const h = r.half === 1 ? tcr.t1 : tcr.t0;
  lines.push(
    `  half TTBR${r.half ?? "?"}: ${h.granule.name} T${r.half ?? "?"}SZ=${h.tnsz} IPS=${tcr.ips} DS=${Number(tcr.ds)} HA=${Number(tcr.ha)} HD=${Number(tcr.hd)} HPD=${Number(h.hpd)} EPD=${Number(h.epd)} TBI=${Number(h.tbi)}`,
  );
  for (const t of r.trail) {
    const d = t.descriptor;
    let what = "unbacked (external abort)";
    if (d) {
      if (d.kind === "table")
        what = `table -> 0x${d.nextTable.toString(16)} APTable=${d.apTable} UXNT=${Number(d.uxnTable)} PXNT=${Number(d.pxnTable)}`;
      else if (d.kind === "invalid") what = `invalid (${d.reason})`;
      else
        what = `${d.kind} OA=0x${d.oa.toString(16)} AttrIndx=${d.attrIndx} AP=${d.ap} SH=${d.sh} AF=${Number(d.af)} nG=${Number(d.nG)} DBM=${Number(d.dbm)} Cont=${Number(d.contiguous)} PXN=${Number(d.pxn)} UXN=${Number(d.uxn)}${regs.tcr2 !== undefined && t.value !== undefined ? ` PIIndex=${piIndex(t.value)} POIndex=${poIndex(t.value)}` : ""}`;
    }
    lines.push(`  L${t.level} @0x${t.address.toString(16)} = ${t.value === undefined ? "-" : hex64(t.value)}  ${what}`);
  }
  const mine = r.kind === "ok" ? `ok PA=0x${r.pa.toString(16)}` : `${r.fault} fault, level ${r.level}: ${r.reason}`;
  lines.push(
    `  vmsa: ${mine}; ${r.par === null ? "AT takes an exception (external abort on the walk)" : `PAR_EL1=${hex64(r.par)}  ${describePar(r.par)}`}`,
  );
  lines.push(`  qemu: ${describeOutcome(q)}`);
  return lines.join("\n");
}

export { AT_OPS };
