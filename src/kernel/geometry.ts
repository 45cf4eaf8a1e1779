/**
 * Page-table geometry in the arm64 kernel's terms (arch/arm64/include/asm/pgtable-hwdef.h,
 * memory.h, arch/arm64/Kconfig): PTRS_PER_*, P?D_SHIFT/SIZE, CONT_PTES/CONT_PMDS, SEGMENT_ALIGN,
 * for every granule / VA size combination Linux supports.
 */
import { type DescriptorFormat, descriptorFormat } from "../arch/descriptor.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, type Granule, granuleByName, levelShift, startLevel } from "../arch/granule.js";
import { KernelError } from "./errors.js";

/** The kernel's name for a table level, with folding: the top level is always "PGD". */
export type KernelLevelName = "PGD" | "P4D" | "PUD" | "PMD" | "PTE";

export interface KernelConfigInput {
  /** "4K" | "16K" | "64K". */
  readonly granule: "4K" | "16K" | "64K";
  /** CONFIG_ARM64_VA_BITS: 39/48/52 (4K), 36/47/48/52 (16K), 42/48/52 (64K). */
  readonly vaBits: number;
  /** 52-bit output addresses: FEAT_LPA2 (TCR.DS=1) for 4K/16K, FEAT_LPA for 64K. Default: vaBits === 52. */
  readonly pa52?: boolean;
}

/** Supported (granule, VA bits) pairs, as Kconfig allows them. */
export const SUPPORTED_VA_BITS: Readonly<Record<"4K" | "16K" | "64K", readonly number[]>> = {
  "4K": [39, 48, 52],
  "16K": [36, 47, 48, 52],
  "64K": [42, 48, 52],
};

export interface KernelGeometry {
  readonly granule: Granule;
  readonly vaBits: number;
  /** PAGE_SHIFT / PAGE_SIZE. */
  readonly PAGE_SHIFT: number;
  readonly PAGE_SIZE: number;
  /** CONFIG_PGTABLE_LEVELS. */
  readonly levels: number;
  /** Hardware level of the PGD (the TTBR's table). */
  readonly pgdLevel: number;
  /** FEAT_LPA2 descriptor format (TCR.DS=1): OA[51:50] in bits 9:8, no SH field. */
  readonly ds: boolean;
  /** Output addresses are 52 bits wide. */
  readonly pa52: boolean;
  /** The descriptor format of these tables (arch descriptorFormat): where the OA bits live. */
  readonly fmt: DescriptorFormat;
  readonly PTRS_PER_PTE: number;
  readonly PTRS_PER_PMD: number;
  readonly PTRS_PER_PUD: number;
  /** Entries in the PGD (the start-level table may be partial). */
  readonly PTRS_PER_PGD: number;
  readonly PMD_SHIFT: number;
  readonly PMD_SIZE: number;
  readonly PUD_SHIFT: number;
  readonly PUD_SIZE: number;
  readonly PGDIR_SHIFT: number;
  readonly PGDIR_SIZE: number;
  readonly CONT_PTE_SHIFT: number;
  readonly CONT_PTES: number;
  readonly CONT_PTE_SIZE: number;
  readonly CONT_PMD_SHIFT: number;
  readonly CONT_PMDS: number;
  readonly CONT_PMD_SIZE: number;
  /** pud_sect_supported(): 1 GiB level-1 blocks, only with 4K pages. */
  readonly pudSectSupported: boolean;
  /** CONT_PMD is only used with at least 3 levels (d27cfa1fc823: with 2 the PMD is the PGD). */
  readonly contPmdSupported: boolean;
  /** SEGMENT_ALIGN: 64 KiB (2 MiB with CONFIG_DEBUG_ALIGN_RODATA before v5.7). */
  readonly SEGMENT_ALIGN: number;
  /** MIN_KIMG_ALIGN: 2 MiB, the KASLR congruence of VA and PA. */
  readonly MIN_KIMG_ALIGN: number;
}

/** ARM64_HW_PGTABLE_LEVEL_SHIFT(n) = (PAGE_SHIFT-3)*(4-n)+3. */
export function hwLevelShift(pageShift: number, level: number): number {
  return (pageShift - 3) * (4 - level) + 3;
}

export function kernelGeometry(cfg: KernelConfigInput, opts: { debugAlignRodata?: boolean } = {}): KernelGeometry {
  const g = granuleByName(cfg.granule);
  if (!g) throw new KernelError("EKERN_CONFIG", `granule: "${cfg.granule}" is not 4K, 16K or 64K`, "arch/arm64/Kconfig ARM64_*K_PAGES");
  const allowed = SUPPORTED_VA_BITS[g.name];
  if (!allowed.includes(cfg.vaBits)) {
    throw new KernelError(
      "EKERN_CONFIG",
      `vaBits: ${cfg.vaBits} is not a VA size Linux supports with ${g.name} pages (expected one of ${allowed.join(", ")})`,
      "arch/arm64/Kconfig ARM64_VA_BITS_*",
    );
  }
  const pa52 = cfg.pa52 ?? cfg.vaBits === 52;
  const pgdLevel = startLevel(g, 64 - cfg.vaBits);
  const levels = 4 - pgdLevel;
  const ptrs = 2 ** g.stride;
  const PMD_SHIFT = levelShift(g, 2);
  const PUD_SHIFT = levelShift(g, 1);
  const PGDIR_SHIFT = levelShift(g, pgdLevel);
  const contPte = g.size === 4096 ? 4 : g.size === 16384 ? 7 : 5;
  const contPmd = g.size === 4096 ? 4 : 5;
  return {
    granule: g,
    vaBits: cfg.vaBits,
    PAGE_SHIFT: g.shift,
    PAGE_SIZE: g.size,
    levels,
    pgdLevel,
    ds: pa52 && g.size !== 65536,
    pa52,
    fmt: descriptorFormat(g, { ds: pa52, oaBits: pa52 ? 52 : 48 }),
    PTRS_PER_PTE: ptrs,
    PTRS_PER_PMD: levels > 2 ? ptrs : 1,
    PTRS_PER_PUD: levels > 3 ? ptrs : 1,
    PTRS_PER_PGD: 2 ** (cfg.vaBits - PGDIR_SHIFT),
    PMD_SHIFT,
    PMD_SIZE: 2 ** PMD_SHIFT,
    PUD_SHIFT,
    PUD_SIZE: 2 ** PUD_SHIFT,
    PGDIR_SHIFT,
    PGDIR_SIZE: 2 ** PGDIR_SHIFT,
    CONT_PTE_SHIFT: contPte + g.shift,
    CONT_PTES: 2 ** contPte,
    CONT_PTE_SIZE: 2 ** (contPte + g.shift),
    CONT_PMD_SHIFT: contPmd + PMD_SHIFT,
    CONT_PMDS: 2 ** contPmd,
    CONT_PMD_SIZE: 2 ** (contPmd + PMD_SHIFT),
    pudSectSupported: g.size === 4096,
    contPmdSupported: levels >= 3,
    SEGMENT_ALIGN: opts.debugAlignRodata ? 2 * 1024 * 1024 : 64 * 1024,
    MIN_KIMG_ALIGN: 2 * 1024 * 1024,
  };
}

/** The kernel's name of a hardware level: PTE (3), PMD (2), PUD (1), P4D (0 with 5 levels); the top is PGD. */
export function kernelLevelName(geo: KernelGeometry, level: number): KernelLevelName {
  if (level === geo.pgdLevel) return "PGD";
  switch (level) {
    case 3:
      return "PTE";
    case 2:
      return "PMD";
    case 1:
      return "PUD";
    default:
      return "P4D";
  }
}

/** log2 of the bytes one entry at this hardware level maps. */
export function entryShift(geo: KernelGeometry, level: number): number {
  return levelShift(geo.granule, level);
}

/** Whether Linux writes block ("section") entries at this level: PMD always, PUD only with 4K. */
export function kernelBlockLevel(geo: KernelGeometry, level: number): boolean {
  return level === 2 || (level === 1 && geo.pudSectSupported);
}

/** Contiguous group size in entries Linux uses at this level (0: none). */
export function kernelContEntries(geo: KernelGeometry, level: number): number {
  if (level === 3) return geo.CONT_PTES;
  if (level === 2 && geo.contPmdSupported) return geo.CONT_PMDS;
  return 0;
}

/** Bytes in a table page at a level (the PGD may be smaller than a page). */
export function tableBytes(geo: KernelGeometry, level: number): number {
  if (level === geo.pgdLevel) return Math.max(64, geo.PTRS_PER_PGD * 8);
  return geo.PAGE_SIZE;
}

export { GRANULE_4K, GRANULE_16K, GRANULE_64K };
