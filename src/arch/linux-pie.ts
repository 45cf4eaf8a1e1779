/**
 * The PIR_EL1 / PIRE0_EL1 values a PIE-enabled Linux writes in __cpu_setup (arch/arm64/mm/proc.S,
 * when ID_AA64MMFR3_EL1.S1PIE != 0, together with TCR2_EL1.PIE), computed here from the facts of
 * arch/arm64/include/asm/pgtable-prot.h: each page type's PIIndex (its USER, WRITE = DBM, PXN
 * and UXN bits) and the PIE_* permission given to it for EL0 (PIE_E0) and EL1 (PIE_E1).
 */
import { ParseError } from "./errors.js";
import { encodePermFields } from "./pie.js";

/** PIIndex of a page type from Linux's bits: PTE_USER (index bit 0), PTE_WRITE/DBM (1), PTE_PXN (2), PTE_UXN (3). */
function idx(bitsSet: { user?: boolean; write?: boolean; pxn?: boolean; uxn?: boolean }): number {
  return (bitsSet.user ? 1 : 0) | (bitsSet.write ? 2 : 0) | (bitsSet.pxn ? 4 : 0) | (bitsSet.uxn ? 8 : 0);
}

/** Linux page types and their PIIndex (pgtable-prot.h: _PAGE_* definitions). */
export const LINUX_PI_INDEX = {
  PAGE_EXECONLY: idx({ pxn: true }), // 4
  PAGE_READONLY_EXEC: idx({ pxn: true, user: true }), // 5
  PAGE_SHARED_EXEC: idx({ pxn: true, write: true, user: true }), // 7
  PAGE_KERNEL_ROX: idx({ uxn: true }), // 8
  PAGE_GCS_RO: idx({ uxn: true, user: true }), // 9
  PAGE_KERNEL_EXEC: idx({ uxn: true, write: true }), // a
  PAGE_GCS: idx({ uxn: true, write: true, user: true }), // b
  PAGE_KERNEL_RO: idx({ uxn: true, pxn: true }), // c
  PAGE_READONLY: idx({ uxn: true, pxn: true, user: true }), // d
  PAGE_KERNEL: idx({ uxn: true, pxn: true, write: true }), // e
  PAGE_SHARED: idx({ uxn: true, pxn: true, write: true, user: true }), // f
} as const;

/** PIE_* values (Linux asm/sysreg.h), the 4-bit PIR encodings. */
const PIE = {
  NONE_O: 0x0,
  R_O: 0x1,
  X_O: 0x2,
  RX_O: 0x3,
  RW_O: 0x5,
  RWnX_O: 0x6,
  RWX_O: 0x7,
  R: 0x8,
  GCS: 0x9,
  RX: 0xa,
  RW: 0xc,
  RWX: 0xe,
};

const L = LINUX_PI_INDEX;

/** Which generation of Linux's PIE tables: first S1PIE support, user permissions made overlay-able (S1POE), GCS pages added. */
export type LinuxPieEra = "pie" | "poe" | "gcs";

/** PIRE0_EL1 (PIE_E0) of a Linux era. */
export function linuxPireE0(era: LinuxPieEra): bigint {
  const o = era !== "pie"; // user permissions switched to the overlay-able (_O) values with S1POE support
  const f: Record<number, number> = {
    [L.PAGE_EXECONLY]: PIE.X_O,
    [L.PAGE_READONLY_EXEC]: o ? PIE.RX_O : PIE.RX,
    [L.PAGE_SHARED_EXEC]: o ? PIE.RWX_O : PIE.RWX,
    [L.PAGE_READONLY]: o ? PIE.R_O : PIE.R,
    [L.PAGE_SHARED]: o ? PIE.RW_O : PIE.RW,
  };
  if (era === "gcs") {
    f[L.PAGE_GCS] = PIE.GCS;
    f[L.PAGE_GCS_RO] = PIE.R;
  }
  return encodePermFields(f);
}

/** PIR_EL1 (PIE_E1): the same in every era (the GCS and exec-only entries are PIE_NONE_O = 0). */
export function linuxPirE1(): bigint {
  return encodePermFields({
    [L.PAGE_GCS]: PIE.NONE_O,
    [L.PAGE_GCS_RO]: PIE.NONE_O,
    [L.PAGE_EXECONLY]: PIE.NONE_O,
    [L.PAGE_READONLY_EXEC]: PIE.R,
    [L.PAGE_SHARED_EXEC]: PIE.RW,
    [L.PAGE_READONLY]: PIE.R,
    [L.PAGE_SHARED]: PIE.RW,
    [L.PAGE_KERNEL_ROX]: PIE.RX,
    [L.PAGE_KERNEL_EXEC]: PIE.RWX,
    [L.PAGE_KERNEL_RO]: PIE.R,
    [L.PAGE_KERNEL]: PIE.RW,
  });
}

/** TCR2_EL1 as Linux sets it with S1PIE (PIE=1; POE/E0POE are set later only with S1POE support, not here). */
export const LINUX_TCR2_PIE = 0x2n;

export const LINUX_PIE_ERAS: readonly LinuxPieEra[] = ["pie", "poe", "gcs"];

/**
 * TCR2_EL1, PIR_EL1, PIRE0_EL1 of a Linux kernel with permission indirection (what __cpu_setup
 * writes when ID_AA64MMFR3_EL1.S1PIE != 0). For inputs that do not record these registers
 * (VMCOREINFO, ELF cores): a kernel on an S1PIE CPU always runs with them.
 */
export function linuxPieRegisters(era: LinuxPieEra = "gcs"): { tcr2: bigint; pir: bigint; pire0: bigint } {
  return { tcr2: LINUX_TCR2_PIE, pir: linuxPirE1(), pire0: linuxPireE0(era) };
}

/** `--linux-pie ERA`. */
export function parseLinuxPieEra(v: string | boolean): LinuxPieEra {
  const e = LINUX_PIE_ERAS.find((x) => x === String(v).trim().toLowerCase());
  if (e === undefined) throw new ParseError(`--linux-pie: "${String(v)}" is not one of ${LINUX_PIE_ERAS.join(", ")}`);
  return e;
}
