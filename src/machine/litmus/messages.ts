/**
 * Memory with values: every write to an 8-byte location is a message in one global order (its
 * timestamp), so each location's messages are its coherence order (Arm ARM B2.3 "coherence
 * order"; the view-based reading of the Armv8 model, Pulte et al., "Promising-ARM/RISC-V",
 * PLDI 2019, which is equivalent to the axiomatic model of B2.3 for data accesses). Timestamp 0
 * is the initial value. TLBI completions take a timestamp too (`tick`), so that ordering after
 * a completed TLBI can be compared with views (herd aarch64.cat TLBI-ob).
 */

export interface Message {
  /** Position in the global order (0: initial memory). */
  readonly ts: number;
  readonly pa: number;
  readonly value: bigint;
  /** Writing CPU (-1: initial memory). */
  readonly cpu: number;
  /** Program-order index of the writing instruction on its CPU (-1: initial memory or hardware). */
  readonly po: number;
  /** A hardware Access-flag / dirty-state update (herd HU), not a software store. */
  readonly hw: boolean;
  /** TLBI completions the write is ordered after (views.ts; a reader of it is ordered after them too). */
  readonly k: number;
}

export class MessageLog {
  private readonly byLoc = new Map<number, Message[]>();
  private readonly read0: (pa: number) => bigint;
  private last = 0;

  /** `initial(pa)` gives a location's value before any write. */
  constructor(initial: (pa: number) => bigint) {
    this.read0 = initial;
  }

  /** Latest timestamp given so far. */
  get now(): number {
    return this.last;
  }

  /** The coherence order of location `pa` (8-byte aligned), initial value first. */
  at(pa: number): readonly Message[] {
    let l = this.byLoc.get(pa);
    if (l === undefined) {
      l = [{ ts: 0, pa, value: this.read0(pa), cpu: -1, po: -1, hw: false, k: 0 }];
      this.byLoc.set(pa, l);
    }
    return l;
  }

  latest(pa: number): Message {
    const l = this.at(pa);
    return l[l.length - 1] as Message;
  }

  /** Append a write: it is coherence-after every write to `pa` so far. */
  append(pa: number, value: bigint, cpu: number, po: number, hw: boolean, k: number): Message {
    this.at(pa);
    const m: Message = { ts: ++this.last, pa, value, cpu, po, hw, k };
    (this.byLoc.get(pa) as Message[]).push(m);
    return m;
  }

  /** A timestamp for an event that is not a write (a TLBI completing). */
  tick(): number {
    return ++this.last;
  }

  /**
   * Whether message `m` may still be read by a read whose view is `view`: no write to the same
   * location lies in (m.ts, view] — the read rule of the view-based model (a read may not read a
   * write coherence-before one it is already ordered after, B2.3 "coherence").
   */
  notOverwrittenBy(m: Message, view: number): boolean {
    for (const x of this.at(m.pa)) if (x.ts > m.ts && x.ts <= view) return false;
    return true;
  }

  /** Locations written at least once, with their final (coherence-last) value. */
  written(): Map<number, bigint> {
    const out = new Map<number, bigint>();
    for (const [pa, l] of this.byLoc) if (l.length > 1) out.set(pa, (l[l.length - 1] as Message).value);
    return out;
  }

  /** Final value of `pa` (the initial one when never written). */
  final(pa: number): bigint {
    return this.latest(pa).value;
  }
}
