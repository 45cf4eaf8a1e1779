/**
 * The kernel image and the linear map (arch/arm64/mm/mmu.c map_kernel, map_mem,
 * mark_rodata_ro, mark_linear_text_alias_ro; linux-arm64-mm.md section 2).
 */
import { hex64 } from "../arch/u64.js";
import type { TableAllocator } from "./alloc.js";
import type { Kernel } from "./context.js";
import { KernelError } from "./errors.js";
import { pteAddr } from "./fixmap.js";
import type { KernelLayout } from "./layout.js";
import { createMapping, type MapStats, updateMappingProt } from "./mmu.js";
import { NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS, NO_EXEC_MAPPINGS, pgprotTagged } from "./prot.js";
import { flushTlbKernelRange } from "./tlb.js";

export type SegmentName = "text" | "rodata" | "inittext" | "initdata" | "data";
export const SEGMENT_NAMES: readonly SegmentName[] = ["text", "rodata", "inittext", "initdata", "data"];

export interface Segment {
  readonly name: SegmentName;
  readonly va: bigint;
  readonly pa: number;
  readonly size: number;
}

export interface KernelImage {
  /** VA and PA of _text. */
  readonly va: bigint;
  readonly pa: number;
  readonly segments: readonly Segment[];
  /** _end - _text. */
  readonly size: number;
}

export type SegmentSizes = Readonly<Record<SegmentName, number>>;

/** A typical small arm64 image: 2.5 MiB text, 1 MiB rodata, 256K init text, 512K init data, 1 MiB data+bss. */
export const DEFAULT_SEGMENT_SIZES: SegmentSizes = {
  text: 0x280000,
  rodata: 0x100000,
  inittext: 0x40000,
  initdata: 0x80000,
  data: 0x100000,
};

/**
 * Lay the segments out from _text at (va, pa), each boundary rounded up to SEGMENT_ALIGN as
 * vmlinux.lds.S does (ALIGN(SEGMENT_ALIGN) before _etext, __init_begin, __inittext_end,
 * __initdata_end).
 */
export function kernelImage(k: Kernel, va: bigint, pa: number, sizes: SegmentSizes = DEFAULT_SEGMENT_SIZES): KernelImage {
  const align = k.geo.SEGMENT_ALIGN;
  if (pa % k.geo.PAGE_SIZE !== 0 || Number(va % BigInt(k.geo.PAGE_SIZE)) !== 0) {
    throw new KernelError(
      "EKERN_ALIGN",
      `kernel image: _text VA ${hex64(va)} / PA 0x${pa.toString(16)} must be page aligned`,
      "map_kernel_segment: BUG_ON(!PAGE_ALIGNED(pa_start))",
    );
  }
  const segments: Segment[] = [];
  let off = 0;
  for (const name of SEGMENT_NAMES) {
    const size = Math.ceil(sizes[name] / align) * align;
    segments.push({ name, va: va + BigInt(off), pa: pa + off, size });
    off += size;
  }
  return { va, pa, segments, size: off };
}

export function segment(img: KernelImage, name: SegmentName): Segment {
  return img.segments.find((s) => s.name === name) as Segment;
}

export interface MapKernelOptions {
  /** rodata=off: text mapped RWX (PAGE_KERNEL_EXEC). */
  readonly rodataOff?: boolean;
  /** Era: "v4.6" maps text EXEC/RW-rodata chunks (RWX until mark_rodata_ro); default "v4.12+". */
  readonly era?: "v4.6" | "v4.12+";
  /** Bad variant (the early contiguous patch): rodata gets contiguous entries too. */
  readonly rodataCont?: boolean;
}

/**
 * map_kernel(pgdp): each segment by its own __create_pgd_mapping — text ROX, rodata RW-NX without
 * CONT (it becomes RO later), init text ROX, init data and data RW-NX.
 */
export function mapKernel(
  k: Kernel,
  pgd: number,
  img: KernelImage,
  alloc: TableAllocator,
  opts: MapKernelOptions = {},
): Record<SegmentName, MapStats> {
  const p = k.prots;
  const old = opts.era === "v4.6";
  const text = opts.rodataOff || old ? p.PAGE_KERNEL_EXEC : p.PAGE_KERNEL_ROX;
  const plan: Record<SegmentName, [bigint, number]> = {
    text: [text, 0],
    rodata: [p.PAGE_KERNEL, opts.rodataCont ? 0 : NO_CONT_MAPPINGS],
    inittext: [old ? p.PAGE_KERNEL_EXEC : p.PAGE_KERNEL_ROX, 0],
    initdata: [p.PAGE_KERNEL, 0],
    data: [p.PAGE_KERNEL, 0],
  };
  const out = {} as Record<SegmentName, MapStats>;
  for (const s of img.segments) {
    const [prot, flags] = plan[s.name];
    out[s.name] = createMapping(k, pgd, s.pa, s.va, s.size, prot, { flags, alloc, fn: `map_kernel_segment(${s.name})` });
  }
  return out;
}

/** mark_rodata_ro: update_mapping_prot(rodata, PAGE_KERNEL_RO) (v4.6: text too, ROX). */
export function markRodataRo(k: Kernel, pgd: number, img: KernelImage, opts: { era?: "v4.6" | "v4.12+" } = {}): void {
  const ro = segment(img, "rodata");
  if (opts.era === "v4.6") {
    const t = segment(img, "text");
    updateMappingProt(k, pgd, t.pa, t.va, t.size, k.prots.PAGE_KERNEL_ROX);
  }
  updateMappingProt(k, pgd, ro.pa, ro.va, ro.size, k.prots.PAGE_KERNEL_RO);
}

export interface MemBlock {
  readonly base: number;
  readonly size: number;
}

export interface MapMemOptions {
  readonly rodataFull?: boolean;
  readonly debugPagealloc?: boolean;
  /** FEAT_MTE: the linear map is Normal-Tagged. */
  readonly mte?: boolean;
  /** Crash kernel region, mapped page-granular. */
  readonly crashkernel?: MemBlock;
}

export interface LinearMap {
  /** PHYS_OFFSET (memstart_addr). */
  readonly physOffset: number;
  readonly flags: number;
  lmAlias(pa: number): bigint;
}

/** __phys_to_virt for the linear map: PAGE_OFFSET + (pa - PHYS_OFFSET). */
export function linearMap(layout: KernelLayout, blocks: readonly MemBlock[], flags = 0): LinearMap {
  const lowest = Math.min(...blocks.map((b) => b.base));
  const physOffset = lowest - (lowest % layout.MEMSTART_ALIGN);
  return { physOffset, flags, lmAlias: (pa: number) => layout.PAGE_OFFSET + BigInt(pa - physOffset) };
}

/** can_set_direct_map(): rodata_full or debug_pagealloc force a page-granular linear map. */
export function canSetDirectMap(o: MapMemOptions): boolean {
  return o.rodataFull === true || o.debugPagealloc === true;
}

/**
 * map_mem(pgdp): the linear map of every memblock with PAGE_KERNEL (Normal-Tagged with MTE),
 * NO_EXEC_MAPPINGS, plus NO_BLOCK|NO_CONT when can_set_direct_map(); the image's
 * [_stext, __init_begin) alias is left out (NOMAP) and then mapped on its own with NO_CONT.
 */
export function mapMem(
  k: Kernel,
  pgd: number,
  layout: KernelLayout,
  blocks: readonly MemBlock[],
  img: KernelImage,
  alloc: TableAllocator,
  o: MapMemOptions = {},
): LinearMap {
  let flags = NO_EXEC_MAPPINGS;
  if (canSetDirectMap(o)) flags |= NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS;
  const lm = linearMap(layout, blocks, flags);
  const prot = o.mte ? pgprotTagged(k.prots.PAGE_KERNEL) : k.prots.PAGE_KERNEL;
  const kStart = img.pa;
  const kEnd = segment(img, "inittext").pa; // __init_begin
  const holes: MemBlock[] = [{ base: kStart, size: kEnd - kStart }];
  if (o.crashkernel) holes.push(o.crashkernel);
  for (const b of blocks) {
    const pieces = subtract(b, holes);
    for (const piece of pieces) {
      createMapping(k, pgd, piece.base, lm.lmAlias(piece.base), piece.size, prot, { flags, alloc, fn: "__map_memblock" });
    }
  }
  // Only NO_CONT_MAPPINGS here (mmu.c map_mem): the alias may use blocks even with rodata=full,
  // since update_mapping_prot later changes its permissions chunk for chunk.
  createMapping(k, pgd, kStart, lm.lmAlias(kStart), kEnd - kStart, k.prots.PAGE_KERNEL, {
    flags: NO_CONT_MAPPINGS,
    alloc,
    fn: "__map_memblock(kernel alias)",
  });
  if (o.crashkernel) {
    const c = o.crashkernel;
    createMapping(k, pgd, c.base, lm.lmAlias(c.base), c.size, prot, {
      flags: flags | NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS,
      alloc,
      fn: "__map_memblock(crashkernel)",
    });
  }
  return lm;
}

function subtract(b: MemBlock, holes: readonly MemBlock[]): MemBlock[] {
  let pieces: MemBlock[] = [b];
  for (const h of holes) {
    const next: MemBlock[] = [];
    for (const p of pieces) {
      const pe = p.base + p.size;
      const he = h.base + h.size;
      if (he <= p.base || h.base >= pe) {
        next.push(p);
        continue;
      }
      if (h.base > p.base) next.push({ base: p.base, size: h.base - p.base });
      if (he < pe) next.push({ base: he, size: pe - he });
    }
    pieces = next;
  }
  return pieces;
}

/** mark_linear_text_alias_ro: the linear alias of [_stext, __init_begin) becomes read-only. */
export function markLinearTextAliasRo(k: Kernel, pgd: number, lm: LinearMap, img: KernelImage): void {
  const kEnd = segment(img, "inittext").pa;
  updateMappingProt(k, pgd, img.pa, lm.lmAlias(img.pa), kEnd - img.pa, k.prots.PAGE_KERNEL_RO);
}

/**
 * debug_pagealloc's __kernel_map_pages(page, n, 0): clear PTE_VALID on the linear-map PTEs of
 * free pages (non-zero invalid entries), then flush.
 */
export function debugPageallocUnmap(k: Kernel, pgd: number, lm: LinearMap, pa: number, pages: number): void {
  const va = lm.lmAlias(pa);
  const ps = k.geo.PAGE_SIZE;
  for (let i = 0; i < pages; i++) {
    const v = va + BigInt(i * ps);
    const e = pteAddr(k, pgd, v);
    if (e === undefined) {
      throw new KernelError(
        "EKERN_LIVE_BLOCK",
        `debug_pagealloc: ${hex64(v)} is not page mapped`,
        "debug_pagealloc needs a page-granular linear map (can_set_direct_map)",
      );
    }
    k.readEntry(e);
    k.writeEntry(e, k.hi, (k.lo & ~1) >>> 0);
  }
  flushTlbKernelRange(k, va, va + BigInt(pages * ps));
}
