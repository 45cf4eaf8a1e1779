/**
 * Permission overlays (FEAT_S1POE): the POIndex a stage-1 descriptor selects and what the 4-bit
 * fields of POR_EL0 / POR_EL1 / POR_EL2 allow (Arm ARM D8.4.1.4 "Permission overlays"; ASL
 * AArch64.S1OverlayPermissions). Overlays only ever remove permissions.
 */
import { PI_R, PI_W, PI_X } from "./pie.js";

/** Stage-1 POIndex[2:0] = descriptor bits [62:60] (Linux PTE_PO_IDX_0..2), from the high half. */
export function poIndexOf(hi: number): number {
  return (hi >>> 28) & 7;
}

export function poIndex(desc: bigint): number {
  return Number((desc >> 60n) & 7n);
}

/** Stage-2 S2POIndex[3:0] = descriptor bits [62:59] (FEAT_S2POE). */
export function s2PoIndexOf(hi: number): number {
  return (hi >>> 27) & 0xf;
}

/**
 * POR value → permission bits in the PI_R / PI_W / PI_X encoding of pie.ts: 0000 none, 0001 R,
 * 0010 X, 0011 RX, 0100 W, 0101 RW, 0110 WX, 0111 RWX, 1xxx reserved (no access).
 */
export const POR_PERMS: Uint8Array = Uint8Array.from(
  Array.from({ length: 16 }, (_, v) => (v >= 8 ? 0 : ((v & 1) !== 0 ? PI_R : 0) | ((v & 2) !== 0 ? PI_X : 0) | ((v & 4) !== 0 ? PI_W : 0))),
);

export interface OverlayPerm {
  readonly value: number;
  readonly name: string;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  readonly reserved: boolean;
}

export function decodeOverlayPerm(value: number): OverlayPerm {
  const v = value & 0xf;
  const p = POR_PERMS[v] as number;
  const read = (p & PI_R) !== 0;
  const write = (p & PI_W) !== 0;
  const exec = (p & PI_X) !== 0;
  const name = v >= 8 ? "reserved (no access)" : v === 0 ? "none" : `${read ? "R" : ""}${write ? "W" : ""}${exec ? "X" : ""}`;
  return { value: v, name, read, write, exec, reserved: v >= 8 };
}
