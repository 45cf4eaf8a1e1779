/**
 * Scenario stepper core (runs in the worker, pure: no Node imports): parse a scenario's text with
 * src/scenario's parser, run it once on the machine model and snapshot every CPU after each step —
 * its registers and what its TLB may hold. Stepping back and forth in the UI then only picks a
 * snapshot (no re-run).
 *
 * What a TLB may hold (reference vmsa-rules.md §5.3, machine.ts "TLB model"): any valid AF=1 leaf
 * or table (walk-cache) entry reachable from the CPU's TTBRs through what memory says now, plus
 * the stale entries the machine keeps: old descriptor values not yet invalidated by a completed
 * TLBI, and the old contexts of changed TTBR/TCR values until an ISB.
 */
import { decodeDescriptor } from "../../../src/arch/descriptor.js";
import type { Regs } from "../../../src/arch/registers.js";
import type { Machine, StaleEntryInfo } from "../../../src/machine/machine.js";
import type { Violation } from "../../../src/machine/types.js";
import type { PhysMem } from "../../../src/mem/physmem.js";
import { parseScenario } from "../../../src/scenario/format.js";
import { scenarioTextOf } from "../../../src/scenario/herd-file.js";
import { isLitmusScenario } from "../../../src/scenario/litmus.js";
import { formatOutcome } from "../../../src/scenario/render.js";
import { runScenario } from "../../../src/scenario/run.js";
import type { HalfContext, WalkContext } from "../../../src/walk/context.js";
import { halfBase, walkEntries } from "../../../src/walk/range.js";

/** Most entries listed per CPU and snapshot (the rest are counted). */
export const TLB_ROW_LIMIT = 128;

export interface TlbRow {
  /** "memory": reachable now; "stale": the machine's record of an entry memory no longer holds. */
  readonly source: "memory" | "stale";
  readonly kind: "leaf" | "table" | "context";
  readonly half: number;
  readonly va: bigint;
  /** Size of one entry; `count` consecutive entries (same attributes, contiguous VA, OA and
   * descriptor addresses) are shown as one row. */
  readonly size: number;
  readonly count: number;
  readonly level: number;
  readonly asid: number;
  /** Leaves: nG=0. Tables and contexts: undefined (tagged with the ASID of the walk). */
  readonly global: boolean | undefined;
  readonly descAddr: number;
  readonly desc: bigint;
  /** Leaves: output address; tables: next-level table address (decoded from `desc`). */
  readonly target: bigint | undefined;
  /** Leaves: AttrIndx, AP, PXN/UXN, contiguous, in short. */
  readonly attrs: string;
  /** For stale rows: the step that wrote the old value, made it stale, and its invalidation state. */
  readonly origin?: number;
  readonly changed?: number;
  readonly state?: StaleEntryInfo["state"];
  readonly tlbiStep?: number;
  readonly note: string;
}

export interface CpuSnapshot {
  readonly regs: Omit<Regs, "features"> & { readonly par: bigint };
  /**
   * The step whose AT (or MSR PAR_EL1) last wrote this CPU's PAR_EL1; absent while nothing has:
   * PAR_EL1 then holds its reset value, which is UNKNOWN (Arm ARM D19 PAR_EL1), not a translation.
   */
  readonly parFrom?: number;
  readonly mmuOn: boolean;
  readonly asids: readonly [number, number];
  readonly tlb: readonly TlbRow[];
  /** Entries beyond TLB_ROW_LIMIT not listed. */
  readonly omitted: number;
  readonly pending: readonly { readonly pa: number; readonly old: bigint; readonly step: number; readonly completeStep: number }[];
}

export interface TraceStep {
  readonly step: number;
  readonly cpu: number;
  readonly text: string;
  readonly line: number;
  /** What the machine executed, e.g. "STR 0x0 -> [PA 0x81ff8]". */
  readonly exec: string;
  /** Outcomes an access may have (formatted), when the step is an access. */
  readonly outcomes?: readonly string[];
  readonly par?: bigint;
  /** In an interleaving other than the file's order: the step's number in the file. */
  readonly fileStep?: number;
}

export interface ScenarioTrace {
  readonly name: string;
  readonly file: string;
  readonly description: string;
  readonly cpus: number;
  readonly steps: readonly TraceStep[];
  /** Index = step number (0: before the first step). */
  readonly snapshots: readonly (readonly CpuSnapshot[])[];
  readonly reports: readonly Violation[];
  readonly hasExpectations: boolean;
  readonly expectationFailures: readonly string[];
  readonly runMs: number;
  /**
   * Values, registers or a final condition: `vmsa check` runs the file on the litmus model (every
   * execution at once), so there are no step-by-step snapshots (`snapshots` is empty); the
   * checker view (lib/checker.ts) shows its executions instead.
   */
  readonly litmus: boolean;
}

function decoded(h: HalfContext, desc: bigint, level: number): { target: bigint | undefined; attrs: string } {
  const d = decodeDescriptor(desc, level, h.fmt);
  if (d.kind === "table") return { target: d.nextTable, attrs: "" };
  if (d.kind === "invalid") return { target: undefined, attrs: "" };
  const a = [`AttrIndx ${d.attrIndx}`, `AP ${d.ap}`];
  if (d.pxn) a.push("PXN");
  if (d.uxn) a.push("UXN");
  if (d.contiguous) a.push("cont");
  if (!d.af) a.push("AF=0");
  return { target: d.oa, attrs: a.join(" ") };
}

function memoryRows(mem: PhysMem, ctx: WalkContext, limit: number, out: TlbRow[]): number {
  let omitted = 0;
  if (!ctx.mmuOn) return 0;
  for (const h of ctx.halves) {
    if (h.epd || h.tnszFault || h.baseFault) continue;
    const base = halfBase(h);
    walkEntries(
      mem,
      h,
      0,
      2 ** h.iaBits,
      (e) => {
        if (e.kind !== "leaf" && e.kind !== "table") return;
        // An AF=0 leaf is never cached unless hardware manages the Access flag (Arm ARM D8.5.1).
        if (e.kind === "leaf" && (e.lo & 0x400) === 0 && !ctx.ha) return;
        const desc = (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
        const leaf = e.kind === "leaf";
        const va = base + BigInt(e.off);
        const d = decoded(h, desc, e.level);
        const global = leaf ? (e.lo & 0x800) === 0 : undefined;
        const last = out[out.length - 1];
        if (
          leaf &&
          last !== undefined &&
          last.source === "memory" &&
          last.kind === "leaf" &&
          last.level === e.level &&
          last.half === h.index &&
          last.global === global &&
          last.attrs === d.attrs &&
          last.va + BigInt(last.size * last.count) === va &&
          last.target !== undefined &&
          d.target === last.target + BigInt(last.size * last.count) &&
          e.descAddr === last.descAddr + 8 * last.count
        ) {
          out[out.length - 1] = { ...last, count: last.count + 1 };
          return;
        }
        if (out.length >= limit) {
          omitted++;
          return;
        }
        out.push({
          source: "memory",
          kind: e.kind,
          half: h.index,
          va,
          size: e.size,
          count: 1,
          level: e.level,
          asid: h.asid,
          global,
          descAddr: e.descAddr,
          desc,
          ...d,
          note: "",
        });
      },
      { tables: true },
    );
  }
  return omitted;
}

function staleRow(ctx: WalkContext, e: StaleEntryInfo): TlbRow {
  const h = ctx.halves[e.half === 0 ? 0 : 1];
  const base = e.half === 0 ? 0n : (1n << 64n) - (1n << BigInt(h.iaBits));
  const notes: string[] = [];
  if (e.kind === "context") notes.push(e.globalOnly ? "old context (global entries only)" : "old context");
  if (e.state === "tlbi-issued") notes.push(`TLBI at step ${e.tlbiStep} not yet completed by a DSB`);
  if (e.state === "await-isb") notes.push(`TLBI at step ${e.tlbiStep} completed; this CPU needs an ISB`);
  for (const m of e.missed) notes.push(`step ${m.step}: ${m.why}`);
  return {
    source: "stale",
    kind: e.kind,
    half: e.half,
    va: base + BigInt(e.vaOff),
    size: e.span,
    count: 1,
    level: e.level,
    asid: e.asid,
    global: e.kind === "leaf" ? e.global : undefined,
    descAddr: e.descAddr,
    desc: e.desc,
    ...(e.kind === "context" ? { target: undefined, attrs: "" } : decoded(h, e.desc, e.level)),
    origin: e.origin,
    changed: e.changed,
    state: e.state,
    tlbiStep: e.tlbiStep,
    note: notes.join("; "),
  };
}

function snapshot(m: Machine, limit: number): CpuSnapshot[] {
  const out: CpuSnapshot[] = [];
  for (let i = 0; i < m.cpuCount; i++) {
    const c = m.cpu(i);
    const snap = m.tlbSnapshot(i);
    const tlb: TlbRow[] = snap.stale.map((e) => staleRow(c.ctx, e));
    const omitted = memoryRows(m.mem, c.ctx, limit + tlb.length, tlb);
    out.push({
      regs: { ...c.regs },
      mmuOn: c.ctx.mmuOn,
      asids: [c.ctx.halves[0].asid, c.ctx.halves[1].asid],
      tlb,
      omitted,
      pending: snap.pending.map((p) => ({ pa: p.pa, old: p.old, step: p.step, completeStep: p.completeStep })),
    });
  }
  return out;
}

/**
 * Parse and run a scenario, snapshotting every CPU before the first step and after each step.
 * `order` (1-based file step numbers, a permutation keeping each CPU's order, e.g. a `--explore`
 * finding's interleaving) runs the steps in that order (runScenario's `order`); the trace then
 * numbers steps by execution position, with `fileStep` naming each one's number in the file.
 */
export function traceScenario(text: string, file: string, limit = TLB_ROW_LIMIT, order?: readonly number[]): ScenarioTrace {
  const t0 = performance.now();
  // A herd7 .litmus file is read as `vmsa check FILE.litmus` reads it.
  const s = parseScenario(scenarioTextOf(text, file), file);
  if (isLitmusScenario(s)) {
    const steps = s.steps.map((spec, i) => ({ step: i + 1, cpu: spec.cpu, text: spec.text, line: spec.line, exec: "" }));
    return {
      name: s.name,
      file,
      description: s.description,
      cpus: s.cpus,
      steps,
      snapshots: [],
      reports: [],
      hasExpectations: false,
      expectationFailures: [],
      runMs: performance.now() - t0,
      litmus: true,
    };
  }
  const snapshots: CpuSnapshot[][] = [];
  const r = runScenario(s, {
    onStep: (_step, m) => snapshots.push(snapshot(m, limit)),
    ...(order ? { order: order.map((x) => x - 1) } : {}),
  });
  const byStep = new Map(r.accesses.map((a) => [a.step, a]));
  const fileSteps = order ?? s.steps.map((_, i) => i + 1);
  // File step number -> execution position (reports come back in file numbering).
  const pos = (k: number): number => (k === 0 || !order ? k : order.indexOf(k) + 1);
  const steps: TraceStep[] = fileSteps.map((k, i) => {
    const spec = s.steps[k - 1] as (typeof s.steps)[number];
    const a = byStep.get(k);
    const outcomes = a ? [...new Set(a.outcomes.map(formatOutcome))] : undefined;
    return {
      step: i + 1,
      cpu: spec.cpu,
      text: spec.text,
      line: spec.line,
      exec: r.steps[i]?.text ?? "",
      ...(outcomes ? { outcomes } : {}),
      ...(a?.par !== undefined ? { par: a.par } : {}),
      ...(order ? { fileStep: k } : {}),
    };
  });
  const reports = order
    ? r.reports.map((v) => ({ ...v, step: pos(v.step), trace: v.trace.map((t) => ({ ...t, step: pos(t.step) })) }))
    : r.reports;
  return {
    name: s.name,
    file,
    description: s.description,
    cpus: s.cpus,
    steps,
    snapshots: withParOrigin(snapshots, steps),
    reports,
    hasExpectations: r.hasExpectations,
    expectationFailures: r.expectationFailures,
    runMs: performance.now() - t0,
    litmus: false,
  };
}

/** Marks each CPU snapshot with the step that last wrote its PAR_EL1 (an AT that completed, or MSR). */
function withParOrigin(snapshots: readonly CpuSnapshot[][], steps: readonly TraceStep[]): CpuSnapshot[][] {
  const from = new Map<number, number>();
  return snapshots.map((cpus, k) => {
    const st = k > 0 ? steps[k - 1] : undefined;
    if (st && (st.par !== undefined || /^MSR PAR_EL1\b/.test(st.exec))) from.set(st.cpu, st.step);
    return cpus.map((c, i) => {
      const f = from.get(i);
      return f === undefined ? c : { ...c, parFrom: f };
    });
  });
}

/** Reports known once `step` has run (end-of-run reports carry the step they point at). */
export function reportsUpTo(t: ScenarioTrace, step: number): Violation[] {
  return t.reports.filter((v) => v.step <= step);
}

/** Steps a report cites (its trace), oldest first, without the report's own step. */
export function citedSteps(v: Violation): number[] {
  return [...new Set(v.trace.map((e) => e.step))].filter((s) => s !== v.step && s > 0).sort((a, b) => a - b);
}

/** Pasted scenarios travel in the URL hash as base64url UTF-8 (no server involved). */
export function encodeText(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeText(s: string): string {
  const b = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b + "=".repeat((4 - (b.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}
