/**
 * 64-bit value helpers. `bigint` is the public representation; hot paths split values into
 * two unsigned 32-bit halves (hi, lo) and never allocate.
 */
import { ParseError } from "./errors.js";

export const U64_MASK = (1n << 64n) - 1n;
const TWO32 = 4294967296;

/** Parse a 64-bit unsigned value: hex with 0x prefix (underscores and a single ` or _ separator allowed), or decimal. */
export function parseU64(text: string, what = "value"): bigint {
  const s = text.trim().replace(/[_`']/g, "");
  let v: bigint;
  if (/^0x[0-9a-f]+$/i.test(s)) {
    if (s.length > 18) throw new ParseError(`${what}: "${text}" has more than 64 bits (expected at most 16 hex digits)`);
    v = BigInt(s);
  } else if (/^[0-9]+$/.test(s)) {
    v = BigInt(s);
    if (v > U64_MASK) throw new ParseError(`${what}: "${text}" does not fit in 64 bits`);
  } else if (/^[0-9a-f]+$/i.test(s) && /[a-f]/i.test(s)) {
    if (s.length > 16) throw new ParseError(`${what}: "${text}" has more than 64 bits (expected at most 16 hex digits)`);
    v = BigInt(`0x${s}`);
  } else {
    throw new ParseError(`${what}: "${text}" is not a 64-bit number (expected hex like 0xffff000000000000 or decimal)`);
  }
  return v;
}

export function hex64(v: bigint): string {
  return `0x${(v & U64_MASK).toString(16).padStart(16, "0")}`;
}

export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

export function hiOf(v: bigint): number {
  return Number((v >> 32n) & 0xffffffffn);
}

export function loOf(v: bigint): number {
  return Number(v & 0xffffffffn);
}

export function fromHalves(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Exact conversion of a value below 2^53 to number. */
export function toNumber(v: bigint): number {
  return Number(v);
}

/** Combine halves into a number; exact while the value is below 2^53. */
export function halvesToNumber(hi: number, lo: number): number {
  return (hi >>> 0) * TWO32 + (lo >>> 0);
}

/** Extract bits [msb:lsb] of a bigint as number (width <= 53). */
export function bits(v: bigint, msb: number, lsb: number): number {
  return Number((v >> BigInt(lsb)) & ((1n << BigInt(msb - lsb + 1)) - 1n));
}

export function bit(v: bigint, n: number): boolean {
  return ((v >> BigInt(n)) & 1n) === 1n;
}

/** Mask of bits [msb:lsb] (0 <= lsb <= msb <= 63) of a 64-bit value, as [hi, lo] 32-bit words. */
export function maskHalves(msb: number, lsb: number): [number, number] {
  let hi = 0;
  let lo = 0;
  for (let b = lsb; b <= msb; b++) {
    if (b >= 32) hi |= 1 << (b - 32);
    else lo |= 1 << b;
  }
  return [hi >>> 0, lo >>> 0];
}
