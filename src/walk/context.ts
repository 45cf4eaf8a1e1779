/**
 * A register set compiled into the numbers the walk needs (per TTBR half), so the hot path reads
 * plain fields instead of decoding TCR on every translation.
 */
import { blockAllowedIn, type DescriptorFormat } from "../arch/descriptor.js";
import type { Granule } from "../arch/granule.js";
import { contiguousShift, levelShift, startLevel } from "../arch/granule.js";
import { decodeHcr, type HcrEffective } from "../arch/hcr.js";
import { mairByte } from "../arch/mair.js";
import {
  decodeSctlr,
  decodeTcr,
  decodeTcr2,
  decodeTtbr,
  effectivePaBits,
  type Features,
  halfDescriptorFormat,
  type Regime,
  type Regs,
  type Sctlr,
  type Tcr,
  type TcrHalf,
  type Ttbr,
  tnszLimits,
} from "../arch/registers.js";
import { tcrEl2AsEl1Layout } from "../arch/tcr-el2.js";
import { maskHalves } from "../arch/u64.js";
import type { Stage2Info } from "./stage2.js";

const TWO32 = 4294967296;

export interface HalfContext {
  readonly index: 0 | 1;
  readonly tcr: TcrHalf;
  readonly ttbr: Ttbr;
  readonly granule: Granule;
  /** The descriptor format of this half (arch halfDescriptorFormat); `ds`, `oa52` and `lpa`
   * below are copies of its fields for the hot path. */
  readonly fmt: DescriptorFormat;
  readonly gShift: number;
  readonly stride: number;
  readonly tnsz: number;
  readonly iaBits: number;
  /** TnSZ outside the implemented range: every access gives a level-0 Translation fault. */
  readonly tnszFault: boolean;
  readonly startLevel: number;
  readonly epd: boolean;
  readonly hpd: boolean;
  readonly e0pd: boolean;
  /** FEAT_LPA2 format in effect (TCR.DS=1 with a 4K/16K granule). */
  readonly ds: boolean;
  /** Output addresses have 52 bits (effective PA size is 52). */
  readonly oa52: boolean;
  /** The implemented PA size is 52 bits (FEAT_LPA). */
  readonly lpa: boolean;
  readonly paBits: number;
  /** 2^paBits as a number; addresses at or above it give Address size faults. */
  readonly paLimit: number;
  /** Start table base address (aligned to the start table size), as a number. */
  readonly base: number;
  /** The same as a 4 KiB frame number (the byte offset into that frame is in walkPlan). */
  readonly basePfn: number;
  /** 2^(paBits-12): frame numbers at or above it exceed the output address size. */
  readonly paLimitPfn: number;
  /** Whether the base address itself exceeds the PA size (Address size fault, level 0). */
  readonly baseFault: boolean;
  /** Canonical-check masks over bits [top:ia] for data (TBI applied) and instruction accesses. */
  readonly canonDataHi: number;
  readonly canonDataLo: number;
  readonly canonInstHi: number;
  readonly canonInstLo: number;
  /** Per level (index level+1): log2 of the entry size, index width, block allowed, contiguous shift. */
  readonly shiftAt: readonly number[];
  readonly bitsAt: readonly number[];
  readonly blockAt: readonly number[];
  readonly contAt: readonly number[];
  /**
   * What walkRaw reads of this half, as int32 words (walkPlanOf; W_* indices): the level-0 checks
   * as flag bits, the canonical masks, the start table's offset in its frame, the start level,
   * the granule mask, the PA limit's high half and one packed word per level. Derived from the
   * fields above: halves are made by compileHalf or halfWith, which compute it.
   */
  readonly walkPlan: Int32Array;
  /** Shareability used for leaves when DS=1 (from TCR.SHn). */
  readonly walkSh: number;
  /** ASID tagging the walk (from TTBR0 or TTBR1 per TCR.A1; 8 bits unless TCR.AS). */
  readonly asid: number;
}

export interface WalkContext {
  readonly regs: Regs;
  readonly tcr: Tcr;
  readonly sctlr: Sctlr;
  readonly features: Features;
  readonly halves: readonly [HalfContext, HalfContext];
  readonly mair: Uint8Array;
  readonly ha: boolean;
  readonly hd: boolean;
  readonly wxn: boolean;
  /** FEAT_PAN is implemented: PSTATE.PAN has an effect. */
  readonly pan: boolean;
  /** SCTLR_EL1.EPAN in effect: set, and FEAT_PAN3 implemented (the bit is RES0 without it). */
  readonly epan: boolean;
  readonly mmuOn: boolean;
  /** Permission indirection in effect: TCR2_EL1.PIE=1 with FEAT_S1PIE (and FEAT_TCR2). */
  readonly pie: boolean;
  /**
   * Permission overlays in effect for privileged (TCR2_EL1.POE) / EL0 (TCR2_EL1.E0POE) accesses,
   * with FEAT_S1POE. In a stage-2 context `poe` is FEAT_S2POE's VTCR_EL2.S2PIE=S2POE=1.
   */
  readonly poe: boolean;
  readonly e0poe: boolean;
  /** PIR_EL1, PIRE0_EL1, POR_EL1, POR_EL0 as 32-bit halves (0 when not given); S2PIR_EL2 and S2POR_EL1 in pir/por1 of a stage-2 context. */
  readonly pirHi: number;
  readonly pirLo: number;
  readonly pire0Hi: number;
  readonly pire0Lo: number;
  readonly por1Hi: number;
  readonly por1Lo: number;
  readonly por0Hi: number;
  readonly por0Lo: number;
  /** The regime walked (Regs.regime, default EL1&0). */
  readonly regime: Regime;
  /** EL2 regime (E2H=0): one VA range, no EL0, AP[1] ignored, XN at bit 54 (vmsa-regimes.md §2.1). */
  readonly el2: boolean;
  /** HCR_EL2 as the EL1&0 regime sees it (all zero when Regs.hcr is absent). */
  readonly hcr: HcrEffective;
  /** Stage 2 follows this EL1&0 stage-1 walk (HCR_EL2.VM or DC in effect; Walker compiles it). */
  readonly twoStage: boolean;
  /** Which permission model the walk applies: 0 EL1&0 stage 1 (permissions.ts), 1 EL2 regime, 2 stage 2 (fields.ts regimePermissions). */
  readonly permModel: 0 | 1 | 2;
  /** EL1&0 direct permissions without indirection or overlays: the walk loop's fast case (permissions.ts). */
  readonly plainPerms: boolean;
  /** This context walks stage 2 itself (stage2.ts compileStage2), else null. */
  readonly s2: Stage2Info | null;
}

/** walkPlan words: flags (WF_*), canonical masks (data hi, lo; instruction hi, lo), the start table's byte offset in its frame, start level. */
export const W_FLAGS = 0;
export const W_CANON_DATA = 1;
export const W_CANON_INST = 3;
export const W_BASE_OFF = 5;
export const W_START = 6;
/** ~(granule size - 1): clears the in-granule offset bits of a next-table address. */
export const W_GRANULE_MASK = 7;
/** 2^(paBits-32): the high half of an address at or above it exceeds the PA size. */
export const W_PA_LIMIT_HI = 8;
/** One word per level from level -1 (index W_LEVELS + level + 1): entry-size shift bits [5:0],
 * index width [11:6], block allowed [12], contiguous shift [19:16]. */
export const W_LEVELS = 9;
const WALK_PLAN_WORDS = W_LEVELS + 5;
export const PLAN_BITS_SHIFT = 6;
export const PLAN_BLOCK = 1 << 12;
export const PLAN_CONT_SHIFT = 16;
/** walkPlan flags: the level-0 faults (tnszFault, e0pd, epd, baseFault), HPD, the descriptor format. */
export const WF_TNSZ = 1;
export const WF_E0PD = 2;
export const WF_EPD = 4;
export const WF_BASE = 8;
export const WF_HPD = 16;
export const WF_DS = 32;
export const WF_OA52 = 64;
/** 52-bit OA without DS (64K granule, FEAT_LPA): OA[51:48] in descriptor bits [15:12]. */
export const WF_OA52_64K = 128;

/** A half's fields walkPlanOf reads. */
type PlanInputs = Pick<
  HalfContext,
  | "tnszFault"
  | "e0pd"
  | "epd"
  | "baseFault"
  | "hpd"
  | "ds"
  | "oa52"
  | "gShift"
  | "canonDataHi"
  | "canonDataLo"
  | "canonInstHi"
  | "canonInstLo"
  | "base"
  | "startLevel"
  | "paBits"
  | "shiftAt"
  | "bitsAt"
  | "blockAt"
  | "contAt"
>;

/** Pack what walkRaw reads of a half into int32 words (HalfContext.walkPlan). */
export function walkPlanOf(h: PlanInputs): Int32Array {
  const w = new Int32Array(WALK_PLAN_WORDS);
  w[W_FLAGS] =
    (h.tnszFault ? WF_TNSZ : 0) |
    (h.e0pd ? WF_E0PD : 0) |
    (h.epd ? WF_EPD : 0) |
    (h.baseFault ? WF_BASE : 0) |
    (h.hpd ? WF_HPD : 0) |
    (h.ds ? WF_DS : 0) |
    (h.oa52 ? WF_OA52 : 0) |
    (h.oa52 && !h.ds && h.gShift === 16 ? WF_OA52_64K : 0);
  w[W_CANON_DATA] = h.canonDataHi | 0;
  w[W_CANON_DATA + 1] = h.canonDataLo | 0;
  w[W_CANON_INST] = h.canonInstHi | 0;
  w[W_CANON_INST + 1] = h.canonInstLo | 0;
  w[W_BASE_OFF] = h.base % 4096;
  w[W_START] = h.startLevel;
  w[W_GRANULE_MASK] = ~((1 << h.gShift) - 1);
  w[W_PA_LIMIT_HI] = 2 ** (h.paBits - 32);
  for (let i = 0; i < 5; i++) {
    w[W_LEVELS + i] =
      (h.shiftAt[i] as number) |
      ((h.bitsAt[i] as number) << PLAN_BITS_SHIFT) |
      ((h.blockAt[i] as number) !== 0 ? PLAN_BLOCK : 0) |
      ((h.contAt[i] as number) << PLAN_CONT_SHIFT);
  }
  return w;
}

/** What a derived half may change (halfWith): the start table, the geometry, the level-0 checks, shareability, ASID. */
export type HalfChange = Partial<
  Pick<HalfContext, "base" | "startLevel" | "bitsAt" | "tnszFault" | "baseFault" | "epd" | "walkSh" | "asid">
>;

/**
 * `h` with `change` applied and the fields the walk loop derives from them recomputed (basePfn
 * from base, walkPlan from all). Every half that is not compiled by compileHalf (stage 2's
 * concatenated start table, the machine's walk-cache roots) is made here, so the derived fields
 * cannot go stale.
 */
export function halfWith(h: HalfContext, change: HalfChange): HalfContext {
  const n = { ...h, ...change };
  return { ...n, basePfn: Math.floor(n.base / 4096), walkPlan: walkPlanOf(n) };
}

function halvesOf(v: bigint | undefined): [number, number] {
  const x = v ?? 0n;
  return [Number((x >> 32n) & 0xffffffffn), Number(x & 0xffffffffn)];
}

function compileHalf(index: 0 | 1, regs: Regs, tcr: Tcr, f: Features): HalfContext {
  const h = index === 0 ? tcr.t0 : tcr.t1;
  const g = h.granule;
  const fmt = halfDescriptorFormat(tcr, h, f);
  const ds = fmt.ds;
  const paBits = effectivePaBits(tcr, h, f);
  const oa52 = fmt.oa52;
  const lim = tnszLimits(h, ds, f);
  const tnszFault = h.tnsz < lim.min || h.tnsz > lim.max;
  const tnsz = h.tnsz;
  const iaBits = 64 - tnsz;
  const sl = startLevel(g, Math.min(Math.max(tnsz, lim.min), 48));
  const ttbr = decodeTtbr(index === 0 ? regs.ttbr0 : regs.ttbr1, oa52);
  // The start table holds 2^(ia - shift(start)) entries of 8 bytes; base bits below its size are
  // RES0 and treated as zero (misaligned bases are CONSTRAINED UNPREDICTABLE; we take the
  // "treated as zero" option QEMU also implements). The minimum alignment is 64 bytes.
  const topBits = iaBits - levelShift(g, sl);
  const tableBytes = Math.max(8 * 2 ** topBits, 64);
  const baddr = ttbr.baddr & ~BigInt(tableBytes - 1);
  const base = Number(baddr);
  const paLimit = 2 ** paBits;
  const dataTop = h.tbi ? 55 : 63;
  const instTop = h.tbi && !h.tbid ? 55 : 63;
  const [cdh, cdl] = maskHalves(dataTop, iaBits);
  const [cih, cil] = maskHalves(instTop, iaBits);
  const shiftAt = [0, 0, 0, 0, 0];
  const bitsAt = [0, 0, 0, 0, 0];
  const blockAt = [0, 0, 0, 0, 0];
  const contAt = [0, 0, 0, 0, 0];
  for (let l = -1; l <= 3; l++) {
    const s = levelShift(g, l);
    shiftAt[l + 1] = s;
    bitsAt[l + 1] = Math.max(0, Math.min(g.stride, iaBits - s));
    // 64K level-1 blocks depend on the implemented PA size (FEAT_LPA), not on TCR.IPS (ASL
    // AArch64.BlockDescSupported tests AArch64.PAMax()).
    blockAt[l + 1] = blockAllowedIn(fmt, l) ? 1 : 0;
    contAt[l + 1] = contiguousShift(g, l);
  }
  const asidReg = tcr.a1 ? regs.ttbr1 : regs.ttbr0;
  const asid = Number((asidReg >> 48n) & (tcr.as ? 0xffffn : 0xffn));
  const half: Omit<HalfContext, "walkPlan"> = {
    index,
    tcr: h,
    ttbr,
    granule: g,
    fmt,
    gShift: g.shift,
    stride: g.stride,
    tnsz,
    iaBits,
    tnszFault,
    startLevel: sl,
    epd: h.epd,
    hpd: h.hpd,
    e0pd: h.e0pd && f.e0pd,
    ds,
    oa52,
    lpa: fmt.lpa,
    paBits,
    paLimit,
    base,
    basePfn: Math.floor(base / 4096),
    paLimitPfn: 2 ** (paBits - 12),
    baseFault: base >= paLimit,
    canonDataHi: cdh,
    canonDataLo: cdl,
    canonInstHi: cih,
    canonInstLo: cil,
    shiftAt,
    bitsAt,
    blockAt,
    contAt,
    walkSh: h.sh,
    asid,
  };
  return { ...half, walkPlan: walkPlanOf(half) };
}

export function compileRegs(regs: Regs): WalkContext {
  const regime = regs.regime ?? "el10";
  const el2 = regime === "el2";
  // The EL2 regime's TCR_EL2 is read through the TCR_EL1 layout with the upper range disabled
  // (arch/tcr-el2.ts); its single range is TTBR0_EL2.
  const tcr = decodeTcr(el2 ? tcrEl2AsEl1Layout(regs.tcr) : regs.tcr);
  const hcr = decodeHcr(regime === "el10" ? (regs.hcr ?? 0n) : 0n);
  const sctlr = decodeSctlr(regs.sctlr);
  const f = regs.features;
  const mair = new Uint8Array(8);
  for (let i = 0; i < 8; i++) mair[i] = mairByte(regs.mair, i);
  const ha = tcr.ha && f.hafdbs >= 1;
  // TCR2_EL1 exists only with FEAT_TCR2; its PIE/POE bits are RES0 without S1PIE/S1POE.
  const tcr2 = decodeTcr2(f.tcrx === false ? 0n : (regs.tcr2 ?? 0n));
  const pie = tcr2.pie && f.s1pie !== false;
  const poe = tcr2.poe && f.s1poe !== false;
  const e0poe = !el2 && tcr2.e0poe && f.s1poe !== false;
  const [pirHi, pirLo] = halvesOf(regs.pir);
  // The EL2 regime has no EL0: PIRE0 and POR_EL0 do not apply (only PIR_EL2 / POR_EL2).
  const [pire0Hi, pire0Lo] = halvesOf(el2 ? 0n : regs.pire0);
  const [por1Hi, por1Lo] = halvesOf(regs.por1);
  const [por0Hi, por0Lo] = halvesOf(regs.por0);
  return {
    regs,
    tcr,
    sctlr,
    features: f,
    halves: [compileHalf(0, regs, tcr, f), compileHalf(1, regs, tcr, f)],
    mair,
    ha,
    hd: ha && tcr.hd && f.hafdbs >= 2,
    wxn: sctlr.wxn,
    pan: !el2 && f.pan >= 1,
    // SCTLR_EL1.EPAN is RES0 without FEAT_PAN3 (ID_AA64MMFR1_EL1.PAN = 0b0011), so a set bit has
    // no effect there. Without ID registers the features default to FEATURES_MAX (PAN3).
    epan: !el2 && sctlr.epan && f.pan >= 3,
    // HCR_EL2.DC or TGE: the EL1&0 stage 1 is treated as disabled (ASL AArch64.S1Enabled).
    mmuOn: sctlr.m && !hcr.s1Disabled,
    regime,
    el2,
    hcr,
    twoStage: hcr.stage2,
    permModel: el2 ? 1 : 0,
    s2: null,
    pie,
    poe,
    e0poe,
    plainPerms: !el2 && !pie && !poe && !e0poe,
    pirHi,
    pirLo,
    pire0Hi,
    pire0Lo,
    por1Hi,
    por1Lo,
    por0Hi,
    por0Lo,
  };
}

export { TWO32 };
