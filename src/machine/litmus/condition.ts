/**
 * Final conditions over a litmus outcome, as herd7 states them (herd "Final conditions":
 * `exists P` — the outcome is Allowed when some execution satisfies P; `~exists P` — Forbidden:
 * none may; `forall P` — Required: every execution must). Atoms: a CPU's register, a physical
 * location's final value, and whether an access faulted (herd `fault(P1:L0,x)`).
 */
import type { FaultKind } from "../../arch/fault.js";
import type { FinalState } from "./outcome.js";

export type Prop =
  | { readonly k: "true" }
  | { readonly k: "and" | "or" | "implies"; readonly a: Prop; readonly b: Prop }
  | { readonly k: "not"; readonly a: Prop }
  | { readonly k: "reg"; readonly cpu: number; readonly reg: number; readonly value: bigint }
  | { readonly k: "mem"; readonly pa: number; readonly value: bigint }
  /** A fault on `cpu` (at line `line` when given, of VA `va` when given, of `kind` when given). */
  | { readonly k: "fault"; readonly cpu: number; readonly line?: number; readonly va?: bigint; readonly kind?: FaultKind };

export type Quantifier = "exists" | "~exists" | "forall";

export interface FinalCondition {
  readonly quantifier: Quantifier;
  readonly prop: Prop;
  /** The condition as written. */
  readonly text: string;
}

export function holds(p: Prop, s: FinalState): boolean {
  switch (p.k) {
    case "true":
      return true;
    case "and":
      return holds(p.a, s) && holds(p.b, s);
    case "or":
      return holds(p.a, s) || holds(p.b, s);
    case "implies":
      return !holds(p.a, s) || holds(p.b, s);
    case "not":
      return !holds(p.a, s);
    case "reg":
      return s.regs[p.cpu]?.[p.reg] === p.value;
    case "mem":
      return s.read(p.pa) === p.value;
    case "fault":
      return s.faults.some(
        (f) =>
          f.cpu === p.cpu &&
          (p.line === undefined || f.line === p.line) &&
          (p.va === undefined || f.va === p.va) &&
          (p.kind === undefined || f.kind === p.kind),
      );
  }
}

/** herd's kinds: what the quantifier claims (Allowed, Forbidden, Required). */
export function claimOf(q: Quantifier): "allowed" | "forbidden" | "required" {
  return q === "exists" ? "allowed" : q === "~exists" ? "forbidden" : "required";
}
