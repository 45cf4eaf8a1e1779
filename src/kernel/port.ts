/**
 * The kernel library's view of the machine: the operations a CPU performs on page tables
 * (64-bit stores, barriers, TLB maintenance, system-register writes, cache maintenance, accesses
 * at a VA) and the secure-world protection calls. Every page-table store the library makes goes
 * through a port, so a checked machine sees it; `DirectPort` is the unchecked fast path that only
 * writes memory (for building tables at full speed and for the benchmark).
 *
 * Loads of descriptors read physical memory directly: a CPU always observes its own stores, and
 * a load changes no architectural state the checker tracks.
 */
import type { DcOp, DsbKind as DsbDomain, SysReg, TlbiOp } from "../arch/sysops.js";
import { FRAME_CACHE_MASK, FRAME_SIZE, type PhysMem } from "../mem/physmem.js";

/** DSB domains, TLBI operations, system registers and DC operations: the architecture's names (arch/sysops.ts). */
export type { DcOp, DsbKind as DsbDomain, SysReg, TlbiOp } from "../arch/sysops.js";

export type AccessKind = "read" | "write" | "exec";

export type AccessOutcome =
  | { readonly ok: true; readonly pa: bigint }
  | { readonly ok: false; readonly fault: string; readonly level: number; readonly reason: string };

export interface MachinePort {
  /** Physical memory, for descriptor loads only. */
  readonly mem: PhysMem;
  readonly cpuCount: number;
  /** 64-bit store of (hi, lo) to the 8-byte aligned physical address `pa` by `cpu`. */
  store64(cpu: number, pa: number, hi: number, lo: number): void;
  /**
   * Optional bulk form of store64: `n` consecutive descriptors from `pa`, the i-th being the
   * 64-bit value (hi, lo) + i * step (step < 2^32). Same meaning as n store64 calls.
   */
  storeRun?(cpu: number, pa: number, n: number, hi: number, lo: number, step: number): void;
  /** Zero [pa, pa+size) with stores by `cpu` (a fresh table page). */
  zero(cpu: number, pa: number, size: number): void;
  dsb(cpu: number, domain: DsbDomain): void;
  isb(cpu: number): void;
  /** TLBI `op`; `va` for the by-VA forms (ignored otherwise), `asid` for ASIDE1. */
  tlbi(cpu: number, op: TlbiOp, va?: bigint, asid?: number): void;
  msr(cpu: number, reg: SysReg, value: bigint): void;
  mrs(cpu: number, reg: SysReg): bigint;
  /** Data-cache maintenance by VA (to PoC), as the kernel issues it. */
  dc(cpu: number, op: DcOp, va: bigint): void;
  /** A load, store or instruction fetch at a VA by `cpu` at EL1; reports how it translated. */
  access(cpu: number, va: bigint, kind: AccessKind): AccessOutcome;
  /** Hand [pa, pa+size) to the secure world (or take it back). */
  protect(cpu: number, pa: bigint, size: bigint, on: boolean): void;
  /** A free-text annotation for reports (which kernel function is running). */
  note(cpu: number, text: string): void;
}

/** Unchecked port: stores go straight to memory; barriers and TLB maintenance are counted only. */
export class DirectPort implements MachinePort {
  readonly mem: PhysMem;
  readonly cpuCount: number;
  private readonly regs: Map<string, bigint> = new Map();
  stores = 0;
  barriers = 0;
  tlbis = 0;
  readonly notes: string[] = [];
  keepNotes = false;

  constructor(mem: PhysMem, cpuCount = 1) {
    this.mem = mem;
    this.cpuCount = cpuCount;
  }

  store64(_cpu: number, pa: number, hi: number, lo: number): void {
    this.stores++;
    this.mem.store64(pa, hi, lo);
  }

  storeRun(_cpu: number, pa: number, n: number, hi: number, lo: number, step: number): void {
    this.stores += n;
    const mem = this.mem;
    let h = hi | 0;
    let l = lo >>> 0;
    let i = 0;
    while (i < n) {
      const a = pa + i * 8;
      const pfn = Math.floor(a / FRAME_SIZE);
      mem.store64(a, h >>> 0, l); // backs the frame and makes it the cached entry of its slot
      const slot = pfn & FRAME_CACHE_MASK;
      const fr = this.int32View(mem.arenas[mem.cacheArena[slot] as number] as Uint32Array);
      let w = (mem.cacheWord[slot] as number) + ((a - pfn * FRAME_SIZE) >>> 2);
      const stop = Math.min(n - i, (FRAME_SIZE - (a - pfn * FRAME_SIZE)) / 8);
      let j = 0;
      while (j < stop) {
        // Entries before the low half carries (all of them for step 0): a loop with no carry test.
        const m = Math.min(stop - j, Math.floor((4294967295 - l) / step) + 1);
        w = storeWords(fr, w, m, h, l | 0, step | 0);
        l += m * step;
        j += m;
        if (l >= 4294967296) {
          l -= 4294967296;
          h = (h + 1) | 0;
        }
      }
      i += stop;
    }
  }

  /** Int32Array views of the memory's arenas (the same words), for storeWords' int32 loop. */
  private readonly views = new WeakMap<Uint32Array, Int32Array>();
  private lastArena: Uint32Array | undefined;
  private lastView: Int32Array = new Int32Array(0);

  private int32View(arena: Uint32Array): Int32Array {
    if (arena === this.lastArena) return this.lastView;
    let v = this.views.get(arena);
    if (v === undefined) {
      v = new Int32Array(arena.buffer, arena.byteOffset, arena.length);
      this.views.set(arena, v);
    }
    this.lastArena = arena;
    this.lastView = v;
    return v;
  }

  zero(_cpu: number, pa: number, size: number): void {
    this.stores += size / 8;
    this.mem.zeroFrames(pa, size);
  }

  dsb(_cpu: number, _domain: DsbDomain): void {
    this.barriers++;
  }

  isb(): void {
    this.barriers++;
  }

  tlbi(_cpu: number, _op: TlbiOp, _va?: bigint, _asid?: number): void {
    this.tlbis++;
  }

  msr(cpu: number, reg: SysReg, value: bigint): void {
    this.regs.set(`${cpu}:${reg}`, value);
  }

  mrs(cpu: number, reg: SysReg): bigint {
    return this.regs.get(`${cpu}:${reg}`) ?? 0n;
  }

  dc(): void {}

  access(): AccessOutcome {
    return { ok: false, fault: "unmodelled", level: 0, reason: "DirectPort does not translate" };
  }

  protect(): void {}

  note(_cpu: number, text: string): void {
    if (this.keepNotes) this.notes.push(text);
  }
}

/**
 * `m` descriptors (lo + k * step, hi) as word pairs from word `w` of `fr`, in 32-bit integer
 * arithmetic (the caller guarantees the low half does not carry within them, so its low 32 bits
 * are the whole of it), four per iteration; returns the word after the last. Int32 values in an
 * Int32Array keep V8 on integer stores (no double-to-uint32 conversion per word).
 */
function storeWords(fr: Int32Array, w: number, m: number, hi: number, lo: number, step: number): number {
  let l = lo;
  const s2 = (step * 2) | 0;
  const s3 = (step * 3) | 0;
  const s4 = (step * 4) | 0;
  const end4 = w + 2 * (m - (m & 3));
  for (; w < end4; w += 8) {
    fr[w] = l;
    fr[w + 1] = hi;
    fr[w + 2] = (l + step) | 0;
    fr[w + 3] = hi;
    fr[w + 4] = (l + s2) | 0;
    fr[w + 5] = hi;
    fr[w + 6] = (l + s3) | 0;
    fr[w + 7] = hi;
    l = (l + s4) | 0;
  }
  const end = w + 2 * (m & 3);
  for (; w < end; w += 2) {
    fr[w] = l;
    fr[w + 1] = hi;
    l = (l + step) | 0;
  }
  return w;
}
