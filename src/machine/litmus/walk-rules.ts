/**
 * Which descriptor writes a translation table walk may read (reference relaxed-vmsa.md §1.3 and
 * §1.5; herd aarch64.cat, ESOP'22 "Relaxed virtual memory in Armv8-A"). The TLB may hold any
 * valid entry it could have walked since the entry was last invalidated (Arm ARM D8.14; the
 * may-cache view of machine.ts), so a walk reading a *valid* descriptor is bounded only by
 * completed TLBIs; a walk reading an invalid one (or AF=0 without hardware AF) is bounded by
 * coherence with what is ordered before it:
 *
 * 1. Faulting reads are coherence-pinned (herd TLBuncacheable-ca): a Translation or Access-flag
 *    fault may not come from a value overwritten by a write ordered before the walk (the CPU's
 *    walk view: CSE after DSB, address dependency; with FEAT_ETS2 also every po-earlier explicit
 *    access, herd ets-ob; with FEAT_ETS3 Permission faults too).
 * 2. TLBI (herd TLBI-ob / TLBI-ca): for each completed TLBI T in scope, the walk is either after
 *    T — then it may not read a value overwritten by a write ordered before T — or before T; it
 *    must be after T when it is ordered after T's completion: on T's CPU by the walk view
 *    (DSB; ISB, or DSB with ETS2), on another CPU also by what the explicit access using the
 *    walk is ordered after (a flag read plus DMB LD, acquire, an address dependency, a DSB).
 * 3. A walk never reads a write program-order after its own instruction (ESOP
 *    translation-internal).
 * 4. Walks of one VA on one CPU: when a later walk is before T, so is every earlier one (herd
 *    TLBI-ob, third clause), so a walk may not be before a TLBI an earlier walk of the same page
 *    was already after (`afterDone`).
 */
import type { Message, MessageLog } from "./messages.js";
import { type TlbiRecord, tlbiAffects } from "./tlbi-record.js";

export interface WalkFacts {
  readonly cpu: number;
  /** Program-order index of the accessing instruction. */
  readonly po: number;
  /** Writes every read of this walk is ordered after (walk view ⊔ address dependency). */
  readonly walkView: number;
  /** Writes a faulting read is ordered after (rule 1). */
  readonly faultView: number;
  /** The explicit access's own pre-view (rule 2, other CPUs' TLBIs). */
  readonly accessPre: number;
  readonly half: number;
  readonly ia: number;
  readonly vaOff: number;
  readonly asid: number;
  /** Newest completed TLBI an earlier walk of this page on this CPU was after (rule 4; 0: none). */
  readonly afterDone: number;
}

/** One descriptor value a walk reads, as the rules see it. */
export interface DescriptorRead {
  readonly msg: Message;
  /** Bytes the descriptor maps (its entry size). */
  readonly span: number;
  /** A leaf (or an invalid entry, which TLBIs of any level cover). */
  readonly leaf: boolean;
  /** nG=0 leaf. */
  readonly global: boolean;
  /** Reading it faults (invalid, or AF=0 without HA). */
  readonly faulting: boolean;
}

/**
 * Whether the walk may read `d`; when it may only as a read ordered before some other CPU's
 * completed TLBI, `before` is the earliest such TLBI's completion timestamp (the explicit access
 * must then not be ordered after it). undefined: not allowed.
 */
export function descriptorAllowed(
  log: MessageLog,
  tlbis: readonly TlbiRecord[],
  f: WalkFacts,
  d: DescriptorRead,
): { before: number } | undefined {
  const m = d.msg;
  if (m.cpu === f.cpu && m.po > f.po) return undefined;
  if (d.faulting && !log.notOverwrittenBy(m, f.faultView)) return undefined;
  let before = Number.POSITIVE_INFINITY;
  for (const t of tlbis) {
    if (!tlbiAffects(t, f.cpu, f.half, f.ia, f.vaOff, d.span, f.asid, d.global, d.leaf)) continue;
    if (log.notOverwrittenBy(m, t.ordered)) continue;
    const after = t.cpu === f.cpu ? f.walkView >= t.done : Math.max(f.walkView, f.accessPre) >= t.done;
    if (after || t.done <= f.afterDone) return undefined;
    if (t.cpu !== f.cpu) before = Math.min(before, t.done);
  }
  return { before };
}

/**
 * The newest completed TLBI in scope that a walk reading `m` is certainly after: `m` was written
 * by the TLBI's CPU after the DSB that completed it (DSB-ob), or the walk was ordered after it.
 */
export function walkAfter(tlbis: readonly TlbiRecord[], f: WalkFacts, d: DescriptorRead): number {
  let done = 0;
  for (const t of tlbis) {
    if (!tlbiAffects(t, f.cpu, f.half, f.ia, f.vaOff, d.span, f.asid, d.global, d.leaf)) continue;
    const ordered = t.cpu === f.cpu ? f.walkView >= t.done : Math.max(f.walkView, f.accessPre) >= t.done;
    if (ordered || (d.msg.cpu === t.cpu && d.msg.ts > t.done)) done = Math.max(done, t.done);
  }
  return done;
}
