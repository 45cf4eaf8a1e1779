/**
 * Comparing QEMU's PAR_EL1 with vmsa's prediction, classifying QEMU's known deviations from the
 * Arm ARM, and printing reproductions.
 */
import { SH_NAMES } from "../arch/descriptor.js";
import { faultStatusCode } from "../arch/fault.js";
import { HCR_FWB } from "../arch/hcr.js";
import { piIndex } from "../arch/pie.js";
import { poIndex } from "../arch/poe.js";
import { decodeTcr, type Regs } from "../arch/registers.js";
import { hex64 } from "../arch/u64.js";
import type { PhysMem } from "../mem/physmem.js";
import { type Access, AT_OPS, type TranslationResult, Walker } from "../walk/walker.js";
import type { AtOutcome, HarnessOp } from "./jobfile.js";

/**
 * The access each harness op asks the walker for: the S12E* ops are the EL1&0 accesses of their
 * S1E* names (both stages come from HCR_EL2.VM in the registers), S1E2R/W privileged accesses of
 * the EL2 or EL2&0 regime, EL20-S1E0R/W EL0 accesses of the EL2&0 regime.
 */
export const HARNESS_ACCESS: Record<HarnessOp, Access> = {
  ...AT_OPS,
  S12E1R: AT_OPS.S1E1R,
  S12E1W: AT_OPS.S1E1W,
  S12E0R: AT_OPS.S1E0R,
  S12E0W: AT_OPS.S1E0W,
  S1E2R: AT_OPS.S1E1R,
  S1E2W: AT_OPS.S1E1W,
  "EL20-S1E0R": AT_OPS.S1E0R,
  "EL20-S1E0W": AT_OPS.S1E0W,
};

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
  piePanReservedPire0: {
    id: "qemu-pie-pan-reserved-pire0",
    what: "QEMU (11.1) does not apply PAN under PIE when the page's PIRE0_EL1 value is a reserved one (0b0100, 0b1011, 0b1101, 0b1111, no EL0 access): it tests the decoded EL0 permissions",
    rule: "ASL AArch64.S1IndirectBasePermissions: with PSTATE.PAN=1 privileged read and write are removed whenever the PIRE0 value (upi) is not 0b0000",
  },
  atPieNoDirtyFault: {
    id: "qemu-at-pie-no-dirty-fault",
    what: "QEMU (11.1) gives no dirty-state Permission fault for an AT write (S1E1W/S1E0W/S1E1WP/S1E2W/S12E*W) on a PIE page with nDirty (bit 7) = 1, or a stage-2 S2PIE page with Dirty = 0, without hardware dirty-state update: its check runs only for MMU_DATA_STORE, and AT checks write permission as a load with a write prot_check",
    rule: "ASL AArch64.S1CheckPermissions (FEAT_S1PIE): a write access to a page whose nDirty is 1 without hardware dirty-state update is a Permission fault with DirtyBit=1; AT S1E*W reports the fault the write would take (AT only skips the hardware update, AArch64.SetDirtyFlag)",
  },
  atDbmNotWritable: {
    id: "qemu-at-dbm-not-writable",
    what: "QEMU (10.1+, commit 'Skip AF and DB updates for AccessType_AT') answers an AT write (S1E1W/S1E0W/S1E1WP/S1E2W/S12E*W) on a page with DBM=1 and AP[2]=1 under TCR.HA=HD=1 with a Permission fault: get_phys_addr_lpae takes the write permission from the descriptor after its dirty-state update, which it no longer prepares for AT",
    rule: "ASL AArch64.S1ApplyOutputPerms (AArch64.S2ApplyOutputPerms for S2AP[1]): with HA=HD=1 a DBM=1 descriptor has effective AP[2]=0 for every access type, so no write Permission fault is reported; AArch64.S1Translate only skips the descriptor update itself for AccessType_AT/IC/DC, so AT reports the page writable (PAR_EL1.F=0)",
  },
  s2PtwDeviceLevel: {
    id: "qemu-s2-ptw-device-level-0",
    what: "QEMU (10.0.2) reports the stage-2 Permission fault of a stage-1 table read from stage-2 Device memory under HCR_EL2.PTW=1 at level 0",
    rule: "ASL AArch64.S2CheckPermissions / AArch64.S2Translate: the fault is at the level of the stage-2 leaf that maps the table's IPA (PAR_EL1.FST = 0b0011LL with that level)",
  },
  s2FwbDevice: {
    id: "qemu-s2-fwb-device-not-combined",
    what: "QEMU (10.0.2) with HCR_EL2.FWB=1, stage-2 MemAttr 0dd (Device) and a Device stage-1 type reports the stage-2 Device type",
    rule: "ASL AArch64.S2ApplyFWBMemAttrs: stage-2 Device with stage-1 Device gives the more restrictive of the two Device types",
  },
  s2WtTransient: {
    id: "qemu-s2-wt-drops-transient",
    what: "QEMU (10.0.2) combining stage-1 Write-Back Transient with stage-2 Write-Through reports Write-Through non-transient (0b10RW)",
    rule: "ASL S2CombineS1AttrHints: a cacheable combined result takes the allocation hints and the transient flag of stage 1 (Write-Through Transient is 0b00RW)",
  },
  s2DeviceNormalLadder: {
    id: "qemu-s2-device-normal-ladder",
    what: "QEMU (10.0.2) combining a Device stage with a Normal stage (FWB=0) runs its Device-vs-Device ladder on the Normal side's low nibble and can report a more restrictive Device type (e.g. S1 Device-nGRE + S2 Normal oWB-iNC -> nGnRE)",
    rule: "ASL S2CombineS1MemAttrs / S2CombineS1Device: when only one stage is Device, the result is that stage's Device type unchanged",
  },
  atS12PermissionAbort: {
    id: "qemu-at-s12-s2-permission-abort",
    what: "QEMU (10.0.2; still in upstream ptw.c/helper.c of 2026-01) aborts (assertion !is_s2_format in do_ats_write) on AT S12E1R/W, S12E0R/W whose final IPA takes a stage-2 Permission fault; such queries are not run",
    rule: "ASL AArch64.AT / AArch64.EncodePAR: a stage-2 fault on the final IPA is reported in PAR_EL1 (F=1, S=1, PTW=0, FST = Permission at the stage-2 level)",
  },
} as const satisfies Record<string, Deviation>;

export type Verdict =
  | { readonly kind: "agree" }
  | { readonly kind: "deviation"; readonly deviation: Deviation }
  | { readonly kind: "mismatch" };

/** Key used for fault coverage: "ok", "exception", or `${fault}@L${level}`. */
export function outcomeKey(r: TranslationResult): string {
  if (r.kind === "ok") return r.stage2 ? "s12 ok" : "ok";
  // Stage-2 faults: "s2-ptw …" on a stage-1 table read (PAR.PTW=1), "s2 …" on the final IPA.
  const stage = r.stage === 2 ? (r.s1ptw ? "s2-ptw " : "s2 ") : "";
  return `${stage}${r.fault}@L${r.level}`;
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

/**
 * The registers QEMU's AT effectively walks with on a DBM page (DEVIATIONS.atDbmNotWritable): HD
 * cleared at each stage whose dirty-state management is DBM-driven (stage 1 without PIE, stage 2
 * without S2PIE), so DBM grants no write permission. Under PIE/S2PIE HD stays: that is nDirty/Dirty,
 * which atPieNoDirtyFault covers. Null when no stage has HD under DBM.
 */
function withoutDbmWrite(regs: Regs, mem: PhysMem): Regs | null {
  const w = new Walker(mem, regs);
  let out = regs;
  if (w.ctx.hd && !w.ctx.pie) {
    // HD is TCR_EL2[22] in the E2H=0 layout, TCR_ELx[40] otherwise.
    out = { ...out, tcr: out.tcr & ~(regs.regime === "el2" ? 1n << 22n : 1n << 40n) };
  }
  if (w.s2?.ctx.hd && !w.s2.ctx.pie) out = { ...out, vtcr: (regs.vtcr ?? 0n) & ~(1n << 22n) };
  return out === regs ? null : out;
}

/** QEMU's answer is the write Permission fault DBM would have lifted (DEVIATIONS.atDbmNotWritable). */
function isAtDbmNotWritable(r: TranslationResult, qp: bigint, regs: Regs, mem: PhysMem): boolean {
  if (r.access.type !== "write" || !parIsFault(qp)) return false;
  const alt = withoutDbmWrite(regs, mem);
  if (alt === null) return false;
  const a = new Walker(mem, alt).translate(r.va, r.access);
  return a.kind === "fault" && a.fault === "permission" && a.par === qp;
}

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
  if (isAtDbmNotWritable(r, qp, regs, walker.mem)) return { kind: "deviation", deviation: DEVIATIONS.atDbmNotWritable };
  if (r.kind === "fault" && r.fault === "permission" && r.access.pan && regs.tcr2 !== undefined) {
    // PAN under PIE with a reserved PIRE0 value: QEMU must equal the same access without PAN.
    // (With hardware dirty-state update on: QEMU's AT also skips the nDirty check, see atPieNoDirtyFault;
    // the Access flag is already 1 or HA set, or the result would not be a Permission fault.)
    const w0 = new Walker(walker.mem, withHaHd(regs));
    const plain = w0.translate(r.va, { ...r.access, pan: false });
    const d = r.trail[r.trail.length - 1]?.value;
    const upi = d === undefined ? 0 : Number(((regs.pire0 ?? 0n) >> BigInt(4 * piIndex(d))) & 0xfn);
    if ([0b0100, 0b1011, 0b1101, 0b1111].includes(upi) && plain.par === qp)
      return { kind: "deviation", deviation: DEVIATIONS.piePanReservedPire0 };
  }
  if (r.kind === "fault" && r.fault === "access-flag") {
    // QEMU must then agree with the same walk with hardware AF update on.
    const alt = new Walker(walker.mem, withHa(regs)).translate(r.va, r.access);
    if (alt.par === qp) return { kind: "deviation", deviation: DEVIATIONS.atAccessFlag };
  }
  return { kind: "mismatch" };
}

/**
 * Verdict for a job of another regime (EL2, EL2&0, two stages): the PAR must be equal, or the AT
 * must take the external abort vmsa predicts, or the difference must be one of QEMU's named
 * stage-2 deviations.
 */
export function classifyRegime(r: TranslationResult, q: AtOutcome, regs: Regs, mem?: PhysMem): Verdict {
  if (r.par === null) {
    if (q.kind === "exception" && r.kind === "fault" && (q.esr & 0x3f) === faultStatusCode("external-abort", r.level))
      return { kind: "agree" };
    return { kind: "mismatch" };
  }
  if (q.kind === "exception") return { kind: "mismatch" };
  if (q.par === r.par) return { kind: "agree" };
  const qp = q.par;
  if (mem && r.kind === "fault" && r.fault === "permission" && (r.par & PAR_DIRTY_BIT) !== 0n) {
    // The AT dirty-state fault QEMU does not report (stage 1 nDirty, or stage 2 Dirty with
    // S2PIE): QEMU must agree with the same walk with hardware dirty-state update on.
    const alt: Regs =
      r.stage === 2
        ? { ...regs, vtcr: (regs.vtcr ?? 0n) | (1n << 21n) | (1n << 22n) }
        : regs.regime === "el2"
          ? { ...regs, tcr: regs.tcr | (1n << 21n) | (1n << 22n) }
          : withHaHd(regs);
    if (new Walker(mem, alt).translate(r.va, r.access).par === qp) return { kind: "deviation", deviation: DEVIATIONS.atPieNoDirtyFault };
  }
  if (mem && isAtDbmNotWritable(r, qp, regs, mem)) return { kind: "deviation", deviation: DEVIATIONS.atDbmNotWritable };
  if (r.kind === "fault" && r.stage === 2 && r.s1ptw && r.fault === "permission" && r.stage2?.kind === "fault") {
    // HCR_EL2.PTW Device fault at the stage-2 leaf level; QEMU says level 0.
    if (r.stage2.reason.includes("PTW") && qp === (r.par & ~(3n << 1n)))
      return { kind: "deviation", deviation: DEVIATIONS.s2PtwDeviceLevel };
  }
  if (r.kind === "ok" && r.stage2 && !parIsFault(qp) && (qp & ~(0xffn << 56n)) === (r.par & ~(0xffn << 56n))) {
    const o = r.stage2;
    const qAttr = Number(qp >> 56n);
    const s1 = o.s1Attr;
    const fwb = ((regs.hcr ?? 0n) & HCR_FWB) !== 0n;
    if (fwb && o.memType.kind === "device" && (s1 & 0xf0) === 0) {
      // QEMU: the stage-2 Device type alone (MemAttr[1:0] = dd).
      if (qAttr === Number((o.result.descriptor.raw >> 2n) & 3n) << 2) return { kind: "deviation", deviation: DEVIATIONS.s2FwbDevice };
    }
    const s2Device = o.memType.kind === "device";
    const s1Device = (s1 & 0xf0) === 0;
    if (!fwb && s1Device !== s2Device && o.attr !== undefined && (o.attr & 0xf3) === 0 && (qAttr & 0xf3) === 0 && qAttr < o.attr) {
      return { kind: "deviation", deviation: DEVIATIONS.s2DeviceNormalLadder };
    }
    if (o.memType.kind === "normal" && o.attr !== undefined) {
      // Each level where stage 2 is WT, stage 1 is Write-Back (01RW with RW != 00, or 11RW) and the
      // combined nibble is WT transient (00RW, RW != 00): QEMU rebuilds it as 10RW.
      const wb = (n: number): boolean => n >> 2 === 3 || (n >> 2 === 1 && (n & 3) !== 0);
      const fix = (n: number, s1n: number, s2Policy: string): number =>
        s2Policy === "WT" && wb(s1n) && n >> 2 === 0 && (n & 3) !== 0 ? n | 8 : n;
      const alt = (fix(o.attr >> 4, s1 >> 4, o.memType.outer) << 4) | fix(o.attr & 0xf, s1 & 0xf, o.memType.inner);
      if (alt !== o.attr && qAttr === alt) return { kind: "deviation", deviation: DEVIATIONS.s2WtTransient };
    }
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
      ["S2PIR_EL2", regs.s2pir],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (extra.length > 0) lines.push(`  ${extra.map(([n, v]) => `${n}=${hex64(v as bigint)}`).join(" ")}`);
  if (regs.regime !== undefined || regs.hcr !== undefined) {
    lines.push(
      `  regime ${regs.regime ?? "el10"} HCR_EL2=${hex64(regs.hcr ?? 0n)} VTCR_EL2=${hex64(regs.vtcr ?? 0n)} VTTBR_EL2=${hex64(regs.vttbr ?? 0n)}`,
    );
    if (r.kind === "fault" && r.stage === 2)
      lines.push(`  stage-2 fault${r.s1ptw ? " on a stage-1 table read" : ""} at IPA ${hex64(r.ipa ?? 0n)}`);
    if (r.kind === "ok" && r.stage2)
      lines.push(`  IPA ${hex64(r.stage2.ipa)}; stage-2 leaf ${hex64(r.stage2.result.descriptor.raw)} at level ${r.stage2.result.level}`);
    const s2 = r.kind === "fault" ? r.stage2?.trail : r.stage2?.result.trail;
    for (const t of s2 ?? [])
      lines.push(
        `  S2 L${t.level} @0x${t.address.toString(16)} = ${t.value === undefined ? "-" : hex64(t.value)}  ${t.descriptor?.kind ?? "unbacked"}`,
      );
  }
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
