/** One CPU of the machine: its registers, compiled context, TTBR roots, may-hold set and stores in flight. */
import type { WalkContext } from "../walk/context.js";
import type { Walker } from "../walk/walker.js";
import type { PendingStore } from "./ordering.js";
import type { Root, StaleEntry } from "./tlb.js";

export interface CpuRegs {
  ttbr0: bigint;
  ttbr1: bigint;
  tcr: bigint;
  mair: bigint;
  sctlr: bigint;
  par: bigint;
}

export class Cpu {
  readonly id: number;
  readonly regs: CpuRegs;
  ctx!: WalkContext;
  walker!: Walker;
  /** Where its walks start now: the enabled TTBR halves. */
  roots: Root[] = [];
  /** What its TLB may hold beyond memory (tlb.ts). */
  stale: StaleEntry[] = [];
  /** Its descriptor stores walkers may not observe yet (ordering.ts). */
  pending: PendingStore[] = [];
  lastIsb = 0;
  lastMsr = 0;
  /** Cache maintenance a descriptor store needs before walks see it: 0 none, 1 clean, 2 invalidate. */
  dcNeed = 0;
  constructor(id: number, regs: CpuRegs) {
    this.id = id;
    this.regs = regs;
  }
}
