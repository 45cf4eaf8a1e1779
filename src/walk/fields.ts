/**
 * Descriptor field extraction on 32-bit halves, shared by every walker-like loop (the hardware
 * walk, range walks, ptdump, the machine's TLB model, audit and diff), so the address and
 * permission rules live in one place.
 */
import type { HalfContext, WalkContext } from "./context.js";

const TWO32 = 4294967296;

/** Entry kinds as numbers: invalid (incl. reserved encodings), table, leaf (block or page). */
export const ENTRY_INVALID = 0;
export const ENTRY_TABLE = 1;
export const ENTRY_LEAF = 2;

/** What the hardware makes of a descriptor at `level` (ASL AArch64.DecodeDescriptorType). */
export function entryKind(h: HalfContext, lo: number, level: number): number {
  if ((lo & 1) === 0) return ENTRY_INVALID;
  if ((lo & 2) !== 0) return level < 3 ? ENTRY_TABLE : ENTRY_LEAF;
  if (level === 3 || h.blockAt[level + 1] === 0) return ENTRY_INVALID;
  return ENTRY_LEAF;
}

/**
 * Output-address field of a descriptor (ASL AArch64.NextTableBase / AArch64.LeafBase) before
 * alignment: bits [47:0], plus OA[51:48] from bits [15:12] (64K, 52-bit OA) or OA[49:48] in place
 * and OA[51:50] from bits [9:8] (DS=1).
 */
function rawAddress(h: HalfContext, hi: number, lo: number, alignMask: number): number {
  let a: number;
  if (h.ds) {
    a = (hi & 0x3ffff) * TWO32 + ((lo & ~alignMask) >>> 0);
    if (h.oa52) a += ((lo >>> 8) & 3) * 2 ** 50;
  } else {
    a = (hi & 0xffff) * TWO32 + ((lo & ~alignMask) >>> 0);
    if (h.oa52 && h.gShift === 16) a += ((lo >>> 12) & 0xf) * 2 ** 48;
  }
  return a;
}

/** Next-level table address of a table descriptor, aligned to the granule. */
export function nextTableAddress(h: HalfContext, hi: number, lo: number): number {
  return rawAddress(h, hi, lo, (1 << h.gShift) - 1);
}

/**
 * The same as a 4 KiB frame number, computed without division: small integers for the common
 * case (tables below 2^43), exact doubles above.
 */
export function nextTablePfn(h: HalfContext, hi: number, lo: number): number {
  const low = (lo & ~((1 << h.gShift) - 1)) >>> 12;
  if (h.ds) {
    let p = (hi & 0x3ffff) * 1048576 + low;
    if (h.oa52) p += ((lo >>> 8) & 3) * 2 ** 38;
    return p;
  }
  let p = (hi & 0xffff) * 1048576 + low;
  if (h.oa52 && h.gShift === 16) p += ((lo >>> 12) & 0xf) * 2 ** 36;
  return p;
}

/** Output address of a leaf descriptor, aligned to the size of an entry at `level`. */
export function leafOutputAddress(h: HalfContext, hi: number, lo: number, level: number): number {
  const a = rawAddress(h, hi, lo, 0xfff);
  const size = 2 ** (h.shiftAt[level + 1] as number);
  return a - (a % size);
}

/**
 * Direct permissions of a leaf in the EL1&0 regime (ASL AArch64.S1DirectBasePermissions), before
 * PAN: bitmask 1 pr, 2 pw, 4 px, 8 ur, 16 uw, 32 ux. `apT`, `uxnT`, `pxnT` are the hierarchical
 * table restrictions accumulated on the way down (zero when TCR.HPDn=1).
 */
export function directPermissions(ctx: WalkContext, hi: number, lo: number, apT: number, uxnT: number, pxnT: number): number {
  let ap = (lo >>> 6) & 3;
  if (ctx.hd && (hi & 0x80000) !== 0) ap &= 1; // DBM with HD: AP[2] treated as 0 (writable-clean)
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
  if (ctx.wxn) {
    if (pw) px = 0;
    if (uw) ux = 0;
  }
  return 1 | (pw << 1) | (px << 2) | (ur << 3) | (uw << 4) | (ux << 5);
}
