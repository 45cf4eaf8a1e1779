/**
 * The fixmap (arch/arm64/include/asm/fixmap.h, mm/fixmap.c; linux-arm64-mm.md section 3): slot
 * numbering, early_fixmap_init with the statically allocated bm_pud/bm_pmd/bm_pte tables,
 * __set_fixmap / clear_fixmap with the TLB rule, and a TableAccess that reaches table pages
 * through FIX_PGD/PUD/PMD/PTE while new kernel tables are built.
 *
 * Slot layout follows v6.4+ (bm_pte covers the whole span from FIXADDR_TOT_START, so the FDT
 * window is PTE mapped); kmap_atomic slots (KM_TYPE_NR per CPU, from 32-bit ARM highmem) are
 * placed after FIX_TEXT_POKE0 when requested, a modelling choice since arm64 has no highmem.
 */
import { hex64 } from "../arch/u64.js";
import type { TableAllocator } from "./alloc.js";
import { isNone, isTable, type Kernel, type TableAccess } from "./context.js";
import { KernelError } from "./errors.js";
import type { KernelLayout } from "./layout.js";
import { pgtableAlloc, TABLE_UXN_HI } from "./mmu.js";
import { flushTlbKernelRange, kernelEntryBarrier } from "./tlb.js";

export interface FixmapConfig {
  /** CONFIG_ACPI_APEI_GHES: FIX_APEI_GHES_IRQ/SEA/SDEI_NORMAL/SDEI_CRITICAL. */
  readonly ghes?: boolean;
  /** CONFIG_UNMAP_KERNEL_AT_EL0: FIX_ENTRY_TRAMP_TEXT4..1 (default true). */
  readonly kpti?: boolean;
  /** CPUs with kmap_atomic slots (0: none). */
  readonly kmapCpus?: number;
  /** KM_TYPE_NR: kmap_atomic slots per CPU (16). */
  readonly kmTypeNr?: number;
}

export interface FixmapSlots {
  readonly FIX_HOLE: 0;
  readonly FIX_FDT_END: number;
  readonly FIX_FDT: number;
  readonly FIX_EARLYCON_MEM_BASE: number;
  readonly FIX_TEXT_POKE0: number;
  /** First kmap_atomic slot (-1 when none). */
  readonly FIX_KMAP_BEGIN: number;
  readonly FIX_KMAP_END: number;
  readonly KM_TYPE_NR: number;
  readonly FIX_APEI_GHES_IRQ: number;
  readonly FIX_ENTRY_TRAMP_TEXT1: number;
  readonly __end_of_permanent_fixed_addresses: number;
  readonly FIX_BTMAP_END: number;
  readonly FIX_BTMAP_BEGIN: number;
  readonly FIX_PTE: number;
  readonly FIX_PMD: number;
  readonly FIX_PUD: number;
  readonly FIX_PGD: number;
  readonly __end_of_fixed_addresses: number;
}

const MAX_FDT_SIZE = 2 * 1024 * 1024;
/** early_ioremap: FIX_BTMAPS_SLOTS (7) × NR_FIX_BTMAPS (256 KiB / PAGE_SIZE). */
const FIX_BTMAPS_SLOTS = 7;

export function fixmapSlots(pageSize: number, cfg: FixmapConfig = {}): FixmapSlots {
  let i = 1;
  const FIX_FDT_END = i;
  // A window of MAX_FDT_SIZE + 2 MiB so any FDT up to MAX_FDT_SIZE fits at any 2 MiB offset.
  const FIX_FDT = FIX_FDT_END + (MAX_FDT_SIZE + 2 * 1024 * 1024) / pageSize - 1;
  i = FIX_FDT + 1;
  const FIX_EARLYCON_MEM_BASE = i++;
  const FIX_TEXT_POKE0 = i++;
  const KM_TYPE_NR = cfg.kmTypeNr ?? 16;
  const kmapCount = (cfg.kmapCpus ?? 0) * KM_TYPE_NR;
  const FIX_KMAP_BEGIN = kmapCount > 0 ? i : -1;
  i += kmapCount;
  const FIX_KMAP_END = kmapCount > 0 ? i - 1 : -1;
  let FIX_APEI_GHES_IRQ = -1;
  if (cfg.ghes) {
    FIX_APEI_GHES_IRQ = i;
    i += 4;
  }
  let FIX_ENTRY_TRAMP_TEXT1 = -1;
  if (cfg.kpti ?? true) {
    // TEXT4 (the data page), TEXT3, TEXT2, TEXT1: TRAMP_VALIAS is TEXT1's address.
    FIX_ENTRY_TRAMP_TEXT1 = i + 3;
    i += 4;
  }
  const endPermanent = i;
  const nrBtmaps = Math.max(1, (256 * 1024) / pageSize);
  const FIX_BTMAP_END = endPermanent;
  const FIX_BTMAP_BEGIN = FIX_BTMAP_END + nrBtmaps * FIX_BTMAPS_SLOTS - 1;
  i = FIX_BTMAP_BEGIN + 1;
  const FIX_PTE = i++;
  const FIX_PMD = i++;
  const FIX_PUD = i++;
  const FIX_PGD = i++;
  return {
    FIX_HOLE: 0,
    FIX_FDT_END,
    FIX_FDT,
    FIX_EARLYCON_MEM_BASE,
    FIX_TEXT_POKE0,
    FIX_KMAP_BEGIN,
    FIX_KMAP_END,
    KM_TYPE_NR,
    FIX_APEI_GHES_IRQ,
    FIX_ENTRY_TRAMP_TEXT1,
    __end_of_permanent_fixed_addresses: endPermanent,
    FIX_BTMAP_END,
    FIX_BTMAP_BEGIN,
    FIX_PTE,
    FIX_PMD,
    FIX_PUD,
    FIX_PGD,
    __end_of_fixed_addresses: i,
  };
}

/** A table level's fixmap slot by kernel level name (P4D shares FIX_PUD's role one level up: FIX_PUD). */
function slotForLevel(k: Kernel, s: FixmapSlots, level: number): number {
  switch (k.levelName(level)) {
    case "PGD":
      return s.FIX_PGD;
    case "PTE":
      return s.FIX_PTE;
    case "PMD":
      return s.FIX_PMD;
    default:
      return s.FIX_PUD;
  }
}

export class Fixmap {
  readonly k: Kernel;
  readonly layout: KernelLayout;
  readonly slots: FixmapSlots;
  /** FIXADDR_START (permanent slots) and FIXADDR_TOT_START (all slots). */
  readonly FIXADDR_START: bigint;
  readonly FIXADDR_TOT_START: bigint;
  /** bm_pud/bm_pmd/bm_pte[] PAs once early_fixmap_init ran (bm_pud/bm_pmd -1 when folded or shared). */
  bmPtes: number[] = [];
  /** The pgd whose entries lead to the fixmap (the live one, and copied into new ones). */
  pgd = -1;
  /** Accesses through a slot that did not reach the expected page. */
  readonly anomalies: string[] = [];

  constructor(k: Kernel, layout: KernelLayout, cfg: FixmapConfig = {}) {
    this.k = k;
    this.layout = layout;
    this.slots = fixmapSlots(k.geo.PAGE_SIZE, cfg);
    const ps = BigInt(k.geo.PAGE_SIZE);
    this.FIXADDR_START = layout.FIXADDR_TOP - BigInt(this.slots.__end_of_permanent_fixed_addresses) * ps;
    this.FIXADDR_TOT_START = layout.FIXADDR_TOP - BigInt(this.slots.__end_of_fixed_addresses) * ps;
  }

  /** __fix_to_virt(idx) = FIXADDR_TOP - idx * PAGE_SIZE. */
  virt(idx: number): bigint {
    return this.layout.FIXADDR_TOP - BigInt(idx) * BigInt(this.k.geo.PAGE_SIZE);
  }

  private checkIdx(idx: number, fn: string): void {
    if (!Number.isInteger(idx) || idx <= this.slots.FIX_HOLE || idx >= this.slots.__end_of_fixed_addresses) {
      throw new KernelError(
        "EFIXMAP_SLOT",
        `${fn}: fixmap index ${idx} is outside (FIX_HOLE, __end_of_fixed_addresses=${this.slots.__end_of_fixed_addresses})`,
        "fixmap.c __set_fixmap: BUG_ON(idx <= FIX_HOLE || idx >= __end_of_fixed_addresses)",
      );
    }
  }

  /**
   * early_fixmap_init: link statically allocated tables (from `bss`) covering
   * [FIXADDR_TOT_START, FIXADDR_TOP) into `pgd`, reusing tables already present (e.g. 16K with
   * 4 levels, where the image and the fixmap share a PGD entry). All PTE tables hang under one PMD.
   */
  earlyInit(pgd: number, bss: TableAllocator): void {
    const k = this.k;
    this.pgd = pgd;
    const pmdSize = BigInt(k.geo.PMD_SIZE);
    const first = this.FIXADDR_TOT_START - (this.FIXADDR_TOT_START % pmdSize);
    this.bmPtes = [];
    for (let va = first; va < this.layout.FIXADDR_TOP; va += pmdSize) {
      this.bmPtes.push(ensurePteTable(k, pgd, va, bss, "early_fixmap_init"));
    }
  }

  /** PA of the PTE of slot `idx` (through the tables in memory). */
  ptep(idx: number): number {
    const k = this.k;
    const va = this.virt(idx);
    const pte = pteAddr(k, this.pgd, va);
    if (pte === undefined) {
      throw new KernelError(
        "EFIXMAP_SLOT",
        `fixmap: no PTE table maps slot ${idx} (${hex64(va)}); run early_fixmap_init first`,
        "early_fixmap_init",
      );
    }
    return pte;
  }

  /** Current PTE value of a slot. */
  slotValue(idx: number): bigint {
    return this.k.readEntryBig(this.ptep(idx));
  }

  /**
   * __set_fixmap(idx, phys, prot) with a non-zero prot: set_pte (DSB ISHST; ISB) and no TLB
   * invalidation, so the slot must be empty (cleared and flushed since its last use).
   */
  set(idx: number, pa: bigint | number, prot: bigint = this.k.prots.PAGE_KERNEL): bigint {
    this.checkIdx(idx, "set_fixmap");
    const k = this.k;
    const ptep = this.ptep(idx);
    k.readEntry(ptep);
    if (!isNone(k.hi, k.lo)) {
      throw new KernelError(
        "EFIXMAP_BUSY",
        `set_fixmap: slot ${idx} (${hex64(this.virt(idx))}) already holds ${k.describeEntry(k.hi, k.lo)}`,
        "fixmap discipline: set only an empty slot; each set is paired with a clear (PTE cleared + TLBI) before the next",
      );
    }
    this.setUnchecked(idx, pa, prot);
    return this.virt(idx) + (BigInt(pa) % BigInt(k.geo.PAGE_SIZE));
  }

  /** The store of __set_fixmap without the empty-slot check (for bad-variant scenarios). */
  setUnchecked(idx: number, pa: bigint | number, prot: bigint): void {
    const k = this.k;
    const ps = k.geo.PAGE_SIZE;
    k.makeEntry(Number(pa) - (Number(pa) % ps), prot);
    k.writeEntry(this.ptep(idx), k.eHi, k.eLo);
    kernelEntryBarrier(k);
  }

  /** clear_fixmap(idx): pte_clear, then flush_tlb_kernel_range over the slot's page. */
  clear(idx: number): void {
    this.checkIdx(idx, "clear_fixmap");
    const k = this.k;
    k.writeEntry(this.ptep(idx), 0, 0);
    const va = this.virt(idx);
    flushTlbKernelRange(k, va, va + BigInt(k.geo.PAGE_SIZE));
  }

  /** Access through a slot as the CPU would, recording when it does not reach `pa`. */
  touch(idx: number, pa: number, kind: "read" | "write" = "write"): void {
    const r = this.k.port.access(this.k.cpu, this.virt(idx), kind);
    if (r.ok && Number(r.pa) !== pa) {
      this.anomalies.push(`slot ${idx} (${hex64(this.virt(idx))}) reached PA 0x${r.pa.toString(16)}, expected 0x${pa.toString(16)}`);
    } else if (!r.ok && r.fault !== "unmodelled") {
      this.anomalies.push(`slot ${idx} (${hex64(this.virt(idx))}): ${r.fault} fault (${r.reason})`);
    }
  }

  /**
   * A TableAccess for __create_pgd_mapping that maps each table through FIX_PGD/PUD/PMD/PTE
   * (one slot per level, nested in order) and zeroes new tables through FIX_PTE, as
   * early_pgtable_alloc does — so tables outside the linear map can be used.
   */
  tableAccess(): TableAccess {
    const fm = this;
    const held = new Map<number, number>();
    return {
      enter(k: Kernel, level: number, pa: number): void {
        const slot = slotForLevel(k, fm.slots, level);
        fm.set(slot, pa);
        held.set(level, slot);
        fm.touch(slot, pa, "read");
      },
      leave(_k: Kernel, level: number): void {
        const slot = held.get(level);
        if (slot === undefined) return;
        held.delete(level);
        fm.clear(slot);
      },
      zeroNew(k: Kernel, pa: number, size: number): boolean {
        fm.set(fm.slots.FIX_PTE, pa);
        fm.touch(fm.slots.FIX_PTE, pa, "write");
        k.port.zero(k.cpu, pa, size);
        fm.clear(fm.slots.FIX_PTE);
        return true;
      },
    };
  }

  /** fixmap_copy: copy the PGD entry covering the fixmap from the current pgd into `newPgd`. */
  copyTo(newPgd: number): void {
    const k = this.k;
    const off = k.offOf(this.FIXADDR_TOT_START);
    const src = k.entryAddr(this.pgd, k.geo.pgdLevel, off);
    const v = k.readEntryBig(src);
    const dst = k.entryAddr(newPgd, k.geo.pgdLevel, off);
    k.readEntry(dst);
    if (!isNone(k.hi, k.lo)) {
      if (k.readEntryBig(dst) === v) return;
      throw new KernelError(
        "EKERN_TABLE_REPOINT",
        `fixmap_copy: the new pgd already has a different entry for the fixmap`,
        "fixmap_copy copies into an empty slot",
      );
    }
    k.writeEntryBig(dst, v);
    kernelEntryBarrier(k);
  }
}

/** PA of the level-3 entry mapping `va` in `root` (undefined when a table is missing). */
export function pteAddr(k: Kernel, root: number, va: bigint): number | undefined {
  const off = k.offOf(va);
  let table = root;
  for (let level = k.geo.pgdLevel; level < 3; level++) {
    const ea = k.entryAddr(table, level, off);
    k.readEntry(ea);
    if (!isTable(k.lo, level)) return undefined;
    table = k.tableAddr(k.hi, k.lo);
  }
  return k.entryAddr(table, 3, off);
}

/** Allocate any missing tables down to the PTE table for `va`; return that table's PA. */
export function ensurePteTable(k: Kernel, root: number, va: bigint, alloc: TableAllocator, fn: string): number {
  const off = k.offOf(va);
  let table = root;
  for (let level = k.geo.pgdLevel; level < 3; level++) {
    const ea = k.entryAddr(table, level, off);
    k.readEntry(ea);
    if (isNone(k.hi, k.lo)) {
      const t = pgtableAlloc(k, alloc, level + 1, fn);
      k.writeTableEntry(ea, t, TABLE_UXN_HI);
      kernelEntryBarrier(k);
      table = t;
    } else if (isTable(k.lo, level)) {
      table = k.tableAddr(k.hi, k.lo);
    } else {
      throw new KernelError(
        "EKERN_LIVE_BLOCK",
        `${fn}: ${hex64(va)} is covered by a ${k.levelName(level)} block; no PTE table can be linked`,
        "mmu.c: BUG_ON(p?d_bad())",
      );
    }
  }
  return table;
}
