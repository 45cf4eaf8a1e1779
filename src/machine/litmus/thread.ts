/**
 * One CPU of a litmus execution: program counter, exception level and return state, the 31
 * general registers with the view each value carries (its dependencies), ordering views, the
 * translation context (and a pending one after an MSR until the next context synchronization
 * event, Arm ARM D8.2 / B2.3: an MSR to a translation register takes effect with certainty only
 * after a CSE), its pending TLBIs, and the stores it executed early.
 */
import type { Features, Regs } from "../../arch/registers.js";
import type { PhysMem } from "../../mem/physmem.js";
import { compileRegs, type WalkContext } from "../../walk/context.js";
import { Walker } from "../../walk/walker.js";
import type { CpuProgram, Operand, Reg } from "./program.js";
import type { Stage2Config } from "./stage2.js";
import type { TlbiRecord } from "./tlbi-record.js";
import { Views } from "./views.js";

export interface Context {
  readonly regs: Regs;
  readonly ctx: WalkContext;
  readonly walker: Walker;
}

export function makeContext(mem: PhysMem, regs: Regs, features: Features): Context {
  const ctx = compileRegs({ ...regs, features });
  return { regs, ctx, walker: new Walker(mem, ctx) };
}

export class Thread {
  readonly id: number;
  readonly prog: CpuProgram;
  pc = 0;
  el: 0 | 1;
  inHandler = false;
  /** Exception return state (ELR_EL1 as a line index, and the EL to return to). */
  elr = 0;
  retEl: 0 | 1 = 0;
  done = false;
  readonly x: bigint[] = new Array<bigint>(31).fill(0n);
  readonly xv: number[] = new Array<number>(31).fill(0);
  /** TLBI completions each register's value is ordered after (views.ts). */
  readonly xk: number[] = new Array<number>(31).fill(0);
  readonly views = new Views();
  context: Context;
  /** Context written by an MSR and not yet synchronized: accesses may use either. */
  pendingContext: Context | undefined = undefined;
  readonly tlbis: TlbiRecord[] = [];
  /** Stage-2 translation (undefined: off, VMID 0), and one written to VTTBR_EL2 not yet synchronized. */
  stage2: Stage2Config | undefined;
  pendingStage2: Stage2Config | undefined = undefined;
  /** Store lines executed ahead of program order (not yet reached by pc). */
  readonly early = new Set<number>();
  /** Per VA page ("half:page"): the completed TLBIs an earlier walk of it was after (bitmask; walk-rules rule 4). */
  readonly afterTlbi = new Map<string, number>();
  steps = 0;

  constructor(id: number, prog: CpuProgram, context: Context, stage2: Stage2Config | undefined) {
    this.id = id;
    this.prog = prog;
    this.el = prog.el;
    // SPSR_EL1.M before any exception: an ERET returns to the level the CPU runs at.
    this.retEl = prog.el;
    this.context = context;
    this.stage2 = stage2;
    for (const [r, v] of prog.regs) this.x[r] = v;
  }

  /** Value and view of an operand. */
  val(o: Operand): bigint {
    return o.k === "imm" ? o.v : (this.x[o.r] as bigint);
  }
  view(o: Operand): number {
    return o.k === "imm" ? 0 : (this.xv[o.r] as number);
  }
  viewK(o: Operand): number {
    return o.k === "imm" ? 0 : (this.xk[o.r] as number);
  }
  set(r: Reg, v: bigint, view: number, viewK: number): void {
    this.x[r] = v & 0xffff_ffff_ffff_ffffn;
    this.xv[r] = view;
    this.xk[r] = viewK;
  }

  /** End of the code the CPU is running (main code or handler). */
  get end(): number {
    return this.inHandler ? this.prog.lines.length : this.prog.handlerStart;
  }

  get hasHandler(): boolean {
    return this.prog.handlerStart < this.prog.lines.length;
  }
}
