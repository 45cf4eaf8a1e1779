/**
 * The arm64 kernel's virtual address space (arch/arm64/include/asm/memory.h, pgtable.h, fixmap.h;
 * v6.1–v6.4 without KASAN): linear map, modules, vmalloc (holding the image), fixmap, PCI I/O,
 * vmemmap, with the ptdump markers, and KASLR placement of the image.
 */
import type { Marker } from "../dump/ptdump.js";
import type { KernelGeometry } from "./geometry.js";

const M = 1n << 20n;
const U64 = 1n << 64n;

export interface KernelLayout {
  readonly PAGE_OFFSET: bigint;
  readonly PAGE_END: bigint;
  readonly MODULES_VADDR: bigint;
  readonly MODULES_END: bigint;
  /** KIMAGE_VADDR: link address of the image (before the KASLR offset). */
  readonly KIMAGE_VADDR: bigint;
  readonly VMALLOC_START: bigint;
  readonly VMALLOC_END: bigint;
  readonly FIXADDR_TOP: bigint;
  readonly PCI_IO_START: bigint;
  readonly PCI_IO_END: bigint;
  readonly VMEMMAP_START: bigint;
  readonly VMEMMAP_END: bigint;
  /** ARM64_MEMSTART_ALIGN: the linear map's PHYS_OFFSET alignment. */
  readonly MEMSTART_ALIGN: number;
}

/** VA_BITS_MIN: 48 for a 52-bit VA kernel (which may boot on a 48-bit CPU), else VA_BITS. */
export function vaBitsMin(geo: KernelGeometry): number {
  return geo.vaBits === 52 ? 48 : geo.vaBits;
}

export function kernelLayout(geo: KernelGeometry): KernelLayout {
  const va = BigInt(geo.vaBits);
  const vmin = BigInt(vaBitsMin(geo));
  const PAGE_OFFSET = U64 - (1n << va);
  const PAGE_END = U64 - (1n << (vmin - 1n));
  // struct page is 64 bytes (STRUCT_PAGE_MAX_SHIFT = 6).
  const vmemmapShift = BigInt(geo.PAGE_SHIFT - 6);
  const VMEMMAP_SIZE = (PAGE_END - PAGE_OFFSET) >> vmemmapShift;
  const VMEMMAP_START = U64 - ((1n << va) >> vmemmapShift);
  const MODULES_VADDR = PAGE_END;
  const MODULES_END = MODULES_VADDR + 128n * M;
  const memstartShift = geo.PAGE_SHIFT === 12 ? geo.PUD_SHIFT : geo.PAGE_SHIFT === 14 ? geo.CONT_PMD_SHIFT : geo.PMD_SHIFT;
  return {
    PAGE_OFFSET,
    PAGE_END,
    MODULES_VADDR,
    MODULES_END,
    KIMAGE_VADDR: MODULES_END,
    VMALLOC_START: MODULES_END,
    VMALLOC_END: VMEMMAP_START - 256n * M,
    FIXADDR_TOP: VMEMMAP_START - 32n * M,
    PCI_IO_START: VMEMMAP_START - 8n * M - 16n * M,
    PCI_IO_END: VMEMMAP_START - 8n * M,
    VMEMMAP_START,
    VMEMMAP_END: (VMEMMAP_START + VMEMMAP_SIZE) % U64,
    MEMSTART_ALIGN: 2 ** memstartShift,
  };
}

/** ptdump's address_markers[] for this layout (v6.x order); `fixaddrStart` from the fixmap. */
export function layoutMarkers(l: KernelLayout, fixaddrStart: bigint): Marker[] {
  return [
    { address: l.PAGE_OFFSET, name: "Linear Mapping start" },
    { address: l.PAGE_END, name: "Linear Mapping end" },
    { address: l.MODULES_VADDR, name: "Modules start" },
    { address: l.MODULES_END, name: "Modules end" },
    { address: l.VMALLOC_START, name: "vmalloc() area" },
    { address: l.VMALLOC_END, name: "vmalloc() end" },
    { address: fixaddrStart, name: "Fixmap start" },
    { address: l.FIXADDR_TOP, name: "Fixmap end" },
    { address: l.PCI_IO_START, name: "PCI I/O start" },
    { address: l.PCI_IO_END, name: "PCI I/O end" },
    { address: l.VMEMMAP_START, name: "vmemmap start" },
    { address: l.VMEMMAP_END, name: "vmemmap end" },
  ];
}

// ---------------------------------------------------------------------------------------------
// KASLR

export interface KaslrPlacement {
  /** The seed is honoured (non-zero and no `nokaslr`). */
  readonly enabled: boolean;
  /** kaslr_offset: added to KIMAGE_VADDR. */
  readonly offset: bigint;
  /** VA of _text. */
  readonly imageVa: bigint;
  /** Kernel mappings must be created nG from the start (KASLR with KPTI possibly needed). */
  readonly nG: boolean;
}

/**
 * v6.2+ placement (arch/arm64/kernel/pi/kaslr_early.c, map_kernel.c): the random part is
 * BIT(VA_BITS_MIN-3) + (seed & GENMASK(VA_BITS_MIN-3, 0)), then
 * kaslr_offset = (pa_base % MIN_KIMG_ALIGN) | (that & ~(MIN_KIMG_ALIGN-1)), so the image VA and
 * PA are congruent modulo 2 MiB. With KASLR on and KPTI possibly needed, mappings start out nG.
 */
export function kaslrPlacement(
  geo: KernelGeometry,
  layout: KernelLayout,
  seed: bigint,
  paBase: bigint,
  opts: { nokaslr?: boolean; kptiPossible?: boolean } = {},
): KaslrPlacement {
  const align = BigInt(geo.MIN_KIMG_ALIGN);
  const enabled = seed !== 0n && !opts.nokaslr;
  if (!enabled) {
    const offset = paBase % align;
    return { enabled, offset, imageVa: layout.KIMAGE_VADDR + offset, nG: false };
  }
  const vmin = BigInt(vaBitsMin(geo));
  const mask = (1n << (vmin - 2n)) - 1n; // GENMASK(VA_BITS_MIN-3, 0)
  const rnd = (1n << (vmin - 3n)) + (seed & mask);
  const offset = (paBase % align) | (rnd & ~(align - 1n));
  return { enabled, offset, imageVa: layout.KIMAGE_VADDR + offset, nG: opts.kptiPossible ?? true };
}
