/**
 * Which descriptor writes a walk may read (reference relaxed-vmsa.md §1.3 and §1.5; herd
 * aarch64.cat, ESOP'22 "Relaxed virtual memory in Armv8-A"). The TLB may hold any valid entry it
 * could have walked since the entry was last invalidated (Arm ARM D8.14; the may-cache view of
 * machine.ts), so a walk reading a *valid* descriptor is bounded only by completed TLB
 * invalidations; a walk reading an invalid one (or AF=0 without hardware AF) is bounded by
 * coherence with what is ordered before it:
 *
 * 1. Faulting reads are coherence-pinned (herd TLBuncacheable-ca): a Translation or Access-flag
 *    fault may not come from a value overwritten by a write ordered before the walk (the CPU's
 *    walk view: CSE after DSB, address dependency; with FEAT_ETS2 also every po-earlier explicit
 *    access, herd ets-ob; with FEAT_ETS3 Permission faults too).
 * 2. Invalidation (herd TLBI-ob / TLBI-ca): for each completed invalidation I in scope, the walk
 *    is either after I — then it may not read a value overwritten by a write ordered before I —
 *    or before I; it must be after I when it is ordered after I's completion: on I's CPU by the
 *    walk view (DSB; ISB, or DSB with ETS2), on another CPU also by what the explicit access
 *    using the walk is ordered after (a flag read plus DMB LD, acquire, an address dependency,
 *    a DSB). "Ordered after I's completion" is the completion set of those views (views.ts),
 *    not a timestamp comparison: a write of a third CPU that is not ordered after I does not
 *    order a reader of it after I, however late it happened in the execution.
 * 3. A walk never reads a write program-order after its own instruction (ESOP
 *    translation-internal).
 * 4. Walks of one VA on one CPU: when a later walk is before I, so is every earlier one (herd
 *    TLBI-ob, third clause), so a walk may not be before an invalidation an earlier walk of the
 *    same page was already after (`afterDone`).
 */
import type { Message, MessageLog } from "./messages.js";

/** One completed invalidation as the rules see it (a TLBI, or a stage-2 IPA + stage-1 pair). */
export interface Invalidation {
  readonly cpu: number;
  /** Writes ordered before it. */
  readonly ordered: number;
  /** Completion timestamp. */
  readonly done: number;
  /** Completion event (bit of the views' completion sets). */
  readonly bit: number;
}

export interface WalkFacts {
  readonly cpu: number;
  /** Program-order index of the accessing instruction. */
  readonly po: number;
  /** Writes every read of this walk is ordered after (walk view ⊔ address dependency). */
  readonly walkView: number;
  /** Writes a faulting read is ordered after (rule 1). */
  readonly faultView: number;
  /** Completions the walk is ordered after (walk view ⊔ address dependency). */
  readonly walkK: number;
  /** Completions the explicit access's own pre-view is ordered after (rule 2, other CPUs' invalidations). */
  readonly accessPreK: number;
  /** Completed invalidations an earlier walk of this page on this CPU was after (rule 4). */
  readonly afterK: number;
}

/**
 * Whether the walk may read `msg` (`faulting`: its value makes the walk fault) under the
 * invalidations `invs` that cover it; when it may only as a read ordered before other CPUs'
 * invalidations, `before` holds their completion bits (the explicit access must then not be
 * ordered after any of them). undefined: not allowed.
 */
export function descriptorAllowed(
  log: MessageLog,
  invs: readonly Invalidation[],
  f: WalkFacts,
  msg: Message,
  faulting: boolean,
): { before: number } | undefined {
  if (msg.cpu === f.cpu && msg.po > f.po) return undefined;
  if (faulting && !log.notOverwrittenBy(msg, f.faultView)) return undefined;
  let before = 0;
  for (const t of invs) {
    if (log.notOverwrittenBy(msg, t.ordered)) continue;
    if (orderedAfter(t, f) || (f.afterK & t.bit) !== 0) return undefined;
    if (t.cpu !== f.cpu) before |= t.bit;
  }
  return { before };
}

/** Whether the walk is ordered after invalidation `t`'s completion (rule 2). */
function orderedAfter(t: Invalidation, f: WalkFacts): boolean {
  return ((t.cpu === f.cpu ? f.walkK : f.walkK | f.accessPreK) & t.bit) !== 0;
}

/**
 * The invalidations in `invs` that a walk reading `msg` is certainly after (their bits): `msg`
 * was written by the invalidating CPU after the DSB that completed it (DSB-ob), or the walk was
 * ordered after it.
 */
export function walkAfter(invs: readonly Invalidation[], f: WalkFacts, msg: Message): number {
  let after = 0;
  for (const t of invs) if (orderedAfter(t, f) || (msg.cpu === t.cpu && msg.ts > t.done)) after |= t.bit;
  return after;
}
