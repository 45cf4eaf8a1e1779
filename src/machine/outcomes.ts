/**
 * One outcome an access may have (`Alt`, a per-access scratch record on the hot path), how two
 * outcomes differ, how one is described in a message, and its public `Outcome` form.
 */
import type { FaultKind } from "../arch/fault.js";
import { FAULT_KINDS, FAULT_NONE } from "../arch/fault.js";
import { wantedPermBit } from "../walk/walker.js";
import type { PendingStore } from "./ordering.js";
import { hx } from "./report.js";
import type { StaleEntry } from "./tlb.js";
import type { Outcome, OutcomeSource } from "./types.js";

/** `fault` value of a TLB conflict abort outcome. */
export const FAULT_CONFLICT = -1;

export interface Alt {
  source: OutcomeSource;
  /** A FAULT_* kind, or FAULT_CONFLICT. */
  fault: number;
  pa: number;
  level: number;
  attr: number;
  sh: number;
  /** Translation span (entry size incl. contiguous) as log2, and its VA base offset. */
  spanShift: number;
  descAddr: number;
  fromStep: number;
  stale: StaleEntry | undefined;
  pend: PendingStore | undefined;
}

/** Bit of the permission word (walk/permissions.ts) an access code asks for. */
export function permWanted(acc: number): number {
  return wantedPermBit(acc);
}

/** Whether two outcomes are observably different (fault vs ok; PA, attributes, shareability). */
export function differs(a: Alt, b: Alt): boolean {
  const aok = a.fault === FAULT_NONE;
  const bok = b.fault === FAULT_NONE;
  if (aok !== bok) return true;
  if (!aok) return false;
  return a.pa !== b.pa || a.attr !== b.attr || a.sh !== b.sh;
}

export function describeAlt(a: Alt): string {
  if (a.fault === FAULT_CONFLICT) return "a TLB conflict abort";
  const src = a.source === "memory" ? "" : ` (${a.source})`;
  if (a.fault === FAULT_NONE) return `PA ${hx(a.pa)} attr ${hx(a.attr)}${src}`;
  return `a ${FAULT_KINDS[a.fault]} fault at level ${a.level}${src}`;
}

export function outcomeOf(a: Alt): Outcome {
  if (a.fault === FAULT_CONFLICT) return { source: a.source, kind: "tlb-conflict", fromStep: a.fromStep };
  if (a.fault !== FAULT_NONE) {
    return { source: a.source, kind: "fault", fault: FAULT_KINDS[a.fault] as FaultKind, level: a.level, fromStep: a.fromStep };
  }
  return {
    source: a.source,
    kind: "ok",
    pa: BigInt(a.pa),
    level: a.level,
    attr: a.attr,
    sh: a.sh,
    fromStep: a.fromStep,
    ...(a.descAddr >= 0 ? { descAddr: BigInt(a.descAddr) } : {}),
  };
}
