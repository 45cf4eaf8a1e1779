/**
 * The permission stage of a stage-1 EL1&0 walk: what a leaf grants, given the registers, as one
 * call for the walker's hot path (no allocation, no BigInt). Direct permissions (AP, UXN, PXN,
 * hierarchical table bits, SCTLR.WXN, PAN) or, with TCR2_EL1.PIE, indirect permissions through
 * PIR_EL1/PIRE0_EL1; then permission overlays (POR_EL1/POR_EL0) when TCR2_EL1.POE/E0POE are set.
 * ASL AArch64.S1ComputePermissions, AArch64.S1DirectBasePermissions,
 * AArch64.S1IndirectBasePermissions, AArch64.S1OverlayPermissions (Arm ARM D8.4).
 *
 * The result word:
 *   bits 0-5   1 pr, 2 pw, 4 px, 8 ur, 16 uw, 32 ux (effective permissions; PAN applied when asked)
 *   bits 6-7   64 privileged GCS access, 128 unprivileged GCS access (PIE value 0b1001 only)
 *   bits 8-15  the same layout: permissions the overlay denies (when one applies), whatever the
 *              base permission grants: ASL AArch64.S1CheckPermissions / S2CheckPermissions test
 *              the overlay first, so a Permission fault for one of them reports PAR_EL1/ESR
 *              Overlay=1
 *   bit 16     PERM_DIRTY: PIE with nDirty (descriptor bit 7) = 1 and no hardware dirty-state
 *              update (TCR.HA=HD=1): a write the permissions allow takes a Permission fault with
 *              DirtyBit=1 (ASL AArch64.S1CheckPermissions).
 */
import {
  PI_GCS,
  PI_OVERLAY,
  PI_R,
  PI_S1_PERMS,
  PI_S2_PERMS,
  PI_W,
  PI_WXN,
  PI_X,
  permField,
  S2PI_PX,
  S2PI_R,
  S2PI_UX,
  S2PI_W,
} from "../arch/pie.js";
import { POR_PERMS, poIndexOf, s2PoIndexOf } from "../arch/poe.js";
import type { WalkContext } from "./context.js";
import { directPermissions, regimePermissions } from "./fields.js";

export const PERM_PR = 1;
export const PERM_PW = 2;
export const PERM_PX = 4;
export const PERM_UR = 8;
export const PERM_UW = 16;
export const PERM_UX = 32;
export const PERM_PGCS = 64;
export const PERM_UGCS = 128;
export const PERM_OVERLAY_SHIFT = 8;
export const PERM_DIRTY = 1 << 16;

const RWX = PI_R | PI_W | PI_X;

/**
 * Overlay and WXN for one privilege level (ASL AArch64.S1ComputePermissions): `base` in the PI_*
 * encoding, `ovOn` whether an overlay is enabled for the level, `por` the POR field value.
 * Returns the effective R/W/X in bits 0-2 and the ones the overlay denies in bits 8-10.
 */
function overlaid(base: number, ovOn: boolean, por: number): number {
  let r = base & RWX;
  const applies = ovOn && (base & PI_OVERLAY) !== 0;
  let ov = applies ? (POR_PERMS[por] as number) : RWX;
  if ((base & PI_WXN) !== 0) {
    // PI value 0b0110 (R W X with WXN): without an overlay granting X, execute goes; with one,
    // the overlay's write goes (ASL S1ComputePermissions; KVM at.c cites R_QXXPC/R_NPBXC).
    if (applies && (ov & PI_X) !== 0) ov &= ~PI_W;
    else r &= ~PI_X;
  }
  // ASL AArch64.S1CheckPermissions tests the overlay before the base permission: an access the
  // overlay denies is a Permission fault with Overlay=1 whatever the base grants.
  return (r & ov) | ((~ov & RWX) << 8);
}

/** pr/pw/px (bits 0-2 of a permission word) → the PI encoding (R=1, W=2, X=4). */
function fromPerm(perm: number): number {
  return (perm & 1) | ((perm & 2) !== 0 ? PI_W : 0) | ((perm & 4) !== 0 ? PI_X : 0);
}

/** Bits 0-2 of the PI encoding (R=1, W=2, X=4) → the pr/pw/px layout, shifted to `shift`. */
function toPerm(piBits: number, shift: number): number {
  return (((piBits & PI_R) !== 0 ? 1 : 0) | ((piBits & PI_W) !== 0 ? 2 : 0) | ((piBits & PI_X) !== 0 ? 4 : 0)) << shift;
}

/**
 * Permissions of the leaf `hi`:`lo` (32-bit halves). `apT`, `uxnT`, `pxnT` are the hierarchical
 * table restrictions accumulated on the way down (ignored under PIE); `pan` is whether
 * PSTATE.PAN applies to this access (an EL1 data access or AT S1E1RP/WP).
 */
export function leafPermissions(ctx: WalkContext, hi: number, lo: number, apT: number, uxnT: number, pxnT: number, pan: boolean): number {
  // Plain direct permissions stay small enough to be inlined into the walk loop.
  if (ctx.plainPerms) return directWithPan(ctx, hi, lo, apT, uxnT, pxnT, pan);
  // The EL2 regime and stage 2 have their own direct models (fields.ts regimePermissions); with
  // indirection, the EL2 regime reads PIR_EL2 only (no EL0: PIRE0 is 0 in its context) and stage 2
  // reads S2PIR_EL2.
  if (ctx.permModel !== 0) {
    if (!ctx.pie) return regimePermissions(ctx, hi, lo, apT, uxnT);
    return ctx.permModel === 2 ? stage2IndirectPermissions(ctx, hi, lo) : indirectPermissions(ctx, hi, lo, false);
  }
  return ctx.pie ? indirectPermissions(ctx, hi, lo, pan) : overlaidDirectPermissions(ctx, hi, lo, apT, uxnT, pxnT, pan);
}

/**
 * PAN on direct permissions `perms` for an access PSTATE.PAN applies to: EL1 data accesses to
 * EL0-accessible memory (and with EPAN, EL0-executable memory) fail (ASL AArch64.S1DirectBasePermissions).
 * Tiny on purpose: walkRaw's plain case inlines directPermissions and this (inlining budget).
 */
export function panDirect(ctx: WalkContext, perms: number): number {
  if (ctx.pan === true && ((perms & PERM_UR) !== 0 || (ctx.epan === true && (perms & PERM_UX) !== 0))) return perms & ~(PERM_PR | PERM_PW);
  return perms;
}

/** Direct permissions, then PAN when it applies. */
function directWithPan(ctx: WalkContext, hi: number, lo: number, apT: number, uxnT: number, pxnT: number, pan: boolean): number {
  const perms = directPermissions(ctx, hi, lo, apT, uxnT, pxnT);
  return pan ? panDirect(ctx, perms) : perms;
}

/** Direct permissions with overlays: under direct permissions every page is subject to the overlay. */
function overlaidDirectPermissions(
  ctx: WalkContext,
  hi: number,
  lo: number,
  apT: number,
  uxnT: number,
  pxnT: number,
  pan: boolean,
): number {
  let perms = directWithPan(ctx, hi, lo, apT, uxnT, pxnT, pan);
  // SCTLR_EL1.WXN is applied together with the overlay (ASL AArch64.S1ComputePermissions): a
  // writable and executable base keeps X and loses the overlay's W when the overlay grants X.
  // directPermissions already removed X for WXN: put it back and carry WXN as the PI flag.
  let pWxn = 0;
  let uWxn = 0;
  if (ctx.wxn) {
    const uw = (perms & PERM_UW) !== 0;
    const px = ((hi >>> 21) & 1) | pxnT || uw ? 0 : PERM_PX;
    const ux = ((hi >>> 22) & 1) | uxnT ? 0 : PERM_UX;
    if ((perms & PERM_PW) !== 0 && px !== 0) pWxn = PI_WXN;
    if (uw && ux !== 0) uWxn = PI_WXN;
    perms |= px | ux;
  }
  const po = poIndexOf(hi);
  const p = overlaid(PI_OVERLAY | pWxn | fromPerm(perms), ctx.poe, permField(ctx.por1Hi, ctx.por1Lo, po));
  const u = overlaid(PI_OVERLAY | uWxn | fromPerm(perms >>> 3), ctx.e0poe, permField(ctx.por0Hi, ctx.por0Lo, po));
  return toPerm(p, 0) | toPerm(u, 3) | (toPerm(p >>> 8, 0) << 8) | (toPerm(u >>> 8, 3) << 8);
}

/**
 * Indirect permissions: PIIndex from bits {54, 53, 51, 6}; AP[2:1], UXN, PXN, DBM, the
 * hierarchical table bits and SCTLR_EL1.WXN have no effect.
 */
function indirectPermissions(ctx: WalkContext, hi: number, lo: number, pan: boolean): number {
  const idx = ((lo >>> 6) & 1) | (((hi >>> 19) & 1) << 1) | (((hi >>> 21) & 3) << 2);
  let p = PI_S1_PERMS[permField(ctx.pirHi, ctx.pirLo, idx)] as number;
  const upi = permField(ctx.pire0Hi, ctx.pire0Lo, idx);
  let u = PI_S1_PERMS[upi] as number;
  // Privileged execute or GCS together with unprivileged write or GCS: neither level gets any
  // access (ASL S1IndirectBasePermissions; KVM at.c cites R_VFPJF).
  if ((p & (PI_X | PI_GCS)) !== 0 && (u & (PI_W | PI_GCS)) !== 0) {
    p &= ~(RWX | PI_GCS);
    u &= ~(RWX | PI_GCS);
  }
  // PAN under PIE: privileged reads and writes fail when the PIRE0 value is not 0b0000, execute-
  // only and the reserved (no-access) values included, whatever SCTLR_EL1.EPAN says (ASL
  // AArch64.S1IndirectBasePermissions tests the raw value; QEMU tests the decoded permissions,
  // deviation qemu-pie-pan-reserved-pire0).
  if (pan && ctx.pan && upi !== 0) p &= ~(PI_R | PI_W);
  const po = ctx.poe || ctx.e0poe ? poIndexOf(hi) : 0;
  const pe = overlaid(p, ctx.poe, permField(ctx.por1Hi, ctx.por1Lo, po));
  const ue = overlaid(u, ctx.e0poe, permField(ctx.por0Hi, ctx.por0Lo, po));
  let word = toPerm(pe, 0) | toPerm(ue, 3) | (toPerm(pe >>> 8, 0) << 8) | (toPerm(ue >>> 8, 3) << 8);
  if ((p & PI_GCS) !== 0) word |= PERM_PGCS;
  if ((u & PI_GCS) !== 0) word |= PERM_UGCS;
  // Bit 7 is nDirty under PIE: a clean page is write-protected unless hardware updates the
  // dirty state (then it clears the bit on the first write, for every page: no DBM needed).
  if ((lo & 0x80) !== 0 && !ctx.hd) word |= PERM_DIRTY;
  return word;
}

/**
 * Stage-2 indirect permissions (FEAT_S2PIE, VTCR_EL2.S2PIE=1; ASL AArch64.S2IndirectBasePermissions):
 * S2PIR_EL2 (in the stage-2 context's pirHi/pirLo) at the PIIndex of bits {54, 53, 51, 6}; data
 * permissions are the same for EL1 and EL0, execute is per level (px/ux). MRO values grant read
 * (their write is for hardware walk/RCW updates only, not modelled). Bit 7 is Dirty (1 = dirty):
 * a write to a clean page without hardware dirty-state update (VTCR_EL2.HA=HD=1) is a Permission
 * fault with DirtyBit (PERM_DIRTY).
 *
 * FEAT_S2POE (ctx.poe: VTCR_EL2.S2PIE=S2POE=1): S2POR_EL1 (por1 fields) at the S2POIndex of bits
 * [62:59] is decoded with the same table and only removes (ASL AArch64.S2OverlayPermissions). The
 * overlay is checked before the base permission (ASL AArch64.S2CheckPermissions), so an access
 * the overlay denies is a Permission fault with Overlay=1 whatever S2PIR_EL2 grants: its bits
 * 8-13 mark what the overlay denies, not only what it took from the base.
 */
function stage2IndirectPermissions(ctx: WalkContext, hi: number, lo: number): number {
  const idx = ((lo >>> 6) & 1) | (((hi >>> 19) & 1) << 1) | (((hi >>> 21) & 3) << 2);
  let word = s2PermWord(PI_S2_PERMS[permField(ctx.pirHi, ctx.pirLo, idx)] as number);
  if (ctx.poe) {
    const ov = s2PermWord(PI_S2_PERMS[permField(ctx.por1Hi, ctx.por1Lo, s2PoIndexOf(hi))] as number);
    word = (word & ov) | ((~ov & 0x3f) << PERM_OVERLAY_SHIFT);
  }
  if ((lo & 0x80) === 0 && !ctx.hd) word |= PERM_DIRTY;
  return word;
}

/** A decoded S2PIR/S2POR value (PI_S2_PERMS) as a permission word: data alike at EL1 and EL0, execute per level. */
function s2PermWord(v: number): number {
  const r = (v & S2PI_R) !== 0 ? 1 : 0;
  const w = (v & S2PI_W) !== 0 ? 1 : 0;
  const px = (v & S2PI_PX) !== 0 ? 1 : 0;
  const ux = (v & S2PI_UX) !== 0 ? 1 : 0;
  return r | (w << 1) | (px << 2) | (r << 3) | (w << 4) | (ux << 5);
}
