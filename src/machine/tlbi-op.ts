/**
 * TLB invalidation operations: an operation name and its Xt operand become a scope (which ASID,
 * which VA or VA range, last-level only, TTL hint, broadcast), and a scope matched against one
 * entry the TLB may hold says whether the TLBI removes it, or why not.
 * Arm ARM DDI0487 D8.14 "TLB maintenance" (by-VA operand ASID[63:48], VA[55:12] in [43:0], TTL in
 * [47:44]; FEAT_TLBIRANGE operands TG, SCALE, NUM, BaseADDR; ASIDE1 leaves global entries).
 */
import { TWO32 } from "../walk/context.js";
import type { StaleEntry } from "./tlb.js";

/** Build a TLBI by-VA operand: ASID[63:48], VA[55:12] in [43:0]. */
export function tlbiVa(va: bigint, asid = 0): bigint {
  return (BigInt(asid & 0xffff) << 48n) | ((va >> 12n) & 0xfff_ffff_ffffn);
}

/** Build a range TLBI operand (FEAT_TLBIRANGE): TG, SCALE, NUM, BaseADDR in granule units. */
export function tlbiRange(va: bigint, pages: number, granuleSize: 4096 | 16384 | 65536, asid = 0): bigint {
  const tg = granuleSize === 4096 ? 1n : granuleSize === 16384 ? 2n : 3n;
  const shift = BigInt(Math.log2(granuleSize));
  for (let scale = 0; scale < 4; scale++) {
    const unit = 2 ** (5 * scale + 1);
    const num = Math.ceil(pages / unit) - 1;
    if (num <= 31) {
      return (
        (BigInt(asid & 0xffff) << 48n) |
        (tg << 46n) |
        (BigInt(scale) << 44n) |
        (BigInt(Math.max(num, 0)) << 39n) |
        ((va >> shift) & ((1n << 37n) - 1n))
      );
    }
  }
  throw new RangeError(`tlbiRange: ${pages} pages do not fit one range operation`);
}

const TLBI_CACHE = new Map<string, { base: string; broadcast: boolean }>();
const TLBI_RE = /^(VMALLE1|VAE1|VALE1|VAAE1|VAALE1|ASIDE1|RVAE1|RVALE1|RVAAE1|RVAALE1)(IS|OS)?$/;

/** `VAE1IS` → base `VAE1`, broadcast; undefined for an unknown operation. */
export function parseTlbiOp(op: string): { base: string; broadcast: boolean } | undefined {
  let m = TLBI_CACHE.get(op);
  if (m === undefined) {
    const x = TLBI_RE.exec(op);
    if (!x) return undefined;
    m = { base: x[1] as string, broadcast: x[2] !== undefined };
    TLBI_CACHE.set(op, m);
  }
  return m;
}

/** What one TLBI covers. */
export interface TlbiScope {
  readonly base: string;
  readonly lastLevel: boolean;
  readonly allAsid: boolean;
  readonly asid: number;
  readonly isRange: boolean;
  readonly isVa: boolean;
  /** By-VA: page number VA[55:12], the half it selects (VA[55]) and the TTL hint. */
  readonly pageNum: number;
  readonly vaHalf: number;
  readonly ttl: number;
  /** Range: TG, half, base VA and length in bytes. */
  readonly rTg: number;
  readonly rHalf: number;
  readonly rBase: number;
  readonly rLen: number;
}

/** Decode the operand (32-bit halves) of TLBI `base` for a CPU with ASID size mask `asidMask`. */
export function tlbiScope(base: string, asidMask: number, opHi: number, opLo: number): TlbiScope {
  return tlbiScopeInto(newScope(), base, asidMask, opHi, opLo);
}

type MutableScope = { -readonly [K in keyof TlbiScope]: TlbiScope[K] };

/** An empty scope to fill with tlbiScopeInto (the machine keeps one: a TLBI then allocates nothing). */
export function newScope(): MutableScope {
  return {
    base: "",
    lastLevel: false,
    allAsid: false,
    asid: 0,
    isRange: false,
    isVa: false,
    pageNum: 0,
    vaHalf: 0,
    ttl: 0,
    rTg: 0,
    rHalf: 0,
    rBase: 0,
    rLen: 0,
  };
}

/** tlbiScope written into `out` (returned). */
export function tlbiScopeInto(out: MutableScope, base: string, asidMask: number, opHi: number, opLo: number): TlbiScope {
  const isRange = base.startsWith("R");
  let rTg = 0;
  let rHalf = 0;
  let rBase = 0;
  let rLen = 0;
  if (isRange) {
    rTg = (opHi >>> 14) & 3;
    const scale = (opHi >>> 12) & 3;
    const num = (opHi >>> 7) & 0x1f;
    // BaseADDR[36:0]: bits [36:32] from the high word, [31:0] from the low word.
    const ba = (opHi & 0x1f) * TWO32 + (opLo >>> 0);
    // The top BaseADDR bit is the top VA bit of the range (VA[48] for 4K): it selects the half.
    rHalf = (opHi >>> 4) & 1;
    const gsz = rTg === 1 ? 4096 : rTg === 2 ? 16384 : 65536;
    rBase = ba * gsz;
    rLen = (num + 1) * 2 ** (5 * scale + 1) * gsz;
  }
  out.base = base;
  out.lastLevel = base.includes("LE1") || base === "VAALE1" || base === "RVAALE1";
  out.allAsid = base === "VMALLE1" || base.startsWith("VAA") || base.startsWith("RVAA");
  out.asid = (opHi >>> 16) & asidMask;
  out.isRange = isRange;
  out.isVa = base !== "VMALLE1" && base !== "ASIDE1";
  // VA operand: page number VA[55:12] in bits [43:0].
  out.pageNum = (opHi & 0xfff) * TWO32 + (opLo >>> 0);
  out.vaHalf = (opHi >>> 11) & 1;
  out.ttl = (opHi >>> 12) & 0xf;
  out.rTg = rTg;
  out.rHalf = rHalf;
  out.rBase = rBase;
  out.rLen = rLen;
  return out;
}

/**
 * Matching a live entry: `hit` (the TLBI covers it), `skip` (outside its scope), `miss` (inside
 * its reach but not removed, with the reason recorded on the entry) or `global-only` (ASIDE1 on
 * an old context: only its global entries stay usable).
 */
export type TlbiMatch =
  | { readonly kind: "hit" }
  | { readonly kind: "skip" }
  | { readonly kind: "miss"; readonly why: string }
  | { readonly kind: "global-only"; readonly why: string };

const HIT: TlbiMatch = { kind: "hit" };
const SKIP: TlbiMatch = { kind: "skip" };

function granuleOfTg(tg: number): number {
  return tg === 1 ? 4096 : tg === 2 ? 16384 : 65536;
}

/**
 * The VA offset within a half of `ia` bits that by-VA page number `pageNum` (VA[55:12]) names:
 * its low ia-12 bits times 4 KiB (pageNum % 2^(ia-12) without a floating-point remainder).
 */
export function pageOffset(pageNum: number, ia: number): number {
  const b = ia - 12;
  const hi = Math.floor(pageNum / TWO32);
  const lo = pageNum - hi * TWO32;
  if (b >= 32) return ((hi & ((1 << (b - 32)) - 1)) * TWO32 + lo) * 4096;
  return ((lo & ((1 << b) - 1)) >>> 0) * 4096;
}

export function tlbiMatch(sc: TlbiScope, e: StaleEntry): TlbiMatch {
  const base = sc.base;
  const asid = sc.asid;
  // ASID filter.
  if (base === "ASIDE1") {
    if (e.kind === "context") {
      if (e.asid === asid && !e.globalOnly)
        return { kind: "global-only", why: "ASIDE1 leaves global entries reachable from the old context" };
      return SKIP;
    }
    if (e.global) return { kind: "miss", why: "ASIDE1 does not remove global entries" };
    if (e.asid !== asid) return SKIP;
  }
  if (sc.isVa) {
    let hit: boolean;
    if (sc.isRange) {
      if (sc.rTg === 0 || granuleOfTg(sc.rTg) !== e.half.granule.size) {
        return { kind: "miss", why: "range TLBI with a TG that does not match the granule" };
      }
      const off = sc.rBase % 2 ** e.ia;
      hit = sc.rHalf === e.halfIdx && off < e.vaOff + e.span && e.vaOff < off + sc.rLen;
    } else {
      const off = pageOffset(sc.pageNum, e.ia);
      hit = sc.vaHalf === e.halfIdx && off >= e.vaOff && off < e.vaOff + e.span;
    }
    if (!hit) return SKIP;
    if (!sc.allAsid && !e.global && e.kind !== "context" && e.asid !== asid) {
      return { kind: "miss", why: `TLBI ${base} names ASID ${asid}; the entry is tagged with ASID ${e.asid}` };
    }
    if (e.kind === "context") return { kind: "miss", why: "a by-VA TLBI cannot remove everything cached from a switched-out context" };
    if (sc.lastLevel && e.kind === "table") {
      return { kind: "miss", why: `TLBI ${base} is last-level only and need not remove walk-cache entries` };
    }
    const ttl = sc.ttl;
    if (!sc.isRange && (ttl & 0xc) !== 0) {
      if (granuleOfTg(ttl >>> 2) !== e.half.granule.size || (ttl & 3) !== (e.level & 3)) {
        return { kind: "miss", why: `TTL hint (level ${ttl & 3}) does not match the entry's level ${e.level}` };
      }
    }
  }
  if (e.kind === "context" && base !== "VMALLE1") return SKIP;
  return HIT;
}
