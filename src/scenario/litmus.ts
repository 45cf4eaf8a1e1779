/**
 * Scenarios at litmus level: build each CPU's program from the steps (older step kinds become
 * the matching instruction: `store PA V` a physical store, `load VA` a load whose value is not
 * kept, DC/IC/AT/PROTECT no-ops), enumerate every execution on the litmus model
 * (machine/litmus), list the distinct final states, and judge the file's final condition:
 * `exists` claims the outcome is allowed, `~exists` that it is forbidden, `forall` that it is
 * required (herd7's kinds Allowed / Forbidden / Required).
 */

import { FAULT_NONE } from "../arch/fault.js";
import type { Regs } from "../arch/registers.js";
import { claimOf, type FinalCondition, holds, type Prop } from "../machine/litmus/condition.js";
import { enumerateExecutions, type StopReason } from "../machine/litmus/enumerate.js";
import { LitmusExecution, type LitmusSetup } from "../machine/litmus/exec.js";
import type { FaultRecord, FinalState } from "../machine/litmus/outcome.js";
import type { Address, CpuProgram, Instr, Line, Operand } from "../machine/litmus/program.js";
import { type ExecEvent, replayChoices } from "../machine/litmus/record.js";
import { PhysMem } from "../mem/physmem.js";
import { compileRegs } from "../walk/context.js";
import { accessCode, Walker } from "../walk/walker.js";
import { ScenarioError } from "./build.js";
import type { Scenario, StepSpec } from "./format.js";
import { parseFinalCondition } from "./litmus-condition.js";
import { checkLitmusTraces, type LitmusFinding } from "./litmus-rules.js";
import type { LAddress, LitmusSpec, LOperand } from "./litmus-steps.js";
import { buildInitialMemory, type Env, tlbiOperandOf } from "./run.js";

export interface LitmusState {
  readonly key: string;
  readonly state: FinalState;
  /** Executions that end in it. */
  readonly count: number;
  /** Whether the final condition's proposition holds in it (undefined without a condition). */
  readonly satisfies: boolean | undefined;
  /** Choices of executions ending here (distinct traces; LitmusRunOptions.samplesPerState): replayLitmus runs one again. */
  readonly samples: readonly (readonly number[])[];
}

export type ConditionVerdict = "as-claimed" | "contradicted" | "inconclusive";

export interface LitmusResult {
  readonly scenario: Scenario;
  readonly states: readonly LitmusState[];
  readonly executions: number;
  readonly blocked: number;
  readonly stopped: StopReason | undefined;
  readonly limit: number;
  readonly condition:
    | {
        readonly final: FinalCondition;
        readonly claim: "allowed" | "forbidden" | "required";
        /** Final states satisfying the proposition. */
        readonly witnesses: number;
        readonly verdict: ConditionVerdict;
      }
    | undefined;
  /** Registers shown in each state, as "P<cpu>:X<n>". */
  readonly registers: readonly { cpu: number; reg: number }[];
  /** Rules the executions break (each distinct execution replayed on the rule checker). */
  readonly findings: readonly LitmusFinding[];
  /** Distinct executions replayed, and whether there were more than were kept. */
  readonly tracesChecked: number;
  readonly tracesTruncated: boolean;
}

/** Whether the scenario needs the litmus model: a final condition, litmus instructions or handler steps. */
export function isLitmusScenario(s: Scenario): boolean {
  return s.final !== undefined || s.registers.length > 0 || s.steps.some((x) => x.op.op === "litmus" || x.handler === true);
}

function fail(s: Scenario, line: number, field: string, msg: string): never {
  throw new ScenarioError("ESCENARIO", `${s.file}:${line}: ${field}: ${msg}`);
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

function regsOf(s: Scenario, cpu: number): Regs {
  return { ...s.regs, ...(s.cpuRegs[cpu] ?? {}) };
}

/** Build the programs (one per CPU) from the scenario's steps. */
function programs(s: Scenario, env: Env): { progs: CpuProgram[]; labels: Map<string, number>[] } {
  const progs: CpuProgram[] = [];
  const labels: Map<string, number>[] = [];
  for (let c = 0; c < s.cpus; c++) {
    const idx = s.steps.map((st, i) => ({ st, i })).filter((x) => x.st.cpu === c);
    const main = idx.filter((x) => !x.st.handler);
    const handler = idx.filter((x) => x.st.handler);
    const order = [...main, ...handler];
    const lab = new Map<string, number>();
    order.forEach((x, n) => {
      const l = x.st.label;
      if (l === undefined) return;
      if (lab.has(l)) fail(s, x.st.line, `steps[${x.i}]`, `label ${l} is already used on P${c}`);
      lab.set(l, n);
    });
    const lines: Line[] = order.map((x) => ({
      instr: instrOf(s, env, x.st, `steps[${x.i}]`, lab),
      label: x.st.label,
      text: x.st.text,
      step: x.i + 1,
    }));
    const regs = new Map<number, bigint>();
    for (const r of s.registers) if (r.cpu === c) regs.set(r.reg, env.eval(r.value, r.line, `registers.P${c}:X${r.reg}`));
    progs.push({ lines, handlerStart: main.length, el: s.litmus.el[c] ?? 1, regs });
    labels.push(lab);
  }
  return { progs, labels };
}

function instrOf(s: Scenario, env: Env, spec: StepSpec, f: string, labels: Map<string, number>): Instr {
  const ev = (x: Parameters<Env["eval"]>[0]): bigint => env.eval(x, spec.line, f);
  const imm = (v: bigint): Operand => ({ k: "imm", v });
  const op = spec.op;
  switch (op.op) {
    case "store":
      return { i: "str", src: imm(ev(op.value)), addr: { space: "pa", base: imm(ev(op.pa)) }, rel: op.release };
    case "access": {
      const addr: Address = { space: "va", base: imm(ev(op.va)) };
      if (op.kind === "store") return { i: "str", src: imm(op.value !== undefined ? ev(op.value) : 0n), addr, rel: false };
      return { i: "ldr", rt: undefined, addr, acq: "", ...(op.kind === "fetch" ? { exec: true } : {}) };
    }
    case "msr":
      return { i: "msr", reg: op.reg, src: imm(ev(op.value)) };
    case "dsb":
    case "dmb":
      return { i: op.op, kind: op.kind };
    case "isb":
      return { i: "isb" };
    case "tlbi":
      return { i: "tlbi", op: op.tlbi, operand: imm(tlbiOperandOf(env, s, spec, f, op)) };
    case "dc":
    case "ic":
    case "at":
    case "protect":
    case "unprotect":
      return { i: "nop" };
    case "litmus":
      return litmusInstr(op.spec, ev, (l) => {
        const n = labels.get(l);
        if (n === undefined) fail(s, spec.line, f, `no label ${l} on P${spec.cpu}`);
        return n;
      });
  }
}

function litmusInstr(x: LitmusSpec, ev: (e: Parameters<Env["eval"]>[0]) => bigint, label: (l: string) => number): Instr {
  const operand = (o: LOperand): Operand => (o.k === "reg" ? o : { k: "imm", v: ev(o.e) });
  const address = (a: LAddress): Address => ({
    space: a.space,
    base: operand(a.base),
    ...(a.index !== undefined ? { index: a.index } : {}),
  });
  switch (x.i) {
    case "ldr":
      return { i: "ldr", rt: x.rt, addr: address(x.addr), acq: x.acq };
    case "str":
      return { i: "str", src: operand(x.src), addr: address(x.addr), rel: x.rel };
    case "rmw":
      return { i: "rmw", op: x.op, rs: x.rs, rt: x.rt, addr: address(x.addr), acq: x.acq, rel: x.rel };
    case "mov":
      return { i: "mov", rd: x.rd, src: operand(x.src) };
    case "alu":
      return { i: "alu", op: x.op, rd: x.rd, rn: x.rn, src: operand(x.src) };
    case "cbz":
    case "cbnz":
      return { i: x.i, rn: x.rn, target: label(x.target) };
    case "b":
      return { i: "b", target: label(x.target) };
    case "tlbi":
      return { i: "tlbi", op: x.op, operand: operand(x.operand) };
    case "msr":
      return { i: "msr", reg: x.reg, src: operand(x.src) };
    case "svc":
      return { i: "svc" };
    case "eret":
      return x.target === undefined ? { i: "eret" } : { i: "eret", target: label(x.target) };
    case "nop":
      return { i: "nop" };
  }
}

/** Registers the programs write or start with (shown in every final state). */
function observedRegisters(s: Scenario, prop: Prop | undefined): { cpu: number; reg: number }[] {
  const set = new Set<string>();
  const add = (cpu: number, reg: number): void => {
    set.add(`${cpu}:${reg}`);
  };
  for (const st of s.steps) {
    if (st.op.op !== "litmus") continue;
    const x = st.op.spec;
    if (x.i === "ldr") add(st.cpu, x.rt);
    if (x.i === "mov" || x.i === "alu") add(st.cpu, x.rd);
    if (x.i === "rmw") add(st.cpu, x.op === "cas" ? x.rs : x.rt);
  }
  for (const r of s.registers) add(r.cpu, r.reg);
  const walk = (p: Prop): void => {
    if (p.k === "reg") add(p.cpu, p.reg);
    if (p.k === "and" || p.k === "or" || p.k === "implies") {
      walk(p.a);
      walk(p.b);
    }
    if (p.k === "not") walk(p.a);
  };
  if (prop) walk(prop);
  return [...set]
    .map((k) => k.split(":").map(Number) as [number, number])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([cpu, reg]) => ({ cpu, reg }));
}

/** Locations a condition names (shown in every final state). */
function conditionLocations(p: Prop | undefined, out: Set<number>): Set<number> {
  if (p === undefined) return out;
  if (p.k === "mem") out.add(p.pa);
  if (p.k === "and" || p.k === "or" || p.k === "implies") {
    conditionLocations(p.a, out);
    conditionLocations(p.b, out);
  }
  if (p.k === "not") conditionLocations(p.a, out);
  return out;
}

export function faultText(f: FaultRecord): string {
  return `fault(P${f.cpu}:${f.label ?? `step${f.step}`},${hex(f.va)},${f.kind}${f.stage === 2 ? ",stage2" : ""})`;
}

export interface LitmusRunOptions {
  /** Executions to run at most (default 200000). */
  readonly limit?: number;
  readonly budgetMs?: number;
  readonly now?: () => number;
  /** Distinct executions replayed on the rule checker at most (default 5000). */
  readonly traceLimit?: number;
  /** Executions kept per final state for replayLitmus (default 0). */
  readonly samplesPerState?: number;
}

export const DEFAULT_LITMUS_LIMIT = 200_000;

/** Distinct executions replayed on the rule checker at most. */
const TRACE_LIMIT = 5000;

interface Prepared {
  readonly setup: LitmusSetup;
  readonly final: FinalCondition | undefined;
  readonly registers: { cpu: number; reg: number }[];
  readonly key: (st: FinalState) => string;
}

/** The programs, initial memory and final condition of a litmus scenario, and the key of a final state. */
function prepare(s: Scenario): Prepared {
  const mem = new PhysMem();
  const env = buildInitialMemory(s, mem);
  const { progs, labels } = programs(s, env);
  const regs0 = regsOf(s, 0);
  const features = s.regs.features;
  let final: FinalCondition | undefined;
  if (s.final !== undefined) {
    const line = s.final.line;
    const walker = new Walker(mem, compileRegs({ ...regs0, features }));
    final = parseFinalCondition(s.final.text, {
      cpus: s.cpus,
      fail: (msg) => fail(s, line, "final", msg),
      value: (t) => {
        const x = t.trim();
        if (x.startsWith("$")) return env.eval({ e: "ref", name: x.slice(1) }, line, "final");
        if (/^0x[0-9a-f_]+$/i.test(x) || /^[0-9_]+$/.test(x)) return BigInt(x.replace(/_/g, ""));
        return fail(s, line, "final", `"${x}" is not a value (expected a number, 0x hex or decimal, or $NAME)`);
      },
      vaToPa: (va) => {
        const f = walker.walkRaw(Number(va >> 32n), Number(va & 0xffffffffn), accessCode({ type: "read", el: 1 }));
        if (f !== FAULT_NONE) fail(s, line, "final", `[${hex(va)}]: the VA is not mapped in P0's initial tables (use [pa:PA])`);
        return walker.pa - (walker.pa % 8);
      },
      labelLine: (cpu, label) => {
        const n = labels[cpu]?.get(label);
        if (n === undefined) fail(s, line, "final", `no label ${label} on P${cpu}`);
        return n;
      },
    });
  }
  const registers = observedRegisters(s, final?.prop);
  const locs = conditionLocations(final?.prop, new Set());
  const setup: LitmusSetup = {
    mem,
    programs: progs,
    regs: progs.map((_, i) => regsOf(s, i)),
    features,
    stage2: s.litmus.stage2.map((x) => (x === undefined ? undefined : { root: Number(x.root), vmid: x.vmid })),
    options: { ets: s.litmus.ets, faultMode: s.litmus.faults, eis: s.litmus.eis, eos: s.litmus.eos, maxSteps: 256, haft: s.litmus.haft },
  };
  const key = (st: FinalState): string => {
    const parts: string[] = [];
    for (const r of registers) parts.push(`P${r.cpu}:X${r.reg}=${hex(st.regs[r.cpu]?.[r.reg] ?? 0n)}`);
    const pas = new Set<number>([...st.mem.keys(), ...locs]);
    for (const pa of [...pas].sort((a, b) => a - b)) parts.push(`[pa:${hex(pa)}]=${hex(st.read(pa))}`);
    for (const f of st.faults) parts.push(faultText(f));
    return parts.join("; ");
  };
  return { setup, final, registers, key };
}

export function runLitmus(s: Scenario, opts: LitmusRunOptions = {}): LitmusResult {
  const { setup, final, registers, key } = prepare(s);
  const limit = opts.limit ?? DEFAULT_LITMUS_LIMIT;
  const e = enumerateExecutions(setup, {
    limit,
    key,
    traceLimit: opts.traceLimit ?? TRACE_LIMIT,
    ...(opts.samplesPerState !== undefined ? { samplesPerState: opts.samplesPerState } : {}),
    ...(opts.budgetMs !== undefined ? { budgetMs: opts.budgetMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const states: LitmusState[] = [...e.states.entries()].map(([k, v]) => ({
    key: k,
    state: v.state,
    count: v.count,
    satisfies: final ? holds(final.prop, v.state) : undefined,
    samples: v.samples,
  }));
  let condition: LitmusResult["condition"];
  if (final !== undefined) {
    const witnesses = states.filter((x) => x.satisfies).length;
    const complete = e.stopped === undefined;
    let verdict: ConditionVerdict;
    if (final.quantifier === "exists") verdict = witnesses > 0 ? "as-claimed" : complete ? "contradicted" : "inconclusive";
    else if (final.quantifier === "~exists") verdict = witnesses > 0 ? "contradicted" : complete ? "as-claimed" : "inconclusive";
    else verdict = witnesses < states.length ? "contradicted" : complete ? "as-claimed" : "inconclusive";
    condition = { final, claim: claimOf(final.quantifier), witnesses, verdict };
  }
  const findings = checkLitmusTraces(s, e.traces);
  return {
    scenario: s,
    states,
    executions: e.executions,
    blocked: e.blocked,
    stopped: e.stopped,
    limit,
    condition,
    registers,
    findings,
    tracesChecked: e.traces.length,
    tracesTruncated: e.tracesTruncated,
  };
}

/** One execution of a litmus scenario run again, instruction by instruction (record.ts). */
export interface LitmusReplay {
  /** "final": it ended; the other kinds mean the choices do not describe a complete execution. */
  readonly kind: "final" | "blocked" | "bounded" | "completion-bound";
  readonly events: readonly ExecEvent[];
  /** The final state's key (LitmusState.key), when it ended. */
  readonly key: string | undefined;
}

/**
 * Run the execution that `choices` (a LitmusState sample) describes again, recording every
 * instruction and the write each of its reads read from.
 */
export function replayLitmus(s: Scenario, choices: readonly number[]): LitmusReplay {
  const { setup, key } = prepare(s);
  const events: ExecEvent[] = [];
  const r = new LitmusExecution(setup, replayChoices(choices), events).run();
  return { kind: r.kind, events, key: r.kind === "final" ? key(r.state) : undefined };
}
