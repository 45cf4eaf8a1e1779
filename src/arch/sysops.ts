/**
 * Names of the system instructions and registers of the EL1&0 regime that change or maintain
 * translation (Arm ARM C5 "The A64 System Instruction Class"; DDI0601 register pages): DSB
 * domains, TLBI operations (vmsa-rules.md §5.1), cache maintenance, and the system registers a
 * walk reads. One definition, used by the machine, the kernel library's port and the scenario
 * format.
 */

export type DsbKind = "SY" | "ISH" | "ISHST" | "ISHLD" | "NSH" | "NSHST" | "NSHLD" | "OSH" | "OSHST" | "OSHLD" | "ST" | "LD";
export const DSB_KINDS: readonly DsbKind[] = ["SY", "ISH", "ISHST", "ISHLD", "NSH", "NSHST", "NSHLD", "OSH", "OSHST", "OSHLD", "ST", "LD"];

export type TlbiBase = "VMALLE1" | "VAE1" | "VALE1" | "VAAE1" | "VAALE1" | "ASIDE1" | "RVAE1" | "RVALE1" | "RVAAE1" | "RVAALE1";
export type TlbiOp = TlbiBase | `${TlbiBase}IS` | `${TlbiBase}OS`;
export const TLBI_BASES: readonly TlbiBase[] = [
  "VMALLE1",
  "VAE1",
  "VALE1",
  "VAAE1",
  "VAALE1",
  "ASIDE1",
  "RVAE1",
  "RVALE1",
  "RVAAE1",
  "RVAALE1",
];

export type SysReg = "TTBR0_EL1" | "TTBR1_EL1" | "TCR_EL1" | "MAIR_EL1" | "SCTLR_EL1" | "PAR_EL1";
export const SYS_REGS: readonly SysReg[] = ["TTBR0_EL1", "TTBR1_EL1", "TCR_EL1", "MAIR_EL1", "SCTLR_EL1", "PAR_EL1"];

export type DcOp = "CVAC" | "CIVAC" | "IVAC";
export type IcOp = "IALLU" | "IALLUIS";
