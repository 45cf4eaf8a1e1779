/**
 * The litmus-level program a CPU runs: instructions over 31 general registers (X0..X30), with
 * addresses and operands already evaluated (the scenario layer resolves `$NAME`, labels and
 * descriptors). Each instruction keeps its label and text for outcomes and traces.
 */
import type { DsbKind, SysReg, TlbiOp } from "../types.js";

/** A general-purpose register number, 0..30 (X0..X30). */
export type Reg = number;

/** An immediate value or a register's value (which carries the register's dependency view). */
export type Operand = { readonly k: "imm"; readonly v: bigint } | { readonly k: "reg"; readonly r: Reg };

/**
 * A memory address: a VA (translated by the CPU's stage-1 regime) or a PA (a physical access,
 * e.g. a descriptor read or written by its physical address). `base` plus the optional `index`
 * register; register operands make address dependencies (Arm ARM B2.3 "Dependency definitions").
 */
export interface Address {
  readonly space: "va" | "pa";
  readonly base: Operand;
  readonly index?: Reg;
}

/** Load-acquire kinds: LDAR (RCsc, "A") and LDAPR (RCpc, "Q"); "" is a plain load. */
export type Acquire = "" | "A" | "Q";

export type RmwOp = "swp" | "cas" | "ldclr" | "ldset" | "ldadd";
export type AluOp = "add" | "sub" | "eor" | "and" | "orr" | "bic" | "lsr" | "lsl";

export type Instr =
  /** Load (`rt` undefined: only the access and its outcome matter, the value is not kept). */
  | { readonly i: "ldr"; readonly rt: Reg | undefined; readonly addr: Address; readonly acq: Acquire; readonly exec?: boolean }
  | { readonly i: "str"; readonly src: Operand; readonly addr: Address; readonly rel: boolean }
  /** Atomic read-modify-write (FEAT_LSE): SWP Xs,Xt / CAS Xs,Xt / LDCLR|LDSET|LDADD Xs,Xt. */
  | {
      readonly i: "rmw";
      readonly op: RmwOp;
      readonly rs: Reg;
      readonly rt: Reg;
      readonly addr: Address;
      readonly acq: boolean;
      readonly rel: boolean;
    }
  | { readonly i: "mov"; readonly rd: Reg; readonly src: Operand }
  | { readonly i: "alu"; readonly op: AluOp; readonly rd: Reg; readonly rn: Reg; readonly src: Operand }
  | { readonly i: "cbz" | "cbnz"; readonly rn: Reg; readonly target: number }
  | { readonly i: "b"; readonly target: number }
  | { readonly i: "dmb" | "dsb"; readonly kind: DsbKind }
  | { readonly i: "isb" }
  /** TLBI: a stage-1 operation, or IPAS2E1/IPAS2LE1/VMALLS12E1/ALLE1/ALLE2/VAE2/VALE2 (tlbi-record.ts). */
  | { readonly i: "tlbi"; readonly op: TlbiOp | string; readonly operand: Operand }
  /** MSR to a translation register; VTTBR_EL2 sets the stage-2 root (BADDR) and VMID (bits [63:48], VTCR.VS=1). */
  | { readonly i: "msr"; readonly reg: SysReg | "VTTBR_EL2"; readonly src: Operand }
  /** Supervisor call: an exception to EL1 whose return address is the next instruction. */
  | { readonly i: "svc" }
  /** Exception return to ELR (the faulting instruction) or to `target`. */
  | { readonly i: "eret"; readonly target?: number }
  /** An operation with no effect at this level (DC, IC, AT, PROTECT): kept for numbering. */
  | { readonly i: "nop" };

export interface Line {
  readonly instr: Instr;
  /** Label (`L0`) or undefined. */
  readonly label: string | undefined;
  readonly text: string;
  /** Scenario step number (1-based) this line came from, for messages. */
  readonly step: number;
}

/** What happens when an access faults and the CPU has no handler (herd's fault modes). */
export type FaultMode = "fatal" | "skip";

export interface CpuProgram {
  /** Main code, then the handler (if any) from `handlerStart`. */
  readonly lines: readonly Line[];
  /** Index of the first handler line (lines.length when there is no handler). */
  readonly handlerStart: number;
  /** Exception level the CPU starts at (0 or 1). */
  readonly el: 0 | 1;
  /** Initial register values (unlisted registers are 0). */
  readonly regs: ReadonlyMap<Reg, bigint>;
}
