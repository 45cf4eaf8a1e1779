/**
 * What one litmus execution did, in the order it did it, as steps the may-cache Machine can
 * replay (descriptor stores, accesses, barriers, TLBIs, MSRs, context synchronization), so the
 * rule checker (BBM, missing barriers, stale translations…) judges each execution too — as
 * herd7 flags Warning-BBM-expected beside an outcome.
 */
import type { DsbKind, SysReg, TlbiOp } from "../types.js";

export type TraceOp =
  | { readonly k: "store-pa"; readonly pa: bigint; readonly value: bigint; readonly release: boolean }
  | { readonly k: "access"; readonly type: "load" | "store" | "fetch"; readonly va: bigint; readonly el: 0 | 1; readonly value?: bigint }
  | { readonly k: "dsb" | "dmb"; readonly kind: DsbKind }
  | { readonly k: "isb" }
  | { readonly k: "tlbi"; readonly op: TlbiOp; readonly operand: bigint }
  | { readonly k: "msr"; readonly reg: SysReg; readonly value: bigint };

export interface TraceEntry {
  readonly cpu: number;
  /** Scenario step (1-based) the operation came from. */
  readonly step: number;
  readonly op: TraceOp;
}

export function traceKey(t: readonly TraceEntry[]): string {
  return t.map((e) => `${e.cpu}:${e.step}:${JSON.stringify(e.op, (_k, v) => (typeof v === "bigint" ? v.toString(16) : v))}`).join("|");
}
