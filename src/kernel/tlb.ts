/**
 * The kernel's barrier and TLB-maintenance sequences (arch/arm64/include/asm/tlbflush.h,
 * pgtable.h; linux-arm64-mm.md 4.3), each as the instructions it issues.
 */
import type { Kernel } from "./context.js";

/** set_pte/set_pmd of a valid kernel entry: DSB ISHST; ISB (after the store). */
export function kernelEntryBarrier(k: Kernel): void {
  k.port.dsb(k.cpu, "ISHST");
  k.port.isb(k.cpu);
}

/** flush_tlb_all: DSB ISHST; TLBI VMALLE1IS; DSB ISH; ISB. */
export function flushTlbAll(k: Kernel): void {
  const p = k.port;
  p.dsb(k.cpu, "ISHST");
  p.tlbi(k.cpu, "VMALLE1IS");
  p.dsb(k.cpu, "ISH");
  p.isb(k.cpu);
}

/** local_flush_tlb_all: DSB NSHST; TLBI VMALLE1; DSB NSH; ISB. */
export function localFlushTlbAll(k: Kernel, cpu = k.cpu): void {
  const p = k.port;
  p.dsb(cpu, "NSHST");
  p.tlbi(cpu, "VMALLE1");
  p.dsb(cpu, "NSH");
  p.isb(cpu);
}

/**
 * flush_tlb_kernel_range(start, end): beyond MAX_TLBI_OPS (PTRS_PER_PTE) pages, flush_tlb_all;
 * otherwise DSB ISHST; TLBI VAALE1IS per page; DSB ISH; ISB.
 */
export function flushTlbKernelRange(k: Kernel, start: bigint, end: bigint): void {
  const ps = BigInt(k.geo.PAGE_SIZE);
  const s = start & ~(ps - 1n);
  const pages = (end - s + ps - 1n) / ps;
  if (pages > BigInt(k.geo.PTRS_PER_PTE)) {
    flushTlbAll(k);
    return;
  }
  const p = k.port;
  p.dsb(k.cpu, "ISHST");
  for (let va = s; va < end; va += ps) p.tlbi(k.cpu, "VAALE1IS", va);
  p.dsb(k.cpu, "ISH");
  p.isb(k.cpu);
}

/** __flush_tlb_kernel_pgtable(addr): all-level invalidation after unlinking a table. */
export function flushTlbKernelPgtable(k: Kernel, va: bigint): void {
  const p = k.port;
  p.dsb(k.cpu, "ISHST");
  p.tlbi(k.cpu, "VAAE1IS", va);
  p.dsb(k.cpu, "ISH");
  p.isb(k.cpu);
}

/** local_flush_tlb_kernel_page (32-bit ARM highmem): a local, by-VA invalidation. */
export function localFlushTlbKernelPage(k: Kernel, cpu: number, va: bigint): void {
  const p = k.port;
  p.dsb(cpu, "NSHST");
  p.tlbi(cpu, "VAALE1", va);
  p.dsb(cpu, "NSH");
  p.isb(cpu);
}
