/**
 * MAIR_ELx attribute decoding (Arm ARM D8.5 "Memory region attributes", MAIR_EL1 field Attr<n>).
 */

export type DeviceType = "nGnRnE" | "nGnRE" | "nGRE" | "GRE";
export type CachePolicy = "NC" | "WT" | "WB";

export interface CacheAttr {
  readonly policy: CachePolicy;
  /** Read-allocate / write-allocate hints (meaningless for NC). */
  readonly readAllocate: boolean;
  readonly writeAllocate: boolean;
  readonly transient: boolean;
}

export type MemAttr =
  | { readonly kind: "device"; readonly device: DeviceType; readonly byte: number; readonly name: string }
  | {
      readonly kind: "normal";
      readonly inner: CacheAttr;
      readonly outer: CacheAttr;
      readonly tagged: boolean;
      readonly byte: number;
      readonly name: string;
    }
  | { readonly kind: "reserved"; readonly byte: number; readonly name: string };

const DEVICE_TYPES: readonly DeviceType[] = ["nGnRnE", "nGnRE", "nGRE", "GRE"];

function cacheAttr(nib: number): CacheAttr | undefined {
  // nib: 0b00RW (RW!=0) WT transient, 0b0100 NC, 0b01RW (RW!=0) WB transient,
  // 0b10RW WT non-transient, 0b11RW WB non-transient.
  const r = (nib & 2) !== 0;
  const w = (nib & 1) !== 0;
  switch (nib >> 2) {
    case 0:
      return nib === 0 ? undefined : { policy: "WT", readAllocate: r, writeAllocate: w, transient: true };
    case 1:
      return (nib & 3) === 0
        ? { policy: "NC", readAllocate: false, writeAllocate: false, transient: false }
        : { policy: "WB", readAllocate: r, writeAllocate: w, transient: true };
    case 2:
      return { policy: "WT", readAllocate: r, writeAllocate: w, transient: false };
    default:
      return { policy: "WB", readAllocate: r, writeAllocate: w, transient: false };
  }
}

function cacheName(c: CacheAttr): string {
  if (c.policy === "NC") return "NC";
  const alloc = `${c.readAllocate ? "R" : ""}${c.writeAllocate ? "W" : ""}`;
  return `${c.policy}${alloc ? `-${alloc}A` : ""}${c.transient ? "-T" : ""}`;
}

function sameCache(a: CacheAttr, b: CacheAttr): boolean {
  return a.policy === b.policy && a.readAllocate === b.readAllocate && a.writeAllocate === b.writeAllocate && a.transient === b.transient;
}

const cache = new Map<number, MemAttr>();

/** Decode one 8-bit MAIR attribute field. */
export function decodeMairAttr(byte: number): MemAttr {
  const b = byte & 0xff;
  const hit = cache.get(b);
  if (hit) return hit;
  let attr: MemAttr;
  const hi = b >> 4;
  const lo = b & 0xf;
  if (hi === 0) {
    if ((lo & 3) === 0) {
      const device = DEVICE_TYPES[lo >> 2] as DeviceType;
      attr = { kind: "device", device, byte: b, name: `Device-${device}` };
    } else {
      // 0b0000ddxx with xx != 00: UNPREDICTABLE (or XS variants with FEAT_XS); report as reserved.
      attr = { kind: "reserved", byte: b, name: `Reserved(0x${b.toString(16).padStart(2, "0")})` };
    }
  } else if (b === 0xf0) {
    // FEAT_MTE2: Tagged Normal, Inner/Outer WB RW-allocate non-transient.
    const wb: CacheAttr = { policy: "WB", readAllocate: true, writeAllocate: true, transient: false };
    attr = { kind: "normal", inner: wb, outer: wb, tagged: true, byte: b, name: "Normal-Tagged" };
  } else {
    const outer = cacheAttr(hi);
    const inner = cacheAttr(lo);
    if (!outer || !inner) {
      attr = { kind: "reserved", byte: b, name: `Reserved(0x${b.toString(16).padStart(2, "0")})` };
    } else {
      const name = sameCache(inner, outer) ? `Normal-${cacheName(inner)}` : `Normal-i${cacheName(inner)}-o${cacheName(outer)}`;
      attr = { kind: "normal", inner, outer, tagged: false, byte: b, name };
    }
  }
  cache.set(b, attr);
  return attr;
}

/** Attribute byte n (0..7) of a MAIR value. */
export function mairByte(mair: bigint, index: number): number {
  return Number((mair >> BigInt(8 * (index & 7))) & 0xffn);
}

export function decodeMair(mair: bigint): MemAttr[] {
  return Array.from({ length: 8 }, (_, i) => decodeMairAttr(mairByte(mair, i)));
}

/**
 * The ATTR field PAR_EL1 reports for a MAIR byte (Arm ARM PAR_EL1.ATTR; ASL AArch64.EncodePAR):
 * Device types as 0b0000dd00, Normal as the MAIR encoding.
 */
export function parAttrByte(byte: number): number {
  const b = byte & 0xff;
  if (b >> 4 === 0) return b & 0x0c;
  return b;
}

/**
 * True when PAR_EL1.SH must read 0b10 regardless of the descriptor: Device memory, or Normal
 * memory that is Inner and Outer Non-cacheable (ASL PAREncodeShareability).
 */
export function parForcesOuterShareable(byte: number): boolean {
  const b = byte & 0xff;
  if (b >> 4 === 0) return true;
  return b === 0x44;
}

/**
 * The memory class of a MAIR attribute byte: the memory type (Device and its sub-type, or Normal)
 * and the inner and outer cacheability, which break-before-make (vmsa-rules.md §4.1 items 1 and
 * 3) and the mismatched-alias rule (Arm ARM B2.16) compare. Allocation and transient hints and
 * the MTE tag (Normal ↔ Normal-Tagged, which Linux treats as one type) do not change it.
 */
export function memoryClass(byte: number): string {
  const a = decodeMairAttr(byte);
  if (a.kind === "device") return `Device-${a.device}`;
  if (a.kind === "normal") return `Normal(inner ${a.inner.policy}, outer ${a.outer.policy})`;
  return a.name;
}
