/**
 * Run a parsed scenario on a Machine: build initial memory, evaluate value expressions, execute
 * the steps in order (one interleaving), collect reports and access outcomes, and judge the
 * scenario's own expectations.
 */
import { encodeLeaf, encodeTable } from "../arch/descriptor.js";
import type { Regs } from "../arch/registers.js";
import { Machine, tlbiRange, tlbiVa } from "../machine/machine.js";
import type { TableIndexSeed } from "../machine/table-index.js";
import type { Outcome, StepRecord, Violation } from "../machine/types.js";
import { PhysMem } from "../mem/physmem.js";
import { compileRegs, type HalfContext } from "../walk/context.js";
import { ScenarioError, TableBuilder } from "./build.js";
import { type Expr, leafFieldError, leafFieldsFrom, type OutcomeMatcher, type Scenario, type StepOp, type StepSpec } from "./format.js";

export interface AccessRecord {
  readonly step: number;
  readonly cpu: number;
  readonly text: string;
  readonly line: number;
  readonly outcomes: readonly Outcome[];
  readonly par?: bigint;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly reports: readonly Violation[];
  readonly accesses: readonly AccessRecord[];
  readonly steps: readonly StepRecord[];
  /** Unmet expectations, in words (empty when the scenario states none or all hold). */
  readonly expectationFailures: readonly string[];
  readonly hasExpectations: boolean;
}

function fail(s: Scenario, line: number, field: string, msg: string): never {
  throw new ScenarioError("ESCENARIO", `${s.file}:${line}: ${field}: ${msg}`);
}

/** Initial memory and value evaluation for one scenario. */
export class Env {
  readonly builders: [TableBuilder | undefined, TableBuilder | undefined];
  readonly halves: readonly [HalfContext, HalfContext];
  readonly s: Scenario;
  constructor(s: Scenario, mem: PhysMem, regs: Regs) {
    this.s = s;
    const ctx = compileRegs(regs);
    this.halves = ctx.halves;
    const pool = { next: s.pool };
    const mk = (h: HalfContext, ttbr: bigint): TableBuilder | undefined => {
      if (ttbr === 0n) return undefined;
      if (!mem.isBacked(h.base)) mem.zero(BigInt(h.base - (h.base % 4096)), 4096);
      return new TableBuilder({ mem, half: h, pool });
    };
    this.builders = [mk(ctx.halves[0], regs.ttbr0), mk(ctx.halves[1], regs.ttbr1)];
  }

  builder(va: bigint, line: number, field: string): TableBuilder {
    const half = Number((va >> 55n) & 1n);
    const b = this.builders[half];
    if (!b) fail(this.s, line, field, `VA 0x${va.toString(16)} is in the TTBR${half} half but machine.regs.TTBR${half}_EL1 is not set`);
    return b;
  }

  /** A leaf or descriptor level: 0..3 (ASL AArch64 translation levels; level -1 holds only tables). */
  level(v: bigint, line: number, field: string, what: string): number {
    if (v > 3n) fail(this.s, line, field, `${what}: level ${v} does not exist (expected 0..3)`);
    return Number(v);
  }

  eval(x: Expr, line: number, field: string, depth = 0): bigint {
    if (depth > 16) fail(this.s, line, field, "value references nest too deeply (a cycle?)");
    switch (x.e) {
      case "num":
        return x.v;
      case "ref": {
        const v = this.s.values.get(x.name);
        if (v === undefined) fail(this.s, line, field, `unknown value $${x.name} (define it under values:)`);
        return this.eval(v, line, field, depth + 1);
      }
      case "table": {
        const b = this.builders[1] ?? this.builders[0];
        const fmt = b?.fmt ?? this.halves[1].fmt;
        const nextTable = this.eval(x.pa, line, field, depth + 1);
        try {
          return encodeTable({ nextTable, uxnTable: false }, fmt);
        } catch (e) {
          // e.g. a next-level table address not aligned to the granule
          if (e instanceof RangeError) fail(this.s, line, field, `table(): ${e.message}`);
          throw e;
        }
      }
      case "desc": {
        const va = this.eval(x.va, line, field, depth + 1);
        const level = this.level(this.eval(x.level, line, field, depth + 1), line, field, "desc()");
        const b = this.builder(va, line, field);
        try {
          return b.slot(va, level, false);
        } catch (e) {
          if (e instanceof ScenarioError) fail(this.s, line, field, e.message);
          throw e;
        }
      }
      case "leaf": {
        const f: Record<string, bigint> = {};
        for (const [k, v] of Object.entries(x.fields)) {
          const value = this.eval(v, line, field, depth + 1);
          const bad = k === "oa" || k === "level" ? undefined : leafFieldError(k, value);
          if (bad) fail(this.s, line, field, `leaf(): ${k}=${bad}`);
          f[k] = value;
        }
        const n = (k: string, d: number): number => (f[k] === undefined ? d : Number(f[k]));
        const level = f.level === undefined ? 3 : this.level(f.level, line, field, "leaf()");
        const h = this.halves[1];
        const fmt = h.fmt;
        try {
          return encodeLeaf({ oa: BigInt(f.oa ?? 0n), ...leafFieldsFrom(n) }, level, fmt);
        } catch (e) {
          return fail(this.s, line, field, (e as Error).message);
        }
      }
    }
  }
}

function matches(o: Outcome, m: OutcomeMatcher): boolean {
  if (m.kind !== o.kind) return false;
  if (m.pa !== undefined && o.pa !== m.pa) return false;
  if (m.fault !== undefined && o.fault !== m.fault) return false;
  return true;
}

/** Most leaves one memory.map entry writes (a full 64K-granule level-3 table is 8192). */
const MAX_MAP_LEAVES = 0x2_0000n;

export interface RunOptions {
  mem?: PhysMem;
  /** Called with step 0 before the first step and after each step (UI snapshots). */
  onStep?: (step: number, m: Machine) => void;
  /** Execution order as 0-based scenario step indices (a permutation; --explore). */
  order?: readonly number[];
}

type StepOutput = { outcomes?: readonly Outcome[]; par?: bigint };
type Ready = { spec: StepSpec; run: (m: Machine) => StepOutput | null };

/**
 * A scenario ready to run: its initial memory built and every step's operands evaluated. Run it
 * with `runPrepared`, once or (--explore) many times: `reusable` keeps the memory in its initial
 * state between runs (a copy-on-write rollback) and lets each machine reuse the first one's
 * table index instead of walking the tables again.
 */
export interface PreparedScenario {
  readonly scenario: Scenario;
  readonly mem: PhysMem;
  readonly ready: readonly Ready[];
  /** Set by `reusable`: the initial table index, and runs roll memory back when done. */
  seed: TableIndexSeed | undefined;
  reusable: boolean;
}

/** Run one scenario. Throws ScenarioError for bad input found while building. */
export function runScenario(s: Scenario, opts: RunOptions = {}): ScenarioResult {
  return runPrepared(prepareScenario(s, opts.mem), opts);
}

/** Make `p` reusable for many runs (memory checkpointed, initial table index kept). */
export function makeReusable(p: PreparedScenario): void {
  if (p.reusable) return;
  p.mem.checkpoint();
  p.seed = machineFor(p).initialTableIndex();
  p.reusable = true;
}

function machineFor(p: PreparedScenario): Machine {
  const s = p.scenario;
  return new Machine({
    cpus: s.cpus,
    mem: p.mem,
    bbmLevel: s.bbmLevel,
    regs: s.regs,
    cpuRegs: s.cpuRegs,
    ...(p.seed !== undefined ? { tableIndexSeed: p.seed } : {}),
  });
}

/** Build the scenario's initial memory (RAM, maps, words, fills) in `mem`; returns the evaluator. */
export function buildInitialMemory(s: Scenario, mem: PhysMem): Env {
  for (const r of s.ram) mem.addRam(r.base, r.size);
  const regs0: Regs = { ...s.regs, ...(s.cpuRegs[0] ?? {}) };
  const env = new Env(s, mem, regs0);
  for (const m of s.maps) {
    const b = env.builder(m.va, m.line, "memory.map");
    const leafSize = 1n << BigInt(b.granule.shift + b.granule.stride * (3 - m.level));
    const size = m.size === 0n ? leafSize : m.size;
    // The tables are built one leaf at a time: a corrupt size must not become hours of stores.
    if (size / leafSize > MAX_MAP_LEAVES) {
      fail(
        s,
        m.line,
        "memory.map",
        `size 0x${size.toString(16)} is ${size / leafSize} level-${m.level} leaves (expected at most ${MAX_MAP_LEAVES})`,
      );
    }
    try {
      b.map(m.va, m.pa, size, m.level, m.fields);
    } catch (e) {
      if (e instanceof ScenarioError || e instanceof RangeError) fail(s, m.line, "memory.map", e.message);
      throw e;
    }
  }
  for (const w of s.words) {
    if ((w.pa & 7n) !== 0n) fail(s, w.line, `memory.words.0x${w.pa.toString(16)}`, "address must be 8-byte aligned");
    mem.write64(w.pa, env.eval(w.value, w.line, `memory.words.0x${w.pa.toString(16)}`));
  }
  for (const fl of s.fills) {
    const f = `memory.fill (line ${fl.line})`;
    if ((fl.pa & 7n) !== 0n) fail(s, fl.line, "memory.fill.pa", "address must be 8-byte aligned");
    const v = env.eval(fl.value, fl.line, f);
    for (let i = 0; i < fl.count; i++) mem.write64(fl.pa + BigInt(i) * 8n, v + BigInt(i) * fl.stride);
  }
  return env;
}

/** The Xt operand of a scenario TLBI step (VA, asid=, pages= or op=). */
export function tlbiOperandOf(env: Env, s: Scenario, spec: StepSpec, f: string, op: StepOp & { op: "tlbi" }): bigint {
  const ev = (x: Expr): bigint => env.eval(x, spec.line, f);
  // The TLBI operand's ASID field is 16 bits (Xt[63:48]); a wider value would be truncated.
  const asidOf = (x: Expr): bigint => {
    const v = ev(x);
    if (v > 0xffffn) fail(s, spec.line, f, `asid=0x${v.toString(16)} does not fit the 16-bit ASID field (expected 0..0xffff)`);
    return v;
  };
  let operand = 0n;
  if (op.operand !== undefined) operand = ev(op.operand);
  else if (op.va !== undefined) {
    const va = ev(op.va);
    const asid = op.asid !== undefined ? Number(asidOf(op.asid)) : 0;
    if (op.pages !== undefined) {
      const g = env.halves[Number((va >> 55n) & 1n)]?.granule.size ?? 4096;
      const pages = ev(op.pages);
      if (pages < 1n) fail(s, spec.line, f, "TLBI pages=0: a range operation covers at least one page");
      try {
        operand = tlbiRange(va, Number(pages), g, asid);
      } catch (e) {
        fail(s, spec.line, f, (e as Error).message);
      }
    } else operand = tlbiVa(va, asid);
  } else if (op.asid !== undefined) operand = asidOf(op.asid) << 48n;
  return operand;
}

/** Build a scenario's initial memory and evaluate its steps' operands. Throws ScenarioError for bad input. */
export function prepareScenario(s: Scenario, memIn?: PhysMem): PreparedScenario {
  const mem = memIn ?? new PhysMem();
  const env = buildInitialMemory(s, mem);
  // Evaluate every step's operands against the initial memory before running.
  const ready: Ready[] = s.steps.map((spec, i) => {
    const f = `steps[${i}]`;
    const ev = (x: Expr | undefined): bigint => (x === undefined ? 0n : env.eval(x, spec.line, f));
    const c = spec.cpu;
    const op = spec.op;
    switch (op.op) {
      case "store": {
        const pa = ev(op.pa);
        const v = ev(op.value);
        if ((pa & 7n) !== 0n) fail(s, spec.line, f, `store address 0x${pa.toString(16)} is not 8-byte aligned`);
        return {
          spec,
          run: (m): StepOutput | null => {
            if (op.release) m.storeRelease(c, pa, v);
            else m.store64(c, pa, v);
            return null;
          },
        };
      }
      case "access": {
        const va = ev(op.va);
        const value = op.value !== undefined ? ev(op.value) : undefined;
        return {
          spec,
          run: (m): StepOutput | null =>
            op.kind === "load" ? m.load(c, va, op.el) : op.kind === "fetch" ? m.fetch(c, va, op.el) : m.store(c, va, op.el, value),
        };
      }
      case "msr": {
        const v = ev(op.value);
        return {
          spec,
          run: (m): StepOutput | null => {
            m.msr(c, op.reg, v);
            return null;
          },
        };
      }
      case "dsb":
        return {
          spec,
          run: (m): StepOutput | null => {
            m.dsb(c, op.kind);
            return null;
          },
        };
      case "dmb":
        return {
          spec,
          run: (m): StepOutput | null => {
            m.dmb(c, op.kind);
            return null;
          },
        };
      case "isb":
        return {
          spec,
          run: (m): StepOutput | null => {
            m.isb(c);
            return null;
          },
        };
      case "tlbi": {
        const operand = tlbiOperandOf(env, s, spec, f, op);
        return {
          spec,
          run: (m): StepOutput | null => {
            m.tlbi(c, op.tlbi, operand);
            return null;
          },
        };
      }
      case "dc": {
        const va = ev(op.va);
        return {
          spec,
          run: (m): StepOutput | null => {
            m.dc(c, op.dc, va);
            return null;
          },
        };
      }
      case "ic":
        return {
          spec,
          run: (m): StepOutput | null => {
            m.ic(c, op.ic);
            return null;
          },
        };
      case "at": {
        const va = ev(op.va);
        return { spec, run: (m): StepOutput | null => m.at(c, op.at, va) };
      }
      case "protect":
      case "unprotect": {
        const pa = ev(op.pa);
        const size = ev(op.size);
        return {
          spec,
          run: (m): StepOutput | null => {
            if (op.op === "protect") m.protect(c, pa, size);
            else m.unprotect(c, pa, size);
            return null;
          },
        };
      }
    }
    // Litmus instructions (registers, branches, exceptions) run on the litmus model (scenario/litmus.ts).
    return fail(
      s,
      spec.line,
      f,
      `"${spec.text}" is a litmus instruction: check runs such files with the litmus model (exists/forall outcomes), not step by step`,
    );
  });
  return { scenario: s, mem, ready, seed: undefined, reusable: false };
}

/** Run a prepared scenario once, in `opts.order` or as written. */
export function runPrepared(p: PreparedScenario, opts: Omit<RunOptions, "mem"> = {}): ScenarioResult {
  try {
    return runOnce(p, opts);
  } finally {
    if (p.reusable) p.mem.rollback();
  }
}

function runOnce(p: PreparedScenario, opts: Omit<RunOptions, "mem">): ScenarioResult {
  const s = p.scenario;
  const ready = p.ready;
  const m = machineFor(p);
  const accesses: AccessRecord[] = [];
  const failures: string[] = [];
  let hasExpectations = s.expectViolations !== undefined;
  const order = opts.order ?? ready.map((_, i) => i);
  if (opts.order !== undefined && [...order].sort((a, b) => a - b).some((x, i) => x !== i)) {
    throw new RangeError(`runScenario: order must be a permutation of 0..${ready.length - 1}`);
  }
  const toScenarioStep = (machineStep: number): number => (machineStep === 0 ? 0 : (order[machineStep - 1] ?? machineStep - 1) + 1);
  opts.onStep?.(0, m);
  order.forEach((idx, i) => {
    const r = ready[idx] as Ready;
    const res = r.run(m);
    const step = idx + 1;
    opts.onStep?.(i + 1, m);
    if (res?.outcomes !== undefined) {
      accesses.push({
        step,
        cpu: r.spec.cpu,
        text: r.spec.text,
        line: r.spec.line,
        outcomes: res.outcomes,
        ...(res.par !== undefined ? { par: res.par } : {}),
      });
      for (const a of r.spec.allowed) {
        hasExpectations = true;
        if (!res.outcomes.some((o) => matches(o, a)))
          failures.push(`step ${step} (line ${r.spec.line}): outcome ${a.text} expected to be allowed, but it is not`);
      }
      for (const a of r.spec.forbidden) {
        hasExpectations = true;
        if (res.outcomes.some((o) => matches(o, a)))
          failures.push(`step ${step} (line ${r.spec.line}): outcome ${a.text} expected to be forbidden, but it is allowed`);
      }
    } else if (r.spec.allowed.length + r.spec.forbidden.length > 0) {
      failures.push(`step ${step} (line ${r.spec.line}): outcome expectations on a step that is not an access`);
    }
  });
  m.finish();
  // Report steps in scenario numbering (they differ from execution order when exploring).
  const reports: Violation[] =
    opts.order === undefined
      ? m.reports
      : m.reports.map((v) => ({ ...v, step: toScenarioStep(v.step), trace: v.trace.map((t) => ({ ...t, step: toScenarioStep(t.step) })) }));
  if (s.expectViolations !== undefined) {
    const exp = s.expectViolations;
    const hit = (v: Violation, e: (typeof exp)[number]): boolean =>
      v.rule === e.rule && (e.step === undefined || e.step === v.step) && (e.cpu === undefined || e.cpu === v.cpu);
    for (const e of exp) {
      if (!reports.some((v) => hit(v, e)))
        failures.push(
          `expected a ${e.rule} violation${e.step !== undefined ? ` at step ${e.step}` : ""}${e.cpu !== undefined ? ` on CPU ${e.cpu}` : ""}, none reported`,
        );
    }
    for (const v of reports) {
      if (!exp.some((e) => hit(v, e))) failures.push(`unexpected ${v.rule} violation at step ${v.step} (CPU ${v.cpu})`);
    }
  }
  return { scenario: s, reports, accesses, steps: m.steps, expectationFailures: failures, hasExpectations };
}
