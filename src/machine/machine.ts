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
 * m.finish()                                // end-of-run checks (pending contiguous groups)
 * m.reports: Violation[]   m.steps: StepRecord[]   m.cpu(i).regs
 * ```
 * Numeric hot-path forms (no BigInt): `storeRaw(cpu, pa, hi, lo)`, `accessRaw(cpu, vaHi, vaLo,
 * accessCode)`, `tlbiRaw(cpu, op, opHi, opLo)`.
 * Every method is one step; steps are numbered from 1 in call order.
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

import { HI_CONT, LO_AF, LO_NG } from "../arch/bits.js";
import { VmsaError } from "../arch/errors.js";
import type { FaultKind } from "../arch/fault.js";
import { FAULT_KINDS, FAULT_NONE, FAULT_PERMISSION, FAULT_TRANSLATION } from "../arch/fault.js";
import { contiguousEntries } from "../arch/granule.js";
import { FEATURES_MAX, type Features, presetByName, type Regs } from "../arch/registers.js";
import { hex } from "../arch/u64.js";
import { PhysMem } from "../mem/physmem.js";
import { compileRegs, type HalfContext, TWO32, type WalkContext } from "../walk/context.js";
import { checkContiguousGroup, describeContiguousProblem } from "../walk/contiguous.js";
import { directPermissions, entryKind, leafOutputAddress, nextTableAddress } from "../walk/fields.js";
import { walkEntries } from "../walk/range.js";
import { AT_OPS, type AtOp, accessCode, Walker } from "../walk/walker.js";
import { bbmRequirement } from "./bbm.js";
import { RULES, type RuleId } from "./rules.js";
import type {
  AccessResult,
  DcOp,
  DsbKind,
  IcOp,
  Outcome,
  OutcomeSource,
  StepRecord,
  SysReg,
  TlbiOp,
  TraceEntry,
  Violation,
} from "./types.js";

export * from "./bbm.js";
export * from "./rules.js";
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
}

export interface CpuRegs {
  ttbr0: bigint;
  ttbr1: bigint;
  tcr: bigint;
  mair: bigint;
  sctlr: bigint;
  par: bigint;
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

export interface TlbSnapshot {
  readonly stale: readonly StaleEntryInfo[];
  /** This CPU's descriptor stores walkers may not observe yet (needsDc: 1 clean, 2 invalidate). */
  readonly pending: readonly { pa: number; old: bigint; step: number; completeStep: number; needsDc: number }[];
}

/** A place translation can start from: a TTBR half, or a cached table entry (walk cache). */
interface Root {
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

const ST_LIVE = 0;
const ST_TLBI_ISSUED = 1;
const ST_AWAIT_ISB = 2;

/** Something a CPU's TLB may still hold although memory (or the registers) no longer say so. */
interface StaleEntry {
  readonly id: number;
  readonly kind: "leaf" | "table" | "context";
  readonly cpu: number;
  readonly halfIdx: number;
  readonly ia: number;
  readonly vaOff: number;
  readonly span: number;
  readonly level: number;
  readonly asid: number;
  readonly global: boolean;
  globalOnly: boolean;
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
  refill: number;
  preIsb: boolean;
  readonly missed: { step: number; why: string }[];
}

interface PendingStore {
  readonly id: number;
  readonly pa: number;
  readonly oldHi: number;
  readonly oldLo: number;
  readonly step: number;
  readonly cpu: number;
  completeStep: number;
  /** 0 none, 1 needs DC clean (CVAC/CIVAC), 2 needs DC invalidate (IVAC/CIVAC). */
  needsDc: number;
}

interface TableUse {
  readonly cpu: number;
  readonly root: Root;
  readonly stale: StaleEntry | undefined;
  readonly tableBase: number;
  readonly tableBytes: number;
  readonly level: number;
  readonly vaOff: number;
  readonly apT: number;
  readonly uxnT: number;
  readonly pxnT: number;
}

interface ContGroup {
  readonly cpu: number;
  readonly half: HalfContext;
  /** Hardware dirty-state management (TCR.HD) of the context that reaches the group. */
  readonly hd: boolean;
  readonly level: number;
  readonly groupAddr: number;
  readonly vaOff: number;
  readonly step: number;
}

class Cpu {
  readonly id: number;
  readonly regs: CpuRegs;
  ctx!: WalkContext;
  walker!: Walker;
  roots: Root[] = [];
  stale: StaleEntry[] = [];
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

/** Per-access scratch outcome. */
interface Alt {
  source: OutcomeSource;
  fault: number;
  pa: number;
  level: number;
  attr: number;
  sh: number;
  /** Translation span (entry size incl. contiguous) as log2, and its VA base offset. */
  spanShift: number;
  descAddr: number;
  fromStep: number;
  stale: StaleEntry | undefined;
  pend: PendingStore | undefined;
}

const FRAME = 4096;
const TLBI_CACHE = new Map<string, [string, string, string | undefined]>();
const TLBI_RE = /^(VMALLE1|VAE1|VALE1|VAAE1|VAALE1|ASIDE1|RVAE1|RVALE1|RVAAE1|RVAALE1)(IS|OS)?$/;

function hx(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Build a TLBI by-VA operand: ASID[63:48], VA[55:12] in [43:0]. */
export function tlbiVa(va: bigint, asid = 0): bigint {
  return (BigInt(asid & 0xffff) << 48n) | ((va >> 12n) & 0xfff_ffff_ffffn);
}

/** Build a range TLBI operand (FEAT_TLBIRANGE): TG, SCALE, NUM, BaseADDR in granule units. */
export function tlbiRange(va: bigint, pages: number, granuleSize: 4096 | 16384 | 65536, asid = 0): bigint {
  const tg = granuleSize === 4096 ? 1n : granuleSize === 16384 ? 2n : 3n;
  const shift = BigInt(Math.log2(granuleSize));
  for (let scale = 0; scale < 4; scale++) {
    const unit = 2 ** (5 * scale + 1);
    const num = Math.ceil(pages / unit) - 1;
    if (num <= 31) {
      return (
        (BigInt(asid & 0xffff) << 48n) |
        (tg << 46n) |
        (BigInt(scale) << 44n) |
        (BigInt(Math.max(num, 0)) << 39n) |
        ((va >> shift) & ((1n << 37n) - 1n))
      );
    }
  }
  throw new RangeError(`tlbiRange: ${pages} pages do not fit one range operation`);
}

function permWanted(acc: number): number {
  return (acc & 3) + ((acc & 4) !== 0 ? 3 : 0);
}

function bigOf(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** VA offset within a half for an address given as halves. */
function offIn(ia: number, vaHi: number, vaLo: number): number {
  return (vaHi & (2 ** (ia - 32) - 1)) * TWO32 + (vaLo >>> 0);
}

function rebase(ctx: WalkContext, half: HalfContext, table: number, level: number): { ctx: WalkContext; half: HalfContext } {
  if (half.base === table && half.startLevel === level) return { ctx, half };
  const h: HalfContext = { ...half, base: table, startLevel: level, baseFault: false, tnszFault: false, epd: false };
  const halves: [HalfContext, HalfContext] = half.index === 0 ? [h, ctx.halves[1]] : [ctx.halves[0], h];
  return { ctx: { ...ctx, halves }, half: h };
}

/** Memory whose loads see some descriptor locations with an older value. */
class OverlayMem extends PhysMem {
  private readonly base: PhysMem;
  readonly over = new Map<number, [number, number]>();
  constructor(base: PhysMem) {
    super();
    this.base = base;
  }
  override load64(pa: number): boolean {
    const o = this.over.get(pa);
    if (o !== undefined) {
      this.hi = o[0];
      this.lo = o[1];
      return true;
    }
    if (!this.base.load64(pa)) return false;
    this.hi = this.base.hi;
    this.lo = this.base.lo;
    return true;
  }
}

/** Bad input to the machine (unknown CPU, register, operation; misaligned address). */
/** Step of the last store per 8-byte physical location: per-frame Int32Arrays (hot path, no hashing of PAs). */
class PaSteps {
  private readonly frames = new Map<number, Int32Array>();
  private lastPfn = -1;
  private lastArr: Int32Array | undefined;
  private arr(pa: number, create: boolean): Int32Array | undefined {
    const pfn = Math.floor(pa / FRAME);
    if (pfn === this.lastPfn) return this.lastArr;
    let a = this.frames.get(pfn);
    if (a === undefined) {
      if (!create) return undefined;
      a = new Int32Array(FRAME / 8);
      this.frames.set(pfn, a);
    }
    this.lastPfn = pfn;
    this.lastArr = a;
    return a;
  }
  get(pa: number): number | undefined {
    const a = this.arr(pa, false);
    return a === undefined ? undefined : a[(pa % FRAME) >>> 3];
  }
  set(pa: number, step: number): void {
    (this.arr(pa, true) as Int32Array)[(pa % FRAME) >>> 3] = step;
  }
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
  private readonly pending = new Map<number, PendingStore>();
  private readonly lastWriter = new PaSteps();
  private index = new Map<number, TableUse[]>();
  private indexDirty = true;
  private readonly touchedGroups = new Map<number, ContGroup>();
  private readonly contReported = new Map<number, string>();
  private readonly protectedRanges: { base: number; end: number; step: number }[] = [];
  private readonly reportedKeys = new Set<string>();
  private readonly overlay: OverlayMem;
  private staleCount = 0;
  /** The store being judged (set by doStore; the checks below read it instead of long parameter lists). */
  private readonly st = { cpu: 0, step: 0, pa: 0, ohi: 0, olo: 0, hi: 0, lo: 0, prevWriter: 0 };

  constructor(opts: MachineOptions) {
    if (!Number.isInteger(opts.cpus) || opts.cpus < 1 || opts.cpus > 64) {
      throw new MachineError(`machine: cpus must be an integer 1..64 (got ${opts.cpus})`);
    }
    const bbm = opts.bbmLevel ?? 0;
    if (![0, 1, 2, 3].includes(bbm)) throw new MachineError(`machine: bbmLevel must be 0, 1, 2 or 3 (got ${bbm})`);
    this.bbmLevel = bbm;
    this.mem = opts.mem ?? new PhysMem();
    this.overlay = new OverlayMem(this.mem);
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
      stale: c.stale.map((e) => ({
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
      })),
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
    c.dcNeed = storeCacheable === walkCacheable ? 0 : storeCacheable ? 1 : 2;
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

  private tr(step: number, role: string): TraceEntry {
    const rec = this.steps[step - 1];
    return { step, cpu: rec?.cpu ?? -1, role, text: step === 0 ? "initial memory" : (rec?.text ?? `step ${step}`) };
  }

  private report(
    rule: RuleId,
    detail: string,
    step: number,
    cpu: number,
    message: string,
    where: { va?: bigint; pa?: number; descAddr?: number },
    trace: TraceEntry[],
    fix?: string,
    dedupe?: string,
  ): void {
    if (dedupe !== undefined) {
      if (this.reportedKeys.has(dedupe)) return;
      this.reportedKeys.add(dedupe);
    }
    const info = RULES[rule];
    const v: Violation = {
      rule,
      ruleNumber: info.number,
      title: info.title,
      detail,
      citation: info.citation,
      step,
      cpu,
      ...(where.va !== undefined ? { va: where.va } : {}),
      ...(where.pa !== undefined ? { pa: BigInt(where.pa) } : {}),
      ...(where.descAddr !== undefined ? { descAddr: BigInt(where.descAddr) } : {}),
      message,
      ...(fix !== undefined ? { fix } : {}),
      trace: trace.filter((t, i, a) => a.findIndex((x) => x.step === t.step && x.role === t.role) === i).sort((a, b) => a.step - b.step),
    };
    this.reports.push(v);
    this.onReport?.(v);
  }

  private vaOf(h: HalfContext | { index: 0 | 1; iaBits: number }, off: number): bigint {
    return h.index === 0 ? BigInt(off) : (1n << 64n) - (1n << BigInt(h.iaBits)) + BigInt(off);
  }

  // ---------------------------------------------------------------- table index

  private rebuildIndex(): void {
    const idx = new Map<number, TableUse[]>();
    const add = (u: TableUse): void => {
      const first = Math.floor(u.tableBase / FRAME);
      const last = Math.floor((u.tableBase + u.tableBytes - 1) / FRAME);
      for (let f = first; f <= last; f++) {
        let l = idx.get(f);
        if (l === undefined) {
          l = [];
          idx.set(f, l);
        }
        l.push(u);
      }
    };
    const mem = this.mem;
    const visit = (cpu: number, root: Root, stale: StaleEntry | undefined): void => {
      const h = root.half;
      const rec = (table: number, level: number, vaOff: number, apT: number, uxnT: number, pxnT: number, bytes: number): void => {
        add({ cpu, root, stale, tableBase: table, tableBytes: bytes, level, vaOff, apT, uxnT, pxnT });
        if (level >= 3) return;
        const n = bytes / 8;
        const sz = 2 ** (h.shiftAt[level + 1] as number);
        for (let i = 0; i < n; i++) {
          if (!mem.load64(table + i * 8)) continue;
          const hi = mem.hi;
          const lo = mem.lo;
          if ((lo & 3) !== 3) continue;
          const next = nextTableAddress(h, hi, lo);
          if (next >= h.paLimit) continue;
          const a = h.hpd ? apT : apT | ((hi >>> 29) & 3);
          const u = h.hpd ? uxnT : uxnT | ((hi >>> 28) & 1);
          const p = h.hpd ? pxnT : pxnT | ((hi >>> 27) & 1);
          rec(next, level + 1, vaOff + i * sz, a, u, p, 2 ** h.gShift);
        }
      };
      const entries = Math.min(
        2 ** (h.bitsAt[root.level + 1] as number),
        Math.max(1, root.span / 2 ** (h.shiftAt[root.level + 1] as number)),
      );
      rec(root.table, root.level, root.vaOff, root.apT, root.uxnT, root.pxnT, Math.max(entries * 8, 8));
    };
    for (const c of this.cpus) {
      for (const r of c.roots) visit(c.id, r, undefined);
      for (const s of c.stale) if (s.root !== undefined) visit(c.id, s.root, s);
    }
    this.index = idx;
    this.indexDirty = false;
  }

  private usesAt(pa: number): TableUse[] | undefined {
    if (this.indexDirty) this.rebuildIndex();
    const l = this.index.get(Math.floor(pa / FRAME));
    if (l === undefined) return undefined;
    let all = true;
    for (const u of l) if (pa < u.tableBase || pa >= u.tableBase + u.tableBytes) all = false;
    if (all) return l;
    const out = l.filter((u) => pa >= u.tableBase && pa < u.tableBase + u.tableBytes);
    return out.length > 0 ? out : undefined;
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
    const uses = this.usesAt(pa);
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
    const prevWriter = this.lastWriter.get(pa) ?? 0;
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
      this.liveStore(uses);
    }
  }

  private liveStore(uses: TableUse[]): void {
    const { cpu, step, pa, olo, lo } = this.st;
    let tableChange = false;
    let anyCurrent = false;
    let staleUses: TableUse[] | undefined;
    let checked: number[] | undefined;
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
      if (ok !== 0) this.materialize(u, ok, level, va, size);
      if (!current || u.stale !== undefined) continue;
      if (uses.length > 1) {
        // Several CPUs (or roots) reach the same entry: judge each (half, VA, level) once.
        const meta = h.index * 8 + level + 1;
        checked ??= [];
        let dup = false;
        for (let i = 0; i < checked.length; i += 2) if (checked[i] === va && checked[i + 1] === meta) dup = true;
        if (dup) continue;
        checked.push(va, meta);
      }
      this.checkLiveChange(u, ok, nk, level, va, size);
    }
    if (!anyCurrent && staleUses !== undefined) {
      const su = staleUses[0] as TableUse;
      const s = su.stale as StaleEntry;
      const tr = [this.tr(s.changed, "unlinked the table"), this.tr(step, "wrote into the unlinked table")];
      for (const m of s.missed) tr.push(this.tr(m.step, `TLBI did not remove the walk-cache entry (${m.why})`));
      if (s.state === ST_TLBI_ISSUED) tr.push(this.tr(s.tlbiStep, "TLBI issued, not yet completed by DSB"));
      this.report(
        "freed-table-reuse",
        s.state === ST_TLBI_ISSUED ? "freed-table.tlbi-incomplete" : "freed-table.no-walk-cache-tlbi",
        step,
        cpu,
        `table page ${hx(su.tableBase)} (level ${su.level}) was unlinked at step ${s.changed} but CPU ${s.cpu} may still walk it through a cached table entry; it is written at ${hx(pa)} before a non-last-level invalidation completed`,
        {
          va: this.vaOf(su.root.half, su.vaOff + ((pa - su.tableBase) / 8) * 2 ** (su.root.half.shiftAt[su.level + 1] as number)),
          pa,
          descAddr: s.descAddr,
        },
        tr,
        `after unlinking: DSB ISHST; TLBI VAE1IS/VAAE1IS (not VALE1) or VMALLE1IS covering the range; DSB ISH; then reuse the page`,
        `freed:${s.id}`,
      );
    }
    if (tableChange) this.indexDirty = true;
  }

  private materialize(u: TableUse, ok: number, level: number, va: number, size: number): void {
    const { step, pa, ohi, olo, prevWriter } = this.st;
    const root = u.root;
    const h = root.half;
    const c = this.cpus[u.cpu] as Cpu;
    if (ok === 2 && (olo & LO_AF) === 0 && !root.ctx.ha) return;
    for (const s of c.stale) {
      if (s.descAddr === pa && s.hi === ohi && s.lo === olo && s.state === ST_LIVE && s.vaOff === va) return;
    }
    let vaOff = va;
    let span = size;
    if (ok === 2 && (ohi & HI_CONT) !== 0) {
      const cs = h.contAt[level + 1] as number;
      span = size * 2 ** cs;
      vaOff = va - (va % span);
    }
    let sub: Root | undefined;
    if (ok === 1) {
      const next = nextTableAddress(h, ohi, olo);
      const r = rebase(root.ctx, h, next, level + 1);
      sub = {
        half: r.half,
        ctx: r.ctx,
        walker: new Walker(this.mem, r.ctx),
        level: level + 1,
        table: next,
        vaOff: va,
        span: size,
        asid: root.asid,
        apT: h.hpd ? u.apT : u.apT | ((ohi >>> 29) & 3),
        uxnT: h.hpd ? u.uxnT : u.uxnT | ((ohi >>> 28) & 1),
        pxnT: h.hpd ? u.pxnT : u.pxnT | ((ohi >>> 27) & 1),
      };
    }
    c.stale.push({
      id: this.nextId++,
      kind: ok === 1 ? "table" : "leaf",
      cpu: u.cpu,
      halfIdx: h.index,
      ia: h.iaBits,
      vaOff,
      span,
      level,
      asid: root.asid,
      global: ok === 2 ? (olo & LO_NG) === 0 : false,
      globalOnly: false,
      descAddr: pa,
      hi: ohi,
      lo: olo,
      half: h,
      ctx: root.ctx,
      apT: u.apT,
      uxnT: u.uxnT,
      pxnT: u.pxnT,
      root: sub,
      origin: prevWriter,
      changed: step,
      state: ST_LIVE,
      tlbiStep: 0,
      tlbiCpu: -1,
      tlbiBroadcast: false,
      completeStep: 0,
      refill: 0,
      preIsb: false,
      missed: [],
    });
    this.staleCount++;
    if (sub !== undefined) this.indexDirty = true;
  }

  private checkLiveChange(u: TableUse, ok: number, nk: number, level: number, va: number, size: number): void {
    const { cpu, step, pa, ohi, olo, hi, lo, prevWriter } = this.st;
    const h = u.root.half;
    const ctx = u.root.ctx;
    const vaB = (): bigint => this.vaOf(h, va);
    if (ok !== 0 && nk !== 0) {
      const oldD = bigOf(ohi, olo);
      const newD = bigOf(hi, lo);
      let r = bbmRequirement(oldD, newD, level, h.fmt, this.bbmLevel, { mair: ctx.regs.mair, ha: ctx.ha });
      if (!r.required && ok !== nk) {
        // A size change is only exempt when it keeps OA and attributes (vmsa-rules.md §4.3).
        const blockHi = ok === 2 ? ohi : hi;
        const blockLo = ok === 2 ? olo : lo;
        const tableD = ok === 1 ? [ohi, olo] : [hi, lo];
        const why = this.subtableMismatch(h, nextTableAddress(h, tableD[0] as number, tableD[1] as number), level, blockHi, blockLo);
        if (why !== undefined)
          r = { ...r, required: true, rule: "bbm.output-address", reason: `block size change that also changes the mapping: ${why}` };
      }
      if (r.required) {
        this.report(
          "bbm",
          r.rule,
          step,
          cpu,
          `live ${ok === 1 ? "table" : "leaf"} descriptor at ${hx(pa)} (level ${level}, VA ${hex(vaB())}) changed ${hex(oldD)} → ${hex(newD)} without break-before-make: ${r.reason} (FEAT_BBM level ${this.bbmLevel})`,
          { va: vaB(), pa: nk === 2 ? leafOutputAddress(h, hi, lo, level) : undefined, descAddr: pa },
          [this.tr(prevWriter, "wrote the old descriptor"), this.tr(step, "overwrote it with a different valid descriptor")],
          `store an invalid descriptor; DSB ISHST; TLBI ${ok === 1 ? "VAE1IS (non-last-level)" : "VAE1IS"} for ${hex(vaB())}; DSB ISH; store ${hex(newD)}; DSB ISHST; ISB`,
        );
      }
    } else if (ok === 0 && nk !== 0) {
      this.checkMakeAfterBreak(u, nk, level, va, size);
    }
    if (nk === 2) {
      // W^X (rule 8): EL1-writable and EL1-executable leaf.
      const ap = (lo >>> 6) & 3;
      const pxn = (hi >>> 21) & 1;
      if ((ap & 2) === 0 && pxn === 0 && !ctx.wxn && (u.pxnT | 0) === 0 && (u.apT & 2) === 0) {
        this.report(
          "wx",
          ap === 1 ? "wx.user-writable-priv-exec" : "wx.el1-writable-executable",
          step,
          cpu,
          `leaf at ${hx(pa)} maps VA ${hex(vaB())} ${ap === 1 ? "user-writable and privileged-executable" : "writable and executable at EL1"} (AP=${ap}, PXN=0)`,
          { va: vaB(), pa: leafOutputAddress(h, hi, lo, level), descAddr: pa },
          [this.tr(step, "wrote the W+X descriptor")],
          "set PXN (bit 53) or AP[2] (read-only) on the leaf",
        );
      }
      if (this.protectedRanges.length > 0) {
        const oa = leafOutputAddress(h, hi, lo, level);
        for (const pr of this.protectedRanges) {
          if (oa < pr.end && pr.base < oa + size) {
            this.report(
              "protected-reach",
              "protected.mapped-after-protect",
              step,
              cpu,
              `new valid mapping VA ${hex(vaB())} → PA ${hx(oa)} (+${hx(size)}) reaches protected memory [${hx(pr.base)}, ${hx(pr.end)}); any CPU may speculate through it`,
              { va: vaB(), pa: oa, descAddr: pa },
              [this.tr(pr.step, "protected the range"), this.tr(step, "mapped it")],
              "do not map protected memory; unmap it (BBM + TLBI) before protecting",
            );
          }
        }
      }
    }
    if (nk === 2 || ok === 2) {
      const n = contiguousEntries(h.granule, level);
      if (n > 0) {
        const idx = (pa - u.tableBase) / 8;
        const gIdx = idx - (idx % n);
        const groupAddr = u.tableBase + gIdx * 8;
        // Touched when this entry or a group boundary entry carries the Contiguous bit.
        let cont = (nk === 2 && (hi & HI_CONT) !== 0) || (ok === 2 && (ohi & HI_CONT) !== 0);
        const mem = this.mem;
        if (!cont && mem.load64(groupAddr) && (mem.hi & HI_CONT) !== 0 && (mem.lo & 1) !== 0) cont = true;
        if (!cont && mem.load64(groupAddr + (n - 1) * 8) && (mem.hi & HI_CONT) !== 0 && (mem.lo & 1) !== 0) cont = true;
        if (cont)
          this.touchedGroups.set(groupAddr, { cpu, half: h, hd: u.root.ctx.hd, level, groupAddr, vaOff: u.vaOff + gIdx * size, step });
      }
    }
  }

  private subtableMismatch(h: HalfContext, table: number, level: number, bhi: number, blo: number): string | undefined {
    const mem = this.mem;
    const n = 2 ** h.stride;
    const sub = 2 ** (h.shiftAt[level + 2] as number);
    const oa0 = leafOutputAddress(h, bhi, blo, level);
    // Attributes compared: everything except type bit, OA, contiguous, nT.
    const attrMaskLo = 0xffc & ~0x0;
    const attrMaskHi = 0xfff80000 & ~HI_CONT;
    for (let i = 0; i < n; i++) {
      if (!mem.load64(table + i * 8)) return `subtable entry ${i} is unbacked`;
      const hi = mem.hi;
      const lo = mem.lo;
      if (entryKind(h, lo, level + 1) !== 2) return `subtable entry ${i} at ${hx(table + i * 8)} is not a valid leaf`;
      if (leafOutputAddress(h, hi, lo, level + 1) !== oa0 + i * sub)
        return `subtable entry ${i} maps ${hx(leafOutputAddress(h, hi, lo, level + 1))}, not ${hx(oa0 + i * sub)}`;
      if ((lo & attrMaskLo) !== (blo & attrMaskLo) || (hi & attrMaskHi) !== (bhi & attrMaskHi))
        return `subtable entry ${i} has different attributes`;
    }
    return undefined;
  }

  private checkMakeAfterBreak(u: TableUse, nk: number, level: number, va: number, size: number): void {
    const { cpu, step, pa, hi, lo } = this.st;
    const h = u.root.half;
    if (this.staleCount === 0) return;
    let any = false;
    for (const c of this.cpus) {
      for (const s of c.stale) {
        if (s.kind !== "context" && s.state !== ST_AWAIT_ISB && s.halfIdx === h.index && s.vaOff < va + size && va < s.vaOff + s.span)
          any = true;
      }
    }
    if (!any) return;
    const vaBig = this.vaOf(h, va);
    const newGlobal = nk === 2 ? (lo & LO_NG) === 0 : false;
    const newD = bigOf(hi, lo);
    for (const c of this.cpus) {
      for (const s of c.stale) {
        if (s.kind === "context" || s.state === ST_AWAIT_ISB) continue;
        if (s.halfIdx !== h.index || s.vaOff >= va + size || va >= s.vaOff + s.span) continue;
        if (!(s.global || newGlobal || s.asid === u.root.asid)) continue;
        const oldD = bigOf(s.hi, s.lo);
        let required: boolean;
        let reason: string;
        if (s.level === level) {
          const r = bbmRequirement(oldD, newD, level, h.fmt, this.bbmLevel, {
            mair: u.root.ctx.regs.mair,
            ha: u.root.ctx.ha,
          });
          required = r.required;
          reason = r.reason;
        } else {
          required = this.bbmLevel < 2;
          reason = `the cached level-${s.level} entry and the new level-${level} entry differ in size`;
        }
        if (!required) continue;
        const tr = [
          this.tr(s.origin, "wrote the old descriptor"),
          this.tr(s.changed, "broke it (old entry may stay cached)"),
          this.tr(step, "made the new descriptor"),
        ];
        for (const m of s.missed) tr.push(this.tr(m.step, `TLBI did not remove the old entry (${m.why})`));
        if (s.refill > 0) {
          tr.push(this.tr(s.refill, "TLBI before the break was visible to walkers"));
          this.report(
            "missing-barrier",
            "barrier.dsb-before-tlbi",
            step,
            cpu,
            `CPU ${s.cpu} may hold the old translation of VA ${hex(vaBig)}: the break at step ${s.changed} was not completed by a DSB before the TLBI at step ${s.refill}, so a walk could refill it`,
            { va: vaBig, descAddr: pa },
            tr,
            `DSB ISHST between the store at step ${s.changed} and the TLBI at step ${s.refill}`,
            `mab:${step}:${pa}`,
          );
        } else if (s.state === ST_TLBI_ISSUED) {
          tr.push(this.tr(s.tlbiStep, "TLBI issued"));
          this.report(
            "missing-barrier",
            "barrier.dsb-after-tlbi",
            step,
            cpu,
            `new descriptor for VA ${hex(vaBig)} written while the TLBI at step ${s.tlbiStep} is not yet complete (no DSB on CPU ${s.tlbiCpu}); CPU ${s.cpu} may still hold the old entry: ${reason}`,
            { va: vaBig, descAddr: pa },
            tr,
            `DSB ISH after the TLBI at step ${s.tlbiStep}, before the store at step ${step}`,
            `mab:${step}:${pa}`,
          );
        } else {
          this.report(
            "bbm",
            "bbm.make-before-tlbi",
            step,
            cpu,
            `VA ${hex(vaBig)} made valid (${hex(newD)}) while CPU ${s.cpu} may still hold the old ${s.kind === "table" ? "walk-cache" : "leaf"} entry ${hex(oldD)} (broken at step ${s.changed}, never invalidated): ${reason}`,
            { va: vaBig, descAddr: pa },
            tr,
            `after the break at step ${s.changed}: DSB ISHST; TLBI ${s.kind === "table" ? "VAE1IS (non-last-level)" : s.global ? "VAAE1IS" : "VAE1IS"} for ${hex(vaBig)}; DSB ISH; then store the new descriptor`,
            `mab:${step}:${pa}`,
          );
        }
      }
    }
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
    if (storesDone) for (const r of c.pending) if (r.completeStep === 0) r.completeStep = s;
    if (tlbiDone && this.staleCount > 0) {
      for (const t of this.cpus) {
        let removed = false;
        for (const e of t.stale) {
          if (e.state !== ST_TLBI_ISSUED || e.tlbiCpu !== cpu) continue;
          if (e.tlbiBroadcast && !broadcastOk && t.id !== cpu) continue;
          e.completeStep = s;
          if (t.id === cpu) e.state = ST_AWAIT_ISB;
          else {
            e.state = -1;
            removed = true;
          }
        }
        if (removed) this.compactStale(t);
      }
    }
    if (this.touchedGroups.size > 0) {
      for (const [k, g] of this.touchedGroups) {
        if (g.cpu !== cpu) continue;
        this.touchedGroups.delete(k);
        this.checkContGroup(g, s, cpu);
      }
    }
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
    if (c.pending.length > 0) {
      const list = c.pending;
      let j = 0;
      for (let i = 0; i < list.length; i++) {
        const r = list[i] as PendingStore;
        if (r.completeStep !== 0 && r.needsDc === 0) {
          if (this.pending.get(r.pa) === r) this.pending.delete(r.pa);
        } else list[j++] = r;
      }
      list.length = j;
    }
    let any = false;
    for (const e of c.stale) {
      if (e.state === ST_AWAIT_ISB) {
        e.state = -1;
        any = true;
      }
      if (e.preIsb) e.preIsb = false;
    }
    if (any) this.compactStale(c);
  }

  private dropPending(r: PendingStore): void {
    if (this.pending.get(r.pa) === r) this.pending.delete(r.pa);
    const c = this.cpus[r.cpu] as Cpu;
    const i = c.pending.indexOf(r);
    if (i >= 0) c.pending.splice(i, 1);
  }

  private compactStale(c: Cpu): void {
    const before = c.stale.length;
    let roots = false;
    c.stale = c.stale.filter((e) => {
      if (e.state !== -1) return true;
      if (e.root !== undefined) roots = true;
      return false;
    });
    this.staleCount -= before - c.stale.length;
    // Only walk-cache / context roots contribute to the table index.
    if (roots) this.indexDirty = true;
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
      const same = c.roots.some(
        (n) =>
          n.half.index === r.half.index &&
          n.table === r.table &&
          n.asid === r.asid &&
          n.ctx.regs.tcr === r.ctx.regs.tcr &&
          n.ctx.regs.mair === r.ctx.regs.mair,
      );
      if (same) continue;
      c.stale.push({
        id: this.nextId++,
        kind: "context",
        cpu,
        halfIdx: r.half.index,
        ia: r.half.iaBits,
        vaOff: 0,
        span: r.span,
        level: r.level,
        asid: r.asid,
        global: false,
        globalOnly: false,
        descAddr: -1,
        hi: 0,
        lo: 0,
        half: r.half,
        ctx: r.ctx,
        apT: 0,
        uxnT: 0,
        pxnT: 0,
        root: r,
        origin: 0,
        changed: s,
        state: ST_LIVE,
        tlbiStep: 0,
        tlbiCpu: -1,
        tlbiBroadcast: false,
        completeStep: 0,
        refill: 0,
        preIsb: true,
        missed: [],
      });
      this.staleCount++;
    }
    // A context that is current again is no longer stale.
    const before = c.stale.length;
    c.stale = c.stale.filter(
      (e) =>
        !(
          e.kind === "context" &&
          e.changed !== s &&
          c.roots.some(
            (n) =>
              n.half.index === e.halfIdx &&
              n.table === e.root?.table &&
              n.asid === e.asid &&
              n.ctx.regs.tcr === e.ctx.regs.tcr &&
              n.ctx.regs.mair === e.ctx.regs.mair,
          )
        ),
    );
    this.staleCount -= before - c.stale.length;
    this.indexDirty = true;
  }

  // ---------------------------------------------------------------- TLB maintenance

  /** TLBI `op` with operand Xt (ASID[63:48], VA[55:12] in [43:0]; range forms per FEAT_TLBIRANGE). */
  tlbi(cpu: number, op: TlbiOp, operand = 0n): void {
    const hi = Number((operand >> 32n) & 0xffffffffn);
    const lo = Number(operand & 0xffffffffn);
    this.tlbiRaw(cpu, op, hi, lo);
  }

  tlbiRaw(cpu: number, op: TlbiOp, opHi: number, opLo: number): void {
    let m = TLBI_CACHE.get(op);
    if (m === undefined) {
      const x = TLBI_RE.exec(op);
      if (!x) throw new MachineError(`tlbi: unknown operation ${op}`);
      m = [x[0], x[1] as string, x[2]];
      TLBI_CACHE.set(op, m);
    }
    const base = m[1] as string;
    const s = this.beginFast(cpu);
    if (this.recordSteps) this.record(s, cpu, base === "VMALLE1" ? `TLBI ${op}` : `TLBI ${op}, ${hex(bigOf(opHi, opLo))}`);
    if (this.staleCount === 0) return;
    const broadcast = m[2] !== undefined;
    const issuer = this.cpus[cpu] as Cpu;
    const lastLevel = base.includes("LE1") || base === "VAALE1" || base === "RVAALE1";
    const allAsid = base === "VMALLE1" || base.startsWith("VAA") || base.startsWith("RVAA");
    const asidMask = issuer.ctx.tcr.as ? 0xffff : 0xff;
    const asid = (opHi >>> 16) & asidMask;
    const isRange = base.startsWith("R");
    const isVa = base !== "VMALLE1" && base !== "ASIDE1";
    // VA operand: page number VA[55:12] in bits [43:0].
    const pageNum = (opHi & 0xfff) * TWO32 + (opLo >>> 0);
    const vaHalf = (opHi >>> 11) & 1;
    const ttl = (opHi >>> 12) & 0xf;
    let rTg = 0;
    let rHalf = 0;
    let rBase = 0;
    let rLen = 0;
    if (isRange) {
      rTg = (opHi >>> 14) & 3;
      const scale = (opHi >>> 12) & 3;
      const num = (opHi >>> 7) & 0x1f;
      // BaseADDR[36:0]: bits [36:32] from the high word, [31:0] from the low word.
      const ba = (opHi & 0x1f) * TWO32 + (opLo >>> 0);
      // The top BaseADDR bit is the top VA bit of the range (VA[48] for 4K): it selects the half.
      rHalf = (opHi >>> 4) & 1;
      const gsz = rTg === 1 ? 4096 : rTg === 2 ? 16384 : 65536;
      rBase = ba * gsz;
      rLen = (num + 1) * 2 ** (5 * scale + 1) * gsz;
    }
    const targets = broadcast ? this.cpus : [issuer];
    for (const t of targets) {
      for (const e of t.stale) {
        if (e.state !== ST_LIVE) continue;
        // ASID filter.
        if (base === "ASIDE1") {
          if (e.kind === "context") {
            if (e.asid === asid && !e.globalOnly) {
              e.globalOnly = true;
              e.missed.push({ step: s, why: "ASIDE1 leaves global entries reachable from the old context" });
            }
            continue;
          }
          if (e.global) {
            e.missed.push({ step: s, why: "ASIDE1 does not remove global entries" });
            continue;
          }
          if (e.asid !== asid) continue;
        }
        if (isVa) {
          let hit: boolean;
          if (isRange) {
            if (rTg === 0 || (rTg === 1 ? 4096 : rTg === 2 ? 16384 : 65536) !== e.half.granule.size) {
              e.missed.push({ step: s, why: "range TLBI with a TG that does not match the granule" });
              continue;
            }
            const off = rBase % 2 ** e.ia;
            hit = rHalf === e.halfIdx && off < e.vaOff + e.span && e.vaOff < off + rLen;
          } else {
            const off = (pageNum % 2 ** (e.ia - 12)) * 4096;
            hit = vaHalf === e.halfIdx && off >= e.vaOff && off < e.vaOff + e.span;
          }
          if (!hit) continue;
          if (!allAsid && !e.global && e.kind !== "context" && e.asid !== asid) {
            e.missed.push({ step: s, why: `TLBI ${base} names ASID ${asid}; the entry is tagged with ASID ${e.asid}` });
            continue;
          }
          if (e.kind === "context") {
            e.missed.push({ step: s, why: "a by-VA TLBI cannot remove everything cached from a switched-out context" });
            continue;
          }
          if (lastLevel && e.kind === "table") {
            e.missed.push({ step: s, why: `TLBI ${base} is last-level only and need not remove walk-cache entries` });
            continue;
          }
          if (!isRange && (ttl & 0xc) !== 0) {
            const tg = ttl >>> 2;
            const g = tg === 1 ? 4096 : tg === 2 ? 16384 : 65536;
            if (g !== e.half.granule.size || (ttl & 3) !== (e.level & 3)) {
              e.missed.push({ step: s, why: `TTL hint (level ${ttl & 3}) does not match the entry's level ${e.level}` });
              continue;
            }
          }
        }
        if (e.kind === "context" && base !== "VMALLE1") continue;
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
    for (let a = line; a < line + 64; a += 8) {
      const r = this.pending.get(a);
      if (r === undefined) continue;
      if (r.needsDc === 1 && (op === "CVAC" || op === "CIVAC")) r.needsDc = 0;
      if (r.needsDc === 2 && (op === "IVAC" || op === "CIVAC")) r.needsDc = 0;
    }
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
    let count = 0;
    const limit = 32;
    const seen = new Set<string>();
    const hit = (c: number, va: bigint, oa: number, sz: number, descAddr: number, how: string, from: number): void => {
      const key = `${c}:${va}`;
      if (seen.has(key) || count >= limit) return;
      seen.add(key);
      count++;
      this.report(
        "protected-reach",
        "protected.reachable",
        s,
        c,
        `protecting [${hx(base)}, ${hx(end)}) while CPU ${c} ${how} VA ${hex(va)} → PA ${hx(oa)} (+${hx(sz)}, descriptor at ${hx(descAddr)}): the CPU may speculate through it`,
        { va, pa: oa, descAddr },
        [this.tr(from, "created the mapping"), this.tr(s, "protected the range")],
        "unmap the range (invalid descriptors, DSB ISHST, TLBI VAE1IS/VMALLE1IS, DSB ISH) on every CPU's tables before protecting it",
      );
    };
    for (const c of this.cpus) {
      const roots: { r: Root; how: string }[] = c.roots.map((r) => ({ r, how: "can reach" }));
      for (const e of c.stale) {
        if (e.root !== undefined) roots.push({ r: e.root, how: "may hold (cached table) a walk to" });
        else if (e.kind === "leaf") {
          const oa = leafOutputAddress(e.half, e.hi, e.lo, e.level);
          const sz = 2 ** (e.half.shiftAt[e.level + 1] as number);
          if (oa < end && base < oa + sz)
            hit(c.id, this.vaOf(e.half, e.vaOff), oa, sz, e.descAddr, "may hold a stale TLB entry for", e.origin);
        }
      }
      for (const { r, how } of roots) {
        walkEntries(this.mem, r.half, 0, r.span, (e) => {
          if (e.kind !== "leaf") return;
          if ((e.lo & LO_AF) === 0 && !r.ctx.ha) return;
          const oa = leafOutputAddress(r.half, e.hi, e.lo, e.level);
          if (oa < end && base < oa + e.size) {
            hit(c.id, this.vaOf(r.half, r.vaOff + e.off), oa, e.size, e.descAddr, how, this.lastWriter.get(e.descAddr) ?? 0);
          }
        });
      }
    }
  }

  unprotect(cpu: number, pa: bigint, size: bigint): void {
    this.begin(cpu, () => `UNPROTECT [PA ${hex(pa)}, +${hex(size)})`);
    const base = Number(pa);
    const end = Number(pa + size);
    for (let i = this.protectedRanges.length - 1; i >= 0; i--) {
      const r = this.protectedRanges[i] as { base: number; end: number };
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
    const outcomes: Outcome[] = alts.map((a) => this.outcomeOf(a));
    return { step: s, cpu, va, type, outcomes };
  }

  private outcomeOf(a: Alt): Outcome {
    if (a.fault === -1) return { source: a.source, kind: "tlb-conflict", fromStep: a.fromStep };
    if (a.fault !== FAULT_NONE) {
      return { source: a.source, kind: "fault", fault: FAULT_KINDS[a.fault] as FaultKind, level: a.level, fromStep: a.fromStep };
    }
    return {
      source: a.source,
      kind: "ok",
      pa: BigInt(a.pa),
      level: a.level,
      attr: a.attr,
      sh: a.sh,
      fromStep: a.fromStep,
      ...(a.descAddr >= 0 ? { descAddr: BigInt(a.descAddr) } : {}),
    };
  }

  private altFromWalker(
    w: Walker,
    source: OutcomeSource,
    f: number,
    ctx: WalkContext,
    acc: number,
    extra: { apT: number; uxnT: number; pxnT: number } | undefined,
  ): Alt {
    let fault = f;
    let attr = 0;
    let sh = 0;
    let spanShift = 0;
    let descAddr = -1;
    if (f === FAULT_NONE && w.half !== undefined) {
      const h = w.half;
      attr = ctx.mair[(w.descLo >>> 2) & 7] as number;
      sh = h.ds ? h.walkSh : (w.descLo >>> 8) & 3;
      spanShift = (h.shiftAt[w.level + 1] as number) + ((w.descHi & HI_CONT) !== 0 ? (h.contAt[w.level + 1] as number) : 0);
      descAddr = w.trailAddr[w.trailLen - 1] as number;
      if (extra !== undefined && (extra.apT | extra.uxnT | extra.pxnT) !== 0) {
        const p = directPermissions(ctx, w.descHi, w.descLo, w.apTable | extra.apT, w.uxnTable | extra.uxnT, w.pxnTable | extra.pxnT);
        if (((p >>> permWanted(acc)) & 1) === 0) fault = FAULT_PERMISSION;
      }
    } else if (w.trailLen > 0) {
      descAddr = w.trailAddr[w.trailLen - 1] as number;
    }
    return {
      source,
      fault,
      pa: w.pa,
      level: w.level,
      attr,
      sh,
      spanShift,
      descAddr,
      fromStep: descAddr >= 0 ? (this.lastWriter.get(descAddr) ?? 0) : 0,
      stale: undefined,
      pend: undefined,
    };
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
    const primary = this.altFromWalker(w, "memory", f, c.ctx, acc, undefined);
    alts.push(primary);
    if (contLeaf && w.half !== undefined) {
      const h = w.half;
      const level = w.level;
      const n = contiguousEntries(h.granule, level);
      const da = w.trailAddr[w.trailLen - 1] as number;
      const tableBase = da - (da % 2 ** h.gShift);
      const idx = (da - tableBase) / 8;
      const gIdx = idx - (idx % n);
      const size = 2 ** (h.shiftAt[level + 1] as number);
      const off = offIn(h.iaBits, vaHi, vaLo);
      this.checkContGroup(
        { cpu, half: h, hd: c.ctx.hd, level, groupAddr: tableBase + gIdx * 8, vaOff: off - (off % (size * n)), step },
        step,
        cpu,
      );
    }
    // 1. Descriptor stores not yet visible to this CPU's walks.
    if (hasPending && c.ctx.mmuOn) {
      const n = w.trailLen;
      const ov = this.overlay;
      ov.over.clear();
      const recs: PendingStore[] = [];
      for (let i = 0; i < n; i++) {
        const r = this.pending.get(w.trailAddr[i] as number);
        if (r === undefined) continue;
        const visible = r.needsDc === 0 && r.completeStep !== 0 && (r.cpu !== cpu || c.lastIsb > r.completeStep);
        if (visible) continue;
        recs.push(r);
      }
      if (recs.length > 0) {
        const ow = new Walker(ov, c.ctx);
        for (const r of recs) {
          ov.over.clear();
          ov.over.set(r.pa, [r.oldHi, r.oldLo]);
          const a = this.altFromWalker(ow, "unsynchronized-store", ow.walkRaw(vaHi, vaLo, acc), c.ctx, acc, undefined);
          a.pend = r;
          a.fromStep = this.lastWriterBefore(r);
          alts.push(a);
        }
        if (recs.length > 1) {
          ov.over.clear();
          for (const r of recs) ov.over.set(r.pa, [r.oldHi, r.oldLo]);
          const a = this.altFromWalker(ow, "unsynchronized-store", ow.walkRaw(vaHi, vaLo, acc), c.ctx, acc, undefined);
          a.pend = recs[0];
          alts.push(a);
        }
      }
    }
    // 2. Stale TLB entries and walk-cache / old-context roots of this CPU.
    if (c.stale.length > 0) {
      const curAsid = c.ctx.halves[0].asid;
      const sel = (vaHi >>> 23) & 1;
      for (const e of c.stale) {
        if (e.halfIdx !== sel) continue;
        const off = offIn(e.ia, vaHi, vaLo);
        if (off < e.vaOff || off >= e.vaOff + e.span) continue;
        const tagOk = e.preIsb || e.global || e.asid === curAsid;
        if (e.kind === "leaf") {
          if (!tagOk || !c.ctx.mmuOn) continue;
          const p = directPermissions(e.ctx, e.hi, e.lo, e.apT, e.uxnT, e.pxnT);
          const oa = leafOutputAddress(e.half, e.hi, e.lo, e.level);
          const spanShift = Math.log2(e.span);
          const base = oa - (oa % e.span);
          const a: Alt = {
            source: "stale-tlb",
            fault: ((p >>> permWanted(acc)) & 1) === 0 ? FAULT_PERMISSION : FAULT_NONE,
            pa: base + (off - e.vaOff),
            level: e.level,
            attr: e.ctx.mair[(e.lo >>> 2) & 7] as number,
            sh: e.half.ds ? e.half.walkSh : (e.lo >>> 8) & 3,
            spanShift,
            descAddr: e.descAddr,
            fromStep: e.origin,
            stale: e,
            pend: undefined,
          };
          alts.push(a);
        } else if (e.root !== undefined) {
          if (!c.ctx.mmuOn && !e.preIsb) continue;
          if (e.kind === "table" && !tagOk) continue;
          const rw = e.root.walker;
          const rf = rw.walkRaw(vaHi, vaLo, acc);
          const a = this.altFromWalker(rw, e.kind === "table" ? "walk-cache" : "old-context", rf, e.root.ctx, acc, e.root);
          a.stale = e;
          if (e.kind === "context") {
            // Leaves reachable from the old context carry their own tag.
            if (rf === FAULT_NONE || a.fault === FAULT_PERMISSION) {
              const leafGlobal = (rw.descLo & LO_NG) === 0;
              if (!e.preIsb && !leafGlobal && e.asid !== curAsid) continue;
              if (e.globalOnly && !leafGlobal && !e.preIsb) continue;
            } else if (!e.preIsb) continue;
          }
          alts.push(a);
        }
      }
    }
    if (alts.length > 1) this.judge(c, step, vaHi, vaLo, acc, alts);
    // FEAT_BBM level 1+: whether a block with nT=1 gives a Translation fault is IMPDEF
    // (ASL AArch64.BlocknTFaults), so the fault is an allowed outcome too.
    if (out !== undefined && f === FAULT_NONE && this.bbmLevel >= 1 && primary.level < 3 && (w.descLo & 0x10000) !== 0) {
      alts.push({ ...primary, fault: FAULT_TRANSLATION, source: "memory" });
    }
    return f;
  }

  private lastWriterBefore(r: PendingStore): number {
    // The old value's writer is not tracked per value; report the pending store itself.
    return r.step;
  }

  private differs(a: Alt, b: Alt): boolean {
    const aok = a.fault === FAULT_NONE;
    const bok = b.fault === FAULT_NONE;
    if (aok !== bok) return true;
    if (!aok) return false;
    return a.pa !== b.pa || a.attr !== b.attr || a.sh !== b.sh;
  }

  private judge(c: Cpu, step: number, vaHi: number, vaLo: number, acc: number, alts: Alt[]): void {
    const primary = alts[0] as Alt;
    const va = bigOf(vaHi, vaLo);
    const accName = ["read", "write", "exec"][acc & 3] ?? "access";
    // TLB conflict: two may-held leaf entries of different spans covering this VA.
    let conflict: Alt | undefined;
    if (this.bbmLevel < 3) {
      const okAlts = alts.filter((a) => a.fault === FAULT_NONE || a.fault === FAULT_PERMISSION);
      for (let i = 0; i < okAlts.length; i++) {
        for (let j = i + 1; j < okAlts.length; j++) {
          const a = okAlts[i] as Alt;
          const b = okAlts[j] as Alt;
          if (a.spanShift === 0 || b.spanShift === 0 || a.spanShift === b.spanShift) continue;
          const e = b.stale ?? a.stale;
          conflict ??= { ...b, fault: -1, source: b.source };
          const tr: TraceEntry[] = [
            this.tr(a.fromStep, `wrote a ${2 ** a.spanShift}-byte entry`),
            this.tr(b.fromStep, `wrote a ${2 ** b.spanShift}-byte entry`),
          ];
          if (e !== undefined) tr.push(this.tr(e.changed, "changed the entry without invalidating the old one"));
          this.report(
            "tlb-conflict",
            "conflict.size",
            step,
            c.id,
            `${accName} of VA ${hex(va)} on CPU ${c.id}: the TLB may hold overlapping entries of ${2 ** a.spanShift} and ${2 ** b.spanShift} bytes (descriptors at ${hx(a.descAddr)} and ${hx(b.descAddr)}); the CPU may take a TLB conflict abort (FSC 0b110000)`,
            { va, descAddr: b.descAddr },
            tr,
            `break-before-make the change (invalid, DSB ISHST, TLBI, DSB ISH, new, DSB ISHST, ISB)${this.bbmLevel === 2 ? ", or TLBI the old entry before any access at FEAT_BBM level 2" : ""}`,
            `conflict:${c.id}:${Math.min(a.descAddr, b.descAddr)}:${Math.max(a.descAddr, b.descAddr)}:${e?.id ?? 0}`,
          );
        }
      }
    }
    for (let i = 1; i < alts.length; i++) {
      const a = alts[i] as Alt;
      if (!this.differs(primary, a)) continue;
      const what = `memory says ${this.describeAlt(primary)}, but ${this.describeAlt(a)} is also allowed`;
      if (a.pend !== undefined) {
        const r = a.pend;
        // A stale TLB entry from the same descriptor is the real cause (a DSB alone would not fix it).
        if (alts.some((x) => x.stale !== undefined && x.stale.descAddr === r.pa && !this.differs(x, a))) continue;
        const notDone = r.completeStep === 0 || r.needsDc !== 0;
        const tr = [this.tr(r.step, "stored the descriptor")];
        if (r.completeStep !== 0) tr.push(this.tr(r.completeStep, "DSB completed the store"));
        const detail = r.needsDc !== 0 ? "barrier.cache-maintenance" : notDone ? "barrier.dsb-after-store" : "barrier.isb-after-store";
        const fix =
          r.needsDc === 1
            ? `DC CVAC (or CIVAC) on the descriptor's line, then DSB ISH, then ISB (walks are non-cacheable but the store was cacheable)`
            : r.needsDc === 2
              ? `DC IVAC (or CIVAC) on the descriptor's line after the store, then DSB ISH, then ISB (the store bypassed the cache; walks are cacheable)`
              : notDone
                ? `DSB ISHST on CPU ${r.cpu} after the store at step ${r.step}${r.cpu === c.id ? ", then ISB" : ""}`
                : `ISB on CPU ${c.id} after the DSB at step ${r.completeStep}`;
        this.report(
          "missing-barrier",
          detail,
          step,
          c.id,
          `${accName} of VA ${hex(va)} on CPU ${c.id} depends on the descriptor store at step ${r.step} (${hx(r.pa)}) ${notDone ? (r.needsDc !== 0 ? "which needs cache maintenance before walkers see it" : "which no DSB has completed") : "without an ISB after its DSB"}: ${what}`,
          { va, descAddr: r.pa },
          tr,
          fix,
          `pend:${r.id}:${c.id}`,
        );
        continue;
      }
      const e = a.stale;
      if (e === undefined) continue;
      const tr: TraceEntry[] = [];
      if (e.kind !== "context") tr.push(this.tr(e.origin, "wrote the old descriptor"));
      tr.push(this.tr(e.changed, e.kind === "context" ? "changed the translation registers" : "changed the descriptor"));
      for (const m of e.missed) tr.push(this.tr(m.step, `TLBI did not remove the entry (${m.why})`));
      const vaHex = hex(va);
      let rule: RuleId = "stale-translation";
      let detail: string;
      let msg: string;
      let fix: string;
      if (e.kind === "context") {
        if (e.preIsb) {
          rule = "missing-barrier";
          detail = "barrier.isb-after-msr";
          msg = `${accName} of VA ${vaHex} on CPU ${c.id} follows the MSR at step ${e.changed} without an ISB: the old context may still be used: ${what}`;
          fix = `ISB after the MSR at step ${e.changed}`;
        } else {
          detail = "stale.old-context";
          msg = `${accName} of VA ${vaHex} on CPU ${c.id}: entries cached from the translation registers replaced at step ${e.changed} were never invalidated: ${what}`;
          fix = "TLBI VMALLE1 (or ASIDE1 with the old ASID) + DSB + ISB after switching, or switch to a fresh ASID";
        }
      } else if (e.refill > 0) {
        rule = "missing-barrier";
        detail = "barrier.dsb-before-tlbi";
        tr.push(this.tr(e.refill, "TLBI issued before the store was visible to walkers"));
        msg = `${accName} of VA ${vaHex} on CPU ${c.id}: the descriptor store at step ${e.changed} was not completed by a DSB before the TLBI at step ${e.refill}, so the old entry may be refilled: ${what}`;
        fix = `DSB ISHST between the store at step ${e.changed} and the TLBI at step ${e.refill}`;
      } else if (e.state === ST_TLBI_ISSUED) {
        rule = "missing-barrier";
        detail = "barrier.dsb-after-tlbi";
        tr.push(this.tr(e.tlbiStep, "TLBI issued, no DSB yet"));
        msg = `${accName} of VA ${vaHex} on CPU ${c.id}: the TLBI at step ${e.tlbiStep} is not complete until CPU ${e.tlbiCpu} executes a DSB: ${what}`;
        fix = `DSB ISH after the TLBI at step ${e.tlbiStep}, then ISB`;
      } else if (e.state === ST_AWAIT_ISB) {
        rule = "missing-barrier";
        detail = "barrier.isb-after-tlbi";
        tr.push(this.tr(e.tlbiStep, "TLBI issued"), this.tr(e.completeStep, "DSB completed the TLBI"));
        msg = `${accName} of VA ${vaHex} on CPU ${c.id}: no ISB after the TLBI completed at step ${e.completeStep}; the old translation may still be used: ${what}`;
        fix = `ISB on CPU ${c.id} after the DSB at step ${e.completeStep}`;
      } else {
        detail = e.kind === "table" ? "stale.walk-cache" : "stale.tlb";
        const op = e.kind === "table" ? "VAE1IS (non-last-level)" : e.global ? "VAAE1IS (or VAE1IS)" : "VAE1IS";
        msg = `${accName} of VA ${vaHex} on CPU ${c.id}: the ${e.kind === "table" ? "walk-cache" : "TLB"} entry from descriptor ${hx(e.descAddr)} (${hex(bigOf(e.hi, e.lo))}, changed at step ${e.changed}) was never invalidated: ${what}`;
        fix = `after the store at step ${e.changed}: DSB ISHST; TLBI ${op} for VA ${hex(this.vaOf(e.half, e.vaOff))}${e.global ? "" : ` (ASID ${e.asid})`}; DSB ISH; ISB`;
      }
      this.report(
        rule,
        detail,
        step,
        c.id,
        msg,
        { va, pa: a.fault === FAULT_NONE ? a.pa : undefined, descAddr: e.descAddr >= 0 ? e.descAddr : undefined },
        tr,
        fix,
        `stale:${e.id}:${c.id}:${rule}`,
      );
    }
    if (conflict !== undefined) alts.push(conflict);
  }

  private describeAlt(a: Alt): string {
    if (a.fault === -1) return "a TLB conflict abort";
    const src = a.source === "memory" ? "" : ` (${a.source})`;
    if (a.fault === FAULT_NONE) return `PA ${hx(a.pa)} attr ${hx(a.attr)}${src}`;
    return `a ${FAULT_KINDS[a.fault]} fault at level ${a.level}${src}`;
  }

  // ---------------------------------------------------------------- contiguous groups

  private checkContGroup(g: ContGroup, step: number, cpu: number): void {
    const h = g.half;
    const r = checkContiguousGroup(this.mem, h, g.hd, g.level, g.groupAddr);
    if (!r || !r.anyContiguous || r.problems.length === 0) return;
    if (this.contReported.get(g.groupAddr) === r.signature) return;
    this.contReported.set(g.groupAddr, r.signature);
    const n = r.entries;
    const size = r.entrySize;
    const problems = r.problems.map((p) => describeContiguousProblem(p, g.level));
    const va = this.vaOf(h, g.vaOff);
    this.report(
      "contiguous",
      "contiguous.misprogrammed",
      step,
      cpu,
      `contiguous group of ${n} level-${g.level} entries at ${hx(g.groupAddr)} (VA ${hex(va)}) is misprogrammed: ${problems.slice(0, 4).join("; ")}${problems.length > 4 ? `; … (${problems.length} problems)` : ""}`,
      { va, descAddr: g.groupAddr },
      [this.tr(g.step, "wrote an entry of the group")],
      `write all ${n} entries with the Contiguous bit, consecutive output addresses from a ${hx(size * n)}-aligned base and identical attributes (or clear the bit on all of them)`,
    );
  }

  /** End-of-run checks: contiguous groups written but never published by a DSB. */
  finish(): void {
    if (this.touchedGroups.size === 0) return;
    for (const g of this.touchedGroups.values()) this.checkContGroup(g, this.stepNo, g.cpu);
    this.touchedGroups.clear();
  }

  /** Steps executed so far. */
  get stepCount(): number {
    return this.stepNo;
  }
}
