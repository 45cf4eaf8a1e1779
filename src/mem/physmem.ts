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
/** cacheFrame's entry for a slot that holds no frame yet (its tag is -1). */
const NO_FRAME = new Uint32Array(0);
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

/** Default bytes of the bounded pool that keeps frames read from sources (64 MiB). */
export const DEFAULT_SOURCE_CACHE_BYTES = 64 * 1024 * 1024;
/** Frames of the largest pool arena (16 MiB); the first holds 64 frames and each next one doubles. */
const POOL_ARENA_FRAMES_MAX = 4096;

/**
 * Frames supplied on demand (a dump file's pages, read when a walk touches them): asked only on a
 * frame-cache and index miss. A frame read is kept in a bounded pool (see PhysMem's
 * `sourceCacheBytes`) and served from there like a loaded frame, so a hit costs what any frame
 * costs; when the pool is full the least recently filled frame (clock) is dropped and read again
 * from its source on its next miss. A frame that is written leaves the pool and is kept.
 */
export interface FrameSource {
  /** Whether the source holds 4 KiB frame `pfn` (an index lookup, no data read). */
  has(pfn: number): boolean;
  /**
   * The 4096 bytes of frame `pfn` into `out`. May return false when they are all zero: the frame is
   * then not stored (the source declares its frames RAM with addRam, so they read as zero) and
   * `has` should answer false for it from then on. Throws (a VmsaError naming the data) when unreadable.
   */
  read(pfn: number, out: Uint8Array): boolean;
  /** The frames it holds as runs of consecutive frame numbers, ascending (for scans of all memory). */
  runs(): FrameRun[];
}

/** Frames first .. first+count-1. */
export interface FrameRun {
  first: number;
  count: number;
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
  /**
   * Words of the current allocation arena from here on were never handed out since the arena
   * was created, so they are still zero (a new typed array is zeroed): zeroing a frame placed
   * there is skipped.
   */
  private allocClean = 0;
  /** Direct-mapped cache of frame locations (tag = frame number); read-only outside this class. */
  readonly cacheTag = new Float64Array(CACHE_SLOTS).fill(-1);
  readonly cacheArena = new Int32Array(CACHE_SLOTS);
  readonly cacheWord = new Int32Array(CACHE_SLOTS);
  /** Each slot's arena itself (arenas[cacheArena[slot]]), so a hot loop reads a cached frame with one lookup fewer. */
  readonly cacheFrame: Uint32Array[] = Array.from({ length: CACHE_SLOTS }, () => NO_FRAME);
  private readonly banks: Bank[] = [];
  /** Regions that read as zero until written (RAM that exists but was never touched). */
  private readonly ram: { base: number; end: number }[] = [];
  private readonly sources: FrameSource[] = [];

  // The source-frame pool: slots in pool arenas, a clock over them. A slot's frame is in `index`
  // like any frame; `poolPfn` says which frame a slot holds (-1 free).
  private readonly poolLimit: number;
  /** Slots created so far (<= poolLimit). */
  private poolSlots = 0;
  private poolPfn = new Float64Array(0);
  private poolRef = new Uint8Array(0);
  private poolArena = new Int32Array(0);
  private poolWord = new Int32Array(0);
  private readonly poolFree: number[] = [];
  private poolHand = 0;
  /** For each arena, its first pool slot (-1: not a pool arena). */
  private arenaPoolBase: number[] = [];
  private readonly scratch = new Uint8Array(FRAME_SIZE);
  /** Frames read from sources (a count for tests and benchmarks). */
  sourceReads = 0;
  /**
   * Copy-on-write journal since `checkpoint()`: each frame's words before its first write (a copy),
   * or null for a frame created since. Undefined when no checkpoint is set.
   */
  private journal: Map<number, Uint32Array | null> | undefined;
  private mark = { arenas: 0, allocArena: -1, allocWords: 0, allocNext: 0, ram: 0, banks: 0, sources: 0, pool: 0 };

  /** Result halves of the last successful `load64`. */
  hi = 0;
  lo = 0;

  /** Words the first allocation arena gets (FIRST_ARENA_WORDS unless a reserve was asked for). */
  private readonly firstArenaWords: number;

  /**
   * @param opts.reserveBytes storage to set aside for frames created by stores before the first
   *   store (rounded up to whole frames, at most 16 MiB): a caller that knows it will build many
   *   tables (a large mapping, a benchmark) pays for one arena up front instead of growing it.
   * @param opts.sourceCacheBytes bytes of the pool keeping frames read from sources (default
   *   DEFAULT_SOURCE_CACHE_BYTES, at least one frame): the memory a dump read on demand may use.
   */
  constructor(opts: { reserveBytes?: number; sourceCacheBytes?: number } = {}) {
    if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
      throw new Error("vmsa needs a little-endian host");
    }
    const reserve = opts.reserveBytes ?? 0;
    if (!Number.isSafeInteger(reserve) || reserve < 0) {
      throw new MemoryError("EMEM_RESERVE", `reserveBytes ${reserve} is not a byte count`);
    }
    const frames = Math.ceil(reserve / FRAME_SIZE);
    this.firstArenaWords = Math.min(Math.max(frames * WORDS_PER_FRAME, FIRST_ARENA_WORDS), ARENA_WORDS);
    const cache = opts.sourceCacheBytes ?? DEFAULT_SOURCE_CACHE_BYTES;
    if (!Number.isSafeInteger(cache) || cache < FRAME_SIZE) {
      throw new MemoryError("EMEM_RESERVE", `sourceCacheBytes ${cache}: expected a byte count of at least one frame (4096)`);
    }
    this.poolLimit = Math.floor(cache / FRAME_SIZE);
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
    const word = loc - arena * LOC_SCALE;
    this.cacheTag[slot] = pfn;
    this.cacheArena[slot] = arena;
    this.cacheWord[slot] = word;
    this.cacheFrame[slot] = this.arenas[arena] as Uint32Array;
    if (this.poolSlots !== 0) {
      const base = this.arenaPoolBase[arena] ?? -1;
      if (base >= 0) this.poolRef[base + word / WORDS_PER_FRAME] = 1;
    }
    return true;
  }

  /**
   * A view of frame `pfn` (1024 words), or undefined when it holds no data. The view of a frame
   * read from a source is valid until the next access to another frame (the pool may reuse it).
   */
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
    this.cacheFrame[slot] = this.arenas[arena] as Uint32Array;
  }

  /** Whether a physical address is backed (loaded, written, or declared RAM). */
  isBacked(pa: number): boolean {
    return this.frame(Math.floor(pa / FRAME_SIZE)) !== undefined || this.inRam(pa);
  }

  private inRam(pa: number): boolean {
    for (const r of this.ram) if (pa >= r.base && pa < r.end) return true;
    return false;
  }

  /** Word offset of the frame `frameArena` found last, in the arena it returned. */
  frameWord = 0;
  /**
   * Whether that frame stays where it is while other frames are read (written, loaded or bank
   * frames); false for a frame read from a source, whose pool slot a later read may reuse.
   */
  frameStable = false;

  /**
   * For loops over many entries of one frame: the arena holding frame `pfn`'s words, which start at
   * `this.frameWord`; undefined when no frame holds data (unbacked, or RAM never written, which
   * reads as zeros: use load64 then). No view is made. Like `frame`, valid until the next access
   * to another frame.
   */
  frameArena(pfn: number): Uint32Array | undefined {
    const slot = pfn & (CACHE_SLOTS - 1);
    if (this.cacheTag[slot] !== pfn && !this.fill(pfn)) return undefined;
    const arena = this.cacheArena[slot] as number;
    this.frameWord = this.cacheWord[slot] as number;
    this.frameStable = (this.arenaPoolBase[arena] ?? -1) < 0;
    return this.arenas[arena] as Uint32Array;
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

  /** Read frame `pfn` from the first source holding it into a pool slot (the cached entry of its cache slot). */
  private pull(pfn: number): boolean {
    for (const s of this.sources) {
      if (!s.has(pfn)) continue;
      // Read first: a source that throws must not leave a zero frame behind.
      const bytes = this.scratch;
      if (!s.read(pfn, bytes)) return false;
      this.sourceReads++;
      const p = this.poolTake();
      const arena = this.poolArena[p] as number;
      const word = this.poolWord[p] as number;
      this.poolPfn[p] = pfn;
      this.poolRef[p] = 1;
      const a = this.arenas[arena] as Uint32Array;
      new Uint8Array(a.buffer, a.byteOffset + word * 4, FRAME_SIZE).set(bytes);
      this.place(pfn, arena, word);
      return true;
    }
    return false;
  }

  /** A free pool slot: a freed one, a new one while under the limit, else the clock's victim. */
  private poolTake(): number {
    const free = this.poolFree.pop();
    if (free !== undefined) return free;
    if (this.poolSlots < this.poolLimit) return this.poolGrow();
    for (;;) {
      const p = this.poolHand;
      this.poolHand = p + 1 === this.poolSlots ? 0 : p + 1;
      if (this.poolRef[p] !== 0) {
        this.poolRef[p] = 0;
        continue;
      }
      const victim = this.poolPfn[p] as number;
      if (victim >= 0) this.forget(victim);
      this.poolPfn[p] = -1;
      return p;
    }
  }

  /** Drop frame `pfn` from the index and the frame cache (it is read again from its source when asked). */
  private forget(pfn: number): void {
    this.index.delete(pfn);
    const slot = pfn & (CACHE_SLOTS - 1);
    if (this.cacheTag[slot] === pfn) {
      this.cacheTag[slot] = -1;
      this.cacheFrame[slot] = NO_FRAME;
    }
  }

  /** Create pool slots in a new arena (64 frames, doubling up to 16 MiB, never past the limit); returns the first. */
  private poolGrow(): number {
    const last = this.poolSlots === 0 ? 0 : this.poolSlots;
    const n = Math.min(Math.max(64, Math.min(last, POOL_ARENA_FRAMES_MAX)), this.poolLimit - this.poolSlots);
    const total = this.poolSlots + n;
    const grow = <T extends Float64Array | Uint8Array | Int32Array>(old: T, make: (k: number) => T): T => {
      const t = make(total);
      t.set(old);
      return t;
    };
    this.poolPfn = grow(this.poolPfn, (k) => new Float64Array(k));
    this.poolRef = grow(this.poolRef, (k) => new Uint8Array(k));
    this.poolArena = grow(this.poolArena, (k) => new Int32Array(k));
    this.poolWord = grow(this.poolWord, (k) => new Int32Array(k));
    this.arenas.push(new Uint32Array(n * WORDS_PER_FRAME));
    const arena = this.arenas.length - 1;
    while (this.arenaPoolBase.length < arena) this.arenaPoolBase.push(-1);
    this.arenaPoolBase[arena] = this.poolSlots;
    const first = this.poolSlots;
    for (let i = 0; i < n; i++) {
      this.poolPfn[first + i] = -1;
      this.poolArena[first + i] = arena;
      this.poolWord[first + i] = i * WORDS_PER_FRAME;
    }
    // Slots after the first go on the free list (taken before the next growth).
    for (let i = n - 1; i > 0; i--) this.poolFree.push(first + i);
    this.poolSlots = total;
    return first;
  }

  /**
   * Frame `pfn`, cached in cache slot `slot`, is about to be written: when it lives in the pool,
   * move it to an allocation arena so it is never dropped (a written frame has no other copy).
   */
  private unpool(pfn: number, slot: number): void {
    const arena = this.cacheArena[slot] as number;
    const base = this.arenaPoolBase[arena] ?? -1;
    if (base < 0) return;
    const word = this.cacheWord[slot] as number;
    const from = this.arenas[arena] as Uint32Array;
    this.allocSlot(pfn);
    (this.arenas[this.cacheArena[slot] as number] as Uint32Array).set(
      from.subarray(word, word + WORDS_PER_FRAME),
      this.cacheWord[slot] as number,
    );
    const p = base + word / WORDS_PER_FRAME;
    this.poolPfn[p] = -1;
    this.poolRef[p] = 0;
    this.poolFree.push(p);
  }

  private frameForWrite(pfn: number): Uint32Array {
    const slot = pfn & (CACHE_SLOTS - 1);
    if (this.cacheTag[slot] !== pfn && !this.fill(pfn)) return this.allocFrame(pfn);
    if (this.poolSlots !== 0) this.unpool(pfn, slot);
    if (this.journal !== undefined) this.saveFrame(pfn, slot);
    const a = this.arenas[this.cacheArena[slot] as number] as Uint32Array;
    const w = this.cacheWord[slot] as number;
    return a.subarray(w, w + WORDS_PER_FRAME);
  }

  private allocFrame(pfn: number): Uint32Array {
    this.allocSlot(pfn);
    const a = this.arenas[this.allocArena] as Uint32Array;
    const word = this.allocNext - WORDS_PER_FRAME;
    return a.subarray(word, word + WORDS_PER_FRAME);
  }

  /**
   * Give frame `pfn` the next allocation-arena slot and make it the cached entry of its slot (no
   * view). Returns whether the slot is known to hold zeros (never handed out before).
   */
  private allocSlot(pfn: number): boolean {
    if (this.allocNext + WORDS_PER_FRAME > this.allocWords) {
      this.allocWords = this.allocWords === 0 ? this.firstArenaWords : Math.min(this.allocWords * 2, ARENA_WORDS);
      this.arenas.push(new Uint32Array(this.allocWords));
      this.allocArena = this.arenas.length - 1;
      this.allocNext = 0;
      this.allocClean = 0;
    }
    const word = this.allocNext;
    this.allocNext += WORDS_PER_FRAME;
    const clean = word >= this.allocClean;
    if (clean) this.allocClean = this.allocNext;
    this.place(pfn, this.allocArena, word);
    if (this.journal !== undefined && !this.journal.has(pfn)) this.journal.set(pfn, null);
    return clean;
  }

  /** Before the first write to a frame that existed at the checkpoint: keep a copy of its words. */
  private saveFrame(pfn: number, slot: number): void {
    const j = this.journal as Map<number, Uint32Array | null>;
    if (j.has(pfn)) return;
    const w = this.cacheWord[slot] as number;
    j.set(pfn, (this.arenas[this.cacheArena[slot] as number] as Uint32Array).slice(w, w + WORDS_PER_FRAME));
  }

  /**
   * Remember the memory as it is now: `rollback()` brings it back, restoring only the frames
   * written since (copy-on-write), so a memory can be reused for many runs of one scenario
   * (--explore) instead of being rebuilt for each. A new checkpoint replaces the old one.
   */
  checkpoint(): void {
    this.journal = new Map();
    this.mark = {
      arenas: this.arenas.length,
      allocArena: this.allocArena,
      allocWords: this.allocWords,
      allocNext: this.allocNext,
      ram: this.ram.length,
      banks: this.banks.length,
      sources: this.sources.length,
      pool: this.poolSlots,
    };
  }

  /** Undo every change since `checkpoint()` (words, frames created, RAM, banks and sources added); the checkpoint stays. */
  rollback(): void {
    const j = this.journal;
    if (j === undefined) throw new MemoryError("EMEM_CHECKPOINT", "rollback without a checkpoint");
    for (const [pfn, saved] of j) {
      const slot = pfn & (CACHE_SLOTS - 1);
      if (saved === null) {
        this.index.delete(pfn);
        if (this.cacheTag[slot] === pfn) this.cacheTag[slot] = -1;
        continue;
      }
      if (this.cacheTag[slot] !== pfn) this.fill(pfn);
      (this.arenas[this.cacheArena[slot] as number] as Uint32Array).set(saved, this.cacheWord[slot] as number);
    }
    j.clear();
    const m = this.mark;
    if (this.arenas.length > m.arenas) {
      // Arenas created since hold frames created since (dropped above), a bank's frames, or source
      // frames of the pool (kept: they are only a cache of their source).
      const poolGrew = this.poolSlots !== m.pool;
      for (const [pfn, loc] of [...this.index]) {
        const arena = Math.floor(loc / LOC_SCALE);
        if (arena >= m.arenas && (this.arenaPoolBase[arena] ?? -1) < 0) this.forget(pfn);
      }
      if (!poolGrew) this.arenas.length = m.arenas;
    }
    // Slots handed out since the checkpoint hold old words: only the arena's never-used tail is clean
    // (nothing is known clean when the checkpoint's arena is an older one).
    if (this.allocArena !== m.allocArena) this.allocClean = m.allocWords;
    this.allocArena = m.allocArena;
    this.allocWords = m.allocWords;
    this.allocNext = m.allocNext;
    this.ram.length = m.ram;
    this.banks.length = m.banks;
    this.sources.length = m.sources;
  }

  /** Store a 64-bit word given as halves (pa 8-byte aligned). Unbacked frames become backed. */
  store64(pa: number, hi: number, lo: number): void {
    const pfn = Math.floor(pa / FRAME_SIZE);
    const slot = pfn & (CACHE_SLOTS - 1);
    if (this.cacheTag[slot] !== pfn && !this.fill(pfn)) this.allocSlot(pfn);
    else {
      if (this.poolSlots !== 0) this.unpool(pfn, slot);
      if (this.journal !== undefined) this.saveFrame(pfn, slot);
    }
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
      if (this.cacheTag[slot] !== pfn && !this.fill(pfn)) {
        if (this.allocSlot(pfn)) continue; // a never-used slot is zero already
      } else {
        if (this.poolSlots !== 0) this.unpool(pfn, slot);
        if (this.journal !== undefined) this.saveFrame(pfn, slot);
      }
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
    this.checkBank(b, size, source);
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

  /**
   * Record a bank whose frames a FrameSource supplies (a file read on demand): checked against the
   * other banks like addBank, listed by bankList, and declared RAM (a frame the source reads as
   * zero reads as zero). The source itself is added with addSource.
   */
  addSourceBank(base: number, size: number, source: string): Bank {
    if (!(Number.isSafeInteger(base) && base >= 0 && base % FRAME_SIZE === 0)) {
      throw new MemoryError("EBANK_SPEC", `${source}: load address 0x${base.toString(16)} is not 4 KiB aligned`);
    }
    this.checkBank(base, size, source);
    const bank = { base, size, source };
    this.banks.push(bank);
    this.ram.push({ base, end: base + size });
    return bank;
  }

  private checkBank(b: number, size: number, source: string): void {
    if (b + size > PA_LIMIT) {
      throw new MemoryError("EBANK_SPEC", `${source}: bank 0x${b.toString(16)}+0x${size.toString(16)} extends past the 52-bit PA space`);
    }
    for (const o of this.banks) {
      if (b < o.base + o.size && o.base < b + size) {
        throw new MemoryError(
          "EBANK_OVERLAP",
          `${source}@0x${b.toString(16)} (0x${size.toString(16)} bytes) overlaps ${o.source}@0x${o.base.toString(16)} (0x${o.size.toString(16)} bytes)`,
        );
      }
    }
  }

  bankList(): readonly Bank[] {
    return this.banks;
  }

  /** Frame numbers holding data (loaded, written, or held by a source), ascending. */
  backedFrames(): number[] {
    if (this.sources.length === 0) return [...this.index.keys()].sort((a, b) => a - b);
    const out: number[] = [];
    for (const r of this.backedRuns()) for (let p = r.first; p < r.first + r.count; p++) out.push(p);
    return out;
  }

  /**
   * The frames holding data (loaded, written, or held by a source) as runs, ascending: what a scan
   * of all memory walks without listing every frame of a large dump read on demand.
   */
  backedRuns(): FrameRun[] {
    const keys = [...this.index.keys()].sort((a, b) => a - b);
    const runs: FrameRun[] = [];
    for (const k of keys) {
      const last = runs[runs.length - 1];
      if (last && last.first + last.count === k) last.count++;
      else runs.push({ first: k, count: 1 });
    }
    if (this.sources.length === 0) return runs;
    for (const s of this.sources) for (const r of s.runs()) runs.push({ first: r.first, count: r.count });
    runs.sort((a, b) => a.first - b.first);
    const merged: FrameRun[] = [];
    for (const r of runs) {
      const last = merged[merged.length - 1];
      if (last && r.first <= last.first + last.count) last.count = Math.max(last.count, r.first + r.count - last.first);
      else merged.push({ first: r.first, count: r.count });
    }
    return merged;
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
