/**
 * What a CPU's TLB may hold beyond what memory says now (may-cache model, reference
 * vmsa-rules.md §5.3; Arm ARM DDI0487 D8.14 "TLB maintenance": any valid AF=1 entry reachable
 * from the TTBRs may be cached until it is invalidated, walk caches included).
 *
 * Memory itself stays implicit (walks over PhysMem); only the difference is materialized: a
 * `StaleEntry` is a leaf, a walk-cache table entry, or a whole old translation context, tagged
 * by `kind`. Its `state` follows one TLBI through completion: live → TLBI issued (no DSB yet) →
 * completed, awaiting this CPU's ISB → removed.
 */
import type { HalfContext, WalkContext } from "../walk/context.js";
import type { Walker } from "../walk/walker.js";

/** A place translation can start from: a TTBR half, or a cached table entry (walk cache). */
export interface Root {
  readonly half: HalfContext;
  readonly ctx: WalkContext;
  readonly walker: Walker;
  readonly level: number;
  readonly table: number;
  readonly vaOff: number;
  readonly span: number;
  readonly asid: number;
  readonly apT: number;
  readonly uxnT: number;
  readonly pxnT: number;
}

/** Entry states (numbers: the state is read on every access of the hot path). */
export const ST_LIVE = 0;
export const ST_TLBI_ISSUED = 1;
export const ST_AWAIT_ISB = 2;
/** Removed; dropped by the next `compactStale`. */
export const ST_REMOVED = -1;

/** Something a CPU's TLB may still hold although memory (or the registers) no longer say so. */
export interface StaleEntry {
  readonly id: number;
  /** leaf: a cached leaf; table: a walk-cache entry (`root` walks the old subtree); context: an old TTBR/TCR context. */
  readonly kind: "leaf" | "table" | "context";
  readonly cpu: number;
  readonly halfIdx: number;
  readonly ia: number;
  readonly vaOff: number;
  readonly span: number;
  readonly level: number;
  readonly asid: number;
  readonly global: boolean;
  /** A context entry after ASIDE1: only its global entries remain usable. */
  globalOnly: boolean;
  /** PA of the descriptor it was cached from (-1 for a context). */
  readonly descAddr: number;
  readonly hi: number;
  readonly lo: number;
  readonly half: HalfContext;
  readonly ctx: WalkContext;
  readonly apT: number;
  readonly uxnT: number;
  readonly pxnT: number;
  readonly root: Root | undefined;
  /** Step that wrote the old value (0: initial memory). */
  readonly origin: number;
  /** Step that made it stale (the store, or the MSR). */
  readonly changed: number;
  state: number;
  tlbiStep: number;
  tlbiCpu: number;
  tlbiBroadcast: boolean;
  completeStep: number;
  /** Step of a TLBI issued before the break was visible to walkers (the entry may be refilled). */
  refill: number;
  /** Made stale by an MSR not yet followed by an ISB: the old context may still be in use. */
  preIsb: boolean;
  /** Maintenance that did not remove it, and why (NO_MISSES until the first; add with noteMiss). */
  missed: readonly { readonly step: number; readonly why: string }[];
}

/** The `missed` list of an entry no maintenance has missed yet (shared: entries are made on the hot path). */
export const NO_MISSES: StaleEntry["missed"] = Object.freeze([]);

/** Record that the TLBI at step `step` did not remove `e`, and why. */
export function noteMiss(e: StaleEntry, step: number, why: string): void {
  e.missed = [...e.missed, { step, why }];
}

/** One entry of `Machine.tlbSnapshot` (numbers: VA offsets within the half, PAs; -1: none). */
export interface StaleEntryInfo {
  readonly kind: "leaf" | "table" | "context";
  readonly half: number;
  readonly vaOff: number;
  readonly span: number;
  readonly level: number;
  readonly asid: number;
  readonly global: boolean;
  /** A context entry after ASIDE1: only its global entries remain usable. */
  readonly globalOnly: boolean;
  readonly descAddr: number;
  /** The old descriptor value the entry was cached from. */
  readonly desc: bigint;
  /** Step that wrote the old value (0: initial memory) and the step that made it stale. */
  readonly origin: number;
  readonly changed: number;
  /** live; a TLBI covering it issued but not completed by DSB; completed, awaiting this CPU's ISB. */
  readonly state: "live" | "tlbi-issued" | "await-isb";
  readonly tlbiStep: number;
  /** Maintenance that did not remove it, and why. */
  readonly missed: readonly { readonly step: number; readonly why: string }[];
}

export function bigOf(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Plain-data view of one stale entry (for UIs). */
export function staleEntryInfo(e: StaleEntry): StaleEntryInfo {
  return {
    kind: e.kind,
    half: e.halfIdx,
    vaOff: e.vaOff,
    span: e.span,
    level: e.level,
    asid: e.asid,
    global: e.global,
    globalOnly: e.globalOnly,
    descAddr: e.descAddr,
    desc: bigOf(e.hi, e.lo),
    origin: e.origin,
    changed: e.changed,
    state: e.state === ST_TLBI_ISSUED ? "tlbi-issued" : e.state === ST_AWAIT_ISB ? "await-isb" : "live",
    tlbiStep: e.tlbiStep,
    missed: e.missed.map((x) => ({ ...x })),
  };
}

/** Whether two roots start translation at the same place with the same tag and registers. */
export function sameContext(n: Root, r: { half: { index: number }; table: number | undefined; asid: number; ctx: WalkContext }): boolean {
  return (
    n.half.index === r.half.index &&
    n.table === r.table &&
    n.asid === r.asid &&
    n.ctx.regs.tcr === r.ctx.regs.tcr &&
    n.ctx.regs.mair === r.ctx.regs.mair
  );
}

/**
 * A DSB of CPU `issuer` completes the TLBIs it issued: on CPU `holder`'s list, entries they cover
 * are removed (other CPUs) or await the issuer's ISB (its own TLB). A non-shareable DSB (NSH,
 * `broadcastOk` false) does not complete broadcast TLBIs on other CPUs. Returns whether any
 * entry was removed (the caller compacts the list).
 */
export function completeTlbis(stale: readonly StaleEntry[], holder: number, issuer: number, broadcastOk: boolean, s: number): boolean {
  let removed = false;
  for (const e of stale) {
    if (e.state !== ST_TLBI_ISSUED || e.tlbiCpu !== issuer) continue;
    if (e.tlbiBroadcast && !broadcastOk && holder !== issuer) continue;
    e.completeStep = s;
    if (holder === issuer) e.state = ST_AWAIT_ISB;
    else {
      e.state = ST_REMOVED;
      removed = true;
    }
  }
  return removed;
}

/** An ISB of the holder: completed TLBIs now hold, and MSRs before it have taken effect. Returns whether any entry was removed. */
export function retireAtIsb(stale: readonly StaleEntry[]): boolean {
  let any = false;
  for (const e of stale) {
    if (e.state === ST_AWAIT_ISB) {
      e.state = ST_REMOVED;
      any = true;
    }
    if (e.preIsb) e.preIsb = false;
  }
  return any;
}

/** Drop the removed entries from `stale` in place; returns whether a removed one provided a root (walk-cache or old context). */
export function dropRemoved(stale: StaleEntry[]): boolean {
  let rootsRemoved = false;
  let j = 0;
  for (let i = 0; i < stale.length; i++) {
    const e = stale[i] as StaleEntry;
    if (e.state !== ST_REMOVED) stale[j++] = e;
    else if (e.root !== undefined) rootsRemoved = true;
  }
  while (stale.length > j) stale.pop();
  return rootsRemoved;
}
