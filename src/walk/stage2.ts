/**
 * The stage-2 translation walk of the Non-secure EL1&0 regime (IPA -> PA), as the hardware
 * performs it (Arm ARM D8.2 "Translation table walk", stage 2; ASL AArch64.S2Translate,
 * AArch64.S2Walk, AArch64.S2CheckPermissions; vmsa-regimes.md §1.2–§1.7).
 *
 * There is one walk loop (walker.ts walkRaw): stage 2 is that loop over a walk context compiled
 * from VTCR_EL2 here (compileStage2), and a two-stage walk is a stage-1 Walker holding a stage-2
 * Walker that translates every stage-1 table address and the final IPA. The geometry (start
 * level, concatenated start tables, IPA size, output size) comes from arch/vtcr.ts; descriptor
 * decoding for display from arch/stage2-descriptor.ts.
 */
import { FAULT_KINDS, FAULT_NONE, type FaultKind, faultStatusCode } from "../arch/fault.js";
import { decodeHcr, type HcrEffective } from "../arch/hcr.js";
import type { Features } from "../arch/registers.js";
import { decodeStage2Descriptor, type Stage2Descriptor } from "../arch/stage2-descriptor.js";
import { decodeVtcr, decodeVttbr, type Stage2Config, stage2Config, type Vtcr, type Vttbr } from "../arch/vtcr.js";
import { compileRegs, type HalfContext, halfWith, type WalkContext } from "./context.js";

/** The stage-2 registers of a two-stage walk. */
export interface Stage2Regs {
  readonly vtcr: bigint;
  readonly vttbr: bigint;
  readonly hcr: bigint;
  /** S2PIR_EL2 (FEAT_S2PIE): used when VTCR_EL2.S2PIE=1; absent = 0 (no access through any index). */
  readonly s2pir?: bigint;
  /**
   * S2POR_EL1 (FEAT_S2POE): the stage-2 overlay of each S2POIndex (descriptor bits [62:59]), used
   * when VTCR_EL2.S2PIE=1 and S2POE=1; absent = 0 (the overlay grants nothing).
   */
  readonly s2por?: bigint;
}

/** What a stage-2 walk context knows beyond the stage-1 shape it is walked with. */
export interface Stage2Info {
  readonly regs: Stage2Regs;
  readonly hcr: HcrEffective;
  readonly vtcr: Vtcr;
  readonly config: Stage2Config;
  /** Undefined when VTCR_EL2 is invalid (every walk faults before the base is used). */
  readonly vttbr: Vttbr | undefined;
  /** FEAT_XNX: descriptor bit 53 is XN[0]. */
  readonly xnx: boolean;
  /** HCR_EL2.PTW in effect: stage-1 table reads from stage-2 Device memory fault. */
  readonly ptw: boolean;
  /** HCR_EL2.FWB: MemAttr[2] alone tells Device (0xx) from Normal. */
  readonly fwb: boolean;
}

/** Features a stage-2 walk reads beyond the stage-1 set (FEAT_XNX is in every CPU vmsa models by default). */
export interface Stage2Features {
  readonly xnx: boolean;
}

/**
 * VTCR_EL2 read through the TCR_EL1 layout, so the stage-1 walk loop walks stage 2 too: T0SZ,
 * IRGN0/ORGN0/SH0 and TG0 keep their places ([5:0], [13:8], [15:14]); SL0 ([7:6], where TCR has
 * EPD0) is cleared; PS -> IPS[34:32], HA -> [39], HD -> [40], DS -> [59]; HPD0=1 (stage-2 tables
 * carry no hierarchical attributes, vmsa-regimes.md §1.4); EPD1=1 (one input range).
 */
export function vtcrAsTcrLayout(v: Vtcr): bigint {
  let t = v.raw & 0xff3fn;
  t |= BigInt(v.t0sz) << 16n; // T1SZ (unused: EPD1)
  t |= 1n << 23n; // EPD1
  t |= 2n << 30n; // TG1 = 4K
  t |= BigInt(v.ps) << 32n;
  if (v.ha) t |= 1n << 39n;
  if (v.hd) t |= 1n << 40n;
  t |= 1n << 41n; // HPD0
  if (v.ds) t |= 1n << 59n;
  return t;
}

/**
 * Compile VTCR_EL2/VTTBR_EL2/HCR_EL2 into a walk context for walker.ts's one walk loop: the
 * stage-1 shape of VTCR_EL2 (vtcrAsTcrLayout), with the start level, the concatenated start
 * table and its base, the legality of T0SZ/SL0 and the IPA range taken from arch/vtcr.ts
 * (ASL AArch64.S2StartLevel, AArch64.S2TTBaseAddress, AArch64.S2InvalidSL/InconsistentSL).
 */
export function compileStage2(regs: Stage2Regs, f: Features, s2f: Stage2Features = { xnx: true }): WalkContext {
  const vtcr = decodeVtcr(regs.vtcr);
  const config = stage2Config(vtcr, f);
  const hcr = decodeHcr(regs.hcr);
  const shaped = compileRegs({ ttbr0: 0n, ttbr1: 0n, tcr: vtcrAsTcrLayout(vtcr), mair: 0n, sctlr: 1n, features: f });
  const h = shaped.halves[0];
  let vttbr: Vttbr | undefined;
  let half: HalfContext;
  if (config.kind === "ok") {
    vttbr = decodeVttbr(regs.vttbr, vtcr, config);
    const base = Number(vttbr.tableBase);
    const start = config.startLevel;
    const bitsAt = h.bitsAt.map((b, i) => (i - 1 < start ? 0 : i - 1 === start ? config.ipaBits - (h.shiftAt[i] as number) : b));
    half = halfWith(h, {
      tnszFault: false,
      startLevel: start,
      bitsAt,
      base,
      baseFault: vttbr.addressSizeFault,
      walkSh: vtcr.sh0,
      asid: vttbr.vmid,
    });
  } else {
    // Every walk is a level-0 Translation fault (checked first, as the TnSZ check of stage 1).
    half = halfWith(h, { tnszFault: true });
  }
  return {
    ...shaped,
    halves: [half, shaped.halves[1]],
    pan: false,
    epan: false,
    mmuOn: true,
    permModel: 2,
    plainPerms: false,
    // FEAT_S2PIE: VTCR_EL2.S2PIE selects S2PIR_EL2 (kept in the pir fields of this context).
    pie: vtcr.s2pie && f.s2pie !== false,
    // FEAT_S2POE: overlays only under S2PIE (ASL AArch64.S2ComputePermissions), S2POR_EL1 in the por1 fields.
    poe: vtcr.s2pie && vtcr.s2poe && f.s2pie !== false && f.s2poe !== false,
    e0poe: false,
    pirHi: Number(((regs.s2pir ?? 0n) >> 32n) & 0xffffffffn),
    pirLo: Number((regs.s2pir ?? 0n) & 0xffffffffn),
    por1Hi: Number(((regs.s2por ?? 0n) >> 32n) & 0xffffffffn),
    por1Lo: Number((regs.s2por ?? 0n) & 0xffffffffn),
    s2: { regs, hcr, vtcr, config, vttbr, xnx: s2f.xnx, ptw: hcr.ptw, fwb: hcr.fwb },
  };
}

/** Reasons a stage-2 walk stopped, by walker.ts R_* code (R_PTW_DEVICE = 17; 14-16 cannot happen at stage 2). */
export const STAGE2_REASONS: readonly string[] = [
  "ok",
  "VTCR_EL2 is not a legal stage-2 configuration (T0SZ, SL0/SL2)",
  "IPA is outside the stage-2 input range (VTCR_EL2.T0SZ)",
  "IPA is outside the stage-2 input range (VTCR_EL2.T0SZ)",
  "IPA is outside the stage-2 input range (VTCR_EL2.T0SZ)",
  "the VTTBR_EL2 base address exceeds the stage-2 output size (VTCR_EL2.PS)",
  "stage-2 descriptor is invalid (bit 0 clear)",
  "stage-2 descriptor bits[1:0]=0b01 at level 3 are reserved (invalid)",
  "stage-2 block descriptor at a level where this granule allows no blocks",
  "stage-2 next-level table address exceeds the output size (VTCR_EL2.PS)",
  "stage-2 output address exceeds the output size (VTCR_EL2.PS)",
  "stage-2 access flag is 0 and hardware AF update is off (VTCR_EL2.HA=0)",
  "access not permitted by stage 2 (S2AP / XN)",
  "stage-2 descriptor address is not backed by memory (synchronous external abort on walk)",
  "-",
  "-",
  "-",
  "stage-1 table read from stage-2 Device memory with HCR_EL2.PTW=1",
];

/** An access code (walker.ts accessCode) marking a stage-1 table read translated by stage 2: needs S2AP[0]. */
export const S2_TTW = 16;

export type Stage2Access = "ttw" | { readonly type: "read" | "write" | "exec"; readonly el: 0 | 1 };

export function stage2AccessCode(a: Stage2Access): number {
  return a === "ttw" ? S2_TTW : (a.type === "read" ? 0 : a.type === "write" ? 1 : 2) | (a.el === 0 ? 4 : 0);
}

export interface Stage2TrailEntry {
  readonly level: number;
  readonly address: bigint;
  readonly value: bigint | undefined;
  readonly descriptor: Stage2Descriptor | undefined;
}

export type Stage2Result =
  | {
      readonly kind: "ok";
      readonly ipa: bigint;
      readonly trail: readonly Stage2TrailEntry[];
      readonly pa: bigint;
      readonly level: number;
      readonly blockSize: number;
      readonly descriptor: Stage2Descriptor;
      /** Read, write, EL1 execute, EL0 execute. */
      readonly permissions: { readonly r: boolean; readonly w: boolean; readonly x1: boolean; readonly x0: boolean };
      /** SH[1:0] of the leaf (VTCR_EL2.SH0 under DS=1). */
      readonly sh: number;
    }
  | {
      readonly kind: "fault";
      readonly ipa: bigint;
      readonly trail: readonly Stage2TrailEntry[];
      readonly fault: FaultKind;
      readonly level: number;
      /** 6-bit fault status code. */
      readonly fsc: number;
      readonly reason: string;
    };

/** Minimal view of walker.ts's Walker a stage-2 description needs (avoids an import cycle). */
export interface Stage2WalkState {
  readonly ctx: WalkContext;
  readonly fault: number;
  readonly level: number;
  readonly reason: number;
  readonly paHi: number;
  readonly paLo: number;
  readonly descHi: number;
  readonly descLo: number;
  readonly perms: number;
  readonly trailLen: number;
  readonly trailAddr: Float64Array;
  readonly trailHi: Uint32Array;
  readonly trailLo: Uint32Array;
  readonly trailLevel: Int8Array;
  readonly trailBacked: Uint8Array;
}

/** Describe the last walkRaw of a stage-2 walker (for the IPA `ipa`; not for hot loops). */
export function describeStage2(w: Stage2WalkState, ipa: bigint): Stage2Result {
  const s2 = w.ctx.s2;
  if (!s2) throw new Error("describeStage2 on a stage-1 walk context");
  const h = w.ctx.halves[0];
  const opts = { fwb: s2.fwb, xnx: s2.xnx };
  const trail: Stage2TrailEntry[] = [];
  for (let i = 0; i < w.trailLen; i++) {
    const level = w.trailLevel[i] as number;
    const value = w.trailBacked[i] === 1 ? (BigInt(w.trailHi[i] as number) << 32n) | BigInt(w.trailLo[i] as number) : undefined;
    trail.push({
      level,
      address: BigInt(w.trailAddr[i] as number),
      value,
      descriptor: value === undefined ? undefined : decodeStage2Descriptor(h.fmt, level, value, opts),
    });
  }
  if (w.fault !== FAULT_NONE) {
    const fault = FAULT_KINDS[w.fault] as FaultKind;
    return {
      kind: "fault",
      ipa,
      trail,
      fault,
      level: w.level,
      fsc: faultStatusCode(fault, w.level),
      reason: STAGE2_REASONS[w.reason] ?? "fault",
    };
  }
  const raw = (BigInt(w.descHi >>> 0) << 32n) | BigInt(w.descLo >>> 0);
  const p = w.perms;
  return {
    kind: "ok",
    ipa,
    trail,
    pa: BigInt(w.paHi >>> 0) * 4294967296n + BigInt(w.paLo >>> 0),
    level: w.level,
    blockSize: 2 ** (h.shiftAt[w.level + 1] as number),
    descriptor: decodeStage2Descriptor(h.fmt, w.level, raw, opts),
    permissions: { r: (p & 1) !== 0, w: (p & 2) !== 0, x1: (p & 4) !== 0, x0: (p & 32) !== 0 },
    // With DS=1 descriptor bits[9:8] are OA[51:50]: leaves take VTCR_EL2.SH0.
    sh: h.ds ? h.walkSh : (w.descLo >>> 8) & 3,
  };
}
