/** A final state of a litmus execution: registers, memory and the faults each CPU took. */
import type { FaultKind } from "../../arch/fault.js";

export interface FaultRecord {
  readonly cpu: number;
  /** Line index in the CPU's program, its label and scenario step. */
  readonly line: number;
  readonly label: string | undefined;
  readonly step: number;
  readonly va: bigint;
  readonly kind: FaultKind;
  /** Translation stage that faulted (2: stage 2, taken to EL2). */
  readonly stage: 1 | 2;
}

export interface FinalState {
  /** Register values per CPU (X0..X30). */
  readonly regs: readonly (readonly bigint[])[];
  /** Final value of every 8-byte location written (coherence-last write). */
  readonly mem: ReadonlyMap<number, bigint>;
  readonly faults: readonly FaultRecord[];
  /** Value of any location, written or not. */
  readonly read: (pa: number) => bigint;
}
