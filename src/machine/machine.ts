/**
 * The machine model: N CPUs sharing physical memory, each with its own EL1&0 system registers
 * and its own TLB, executing page-table stores, barriers, TLB maintenance and accesses, with a
 * checker that reports every architectural rule a sequence breaks.
 *
 * ## Public API (stable; the kernel library builds on it)
 *
 * ```ts
 * const m = new Machine({ cpus: 2, mem, bbmLevel: 0, regs: presetByName("linux-4k-48").regs });
 * m.msr(cpu, "TTBR1_EL1", value)            // also TTBR0_EL1, TCR_EL1, MAIR_EL1, SCTLR_EL1
 * m.store64(cpu, pa, value)                 // 64-bit store to a PA (descriptor writes)
 * m.storeRelease(cpu, pa, value)            // STLR (treated as a store; see "Ordering")
 * m.load(cpu, va, el?) / m.store(cpu, va, el?, value?) / m.fetch(cpu, va, el?)  → AccessResult
 * m.at(cpu, "S1E1R", va)                    // sets PAR_EL1, returns AccessResult
 * m.dsb(cpu, "ISH") / m.dmb(cpu, "ISH") / m.isb(cpu)
 * m.tlbi(cpu, "VAE1IS", operand?)           // operand as the Xt register value (tlbiVa() builds it)
 * m.dc(cpu, "CIVAC", va) / m.ic(cpu, "IALLU")
 * m.protect(cpu, pa, size) / m.unprotect(cpu, pa, size)
 * m.setMemory(pa, hi, lo)                  // content written while no CPU walks it (not a step)
 * m.finish()                                // end-of-run checks (pending contiguous groups)
 * m.reports: Violation[]   m.steps: StepRecord[]   m.cpu(i).regs
 * ```
 * Numeric hot-path forms (no BigInt): `storeRaw(cpu, pa, hi, lo)`, `accessRaw(cpu, vaHi, vaLo,
 * accessCode)`, `tlbiRaw(cpu, op, opHi, opLo)`.
 * Every method is one step; steps are numbered from 1 in call order. Memory the machine walks
 * must change only through it (stores, or setMemory): the table index caches which entries of a
 * table point further.
 *
 * ## TLB model (may-cache, reference vmsa-rules.md §5.3)
 * A CPU's TLB *may* hold any valid (AF=1) leaf or table (walk-cache) entry reachable from its
 * TTBRs since that entry was last invalidated. We keep what memory says now implicit (walks
 * over PhysMem with the walker) and materialize only the difference: when a store changes a
 * descriptor that some CPU can reach, the old value becomes a "stale entry" on that CPU (a
 * leaf, or a walk-cache root through which the old subtree stays reachable). A per-frame index
 * of table pages (rebuilt only when a table descriptor or a register changes) maps a stored
 * PA to the (CPU, VA, level) it translates, so nothing enumerates VAs.
 * Stale entries leave on TLBI (matching VA, ASID/global, level filter for last-level ops,
 * TTL hint) only once the TLBI is complete: at a later DSB (not *ST) of the issuing CPU, and
 * for the issuing CPU only at its next ISB. ASIDE1 never removes global entries.
 *
 * ## Ordering
 * A descriptor store is visible to walkers only after a DSB of the storing CPU (and, for the
 * storing CPU itself, an ISB): until then a walk may read the old value. A store made with
 * the data cache off while walks are cacheable (or the reverse) additionally needs DC
 * IVAC/CIVAC (CVAC/CIVAC) on the line. DMB and store-release do not order walks (we treat
 * them as plain ordering of data accesses). MSR to translation registers takes effect with
 * certainty only at the next ISB; until then both old and new contexts may be used.
 */

import { HI_CONT } from "../arch/bits.js";
import { VmsaError } from "../arch/errors.js";
import { FAULT_NONE, FAULT_TRANSLATION } from "../arch/fault.js";
import { FEATURES_MAX, type Features, presetByName, type Regs } from "../arch/registers.js";
import { hex } from "../arch/u64.js";
import { PhysMem } from "../mem/physmem.js";
import { compileRegs, type WalkContext } from "../walk/context.js";
import { entryKind } from "../walk/fields.js";
import { AT_OPS, type AtOp, accessCode, Walker } from "../walk/walker.js";
import { contextHoldsGlobal } from "./context-globals.js";
import { Cpu, type CpuRegs } from "./cpu.js";
import { MaySee, offIn } from "./may-see.js";
import {
  applyDc,
  completeStores,
  dcNeedOf,
  type OverlayMem,
  overlayOf,
  PendingByPa,
  type PendingStore,
  retireVisibleStores,
} from "./ordering.js";
import { type Alt, describeAlt, differs, outcomeOf } from "./outcomes.js";
import { hx, Reporter, vaOf } from "./report.js";
import { checkLiveBbm } from "./rules/bbm.js";
import { ContiguousRule } from "./rules/contiguous.js";
import { reportFreedTableReuse } from "./rules/freed-table-reuse.js";
import { checkMakeAfterBreak } from "./rules/make-after-break.js";
import { reportUnsynchronizedStore } from "./rules/missing-barrier.js";
import { checkMappedAfterProtect, checkReachOnProtect, type ProtectedRange } from "./rules/protected-reach.js";
import { readOnlySwapOfEqualPages } from "./rules/readonly-swap.js";
import { reportStaleOutcome } from "./rules/stale-translation.js";
import { checkTlbConflict } from "./rules/tlb-conflict.js";
import { checkWx } from "./rules/wx.js";
import { PaSteps } from "./step-log.js";
import { TableIndex, type TableIndexSeed, type TableUse } from "./table-index.js";
import {
  bigOf,
  completeTlbis,
  dropRemoved,
  noteMiss,
  retireAtIsb,
  ST_AWAIT_ISB,
  ST_LIVE,
  ST_TLBI_ISSUED,
  type StaleEntry,
  type StaleEntryInfo,
  sameContext,
  staleEntryInfo,
} from "./tlb.js";
import { contextEntry, staleFromStore } from "./tlb-fill.js";
import { newScope, parseTlbiOp, tlbiMatch, tlbiScopeInto } from "./tlbi-op.js";
import type { AccessResult, DcOp, DsbKind, IcOp, Outcome, StepRecord, SysReg, TlbiOp, Violation } from "./types.js";

export * from "./bbm.js";
export type { CpuRegs } from "./cpu.js";
export * from "./rules.js";
export type { StaleEntryInfo } from "./tlb.js";
export { tlbiRange, tlbiVa } from "./tlbi-op.js";
export * from "./types.js";

export interface MachineOptions {
  /** Number of CPUs, 1..64. */
  readonly cpus: number;
  /** Shared physical memory (a new empty one when omitted). */
  readonly mem?: PhysMem;
  /** FEAT_BBM level (ID_AA64MMFR2_EL1.BBM): 0, 1, 2; 3 = level 2 without TLB conflict aborts. */
  readonly bbmLevel?: number;
  /** Initial registers of every CPU (default: the linux-4k-48 preset with TTBRs 0 and the MMU on). */
  readonly regs?: Regs;
  /** Per-CPU register overrides. */
  readonly cpuRegs?: readonly (Partial<Omit<Regs, "features">> | undefined)[];
  readonly features?: Features;
  /** Record step texts for traces (default true; benchmarks turn it off). */
  readonly recordSteps?: boolean;
  /**
   * The table index of another machine's initial state (`initialTableIndex()`), over this same
   * memory in the same state and the same registers: the tables are then not walked again. Used
   * only when the CPUs' roots match; otherwise the index is built as usual.
   */
  readonly tableIndexSeed?: TableIndexSeed;
}

export interface TlbSnapshot {
  readonly stale: readonly StaleEntryInfo[];
  /** This CPU's descriptor stores walkers may not observe yet (needsDc: 1 clean, 2 invalidate). */
  readonly pending: readonly { pa: number; old: bigint; step: number; completeStep: number; needsDc: number }[];
}

export class MachineError extends VmsaError {
  constructor(message: string) {
    super("EMACHINE", message);
    this.name = "MachineError";
  }
}

export class Machine {
  readonly mem: PhysMem;
  readonly bbmLevel: number;
  readonly features: Features;
  readonly reports: Violation[] = [];
  readonly steps: StepRecord[] = [];
  /** Called for every new report (after it is appended to `reports`). */
  onReport: ((v: Violation) => void) | undefined;
  private readonly cpus: Cpu[];
  private readonly recordSteps: boolean;
  private stepNo = 0;
  private nextId = 1;
  private readonly pending = new PendingByPa();
  private readonly lastWriter = new PaSteps();
  /**
   * Per 8-byte location set by `setMemory` with a new value: one more than the step it came after.
   * Content written while no CPU's current tables reached it (a recorded guest's reused table
   * page) was written after every context that reached it earlier had been switched out.
   */
  private readonly unseenWrite = new PaSteps();
  private readonly index: TableIndex;
  private readonly rep: Reporter;
  private readonly cont: ContiguousRule;
  private readonly protectedRanges: ProtectedRange[] = [];
  private readonly overlay: OverlayMem;
  private readonly maySee: MaySee;
  private staleCount = 0;
  /** The store being judged (set by doStore; the checks below read it instead of long parameter lists). */
  private readonly st = { cpu: 0, step: 0, pa: 0, ohi: 0, olo: 0, hi: 0, lo: 0, prevWriter: 0, prevWritten: 0 };
  /** liveStore's (VA, half/level) pairs already judged for the current store (reused: no allocation per store). */
  private readonly checked: number[] = [];
  /** The scope of the TLBI being applied (filled per TLBI, read only within tlbiRaw). */
  private readonly scope = newScope();
  /** The entry checkLiveChange judges (half, VA offset), read by `liveVa` (one closure for the machine, not one per store). */
  private liveHalf: TableUse["root"]["half"] | undefined;
  private liveVaOff = 0;
  private readonly liveVa = (): bigint => vaOf(this.liveHalf as TableUse["root"]["half"], this.liveVaOff);

  constructor(opts: MachineOptions) {
    if (!Number.isInteger(opts.cpus) || opts.cpus < 1 || opts.cpus > 64) {
      throw new MachineError(`machine: cpus must be an integer 1..64 (got ${opts.cpus})`);
    }
    const bbm = opts.bbmLevel ?? 0;
    if (![0, 1, 2, 3].includes(bbm)) throw new MachineError(`machine: bbmLevel must be 0, 1, 2 or 3 (got ${bbm})`);
    this.bbmLevel = bbm;
    this.mem = opts.mem ?? new PhysMem();
    this.overlay = overlayOf(this.mem);
    this.rep = new Reporter(this.steps, (v) => {
      this.reports.push(v);
      this.onReport?.(v);
    });
    this.cont = new ContiguousRule(this.mem, this.rep);
    this.maySee = new MaySee(this.pending, this.overlay, this.lastWriter);
    this.recordSteps = opts.recordSteps ?? true;
    const base = opts.regs ?? presetByName("linux-4k-48").regs;
    this.features = opts.features ?? base.features ?? FEATURES_MAX;
    this.cpus = [];
    for (let i = 0; i < opts.cpus; i++) {
      const o = opts.cpuRegs?.[i] ?? {};
      const c = new Cpu(i, {
        ttbr0: o.ttbr0 ?? base.ttbr0,
        ttbr1: o.ttbr1 ?? base.ttbr1,
        tcr: o.tcr ?? base.tcr,
        mair: o.mair ?? base.mair,
        sctlr: o.sctlr ?? base.sctlr,
        par: 0n,
      });
      this.compileCpu(c);
      this.cpus.push(c);
    }
    this.index = new TableIndex(this.mem, this.cpus, (pa) => this.writtenAt(pa));
    if (opts.tableIndexSeed !== undefined) this.index.useSeed(opts.tableIndexSeed);
  }

  /** Step after which the value at `pa` was written: its last store, or later content set by setMemory. */
  private writtenAt(pa: number): number {
    return Math.max(this.lastWriter.get(pa) ?? 0, this.unseenWrite.get(pa) ?? 0);
  }

  /** The table index of this machine's state before its first step (see MachineOptions.tableIndexSeed); undefined once it has run. */
  initialTableIndex(): TableIndexSeed | undefined {
    return this.stepNo === 0 ? this.index.seed() : undefined;
  }

  get cpuCount(): number {
    return this.cpus.length;
  }

  /** Read-only view of a CPU's registers and context. */
  cpu(i: number): { readonly regs: Readonly<CpuRegs>; readonly ctx: WalkContext } {
    return this.cpuAt(i);
  }

  /** Number of stale entries CPU `i` may hold (for tests and UIs). */
  staleEntries(i: number): number {
    return this.cpuAt(i).stale.length;
  }

  /**
   * Plain-data view of what CPU `i` may still use although memory or its registers no longer say
   * so: stale TLB / walk-cache / old-context entries, and its descriptor stores that walkers may
   * not see yet (for UIs; the browser scenario stepper shows it per step).
   */
  tlbSnapshot(i: number): TlbSnapshot {
    const c = this.cpuAt(i);
    return {
      stale: c.stale.map(staleEntryInfo),
      pending: c.pending.map((r) => ({
        pa: r.pa,
        old: bigOf(r.oldHi, r.oldLo),
        step: r.step,
        completeStep: r.completeStep,
        needsDc: r.needsDc,
      })),
    };
  }

  private cpuAt(i: number): Cpu {
    const c = this.cpus[i];
    if (c === undefined) throw new MachineError(`machine: no CPU ${i} (have ${this.cpus.length})`);
    return c;
  }

  private compileCpu(c: Cpu): void {
    const regs: Regs = { ...c.regs, features: this.features };
    c.ctx = compileRegs(regs);
    c.walker = new Walker(this.mem, c.ctx);
    // Data accesses are cacheable with the MMU and SCTLR.C on; walks per TCR.IRGNn.
    const storeCacheable = c.ctx.mmuOn && (c.regs.sctlr & 4n) !== 0n;
    const walkCacheable = c.ctx.halves[0].tcr.irgn !== 0 || c.ctx.halves[1].tcr.irgn !== 0;
    c.dcNeed = dcNeedOf(storeCacheable, walkCacheable);
    c.roots = [];
    if (!c.ctx.mmuOn) return;
    for (const h of c.ctx.halves) {
      if (h.epd || h.tnszFault || h.baseFault) continue;
      const span = 2 ** h.iaBits;
      c.roots.push({
        half: h,
        ctx: c.ctx,
        walker: c.walker,
        level: h.startLevel,
        table: h.base,
        vaOff: 0,
        span,
        asid: h.asid,
        apT: 0,
        uxnT: 0,
        pxnT: 0,
      });
    }
  }

  private begin(cpu: number, text: () => string): number {
    this.cpuAt(cpu);
    const s = ++this.stepNo;
    if (this.recordSteps) this.steps.push({ step: s, cpu, text: text() });
    return s;
  }

  /** Hot-path form of begin: no closure; the caller records the text when recording. */
  private beginFast(cpu: number): number {
    if (this.cpus[cpu] === undefined) this.cpuAt(cpu);
    return ++this.stepNo;
  }

  private record(step: number, cpu: number, text: string): void {
    this.steps.push({ step, cpu, text });
  }

  /** Text of an earlier step (for traces). */
  stepText(step: number): string {
    return this.steps[step - 1]?.text ?? (step === 0 ? "initial memory" : `step ${step}`);
  }

  // ---------------------------------------------------------------- stores

  /** 64-bit store of `value` to physical address `pa` (8-byte aligned). */
  store64(cpu: number, pa: bigint, value: bigint): void {
    const p = this.checkPa(pa);
    const hi = Number((value >> 32n) & 0xffffffffn);
    const lo = Number(value & 0xffffffffn);
    const s = this.begin(cpu, () => `STR ${hex(value)} -> [PA ${hex(pa)}]`);
    this.doStore(cpu, s, p, hi, lo);
  }

  /** Store-release (STLR): modelled as a plain store for walkers (a release does not order walks). */
  storeRelease(cpu: number, pa: bigint, value: bigint): void {
    const p = this.checkPa(pa);
    const hi = Number((value >> 32n) & 0xffffffffn);
    const lo = Number(value & 0xffffffffn);
    const s = this.begin(cpu, () => `STLR ${hex(value)} -> [PA ${hex(pa)}]`);
    this.doStore(cpu, s, p, hi, lo);
  }

  /** Numeric form of store64: value as 32-bit halves, pa a number. */
  storeRaw(cpu: number, pa: number, hi: number, lo: number): void {
    const s = this.beginFast(cpu);
    if (this.recordSteps) this.record(s, cpu, `STR ${hex(bigOf(hi, lo))} -> [PA ${hx(pa)}]`);
    this.doStore(cpu, s, pa, hi >>> 0, lo >>> 0);
  }

  private checkPa(pa: bigint): number {
    if (pa < 0n || pa >= 1n << 52n || (pa & 7n) !== 0n) {
      throw new MachineError(`store: physical address ${hex(pa)} must be 8-byte aligned and below 2^52`);
    }
    return Number(pa);
  }

  private doStore(cpu: number, step: number, pa: number, hi: number, lo: number): void {
    const mem = this.mem;
    let ohi = 0;
    let olo = 0;
    if (mem.load64(pa)) {
      ohi = mem.hi;
      olo = mem.lo;
    }
    if (ohi === hi && olo === lo) {
      this.lastWriter.set(pa, step);
      return;
    }
    const c = this.cpus[cpu] as Cpu;
    const uses = this.index.usesAt(pa);
    // Ordering record: walkers may see the old value until DSB (+ ISB on this CPU).
    let rec = this.pending.get(pa);
    if (rec === undefined || rec.completeStep !== 0) {
      if (rec !== undefined) this.dropPending(rec);
      rec = {
        id: this.nextId++,
        pa,
        oldHi: ohi,
        oldLo: olo,
        step,
        cpu,
        completeStep: 0,
        needsDc: c.dcNeed,
      };
      this.pending.set(pa, rec);
      c.pending.push(rec);
    }
    mem.store64(pa, hi, lo);
    if ((olo & 3) === 3 || (lo & 3) === 3) this.index.invalidate(pa);
    const prevWriter = this.lastWriter.get(pa) ?? 0;
    const prevWritten = Math.max(prevWriter, this.unseenWrite.get(pa) ?? 0);
    this.lastWriter.set(pa, step);
    if (uses !== undefined) {
      const st = this.st;
      st.cpu = cpu;
      st.step = step;
      st.pa = pa;
      st.ohi = ohi;
      st.olo = olo;
      st.hi = hi;
      st.lo = lo;
      st.prevWriter = prevWriter;
      st.prevWritten = prevWritten;
      this.liveStore(uses);
    }
  }

  private liveStore(uses: TableUse[]): void {
    const { pa, olo, lo } = this.st;
    let tableChange = false;
    let anyCurrent = false;
    let staleUses: TableUse[] | undefined;
    const checked = this.checked;
    let nChecked = 0;
    for (const u of uses) {
      const h = u.root.half;
      const level = u.level;
      const idx = (pa - u.tableBase) / 8;
      const size = 2 ** (h.shiftAt[level + 1] as number);
      const va = u.vaOff + idx * size;
      const ok = entryKind(h, olo, level);
      const nk = entryKind(h, lo, level);
      if (ok === 1 || nk === 1) tableChange = true;
      const current = u.stale === undefined || u.stale.state === ST_AWAIT_ISB;
      if (u.stale === undefined || u.stale.kind === "context") anyCurrent = true;
      else if (u.stale.state !== ST_AWAIT_ISB) {
        staleUses ??= [];
        staleUses.push(u);
      }
      // A switched-out context is no longer walked (walks use the translation registers in
      // effect, Arm ARM D8.2): through it a CPU holds only what was there while it was current,
      // never a descriptor written after the switch (e.g. into its freed and reused tables).
      const afterSwitch = u.stale !== undefined && u.stale.kind === "context" && this.st.prevWritten > u.stale.changed;
      if (ok !== 0 && !afterSwitch) {
        const c = this.cpus[u.cpu] as Cpu;
        const e = staleFromStore(this.mem, this.st, u, c.stale, this.nextId, ok, level, va, size);
        if (e !== undefined) {
          this.nextId++;
          c.stale.push(e);
          this.staleCount++;
          if (e.root !== undefined) this.index.dirty = true;
        }
      }
      if (!current || u.stale !== undefined) continue;
      if (uses.length > 1) {
        // Several CPUs (or roots) reach the same entry: judge each (half, VA, level) once.
        const meta = h.index * 8 + level + 1;
        let dup = false;
        for (let i = 0; i < nChecked; i += 2) if (checked[i] === va && checked[i + 1] === meta) dup = true;
        if (dup) continue;
        checked[nChecked++] = va;
        checked[nChecked++] = meta;
      }
      this.checkLiveChange(u, ok, nk, level, va, size);
    }
    if (!anyCurrent && staleUses !== undefined) {
      const su = staleUses[0] as TableUse;
      reportFreedTableReuse(this.rep, this.st, su);
    }
    if (tableChange) this.index.dirty = true;
  }

  private checkLiveChange(u: TableUse, ok: number, nk: number, level: number, va: number, size: number): void {
    const st = this.st;
    const h = u.root.half;
    const ctx = u.root.ctx;
    this.liveHalf = h;
    this.liveVaOff = va;
    const vaB = this.liveVa;
    if (ok !== 0 && nk !== 0) {
      checkLiveBbm(this.rep, this.mem, this.bbmLevel, st, h, ctx, ok, nk, level, vaB);
    } else if (ok === 0 && nk !== 0 && this.staleCount !== 0) {
      checkMakeAfterBreak(this.rep, this.mem, this.bbmLevel, this.cpus, st, h, ctx, u.root.asid, nk, level, va, size);
    }
    if (nk === 2) {
      checkWx(this.rep, st, h, ctx, level, u.apT, u.pxnT, vaB);
      if (this.protectedRanges.length > 0) checkMappedAfterProtect(this.rep, st, this.protectedRanges, h, level, size, vaB);
    }
    if (nk === 2 || ok === 2) this.cont.touch(st, h, ctx.hd, level, u.tableBase, u.vaOff, size, ok, nk);
  }

  /**
   * Write memory without a step and without judging it: content a recorded guest put there while
   * no CPU could walk it (a page becoming a table, `vmsa record` traces).
   */
  setMemory(pa: number, hi: number, lo: number): void {
    const mem = this.mem;
    const same = mem.load64(pa) ? mem.hi === hi >>> 0 && mem.lo === lo >>> 0 : hi === 0 && lo === 0;
    if (same) return;
    // Written at some point after the last step, by no store the machine saw: its writer is
    // unknown (0, "initial content"), and it was written after every earlier step.
    this.lastWriter.set(pa, 0);
    this.unseenWrite.set(pa, this.stepNo + 1);
    mem.store64(pa, hi, lo);
    this.index.invalidate(pa);
    this.index.dirty = true;
  }

  // ---------------------------------------------------------------- barriers

  /** DSB: completes this CPU's stores (for walkers) and, unless an ST/LD variant, its TLBIs. */
  dsb(cpu: number, kind: DsbKind = "SY"): void {
    const s = this.beginFast(cpu);
    if (this.recordSteps) this.record(s, cpu, `DSB ${kind}`);
    const c = this.cpus[cpu] as Cpu;
    const storesDone = !kind.endsWith("LD");
    const tlbiDone = !kind.endsWith("ST") && !kind.endsWith("LD");
    const broadcastOk = !kind.startsWith("NSH");
    if (storesDone) completeStores(c.pending, s);
    if (tlbiDone && this.staleCount > 0) {
      for (const t of this.cpus) if (completeTlbis(t.stale, t.id, cpu, broadcastOk, s)) this.compactStale(t);
    }
    if (this.cont.hasTouched) this.cont.publish(cpu, s);
  }

  /** DMB: orders data accesses only; walks and TLBIs are not affected. */
  dmb(cpu: number, kind: DsbKind = "SY"): void {
    this.begin(cpu, () => `DMB ${kind}`);
  }

  /** ISB: context synchronization — completed TLBIs and stores now hold for this CPU, MSRs take effect. */
  isb(cpu: number): void {
    const s = this.beginFast(cpu);
    if (this.recordSteps) this.record(s, cpu, "ISB");
    const c = this.cpus[cpu] as Cpu;
    c.lastIsb = s;
    if (c.pending.length > 0) retireVisibleStores(c.pending, this.pending);
    if (retireAtIsb(c.stale)) this.compactStale(c);
  }

  private dropPending(r: PendingStore): void {
    this.pending.remove(r.pa, r);
    const list = (this.cpus[r.cpu] as Cpu).pending;
    const i = list.indexOf(r);
    if (i < 0) return;
    for (let k = i + 1; k < list.length; k++) list[k - 1] = list[k] as PendingStore;
    list.pop();
  }

  private compactStale(c: Cpu): void {
    const before = c.stale.length;
    const roots = dropRemoved(c.stale);
    this.staleCount -= before - c.stale.length;
    // Only walk-cache / context roots contribute to the table index.
    if (roots) this.index.dirty = true;
  }

  // ---------------------------------------------------------------- system registers

  msr(cpu: number, reg: SysReg, value: bigint): void {
    const s = this.begin(cpu, () => `MSR ${reg}, ${hex(value)}`);
    const c = this.cpus[cpu] as Cpu;
    const field = (
      { TTBR0_EL1: "ttbr0", TTBR1_EL1: "ttbr1", TCR_EL1: "tcr", MAIR_EL1: "mair", SCTLR_EL1: "sctlr", PAR_EL1: "par" } as const
    )[reg];
    if (field === undefined) throw new MachineError(`msr: unknown register ${String(reg)}`);
    if (c.regs[field] === value) return;
    c.regs[field] = value;
    if (field === "par") return;
    const oldRoots = c.roots;
    this.compileCpu(c);
    c.lastMsr = s;
    for (const r of oldRoots) {
      if (c.roots.some((n) => sameContext(n, r))) continue;
      c.stale.push(contextEntry(this.nextId++, cpu, r, s));
      this.staleCount++;
    }
    // A context that is current again is no longer stale.
    const before = c.stale.length;
    c.stale = c.stale.filter(
      (e) =>
        !(
          e.kind === "context" &&
          e.changed !== s &&
          c.roots.some((n) => sameContext(n, { half: { index: e.halfIdx }, table: e.root?.table, asid: e.asid, ctx: e.ctx }))
        ),
    );
    this.staleCount -= before - c.stale.length;
    this.index.dirty = true;
  }

  /**
   * The CPU is powered off (PSCI CPU_OFF): it walks nothing and its TLB keeps nothing (a PE comes
   * back through reset with its TLB contents unknown, and the OS invalidates it before use: Arm
   * ARM D8.16 "TLB maintenance", reset). Its registers take their reset values, MMU off.
   */
  powerOff(cpu: number): void {
    const s = this.begin(cpu, () => "CPU OFF");
    const c = this.cpus[cpu] as Cpu;
    this.staleCount -= c.stale.length;
    c.stale = [];
    c.regs.ttbr0 = 0n;
    c.regs.ttbr1 = 0n;
    c.regs.tcr = 0n;
    c.regs.sctlr = 0n;
    this.compileCpu(c);
    c.lastMsr = s;
    c.lastIsb = s;
    this.index.dirty = true;
  }

  // ---------------------------------------------------------------- TLB maintenance

  /** TLBI `op` with operand Xt (ASID[63:48], VA[55:12] in [43:0]; range forms per FEAT_TLBIRANGE). */
  tlbi(cpu: number, op: TlbiOp, operand = 0n): void {
    const hi = Number((operand >> 32n) & 0xffffffffn);
    const lo = Number(operand & 0xffffffffn);
    this.tlbiRaw(cpu, op, hi, lo);
  }

  tlbiRaw(cpu: number, op: TlbiOp, opHi: number, opLo: number): void {
    const m = parseTlbiOp(op);
    if (m === undefined) throw new MachineError(`tlbi: unknown operation ${op}`);
    const base = m.base;
    const s = this.beginFast(cpu);
    if (this.recordSteps) this.record(s, cpu, base === "VMALLE1" ? `TLBI ${op}` : `TLBI ${op}, ${hex(bigOf(opHi, opLo))}`);
    if (this.staleCount === 0) return;
    const broadcast = m.broadcast;
    const issuer = this.cpus[cpu] as Cpu;
    const scope = tlbiScopeInto(this.scope, base, issuer.ctx.tcr.as ? 0xffff : 0xff, opHi, opLo);
    for (const t of this.cpus) {
      if (!broadcast && t !== issuer) continue;
      for (const e of t.stale) {
        if (e.state !== ST_LIVE) continue;
        const r = tlbiMatch(scope, e);
        if (r.kind === "skip") continue;
        if (r.kind === "global-only") {
          const root = e.root;
          // A context without global leaves holds nothing once the ASIDE1 completes: removed as a hit.
          if (root === undefined || contextHoldsGlobal(this.mem, root, e.changed, (pa) => this.writtenAt(pa))) {
            e.globalOnly = true;
            noteMiss(e, s, r.why);
            continue;
          }
        }
        if (r.kind === "miss") {
          noteMiss(e, s, r.why);
          continue;
        }
        const rec = e.descAddr >= 0 ? this.pending.get(e.descAddr) : undefined;
        if (rec !== undefined && rec.step <= e.changed && (rec.completeStep === 0 || rec.needsDc !== 0) && rec.step === e.changed) {
          // The break is not yet visible to walkers: the old entry can be refilled after this TLBI.
          e.refill = s;
          continue;
        }
        e.state = ST_TLBI_ISSUED;
        e.tlbiStep = s;
        e.tlbiCpu = cpu;
        e.tlbiBroadcast = broadcast;
      }
    }
  }

  // ---------------------------------------------------------------- cache maintenance

  dc(cpu: number, op: DcOp, va: bigint): void {
    this.begin(cpu, () => `DC ${op}, ${hex(va)}`);
    const c = this.cpus[cpu] as Cpu;
    const hi = Number((va >> 32n) & 0xffffffffn);
    const lo = Number(va & 0xffffffffn);
    if (c.walker.walkRaw(hi, lo, 0) !== FAULT_NONE) return;
    const line = c.walker.pa - (c.walker.pa % 64);
    applyDc(this.pending, line, op);
  }

  ic(cpu: number, op: IcOp): void {
    this.begin(cpu, () => `IC ${op}`);
  }

  // ---------------------------------------------------------------- protection

  protect(cpu: number, pa: bigint, size: bigint): void {
    const s = this.begin(cpu, () => `PROTECT [PA ${hex(pa)}, +${hex(size)})`);
    const base = Number(pa);
    const end = Number(pa + size);
    this.protectedRanges.push({ base, end, step: s });
    checkReachOnProtect(this.rep, this.mem, this.cpus, base, end, s, (a) => this.lastWriter.get(a) ?? 0);
  }

  unprotect(cpu: number, pa: bigint, size: bigint): void {
    this.begin(cpu, () => `UNPROTECT [PA ${hex(pa)}, +${hex(size)})`);
    const base = Number(pa);
    const end = Number(pa + size);
    for (let i = this.protectedRanges.length - 1; i >= 0; i--) {
      const r = this.protectedRanges[i] as ProtectedRange;
      if (r.base >= base && r.end <= end) this.protectedRanges.splice(i, 1);
    }
  }

  // ---------------------------------------------------------------- accesses

  load(cpu: number, va: bigint, el: 0 | 1 = 1): AccessResult {
    return this.access(cpu, va, accessCode({ type: "read", el }), "read", () => `LDR [VA ${hex(va)}]${el === 0 ? " (EL0)" : ""}`);
  }

  /** Data store at a VA. With `value`, the store is performed at the translated PA (a descriptor store when it hits one). */
  store(cpu: number, va: bigint, el: 0 | 1 = 1, value?: bigint): AccessResult {
    const r = this.access(
      cpu,
      va,
      accessCode({ type: "write", el }),
      "write",
      () => `STR ${value !== undefined ? hex(value) : ""} -> [VA ${hex(va)}]${el === 0 ? " (EL0)" : ""}`,
    );
    const first = r.outcomes[0];
    if (value !== undefined && first?.kind === "ok" && first.pa !== undefined) {
      const pa = first.pa & ~7n;
      this.doStore(cpu, r.step, Number(pa), Number((value >> 32n) & 0xffffffffn), Number(value & 0xffffffffn));
    }
    return r;
  }

  fetch(cpu: number, va: bigint, el: 0 | 1 = 1): AccessResult {
    return this.access(cpu, va, accessCode({ type: "exec", el }), "exec", () => `FETCH [VA ${hex(va)}]${el === 0 ? " (EL0)" : ""}`);
  }

  /** AT S1E1R/W, S1E0R/W (and the PAN forms): sets PAR_EL1 from what memory says. */
  at(cpu: number, op: AtOp, va: bigint): AccessResult {
    const a = AT_OPS[op];
    if (a === undefined) throw new MachineError(`at: unknown operation ${String(op)}`);
    const r = this.access(cpu, va, accessCode(a), "at", () => `AT ${op}, ${hex(va)}`);
    const c = this.cpus[cpu] as Cpu;
    const hi = Number((va >> 32n) & 0xffffffffn);
    const lo = Number(va & 0xffffffffn);
    const f = c.walker.walkRaw(hi, lo, accessCode(a));
    const par = c.walker.describe(va, a, f).par;
    if (par !== null) c.regs.par = par;
    return { ...r, atOp: op, ...(par !== null ? { par } : {}) };
  }

  /**
   * Hot-path access: returns the fault kind of what memory says (FAULT_NONE = ok, PA in
   * `lastPa`), after running every check. `acc` is walker.accessCode().
   */
  accessRaw(cpu: number, vaHi: number, vaLo: number, acc: number): number {
    const s = this.beginFast(cpu);
    if (this.recordSteps) this.record(s, cpu, `ACCESS ${acc} [VA ${hex(bigOf(vaHi, vaLo))}]`);
    return this.check(cpu, s, vaHi, vaLo, acc, undefined);
  }

  /** PA of the last successful accessRaw. */
  lastPa = 0;

  private access(cpu: number, va: bigint, acc: number, type: AccessResult["type"], text: () => string): AccessResult {
    const s = this.begin(cpu, text);
    const hi = Number((va >> 32n) & 0xffffffffn);
    const lo = Number(va & 0xffffffffn);
    const alts: Alt[] = [];
    this.check(cpu, s, hi, lo, acc, alts);
    const outcomes: Outcome[] = alts.map(outcomeOf);
    return { step: s, cpu, va, type, outcomes };
  }

  private check(cpu: number, step: number, vaHi: number, vaLo: number, acc: number, out: Alt[] | undefined): number {
    const c = this.cpus[cpu] as Cpu;
    const w = c.walker;
    const f = w.walkRaw(vaHi, vaLo, acc);
    if (f === FAULT_NONE) this.lastPa = w.pa;
    const contLeaf = f === FAULT_NONE && (w.descHi & HI_CONT) !== 0;
    const hasPending = this.pending.size > 0;
    if (c.stale.length === 0 && !hasPending && !contLeaf && out === undefined) return f;
    const alts: Alt[] = out ?? [];
    const primary = this.maySee.fromWalker(w, "memory", f, c.ctx, acc, undefined);
    alts.push(primary);
    if (contLeaf && w.half !== undefined) {
      const h = w.half;
      this.cont.checkAccess(cpu, step, h, c.ctx.hd, w.level, w.trailAddr[w.trailLen - 1] as number, offIn(h.iaBits, vaHi, vaLo));
    }
    // 1. Descriptor stores not yet visible to this CPU's walks.
    if (hasPending && c.ctx.mmuOn) this.maySee.addUnsynchronized(alts, c, w, vaHi, vaLo, acc);
    // 2. Stale TLB entries and walk-cache / old-context roots of this CPU.
    if (c.stale.length > 0) this.maySee.addStale(alts, c, vaHi, vaLo, acc);
    if (alts.length > 1) this.judge(c, step, vaHi, vaLo, acc, alts);
    // FEAT_BBM level 1+: whether a block with nT=1 gives a Translation fault is IMPDEF
    // (ASL AArch64.BlocknTFaults), so the fault is an allowed outcome too.
    if (out !== undefined && f === FAULT_NONE && this.bbmLevel >= 1 && primary.level < 3 && (w.descLo & 0x10000) !== 0) {
      alts.push({ ...primary, fault: FAULT_TRANSLATION, source: "memory" });
    }
    return f;
  }

  /** Several outcomes are allowed: report the rule each difference from what memory says breaks. */
  private judge(c: Cpu, step: number, vaHi: number, vaLo: number, acc: number, alts: Alt[]): void {
    const primary = alts[0] as Alt;
    const va = bigOf(vaHi, vaLo);
    const accName = ["read", "write", "exec"][acc & 3] ?? "access";
    const conflict = checkTlbConflict(this.rep, this.bbmLevel, c.id, step, va, accName, alts);
    for (let i = 1; i < alts.length; i++) {
      const a = alts[i] as Alt;
      if (!differs(primary, a)) continue;
      const what = `memory says ${describeAlt(primary)}, but ${describeAlt(a)} is also allowed`;
      if (a.pend !== undefined) {
        const r = a.pend;
        // A stale TLB entry from the same descriptor is the real cause (a DSB alone would not fix it).
        if (alts.some((x) => x.stale !== undefined && x.stale.descAddr === r.pa && !differs(x, a))) continue;
        reportUnsynchronizedStore(this.rep, c.id, step, va, accName, r, what);
        continue;
      }
      const e = a.stale;
      if (e === undefined) continue;
      if (this.equalReadOnlySwap(primary, a, e)) continue;
      reportStaleOutcome(this.rep, c.id, step, va, accName, a, e, what);
    }
    if (conflict !== undefined) alts.push(conflict);
  }

  /**
   * The stale leaf `e` and what memory says now are two read-only mappings of identical data
   * (rules/readonly-swap.ts, RWHZWS): using either reads the same, so the old entry is harmless.
   */
  private equalReadOnlySwap(primary: Alt, a: Alt, e: StaleEntry): boolean {
    if (e.kind !== "leaf" || primary.fault !== FAULT_NONE || a.fault !== FAULT_NONE) return false;
    if (primary.attr !== a.attr || primary.sh !== a.sh || primary.descAddr !== e.descAddr) return false;
    if (!this.mem.load64(e.descAddr)) return false;
    return readOnlySwapOfEqualPages(this.mem, e.half, e.ctx.hd, e.hi, e.lo, this.mem.hi, this.mem.lo, e.level);
  }

  /** End-of-run checks: contiguous groups written but never published by a DSB. */
  finish(): void {
    this.cont.finish(this.stepNo);
  }

  /** Steps executed so far. */
  get stepCount(): number {
    return this.stepNo;
  }
}
