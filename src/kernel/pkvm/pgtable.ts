/**
 * KVM's stand-alone page-table code (arch/arm64/kvm/hyp/pgtable.c) as the hypervisor runs it:
 * one table type for the hypervisor's own stage 1 (kvm_pgtable_hyp_*) and for stage 2
 * (kvm_pgtable_stage2_*), with the 4K granule. What it reproduces:
 * - the walk over [addr, addr+size) from the start level, across concatenated start tables
 *   (kvm_pgd_pages: 2^(ia_bits - shift(start_level - 1)) pages);
 * - a leaf is written at the first level where a block fits (kvm_block_mapping_supported: level
 *   >= 1 for 4K, the range covers the granule, address and PA aligned), else a zeroed table is
 *   linked and the walk descends; stage-2 maps with `forcePte` only write level-3 leaves
 *   (kvm_pgtable_stage2_set_owner and host_stage2_force_pte_cb);
 * - stage-2 annotations: an invalid leaf holding an owner id (kvm_pgtable_stage2_set_owner).
 * Every store goes through the machine port (so a checked machine sees them); table pages come
 * from the caller's allocator (the hypervisor's early allocator / host stage-2 pool).
 */
import { descriptorFormat, placeAddress } from "../../arch/descriptor.js";
import { GRANULE_4K } from "../../arch/granule.js";
import { KernelError } from "../errors.js";
import type { MachinePort } from "../port.js";

const FMT = descriptorFormat(GRANULE_4K);
const PAGE_SHIFT = 12;
const PAGE_SIZE = 4096;
const LAST_LEVEL = 3;

/** kvm_granule_shift(level) for 4K pages. */
export function kvmGranuleShift(level: number): number {
  return PAGE_SHIFT + (PAGE_SHIFT - 3) * (LAST_LEVEL - level);
}

export function kvmGranuleSize(level: number): bigint {
  return 1n << BigInt(kvmGranuleShift(level));
}

/** kvm_level_supports_block_mapping for 4K: levels 1 and 2 (and 3, pages). */
export function kvmLevelSupportsBlock(level: number): boolean {
  return level >= 1;
}

/** A source of zeroed, page-aligned table pages (physical addresses). */
export interface KvmPageAllocator {
  /** `n` contiguous pages aligned to their total size (n a power of two), or undefined when exhausted. */
  allocPages(n: number): number | undefined;
}

/** A bump allocator over [base, base + size): hyp_early_alloc / a pool's pages, handed out in order. */
export class KvmEarlyAllocator implements KvmPageAllocator {
  readonly base: number;
  readonly end: number;
  private cur: number;
  constructor(base: number, size: number) {
    this.base = base;
    this.end = base + size;
    this.cur = base;
  }
  allocPages(n: number): number | undefined {
    const bytes = n * PAGE_SIZE;
    const at = Math.ceil(this.cur / bytes) * bytes;
    if (at + bytes > this.end) return undefined;
    this.cur = at + bytes;
    return at;
  }
  /** Pages handed out so far (hyp_early_alloc_nr_used_pages). */
  get usedPages(): number {
    return (this.cur - this.base) / PAGE_SIZE;
  }
}

export type KvmTableKind = "hyp" | "stage2";

export interface KvmMapOptions {
  /** Only level-3 leaves (stage-2 force_pte). */
  readonly forcePte?: boolean;
}

/** A leaf found by getLeaf (kvm_pgtable_get_leaf): the entry, its level and its address. */
export interface KvmLeaf {
  readonly pte: bigint;
  readonly level: number;
  readonly ptep: number;
}

export class KvmPgtable {
  readonly kind: KvmTableKind;
  readonly port: MachinePort;
  readonly cpu: number;
  readonly alloc: KvmPageAllocator;
  readonly iaBits: number;
  readonly startLevel: number;
  /** Physical address of the (first) start table. */
  readonly pgd: number;
  readonly pgdPages: number;

  private constructor(kind: KvmTableKind, port: MachinePort, cpu: number, alloc: KvmPageAllocator, iaBits: number, startLevel: number) {
    this.kind = kind;
    this.port = port;
    this.cpu = cpu;
    this.alloc = alloc;
    this.iaBits = iaBits;
    this.startLevel = startLevel;
    // kvm_pgd_pages: entries of the start level beyond one page are further concatenated pages.
    this.pgdPages = 2 ** Math.max(0, iaBits - kvmGranuleShift(startLevel - 1));
    const pgd = alloc.allocPages(this.pgdPages);
    if (pgd === undefined) throw new KernelError("ENOMEM", `${kind} pgd: no page left in the pool (-ENOMEM)`, "kvm_pgtable_*_init");
    this.pgd = pgd;
    port.zero(cpu, pgd, this.pgdPages * PAGE_SIZE);
  }

  /** kvm_pgtable_hyp_init: start level from ARM64_HW_PGTABLE_LEVELS(va_bits). */
  static hyp(port: MachinePort, alloc: KvmPageAllocator, vaBits: number, cpu = 0): KvmPgtable {
    const levels = Math.floor((vaBits - 4) / (PAGE_SHIFT - 3));
    return new KvmPgtable("hyp", port, cpu, alloc, vaBits, 4 - levels);
  }

  /** __kvm_pgtable_stage2_init for an IPA size and start level (from VTCR_EL2). */
  static stage2(port: MachinePort, alloc: KvmPageAllocator, iaBits: number, startLevel: number, cpu = 0): KvmPgtable {
    return new KvmPgtable("stage2", port, cpu, alloc, iaBits, startLevel);
  }

  private read(pa: number): bigint {
    const m = this.port.mem;
    if (!m.load64(pa)) return 0n;
    return (BigInt(m.hi >>> 0) << 32n) | BigInt(m.lo >>> 0);
  }

  private write(pa: number, v: bigint): void {
    this.port.store64(this.cpu, pa, Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn));
  }

  /** Physical address of the entry for `addr` in the table at `table` (level `level`). */
  private entryAt(table: number, level: number, addr: bigint): number {
    const shift = BigInt(kvmGranuleShift(level));
    if (level === this.startLevel) {
      const idx = Number((addr & ((1n << BigInt(this.iaBits)) - 1n)) >> shift);
      return this.pgd + idx * 8;
    }
    return table + Number((addr >> shift) & 511n) * 8;
  }

  private checkRange(addr: bigint, size: bigint): void {
    if (addr + size > 1n << BigInt(this.iaBits))
      throw new KernelError(
        "EKERN_RANGE",
        `${this.kind} map [0x${addr.toString(16)}, +0x${size.toString(16)}) beyond the ${this.iaBits}-bit input range (-ERANGE)`,
        "kvm_pgtable_walk: addr/end above BIT(ia_bits)",
      );
  }

  /**
   * Map [addr, addr+size) to `phys` with the leaf attributes `attr` (hyp_map_walker /
   * stage2_map_walker): valid block or page leaves.
   */
  map(addr: bigint, size: bigint, phys: bigint, attr: bigint, o: KvmMapOptions = {}): void {
    this.mapRange(addr, size, phys, attr, false, o.forcePte === true);
  }

  /**
   * kvm_pgtable_stage2_set_owner: invalid level-3 leaves recording `annotation` (an owner id in
   * bits [9:2], prot.ts invalidOwnerPte) over [addr, addr+size).
   */
  annotate(addr: bigint, size: bigint, annotation: bigint): void {
    if ((annotation & 1n) !== 0n) throw new RangeError("an annotation is an invalid entry (bit 0 clear)");
    this.mapRange(addr, size, 0n, annotation, true, true);
  }

  private mapRange(addr: bigint, size: bigint, phys: bigint, attr: bigint, annotation: boolean, forcePte: boolean): void {
    const start = addr & ~BigInt(PAGE_SIZE - 1);
    const end = (addr + size + BigInt(PAGE_SIZE - 1)) & ~BigInt(PAGE_SIZE - 1);
    this.checkRange(start, end - start);
    let pa = phys & ~BigInt(PAGE_SIZE - 1);
    let a = start;
    while (a < end) {
      const granule = this.mapOne(this.pgd, this.startLevel, a, end, pa, attr, annotation, forcePte);
      a += granule;
      pa += granule;
    }
  }

  /** One leaf for `a` (descending and linking tables as needed); returns the bytes it covers. */
  private mapOne(
    table: number,
    level: number,
    a: bigint,
    end: bigint,
    pa: bigint,
    attr: bigint,
    annotation: boolean,
    forcePte: boolean,
  ): bigint {
    const ptep = this.entryAt(table, level, a);
    const old = this.read(ptep);
    const granule = kvmGranuleSize(level);
    const isTable = level < LAST_LEVEL && (old & 3n) === 3n;
    const blockOk =
      (level === LAST_LEVEL || (kvmLevelSupportsBlock(level) && !forcePte)) &&
      granule <= end - a &&
      a % granule === 0n &&
      (annotation || pa % granule === 0n);
    if (blockOk && !isTable) {
      const type = level === LAST_LEVEL ? 3n : 1n;
      const pte = annotation ? attr : (attr & ~3n) | type | placeAddress(pa, FMT, kvmGranuleShift(level), "output address");
      if (old === pte) return granule;
      if ((old & 1n) !== 0n && (this.kind === "stage2" || ((old ^ pte) & ~(0xfn << 55n)) !== 0n))
        throw new KernelError(
          "EPKVM_PERM",
          `${this.kind} map at 0x${a.toString(16)}: a valid level-${level} leaf 0x${old.toString(16)} is already there`,
          "hyp_map_walker_try_leaf: WARN_ON((old ^ new) & ~SW) / stage-2 maps only into invalid entries here",
        );
      this.write(ptep, pte);
      return granule;
    }
    if (level === LAST_LEVEL)
      throw new KernelError("EPKVM_INVAL", `${this.kind} map: cannot place a leaf at 0x${a.toString(16)}`, "kvm_block_mapping_supported");
    let next: number;
    if (isTable) {
      next = Number(old & 0x0000_ffff_ffff_f000n);
    } else {
      if ((old & 1n) !== 0n)
        throw new KernelError(
          "EPKVM_PERM",
          `${this.kind} map at 0x${a.toString(16)}: a valid level-${level} block is in the way (splitting is not modelled)`,
          "stage2_map_walk_leaf",
        );
      const page = this.alloc.allocPages(1);
      if (page === undefined)
        throw new KernelError("ENOMEM", `${this.kind} map: no table page left in the pool (-ENOMEM)`, "mm_ops->zalloc_page");
      this.port.zero(this.cpu, page, PAGE_SIZE);
      // kvm_set_table_pte: the zeroed table is published before it is linked (smp_store_release).
      this.port.dsb(this.cpu, "ISHST");
      next = page;
      this.write(ptep, placeAddress(BigInt(page), FMT, PAGE_SHIFT, "table address") | 3n);
    }
    return this.mapOne(next, level + 1, a, end, pa, attr, annotation, forcePte);
  }

  /** kvm_pgtable_get_leaf: the non-table entry that covers `addr`. */
  getLeaf(addr: bigint): KvmLeaf {
    let table = this.pgd;
    for (let level = this.startLevel; ; level++) {
      const ptep = this.entryAt(table, level, addr);
      const pte = this.read(ptep);
      if (level === LAST_LEVEL || (pte & 3n) !== 3n) return { pte, level, ptep };
      table = Number(pte & 0x0000_ffff_ffff_f000n);
    }
  }

  /** Clear the valid bit of the leaf at `addr` (fixmap_clear_slot), keeping its other bits. */
  clearValid(addr: bigint): KvmLeaf {
    const leaf = this.getLeaf(addr);
    this.write(leaf.ptep, leaf.pte & ~1n);
    this.port.dsb(this.cpu, "ISHST");
    // TLBI VALE2IS: the machine model has no EL2 TLB operations; recorded as a note.
    this.port.note(this.cpu, `tlbi vale2is, 0x${addr.toString(16)} (EL2, not modelled by the machine)`);
    this.port.dsb(this.cpu, "ISH");
    this.port.isb(this.cpu);
    return { ...leaf, pte: leaf.pte & ~1n };
  }

  /** Leaves (kvm_pgtable_walk with KVM_PGTABLE_WALK_LEAF) over [addr, addr+size), valid or not. */
  leaves(addr: bigint, size: bigint, visit: (va: bigint, level: number, pte: bigint) => void): void {
    const end = addr + size;
    const walk = (table: number, level: number, from: bigint, to: bigint): void => {
      const g = kvmGranuleSize(level);
      for (let a = from - (from % g); a < to; a += g) {
        const pte = this.read(this.entryAt(table, level, a));
        if (level < LAST_LEVEL && (pte & 3n) === 3n) {
          walk(Number(pte & 0x0000_ffff_ffff_f000n), level + 1, a > from ? a : from, a + g < to ? a + g : to);
        } else visit(a, level, pte);
      }
    };
    walk(this.pgd, this.startLevel, addr, end);
  }
}
