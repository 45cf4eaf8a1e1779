/**
 * Descriptor field extraction on 32-bit halves, shared by every walker-like loop (the hardware
 * walk, range walks, ptdump, the machine's TLB model, audit and diff), so the address and
 * permission rules live in one place.
 */
import { addressOf, type EntryKindCode, entryKindOf } from "../arch/descriptor.js";
import type { HalfContext, WalkContext } from "./context.js";

/** What the hardware makes of a descriptor at `level` in this half (arch entryKindOf). */
export function entryKind(h: Pick<HalfContext, "fmt">, lo: number, level: number): EntryKindCode {
  return entryKindOf(h.fmt, lo, level);
}

/** Next-level table address of a table descriptor, aligned to the granule. */
export function nextTableAddress(h: Pick<HalfContext, "fmt" | "gShift">, hi: number, lo: number): number {
  return addressOf(h.fmt, hi, lo, h.gShift);
}

/**
 * The same as a 4 KiB frame number (exact: table addresses are multiples of 4 KiB).
 */
export function nextTablePfn(h: HalfContext, hi: number, lo: number): number {
  return addressOf(h.fmt, hi, lo, h.gShift) / 4096;
}

/** Output address of a leaf descriptor, aligned to the size of an entry at `level`. */
export function leafOutputAddress(h: Pick<HalfContext, "fmt" | "shiftAt">, hi: number, lo: number, level: number): number {
  return addressOf(h.fmt, hi, lo, h.shiftAt[level + 1] as number);
}

/**
 * Direct permissions of a leaf in the EL1&0 regime (ASL AArch64.S1DirectBasePermissions), before
 * PAN: bitmask 1 pr, 2 pw, 4 px, 8 ur, 16 uw, 32 ux. `apT`, `uxnT`, `pxnT` are the hierarchical
 * table restrictions accumulated on the way down (zero when TCR.HPDn=1).
 */
export function directPermissions(ctx: WalkContext, hi: number, lo: number, apT: number, uxnT: number, pxnT: number): number {
  let ap = (lo >>> 6) & 3;
  if (ctx.hd === true && (hi & 0x80000) !== 0) ap &= 1; // DBM with HD: AP[2] treated as 0 (writable-clean)
  let pw = (ap & 2) === 0 ? 1 : 0;
  let ur = ap & 1;
  let uw = ap === 1 ? 1 : 0;
  if ((apT & 1) !== 0) {
    // APTable[0]: no EL0 access below this table.
    ur = 0;
    uw = 0;
  }
  if ((apT & 2) !== 0) {
    // APTable[1]: no write access below this table.
    pw = 0;
    uw = 0;
  }
  // EL0-writable memory is never EL1-executable.
  let px = ((hi >>> 21) & 1) | pxnT | uw ? 0 : 1;
  let ux = ((hi >>> 22) & 1) | uxnT ? 0 : 1;
  if (ctx.wxn === true) {
    if (pw) px = 0;
    if (uw) ux = 0;
  }
  return 1 | (pw << 1) | (px << 2) | (ur << 3) | (uw << 4) | (ux << 5);
}

/** Permissions outside the EL1&0 stage 1 (WalkContext.permModel 1 EL2 regime, 2 stage 2). */
export function regimePermissions(ctx: WalkContext, hi: number, lo: number, apT: number, xnT: number): number {
  return ctx.permModel === 1 ? el2Permissions(ctx, hi, lo, apT, xnT) : stage2Permissions(ctx, hi, lo);
}

/**
 * Direct permissions in the EL2 regime (E2H=0), which has no EL0 (ASL AArch64.S1DirectBasePermissions
 * for a regime without an unprivileged level; vmsa-regimes.md §2.1): always readable, AP[2] (or
 * APTable[1]) removes write, XN is bit 54 (or XNTable, bit 60), AP[1], PXN and APTable[0] have no
 * meaning; SCTLR_EL2.WXN makes writable memory non-executable. Bitmask as directPermissions.
 */
export function el2Permissions(ctx: WalkContext, hi: number, lo: number, apT: number, xnT: number): number {
  let ap2 = (lo >>> 7) & 1;
  if (ctx.hd && (hi & 0x80000) !== 0) ap2 = 0; // DBM with HD: writable-clean
  const pw = ap2 === 0 && (apT & 2) === 0 ? 1 : 0;
  let px = ((hi >>> 22) & 1) | xnT ? 0 : 1;
  if (ctx.wxn && pw) px = 0;
  return 1 | (pw << 1) | (px << 2);
}

/**
 * Stage-2 direct permissions (ASL AArch64.S2DirectBasePermissions; vmsa-regimes.md §1.5) in the
 * same bitmask, EL1 and EL0 alike for data: S2AP[0] read, S2AP[1] write (or DBM with HA=HD=1),
 * execute per XN[1:0] (bit 53 only with FEAT_XNX): 00 both, 01 EL0 only, 10 neither, 11 EL1 only.
 */
export function stage2Permissions(ctx: WalkContext, hi: number, lo: number): number {
  const r = (lo >>> 6) & 1;
  const w = (lo >>> 7) & 1 || (ctx.hd && (hi & 0x80000) !== 0) ? 1 : 0;
  const xn = ((hi >>> 21) & 2) | (ctx.s2?.xnx ? (hi >>> 21) & 1 : 0);
  const x1 = xn === 0 || xn === 3 ? 1 : 0;
  const x0 = xn === 0 || xn === 1 ? 1 : 0;
  return r | (w << 1) | (x1 << 2) | (r << 3) | (w << 4) | (x0 << 5);
}
