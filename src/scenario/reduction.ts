/**
 * Partial-order reduction for `--explore`: which steps of different CPUs commute, so that only
 * one order of each adjacent independent pair needs running.
 *
 * Two steps are independent when running them in either order, from any state, leaves the same
 * state and the same reports. That holds for steps that read shared state and change only their
 * own CPU's: loads, fetches, AT, data stores with no value (store-va VA), ISB and DMB. Their
 * checks read memory, pending stores and their own CPU's TLB; what they change is their CPU's
 * (PAR_EL1, the ISB's synchronization point, stores it retires once every CPU sees them). The
 * one shared thing an access changes is the contiguous rule's "group already reported" memory,
 * so a scenario that may hold a contiguous descriptor gets no reduction at all. Everything else
 * (stores, DSB, TLBI, DC, IC, MSR, protect) is dependent on every step of every CPU.
 *
 * The exploration then skips an order in which a step directly follows an independent step of a
 * higher-numbered CPU: the lexicographically least interleaving of each equivalence class has no
 * such pair (swapping it would give a smaller equivalent one), so every class is still run.
 * test/scenario/reduction.test.ts compares reduced and full explorations of random scenarios.
 */
import { HI_CONT } from "../arch/bits.js";
import type { Expr, Scenario, StepSpec } from "./format.js";

const CONT_BIT = BigInt(HI_CONT) << 32n;

/** Whether a value expression may produce a descriptor with the Contiguous bit set. */
function mayBeContiguous(s: Scenario, x: Expr, depth = 0): boolean {
  if (depth > 16) return true;
  switch (x.e) {
    case "num":
      return (x.v & CONT_BIT) !== 0n;
    case "ref": {
      const v = s.values.get(x.name);
      return v === undefined || mayBeContiguous(s, v, depth + 1);
    }
    case "leaf": {
      const c = x.fields.cont;
      return c !== undefined && !(c.e === "num" && c.v === 0n);
    }
    case "table":
    case "desc":
      return false;
  }
}

/** Whether any initial word or stored value of `s` may be a contiguous descriptor. */
export function mayUseContiguous(s: Scenario): boolean {
  if (s.maps.some((m) => m.fields.contiguous)) return true;
  if (s.words.some((w) => mayBeContiguous(s, w.value))) return true;
  if (s.fills.some((f) => f.stride !== 0n || mayBeContiguous(s, f.value))) return true;
  for (const st of s.steps) {
    const op = st.op;
    if (op.op === "store" && mayBeContiguous(s, op.value)) return true;
    if (op.op === "access" && op.value !== undefined && mayBeContiguous(s, op.value)) return true;
  }
  return false;
}

/** Steps that read shared state and change only their own CPU's. */
function isLocal(st: StepSpec): boolean {
  const op = st.op;
  switch (op.op) {
    case "access":
      return op.kind !== "store" || op.value === undefined;
    case "at":
    case "isb":
    case "dmb":
      return true;
    default:
      return false;
  }
}

/**
 * For steps `a` and `b` (0-based scenario indices): whether they commute. Undefined when the
 * scenario allows no reduction.
 */
export function independence(s: Scenario): ((a: number, b: number) => boolean) | undefined {
  if (mayUseContiguous(s)) return undefined;
  const local = s.steps.map(isLocal);
  if (!local.some((x) => x)) return undefined;
  return (a, b) => (s.steps[a] as StepSpec).cpu !== (s.steps[b] as StepSpec).cpu && local[a] === true && local[b] === true;
}
