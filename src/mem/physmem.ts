/**
 * Sparse, page-granular, little-endian physical memory. Page tables live here as bytes, as on
 * hardware: builders store descriptors, walkers load them, dumps are loaded into it.
 *
 * Storage is a set of large Uint32Array arenas and a map from 4 KiB frame number to its place
 * in them. A direct-mapped frame cache keeps the hot path (descriptor loads) free of hash lookups.
 */
import { MemoryError } from "../arch/errors.js";

export const FRAME_SHIFT = 12;
export const FRAME_SIZE = 4096;
const WORDS_PER_FRAME = FRAME_SIZE / 4;
const CACHE_SLOTS = 8192;
export const FRAME_CACHE_MASK = CACHE_SLOTS - 1;
/** Highest physical address the model accepts (52-bit PA space). */
export const PA_LIMIT = 2 ** 52;

export interface Bank {
  readonly base: number;
  readonly size: number;
  readonly source: string;
}

/** Words of the largest allocation arena for frames created by stores (16 MiB). */
const ARENA_WORDS = 4 * 1024 * 1024;
/**
 * Words of the first allocation arena (256 KiB); each next one doubles up to ARENA_WORDS, so a
 * memory holding a few tables does not pay for (nor make the GC track) a 16 MiB arena.
 */
export const FIRST_ARENA_WORDS = 64 * WORDS_PER_FRAME;
/** Frame locations are packed as arena * 2^25 + word offset (word offset < 2^25). */
const LOC_SCALE = 2 ** 25;
/** Frames per arena when a bank is added: every word offset stays below LOC_SCALE. */
export const BANK_ARENA_FRAMES = LOC_SCALE / WORDS_PER_FRAME;

/**
 * Frames supplied on demand (a compressed dump's pages): asked only on a frame-cache and index
 * miss, and each frame read is kept like a loaded one, so later loads cost what any frame costs.
 */
export interface FrameSource {
  /** Whether the source holds 4 KiB frame `pfn` (an index lookup, no data read). */
  has(pfn: number): boolean;
  /**
   * The 4096 bytes of frame `pfn` into `out`. Returns false when they are all zero: the frame is
   * then not stored (the source declares its frames RAM with addRam, so they read as zero) and
   * `has` should answer false for it from then on. Throws (a VmsaError naming the data) when unreadable.
   */
  read(pfn: number, out: Uint8Array): boolean;
  /** Every frame it holds, ascending (for scans of all memory). */
  frames(): number[];
}

export class PhysMem {
  /**
   * Frame storage: large Uint32Array arenas (one per loaded chunk, plus allocation arenas for
   * frames created by stores), so a descriptor load is one index computation and one typed-array
   * read instead of a per-frame object hop.
   */
  readonly arenas: Uint32Array[] = [];
  private readonly index = new Map<number, number>();
  private allocArena = -1;
  /** Words in the current allocation arena (0 before the first frame is allocated). */
  private allocWords = 0;
  private allocNext = 0;
  /** Direct-mapped cache of frame locations (tag = frame number); read-only outside this class. */
  readonly cacheTag = new Float64Array(CACHE_SLOTS).fill(-1);
  readonly cacheArena = new Int32Array(CACHE_SLOTS);
  readonly cacheWord = new Int32Array(CACHE_SLOTS);
  private readonly banks: Bank[] = [];
  /** Regions that read as zero until written (RAM that exists but was never touched). */
  private readonly ram: { base: number; end: number }[] = [];
  private readonly sources: FrameSource[] = [];

  /** Result halves of the last successful `load64`. */
  hi = 0;
  lo = 0;

  /** Words the first allocation arena gets (FIRST_ARENA_WORDS unless a reserve was asked for). */
  private readonly firstArenaWords: number;

  /**
   * @param opts.reserveBytes storage to set aside for frames created by stores before the first
   *   store (rounded up to whole frames, at most 16 MiB): a caller that knows it will build many
   *   tables (a large mapping, a benchmark) pays for one arena up front instead of growing it.
   */
  constructor(opts: { reserveBytes?: number } = {}) {
    if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
      throw new Error("vmsa needs a little-endian host");
    }
    const reserve = opts.reserveBytes ?? 0;
    if (!Number.isSafeInteger(reserve) || reserve < 0) {
      throw new MemoryError("EMEM_RESERVE", `reserveBytes ${reserve} is not a byte count`);
    }
    const frames = Math.ceil(reserve / FRAME_SIZE);
    this.firstArenaWords = Math.min(Math.max(frames * WORDS_PER_FRAME, FIRST_ARENA_WORDS), ARENA_WORDS);
  }

  /**
   * Make frame `pfn` the cached entry of its slot. Returns false when no frame holds it.
   * Hot paths call this only on a cache miss.
   */
  fill(pfn: number): boolean {
    const loc = this.index.get(pfn);
    if (loc === undefined) return this.sources.length !== 0 && this.pull(pfn);
    const slot = pfn & (CACHE_SLOTS - 1);
    const arena = Math.floor(loc / LOC_SCALE);
    this.cacheTag[slot] = pfn;
    this.cacheArena[slot] = arena;
    this.cacheWord[slot] = loc - arena * LOC_SCALE;
    return true;
  }

  /** A view of frame `pfn` (1024 words), or undefined when it holds no data. */
  frame(pfn: number): Uint32Array | undefined {
    const slot = pfn & (CACHE_SLOTS - 1);
    if (this.cacheTag[slot] !== pfn && !this.fill(pfn)) return undefined;
    const a = this.arenas[this.cacheArena[slot] as number] as Uint32Array;
    const w = this.cacheWord[slot] as number;
    return a.subarray(w, w + WORDS_PER_FRAME);
  }

  private place(pfn: number, arena: number, word: number): void {
    if (word < 0 || word + WORDS_PER_FRAME > LOC_SCALE || arena * LOC_SCALE > Number.MAX_SAFE_INTEGER - LOC_SCALE) {
      throw new MemoryError("EMEM_LAYOUT", `frame 0x${pfn.toString(16)}: arena ${arena} word ${word} does not fit the frame index`);
    }
    this.index.set(pfn, arena * LOC_SCALE + word);
    const slot = pfn & (CACHE_SLOTS - 1);
    this.cacheTag[slot] = pfn;
    this.cacheArena[slot] = arena;
    this.cacheWord[slot] = word;
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
    const slot = pfn & (CACHE_SLOTS - 1);
    if (this.cacheTag[slot] !== pfn && !this.fill(pfn)) {
      if (!this.inRam(pa)) return false;
      this.hi = 0;
      this.lo = 0;
      return true;
    }
    const a = this.arenas[this.cacheArena[slot] as number] as Uint32Array;
    const w = (this.cacheWord[slot] as number) + ((pa - pfn * FRAME_SIZE) >>> 2);
    this.lo = a[w] as number;
    this.hi = a[w + 1] as number;
    return true;
  }

  /** 64-bit load as bigint; undefined when unbacked. */
  read64(pa: bigint): bigint | undefined {
    const n = checkPa(pa);
    if ((n & 7) !== 0) throw new MemoryError("EMEM_UNBACKED", `read64: address 0x${pa.toString(16)} is not 8-byte aligned`);
    if (!this.load64(n)) return undefined;
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }

  /** Add a source of frames read on demand (see FrameSource). */
  addSource(source: FrameSource): void {
    this.sources.push(source);
  }

  /** Read frame `pfn` from the first source holding it into a new frame (cached from now on). */
  private pull(pfn: number): boolean {
    for (const s of this.sources) {
      if (!s.has(pfn)) continue;
      // Read first: a source that throws must not leave a zero frame behind.
      const bytes = new Uint8Array(FRAME_SIZE);
      if (!s.read(pfn, bytes)) return false;
      const fr = this.allocFrame(pfn);
      new Uint8Array(fr.buffer, fr.byteOffset, FRAME_SIZE).set(bytes);
      return true;
    }
    return false;
  }

  private frameForWrite(pfn: number): Uint32Array {
    const fr = this.frame(pfn);
    if (fr !== undefined) return fr;
    return this.allocFrame(pfn);
  }

  private allocFrame(pfn: number): Uint32Array {
    this.allocSlot(pfn);
    const a = this.arenas[this.allocArena] as Uint32Array;
    const word = this.allocNext - WORDS_PER_FRAME;
    return a.subarray(word, word + WORDS_PER_FRAME);
  }

  /** Give frame `pfn` the next allocation-arena slot and make it the cached entry of its slot (no view). */
  private allocSlot(pfn: number): void {
    if (this.allocNext + WORDS_PER_FRAME > this.allocWords) {
      this.allocWords = this.allocWords === 0 ? this.firstArenaWords : Math.min(this.allocWords * 2, ARENA_WORDS);
      this.arenas.push(new Uint32Array(this.allocWords));
      this.allocArena = this.arenas.length - 1;
      this.allocNext = 0;
    }
    const word = this.allocNext;
    this.allocNext += WORDS_PER_FRAME;
    this.place(pfn, this.allocArena, word);
  }

  /** Store a 64-bit word given as halves (pa 8-byte aligned). Unbacked frames become backed. */
  store64(pa: number, hi: number, lo: number): void {
    const pfn = Math.floor(pa / FRAME_SIZE);
    const slot = pfn & (CACHE_SLOTS - 1);
    if (this.cacheTag[slot] !== pfn && !this.fill(pfn)) this.allocSlot(pfn);
    const a = this.arenas[this.cacheArena[slot] as number] as Uint32Array;
    const w = (this.cacheWord[slot] as number) + ((pa - pfn * FRAME_SIZE) >>> 2);
    a[w] = lo >>> 0;
    a[w + 1] = hi >>> 0;
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
    this.zeroFrames(checkPa(pa), size);
  }

  /** `zero` with the address as a number: the table-allocation path, no bigint and no views. */
  zeroFrames(pa: number, size: number): void {
    if (!(pa >= 0 && pa + size <= PA_LIMIT)) {
      throw new MemoryError("EMEM_UNBACKED", `physical address 0x${pa.toString(16)} is outside the 52-bit PA space`);
    }
    for (let off = 0; off < size; off += FRAME_SIZE) {
      const pfn = Math.floor((pa + off) / FRAME_SIZE);
      const slot = pfn & (CACHE_SLOTS - 1);
      if (this.cacheTag[slot] !== pfn && !this.fill(pfn)) this.allocSlot(pfn);
      const w = this.cacheWord[slot] as number;
      (this.arenas[this.cacheArena[slot] as number] as Uint32Array).fill(0, w, w + WORDS_PER_FRAME);
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
    // A bank becomes one arena per BANK_ARENA_FRAMES slice, so a frame's word offset always fits
    // below LOC_SCALE whatever the bank's size (one arena per bank overflowed the packed
    // location at 128 MiB and sent frames past it into the next arena).
    const frames = Math.ceil(size / FRAME_SIZE);
    const aligned = data.byteOffset % 4 === 0 && size % FRAME_SIZE === 0;
    for (let first = 0; first < frames; first += BANK_ARENA_FRAMES) {
      const n = Math.min(BANK_ARENA_FRAMES, frames - first);
      const byteStart = first * FRAME_SIZE;
      let words: Uint32Array;
      if (aligned) {
        words = new Uint32Array(data.buffer, data.byteOffset + byteStart, n * WORDS_PER_FRAME);
      } else {
        words = new Uint32Array(n * WORDS_PER_FRAME);
        new Uint8Array(words.buffer).set(data.subarray(byteStart, Math.min(size, byteStart + n * FRAME_SIZE)));
      }
      this.arenas.push(words);
      const arena = this.arenas.length - 1;
      for (let i = 0; i < n; i++) this.place(b / FRAME_SIZE + first + i, arena, i * WORDS_PER_FRAME);
    }
    const bank = { base: b, size, source };
    this.banks.push(bank);
    return bank;
  }

  bankList(): readonly Bank[] {
    return this.banks;
  }

  /** Frame numbers holding data (loaded, written, or held by a source), ascending. */
  backedFrames(): number[] {
    if (this.sources.length === 0) return [...this.index.keys()].sort((a, b) => a - b);
    const all = new Set(this.index.keys());
    for (const s of this.sources) for (const pfn of s.frames()) all.add(pfn);
    return [...all].sort((a, b) => a - b);
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
