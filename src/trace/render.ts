/**
 * Text and JSON reports of a replayed trace: each broken rule with the guest PC of the record
 * that broke it (and its kernel function with a System.map), the earlier records that led to it,
 * grouped by (rule, PC) so a kernel path that breaks a rule a thousand times prints once with a
 * count; then the figures (records, steps, records per second) and the verdict.
 */
import { hex } from "../arch/u64.js";
import type { Violation } from "../machine/machine.js";
import {
  ACCESS_EL0,
  BARRIER_NAMES,
  barrierDomain,
  DC_OPS,
  MSR_REGS,
  REC_ACCESS,
  REC_BARRIER,
  REC_CPU_OFF,
  REC_DC,
  REC_ERET,
  REC_EXC,
  REC_MSR,
  REC_STORE,
  REC_TLBI,
  tlbiEncodingText,
  tlbiName,
} from "./format.js";
import type { TraceReader } from "./reader.js";
import type { ReplayResult } from "./replay.js";
import type { SymbolMap } from "./system-map.js";

export type TraceVerdict = "clean" | "violations" | "inconclusive";

export interface RecordInfo {
  readonly offset: number;
  readonly cpu: number;
  readonly pc: bigint;
  readonly text: string;
  readonly symbol?: string;
}

const big = (hi: number, lo: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** Decode the record at `offset` into its CPU, PC and an instruction-like text. */
export function describeRecord(r: TraceReader, offset: number, syms?: SymbolMap): RecordInfo {
  r.seek(offset);
  r.next();
  const pc = big(r.pcHi, r.pcLo);
  const a = big(r.aHi, r.aLo);
  let text: string;
  switch (r.type) {
    case REC_STORE:
      text = `STR${r.sub === 3 ? "" : ` (${2 ** r.sub} bytes)`} ${hex(big(r.bHi, r.bLo))} -> [PA ${hex(a)}]`;
      break;
    case REC_BARRIER:
      text = r.sub === 2 ? "ISB" : `${BARRIER_NAMES[r.sub]} ${barrierDomain(r.opt) ?? `#${r.opt}`}`;
      break;
    case REC_TLBI: {
      const op = tlbiName(r.sub);
      text = `TLBI ${op ?? tlbiEncodingText(r.sub)}${op === "VMALLE1" || op === "VMALLE1IS" || op === "VMALLE1OS" ? "" : `, ${hex(a)}`}`;
      break;
    }
    case REC_MSR:
      text = `MSR ${MSR_REGS[r.sub]}, ${hex(a)}`;
      break;
    case REC_EXC:
      text = `exception entry (vector slot ${r.sub}, ELR_EL1 ${hex(big(r.bHi, r.bLo))})`;
      break;
    case REC_ERET:
      text = "ERET";
      break;
    case REC_DC:
      text = `DC ${DC_OPS[r.sub]}, ${hex(a)}`;
      break;
    case REC_CPU_OFF:
      text = "PSCI CPU_OFF";
      break;
    case REC_ACCESS:
      text = `${["LDR", "STR", "FETCH"][r.sub & 3] ?? "ACCESS"} [VA ${hex(a)}]${(r.sub & ACCESS_EL0) !== 0 ? " (EL0)" : ""}`;
      break;
    default:
      text = `record type ${r.type}`;
  }
  const symbol = syms?.lookup(pc);
  return { offset, cpu: r.cpu, pc, text, ...(symbol !== undefined ? { symbol } : {}) };
}

export function traceVerdict(res: ReplayResult): TraceVerdict {
  if (res.violations.length > 0) return "violations";
  return res.unmodelled.size > 0 || res.zvaUnresolved > 0 ? "inconclusive" : "clean";
}

interface Group {
  readonly first: Violation;
  count: number;
}

function groups(res: ReplayResult): Group[] {
  const by = new Map<string, Group>();
  for (const v of res.violations) {
    const off = res.stepRecord(v.step);
    const key = `${v.detail}@${off >= 0 ? describeRecord(res.reader, off).pc : v.step}`;
    const g = by.get(key);
    if (g === undefined) by.set(key, { first: v, count: 1 });
    else g.count++;
  }
  return [...by.values()];
}

const where = (i: RecordInfo): string => `PC ${hex(i.pc)}${i.symbol !== undefined ? ` <${i.symbol}>` : ""}`;

function figures(res: ReplayResult, bytes: number): string {
  const rate = res.ms > 0 ? Math.round((res.records / res.ms) * 1000) : res.records;
  return `${res.records} records (${bytes} bytes), ${res.steps} machine steps, replayed in ${(res.ms / 1000).toFixed(1)} s (${rate} records/s)`;
}

/** One report as text: rule, the guest's CPU/PC/instruction, message, the steps that led to it, fix and rule citation. */
export function renderViolation(res: ReplayResult, v: Violation, syms?: SymbolMap, count = 1): string {
  const out: string[] = [];
  const off = res.stepRecord(v.step);
  const at = off >= 0 ? describeRecord(res.reader, off, syms) : undefined;
  out.push(`VIOLATION ${v.ruleNumber} ${v.rule} (${v.detail}): ${v.title}`);
  out.push(`  CPU ${v.cpu}${at ? `, ${where(at)}: ${at.text}` : ""}`);
  if (count > 1) out.push(`  (${count} times at this PC; the first is shown)`);
  out.push(`  ${v.message}`);
  if (v.va !== undefined) out.push(`  VA ${hex(v.va)}${v.descAddr !== undefined ? `, descriptor at PA ${hex(v.descAddr)}` : ""}`);
  if (v.trace.length > 0) {
    out.push("  led here:");
    for (const t of v.trace) {
      const o = res.stepRecord(t.step);
      const i = o >= 0 ? describeRecord(res.reader, o, syms) : undefined;
      // Step 0: the content the table had when it became one (a PAGE record, no step).
      const what = i ? `CPU ${i.cpu} ${where(i)}: ${i.text}` : t.step === 0 ? "table content when it became a table" : t.text;
      out.push(`    ${what} (${t.role})`);
    }
  }
  if (v.fix !== undefined) out.push(`  fix: ${v.fix}`);
  out.push(`  rule: ${v.citation}`);
  return out.join("\n");
}

export function renderTraceText(name: string, res: ReplayResult, bytes: number, syms?: SymbolMap): string {
  const out: string[] = [];
  for (const g of groups(res)) {
    out.push(renderViolation(res, g.first, syms, g.count));
    out.push("");
  }
  const verdict = traceVerdict(res);
  out.push(`trace ${name}: ${figures(res, bytes)}`);
  for (const [t, n] of res.unmodelled) out.push(`  not modelled: ${n} x TLBI ${t} (their effect is not replayed)`);
  if (res.zvaUnresolved > 0) out.push(`  the recorder could not translate ${res.zvaUnresolved} kernel DC ZVA (zeroing not seen)`);
  if (verdict === "violations") out.push(`${res.violations.length} violations (${groups(res).length} distinct rule/PC pairs)`);
  else if (verdict === "clean") out.push("clean: no rule broken");
  else out.push("INCONCLUSIVE: no rule broken in what was replayed, but part of the trace was not modelled (above)");
  return `${out.join("\n")}\n`;
}

export function traceToJson(name: string, res: ReplayResult, bytes: number, syms?: SymbolMap): unknown {
  return {
    trace: name,
    verdict: traceVerdict(res),
    records: res.records,
    bytes,
    steps: res.steps,
    seconds: res.ms / 1000,
    recordsPerSecond: res.ms > 0 ? Math.round((res.records / res.ms) * 1000) : res.records,
    unmodelled: Object.fromEntries(res.unmodelled),
    zvaUnresolved: res.zvaUnresolved,
    violations: groups(res).map((g) => {
      const v = g.first;
      const off = res.stepRecord(v.step);
      const at = off >= 0 ? describeRecord(res.reader, off, syms) : undefined;
      return {
        rule: v.rule,
        detail: v.detail,
        count: g.count,
        cpu: v.cpu,
        pc: at ? hex(at.pc) : undefined,
        symbol: at?.symbol,
        record: at?.text,
        message: v.message,
        va: v.va !== undefined ? hex(v.va) : undefined,
        trace: v.trace.map((t) => {
          const o = res.stepRecord(t.step);
          const i = o >= 0 ? describeRecord(res.reader, o, syms) : undefined;
          return { cpu: i ? i.cpu : t.cpu, role: t.role, pc: i ? hex(i.pc) : undefined, symbol: i?.symbol, record: i?.text ?? t.text };
        }),
      };
    }),
  };
}
