/**
 * Sparse, page-granular, little-endian physical memory. Page tables live here as bytes, as on
 * hardware: builders store descriptors, walkers load them, dumps are loaded into it.
 *
 * Storage is a map from 4 KiB frame number to a Uint32Array view (1024 words). A direct-mapped
 * frame cache keeps the hot path (descriptor loads) free of hash lookups.
 */
import { MemoryError } from "../arch/errors.js";

export const FRAME_SHIFT = 12;
export const FRAME_SIZE = 4096;
const WORDS_PER_FRAME = FRAME_SIZE / 4;
const CACHE_SLOTS = 8192;
/** Highest physical address the model accepts (52-bit PA space). */
export const PA_LIMIT = 2 ** 52;

export interface Bank {
  readonly base: number;
  readonly size: number;
  readonly source: string;
}

export class PhysMem {
  private readonly frames = new Map<number, Uint32Array>();
  private readonly cacheTag = new Float64Array(CACHE_SLOTS).fill(-1);
  private readonly cacheFrame: (Uint32Array | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);
  private readonly banks: Bank[] = [];
  /** Regions that read as zero until written (RAM that exists but was never touched). */
  private readonly ram: { base: number; end: number }[] = [];

  /** Result halves of the last successful `load64`. */
  hi = 0;
  lo = 0;

  constructor() {
    if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
      throw new Error("vmsa needs a little-endian host");
    }
  }

  /** The frame containing `pa`, or undefined when unbacked (pa must be < 2^53). */
  frame(pfn: number): Uint32Array | undefined {
    const slot = pfn % CACHE_SLOTS;
    if (this.cacheTag[slot] === pfn) return this.cacheFrame[slot];
    const fr = this.frames.get(pfn);
    if (fr !== undefined) {
      this.cacheTag[slot] = pfn;
      this.cacheFrame[slot] = fr;
    }
    return fr;
  }

  /** Whether a physical address is backed (loaded, written, or declared RAM). */
  isBacked(pa: number): boolean {
    return this.frame(Math.floor(pa / FRAME_SIZE)) !== undefined || this.inRam(pa);
  }

  private inRam(pa: number): boolean {
    for (const r of this.ram) if (pa >= r.base && pa < r.end) return true;
    return false;
  }

  /**
   * Load the 64-bit little-endian word at the 8-byte aligned address `pa` (a number below
   * 2^53) into `this.hi` / `this.lo`. Returns false when the address is unbacked.
   */
  load64(pa: number): boolean {
    const pfn = Math.floor(pa / FRAME_SIZE);
    let fr = this.frame(pfn);
    if (fr === undefined) {
      if (!this.inRam(pa)) return false;
      this.hi = 0;
      this.lo = 0;
      return true;
    }
    const w = (pa - pfn * FRAME_SIZE) >>> 2;
    this.lo = fr[w] as number;
    this.hi = fr[w + 1] as number;
    fr = undefined;
    return true;
  }

  /** 64-bit load as bigint; undefined when unbacked. */
  read64(pa: bigint): bigint | undefined {
    const n = checkPa(pa);
    if ((n & 7) !== 0) throw new MemoryError("EMEM_UNBACKED", `read64: address 0x${pa.toString(16)} is not 8-byte aligned`);
    if (!this.load64(n)) return undefined;
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }

  private frameForWrite(pfn: number): Uint32Array {
    let fr = this.frame(pfn);
    if (fr === undefined) {
      fr = new Uint32Array(WORDS_PER_FRAME);
      this.frames.set(pfn, fr);
      const slot = pfn % CACHE_SLOTS;
      this.cacheTag[slot] = pfn;
      this.cacheFrame[slot] = fr;
    }
    return fr;
  }

  /** Store a 64-bit word given as halves (pa 8-byte aligned). Unbacked frames become backed. */
  store64(pa: number, hi: number, lo: number): void {
    const pfn = Math.floor(pa / FRAME_SIZE);
    const fr = this.frameForWrite(pfn);
    const w = (pa - pfn * FRAME_SIZE) >>> 2;
    fr[w] = lo >>> 0;
    fr[w + 1] = hi >>> 0;
  }

  write64(pa: bigint, value: bigint): void {
    const n = checkPa(pa);
    if ((n & 7) !== 0) throw new MemoryError("EMEM_WRITE", `write64: address 0x${pa.toString(16)} is not 8-byte aligned`);
    this.store64(n, Number((value >> 32n) & 0xffffffffn), Number(value & 0xffffffffn));
  }

  /** Declare [base, base+size) as RAM that reads as zero until written. */
  addRam(base: bigint, size: bigint): void {
    const b = checkPa(base);
    const e = checkPa(base + size);
    this.ram.push({ base: b, end: e });
  }

  /** Zero a whole frame-aligned range (e.g. a fresh table page), backing it. */
  zero(pa: bigint, size: number): void {
    const start = checkPa(pa);
    for (let off = 0; off < size; off += FRAME_SIZE) {
      const pfn = Math.floor((start + off) / FRAME_SIZE);
      this.frameForWrite(pfn).fill(0);
    }
  }

  /**
   * Add a bank of bytes at physical address `base` (page aligned). The bytes are copied when
   * not 4-byte aligned in their buffer; otherwise frames are views into `data`.
   * Overlapping an existing bank is an error naming both.
   */
  addBank(base: bigint, data: Uint8Array, source = "buffer"): Bank {
    const b = checkPa(base);
    if (b % FRAME_SIZE !== 0) {
      throw new MemoryError("EBANK_SPEC", `${source}: load address 0x${base.toString(16)} is not 4 KiB aligned`);
    }
    const size = data.byteLength;
    if (b + size > PA_LIMIT) {
      throw new MemoryError("EBANK_SPEC", `${source}: bank 0x${base.toString(16)}+0x${size.toString(16)} extends past the 52-bit PA space`);
    }
    for (const o of this.banks) {
      if (b < o.base + o.size && o.base < b + size) {
        throw new MemoryError(
          "EBANK_OVERLAP",
          `${source}@0x${b.toString(16)} (0x${size.toString(16)} bytes) overlaps ${o.source}@0x${o.base.toString(16)} (0x${o.size.toString(16)} bytes)`,
        );
      }
    }
    let buf = data;
    if (buf.byteOffset % 4 !== 0) buf = new Uint8Array(buf);
    const full = Math.floor(size / FRAME_SIZE);
    for (let i = 0; i < full; i++) {
      const view = new Uint32Array(buf.buffer, buf.byteOffset + i * FRAME_SIZE, WORDS_PER_FRAME);
      this.frames.set(b / FRAME_SIZE + i, view);
    }
    if (size % FRAME_SIZE !== 0) {
      const tail = new Uint32Array(WORDS_PER_FRAME);
      new Uint8Array(tail.buffer).set(buf.subarray(full * FRAME_SIZE));
      this.frames.set(b / FRAME_SIZE + full, tail);
    }
    this.cacheTag.fill(-1);
    const bank = { base: b, size, source };
    this.banks.push(bank);
    return bank;
  }

  bankList(): readonly Bank[] {
    return this.banks;
  }

  /** Frame numbers currently holding data, ascending. */
  backedFrames(): number[] {
    return [...this.frames.keys()].sort((a, b) => a - b);
  }

  /** Copy [pa, pa+size) out; unbacked bytes read as zero. */
  readBytes(pa: bigint, size: number): Uint8Array {
    const out = new Uint8Array(size);
    const start = checkPa(pa);
    let off = 0;
    while (off < size) {
      const addr = start + off;
      const pfn = Math.floor(addr / FRAME_SIZE);
      const inFrame = addr - pfn * FRAME_SIZE;
      const n = Math.min(FRAME_SIZE - inFrame, size - off);
      const fr = this.frame(pfn);
      if (fr) out.set(new Uint8Array(fr.buffer, fr.byteOffset + inFrame, n), off);
      off += n;
    }
    return out;
  }

  /** Write raw bytes at pa, backing frames as needed. */
  writeBytes(pa: bigint, bytes: Uint8Array): void {
    const start = checkPa(pa);
    let off = 0;
    while (off < bytes.length) {
      const addr = start + off;
      const pfn = Math.floor(addr / FRAME_SIZE);
      const inFrame = addr - pfn * FRAME_SIZE;
      const n = Math.min(FRAME_SIZE - inFrame, bytes.length - off);
      const fr = this.frameForWrite(pfn);
      new Uint8Array(fr.buffer, fr.byteOffset, FRAME_SIZE).set(bytes.subarray(off, off + n), inFrame);
      off += n;
    }
  }
}

function checkPa(pa: bigint): number {
  if (pa < 0n || pa >= BigInt(PA_LIMIT)) {
    throw new MemoryError("EMEM_UNBACKED", `physical address 0x${pa.toString(16)} is outside the 52-bit PA space`);
  }
  return Number(pa);
}
