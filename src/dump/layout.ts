/**
 * The arm64 Linux kernel virtual memory layout for a given version, page size and VA size, and
 * the ptdump address markers it implies (arch/arm64/include/asm/memory.h, pgtable.h, fixmap.h,
 * arch/arm64/mm/ptdump.c of each era).
 *
 * Eras modelled (KASAN off, as in distribution kernels):
 * - v5.4–v6.4: linear map in the bottom half of TTBR1; modules 128M at PAGE_END; vmalloc up to
 *   VMEMMAP_START - 256M; fixmap below FIXADDR_TOP = VMEMMAP_START - 32M; PCI I/O 16M ending 8M below
 *   VMEMMAP_START; vmemmap at -(1 << (VA_BITS - VMEMMAP_SHIFT)). (v5.4–v5.x also have a 128M BPF JIT
 *   region before the modules; ptdump shows no marker for it, so only the modules base moves.)
 * - v6.5–v6.8: as above with a 2G module region (module VA range rework).
 * - v6.9+: vmemmap ends at -1G, PCI I/O 8M above it, fixmap below FIXADDR_TOP = -8M, vmalloc up to
 *   VMEMMAP_START - 8M (plus the unused vmemmap head when VA_BITS > vabits_actual).
 * The "Fixmap start" marker is FIXADDR_START (permanent slots) before v6.4 and FIXADDR_TOT_START
 * (all slots) from v6.4 on; the slot count depends on the kernel configuration (KernelConfig).
 */
import type { Marker } from "./ptdump.js";

const M64 = (1n << 64n) - 1n;
const SZ_1M = 1n << 20n;
const SZ_1G = 1n << 30n;
/** sizeof(struct page) == 1 << STRUCT_PAGE_MAX_SHIFT. */
const STRUCT_PAGE_SHIFT = 6n;

export type KernelVersion = readonly [major: number, minor: number];

/** Configuration options that move fixmap boundaries (Debian's arm64 kernels enable all of them). */
export interface KernelConfig {
  /** CONFIG_ACPI_APEI_GHES: two GHES fixmap slots. */
  readonly apeiGhes: boolean;
  /** CONFIG_ARM_SDE_INTERFACE (with GHES): two more. */
  readonly sdei: boolean;
  /** CONFIG_UNMAP_KERNEL_AT_EL0 (KPTI trampoline slots). */
  readonly kpti: boolean;
  /** CONFIG_RELOCATABLE: one extra trampoline slot for the data page. */
  readonly relocatable: boolean;
}

export const DEBIAN_CONFIG: KernelConfig = Object.freeze({ apeiGhes: true, sdei: true, kpti: true, relocatable: true });

export interface LayoutParams {
  readonly version: KernelVersion;
  /** log2(PAGE_SIZE): 12, 14 or 16. */
  readonly pageShift: number;
  /** CONFIG_ARM64_VA_BITS (VMCOREINFO NUMBER(VA_BITS)). */
  readonly vaBits: number;
  /** vabits_actual (64 - TCR_EL1.T1SZ); defaults to vaBits. */
  readonly vaBitsActual?: number;
  readonly config?: KernelConfig;
  /** Override the computed fixmap size (bytes between "Fixmap start" and "Fixmap end"). */
  readonly fixmapSize?: bigint;
  /** OSRELEASE string, kept for display. */
  readonly release?: string;
}

export interface KernelLayout {
  readonly release: string | undefined;
  readonly version: KernelVersion;
  readonly pageShift: number;
  readonly vaBits: number;
  readonly vaBitsActual: number;
  /** Start of the linear map as ptdump sees it (_PAGE_OFFSET(vabits_actual)). */
  readonly pageOffset: bigint;
  readonly pageEnd: bigint;
  readonly modulesStart: bigint;
  readonly modulesEnd: bigint;
  readonly vmallocStart: bigint;
  readonly vmallocEnd: bigint;
  readonly fixmapStart: bigint;
  readonly fixmapEnd: bigint;
  readonly pciIoStart: bigint;
  readonly pciIoEnd: bigint;
  readonly vmemmapStart: bigint;
  readonly vmemmapEnd: bigint;
  /** The ptdump address markers, in the order the kernel of that version prints them. */
  readonly markers: readonly Marker[];
  /** One-line description, e.g. "Linux 6.12 arm64, 16K pages, 47-bit VA (52-bit kernel)". */
  readonly description: string;
}

/** `"6.1.0-56-arm64"` / `"6.12.117+deb12-arm64"` → [6, 1] / [6, 12]; undefined if not a version. */
export function parseKernelVersion(release: string): KernelVersion | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2])];
}

function atLeast(v: KernelVersion, major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

const neg = (x: bigint): bigint => (1n << 64n) - x;
/** _PAGE_OFFSET(va) = -(1 << va). */
const pageOffsetOf = (va: number): bigint => neg(1n << BigInt(va));
/** _PAGE_END(va) = -(1 << (va - 1)). */
const pageEndOf = (va: number): bigint => neg(1n << BigInt(va - 1));

/** Number of fixmap slots: [permanent, total] (enum fixed_addresses of that version). */
export function fixmapSlots(version: KernelVersion, pageShift: number, cfg: KernelConfig): { permanent: number; total: number } {
  const page = 2 ** pageShift;
  const fdtMax = 2 * 1024 * 1024;
  let n = 1; // FIX_HOLE
  // FIX_FDT_END, then the FDT window: v6.4+ one page more than MAX_FDT_SIZE; before, MAX_FDT_SIZE + 2M.
  if (atLeast(version, 6, 4)) n += 1 + Math.ceil(fdtMax / page) + 1;
  else n += (fdtMax + 2 * 1024 * 1024) / page;
  n += 1; // FIX_EARLYCON_MEM_BASE
  n += 1; // FIX_TEXT_POKE0
  if (cfg.apeiGhes) n += cfg.sdei ? 4 : 2;
  if (cfg.kpti) n += cfg.relocatable ? 4 : 3;
  const permanent = n;
  // early_ioremap slots: 7 of 256K (one page more each from v6.4), then FIX_PTE..FIX_PGD.
  const perSlot = (256 * 1024) / page + (atLeast(version, 6, 4) ? 1 : 0);
  let total = permanent + perSlot * 7;
  total += atLeast(version, 6, 9) ? 5 : 4;
  return { permanent, total };
}

/** Compute the layout and markers of an arm64 Linux kernel (v5.4 or later). */
export function linuxLayout(p: LayoutParams): KernelLayout {
  const cfg = p.config ?? DEBIAN_CONFIG;
  const v = p.version;
  const pageShift = BigInt(p.pageShift);
  const vaBits = p.vaBits;
  const vaBitsActual = p.vaBitsActual ?? vaBits;
  // VA_BITS_MIN: 48 for 52-bit kernels (47 for 16K pages from v6.9), else VA_BITS.
  const vaBitsMin = vaBits > 48 ? (p.pageShift === 14 && atLeast(v, 6, 9) ? 47 : 48) : vaBits;
  const pageOffsetCfg = pageOffsetOf(vaBits);
  const pageOffset = pageOffsetOf(vaBitsActual);
  const pageEnd = pageEndOf(vaBitsMin);
  const vmemmapShift = pageShift - STRUCT_PAGE_SHIFT;
  const slots = fixmapSlots(v, p.pageShift, cfg);
  const page = 1n << pageShift;
  let modulesStart: bigint;
  let modulesEnd: bigint;
  let vmallocEnd: bigint;
  let fixmapEnd: bigint;
  let fixmapStart: bigint;
  let pciIoStart: bigint;
  let vmemmapStart: bigint;
  let vmemmapEnd: bigint;
  const vmemmapSize = ((pageEnd - pageOffsetCfg) >> pageShift) << STRUCT_PAGE_SHIFT;
  if (atLeast(v, 6, 9)) {
    modulesStart = pageEnd;
    modulesEnd = modulesStart + 2n * SZ_1G;
    vmemmapEnd = neg(SZ_1G);
    // The struct pages of the linear map below _PAGE_OFFSET(vabits_actual) never exist: ptdump's
    // "vmemmap start" is virt_to_page(_PAGE_OFFSET(vabits_actual)) and vmalloc ends 8M below it.
    const unused = vaBits === vaBitsMin ? 0n : ((pageOffset - pageOffsetCfg) >> pageShift) << STRUCT_PAGE_SHIFT;
    vmemmapStart = vmemmapEnd - vmemmapSize + unused;
    vmallocEnd = vmemmapStart - 8n * SZ_1M;
    pciIoStart = vmemmapEnd + 8n * SZ_1M;
    fixmapEnd = neg(8n * SZ_1M);
    fixmapStart = fixmapEnd - BigInt(slots.total) * page;
  } else {
    modulesStart = pageEnd;
    modulesEnd = modulesStart + (atLeast(v, 6, 5) ? 2n * SZ_1G : 128n * SZ_1M);
    vmemmapStart = neg(1n << (BigInt(vaBits) - vmemmapShift));
    vmemmapEnd = (vmemmapStart + vmemmapSize) & M64;
    vmallocEnd = vmemmapStart - 256n * SZ_1M;
    fixmapEnd = vmemmapStart - 32n * SZ_1M;
    fixmapStart = fixmapEnd - BigInt(atLeast(v, 6, 4) ? slots.total : slots.permanent) * page;
    pciIoStart = vmemmapStart - 8n * SZ_1M - 16n * SZ_1M;
  }
  if (p.fixmapSize !== undefined) fixmapStart = fixmapEnd - p.fixmapSize;
  const pciIoEnd = pciIoStart + 16n * SZ_1M;
  const vmallocStart = modulesEnd;
  const m = (address: bigint, name: string): Marker => ({ address: address & M64, name });
  const head = [
    // ptdump's marker is the configured PAGE_OFFSET; its walk starts at _PAGE_OFFSET(vabits_actual).
    m(pageOffsetCfg, "Linear Mapping start"),
    m(pageEnd, "Linear Mapping end"),
    m(modulesStart, "Modules start"),
    m(modulesEnd, "Modules end"),
    m(vmallocStart, "vmalloc() area"),
    m(vmallocEnd, "vmalloc() end"),
  ];
  const tail = atLeast(v, 6, 9)
    ? [
        m(vmemmapStart, "vmemmap start"),
        m(vmemmapEnd, "vmemmap end"),
        m(pciIoStart, "PCI I/O start"),
        m(pciIoEnd, "PCI I/O end"),
        m(fixmapStart, "Fixmap start"),
        m(fixmapEnd, "Fixmap end"),
      ]
    : [
        m(fixmapStart, "Fixmap start"),
        m(fixmapEnd, "Fixmap end"),
        m(pciIoStart, "PCI I/O start"),
        m(pciIoEnd, "PCI I/O end"),
        m(vmemmapStart, "vmemmap start"),
        m(vmemmapEnd, "vmemmap end"),
      ];
  const kb = 1 << (p.pageShift - 10);
  const vaDesc = vaBitsActual === vaBits ? `${vaBits}-bit VA` : `${vaBitsActual}-bit VA (${vaBits}-bit kernel)`;
  return {
    release: p.release,
    version: v,
    pageShift: p.pageShift,
    vaBits,
    vaBitsActual,
    pageOffset,
    pageEnd,
    modulesStart,
    modulesEnd,
    vmallocStart,
    vmallocEnd,
    fixmapStart,
    fixmapEnd,
    pciIoStart,
    pciIoEnd,
    vmemmapStart,
    vmemmapEnd,
    markers: [...head, ...tail],
    description: `Linux ${p.release ?? `${v[0]}.${v[1]}`} arm64, ${kb}K pages, ${vaDesc}`,
  };
}

export type RegionName = "linear" | "modules" | "vmalloc" | "fixmap" | "pci-io" | "vmemmap" | "other";

/** Which region of the layout a kernel VA lies in (the kernel image lives in vmalloc). */
export function regionOf(l: KernelLayout, va: bigint): RegionName {
  const inr = (a: bigint, b: bigint): boolean => va >= a && va < b;
  if (inr(l.pageOffset, l.pageEnd)) return "linear";
  if (inr(l.modulesStart, l.modulesEnd)) return "modules";
  if (inr(l.vmallocStart, l.vmallocEnd)) return "vmalloc";
  if (inr(l.fixmapStart, l.fixmapEnd)) return "fixmap";
  if (inr(l.pciIoStart, l.pciIoEnd)) return "pci-io";
  if (inr(l.vmemmapStart, l.vmemmapEnd === 0n ? 1n << 64n : l.vmemmapEnd)) return "vmemmap";
  return "other";
}
