/**
 * Scenario files (YAML, or JSON — a YAML subset): machine config, initial memory and a list of
 * steps, each by a named CPU, plus optional expectations. See examples/scenarios/README.md and
 * SCENARIO_SCHEMA for the format. Errors name the file, line and field.
 *
 * Step syntax (one string per step): `P<cpu>: <op> <args...>`
 *   store PA VALUE | store-release PA VALUE | load VA [el0] | store-va VA [VALUE] [el0] |
 *   fetch VA [el0] | msr REG VALUE | dsb KIND | dmb KIND | isb | tlbi OP [VA] [asid=N] [pages=N] |
 *   tlbi OP op=XT | dc CVAC|CIVAC|IVAC VA | ic IALLU | at S1E1R|S1E1W|S1E0R|S1E0W VA |
 *   protect PA SIZE | unprotect PA SIZE
 * Values: numbers (hex/decimal), `$NAME` (from `values`), `leaf(oa=…, level=…, …)`, `table(PA)`,
 * `invalid`, `desc(VA, LEVEL[, ttbr=0|1])` (the descriptor's PA in the initial tables).
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Node as YamlNode } from "yaml";
import type { LeafFields } from "../arch/descriptor.js";
import { PRESETS, type Regs } from "../arch/registers.js";
import { isRuleId, RULE_IDS, type RuleId } from "../machine/rules.js";
import { DSB_KINDS, type DsbKind, SYS_REGS, type SysReg, TLBI_BASES, type TlbiOp } from "../machine/types.js";
import type { AtOp } from "../walk/walker.js";
import { ScenarioError } from "./build.js";
import { type LitmusSpec, parseLitmusStep } from "./litmus-steps.js";
import { checkSchema, fieldsAt } from "./schema.js";

export type StepOp =
  | { op: "store"; release: boolean; pa: Expr; value: Expr }
  | { op: "access"; kind: "load" | "store" | "fetch"; va: Expr; el: 0 | 1; value?: Expr }
  | { op: "msr"; reg: SysReg; value: Expr }
  | { op: "dsb" | "dmb"; kind: DsbKind }
  | { op: "isb" }
  | { op: "tlbi"; tlbi: TlbiOp; va?: Expr; asid?: Expr; pages?: Expr; operand?: Expr }
  | { op: "dc"; dc: "CVAC" | "CIVAC" | "IVAC"; va: Expr }
  | { op: "ic"; ic: "IALLU" | "IALLUIS" }
  | { op: "at"; at: AtOp; va: Expr }
  | { op: "protect" | "unprotect"; pa: Expr; size: Expr }
  /** A litmus instruction (registers, values, branches, exceptions, atomics: litmus-steps.ts). */
  | { op: "litmus"; spec: LitmusSpec };

/** An unevaluated value expression (evaluated against initial memory and `values`). */
export type Expr =
  | { e: "num"; v: bigint }
  | { e: "ref"; name: string }
  | { e: "leaf"; fields: Record<string, Expr> }
  | { e: "table"; pa: Expr }
  | { e: "desc"; va: Expr; level: Expr; ttbr?: Expr };

export interface OutcomeMatcher {
  readonly text: string;
  readonly kind: "ok" | "fault" | "tlb-conflict";
  readonly pa?: bigint;
  readonly fault?: string;
}

export interface StepSpec {
  readonly cpu: number;
  readonly text: string;
  readonly line: number;
  readonly op: StepOp;
  readonly allowed: readonly OutcomeMatcher[];
  readonly forbidden: readonly OutcomeMatcher[];
  /** Label of the step (`P0: L0: ldr X0, [X1]`), for branches, eret and fault(P0:L0). */
  readonly label?: string;
  /** A step of the CPU's exception handler (`P1.F: ...`), not of its main code. */
  readonly handler?: boolean;
}

/** Litmus-level machine options (machine: ets, faults, el, eis, eos). */
export interface LitmusConfig {
  /** FEAT_ETS level 0..3 (1 behaves as 0; 2 = FEAT_ETS2, 3 = FEAT_ETS3). */
  readonly ets: number;
  /** What a fault does on a CPU without a handler: stop the CPU (herd's default) or go on. */
  readonly faults: "fatal" | "skip";
  /** Exception level each CPU starts at. */
  readonly el: readonly (0 | 1)[];
  /** SCTLR_EL1.EIS / EOS (FEAT_ExS): exception entry / return are context synchronizing. */
  readonly eis: boolean;
  readonly eos: boolean;
  /** FEAT_HAFT with TCR2_EL1.HAFT=1: table descriptors get hardware AF updates. */
  readonly haft: boolean;
  /** Stage-2 translation per CPU (VTTBR_EL2 root and VMID; HCR_EL2.VM=1), undefined: off. */
  readonly stage2: readonly ({ readonly root: bigint; readonly vmid: number } | undefined)[];
}

export interface MapSpec {
  readonly va: bigint;
  readonly pa: bigint;
  readonly size: bigint;
  readonly level: number;
  readonly fields: Omit<LeafFields, "oa">;
  readonly line: number;
}

export interface ExpectedViolation {
  readonly rule: RuleId;
  readonly step?: number;
  readonly cpu?: number;
}

export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly cpus: number;
  readonly bbmLevel: number;
  readonly regs: Regs;
  readonly cpuRegs: readonly (Partial<Omit<Regs, "features">> | undefined)[];
  readonly ram: readonly { base: bigint; size: bigint }[];
  readonly pool: bigint;
  readonly maps: readonly MapSpec[];
  readonly words: readonly { pa: bigint; value: Expr; line: number }[];
  /** `count` consecutive words from `pa`: value + i * stride (e.g. a subtable of pages). */
  readonly fills: readonly { pa: bigint; count: number; value: Expr; stride: bigint; line: number }[];
  readonly values: ReadonlyMap<string, Expr>;
  readonly steps: readonly StepSpec[];
  /** undefined: no expectation; [] : expect clean. */
  readonly expectViolations: readonly ExpectedViolation[] | undefined;
  readonly litmus: LitmusConfig;
  /** Initial general registers: `P0:X1: $X`. */
  readonly registers: readonly { cpu: number; reg: number; value: Expr; line: number }[];
  /** Final condition (herd style: exists / ~exists / forall PROP), parsed by scenario/litmus.ts. */
  readonly final: { readonly text: string; readonly line: number } | undefined;
}

/** Field names of the scenario's sections, as the schema lists them (examples/scenarios/scenario.schema.json). */
export const SCENARIO_KEYS = {
  top: fieldsAt([]),
  machine: fieldsAt(["machine"]),
  memory: fieldsAt(["memory"]),
} as const;

const REG_FIELDS: Record<string, Exclude<keyof Regs, "features" | "regime">> = {
  TTBR0_EL1: "ttbr0",
  TTBR1_EL1: "ttbr1",
  TCR_EL1: "tcr",
  MAIR_EL1: "mair",
  SCTLR_EL1: "sctlr",
};

/** Fields of leaf(…)/page(…)/block(…): the output address, the level and the schema's leaf attribute fields. */
const LEAF_KEYS = ["oa", "level", ...fieldsAt(["memory", "map", 0, "attrs"])];

/** Largest value of each leaf attribute field (its width in the descriptor); the rest are one bit. */
const LEAF_FIELD_MAX: Readonly<Record<string, number>> = { attr: 7, attrindx: 7, ap: 3, sh: 3, sw: 15 };

/** Why `v` does not fit leaf field `key` (AttrIndx[2:0], AP[2:1], SH[1:0], SW[58:55], one-bit flags), or undefined. */
export function leafFieldError(key: string, v: bigint): string | undefined {
  const max = LEAF_FIELD_MAX[key] ?? 1;
  return v < 0n || v > BigInt(max) ? `${v} does not fit the field (expected 0..${max})` : undefined;
}

const U64_MAX = (1n << 64n) - 1n;

class Ctx {
  readonly file: string;
  readonly lc: LineCounter;
  constructor(file: string, lc: LineCounter) {
    this.file = file;
    this.lc = lc;
  }
  lineOf(n: unknown): number {
    const r = (n as { range?: [number, number, number] } | undefined | null)?.range;
    return r ? this.lc.linePos(r[0]).line : 0;
  }
  /** Throws `file:line: field: msg` (`file: field: msg` when the line is unknown, 0). */
  fail(line: number, field: string, msg: string, code = "ESCENARIO"): never {
    throw new ScenarioError(code, `${this.file}${line > 0 ? `:${line}` : ""}: ${field}: ${msg}`);
  }
  /** Throws `file:line:col: syntax: msg` for a YAML error at a character offset of the file. */
  syntax(offset: number, msg: string): never {
    const p = this.lc.linePos(offset);
    throw new ScenarioError("ESCENARIO_SYNTAX", `${this.file}:${p.line}:${p.col}: syntax: ${msg}`);
  }
}

function parseNumber(ctx: Ctx, line: number, field: string, t: string): bigint {
  const s = t.trim().replace(/_/g, "");
  let v: bigint | undefined;
  if (/^0x[0-9a-f]+$/i.test(s) || /^[0-9]+$/.test(s)) v = BigInt(s);
  const m = /^([0-9]+)([KMGT])$/i.exec(s);
  if (m) v = BigInt(m[1] as string) << BigInt({ K: 10, M: 20, G: 30, T: 40 }[(m[2] as string).toUpperCase() as "K"]);
  if (v === undefined) return ctx.fail(line, field, `"${t}" is not a number (expected hex like 0x83000, decimal, or a size like 4K/2M)`);
  return u64(ctx, line, field, v);
}

/** Values are 64-bit: a negative number or one wider than 64 bits is an error, not wrapped. */
function u64(ctx: Ctx, line: number, field: string, v: bigint): bigint {
  if (v < 0n || v > U64_MAX)
    ctx.fail(line, field, `${v < 0n ? v : `0x${v.toString(16)}`} does not fit in 64 bits (expected 0..0xffffffffffffffff)`);
  return v;
}

/**
 * The node of entry `key` in a YAML mapping (keys compared as text, so `1:` and `0x1000:` match
 * their JS keys "1" and "4096") or item `key` of a list; the key node when the value is empty.
 */
function childNode(node: unknown, key: string | number): unknown {
  if (isSeq(node)) return typeof key === "number" ? node.items[key] : undefined;
  if (!isMap(node)) return undefined;
  const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(key));
  if (pair === undefined) return undefined;
  return (pair.value as { range?: unknown } | null)?.range ? pair.value : pair.key;
}

/** The node of field `key` of `node`, or `node` itself when the field is absent (its line is the best there is). */
function fieldNode(node: unknown, key: string): unknown {
  return childNode(node, key) ?? node;
}

function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (depth === 0 && (ch === "," || ch === " " || ch === "\t")) {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export function parseExpr(ctx: Ctx, line: number, field: string, raw: unknown): Expr {
  if (typeof raw === "bigint") return { e: "num", v: u64(ctx, line, field, raw) };
  if (typeof raw === "number" && Number.isSafeInteger(raw)) return { e: "num", v: BigInt(raw) };
  if (typeof raw !== "string") {
    const got =
      raw === undefined || raw === null
        ? "nothing"
        : typeof raw === "object"
          ? Array.isArray(raw)
            ? "a list"
            : "a mapping"
          : JSON.stringify(String(raw));
    return ctx.fail(line, field, `expected a number or value expression, got ${got}`);
  }
  const t = raw.trim();
  if (t === "invalid") return { e: "num", v: 0n };
  if (t.startsWith("$")) return { e: "ref", name: t.slice(1) };
  const call = /^([a-z]+)\((.*)\)$/is.exec(t);
  if (call) {
    const fn = (call[1] as string).toLowerCase();
    const args = splitArgs(call[2] as string);
    if (fn === "table") {
      if (args.length !== 1) ctx.fail(line, field, "table(PA) takes one argument");
      return { e: "table", pa: parseExpr(ctx, line, field, args[0]) };
    }
    if (fn === "desc") {
      const pos = args.filter((a) => !a.includes("="));
      const kw = args.filter((a) => a.includes("="));
      if (pos.length !== 2) ctx.fail(line, field, "desc(VA, LEVEL[, ttbr=N]) takes a VA and a level");
      const ttbr = kw.find((k) => k.startsWith("ttbr="));
      return {
        e: "desc",
        va: parseExpr(ctx, line, field, pos[0]),
        level: parseExpr(ctx, line, field, pos[1]),
        ...(ttbr ? { ttbr: parseExpr(ctx, line, field, ttbr.slice(5)) } : {}),
      };
    }
    if (fn === "leaf" || fn === "page" || fn === "block") {
      const fields: Record<string, Expr> = {};
      for (const a of args) {
        const m = /^([a-z]+)\s*=\s*(.+)$/i.exec(a);
        if (!m) ctx.fail(line, field, `${fn}(): "${a}" is not key=value`);
        const k = (m[1] as string).toLowerCase();
        if (!LEAF_KEYS.includes(k)) ctx.fail(line, field, `${fn}(): unknown field "${k}" (expected one of ${LEAF_KEYS.join(", ")})`);
        fields[k] = parseExpr(ctx, line, field, m[2]);
      }
      if (fields.oa === undefined) ctx.fail(line, field, `${fn}() needs oa=`);
      if (fields.level === undefined) fields.level = { e: "num", v: fn === "page" ? 3n : 2n };
      return { e: "leaf", fields };
    }
    return ctx.fail(line, field, `unknown function ${fn}() (expected leaf, page, block, table, desc)`);
  }
  return { e: "num", v: parseNumber(ctx, line, field, t) };
}

function parseMatcher(ctx: Ctx, line: number, field: string, raw: unknown): OutcomeMatcher {
  if (typeof raw !== "string")
    return ctx.fail(line, field, 'expected an outcome like "pa=0x40000000", "fault", "fault:translation" or "tlb-conflict"');
  const t = raw.trim();
  if (t === "fault") return { text: t, kind: "fault" };
  if (t.startsWith("fault:")) return { text: t, kind: "fault", fault: t.slice(6) };
  if (t === "tlb-conflict") return { text: t, kind: "tlb-conflict" };
  if (t === "ok") return { text: t, kind: "ok" };
  if (t.startsWith("pa=")) return { text: t, kind: "ok", pa: parseNumber(ctx, line, field, t.slice(3)) };
  return ctx.fail(line, field, `"${t}" is not an outcome (expected pa=ADDR, ok, fault, fault:KIND or tlb-conflict)`);
}

/**
 * What each step operation takes besides its positional operands: `key=value` options and an
 * exception level (el0/el1, for accesses only). Anything else on the line is an error, not ignored.
 */
const STEP_EXTRAS: Readonly<Record<string, { readonly kw: readonly string[]; readonly el: boolean }>> = (() => {
  const plain = { kw: [], el: false };
  const access = { kw: [], el: true };
  return {
    store: plain,
    "store-release": plain,
    stlr: plain,
    str: plain,
    load: access,
    ldr: access,
    fetch: access,
    "store-va": access,
    msr: plain,
    dsb: plain,
    dmb: plain,
    isb: plain,
    tlbi: { kw: ["asid", "pages", "op"], el: false },
    dc: plain,
    ic: plain,
    at: plain,
    protect: plain,
    unprotect: plain,
  };
})();

function parseStep(
  ctx: Ctx,
  line: number,
  field: string,
  text: string,
  cpus: number,
): { cpu: number; op: StepOp; label?: string; handler?: boolean } {
  const head = /^\s*(?:P|cpu)(\d+)(\.F)?\s*:\s*(?:([A-Za-z_][A-Za-z0-9_]*)\s*:(?!\S)\s*)?(.+)$/i.exec(text);
  if (!head) return ctx.fail(line, field, `"${text}" does not start with a CPU (expected "P0: store 0x83000 0x0")`);
  const cpu = Number(head[1]);
  if (cpu >= cpus) ctx.fail(line, field, `CPU ${cpu} does not exist (machine.cpus is ${cpus})`);
  const m = [head[0], head[1], head[4]] as const;
  const label = head[3];
  const handler = head[2] !== undefined;
  const toks = splitArgs(m[2] as string);
  const op = (toks[0] ?? "").toLowerCase();
  const opText = (m[2] as string).trim();
  const spec = parseLitmusStep(op, opText.slice(opText.search(/\s|$/)).trim(), {
    fail: (msg: string): never => ctx.fail(line, field, msg),
    expr: (t: string): Expr => parseExpr(ctx, line, field, t),
  });
  const extra = { ...(label !== undefined ? { label } : {}), ...(handler ? { handler } : {}) };
  if (spec !== undefined) return { cpu, op: { op: "litmus", spec }, ...extra };
  if (handler || label !== undefined) {
    const r = parseStepOp(ctx, line, field, m, toks, op, cpu);
    return { ...r, ...extra };
  }
  return parseStepOp(ctx, line, field, m, toks, op, cpu);
}

function parseStepOp(
  ctx: Ctx,
  line: number,
  field: string,
  m: readonly [string, string | undefined, string | undefined],
  toks: string[],
  op: string,
  cpu: number,
): { cpu: number; op: StepOp } {
  const args = toks.slice(1);
  const pos = args.filter((a) => !/^[a-z]+=/i.test(a) && !/^el[01]$/i.test(a));
  const kw = new Map(
    args.filter((a) => /^[a-z]+=/i.test(a)).map((a) => [a.slice(0, a.indexOf("=")).toLowerCase(), a.slice(a.indexOf("=") + 1)]),
  );
  const el: 0 | 1 = args.some((a) => a.toLowerCase() === "el0") ? 0 : 1;
  const need = (n: number, usage: string): void => {
    if (pos.length !== n) ctx.fail(line, field, `${op} expects ${usage} (got "${m[2]}")`);
  };
  const ex = (s: string | undefined): Expr => parseExpr(ctx, line, field, s);
  const extras = STEP_EXTRAS[op];
  if (extras !== undefined) {
    for (const k of kw.keys()) {
      if (!extras.kw.includes(k))
        ctx.fail(
          line,
          field,
          `${op} does not take ${k}= (got "${m[2]}"${extras.kw.length > 0 ? `; it takes ${extras.kw.map((x) => `${x}=`).join(", ")}` : ""})`,
        );
    }
    if (!extras.el && args.some((a) => /^el[01]$/i.test(a)))
      ctx.fail(line, field, `${op} does not take an exception level (el0/el1 are for load, fetch and store-va; got "${m[2]}")`);
  }
  const atMost = (n: number, usage: string): void => {
    if (pos.length > n) ctx.fail(line, field, `${op} expects ${usage} (got "${m[2]}")`);
  };
  switch (op) {
    case "store":
    case "store-release":
    case "stlr":
    case "str":
      need(2, "PA VALUE");
      return { cpu, op: { op: "store", release: op === "store-release" || op === "stlr", pa: ex(pos[0]), value: ex(pos[1]) } };
    case "load":
    case "ldr":
      need(1, "VA [el0]");
      return { cpu, op: { op: "access", kind: "load", va: ex(pos[0]), el } };
    case "fetch":
      need(1, "VA [el0]");
      return { cpu, op: { op: "access", kind: "fetch", va: ex(pos[0]), el } };
    case "store-va": {
      if (pos.length < 1 || pos.length > 2) ctx.fail(line, field, "store-va expects VA [VALUE] [el0]");
      return { cpu, op: { op: "access", kind: "store", va: ex(pos[0]), el, ...(pos[1] !== undefined ? { value: ex(pos[1]) } : {}) } };
    }
    case "msr": {
      need(2, "REG VALUE");
      const reg = (pos[0] as string).toUpperCase();
      const full = reg.endsWith("_EL1") ? reg : `${reg}_EL1`;
      if (!(SYS_REGS as readonly string[]).includes(full))
        ctx.fail(line, field, `unknown register ${pos[0]} (expected one of ${SYS_REGS.join(", ")})`);
      return { cpu, op: { op: "msr", reg: full as SysReg, value: ex(pos[1]) } };
    }
    case "dsb":
    case "dmb": {
      atMost(1, "[KIND]");
      const k = (pos[0] ?? "SY").toUpperCase();
      if (!(DSB_KINDS as readonly string[]).includes(k))
        ctx.fail(line, field, `unknown ${op} kind ${k} (expected one of ${DSB_KINDS.join(", ")})`);
      return { cpu, op: { op, kind: k as DsbKind } };
    }
    case "isb":
      atMost(0, "no operand");
      return { cpu, op: { op: "isb" } };
    case "tlbi": {
      const name = (pos[0] ?? "").toUpperCase();
      const base = name.replace(/(IS|OS)$/, "");
      if (!(TLBI_BASES as readonly string[]).includes(base))
        ctx.fail(line, field, `unknown TLBI ${pos[0]} (expected one of ${TLBI_BASES.join(", ")}, with optional IS/OS)`);
      const needsVa = base !== "VMALLE1" && base !== "ASIDE1";
      const o: StepOp = { op: "tlbi", tlbi: name as TlbiOp };
      if (kw.has("op")) {
        // op=XT is the whole register operand: a VA, asid= or pages= beside it would be ignored.
        if (pos.length > 1 || kw.size > 1)
          ctx.fail(line, field, `TLBI ${name} op=XT gives the whole operand: no VA, asid= or pages= beside it`);
        return { cpu, op: { ...o, operand: ex(kw.get("op")) } };
      }
      if (needsVa && pos.length !== 2) ctx.fail(line, field, `TLBI ${name} needs a VA (or op=XT)`);
      if (!needsVa && pos.length > 1) ctx.fail(line, field, `TLBI ${name} takes no VA (got "${m[2]}")`);
      if (base.startsWith("R") && !kw.has("pages")) ctx.fail(line, field, `TLBI ${name} needs pages=N`);
      if (!base.startsWith("R") && kw.has("pages"))
        ctx.fail(line, field, `TLBI ${name} is not a range operation: pages= is for RVAE1, RVALE1, RVAAE1, RVAALE1`);
      // VMALLE1 and the VAA* forms apply to every ASID: their operand has no ASID field.
      if (kw.has("asid") && (base === "VMALLE1" || base.startsWith("VAA") || base.startsWith("RVAA")))
        ctx.fail(line, field, `TLBI ${name} applies to every ASID: it takes no asid=`);
      return {
        cpu,
        op: {
          ...o,
          ...(needsVa ? { va: ex(pos[1]) } : {}),
          ...(kw.has("asid") ? { asid: ex(kw.get("asid")) } : {}),
          ...(kw.has("pages") ? { pages: ex(kw.get("pages")) } : {}),
        },
      };
    }
    case "dc": {
      need(2, "CVAC|CIVAC|IVAC VA");
      const k = (pos[0] as string).toUpperCase();
      if (k !== "CVAC" && k !== "CIVAC" && k !== "IVAC") ctx.fail(line, field, `unknown DC ${pos[0]} (expected CVAC, CIVAC, IVAC)`);
      return { cpu, op: { op: "dc", dc: k, va: ex(pos[1]) } };
    }
    case "ic": {
      atMost(1, "[IALLU|IALLUIS]");
      const k = (pos[0] ?? "IALLU").toUpperCase();
      if (k !== "IALLU" && k !== "IALLUIS") ctx.fail(line, field, `unknown IC ${pos[0]} (expected IALLU, IALLUIS)`);
      return { cpu, op: { op: "ic", ic: k } };
    }
    case "at": {
      need(2, "S1E1R|S1E1W|S1E0R|S1E0W VA");
      const k = (pos[0] as string).toUpperCase();
      if (!["S1E1R", "S1E1W", "S1E0R", "S1E0W", "S1E1RP", "S1E1WP"].includes(k)) ctx.fail(line, field, `unknown AT ${pos[0]}`);
      return { cpu, op: { op: "at", at: k as AtOp, va: ex(pos[1]) } };
    }
    case "protect":
    case "unprotect":
      need(2, "PA SIZE");
      return { cpu, op: { op, pa: ex(pos[0]), size: ex(pos[1]) } };
    default:
      return ctx.fail(
        line,
        field,
        `unknown operation "${toks[0]}" (expected store, store-release, load, store-va, fetch, msr, dsb, dmb, isb, tlbi, dc, ic, at, protect, unprotect)`,
      );
  }
}

function asRecord(ctx: Ctx, node: unknown, field: string, v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v))
    ctx.fail(ctx.lineOf(node), field, `expected a mapping, got ${Array.isArray(v) ? "a list" : "a single value"}`);
  return v as Record<string, unknown>;
}

/** `memory.map[0].va`-style name of a field path; word addresses (YAML reads 0x1000: as 4096) in hex. */
function fieldName(path: readonly (string | number)[]): string {
  let out = "";
  path.forEach((k, i) => {
    if (typeof k === "number") out += `[${k}]`;
    else if (i === 2 && path[0] === "memory" && path[1] === "words" && /^[0-9]+$/.test(k)) out += `.0x${BigInt(k).toString(16)}`;
    else out += out === "" ? k : `.${k}`;
  });
  return out || "(top level)";
}

/** A 64-bit number from field `field` of a mapping; `node` is the field's node (or its parent's). */
function num(ctx: Ctx, node: unknown, field: string, v: unknown): bigint {
  if (typeof v === "bigint") return u64(ctx, ctx.lineOf(node), field, v);
  if (typeof v === "string") return parseNumber(ctx, ctx.lineOf(node), field, v);
  if (v === undefined || v === null) return ctx.fail(ctx.lineOf(node), field, "missing (expected a number)");
  return ctx.fail(ctx.lineOf(node), field, `expected a number, got ${typeof v === "object" ? "a collection" : JSON.stringify(String(v))}`);
}

/** A count in min..max (CPUs, levels, step numbers…), named in the error with the value as written. */
function count(ctx: Ctx, node: unknown, field: string, v: unknown, min: number, max: number, what = ""): number {
  const n = num(ctx, node, field, v);
  if (n < BigInt(min) || n > BigInt(max)) ctx.fail(ctx.lineOf(node), field, `${n}${what} (expected ${min}..${max})`);
  return Number(n);
}

function leafFieldsOf(ctx: Ctx, node: unknown, field: string, v: unknown): Omit<LeafFields, "oa"> {
  const attrs = fieldNode(node, "attrs");
  const o = asRecord(ctx, attrs, field, v);
  const get = (k: string, d: number): number => {
    const x = o[k];
    if (x === undefined) return d;
    if (typeof x === "boolean") return x ? 1 : 0;
    const n = fieldNode(attrs, k);
    const value = num(ctx, n, `${field}.${k}`, x);
    const bad = leafFieldError(k, value);
    if (bad) ctx.fail(ctx.lineOf(n), `${field}.${k}`, bad);
    return Number(value);
  };
  return leafFieldsFrom(get);
}

/** Leaf fields from scenario keys with the scenario defaults (Normal memory, inner shareable, AF, kernel RW, PXN/UXN). */
export function leafFieldsFrom(get: (key: string, dflt: number) => number): Omit<LeafFields, "oa"> {
  return {
    attrIndx: get("attr", get("attrindx", 0)),
    ap: get("ap", 0),
    sh: get("sh", 3),
    af: get("af", 1) === 1,
    nG: get("ng", 0) === 1,
    pxn: get("pxn", 1) === 1,
    uxn: get("uxn", 1) === 1,
    contiguous: get("cont", 0) === 1,
    nT: get("nt", 0) === 1,
    dbm: get("dbm", 0) === 1,
    ns: get("ns", 0) === 1,
    sw: get("sw", 0),
    gp: get("gp", 0) === 1,
  };
}

/** Parse a scenario file's text. Throws ScenarioError naming file:line: field. */
export function parseScenario(text: string, file: string): Scenario {
  try {
    return parseScenarioText(text, file);
  } catch (e) {
    // Collections or value expressions nested deeper than the stack (a corrupt or hostile file):
    // the recursion ends at a depth no scenario comes near, in a RangeError or (inside the yaml
    // lexer's regular expressions) a SyntaxError saying so.
    if (e instanceof Error && !(e instanceof ScenarioError) && /maximum call stack size exceeded/i.test(e.message)) {
      throw new ScenarioError("ESCENARIO_SYNTAX", `${file}: syntax: collections or expressions nested too deeply`);
    }
    throw e;
  }
}

function parseScenarioText(text: string, file: string): Scenario {
  const lc = new LineCounter();
  // logLevel "error": the yaml library's warnings (e.g. a collection used as a key) would go to stderr.
  const doc = parseDocument(text, { intAsBigInt: true, lineCounter: lc, prettyErrors: false, logLevel: "error" });
  const ctx: Ctx = new Ctx(file, lc);
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    // Offsets are into the whole file, so the line and column are the file's own.
    const msg =
      yamlError.code === "MULTIPLE_DOCS"
        ? "a second YAML document starts here (a scenario file holds one)"
        : (yamlError.message.split("\n")[0] ?? "YAML error");
    ctx.syntax(yamlError.pos[0], msg);
  }
  const root = doc.contents as YamlNode | null;
  if (root === null) {
    ctx.fail(0, "empty file", "a scenario needs at least one step under steps: (and usually machine: and memory:)", "ESCENARIO_EMPTY");
  }
  // Aliases are resolved by toJS: name the first one with no anchor before it.
  visit(doc, {
    Alias(_k, a) {
      if (a.resolve(doc) === undefined) ctx.syntax(a.range?.[0] ?? 0, `alias *${a.source} has no anchor &${a.source} before it`);
    },
  });
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    // Alias expansion past maxAliasCount (a "billion laughs" file) and other conversion failures.
    return ctx.fail(0, "syntax", (e as Error).message.split("\n")[0] ?? "cannot convert the YAML", "ESCENARIO_SYNTAX");
  }
  if (js === null || typeof js !== "object" || Array.isArray(js)) {
    // A scenario is a mapping; a list or a lone value (text, a number, a binary file read as text) is not one.
    ctx.fail(
      ctx.lineOf(root),
      "(top level)",
      `expected a mapping with steps: (and machine:, memory:), got ${Array.isArray(js) ? "a list" : "a single value"}`,
    );
  }
  const top = asRecord(ctx, root, "(top level)", js);
  const nodeAt = (path: readonly (string | number)[]): unknown => path.reduce<unknown>((n, k) => childNode(n, k), root);
  const noSteps = top.steps === undefined || top.steps === null || (Array.isArray(top.steps) && top.steps.length === 0);
  // A file with no step is judged on everything else first: a wrong field is the more useful error.
  const issue = checkSchema(noSteps ? { ...top, steps: ["P0: isb"] } : js);
  if (issue !== undefined) {
    const n = issue.path.length === 0 ? root : nodeAt(issue.path);
    // A missing field has no node: the line is its mapping's.
    const line = ctx.lineOf(n ?? nodeAt(issue.path.slice(0, -1)));
    ctx.fail(line, fieldName(issue.path), issue.message);
  }
  const mach = asRecord(ctx, nodeAt(["machine"]), "machine", top.machine);
  const cpusNode = nodeAt(["machine", "cpus"]);
  const cpuCount = mach.cpus === undefined ? 1n : num(ctx, cpusNode, "machine.cpus", mach.cpus);
  if (cpuCount === 0n)
    ctx.fail(ctx.lineOf(cpusNode), "machine.cpus", "0 CPUs: a scenario needs at least one CPU (expected 1..64)", "ESCENARIO_EMPTY");
  const cpus = mach.cpus === undefined ? 1 : count(ctx, cpusNode, "machine.cpus", mach.cpus, 1, 64, " CPUs");
  const bbmNode = nodeAt(["machine", "bbm"]);
  const bbmLevel = mach.bbm === undefined ? 0 : Number(num(ctx, bbmNode, "machine.bbm", mach.bbm));
  if (![0, 1, 2, 3].includes(bbmLevel)) ctx.fail(ctx.lineOf(bbmNode), "machine.bbm", "expected FEAT_BBM level 0, 1, 2 or 3");
  if (mach.preset !== undefined && typeof mach.preset !== "string")
    ctx.fail(ctx.lineOf(nodeAt(["machine", "preset"])), "machine.preset", "expected a preset name (see `vmsa presets`)");
  const presetName = typeof mach.preset === "string" ? mach.preset : "linux-4k-48";
  const preset = PRESETS.find((p) => p.name === presetName);
  if (!preset)
    ctx.fail(
      ctx.lineOf(nodeAt(["machine", "preset"])),
      "machine.preset",
      `unknown preset "${presetName}" (expected one of ${PRESETS.map((p) => p.name).join(", ")})`,
    );
  const regsOf = (path: (string | number)[], field: string, v: unknown): Partial<Omit<Regs, "features">> => {
    const o = asRecord(ctx, nodeAt(path), field, v);
    const out: Partial<Record<Exclude<keyof Regs, "features" | "regime">, bigint>> = {};
    for (const [k, val] of Object.entries(o)) {
      const full = k.toUpperCase().endsWith("_EL1") ? k.toUpperCase() : `${k.toUpperCase()}_EL1`;
      const f = REG_FIELDS[full];
      const n = nodeAt([...path, k]);
      if (f === undefined)
        ctx.fail(ctx.lineOf(n), `${field}.${k}`, `unknown register (expected one of ${Object.keys(REG_FIELDS).join(", ")})`);
      out[f] = num(ctx, n, `${field}.${k}`, val);
    }
    return out;
  };
  const regs: Regs = { ...preset.regs, ...regsOf(["machine", "regs"], "machine.regs", mach.regs) };
  const cpuRegs: (Partial<Omit<Regs, "features">> | undefined)[] = [];
  const perCpu = asRecord(ctx, nodeAt(["machine", "cpu"]), "machine.cpu", mach.cpu);
  for (const [k, v] of Object.entries(perCpu)) {
    const i = Number(k.replace(/^P/i, ""));
    if (!/^P?\d+$/i.test(k) || i >= cpus)
      ctx.fail(
        ctx.lineOf(nodeAt(["machine", "cpu", k])),
        `machine.cpu.${k}`,
        `no CPU ${k} (machine.cpus is ${cpus}: expected 0..${cpus - 1} or P0..P${cpus - 1})`,
      );
    cpuRegs[i] = regsOf(["machine", "cpu", k], `machine.cpu.${k}`, v);
  }

  const memTop = asRecord(ctx, nodeAt(["memory"]), "memory", top.memory);
  const ram: { base: bigint; size: bigint }[] = [];
  if (memTop.ram !== undefined) {
    if (!Array.isArray(memTop.ram)) ctx.fail(ctx.lineOf(nodeAt(["memory", "ram"])), "memory.ram", "expected a list of {base, size}");
    memTop.ram.forEach((r: unknown, i: number) => {
      const n = nodeAt(["memory", "ram", i]);
      const o = asRecord(ctx, n, `memory.ram[${i}]`, r);
      ram.push({
        base: num(ctx, fieldNode(n, "base"), `memory.ram[${i}].base`, o.base),
        size: num(ctx, fieldNode(n, "size"), `memory.ram[${i}].size`, o.size),
      });
    });
  }
  const pool = memTop.pool === undefined ? 0x8_0000n : num(ctx, nodeAt(["memory", "pool"]), "memory.pool", memTop.pool);
  const maps: MapSpec[] = [];
  if (memTop.map !== undefined) {
    if (!Array.isArray(memTop.map)) ctx.fail(ctx.lineOf(nodeAt(["memory", "map"])), "memory.map", "expected a list");
    memTop.map.forEach((r: unknown, i: number) => {
      const n = nodeAt(["memory", "map", i]);
      const f = `memory.map[${i}]`;
      const o = asRecord(ctx, n, f, r);
      const level = o.level === undefined ? 3 : count(ctx, fieldNode(n, "level"), `${f}.level`, o.level, 0, 3);
      maps.push({
        va: num(ctx, fieldNode(n, "va"), `${f}.va`, o.va),
        pa: num(ctx, fieldNode(n, "pa"), `${f}.pa`, o.pa),
        size: o.size === undefined ? 0n : num(ctx, fieldNode(n, "size"), `${f}.size`, o.size),
        level,
        fields: leafFieldsOf(ctx, n, `${f}.attrs`, o.attrs),
        line: ctx.lineOf(n),
      });
    });
  }
  const words: { pa: bigint; value: Expr; line: number }[] = [];
  const w = asRecord(ctx, nodeAt(["memory", "words"]), "memory.words", memTop.words);
  for (const [k, v] of Object.entries(w)) {
    const n = nodeAt(["memory", "words", k]);
    const line = ctx.lineOf(n);
    const pa = parseNumber(ctx, line, `memory.words.${k}`, k);
    // Name the word by its address in hex, however the key was written (YAML reads 0x1000: as 4096).
    words.push({ pa, value: parseExpr(ctx, line, `memory.words.0x${pa.toString(16)}`, v), line });
  }
  const fills: { pa: bigint; count: number; value: Expr; stride: bigint; line: number }[] = [];
  if (memTop.fill !== undefined) {
    if (!Array.isArray(memTop.fill))
      ctx.fail(ctx.lineOf(nodeAt(["memory", "fill"])), "memory.fill", "expected a list of {pa, count, value, stride}");
    memTop.fill.forEach((r: unknown, i: number) => {
      const n = nodeAt(["memory", "fill", i]);
      const f = `memory.fill[${i}]`;
      const o = asRecord(ctx, n, f, r);
      const line = ctx.lineOf(n);
      fills.push({
        pa: num(ctx, fieldNode(n, "pa"), `${f}.pa`, o.pa),
        // At most 2^20 words (8 MiB): a fill is for tables, and a larger count would only hang.
        count: count(ctx, fieldNode(n, "count"), `${f}.count`, o.count, 1, 1 << 20, " words"),
        value: parseExpr(ctx, ctx.lineOf(fieldNode(n, "value")), `${f}.value`, o.value),
        stride: o.stride === undefined ? 0n : num(ctx, fieldNode(n, "stride"), `${f}.stride`, o.stride),
        line,
      });
    });
  }
  const values = new Map<string, Expr>();
  for (const [k, v] of Object.entries(asRecord(ctx, nodeAt(["values"]), "values", top.values))) {
    values.set(k, parseExpr(ctx, ctx.lineOf(nodeAt(["values", k])), `values.${k}`, v));
  }

  const steps: StepSpec[] = [];
  const stepsRaw = top.steps ?? [];
  if (!Array.isArray(stepsRaw)) ctx.fail(ctx.lineOf(nodeAt(["steps"])), "steps", "expected a list of steps");
  if (noSteps) {
    // With no step there is nothing to check: reporting "clean" would vouch for nothing.
    const where = top.steps === undefined ? 0 : ctx.lineOf(nodeAt(["steps"])) || ctx.lineOf(root);
    const what = top.steps === undefined ? "missing" : "the list is empty";
    ctx.fail(where, "steps", `${what}: a scenario needs at least one step (e.g. "P0: store 0x83000 0x0")`, "ESCENARIO_EMPTY");
  }
  stepsRaw.forEach((s: unknown, i: number) => {
    const n = nodeAt(["steps", i]);
    const line = ctx.lineOf(n);
    const f = `steps[${i}]`;
    let text: string;
    let allowed: OutcomeMatcher[] = [];
    let forbidden: OutcomeMatcher[] = [];
    if (typeof s === "string") text = s;
    else {
      const o = asRecord(ctx, n, f, s);
      if (typeof o.do !== "string") ctx.fail(line, `${f}.do`, "expected the step text");
      text = o.do;
      const list = (k: "allowed" | "forbidden"): OutcomeMatcher[] => {
        const v = o[k];
        if (v === undefined) return [];
        const arr = Array.isArray(v) ? v : [v];
        return arr.map((x) => parseMatcher(ctx, line, `${f}.${k}`, x));
      };
      allowed = list("allowed");
      forbidden = list("forbidden");
    }
    const p = parseStep(ctx, line, f, text, cpus);
    // Only accesses and AT have outcomes: expectations on anything else could never be judged.
    if (allowed.length + forbidden.length > 0 && p.op.op !== "access" && p.op.op !== "at")
      ctx.fail(
        line,
        `${f}.${allowed.length > 0 ? "allowed" : "forbidden"}`,
        `"${p.op.op}" has no outcome to judge (allowed/forbidden are for load, fetch, store-va and at)`,
      );
    steps.push({
      cpu: p.cpu,
      text: text.trim(),
      line,
      op: p.op,
      allowed,
      forbidden,
      ...(p.label !== undefined ? { label: p.label } : {}),
      ...(p.handler ? { handler: true } : {}),
    });
  });

  let expectViolations: ExpectedViolation[] | undefined;
  if (top.expect !== undefined) {
    const en = nodeAt(["expect"]);
    if (top.expect === "clean") expectViolations = [];
    else {
      const o = asRecord(ctx, en, "expect", top.expect);
      const v = o.violations;
      if (v === "none" || (Array.isArray(v) && v.length === 0)) expectViolations = [];
      else if (Array.isArray(v)) {
        expectViolations = v.map((x: unknown, i: number) => {
          const n = nodeAt(["expect", "violations", i]);
          const f = `expect.violations[${i}]`;
          const r = asRecord(ctx, n, f, x);
          if (typeof r.rule !== "string" || !isRuleId(r.rule))
            ctx.fail(
              ctx.lineOf(fieldNode(n, "rule")),
              `${f}.rule`,
              r.rule === undefined
                ? "missing (expected a rule id)"
                : `unknown rule ${String(r.rule)} (expected one of ${RULE_IDS.join(", ")})`,
            );
          // A step or CPU that does not exist could never match: an error, not an expectation that always fails.
          return {
            rule: r.rule,
            ...(r.step !== undefined ? { step: count(ctx, fieldNode(n, "step"), `${f}.step`, r.step, 1, steps.length) } : {}),
            ...(r.cpu !== undefined ? { cpu: count(ctx, fieldNode(n, "cpu"), `${f}.cpu`, r.cpu, 0, cpus - 1) } : {}),
          };
        });
      } else ctx.fail(ctx.lineOf(en), "expect.violations", 'expected a list of {rule, step?, cpu?} or "none"');
    }
  }
  for (const k of ["name", "description"] as const) {
    if (top[k] !== undefined && typeof top[k] !== "string") ctx.fail(ctx.lineOf(nodeAt([k])), k, "expected a string");
  }
  const name = typeof top.name === "string" ? top.name : (file.split("/").pop() ?? file).replace(/\.(ya?ml|json)$/, "");
  const litmus = litmusConfigOf(ctx, nodeAt, mach, cpus);
  const registers: { cpu: number; reg: number; value: Expr; line: number }[] = [];
  for (const [k, v] of Object.entries(asRecord(ctx, nodeAt(["registers"]), "registers", top.registers))) {
    const line = ctx.lineOf(nodeAt(["registers", k]));
    const rm = /^P?(\d+):[XW]([0-9]|[12][0-9]|30)$/i.exec(k);
    if (!rm || Number(rm[1]) >= cpus) ctx.fail(line, `registers.${k}`, `expected P<cpu>:X<n> with a CPU below ${cpus} and n 0..30`);
    registers.push({ cpu: Number(rm[1]), reg: Number(rm[2]), value: parseExpr(ctx, line, `registers.${k}`, v), line });
  }
  let final: { text: string; line: number } | undefined;
  if (top.final !== undefined) {
    if (typeof top.final !== "string")
      ctx.fail(ctx.lineOf(nodeAt(["final"])), "final", 'expected a condition like "exists (P1:X0=1 /\\ P1:X2=0)"');
    final = { text: top.final, line: ctx.lineOf(nodeAt(["final"])) };
  }
  return {
    file,
    name,
    description: typeof top.description === "string" ? top.description.trim() : "",
    cpus,
    bbmLevel,
    regs,
    cpuRegs,
    ram,
    pool,
    maps,
    words,
    fills,
    values,
    steps,
    expectViolations,
    litmus,
    registers,
    final,
  };
}

/** machine.ets / faults / el / eis / eos (litmus-level options). */
function litmusConfigOf(
  ctx: Ctx,
  nodeAt: (path: (string | number)[]) => unknown,
  mach: Record<string, unknown>,
  cpus: number,
): LitmusConfig {
  const etsNode = nodeAt(["machine", "ets"]);
  const ets = mach.ets === undefined ? 0 : count(ctx, etsNode, "machine.ets", mach.ets, 0, 3, " (FEAT_ETS level)");
  const f = mach.faults ?? "fatal";
  if (f !== "fatal" && f !== "skip") ctx.fail(ctx.lineOf(nodeAt(["machine", "faults"])), "machine.faults", 'expected "fatal" or "skip"');
  const el: (0 | 1)[] = new Array<0 | 1>(cpus).fill(1);
  const elNode = nodeAt(["machine", "el"]);
  if (mach.el !== undefined) {
    if (typeof mach.el === "object" && mach.el !== null && !Array.isArray(mach.el)) {
      for (const [k, v] of Object.entries(mach.el as Record<string, unknown>)) {
        const i = Number(k.replace(/^P/i, ""));
        const n = nodeAt(["machine", "el", k]);
        if (!/^P?\d+$/i.test(k) || i >= cpus) ctx.fail(ctx.lineOf(n), `machine.el.${k}`, `no CPU ${k} (expected P0..P${cpus - 1})`);
        el[i] = count(ctx, n, `machine.el.${k}`, v, 0, 1, " (exception level)") as 0 | 1;
      }
    } else el.fill(count(ctx, elNode, "machine.el", mach.el, 0, 1, " (exception level)") as 0 | 1);
  }
  const flag = (k: "eis" | "eos" | "haft", dflt = true): boolean => {
    const v = mach[k];
    if (v === undefined) return dflt;
    if (typeof v === "boolean") return v;
    return count(ctx, nodeAt(["machine", k]), `machine.${k}`, v, 0, 1) === 1;
  };
  const stage2: ({ root: bigint; vmid: number } | undefined)[] = new Array(cpus).fill(undefined);
  if (mach.stage2 !== undefined) {
    const s2 = mach.stage2 as Record<string, unknown>;
    const one = (path: string[], field: string, v: Record<string, unknown>): { root: bigint; vmid: number } => {
      const root = num(ctx, nodeAt([...path, "root"]), `${field}.root`, v.root);
      if (root % 4096n !== 0n) ctx.fail(ctx.lineOf(nodeAt([...path, "root"])), `${field}.root`, "expected a 4 KiB-aligned table address");
      const vmid = v.vmid === undefined ? 0 : count(ctx, nodeAt([...path, "vmid"]), `${field}.vmid`, v.vmid, 0, 0xffff, " (VMID)");
      return { root, vmid };
    };
    if ("root" in s2) stage2.fill(one(["machine", "stage2"], "machine.stage2", s2));
    else {
      for (const [k, v] of Object.entries(s2)) {
        const i = Number(k.replace(/^P/i, ""));
        const n = nodeAt(["machine", "stage2", k]);
        if (!/^P?\d+$/i.test(k) || i >= cpus) ctx.fail(ctx.lineOf(n), `machine.stage2.${k}`, `no CPU ${k} (expected P0..P${cpus - 1})`);
        stage2[i] = one(["machine", "stage2", k], `machine.stage2.${k}`, v as Record<string, unknown>);
      }
    }
  }
  return { ets, faults: f, el, eis: flag("eis"), eos: flag("eos"), haft: flag("haft", false), stage2 };
}
