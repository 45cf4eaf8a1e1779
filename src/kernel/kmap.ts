/**
 * kmap / kmap_atomic as 32-bit ARM highmem does them (arch/arm/mm/highmem.c, mm/highmem.c;
 * linux-arm64-mm.md section 7), modelled on this machine's fixmap: per-CPU kmap_atomic slots with
 * a nesting depth, kunmap_atomic leaving the PTE in place (no DEBUG_HIGHMEM), persistent pkmap
 * slots with pkmap_count, kmap_flush_unused, the proposed kmap_atomic_flush_unused with its CPU
 * hotplug (CPU_DYING) hook, and handing pages to the secure world.
 */
import { hex64 } from "../arch/u64.js";
import type { TableAllocator } from "./alloc.js";
import type { Kernel } from "./context.js";
import { KernelError } from "./errors.js";
import { ensurePteTable, type Fixmap } from "./fixmap.js";
import { flushTlbKernelRange, kernelEntryBarrier, localFlushTlbKernelPage } from "./tlb.js";

export interface KmapOptions {
  /** CONFIG_DEBUG_HIGHMEM: the slot must be empty on map and is cleared on unmap. */
  readonly debugHighmem?: boolean;
  /** Register the CPU_DYING notifier that flushes a departing CPU's slots (default true). */
  readonly hotplugNotifier?: boolean;
  /**
   * Finish kmap_atomic_flush_unused with one broadcast flush_tlb_kernel_range over the slots it
   * cleared. The proposal flushes locally only; under the architecture's may-cache rule another
   * CPU may have cached a slot's translation speculatively, so the checker wants a broadcast.
   */
  readonly broadcastFlush?: boolean;
}

export class Kmap {
  readonly k: Kernel;
  readonly fixmap: Fixmap;
  readonly opts: KmapOptions;
  /** kmap_atomic_idx per CPU: -1 when nothing is mapped. */
  readonly depth: number[];
  readonly online: boolean[];
  /** Persistent kmap area: LAST_PKMAP slots at PKMAP_BASE, and pkmap_count[]. */
  readonly PKMAP_BASE: bigint;
  readonly LAST_PKMAP: number;
  readonly pkmapCount: number[];
  private pkmapPte = -1;
  private lastPkmapNr = 0;
  private readonly pkmapPage = new Map<number, number>();

  constructor(k: Kernel, fixmap: Fixmap, opts: KmapOptions = {}) {
    if (fixmap.slots.FIX_KMAP_BEGIN < 0) {
      throw new KernelError(
        "EKERN_CONFIG",
        "kmap: the fixmap has no kmap_atomic slots (FixmapConfig.kmapCpus)",
        "FIX_KMAP_BEGIN..FIX_KMAP_END",
      );
    }
    this.k = k;
    this.fixmap = fixmap;
    this.opts = opts;
    const cpus = (fixmap.slots.FIX_KMAP_END - fixmap.slots.FIX_KMAP_BEGIN + 1) / fixmap.slots.KM_TYPE_NR;
    this.depth = Array.from({ length: cpus }, () => -1);
    this.online = Array.from({ length: cpus }, () => true);
    this.LAST_PKMAP = k.geo.PTRS_PER_PTE;
    // One PTE table's span just below the PMD holding the fixmap (PKMAP_BASE = PAGE_OFFSET - PMD_SIZE on ARM).
    const pmd = BigInt(k.geo.PMD_SIZE);
    this.PKMAP_BASE = fixmap.FIXADDR_TOT_START - (fixmap.FIXADDR_TOT_START % pmd) - pmd;
    this.pkmapCount = Array.from({ length: this.LAST_PKMAP }, () => 0);
  }

  /** kmap_init: allocate the pkmap PTE table. */
  init(alloc: TableAllocator): void {
    this.pkmapPte = ensurePteTable(this.k, this.fixmap.pgd, this.PKMAP_BASE, alloc, "kmap_init");
  }

  private slot(cpu: number, type: number): number {
    return this.fixmap.slots.FIX_KMAP_BEGIN + type + this.fixmap.slots.KM_TYPE_NR * cpu;
  }

  /** VA of a kmap_atomic slot. */
  slotVa(cpu: number, type: number): bigint {
    return this.fixmap.virt(this.slot(cpu, type));
  }

  /**
   * kmap_atomic(page) on `cpu`: push the depth, map the page in slot FIX_KMAP_BEGIN + depth +
   * KM_TYPE_NR*cpu with set_pte + a local TLB flush of that page.
   */
  kmapAtomic(cpu: number, pa: bigint | number): bigint {
    const k = this.k;
    const d = (this.depth[cpu] ?? -1) + 1;
    if (d >= this.fixmap.slots.KM_TYPE_NR) {
      throw new KernelError(
        "EKMAP_DEPTH",
        `kmap_atomic: CPU ${cpu} nesting depth ${d} exceeds KM_TYPE_NR=${this.fixmap.slots.KM_TYPE_NR}`,
        "kmap_atomic_idx_push: BUG_ON(idx >= KM_TYPE_NR)",
      );
    }
    this.depth[cpu] = d;
    const idx = this.slot(cpu, d);
    const ptep = this.fixmap.ptep(idx);
    if (this.opts.debugHighmem) {
      k.readEntry(ptep);
      if (k.hi !== 0 || k.lo !== 0) {
        throw new KernelError("EFIXMAP_BUSY", `kmap_atomic: slot ${idx} is not empty`, "DEBUG_HIGHMEM: BUG_ON(!pte_none(*ptep))");
      }
    }
    k.makeEntry(Number(pa) - (Number(pa) % k.geo.PAGE_SIZE), k.prots.PAGE_KERNEL);
    k.port.store64(cpu, ptep, k.eHi, k.eLo);
    const va = this.fixmap.virt(idx);
    localFlushTlbKernelPage(k, cpu, va);
    return va + BigInt(Number(pa) % k.geo.PAGE_SIZE);
  }

  /** __kunmap_atomic: pop the depth; the PTE stays unless DEBUG_HIGHMEM. */
  kunmapAtomic(cpu: number, va: bigint): void {
    const d = this.depth[cpu] ?? -1;
    if (d < 0) throw new KernelError("EKMAP_DEPTH", `kunmap_atomic: CPU ${cpu} has no kmap_atomic mapping`, "kmap_atomic_idx_pop");
    const idx = this.slot(cpu, d);
    const expect = this.fixmap.virt(idx);
    const ps = BigInt(this.k.geo.PAGE_SIZE);
    if (this.opts.debugHighmem) {
      if (va - (va % ps) !== expect) {
        throw new KernelError(
          "EKMAP_DEPTH",
          `kunmap_atomic: ${hex64(va)} is not the top slot ${hex64(expect)}`,
          "DEBUG_HIGHMEM: BUG_ON(vaddr != __fix_to_virt(idx))",
        );
      }
      this.k.port.store64(cpu, this.fixmap.ptep(idx), 0, 0);
      localFlushTlbKernelPage(this.k, cpu, expect);
    }
    this.depth[cpu] = d - 1;
  }

  /** kmap_atomic_flush_unused's per-CPU work: clear non-zero PTEs of slots above the depth, local flush each. */
  removeUnusedCpu(cpu: number): number {
    const k = this.k;
    let cleared = 0;
    for (let t = (this.depth[cpu] ?? -1) + 1; t < this.fixmap.slots.KM_TYPE_NR; t++) {
      const idx = this.slot(cpu, t);
      const ptep = this.fixmap.ptep(idx);
      k.readEntry(ptep);
      if (k.hi === 0 && k.lo === 0) continue;
      k.port.store64(cpu, ptep, 0, 0);
      localFlushTlbKernelPage(k, cpu, this.fixmap.virt(idx));
      cleared++;
    }
    return cleared;
  }

  /** kmap_atomic_flush_unused: on_each_cpu(kmap_remove_unused) — online CPUs only. */
  kmapAtomicFlushUnused(): number {
    let n = 0;
    for (let c = 0; c < this.depth.length; c++) if (this.online[c]) n += this.removeUnusedCpu(c);
    if (n > 0) this.broadcast();
    return n;
  }

  /** CPU hot-unplug: with the notifier registered, the departing CPU flushes its slots at CPU_DYING. */
  cpuDying(cpu: number): number {
    const n = this.opts.hotplugNotifier === false ? 0 : this.removeUnusedCpu(cpu);
    if (n > 0) this.broadcast(cpu);
    this.online[cpu] = false;
    return n;
  }

  private broadcast(cpu = this.k.cpu): void {
    if (!this.opts.broadcastFlush) return;
    const s = this.fixmap.slots;
    const saved = this.k.cpu;
    this.k.cpu = cpu;
    // Slots grow downward: FIX_KMAP_END has the lowest address.
    flushTlbKernelRange(this.k, this.fixmap.virt(s.FIX_KMAP_END), this.fixmap.virt(s.FIX_KMAP_BEGIN) + BigInt(this.k.geo.PAGE_SIZE));
    this.k.cpu = saved;
  }

  cpuOnline(cpu: number): void {
    this.online[cpu] = true;
  }

  // ---- persistent kmaps

  private pkmapAddr(nr: number): bigint {
    return this.PKMAP_BASE + BigInt(nr) * BigInt(this.k.geo.PAGE_SIZE);
  }

  /** kmap(page) of a highmem page: reuse its pkmap slot or map a new one (count 1 = mapped, unused). */
  kmap(pa: bigint | number): bigint {
    if (this.pkmapPte < 0) throw new KernelError("EKERN_CONFIG", "kmap: call init() first", "kmap_init");
    const k = this.k;
    const p = Number(pa) - (Number(pa) % k.geo.PAGE_SIZE);
    for (const [nr, page] of this.pkmapPage) {
      if (page === p && (this.pkmapCount[nr] ?? 0) > 0) {
        this.pkmapCount[nr] = (this.pkmapCount[nr] ?? 0) + 1;
        return this.pkmapAddr(nr);
      }
    }
    for (let tries = 0; tries < this.LAST_PKMAP; tries++) {
      this.lastPkmapNr = (this.lastPkmapNr + 1) % this.LAST_PKMAP;
      if (this.lastPkmapNr === 0) this.flushAllZeroPkmaps();
      const nr = this.lastPkmapNr;
      if ((this.pkmapCount[nr] ?? 0) !== 0) continue;
      k.makeEntry(p, k.prots.PAGE_KERNEL);
      k.writeEntry(this.pkmapPte + nr * 8, k.eHi, k.eLo);
      kernelEntryBarrier(k);
      this.pkmapCount[nr] = 2;
      this.pkmapPage.set(nr, p);
      return this.pkmapAddr(nr);
    }
    throw new KernelError("EKMAP_DEPTH", "kmap: no free pkmap slot", "map_new_virtual sleeps until a slot frees");
  }

  /** kunmap(page): drop one user; at count 1 the mapping stays until the next flush. */
  kunmap(pa: bigint | number): void {
    const p = Number(pa) - (Number(pa) % this.k.geo.PAGE_SIZE);
    for (const [nr, page] of this.pkmapPage) {
      if (page === p && (this.pkmapCount[nr] ?? 0) > 1) {
        this.pkmapCount[nr] = (this.pkmapCount[nr] ?? 0) - 1;
        return;
      }
    }
    throw new KernelError("EKMAP_DEPTH", `kunmap: PA 0x${p.toString(16)} is not kmapped`, "kunmap_high: BUG_ON(!count)");
  }

  /** flush_all_zero_pkmaps: slots at count 1 → 0, PTE cleared; one broadcast flush if any. */
  private flushAllZeroPkmaps(): number {
    const k = this.k;
    let n = 0;
    for (let nr = 0; nr < this.LAST_PKMAP; nr++) {
      if (this.pkmapCount[nr] !== 1) continue;
      this.pkmapCount[nr] = 0;
      k.writeEntry(this.pkmapPte + nr * 8, 0, 0);
      this.pkmapPage.delete(nr);
      n++;
    }
    if (n > 0) flushTlbKernelRange(k, this.pkmapAddr(0), this.pkmapAddr(this.LAST_PKMAP));
    return n;
  }

  /** kmap_flush_unused(). */
  kmapFlushUnused(): number {
    return this.flushAllZeroPkmaps();
  }

  /** Hand [pa, pa+size) to the secure world (an SCM MEM_PROTECT_LOCK call). */
  protectForSecure(pa: bigint, size: bigint): void {
    this.k.port.note(this.k.cpu, `scm: MEM_PROTECT_LOCK [0x${pa.toString(16)}, +0x${size.toString(16)})`);
    this.k.port.protect(this.k.cpu, pa, size, true);
  }
}
