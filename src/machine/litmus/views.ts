/**
 * Per-CPU ordering state as views (timestamps of the message log; Pulte et al. PLDI 2019
 * "Promising-ARM", whose rules restate Arm ARM B2.3 "Ordering relations": barrier-ordered-before
 * (DMB), dependency-ordered-before, acquire/release), extended with what orders translation
 * table walks (reference relaxed-vmsa.md §1.3, herd aarch64.cat / ESOP'22):
 *
 * - `walk`: writes every later walk is ordered after. A DSB alone does not order later walks;
 *   the next context synchronization event (ISB, exception entry, ERET) does (herd DSB-ob /
 *   IFB-ob; Arm ARM B2.3 "context synchronization event", D8.2.x walks and CSEs). With
 *   FEAT_ETS2 a DSB already orders later walks (herd -variant ets2).
 * - `dsbSeen`: what the last DSB ordered (for the next ISB).
 * - `tlbiOrd`: writes ordered before a later TLBI (a DSB before it: "W; DSB; TLBI").
 *
 * Being ordered after a TLBI's completion is not a matter of timestamps: a TLBI completes at a
 * DSB of its CPU (Arm ARM D8.14), and what is ordered after that DSB is what follows it in
 * ordered-before (B2.3: po after the DSB, then dependencies, barriers, reads-from of writes made
 * after it; herd aarch64.cat TLBI-ob through ob). A write by an unrelated CPU that merely happens
 * later in the execution is not. So every view also carries the set of TLBI completions it is
 * ordered after (`…K`: a bitmask of completion events, see tlbi-record.ts `bit`), joined wherever
 * the timestamps are (max ↔ |), and messages carry the set of their write (messages.ts `k`).
 */
import type { DsbKind } from "../types.js";

const max = Math.max;

export class Views {
  /** Newest read / write of this CPU (post-views). */
  rOld = 0;
  wOld = 0;
  /** Newest hardware Access-flag / dirty update made by this CPU's walks (herd HU). */
  hu = 0;
  /** Pre-views later reads / writes are ordered after (DMB, acquire). */
  rNew = 0;
  wNew = 0;
  /** Control and address dependencies so far (ordered by a later ISB; orders later stores). */
  cap = 0;
  /** Newest store-release (an LDAR after it is ordered after it: RCsc). */
  rel = 0;
  walk = 0;
  dsbSeen = 0;
  tlbiOrd = 0;
  /** TLBI completions each view above is ordered after (bitmasks, joined with |). */
  rOldK = 0;
  wOldK = 0;
  huK = 0;
  rNewK = 0;
  wNewK = 0;
  capK = 0;
  relK = 0;
  walkK = 0;
  dsbSeenK = 0;
  tlbiOrdK = 0;
  /** Per-location coherence view: reads and writes of a location stay in coherence order. */
  readonly coh = new Map<number, number>();

  cohOf(pa: number): number {
    return this.coh.get(pa) ?? 0;
  }

  /** Pre-view of a read: address dependency, earlier DMBs/acquires; LDAR also after an earlier STLR. */
  readPre(acq: "" | "A" | "Q", addr: number): number {
    return max(addr, this.rNew, acq === "A" ? this.rel : 0);
  }

  /** TLBI completions a read's pre-view is ordered after (`addrK`: its address dependency's). */
  readPreK(acq: "" | "A" | "Q", addrK: number): number {
    return addrK | this.rNewK | (acq === "A" ? this.relK : 0);
  }

  /** A read of `pa` performed with post-view `post` (`addr` its address dependency; `…K` their completion sets). */
  readDone(pa: number, post: number, addr: number, acquire: boolean, postK: number, addrK: number): void {
    this.coh.set(pa, max(this.cohOf(pa), post));
    this.rOld = max(this.rOld, post);
    this.cap = max(this.cap, addr);
    this.rOldK |= postK;
    this.capK |= addrK;
    // Acquire: every later access is ordered after it (B2.3 "barrier-ordered-before", LDAR/LDAPR).
    if (acquire) {
      this.rNew = max(this.rNew, post);
      this.wNew = max(this.wNew, post);
      this.rNewK |= postK;
      this.wNewK |= postK;
    }
  }

  /** Pre-view of a write: address/data/control dependencies, DMBs; a release is after everything before it. */
  writePre(rel: boolean, addr: number, data: number): number {
    return max(addr, data, this.cap, this.wNew, rel ? max(this.rOld, this.wOld) : 0);
  }

  writePreK(rel: boolean, addrK: number, dataK: number): number {
    return addrK | dataK | this.capK | this.wNewK | (rel ? this.rOldK | this.wOldK : 0);
  }

  /** A write of `pa` with timestamp `ts`; `k`: the completions the write is ordered after. */
  writeDone(pa: number, ts: number, addr: number, rel: boolean, k: number, addrK: number): void {
    this.coh.set(pa, max(this.cohOf(pa), ts));
    this.wOld = max(this.wOld, ts);
    this.cap = max(this.cap, addr);
    this.wOldK |= k;
    this.capK |= addrK;
    if (rel) {
      this.rel = max(this.rel, ts);
      this.relK |= k;
    }
  }

  /** DMB: SY/ISH/OSH/NSH order all earlier accesses before all later ones; LD earlier reads; ST earlier writes before later writes. */
  dmb(kind: DsbKind): void {
    if (kind.endsWith("LD")) {
      this.rNew = max(this.rNew, this.rOld);
      this.wNew = max(this.wNew, this.rOld);
      this.rNewK |= this.rOldK;
      this.wNewK |= this.rOldK;
    } else if (kind.endsWith("ST")) {
      this.wNew = max(this.wNew, this.wOld);
      this.wNewK |= this.wOldK;
    } else {
      // A full barrier orders every earlier memory effect, hardware updates included (herd: HU is in M).
      const all = max(this.rOld, this.wOld, this.hu);
      this.rNew = max(this.rNew, all);
      this.wNew = max(this.wNew, all);
      const allK = this.rOldK | this.wOldK | this.huK;
      this.rNewK |= allK;
      this.wNewK |= allK;
    }
  }

  /**
   * DSB: orders like the DMB of the same kind, and what it ordered is ordered before a later
   * TLBI and (at the next CSE, or at once with ETS2) before later walks. `tlbiDone` is the
   * timestamp of the TLBIs this DSB completed (0: none) and `tlbiBit` their completion event:
   * later accesses are ordered after them (Arm ARM D8.14, herd DSB-ob / TLBI-ob).
   */
  dsb(kind: DsbKind, ets: number, tlbiDone: number, tlbiBit: number): void {
    this.dmb(kind);
    // DSB ST orders explicit writes only, not hardware updates (herd MP+HA-DSB.ST allowed).
    const seen = kind.endsWith("LD") ? this.rOld : kind.endsWith("ST") ? this.wOld : max(this.rOld, this.wOld, this.hu);
    const seenK = kind.endsWith("LD") ? this.rOldK : kind.endsWith("ST") ? this.wOldK : this.rOldK | this.wOldK | this.huK;
    const v = max(seen, tlbiDone);
    const vK = seenK | tlbiBit;
    this.dsbSeen = max(this.dsbSeen, v);
    this.dsbSeenK |= vK;
    // A later TLBI is ordered after what this DSB ordered, and after the TLBIs it completed.
    if (!kind.endsWith("LD")) {
      this.tlbiOrd = max(this.tlbiOrd, seen, tlbiDone);
      this.tlbiOrdK |= vK;
    }
    if (tlbiDone > 0) {
      this.rNew = max(this.rNew, tlbiDone);
      this.wNew = max(this.wNew, tlbiDone);
      this.rNewK |= tlbiBit;
      this.wNewK |= tlbiBit;
    }
    // FEAT_ETS2: a DSB orders earlier effects before later walks without an ISB (herd -variant ets2).
    if (ets >= 2) {
      this.walk = max(this.walk, v);
      this.walkK |= vK;
    }
  }

  /**
   * Context synchronization (ISB, exception entry, ERET): later reads are ordered after earlier
   * control/address dependencies, and later walks after what earlier DSBs ordered (IFB-ob).
   */
  contextSync(): void {
    this.rNew = max(this.rNew, this.cap);
    this.walk = max(this.walk, this.dsbSeen, this.cap);
    this.rNewK |= this.capK;
    this.walkK |= this.dsbSeenK | this.capK;
  }

  /** Control dependency from a branch on a register with view `v` (completion set `vK`). */
  branch(v: number, vK: number): void {
    this.cap = max(this.cap, v);
    this.capK |= vK;
  }
}
