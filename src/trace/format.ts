/**
 * The `vmsa record` trace format (docs/trace-format.md): record types, the register and barrier
 * codes the QEMU plugin (plugins/record/record.c) writes, and the TLBI encodings it keeps
 * (SYS #op1, C8, Cm, #op2 of the EL1&0 regime, Arm ARM C5.5 "A64 System instructions for TLB
 * maintenance") with the machine model's name for each.
 */
import type { DsbKind, SysReg, TlbiOp } from "../arch/sysops.js";

export const TRACE_MAGIC = "VMSATRC1";
export const TRACE_VERSION = 1;
export const HEADER_BYTES = 32;

export const REC_STORE = 1;
export const REC_PAGE = 2;
export const REC_BARRIER = 3;
export const REC_TLBI = 4;
export const REC_MSR = 5;
export const REC_EXC = 6;
export const REC_ERET = 7;
export const REC_DC = 8;
/** A data load, data store or instruction fetch by VA (only with the plugin's access= argument). */
export const REC_ACCESS = 9;
/** The vCPU called PSCI CPU_OFF (HVC/SMC with X0 = 0x84000002): it is powered off. */
export const REC_CPU_OFF = 10;
export const REC_END = 15;

/** ACCESS kind byte: bits 1:0 the access type, bit 4 set for EL0 (unprivileged) permissions. */
export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_FETCH = 2;
export const ACCESS_EL0 = 0x10;
export const ACCESS_TYPES = ["read", "write", "exec"] as const;

/** Fixed record lengths, type and CPU bytes included (PAGE is variable: its fixed part). */
export const RECORD_BYTES: Readonly<Record<number, number>> = {
  [REC_STORE]: 27,
  [REC_PAGE]: 16,
  [REC_BARRIER]: 11,
  [REC_TLBI]: 20,
  [REC_MSR]: 19,
  [REC_EXC]: 19,
  [REC_ERET]: 10,
  [REC_DC]: 19,
  [REC_ACCESS]: 19,
  [REC_CPU_OFF]: 10,
  [REC_END]: 2 + 17 * 8,
};

export const RECORD_NAMES: Readonly<Record<number, string>> = {
  [REC_STORE]: "store",
  [REC_PAGE]: "page",
  [REC_BARRIER]: "barrier",
  [REC_TLBI]: "tlbi",
  [REC_MSR]: "msr",
  [REC_EXC]: "exception",
  [REC_ERET]: "eret",
  [REC_DC]: "dc",
  [REC_ACCESS]: "access",
  [REC_CPU_OFF]: "cpu-off",
  [REC_END]: "end",
};

/** MSR register codes; VBAR_EL1 is recorded for exception entry but is no translation register. */
export const MSR_REGS: readonly (SysReg | "VBAR_EL1")[] = ["TTBR0_EL1", "TTBR1_EL1", "TCR_EL1", "MAIR_EL1", "SCTLR_EL1", "VBAR_EL1"];

export const BARRIER_DSB = 0;
export const BARRIER_DMB = 1;
export const BARRIER_ISB = 2;
export const BARRIER_NAMES = ["DSB", "DMB", "ISB"] as const;

/**
 * Shareability domain / access type of a DSB or DMB from its CRm option (Arm ARM C6.2 DSB):
 * reserved values behave as SY. CRm 0 and 4 with DSB's encoding are SSBB and PSSBB (not
 * barriers for translation); the plugin records them, the replay skips them.
 */
export function barrierDomain(crm: number): DsbKind | undefined {
  switch (crm) {
    case 0:
    case 4:
      return undefined;
    case 1:
      return "OSHLD";
    case 2:
      return "OSHST";
    case 3:
      return "OSH";
    case 5:
      return "NSHLD";
    case 6:
      return "NSHST";
    case 7:
      return "NSH";
    case 9:
      return "ISHLD";
    case 10:
      return "ISHST";
    case 11:
      return "ISH";
    case 13:
      return "LD";
    case 14:
      return "ST";
    default:
      return "SY";
  }
}

/** DC operations the plugin records (code → name). */
export const DC_OPS = ["CVAC", "CIVAC", "IVAC"] as const;

/** TLBI encoding (op1 << 7 | CRm << 3 | op2) → the model's operation name. */
const TLBI_TABLE: ReadonlyMap<number, TlbiOp> = (() => {
  const m = new Map<number, TlbiOp>();
  // CRm: 3 Inner Shareable, 7 non-shareable, 1 Outer Shareable (FEAT_TLBIOS).
  const plain: [number, string][] = [
    [3, "IS"],
    [7, ""],
    [1, "OS"],
  ];
  const ops: [number, string][] = [
    [0, "VMALLE1"],
    [1, "VAE1"],
    [2, "ASIDE1"],
    [3, "VAAE1"],
    [5, "VALE1"],
    [7, "VAALE1"],
  ];
  for (const [crm, sfx] of plain) for (const [op2, base] of ops) m.set((crm << 3) | op2, `${base}${sfx}` as TlbiOp);
  // Range forms (FEAT_TLBIRANGE): CRm 2 Inner Shareable, 6 non-shareable, 5 Outer Shareable.
  const range: [number, string][] = [
    [2, "IS"],
    [6, ""],
    [5, "OS"],
  ];
  const rops: [number, string][] = [
    [1, "RVAE1"],
    [3, "RVAAE1"],
    [5, "RVALE1"],
    [7, "RVAALE1"],
  ];
  for (const [crm, sfx] of range) for (const [op2, base] of rops) m.set((crm << 3) | op2, `${base}${sfx}` as TlbiOp);
  return m;
})();

export function tlbiName(enc: number): TlbiOp | undefined {
  return TLBI_TABLE.get(enc);
}

/** The instruction text of an unknown TLBI encoding: SYS #op1, C8, Cm, #op2. */
export function tlbiEncodingText(enc: number): string {
  return `SYS #${(enc >> 7) & 7}, C8, C${(enc >> 3) & 15}, #${enc & 7}`;
}
