/**
 * Permission indirection (FEAT_S1PIE, FEAT_S2PIE): the PIIndex a descriptor selects and what the
 * 4-bit values of PIR_ELx / PIRE0_ELx / S2PIR_EL2 grant (Arm ARM D8.4.1.3 "Indirect permissions";
 * ASL AArch64.S1IndirectBasePermissions, AArch64.S2IndirectBasePermissions). Each of those
 * registers holds 16 fields, Perm<n> at bits [4n+3:4n].
 */
import { ParseError } from "./errors.js";

/**
 * Stage-1 PIIndex[3:0] = {bit 54 (UXN), bit 53 (PXN), bit 51 (DBM), bit 6 (AP[1])}: PIIndex[0]
 * is descriptor bit 6, [1] bit 51, [2] bit 53, [3] bit 54 (ASL AArch64.S1ApplyOutputPerms;
 * Linux PTE_PI_IDX_0..3). Stage 2 uses the same four bits (ASL AArch64.S2ApplyOutputPerms).
 * Takes the descriptor as 32-bit halves (hot path).
 */
export function piIndexOf(hi: number, lo: number): number {
  return ((lo >>> 6) & 1) | (((hi >>> 19) & 1) << 1) | (((hi >>> 21) & 3) << 2);
}

/** The same from a 64-bit descriptor. */
export function piIndex(desc: bigint): number {
  return piIndexOf(Number((desc >> 32n) & 0xffffffffn), Number(desc & 0xffffffffn));
}

/** The 4-bit field `n` (0..15) of a PIR/PIRE0/S2PIR/POR value, as a number (no BigInt in the walk: halves). */
export function permField(hi: number, lo: number, n: number): number {
  return n < 8 ? (lo >>> (4 * n)) & 0xf : (hi >>> (4 * (n - 8))) & 0xf;
}

/** Bits of a decoded stage-1 indirect permission (PI_S1_PERMS), as the walk uses them. */
export const PI_R = 1;
export const PI_W = 2;
export const PI_X = 4;
export const PI_GCS = 8;
/** Value 0b0110: read, write and execute "with WXN semantics" (execute or write is removed). */
export const PI_WXN = 16;
/** Values 0b0xxx: the permission overlay (FEAT_S1POE) applies to the page. */
export const PI_OVERLAY = 32;

/**
 * Stage-1 PIR/PIRE0 value → permission bits (ASL AArch64.S1IndirectBasePermissions):
 *   0000 none, 0001 R, 0010 X, 0011 RX, 0100 reserved (none), 0101 RW, 0110 RWX with WXN,
 *   0111 RWX — all overlay-able (bit 3 clear); 1000 R, 1001 R + GCS, 1010 RX, 1011 reserved,
 *   1100 RW, 1101 reserved, 1110 RWX, 1111 reserved — not overlay-able.
 * Reserved values grant nothing (the Arm ARM makes them behave as no access).
 */
export const PI_S1_PERMS: Uint8Array = Uint8Array.from([
  PI_OVERLAY,
  PI_OVERLAY | PI_R,
  PI_OVERLAY | PI_X,
  PI_OVERLAY | PI_R | PI_X,
  PI_OVERLAY,
  PI_OVERLAY | PI_R | PI_W,
  PI_OVERLAY | PI_R | PI_W | PI_X | PI_WXN,
  PI_OVERLAY | PI_R | PI_W | PI_X,
  PI_R,
  PI_R | PI_GCS,
  PI_R | PI_X,
  0,
  PI_R | PI_W,
  0,
  PI_R | PI_W | PI_X,
  0,
]);

/** Linux's names for the stage-1 values (arch/arm64/include/asm/pgtable-prot.h PIE_*), reserved ones undefined. */
export const PI_S1_NAMES: readonly (string | undefined)[] = [
  "NONE_O",
  "R_O",
  "X_O",
  "RX_O",
  undefined,
  "RW_O",
  "RWnX_O",
  "RWX_O",
  "R",
  "GCS",
  "RX",
  undefined,
  "RW",
  undefined,
  "RWX",
  undefined,
];

export interface S1IndirectPerm {
  /** The 4-bit value. */
  readonly value: number;
  readonly name: string;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  /** GCS accesses permitted (value 0b1001; ordinary writes are still denied). */
  readonly gcs: boolean;
  /** Value 0b0110: write and execute are not both granted (WXN semantics). */
  readonly wxn: boolean;
  /** The permission overlay applies (value bit 3 clear). */
  readonly overlay: boolean;
  readonly reserved: boolean;
}

export function decodeS1IndirectPerm(value: number): S1IndirectPerm {
  const v = value & 0xf;
  const p = PI_S1_PERMS[v] as number;
  const name = PI_S1_NAMES[v];
  return {
    value: v,
    name: name ?? "reserved (no access)",
    read: (p & PI_R) !== 0,
    write: (p & PI_W) !== 0,
    exec: (p & PI_X) !== 0,
    gcs: (p & PI_GCS) !== 0,
    wxn: (p & PI_WXN) !== 0,
    overlay: (p & PI_OVERLAY) !== 0,
    reserved: name === undefined,
  };
}

/** Bits of a decoded stage-2 indirect permission. */
export const S2PI_R = 1;
export const S2PI_W = 2;
/** Execute at EL1 (privileged) / at EL0. */
export const S2PI_PX = 4;
export const S2PI_UX = 8;
/** MRO: writes only by hardware walk/RCW updates (FEAT_THE); TopLevel0/1 checks. */
export const S2PI_MRO = 16;

/**
 * S2PIR_EL2 value → permission bits (ASL AArch64.S2IndirectBasePermissions): 0000 none, 0001
 * reserved, 0010 MRO, 0011 MRO+TL1, 0100 W only, 0101 reserved, 0110 MRO+TL0, 0111 MRO+TL01,
 * 1000 R, 1001 R ux, 1010 R px, 1011 R px ux, 1100 RW, 1101 RW ux, 1110 RW px, 1111 RW px ux.
 * MRO grants read (and walk/RCW writes, not modelled).
 */
export const PI_S2_PERMS: Uint8Array = Uint8Array.from([
  0,
  0,
  S2PI_MRO | S2PI_R,
  S2PI_MRO | S2PI_R,
  S2PI_W,
  0,
  S2PI_MRO | S2PI_R,
  S2PI_MRO | S2PI_R,
  S2PI_R,
  S2PI_R | S2PI_UX,
  S2PI_R | S2PI_PX,
  S2PI_R | S2PI_PX | S2PI_UX,
  S2PI_R | S2PI_W,
  S2PI_R | S2PI_W | S2PI_UX,
  S2PI_R | S2PI_W | S2PI_PX,
  S2PI_R | S2PI_W | S2PI_PX | S2PI_UX,
]);

const S2_NAMES: readonly string[] = [
  "none",
  "reserved (no access)",
  "MRO",
  "MRO, TopLevel1",
  "W",
  "reserved (no access)",
  "MRO, TopLevel0",
  "MRO, TopLevel0+1",
  "R",
  "R, ux",
  "R, px",
  "R, px ux",
  "RW",
  "RW, ux",
  "RW, px",
  "RW, px ux",
];

export interface S2IndirectPerm {
  readonly value: number;
  readonly name: string;
  readonly read: boolean;
  readonly write: boolean;
  readonly el1Exec: boolean;
  readonly el0Exec: boolean;
  readonly mro: boolean;
}

export function decodeS2IndirectPerm(value: number): S2IndirectPerm {
  const v = value & 0xf;
  const p = PI_S2_PERMS[v] as number;
  return {
    value: v,
    name: S2_NAMES[v] as string,
    read: (p & S2PI_R) !== 0,
    write: (p & S2PI_W) !== 0,
    el1Exec: (p & S2PI_PX) !== 0,
    el0Exec: (p & S2PI_UX) !== 0,
    mro: (p & S2PI_MRO) !== 0,
  };
}

/** The 16 fields of a PIR-format register value, Perm0 first. */
export function permFields(value: bigint): number[] {
  return Array.from({ length: 16 }, (_, n) => Number((value >> BigInt(4 * n)) & 0xfn));
}

/** Build a PIR-format value from 16 field values (index → value); missing entries are 0. */
export function encodePermFields(values: Readonly<Record<number, number>>): bigint {
  let v = 0n;
  for (const [k, val] of Object.entries(values)) {
    const n = Number(k);
    if (!Number.isInteger(n) || n < 0 || n > 15 || !Number.isInteger(val) || val < 0 || val > 15) {
      throw new ParseError(`permission field ${k}=${val}: expected index 0..15 and value 0..15`);
    }
    v |= BigInt(val) << BigInt(4 * n);
  }
  return v;
}
