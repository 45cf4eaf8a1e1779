/** Small formatting helpers shared by the views. */
import { formatSize } from "../../../src/arch/granule.js";
import { decodePar as decodeArchPar } from "../../../src/arch/par.js";
import { U64_MASK } from "../../../src/arch/u64.js";

export const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
export const hex16 = (v: bigint): string => `0x${(v & U64_MASK).toString(16).padStart(16, "0")}`;

/**
 * PAR_EL1 in words, from the library's decoder (src/arch/par.ts; Arm ARM PAR_EL1): F=0 carries
 * PA/ATTR/SH/NS, F=1 carries FST and, for a stage-2 fault, S=1 and PTW (a stage-1 table read).
 */
export function decodePar(par: bigint): string {
  const p = decodeArchPar(par);
  if (p.kind === "fault") {
    const what = p.fault ? ` ${p.fault}${p.level === undefined ? "" : ` L${p.level}`}` : "";
    const s2 = p.stage === 2 ? ` S=1 (stage 2) PTW=${p.s1ptw ? "1 (a stage-1 table read)" : "0"}` : " S=0";
    return `F=1 FST=0x${p.fst.toString(16).padStart(2, "0")}${what}${s2}`;
  }
  const sh = { "non-shareable": "NSH", reserved: "res", outer: "OSH", inner: "ISH" }[p.sh];
  return `F=0 PA=${hex(p.pa)} ATTR=0x${p.attr.toString(16).padStart(2, "0")} (${p.memoryType}) SH=${sh} NS=${p.ns ? 1 : 0}`;
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

const UNITS = ["", "K", "M", "G", "T", "P", "E"];

/**
 * A size in the units the kernel's ptdump uses (K M G T P E). A whole number of KiB that reads as
 * at most six digits in its largest exact unit prints exactly as ptdump does (arch formatSize: 4K,
 * 3264K, 992M, 130560G); any other (a zoomed window, a clipped run) in the largest unit it
 * reaches, to one decimal, marked "≈": 128 TiB less 896 MiB is "≈128T", not "134216832M".
 */
export function sizeText(bytes: number): string {
  const exact = formatSize(bytes);
  const n = Number.parseInt(exact, 10);
  if (n < 2 ** 20 && (bytes < 1024 || !/^\d+$/.test(exact))) return exact;
  let u = 0;
  while (u < UNITS.length - 1 && bytes >= 1024 ** (u + 1)) u++;
  return `≈${(bytes / 1024 ** u).toFixed(1).replace(/\.0$/, "")}${UNITS[u]}`;
}
