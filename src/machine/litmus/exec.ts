/**
 * One execution of a litmus program: a sequencer over the parts in this directory. Each step
 * either runs a CPU's next instruction or runs a later store of a CPU early (out of program
 * order, when nothing between orders it: no barrier, dependency, branch or same-location access;
 * Arm ARM B2.3 only orders what the ordering relations order). Every nondeterministic decision —
 * which CPU steps, which write a read or a walk reads — is asked of the `choose` oracle, so an
 * enumerator can try every answer. Instructions with only CPU-local effects (register moves,
 * branches, DMB, ISB, TLBI issue, MSR) run as soon as they are reached: they commute with other
 * CPUs' steps.
 */
import { FAULT_KINDS, FAULT_NONE, FAULT_PERMISSION, type FaultKind } from "../../arch/fault.js";
import type { Features, Regs } from "../../arch/registers.js";
import type { PhysMem } from "../../mem/physmem.js";
import { entryKind } from "../../walk/fields.js";
import { accessCode } from "../../walk/walker.js";
import type { TlbiOp } from "../types.js";
import { alu, rmwValue } from "./alu.js";
import { hardwareUpdate, tableAfUpdate } from "./hw-update.js";
import { type Message, MessageLog } from "./messages.js";
import type { FaultRecord, FinalState } from "./outcome.js";
import type { CpuProgram, Instr, Line } from "./program.js";
import type { ExecEvent, ReadRecord } from "./record.js";
import { earlyStores } from "./reorder.js";
import { type Stage2Config, stage2Faulting, stage2Invalidations, walkStage2 } from "./stage2.js";
import { type Context, makeContext, Thread } from "./thread.js";
import { newTlbi, type TlbiRecord, tlbiAffects } from "./tlbi-record.js";
import type { TraceEntry } from "./trace.js";
import { walkChoosing } from "./walk.js";
import { descriptorAllowed, type Invalidation, type WalkFacts, walkAfter } from "./walk-rules.js";

export interface LitmusOptions {
  /** FEAT_ETS level: 0 (none; 1 is treated as 0, as herd and ID_AA64MMFR1_EL1.ETS do), 2, 3. */
  readonly ets: number;
  readonly faultMode: "fatal" | "skip";
  /** Exception entry (SCTLR.EIS) and return (SCTLR.EOS) are context synchronizing (default true; FEAT_ExS). */
  readonly eis: boolean;
  readonly eos: boolean;
  /** Instructions one CPU may run in one execution (bounds loops). */
  readonly maxSteps: number;
  /** FEAT_HAFT with TCR2_EL1.HAFT=1 (and HA): walks set AF in table descriptors too. */
  readonly haft?: boolean;
}

export interface LitmusSetup {
  readonly mem: PhysMem;
  readonly programs: readonly CpuProgram[];
  /** Translation registers of each CPU. */
  readonly regs: readonly Regs[];
  readonly features: Features;
  readonly options: LitmusOptions;
  /** Stage-2 translation of each CPU (undefined: stage 2 off, VMID 0). */
  readonly stage2?: readonly (Stage2Config | undefined)[];
}

export type ExecResult =
  | { readonly kind: "final"; readonly state: FinalState; readonly trace: readonly TraceEntry[] }
  | { readonly kind: "blocked" | "bounded" | "completion-bound" };

/**
 * Distinct TLBI completions one execution can tell apart (bits of the views' completion sets,
 * views.ts). A later completion would have to share a bit, which orders more than the
 * architecture does and could turn an allowed outcome into a forbidden one: such an execution
 * ends as "completion-bound" and the enumeration is incomplete (inconclusive), never decided.
 */
export const MAX_TLBI_COMPLETIONS = 31;

/** Thrown inside a step when the choices made cannot be a consistent execution. */
class Blocked extends Error {}

/** A stage-2 fault while translating (the access's IPA, or a stage-1 descriptor fetch). */
class Stage2Fault extends Error {
  constructor(readonly fault: number) {
    super("stage 2 fault");
  }
}

const M64 = 0xffff_ffff_ffff_ffffn;

/** Instructions whose effects stay on their CPU. */
function isLocal(t: Thread, ins: Instr): boolean {
  if (ins.i === "ldr" || ins.i === "str" || ins.i === "rmw") return false;
  if (ins.i === "dsb") return t.tlbis.every((x) => x.done !== 0) || ins.kind.endsWith("ST") || ins.kind.endsWith("LD");
  return true;
}

export class LitmusExecution {
  private readonly s: LitmusSetup;
  private readonly choose: (n: number) => number;
  private readonly log: MessageLog;
  private readonly threads: Thread[];
  private readonly tlbis: TlbiRecord[] = [];
  private readonly faults: FaultRecord[] = [];
  /** Completing DSBs so far (each gets the next bit of the views' completion sets, views.ts). */
  private completions = 0;
  /** Per location: the completion sets of reads done so far, by CPU (from-reads, see `write`). */
  private readonly readsK = new Map<number, Map<number, number>>();
  /**
   * From-reads found late: a read with completion set `k` returned a value that another CPU's
   * write at timestamp `ts`, already in the log, overwrites. That write is ordered after the read
   * (B2.3 from-reads), so whatever is ordered after the write is ordered after `k`; views reach
   * the write through timestamps (a view ≥ ts), which `expandK` adds back.
   */
  private readonly lateFre: { readonly ts: number; readonly k: number }[] = [];
  /**
   * Accesses whose walk read a value from before other CPUs' invalidations `bits` (so they may
   * not be ordered after them), with the view (timestamp) they were ordered after: a late
   * from-read that puts those bits before a write such an access is ordered after makes the
   * execution inconsistent.
   */
  private readonly beforeMarks: { readonly view: number; readonly bits: number }[] = [];
  /** The execution as Machine steps (trace.ts), in execution order. */
  readonly trace: TraceEntry[] = [];
  /** When given: every instruction run, with what it read and from which write (record.ts). */
  private readonly record: ExecEvent[] | undefined;

  constructor(s: LitmusSetup, choose: (n: number) => number, record?: ExecEvent[]) {
    this.s = s;
    this.choose = choose;
    this.record = record;
    const mem = s.mem;
    this.log = new MessageLog((pa) => (mem.load64(pa) ? (BigInt(mem.hi >>> 0) << 32n) | BigInt(mem.lo >>> 0) : 0n));
    this.threads = s.programs.map((p, i) => new Thread(i, p, makeContext(mem, s.regs[i] as Regs, s.features), s.stage2?.[i]));
  }

  run(): ExecResult {
    try {
      for (const t of this.threads) this.runLocal(t);
      for (;;) {
        const opts: { t: Thread; j: number }[] = [];
        for (const t of this.threads) {
          if (t.done) continue;
          opts.push({ t, j: t.pc });
          for (const j of earlyStores(t.prog.lines, t.pc, t.end, t.early, t)) opts.push({ t, j });
        }
        if (opts.length === 0) break;
        const o = opts[this.choose(opts.length)] as { t: Thread; j: number };
        if (o.j === o.t.pc) this.exec(o.t);
        else this.runEarly(o.t, o.j);
        this.runLocal(o.t);
        if (o.t.steps > this.s.options.maxSteps) return { kind: "bounded" };
        if (this.completions > MAX_TLBI_COMPLETIONS) return { kind: "completion-bound" };
      }
    } catch (e) {
      if (e instanceof Blocked) return { kind: "blocked" };
      throw e;
    }
    const log = this.log;
    return {
      kind: "final",
      state: { regs: this.threads.map((t) => [...t.x]), mem: log.written(), faults: this.faults, read: (pa) => log.final(pa) },
      trace: this.trace,
    };
  }

  // ------------------------------------------------------------------ scheduling

  private runLocal(t: Thread): void {
    for (;;) {
      if (t.done) return;
      if (t.pc >= t.end) {
        t.done = true;
        return;
      }
      if (t.early.has(t.pc)) {
        t.early.delete(t.pc);
        t.pc++;
        continue;
      }
      const line = t.prog.lines[t.pc] as Line;
      if (!isLocal(t, line.instr)) return;
      this.exec(t);
      if (t.steps > this.s.options.maxSteps) return;
    }
  }

  private runEarly(t: Thread, j: number): void {
    const ins = (t.prog.lines[j] as Line).instr;
    if (ins.i !== "str") return;
    t.early.add(j);
    this.note(t, j, true);
    this.access(t, j, ins);
  }

  // ------------------------------------------------------------------ instructions

  private exec(t: Thread): void {
    const j = t.pc;
    const line = t.prog.lines[j] as Line;
    const ins = line.instr;
    t.steps++;
    t.pc = j + 1;
    this.note(t, j, false);
    const v = t.views;
    switch (ins.i) {
      case "ldr":
      case "str":
      case "rmw":
        this.access(t, j, ins);
        return;
      case "mov":
        t.set(ins.rd, t.val(ins.src), t.view(ins.src), t.viewK(ins.src));
        return;
      case "alu":
        t.set(
          ins.rd,
          alu(ins.op, t.x[ins.rn] as bigint, t.val(ins.src)),
          Math.max(t.xv[ins.rn] as number, t.view(ins.src)),
          (t.xk[ins.rn] as number) | t.viewK(ins.src),
        );
        return;
      case "cbz":
      case "cbnz": {
        v.branch(t.xv[ins.rn] as number, t.xk[ins.rn] as number);
        const zero = t.x[ins.rn] === 0n;
        if (zero === (ins.i === "cbz")) t.pc = ins.target;
        return;
      }
      case "b":
        t.pc = ins.target;
        return;
      case "dmb":
        v.dmb(ins.kind);
        this.trace.push({ cpu: t.id, step: line.step, op: { k: "dmb", kind: ins.kind } });
        return;
      case "dsb": {
        let done = 0;
        let bit = 0;
        if (!ins.kind.endsWith("ST") && !ins.kind.endsWith("LD")) {
          const pend = t.tlbis.filter((x) => x.done === 0);
          if (pend.length > 0) {
            done = this.log.tick();
            bit = 1 << Math.min(this.completions++, MAX_TLBI_COMPLETIONS - 1);
            for (const x of pend) {
              x.done = done;
              x.bit = bit;
              x.localOnly = ins.kind.startsWith("NSH");
            }
          }
        }
        v.dsb(ins.kind, this.s.options.ets, done, bit);
        this.trace.push({ cpu: t.id, step: line.step, op: { k: "dsb", kind: ins.kind } });
        return;
      }
      case "isb":
        this.contextSync(t);
        return;
      case "tlbi": {
        const rec = newTlbi(t.id, ins.op, t.val(ins.operand), t.context.ctx, v.tlbiOrd, v.tlbiOrdK, this.vmidOf(t));
        t.tlbis.push(rec);
        this.tlbis.push(rec);
        if (rec.cls === "stage1")
          this.trace.push({ cpu: t.id, step: line.step, op: { k: "tlbi", op: ins.op as TlbiOp, operand: t.val(ins.operand) } });
        return;
      }
      case "msr": {
        if (ins.reg === "VTTBR_EL2") {
          const x = t.val(ins.src);
          t.pendingStage2 = { root: Number(x & 0xffff_ffff_fffen), vmid: Number(x >> 48n) };
          return;
        }
        const base = (t.pendingContext ?? t.context).regs;
        const field = ({ TTBR0_EL1: "ttbr0", TTBR1_EL1: "ttbr1", TCR_EL1: "tcr", MAIR_EL1: "mair", SCTLR_EL1: "sctlr" } as const)[
          ins.reg as "TTBR0_EL1"
        ];
        if (field === undefined) return;
        this.trace.push({ cpu: t.id, step: line.step, op: { k: "msr", reg: ins.reg, value: t.val(ins.src) } });
        t.pendingContext = makeContext(this.s.mem, { ...base, [field]: t.val(ins.src) }, this.s.features);
        return;
      }
      case "svc":
        if (t.hasHandler && !t.inHandler) this.takeException(t, j + 1);
        else {
          // No handler steps: the exception is taken and returns at once (entry, then ERET).
          if (this.s.options.eis) this.contextSync(t);
          if (this.s.options.eos) this.contextSync(t);
        }
        return;
      case "eret":
        t.pc = ins.target ?? t.elr;
        t.el = t.retEl;
        t.inHandler = false;
        if (this.s.options.eos) this.contextSync(t);
        return;
      case "nop":
        return;
    }
  }

  /** ISB, exception entry or return: views (views.ts) and the pending translation context. */
  private contextSync(t: Thread): void {
    const line = t.prog.lines[Math.max(0, t.pc - 1)];
    this.trace.push({ cpu: t.id, step: line?.step ?? 0, op: { k: "isb" } });
    t.views.contextSync();
    if (t.pendingContext !== undefined) {
      t.context = t.pendingContext;
      t.pendingContext = undefined;
    }
    if (t.pendingStage2 !== undefined) {
      t.stage2 = t.pendingStage2;
      t.pendingStage2 = undefined;
    }
  }

  private takeException(t: Thread, ret: number): void {
    t.elr = ret;
    t.retEl = t.el;
    t.el = 1;
    t.inHandler = true;
    t.pc = t.prog.handlerStart;
    if (this.s.options.eis) this.contextSync(t);
  }

  private vmidOf(t: Thread): number {
    return t.stage2?.vmid ?? 0;
  }

  private fault(t: Thread, j: number, va: bigint, kind: FaultKind, stage: 1 | 2 = 1): void {
    // A store run early is a promise that the instructions before it complete: a fault before
    // it breaks the promise, so this execution cannot happen.
    for (const e of t.early) if (e > j) throw new Blocked();
    const line = t.prog.lines[j] as Line;
    this.faults.push({ cpu: t.id, line: j, label: line.label, step: line.step, va, kind, stage });
    if (t.hasHandler && !t.inHandler) this.takeException(t, j);
    else if (this.s.options.faultMode === "skip") t.pc = j + 1;
    else t.done = true;
  }

  /**
   * Append a write of CPU `cpu` ordered after completions `k`. It is also ordered after what
   * other CPUs' writes coherence-before it and their reads of an older value were (Arm ARM B2.3:
   * coherence-after and from-reads, external, are in ordered-before; herd obs = rfe | coe | fre),
   * so a later reader of it is ordered after those completions too.
   */
  private write(pa: number, value: bigint, cpu: number, po: number, hw: boolean, k: number): Message {
    let kk = k;
    for (const x of this.log.at(pa)) if (x.cpu !== cpu) kk |= x.k;
    for (const [c, rk] of this.readsK.get(pa) ?? []) if (c !== cpu) kk |= rk;
    return this.log.append(pa, value, cpu, po, hw, kk);
  }

  /** Completion set of a view with timestamp `view` and set `k`, with the late from-reads it is after. */
  private expandK(view: number, k: number): number {
    let kk = k;
    for (const e of this.lateFre) if (e.ts <= view) kk |= e.k;
    return kk;
  }

  private note(t: Thread, j: number, early: boolean): void {
    if (this.record) this.record.push({ cpu: t.id, line: j, step: (t.prog.lines[j] as Line).step, early, reads: [] });
  }

  /** Records a read of message `m` on the instruction being run (only when recording). */
  private noteRead(kind: ReadRecord["kind"], stage: 1 | 2, level: number, m: Message): void {
    const ev = this.record?.[this.record.length - 1];
    if (!ev) return;
    const w = m.cpu < 0 ? undefined : this.threads[m.cpu];
    const from: ReadRecord["from"] =
      m.cpu < 0 || !w
        ? { kind: "initial" }
        : m.po < 0
          ? { kind: "hardware", cpu: m.cpu }
          : { kind: "store", cpu: m.cpu, line: m.po, step: (w.prog.lines[m.po] as Line).step };
    ev.reads.push({ kind, stage, level, pa: m.pa, value: m.value, from });
  }

  private pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Blocked();
    return xs[xs.length === 1 ? 0 : this.choose(xs.length)] as T;
  }

  /**
   * The write a walk's read of descriptor `dpa` returns, chosen among those walk-rules.ts allows
   * (`rules(m)`: the invalidations that cover the read if it returns `m`, and whether `m` faults).
   */
  private chooseDescriptor(
    dpa: number,
    facts: WalkFacts,
    rules: (m: Message) => { readonly invs: readonly Invalidation[]; readonly faulting: boolean },
  ): { m: Message; before: number; after: number } {
    const ok: { m: Message; before: number; after: number }[] = [];
    for (const m of this.log.at(dpa)) {
      const { invs, faulting } = rules(m);
      const res = descriptorAllowed(this.log, invs, facts, m, faulting);
      if (res !== undefined) ok.push({ m, before: res.before, after: walkAfter(invs, facts, m) });
    }
    return this.pick(ok);
  }

  /**
   * The write a stage-1 descriptor read at PA `dpa` (level `level`) returns: by walk-rules.ts,
   * with the stage-1 TLBIs that cover the entry the value would make; `note(before, after)`
   * receives the invalidation bits the choice is before / certainly after.
   */
  private pickS1(
    dpa: number,
    level: number,
    facts: WalkFacts,
    h: Context["ctx"]["halves"][0],
    half: number,
    vaOff: number,
    vmid: number,
    ctx: Context,
    t: Thread,
    note: (before: number, after: number) => void,
  ): Message {
    const c = this.chooseDescriptor(dpa, facts, (m) => {
      const dlo = Number(m.value & 0xffffffffn);
      const kind = entryKind(h, dlo, level);
      const span = 2 ** (h.shiftAt[level + 1] as number);
      const global = kind === 2 && (dlo & 0x800) === 0;
      return {
        invs: this.tlbis.filter((x) => tlbiAffects(x, t.id, vmid, half, h.iaBits, vaOff, span, h.asid, global, kind !== 1)),
        faulting: kind === 0 || (kind === 2 && (dlo & 0x400) === 0 && !ctx.ctx.ha),
      };
    });
    note(c.before, c.after);
    this.noteRead("walk", 1, level, c.m);
    return c.m;
  }

  /** A load, store or atomic at line `j`: translate (choosing the descriptors read), then read and/or write. */
  private access(t: Thread, j: number, ins: Extract<Instr, { i: "ldr" | "str" | "rmw" }>): void {
    const v = t.views;
    const opts = this.s.options;
    const a = ins.addr;
    const addrValue = (t.val(a.base) + (a.index !== undefined ? (t.x[a.index] as bigint) : 0n)) & M64;
    const vAddr = Math.max(t.view(a.base), a.index !== undefined ? (t.xv[a.index] as number) : 0);
    const vAddrK = t.viewK(a.base) | (a.index !== undefined ? (t.xk[a.index] as number) : 0);
    const isRead = ins.i !== "str";
    const isWrite = ins.i !== "ldr";
    const acq = ins.i === "ldr" ? ins.acq : ins.i === "rmw" && ins.acq ? "A" : "";
    const rel = ins.i === "str" ? ins.rel : ins.i === "rmw" ? ins.rel : false;
    const vData = ins.i === "str" ? t.view(ins.src) : ins.i === "rmw" ? (t.xv[ins.rs] as number) : 0;
    const vDataK = ins.i === "str" ? t.viewK(ins.src) : ins.i === "rmw" ? (t.xk[ins.rs] as number) : 0;
    const pre = isWrite && !isRead ? v.writePre(rel, vAddr, vData) : v.readPre(acq, vAddr);
    const preK = isWrite && !isRead ? v.writePreK(rel, vAddrK, vDataK) : v.readPreK(acq, vAddrK);
    let pa: number;
    let walkObs = 0;
    /** The walk's view (0 for an access by PA). */
    let walkViewAll = 0;
    let walkObsK = 0;
    /** Completions of other CPUs' invalidations the walk read before (the access must not be ordered after them). */
    let before = 0;
    const step = (t.prog.lines[j] as Line).step;
    if (a.space === "pa") {
      pa = Number(addrValue & ~7n);
    } else {
      const type = ins.i === "ldr" ? (ins.exec ? "fetch" : "load") : "store";
      const value = ins.i === "str" ? t.val(ins.src) : undefined;
      this.trace.push({
        cpu: t.id,
        step,
        op: { k: "access", type, va: addrValue, el: t.el, ...(value !== undefined ? { value } : {}) },
      });
      let ctx: Context = t.context;
      if (t.pendingContext !== undefined && this.choose(2) === 1) ctx = t.pendingContext;
      const w = ctx.walker;
      const acc = accessCode({ type: ins.i === "ldr" ? (ins.exec ? "exec" : "read") : "write", el: t.el });
      const hi = Number(addrValue >> 32n);
      const lo = Number(addrValue & 0xffffffffn);
      const walkView = Math.max(v.walk, vAddr);
      const walkK = v.walkK | vAddrK;
      walkViewAll = walkView;
      const faultView = opts.ets >= 2 ? Math.max(walkView, v.rOld, v.wOld) : walkView;
      const half = (hi >>> 23) & 1;
      const h = ctx.ctx.halves[half === 1 ? 1 : 0];
      const vaOff = Number(addrValue % 2n ** BigInt(h.iaBits));
      const pageKey = `${half}:${Math.floor(vaOff / 4096)}`;
      let afterK = t.afterTlbi.get(pageKey) ?? 0;
      // After an MSR VTTBR_EL2 and before the next CSE either stage-2 context (and VMID) may be used.
      const s2 = t.pendingStage2 !== undefined && this.choose(2) === 1 ? t.pendingStage2 : t.stage2;
      const vmid = s2?.vmid ?? 0;
      const facts: WalkFacts = {
        cpu: t.id,
        po: j,
        walkView,
        faultView,
        walkK: this.expandK(walkView, walkK),
        accessPreK: this.expandK(pre, preK),
        afterK,
      };
      // Stage 2 of one IPA (`tableRead`: a stage-1 descriptor fetch, else the access's output),
      // choosing each stage-2 descriptor read; a fault is thrown as Stage2Fault.
      const s2walk = (cfg: Stage2Config, ipa: number, write: boolean, tableRead: boolean): number => {
        const key2 = `s2:${Math.floor(ipa / 4096)}`;
        let after2 = t.afterTlbi.get(key2) ?? 0;
        const facts2: WalkFacts = { ...facts, afterK: after2 };
        // Combined stage-1+2 entries go only with a stage-1 TLBI after the IPA one (stage2.ts). For a
        // descriptor fetch those are walk-cache entries holding the next table's translated
        // address, so the stage-1 TLBI must reach table entries (not a last-level one).
        const covers = (x: TlbiRecord): boolean => tlbiAffects(x, t.id, vmid, half, h.iaBits, vaOff, 4096, h.asid, true, !tableRead);
        const o = walkStage2(cfg, ipa, write, (dpa, level, span) => {
          const invs = stage2Invalidations(this.tlbis, t.id, vmid, ipa, span, covers);
          const c = this.chooseDescriptor(dpa, facts2, (m) => ({ invs, faulting: stage2Faulting(m.value, level) }));
          before |= c.before;
          after2 |= c.after;
          this.noteRead("walk", 2, level, c.m);
          return c.m;
        });
        if (o === undefined) throw new Blocked();
        if (after2 !== 0) t.afterTlbi.set(key2, after2);
        for (const x of o.reads) {
          if (x.msg.cpu === t.id) continue;
          walkObs = Math.max(walkObs, x.msg.ts);
          walkObsK |= x.msg.k;
        }
        if (o.fault !== FAULT_NONE) throw new Stage2Fault(o.fault);
        return o.pa;
      };
      // Stage-1 descriptor addresses are IPAs when stage 2 is on: each fetch is translated by
      // stage 2 first (Arm ARM D8.2 "stage 1 translation table walks are subject to stage 2";
      // ASL AArch64.S1Walk). `tablePa` maps the IPA the walker used to the PA read.
      const tablePa = new Map<number, number>();
      let r: ReturnType<typeof walkChoosing>;
      try {
        r = walkChoosing(w, this.s.mem, hi, lo, acc, (ipa, level) => {
          let dpa = ipa;
          if (s2 !== undefined) {
            dpa = s2walk(s2, ipa - (ipa % 8), false, true) + (ipa % 8);
            tablePa.set(ipa, dpa);
          }
          return this.pickS1(dpa, level, facts, h, half, vaOff, vmid, ctx, t, (b, a) => {
            before |= b;
            afterK |= a;
          });
        });
      } catch (e) {
        if (!(e instanceof Stage2Fault)) throw e;
        this.fault(t, j, addrValue, FAULT_KINDS[e.fault] as FaultKind, 2);
        return;
      }
      if (r === undefined) throw new Blocked();
      const paOf = (ipa: number): number => tablePa.get(ipa) ?? ipa;
      if (afterK !== 0) t.afterTlbi.set(pageKey, afterK);
      // FEAT_ETS3: a Permission fault is ordered like a Translation fault (herd -variant ets3).
      if (r.fault === FAULT_PERMISSION && opts.ets >= 3) {
        for (const x of r.reads) if (!this.log.notOverwrittenBy(x.msg, faultView)) throw new Blocked();
      }
      // herd TTD-obs: a write from another CPU read by the walk is ordered before the access.
      for (const x of r.reads) {
        if (x.msg.cpu === t.id) continue;
        walkObs = Math.max(walkObs, x.msg.ts);
        walkObsK |= x.msg.k;
      }
      if (r.fault !== FAULT_NONE) {
        this.fault(t, j, addrValue, FAULT_KINDS[r.fault] as FaultKind);
        return;
      }
      pa = r.pa;
      if (s2 !== undefined) {
        try {
          pa = s2walk(s2, r.pa, isWrite, false);
        } catch (e) {
          if (!(e instanceof Stage2Fault)) throw e;
          this.fault(t, j, addrValue, FAULT_KINDS[e.fault] as FaultKind, 2);
          return;
        }
      }
      // FEAT_HAFT: the walk sets AF (bit 10) in each table descriptor it used, atomically (hw-update.ts).
      if (opts.haft && ctx.ctx.ha) {
        for (const x of r.reads.slice(0, -1)) {
          const nv = tableAfUpdate(x.msg.value);
          if (nv === undefined) continue;
          if (this.log.latest(paOf(x.pa)) !== x.msg) throw new Blocked();
          const hu = this.write(paOf(x.pa), nv, t.id, -1, true, walkK | preK);
          v.hu = Math.max(v.hu, hu.ts);
          v.huK |= hu.k;
        }
      }
      const upd = hardwareUpdate(ctx.ctx, r.leafHi, r.leafLo, isWrite);
      if (upd !== undefined) {
        const leaf = r.reads[r.reads.length - 1];
        if (leaf === undefined || this.log.latest(paOf(leaf.pa)) !== leaf.msg) throw new Blocked();
        const hu = this.write(paOf(leaf.pa), upd, t.id, -1, true, walkK | preK);
        v.hu = Math.max(v.hu, hu.ts);
        v.huK |= hu.k;
      }
      pa -= pa % 8;
    }
    const pre2 = Math.max(pre, walkObs);
    const pre2K = preK | walkObsK;
    let old = 0n;
    let post = pre2;
    let postK = pre2K;
    if (isRead) {
      let m: Message;
      if (isWrite)
        m = this.log.latest(pa); // atomic: nothing between the read and the write (B2.2.x single-copy atomicity of LSE)
      else {
        const view = Math.max(pre2, v.cohOf(pa));
        m = this.pick(this.log.at(pa).filter((x) => this.log.notOverwrittenBy(x, view) && !(x.cpu === t.id && x.po > j)));
      }
      old = m.value;
      this.noteRead("data", 1, -1, m);
      post = Math.max(pre2, m.ts);
      postK = pre2K | m.k;
      v.readDone(pa, post, vAddr, acq !== "", postK, vAddrK);
      if (!isWrite) {
        const full = this.expandK(post, postK);
        for (const x of this.log.at(pa)) {
          if (x.ts <= m.ts || x.cpu === t.id || (full & ~x.k) === 0) continue;
          for (const b of this.beforeMarks) if (b.view >= x.ts && (b.bits & full) !== 0) throw new Blocked();
          this.lateFre.push({ ts: x.ts, k: full });
        }
      }
      const rk = this.readsK.get(pa) ?? new Map<number, number>();
      this.readsK.set(pa, rk);
      rk.set(t.id, (rk.get(t.id) ?? 0) | postK);
    }
    // A walk before another CPU's TLBI: the access that used it must not be ordered after that TLBI.
    if (before !== 0) {
      if ((this.expandK(post, postK) & before) !== 0) throw new Blocked();
      this.beforeMarks.push({ view: Math.max(post, walkViewAll), bits: before });
    }
    if (ins.i === "ldr") {
      if (ins.rt !== undefined) t.set(ins.rt, old, post, postK);
      return;
    }
    if (ins.i === "str") {
      if (a.space === "pa")
        this.trace.push({ cpu: t.id, step, op: { k: "store-pa", pa: BigInt(pa), value: t.val(ins.src), release: rel } });
      const m = this.write(pa, t.val(ins.src), t.id, j, false, pre2K);
      v.writeDone(pa, m.ts, vAddr, rel, m.k, vAddrK);
      return;
    }
    const s = t.x[ins.op === "cas" ? ins.rt : ins.rs] as bigint;
    const doWrite = ins.op !== "cas" || old === (t.x[ins.rs] as bigint);
    if (doWrite) {
      const nv = rmwValue(ins.op, old, s);
      if (a.space === "pa") this.trace.push({ cpu: t.id, step, op: { k: "store-pa", pa: BigInt(pa), value: nv, release: rel } });
      // The write half is ordered like a store: after its data/address dependencies and barriers.
      const m = this.write(pa, nv, t.id, j, false, postK | v.writePreK(rel, vAddrK, vDataK));
      v.writeDone(pa, m.ts, vAddr, rel, m.k, vAddrK);
    }
    t.set(ins.op === "cas" ? ins.rs : ins.rt, old, post, postK);
  }
}
