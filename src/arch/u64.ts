/**
 * 64-bit value helpers. `bigint` is the public representation; hot paths split values into
 * two unsigned 32-bit halves (hi, lo) and never allocate.
 */
import { ParseError } from "./errors.js";

export const U64_MASK = (1n << 64n) - 1n;
const TWO32 = 4294967296;

/**
 * The number convention (one parser for the CLI, register/marker/address files, FILE@PA banks and
 * the web UI): addresses, descriptors and register values are HEX whether or not they carry `0x`
 * (`40530001` == `0x40530001`, as crash reads them; vmsa prints hex). Counts (levels, bits, TnSZ,
 * ports, indices) are DECIMAL. Sizes are hex like addresses, or a decimal count with a K/M/G/T
 * (binary) suffix. Anything else (signs, other radix prefixes, empty, more than 64 bits, junk) is
 * rejected with a ParseError naming `what`.
 */
const HEX_RE = /^(?:0x)?([0-9a-f]+(?:[_`'][0-9a-f]+)*)$/i;

/** Parse an address, descriptor or register value: hex, `0x` optional, `_`/`'`/backtick digit separators allowed. */
export function parseU64(text: string, what = "value"): bigint {
  const s = text.trim();
  // `0b…`/`0o…` read as hex digits would silently mean something else than a binary/octal literal.
  if (/^0[bo]/i.test(s)) {
    throw new ParseError(
      `${what}: "${text}" is ambiguous: 0b/0o radix prefixes are not accepted (hex is the convention; write 0x${s} if you mean hex)`,
    );
  }
  const m = HEX_RE.exec(s);
  if (!m) {
    const why = s === "" ? "empty" : /^[+-]/.test(s) ? "signed" : "not hex digits";
    throw new ParseError(
      `${what}: "${text}" is not a 64-bit number (${why}; expected hex, 0x optional, e.g. 0xffff000000000000 or 40530001)`,
    );
  }
  const digits = (m[1] as string).replace(/[_`']/g, "").replace(/^0+(?=.)/, "");
  if (digits.length > 16) throw new ParseError(`${what}: "${text}" has more than 64 bits (expected at most 16 hex digits)`);
  return BigInt(`0x${digits}`);
}

/** Parse a count (level, bits, TnSZ, port, index): decimal digits only, within [min, max]. */
export function parseCount(text: string, what: string, min: number, max: number): number {
  const s = text.trim();
  if (!/^[0-9]{1,15}$/.test(s)) {
    const why = /^0x/i.test(s) ? " (counts are decimal, not hex)" : "";
    throw new ParseError(`${what}: "${text}" is not a decimal count${why} (expected ${min}..${max})`);
  }
  const n = Number(s);
  if (n < min || n > max) throw new ParseError(`${what}: "${text}" is out of range (expected ${min}..${max})`);
  return n;
}

const SIZE_SHIFT = { K: 10n, M: 20n, G: 30n, T: 40n } as const;

/** Parse a size: hex like an address (`0x4000`, `4000`), or a decimal count with a K/M/G/T suffix (`64M`, `16K`). */
export function parseSize(text: string, what: string): bigint {
  const m = /^([0-9]{1,15})([KMGT])(?:i?B)?$/i.exec(text.trim());
  if (m) {
    const v = BigInt(m[1] as string) << SIZE_SHIFT[(m[2] as string).toUpperCase() as keyof typeof SIZE_SHIFT];
    if (v > U64_MASK) throw new ParseError(`${what}: "${text}" has more than 64 bits`);
    return v;
  }
  try {
    return parseU64(text, what);
  } catch {
    throw new ParseError(
      `${what}: "${text}" is not a size (expected hex like 0x4000, 0x optional, or a decimal count with K, M or G, e.g. 64M)`,
    );
  }
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

/**
 * (hi:lo) + add, a 64-bit sum over unsigned 32-bit halves with `add` an exact count below 2^53 (a
 * run's j-th descriptor is its first plus j entry sizes): the low half of the sum.
 */
export function sumLo(lo: number, add: number): number {
  return ((lo >>> 0) + (add % TWO32)) % TWO32;
}

/** The high half of (hi:lo) + add (see sumLo); the caller knows the sum does not pass bit 63. */
export function sumHi(hi: number, lo: number, add: number): number {
  const addLo = add % TWO32;
  return (hi >>> 0) + (add - addLo) / TWO32 + ((lo >>> 0) + addLo >= TWO32 ? 1 : 0);
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
