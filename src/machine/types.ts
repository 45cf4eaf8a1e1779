/**
 * Public types of the machine model: steps, outcomes and violation reports.
 */
import type { FaultKind } from "../arch/fault.js";
import type { AccessType, AtOp } from "../walk/walker.js";
import type { RuleId } from "./rules.js";

// The instruction and register names are architecture facts (arch/sysops.ts); re-exported here
// for the machine's API.
export {
  type DcOp,
  DSB_KINDS,
  type DsbKind,
  type IcOp,
  SYS_REGS,
  type SysReg,
  TLBI_BASES,
  type TlbiBase,
  type TlbiOp,
} from "../arch/sysops.js";

/** One executed step, as recorded in `Machine.steps` (index = step number - 1). */
export interface StepRecord {
  /** 1-based step number. */
  readonly step: number;
  readonly cpu: number;
  /** Assembly-like text, e.g. "STR 0x0 -> [PA 0x81ff8]". */
  readonly text: string;
}

/** Where an allowed outcome comes from. */
export type OutcomeSource = "memory" | "unsynchronized-store" | "stale-tlb" | "walk-cache" | "old-context";

/** One outcome an access may have at this point. */
export interface Outcome {
  readonly source: OutcomeSource;
  readonly kind: "ok" | "fault" | "tlb-conflict";
  readonly pa?: bigint;
  readonly fault?: FaultKind;
  readonly level?: number;
  /** MAIR attribute byte and shareability (SH[1:0]) of the translation. */
  readonly attr?: number;
  readonly sh?: number;
  /** Step that stored the descriptor this outcome was read from / cached from, when known. */
  readonly fromStep?: number;
  /** Descriptor address of the leaf. */
  readonly descAddr?: bigint;
}

export interface AccessResult {
  readonly step: number;
  readonly cpu: number;
  readonly va: bigint;
  readonly type: AccessType | "at";
  /** Outcomes the architecture allows (first: what memory says through the current registers). */
  readonly outcomes: readonly Outcome[];
  /** PAR_EL1 value for AT (from the memory outcome). */
  readonly par?: bigint;
  readonly atOp?: AtOp;
}

export interface TraceEntry {
  readonly step: number;
  readonly cpu: number;
  /** What the step did for this report: "wrote old value", "changed descriptor", "TLBI (not completed)". */
  readonly role: string;
  readonly text: string;
}

/** A checker report. */
export interface Violation {
  readonly rule: RuleId;
  /** Issue-4 rule number (1..8). */
  readonly ruleNumber: number;
  readonly title: string;
  /** Finer rule from a rule table, e.g. "bbm.output-address". */
  readonly detail: string;
  readonly citation: string;
  readonly step: number;
  readonly cpu: number;
  readonly va?: bigint;
  readonly pa?: bigint;
  /** Physical address of the descriptor involved. */
  readonly descAddr?: bigint;
  readonly message: string;
  /** The sequence that would fix it. */
  readonly fix?: string;
  /** The earlier steps that led to it, oldest first. */
  readonly trace: readonly TraceEntry[];
}
