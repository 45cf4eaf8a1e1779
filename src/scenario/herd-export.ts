/**
 * A vmsa scenario as a herd7 AArch64 VMSA litmus test, to run the two tools side by side
 * (`vmsa check --export-litmus FILE`). herd's page tables are symbolic, so a scenario exports
 * when its translation is "one leaf PTE per location": every `memory.map` entry is one 4 KiB
 * page at level 3 (a location), initial words are a location's data word or its PTE, and the
 * steps are litmus instructions, plain stores / loads of locations and PTEs, barriers, TLBIs,
 * SVC/ERET. Anything herd cannot say (AT, DC, IC, MSR, protect, stage 2, FEAT_BBM levels,
 * several roots, attributes other than Normal ISH) is refused, naming what.
 *
 * Reading the export back (herd-import.ts) gives the same test: test/scenario/herd.test.ts.
 */
import { PhysMem } from "../mem/physmem.js";
import { ScenarioError } from "./build.js";
import type { Expr, Scenario, StepSpec } from "./format.js";
import { HerdError, type HerdPte, PTE_DEFAULT } from "./herd-parse.js";
import type { LAddress, LitmusSpec, LOperand } from "./litmus-steps.js";
import { buildInitialMemory, type Env } from "./run.js";

const TCR_HA = 1n << 39n;
const TCR_HD = 1n << 40n;
const OA_MASK = 0x0000_ffff_ffff_f000n;
/**
 * Bits a herd descriptor sets: valid, page, AttrIndx 0, AP, SH, AF, DBM, UXN, and the OA; PXN
 * (bit 53) is accepted and dropped (herd has one execute bit, and exported code does not fetch).
 */
const HERD_BITS = 0b11n | (1n << 6n) | (1n << 7n) | (3n << 8n) | (1n << 10n) | (1n << 51n) | (1n << 53n) | (1n << 54n) | OA_MASK;

interface Loc {
  readonly name: string;
  readonly va: bigint;
  readonly pa: bigint;
  readonly pte: bigint;
}

class Exporter {
  readonly locs: Loc[] = [];
  readonly init: string[] = [];
  readonly regInit = new Map<string, string>();
  readonly env: Env;
  readonly mem = new PhysMem();
  constructor(readonly s: Scenario) {
    this.env = buildInitialMemory(s, this.mem);
  }
  fail(msg: string): never {
    throw new HerdError(`${this.s.file}: --export-litmus: ${msg}`);
  }
  ev(x: Expr, where: string): bigint {
    try {
      return this.env.eval(x, 0, where);
    } catch (e) {
      if (e instanceof ScenarioError) this.fail(`${where}: ${e.message}`);
      throw e;
    }
  }
  /** The herd descriptor `(…)` for 64-bit descriptor `v`, or undefined when herd cannot say it. */
  pte(v: bigint, own?: Loc): string | undefined {
    // An all-zero (invalid) PTE: herd's invalid descriptors keep an output address, their own page's.
    if (v === 0n && own !== undefined) return `(oa:PA(${own.name}), valid:0, af:0, db:0, el0:0, x:0)`;
    if ((v & ~HERD_BITS) !== 0n || (v & 0b10n) === 0n || ((v >> 8n) & 3n) !== 3n) return undefined;
    const oa = this.locs.find((l) => l.pa === (v & OA_MASK));
    if (oa === undefined) return undefined;
    const p: Omit<HerdPte, "oa"> = {
      valid: Number(v & 1n),
      af: Number((v >> 10n) & 1n),
      db: (v & (1n << 7n)) === 0n ? 1 : 0,
      dbm: Number((v >> 51n) & 1n),
      el0: Number((v >> 6n) & 1n),
      x: (v & (1n << 54n)) === 0n ? 1 : 0,
    };
    const fields = (Object.keys(PTE_DEFAULT) as (keyof typeof PTE_DEFAULT)[])
      .filter((k) => p[k] !== PTE_DEFAULT[k])
      .map((k) => `${k}:${p[k]}`);
    return `(${[`oa:PA(${oa.name})`, ...fields].join(", ")})`;
  }
  /** A register's initial value in herd terms. */
  value(v: bigint): string {
    for (const l of this.locs) {
      if (v === l.va) return l.name;
      if (v === l.pte) return `PTE(${l.name})`;
      if (v === l.pa) return `PA(${l.name})`;
    }
    return this.pte(v) ?? (v < 1n << 32n ? v.toString() : `0x${v.toString(16)}`);
  }
}

/** herd's text of scenario `s`; throws HerdError naming what herd cannot express. */
export function scenarioToHerd(s: Scenario): string {
  const x = new Exporter(s);
  if (s.bbmLevel !== 0) x.fail(`machine.bbm ${s.bbmLevel}: herd has no FEAT_BBM levels`);
  if (s.litmus.stage2.some((v) => v !== undefined)) x.fail("machine.stage2: herd's symbolic tables have no stage 2");
  if (s.fills.length > 0) x.fail("memory.fill: herd has no page-table levels to fill");
  if (s.cpuRegs.some((r) => r !== undefined && (r.ttbr0 !== undefined || r.ttbr1 !== undefined)))
    x.fail("machine.cpu: per-CPU translation table roots (herd has one set of tables)");
  // Locations: the value named for each mapped page's VA, else loc<i>.
  s.maps.forEach((m, i) => {
    if (m.level !== 3 || (m.size !== 0n && m.size !== 0x1000n)) x.fail(`memory.map[${i}]: herd locations are single 4 KiB pages (level 3)`);
    const named = [...s.values].find(([k, v]) => v.e === "num" && v.v === m.va && /^[A-Za-z_]\w*$/.test(k) && !/^[xw]\d+$/i.test(k));
    const pte = x.env.builder(m.va, m.line, "memory.map").slot(m.va, 3, false);
    x.locs.push({ name: named?.[0] ?? `loc${i}`, va: m.va, pa: m.pa, pte });
  });
  // Initial memory: the data word of each location and its PTE (when not herd's default).
  // Every location's data word first, even 0: herd numbers locations by first appearance.
  for (const l of x.locs) x.init.push(`[${l.name}]=${x.mem.read64(l.pa) ?? 0n}`);
  for (const l of x.locs) {
    const p = x.mem.read64(l.pte) ?? 0n;
    const text = x.pte(p, l);
    if (text === undefined) x.fail(`the PTE of ${l.name} (0x${p.toString(16)}) is not a descriptor herd can state`);
    if (text !== `(oa:PA(${l.name}))`) x.init.push(`[PTE(${l.name})]=${text}`);
  }
  for (const w of s.words) {
    if (!x.locs.some((l) => l.pa === w.pa || l.pte === w.pa))
      x.fail(`memory.words 0x${w.pa.toString(16)} is neither a location's data word nor its PTE`);
  }
  for (const g of s.registers) x.regInit.set(`${g.cpu}:X${g.reg}`, x.value(x.ev(g.value, `registers.P${g.cpu}:X${g.reg}`)));
  // Code, per column.
  const cols: { head: string; cells: string[] }[] = [];
  const colOf = (cpu: number, handler: boolean): string[] => {
    const head = `P${cpu}${handler ? ".F" : ""}`;
    let c = cols.find((k) => k.head === head);
    if (c === undefined) {
      c = { head, cells: [] };
      cols.push(c);
    }
    return c.cells;
  };
  for (let c = 0; c < s.cpus; c++) colOf(c, false);
  const used = new Map<number, Set<number>>();
  for (const g of s.registers) (used.get(g.cpu) ?? used.set(g.cpu, new Set()).get(g.cpu))?.add(g.reg);
  for (const st of s.steps)
    if (st.op.op === "litmus") for (const r of regsOf(st.op.spec)) (used.get(st.cpu) ?? used.set(st.cpu, new Set()).get(st.cpu))?.add(r);
  const fresh = (cpu: number, init: string): string => {
    const set = used.get(cpu) ?? used.set(cpu, new Set()).get(cpu) ?? new Set<number>();
    let r = 10;
    while (set.has(r)) r++;
    if (r > 30) x.fail(`P${cpu} needs more registers than AArch64 has`);
    set.add(r);
    x.regInit.set(`${cpu}:X${r}`, init);
    return `X${r}`;
  };
  for (const st of s.steps) {
    const cells = colOf(st.cpu, st.handler === true);
    const label = st.label !== undefined ? `${st.label}:` : "";
    const ins = instructions(x, st, fresh);
    ins.forEach((t, i) => {
      cells.push(i === ins.length - 1 ? `${label}${t}` : t);
    });
  }
  const variants = ["vmsa"];
  if (s.litmus.ets >= 2) variants.push(`ets${s.litmus.ets}`);
  if (s.litmus.faults === "skip") variants.push("faultToNext");
  if (!s.litmus.eis || !s.litmus.eos) variants.push("exs", ...(s.litmus.eis ? ["eis"] : []), ...(s.litmus.eos ? ["eos"] : []));
  const tthm: string[] = [];
  for (let c = 0; c < s.cpus; c++) {
    const tcr = s.cpuRegs[c]?.tcr ?? s.regs.tcr;
    if (tcr & TCR_HD) tthm.push(`P${c}:HA`, `P${c}:HD`);
    else if (tcr & TCR_HA) tthm.push(`P${c}:HA`);
  }
  const el0 = s.litmus.el.map((e, i) => (e === 0 ? `P${i}` : "")).filter((p) => p !== "");
  const cond =
    s.final === undefined ? x.fail("no final condition (herd tests need exists, ~exists or forall)") : condition(x, s.final.text);
  const out: string[] = [`AArch64 ${s.name.replace(/\s+/g, "_")}`, `Variant=${variants.join(",")}`];
  if (tthm.length > 0) out.push(`TTHM=${tthm.join(" ")}`);
  if (el0.length > 0) out.push(`EL0=${el0.join(",")}`);
  const inits = [...x.init, ...[...x.regInit].map(([k, v]) => `${k}=${v}`)];
  out.push("{", ...inits.map((i) => ` ${i};`), "}");
  const rows = Math.max(...cols.map((c) => c.cells.length));
  const width = cols.map((c) => Math.max(c.head.length, ...c.cells.map((t) => t.length)));
  const row = (cells: string[]): string => ` ${cells.map((t, i) => t.padEnd(width[i] ?? 0)).join(" | ")} ;`;
  out.push(row(cols.map((c) => c.head)));
  for (let i = 0; i < rows; i++) out.push(row(cols.map((c) => c.cells[i] ?? "")));
  out.push(cond, "");
  return out.join("\n");
}

function regsOf(l: LitmusSpec): number[] {
  const op = (o: LOperand): number[] => (o.k === "reg" ? [o.r] : []);
  const ad = (a: LAddress): number[] => [...op(a.base), ...(a.index !== undefined ? [a.index] : [])];
  switch (l.i) {
    case "ldr":
      return [l.rt, ...ad(l.addr)];
    case "str":
      return [...op(l.src), ...ad(l.addr)];
    case "rmw":
      return [l.rs, l.rt, ...ad(l.addr)];
    case "mov":
      return [l.rd, ...op(l.src)];
    case "alu":
      return [l.rd, l.rn, ...op(l.src)];
    case "cbz":
    case "cbnz":
      return [l.rn];
    case "tlbi":
      return op(l.operand);
    case "msr":
      return op(l.src);
    default:
      return [];
  }
}

/** The herd instruction(s) of one step. */
function instructions(x: Exporter, st: StepSpec, fresh: (cpu: number, init: string) => string): string[] {
  const where = `step "${st.text}"`;
  const imm = (o: LOperand): string => (o.k === "reg" ? `X${o.r}` : `#${x.ev(o.e, where)}`);
  const reg = (o: LOperand): string => (o.k === "reg" ? `X${o.r}` : fresh(st.cpu, x.value(x.ev(o.e, where))));
  const addr = (a: LAddress): string => {
    if (a.space === "pa" && a.base.k === "imm") {
      const pa = x.ev(a.base.e, where);
      const l = x.locs.find((k) => k.pte === pa);
      if (l === undefined)
        x.fail(`${where}: physical address 0x${pa.toString(16)} is not a PTE of a location (herd accesses PTEs only by PA)`);
      return `[${fresh(st.cpu, `PTE(${l.name})`)}]`;
    }
    const base = reg(a.base);
    return a.index !== undefined ? `[${base},X${a.index}]` : `[${base}]`;
  };
  const op = st.op;
  switch (op.op) {
    case "litmus": {
      const l = op.spec;
      switch (l.i) {
        case "ldr":
          return [`${l.acq === "A" ? "LDAR" : l.acq === "Q" ? "LDAPR" : "LDR"} X${l.rt},${addr(l.addr)}`];
        case "str":
          return [`${l.rel ? "STLR" : "STR"} ${reg(l.src)},${addr(l.addr)}`];
        case "rmw":
          return [`${l.op.toUpperCase()}${l.acq && l.rel ? "AL" : l.acq ? "A" : l.rel ? "L" : ""} X${l.rs},X${l.rt},${addr(l.addr)}`];
        case "mov":
          return [`MOV X${l.rd},${imm(l.src)}`];
        case "alu":
          return [`${l.op.toUpperCase()} X${l.rd},X${l.rn},${imm(l.src)}`];
        case "cbz":
        case "cbnz":
          return [`${l.i.toUpperCase()} X${l.rn},${l.target}`];
        case "b":
          return [`B ${l.target}`];
        case "tlbi":
          return [`TLBI ${l.op},${reg(l.operand)}`];
        case "svc":
          return ["SVC #0"];
        case "eret":
          if (l.target !== undefined) return x.fail(`${where}: ERET to a label has no herd form`);
          return ["ERET"];
        case "nop":
          return ["NOP"];
        case "msr":
          return x.fail(`${where}: MSR ${l.reg} has no herd VMSA form`);
      }
      return x.fail(`${where}: no herd form`);
    }
    case "store":
      return [
        `${op.release ? "STLR" : "STR"} ${fresh(st.cpu, x.value(x.ev(op.value, where)))},${addr({ space: "pa", base: { k: "imm", e: op.pa } })}`,
      ];
    case "access":
      if (op.kind !== "load")
        return x.fail(`${where}: ${op.kind === "fetch" ? "instruction fetch" : "store-va"} has no herd VMSA form here`);
      return [`LDR ${fresh(st.cpu, "0")},${addr({ space: "va", base: { k: "imm", e: op.va } })}`];
    case "dsb":
    case "dmb":
      return [`${op.op.toUpperCase()} ${op.kind}`];
    case "isb":
      return ["ISB"];
    case "tlbi": {
      if (op.va === undefined) {
        if (op.operand !== undefined || op.asid !== undefined) return x.fail(`${where}: a TLBI operand other than a VA has no herd form`);
        return [`TLBI ${op.tlbi}`];
      }
      if (op.asid !== undefined || op.pages !== undefined) return x.fail(`${where}: TLBI asid=/pages= have no herd form`);
      // herd computes the page number from the VA register (LSR #12), as its catalogue does.
      const va = fresh(st.cpu, x.value(x.ev(op.va, where)));
      return [`LSR ${va},${va},#12`, `TLBI ${op.tlbi},${va}`];
    }
    default:
      return x.fail(`${where}: ${op.op} has no herd VMSA form`);
  }
}

/** vmsa's condition text in herd's: `$x` → x, `[pa:$PTE_x]=V` → `[PTE(x)]=(…)`, `P1:X0` → `1:X0`. */
function condition(x: Exporter, text: string): string {
  const val = (t: string): bigint => {
    const s = t.trim();
    if (s.startsWith("$")) {
      const e = x.s.values.get(s.slice(1));
      if (e === undefined) return x.fail(`condition: unknown value ${s}`);
      return x.ev(e, "condition");
    }
    return BigInt(s);
  };
  let c = text.trim();
  c = c.replace(/\[\s*pa:\s*([^\]]+)\]\s*=\s*(\$?\w+)/g, (_m, a: string, v: string) => {
    const pa = val(a);
    const l = x.locs.find((k) => k.pte === pa);
    if (l === undefined) return x.fail(`condition: [pa:${a}] is not a location's PTE`);
    const d = x.pte(val(v));
    if (d === undefined) return x.fail(`condition: ${v} is not a descriptor herd can state`);
    return `[PTE(${l.name})]=${d}`;
  });
  c = c.replace(/\[\s*(\$\w+|0x[0-9a-f]+|\d+)\s*\]\s*=/gi, (_m, a: string) => {
    const va = val(a);
    const l = x.locs.find((k) => k.va === va);
    if (l === undefined) return x.fail(`condition: [${a}] is not a location`);
    return `[${l.name}]=`;
  });
  c = c.replace(
    /\bP(\d+):([XW]\d+)\s*=\s*(\$\w+|0x[0-9a-f]+|\d+)/gi,
    (_m, cpu: string, r: string, v: string) => `${cpu}:${r.toUpperCase()}=${x.value(val(v))}`,
  );
  c = c.replace(
    /\b(\d+):([XW]\d+)\s*=\s*(\$\w+|0x[0-9a-f]+)/gi,
    (_m, cpu: string, r: string, v: string) => `${cpu}:${r.toUpperCase()}=${x.value(val(v))}`,
  );
  c = c.replace(/\bfault\(([^()]*)\)/gi, (_m, args: string) => {
    const parts = args.split(",").map((p) => p.trim());
    if (parts[1] !== undefined && !/^MMU:|^[a-z-]+$/i.test(parts[1]) ? true : parts[1]?.startsWith("$") || /^0x/i.test(parts[1] ?? "")) {
      const va = val(parts[1] as string);
      const l = x.locs.find((k) => k.va === va);
      if (l === undefined) return x.fail(`condition: fault(…, ${parts[1]}) is not a location`);
      parts[1] = l.name;
    }
    return `fault(${parts.join(",")})`;
  });
  if (/\$\w/.test(c)) x.fail(`condition: "${c}" still names a value herd cannot state`);
  return c;
}
