/** Small formatting helpers shared by the views. */
import { U64_MASK } from "../../../src/arch/u64.js";

export const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
export const hex16 = (v: bigint): string => `0x${(v & U64_MASK).toString(16).padStart(16, "0")}`;

/** PAR_EL1 fields (Arm ARM PAR_EL1: F=0 carries PA/ATTR/SH/NS, F=1 carries FST). */
export function decodePar(par: bigint): string {
  if ((par & 1n) === 1n) {
    const fst = Number((par >> 1n) & 0x3fn);
    return `F=1 FST=0x${fst.toString(16).padStart(2, "0")}`;
  }
  const pa = par & 0x000f_ffff_ffff_f000n;
  const attr = Number(par >> 56n) & 0xff;
  const sh = Number((par >> 7n) & 3n);
  const ns = Number((par >> 9n) & 1n);
  return `F=0 PA=${hex(pa)} ATTR=0x${attr.toString(16).padStart(2, "0")} SH=${["NSH", "res", "OSH", "ISH"][sh]} NS=${ns}`;
}

/** Access code used in links: r/w/x then EL (0/1), optional p for PAN. */
export function parseAccess(s: string | undefined): { type: "read" | "write" | "exec"; el: 0 | 1; pan?: boolean } {
  const m = /^([rwx])([01])(p?)$/.exec(s ?? "");
  if (!m) return { type: "read", el: 1 };
  const type = m[1] === "r" ? "read" : m[1] === "w" ? "write" : "exec";
  return { type, el: m[2] === "0" ? 0 : 1, pan: m[3] === "p" ? true : undefined };
}

export function accessText(a: { type: string; el: number; pan?: boolean }): string {
  return `${a.type[0]}${a.el}${a.pan ? "p" : ""}`;
}
