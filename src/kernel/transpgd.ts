/**
 * Transitional page tables for hibernate and kexec (arch/arm64/mm/trans_pgd.c,
 * linux-arm64-mm.md section 5): trans_pgd_create_copy, trans_pgd_map_page (v5.8–v5.14),
 * trans_pgd_idmap_page, and the resume / relocation flows that use them.
 */
import { hex64 } from "../arch/u64.js";
import type { TableAllocator } from "./alloc.js";
import { isNone, isSect, isTable, type Kernel } from "./context.js";
import { KernelError } from "./errors.js";
import { hwLevelShift } from "./geometry.js";
import { pgtableAlloc } from "./mmu.js";
import { physToTtbr } from "./regs.js";
import { cpuInstallTtbr0 } from "./ttbr.js";

/** struct trans_pgd_info: the use-case allocator (must return exactly one zeroed page). */
export interface TransPgdInfo {
  readonly alloc: TableAllocator;
}

export interface CreateCopyOptions {
  /**
   * Which kernels' _copy_pte: "v5.8" revalidates non-none invalid PTEs only with
   * debug_pagealloc; "v6.x" (newest) always does (KFENCE, memfd_secret also invalidate).
   */
  readonly era?: "v5.8" | "v6.x";
  readonly debugPagealloc?: boolean;
  /** pfn_valid(): whether a PA has a struct page (default: any). */
  readonly pfnValid?: (pa: number) => boolean;
  /** Bad variant (the reworked "TRANS_MKWRITE" flag left clear): keep read-only entries read-only. */
  readonly keepReadOnly?: boolean;
}

export interface CreateCopyResult {
  readonly pgd: number;
  readonly tables: number;
  readonly ptes: number;
  readonly blocks: number;
  readonly revalidated: number;
}

const RDONLY_LO = 0x80;
const WRITE_HI = 0x80000;

function transAlloc(k: Kernel, info: TransPgdInfo, level: number, fn: string): number {
  return pgtableAlloc(k, info.alloc, level, fn);
}

/**
 * trans_pgd_create_copy(info, &dst, start, end): a new pgd whose [start, end) copies the live
 * kernel tables of `srcPgd`; valid PTEs made writable (pte_mkwrite), blocks with AP[2] cleared,
 * invalid-but-present PTEs revalidated per era; the source is never modified. -ENOMEM (no
 * rollback) when the allocator fails.
 */
export function transPgdCreateCopy(
  k: Kernel,
  info: TransPgdInfo,
  srcPgd: number,
  start: bigint,
  end: bigint,
  opts: CreateCopyOptions = {},
): CreateCopyResult {
  const fn = "trans_pgd_create_copy";
  k.port.note(k.cpu, `${fn}(${hex64(start)}, ${hex64(end)})`);
  const pgd = transAlloc(k, info, k.geo.pgdLevel, fn);
  const st = { tables: 1, ptes: 0, blocks: 0, revalidated: 0 };
  const revalidate = opts.era === "v6.x" || opts.debugPagealloc === true;
  const pfnValid = opts.pfnValid ?? (() => true);
  const s = k.offOf(start);
  const e = end === 0n ? 2 ** k.geo.vaBits : k.offOf(end - 1n) + 1;
  const copy = (src: number, dst: number, level: number, off: number, endOff: number): void => {
    const size = 2 ** k.shiftOf(level);
    for (let o = off - (off % size); o < endOff; o += size) {
      const sea = k.entryAddr(src, level, o);
      k.readEntry(sea);
      const hi = k.hi;
      const lo = k.lo;
      if (isNone(hi, lo)) continue;
      const dea = k.entryAddr(dst, level, o);
      if (level < 3 && isTable(lo, level)) {
        k.readEntry(dea);
        let child: number;
        if (isNone(k.hi, k.lo)) {
          child = transAlloc(k, info, level + 1, fn);
          st.tables++;
          k.writeTableEntry(dea, child); // p?d_populate: TYPE_TABLE
        } else {
          child = k.tableAddr(k.hi, k.lo);
        }
        copy(k.tableAddr(hi, lo), child, level + 1, Math.max(o, off), Math.min(o + size, endOff));
        continue;
      }
      if (level < 3) {
        // Block (or non-none invalid entry): copied with AP[2] (P?D_SECT_RDONLY) cleared only.
        k.writeEntry(dea, hi, opts.keepReadOnly ? lo : (lo & ~RDONLY_LO) >>> 0);
        if (isSect(lo, level)) st.blocks++;
        continue;
      }
      if ((lo & 1) !== 0) {
        const h = opts.keepReadOnly ? hi : (hi | WRITE_HI) >>> 0;
        const l = opts.keepReadOnly ? lo : (lo & ~RDONLY_LO) >>> 0;
        k.writeEntry(dea, h, l);
        st.ptes++;
      } else if (revalidate) {
        const pa = k.addrOf(hi, lo, k.geo.PAGE_SHIFT);
        if (!pfnValid(pa)) {
          throw new KernelError(
            "EKERN_BAD_ENTRY",
            `${fn}: invalid PTE ${k.describeEntry(hi, lo)} for ${hex64(k.kva(o))} has no valid pfn`,
            "trans_pgd.c _copy_pte: BUG_ON(!pfn_valid(pte_pfn(pte)))",
          );
        }
        k.writeEntry(dea, (hi | WRITE_HI) >>> 0, ((lo | 1) & ~RDONLY_LO) >>> 0);
        st.ptes++;
        st.revalidated++;
      }
    }
  };
  copy(srcPgd, pgd, k.geo.pgdLevel, s, e);
  k.port.dsb(k.cpu, "ISHST");
  return { pgd, ...st };
}

export interface MapPageOptions {
  /**
   * "v5.8": build the single-entry levels of a fresh set of tables (what James Morse describes);
   * "generic": the proposed generalisation that walks into existing tables and trips (-ENXIO)
   * on a block, and on an existing PTE.
   */
  readonly variant?: "v5.8" | "generic";
}

/**
 * trans_pgd_map_page(info, trans_pgd, page, dst_addr, pgprot) [v5.8–v5.14]: map one page at
 * `dstVa` at PTE level, allocating any missing level. Returns the PTE's PA.
 */
export function transPgdMapPage(
  k: Kernel,
  info: TransPgdInfo,
  pgd: number,
  pagePa: number,
  dstVa: bigint,
  prot: bigint,
  opts: MapPageOptions = {},
): number {
  const fn = "trans_pgd_map_page";
  const off = k.offOf(dstVa);
  let table = pgd;
  for (let level = k.geo.pgdLevel; level < 3; level++) {
    const ea = k.entryAddr(table, level, off);
    k.readEntry(ea);
    if (isNone(k.hi, k.lo)) {
      const t = transAlloc(k, info, level + 1, fn);
      k.writeTableEntry(ea, t);
      table = t;
    } else if (isTable(k.lo, level)) {
      table = k.tableAddr(k.hi, k.lo);
    } else {
      throw new KernelError(
        "ENXIO",
        `${fn}: ${hex64(dstVa)} ${k.levelName(level)} entry at PA 0x${ea.toString(16)} is ${k.describeEntry(k.hi, k.lo)}, not a table (-ENXIO)`,
        "trans_pgd_map_page builds the tables for one page in a fresh pgd; it must never meet a block (James Morse, v3 08/17)",
      );
    }
  }
  const pte = k.entryAddr(table, 3, off);
  k.readEntry(pte);
  if (!isNone(k.hi, k.lo) && opts.variant === "generic") {
    throw new KernelError(
      "EKERN_BAD_ENTRY",
      `${fn}: PTE for ${hex64(dstVa)} already holds ${k.describeEntry(k.hi, k.lo)}`,
      "trans_pgd_map_page may assume no entries exist: it creates the single-entry levels as it goes",
    );
  }
  k.makeEntry(pagePa - (pagePa % k.geo.PAGE_SIZE), prot);
  k.writeEntry(pte, k.eHi, k.eLo);
  k.port.dsb(k.cpu, "ISHST");
  return pte;
}

export interface IdmapPage {
  readonly ttbr0: bigint;
  readonly t0sz: number;
  /** Table pages, bottom (PTE) first. */
  readonly tables: readonly number[];
  readonly startLevel: number;
}

/**
 * trans_pgd_idmap_page(info, &ttbr0, &t0sz, page): identity-map one page with PAGE_KERNEL_ROX,
 * building tables bottom-up until the level whose index reaches bit 47 (51 when any PA bit
 * 52:48 is set); t0sz = 64 - (max_msb + 1).
 */
export function transPgdIdmapPage(k: Kernel, info: TransPgdInfo, pagePa: number): IdmapPage {
  const fn = "trans_pgd_idmap_page";
  const ps = k.geo.PAGE_SHIFT;
  const pa = pagePa - (pagePa % k.geo.PAGE_SIZE);
  const maxMsb = pa >= 2 ** 48 ? 51 : 47;
  const bitsMapped = ps - 4;
  k.makeEntry(pa, k.prots.PAGE_KERNEL_ROX);
  let prevHi = k.eHi;
  let prevLo = k.eLo;
  const tables: number[] = [];
  let level = 3;
  for (; level >= 0; level--) {
    const t = transAlloc(k, info, level, fn);
    tables.push(t);
    const lsb = hwLevelShift(ps, level);
    const msb = Math.min(lsb + bitsMapped, maxMsb);
    const index = Math.floor(pa / 2 ** lsb) % 2 ** (msb - lsb + 1);
    k.writeEntry(t + index * 8, prevHi, prevLo);
    k.placeOa(t);
    prevHi = k.oaHi;
    prevLo = (3 | k.oaLo) >>> 0; // PMD_TYPE_TABLE
    if (msb === maxMsb) break;
  }
  k.port.dsb(k.cpu, "ISHST");
  const top = tables[tables.length - 1] as number;
  return { ttbr0: physToTtbr(k.geo, BigInt(top)), t0sz: 64 - (maxMsb + 1), tables, startLevel: level };
}

// ---------------------------------------------------------------------------------------------
// Flows

export interface TransitionSetup {
  /** Live kernel pgd (TTBR1). */
  readonly livePgd: number;
  /** Linear map range to copy (PAGE_OFFSET..PAGE_END). */
  readonly start: bigint;
  readonly end: bigint;
  /** Page holding the exit / relocation code (copied here; idmapped). */
  readonly codePage: number;
  /** Kernel VA of the code page (its linear-map alias), for the clean to PoC; default its PA. */
  readonly codeVa?: bigint;
  /** Reserved TTBR0 table. */
  readonly reserved: number;
  /** A zero page for the TTBR1 break (hibernate: a safe page; kexec: empty_zero_page). */
  readonly zeroPage?: number;
  readonly copy?: CreateCopyOptions;
}

export interface TransitionResult {
  readonly copy: CreateCopyResult;
  readonly idmap: IdmapPage;
  readonly zeroPage: number;
  readonly steps: readonly string[];
}

/**
 * Hibernate resume (swsusp_arch_resume) and kexec (machine_kexec_post_load + cpu_soft_restart)
 * share this shape: copy the linear map writable, idmap the code page, install it in TTBR0 with
 * cpu_install_ttbr0, then break-before-make on TTBR1 through a zero page
 * (TTBR1 := zero; ISB; TLBI VMALLE1; DSB NSH; TTBR1 := copy; ISB).
 */
export function transitionToCopy(k: Kernel, info: TransPgdInfo, s: TransitionSetup, flavour: "hibernate" | "kexec"): TransitionResult {
  const steps: string[] = [];
  const cpu = k.cpu;
  const copy = transPgdCreateCopy(k, info, s.livePgd, s.start, s.end, s.copy);
  steps.push(
    `trans_pgd_create_copy: ${copy.tables} tables, ${copy.ptes} PTEs, ${copy.blocks} blocks${copy.revalidated ? `, ${copy.revalidated} revalidated` : ""}`,
  );
  let zeroPage = s.zeroPage;
  if (zeroPage === undefined) {
    const z = info.alloc.alloc(k.port, cpu, k.geo.pgdLevel);
    if (z === undefined) throw new KernelError("ENOMEM", `${flavour}: no safe page for the zero page (-ENOMEM)`, "get_safe_page");
    if (!info.alloc.returnsZeroed) k.port.zero(cpu, z, k.geo.PAGE_SIZE);
    zeroPage = z;
  }
  steps.push(`zero page for the TTBR1 break at 0x${zeroPage.toString(16)}`);
  const idmap = transPgdIdmapPage(k, info, s.codePage);
  steps.push(`trans_pgd_idmap_page(0x${s.codePage.toString(16)}): ${idmap.tables.length} tables, T0SZ=${idmap.t0sz}`);
  if (flavour === "kexec") {
    k.port.dc(cpu, "CVAC", s.codeVa ?? BigInt(s.codePage));
    k.port.dsb(cpu, "ISH");
    steps.push("clean the relocation code to PoC (DC CVAC), DSB");
  }
  k.port.dsb(cpu, "ISH");
  cpuInstallTtbr0(k, cpu, idmap.ttbr0, idmap.t0sz, s.reserved);
  steps.push("cpu_install_ttbr0(idmap, t0sz)");
  const code = BigInt(s.codePage);
  const r0 = k.port.access(cpu, code, "exec");
  if (!r0.ok && r0.fault !== "unmodelled") steps.push(`! fetch of the idmapped code faults: ${r0.fault}`);
  // break_before_make_ttbr_switch
  k.port.msr(cpu, "TTBR1_EL1", physToTtbr(k.geo, BigInt(zeroPage)));
  k.port.isb(cpu);
  k.port.tlbi(cpu, "VMALLE1");
  k.port.dsb(cpu, "NSH");
  k.port.msr(cpu, "TTBR1_EL1", physToTtbr(k.geo, BigInt(copy.pgd)));
  k.port.isb(cpu);
  steps.push("break_before_make_ttbr_switch: TTBR1 := zero page; ISB; TLBI VMALLE1; DSB NSH; TTBR1 := copy; ISB");
  return { copy, idmap, zeroPage, steps };
}
