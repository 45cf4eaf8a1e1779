/**
 * What one litmus execution did, instruction by instruction, with the write each read read from
 * (reads-from, Arm ARM B2.3 "Reads-from": a read R reads from the write W whose value it returns).
 * Recorded only when an execution is replayed on purpose (a user picking one execution of a
 * litmus test); the enumeration itself records nothing.
 */

/** The write a read returned: a CPU's store (its program line and scenario step), a hardware update, or initial memory. */
export type WriteSource =
  | { readonly kind: "initial" }
  | { readonly kind: "store"; readonly cpu: number; readonly line: number; readonly step: number }
  /** A hardware Access-flag / dirty-state update made by a walk of `cpu` (herd HU). */
  | { readonly kind: "hardware"; readonly cpu: number };

export interface ReadRecord {
  /** A data read (load or atomic) or a translation table walk's descriptor read. */
  readonly kind: "data" | "walk";
  /** Walks: the translation stage and level of the descriptor; data reads: stage 1, level -1. */
  readonly stage: 1 | 2;
  readonly level: number;
  /** 8-byte aligned physical address read. */
  readonly pa: number;
  readonly value: bigint;
  readonly from: WriteSource;
}

export interface ExecEvent {
  readonly cpu: number;
  /** Line index in the CPU's program and the scenario step it came from (1-based). */
  readonly line: number;
  readonly step: number;
  /** A store run before earlier instructions of its CPU (out of program order, reorder.ts). */
  readonly early: boolean;
  /** What the instruction read, in the order it read it (descriptors first, then data). */
  readonly reads: ReadRecord[];
}

/** Choices answered from a recorded sequence (an enumerator's path), to run one execution again. */
export function replayChoices(choices: readonly number[]): (n: number) => number {
  let i = 0;
  return (n: number): number => {
    const c = choices[i++];
    if (c === undefined || c >= n) throw new RangeError(`litmus: replayed choice ${i - 1} is ${c ?? "missing"} of ${n} options`);
    return c;
  };
}
