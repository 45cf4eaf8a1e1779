/**
 * Reading herd7 AArch64 VMSA litmus files (`.litmus`): the subset vmsa runs, everything else
 * refused with one line naming the file, the line and what was expected. The syntax is herd's
 * (/work/shared/reference/relaxed-vmsa.md §4): `AArch64 NAME`, `KEY=VALUE` info lines, an init
 * section `{ … }`, instruction columns `P0 | P1 ;`, and a final condition.
 *
 * Supported:
 * - info: Variant= (vmsa/kvm, fatal, faultToNext, ets/ets2/ets3, exs, eis, eos; precise,
 *   imprecise, Handled ignored), TTHM= (HA, HD, SW, per thread Pn:…), EL0=Pn…; informational
 *   keys (Hash, Com, Orig, Generator, Prefetch, Cycle, Relax, Safe, Prefetch, Scopes) ignored.
 * - init: `x=V`, `[x]=V`, `int x=V` (any type prefix), registers `0:X1=x | PTE(x) | pte_x |
 *   PA(x) | phy_x | N | (descriptor)`, PTEs `[PTE(x)]=(…)`, `PTE(x)=(…)`, `pte_x=(…)`.
 *   Descriptors: `oa:PA(y)` / `oa:phy_y`, valid, af, db, dbm, el0, x (0/1), and the default
 *   attributes Normal, ISH (Inner-shareable), iWB, oWB.
 * - code: columns P0…, handler columns Pn.F; labels; instructions as litmus-steps.ts reads them.
 * - final condition: exists / ~exists / forall over N:Xr=V, [x]=V / x=V, [PTE(x)]=(…),
 *   N:Xr=(…), fault(Pn[:L][,x][,Kind]) and ~fault(…); `locations […]` is accepted and ignored.
 * Refused: other architectures, `filter`, descriptors of page-table pages (oa:PTE(y)),
 * PTE(PTE(x)), memory attributes other than the defaults, and every other unknown item.
 */
import { ScenarioError } from "./build.js";

/** A herd descriptor value (PteVal): output address by location and the fields herd models. */
export interface HerdPte {
  /** The location whose physical page is the output address (undefined: none given). */
  readonly oa: string | undefined;
  readonly valid: number;
  readonly af: number;
  readonly db: number;
  readonly dbm: number;
  readonly el0: number;
  readonly x: number;
}

export type HerdValue =
  | { readonly k: "num"; readonly v: bigint }
  | { readonly k: "va" | "pte" | "pa"; readonly loc: string }
  | { readonly k: "desc"; readonly pte: HerdPte };

export interface HerdTest {
  readonly file: string;
  readonly name: string;
  /** KEY=VALUE lines, keys lower-cased. */
  readonly info: ReadonlyMap<string, string>;
  /** Symbolic locations in order of first appearance (init, code, condition). */
  readonly locations: readonly string[];
  readonly memory: ReadonlyMap<string, bigint>;
  readonly ptes: ReadonlyMap<string, HerdPte>;
  readonly registers: readonly { readonly cpu: number; readonly reg: string; readonly value: HerdValue }[];
  /** Columns: thread number, handler column (Pn.F) or not, and its cells (labels kept). */
  readonly threads: readonly {
    readonly cpu: number;
    readonly handler: boolean;
    readonly cells: readonly { text: string; line: number }[];
  }[];
  readonly condition: { readonly text: string; readonly line: number };
}

export class HerdError extends ScenarioError {
  constructor(message: string) {
    super("EHERD", message);
    this.name = "HerdError";
  }
}

/** herd's defaults for an unlisted field (HSRC AArch64PteVal prot_default). */
export const PTE_DEFAULT: Omit<HerdPte, "oa"> = { valid: 1, af: 1, db: 1, dbm: 0, el0: 1, x: 1 };

const PTE_FIELDS = ["valid", "af", "db", "dbm", "el0", "x"] as const;
const DEFAULT_ATTRS = new Set(["normal", "ish", "inner-shareable", "iwb", "owb", "inner-write-back", "outer-write-back"]);
const INFO_IGNORED = new Set(["hash", "com", "orig", "generator", "prefetch", "cycle", "relax", "safe", "scopes", "mapping"]);
const LOC_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

class Reader {
  readonly locations: string[] = [];
  constructor(readonly file: string) {}
  fail(line: number, msg: string): never {
    throw new HerdError(`${this.file}${line > 0 ? `:${line}` : ""}: ${msg}`);
  }
  loc(name: string, line: number): string {
    if (!LOC_RE.test(name) || /^[xw]\d+$/i.test(name)) this.fail(line, `"${name}" is not a location name`);
    if (/^(pte|phy)_/.test(name)) this.fail(line, `"${name}" is not a location name`);
    if (!this.locations.includes(name)) this.locations.push(name);
    return name;
  }
  num(t: string, line: number, what: string): bigint {
    const s = t.trim();
    if (/^-?[0-9]+$/.test(s) || /^0x[0-9a-f]+$/i.test(s)) {
      const v = BigInt(s);
      if (v < 0n || v >= 1n << 64n) this.fail(line, `${what}: ${s} does not fit in 64 bits`);
      return v;
    }
    return this.fail(line, `${what}: "${s}" is not a number (herd numbers are decimal or 0x hex)`);
  }
  /** `PTE(x)` / `pte_x` → x; undefined when not a PTE name. */
  pteName(t: string, line: number): string | undefined {
    const s = t.trim();
    const m = /^PTE\(\s*(.*?)\s*\)$/i.exec(s) ?? /^pte_([A-Za-z_][A-Za-z0-9_]*)$/.exec(s);
    if (!m) return undefined;
    if (/^PTE\(/i.test(m[1] as string)) this.fail(line, `${s}: PTEs of page-table pages (-variant pte2) are not supported`);
    return this.loc(m[1] as string, line);
  }
  /** `PA(x)` / `phy_x` → x. */
  paName(t: string, line: number): string | undefined {
    const s = t.trim();
    const m = /^PA\(\s*(.*?)\s*\)$/i.exec(s) ?? /^phy_([A-Za-z_][A-Za-z0-9_]*)$/.exec(s);
    return m ? this.loc(m[1] as string, line) : undefined;
  }
  /** A descriptor `(oa:PA(y), valid:0, …)`; `own` is the location whose PTE it is (its default OA). */
  pte(t: string, line: number, own: string | undefined): HerdPte {
    const body = /^\((.*)\)$/s.exec(t.trim())?.[1];
    if (body === undefined) return this.fail(line, `"${t.trim()}" is not a descriptor (expected (oa:PA(x), valid:0, …))`);
    const f: Record<string, number> = { ...PTE_DEFAULT };
    let oa = own;
    for (const item of splitTop(body, ",")) {
      const s = item.trim();
      if (s === "") continue;
      const kv = /^([A-Za-z0-9_-]+)\s*:\s*(.*)$/s.exec(s);
      if (kv === null) {
        if (DEFAULT_ATTRS.has(s.toLowerCase())) continue;
        return this.fail(line, `descriptor: memory attribute "${s}" is not supported (only the default Normal ISH iWB oWB)`);
      }
      const key = (kv[1] as string).toLowerCase();
      const val = (kv[2] as string).trim();
      if (key === "oa") {
        if (this.pteName(val, line) !== undefined) this.fail(line, `descriptor: oa:${val} (a page-table page as output) is not supported`);
        const pa = this.paName(val, line);
        if (pa === undefined) this.fail(line, `descriptor: oa:${val} is not supported (expected oa:PA(x) or oa:phy_x)`);
        oa = pa;
      } else if (key === "attrs") {
        for (const a of splitTop(val.replace(/^\(|\)$/g, ""), ",")) {
          if (a.trim() !== "" && !DEFAULT_ATTRS.has(a.trim().toLowerCase()))
            this.fail(line, `descriptor: memory attribute "${a.trim()}" is not supported (only the default Normal ISH iWB oWB)`);
        }
      } else if ((PTE_FIELDS as readonly string[]).includes(key)) {
        if (val !== "0" && val !== "1") this.fail(line, `descriptor: ${key}:${val} (expected 0 or 1)`);
        f[key] = Number(val);
      } else this.fail(line, `descriptor: field "${key}" is not supported (expected oa, valid, af, db, dbm, el0, x)`);
    }
    if (oa === undefined) this.fail(line, `descriptor "${t.trim()}" names no output address (expected oa:PA(x))`);
    return {
      oa,
      valid: f.valid as number,
      af: f.af as number,
      db: f.db as number,
      dbm: f.dbm as number,
      el0: f.el0 as number,
      x: f.x as number,
    };
  }
  value(t: string, line: number): HerdValue {
    const s = t.trim();
    if (s.startsWith("(")) return { k: "desc", pte: this.pte(s, line, undefined) };
    const pte = this.pteName(s, line);
    if (pte !== undefined) return { k: "pte", loc: pte };
    const pa = this.paName(s, line);
    if (pa !== undefined) return { k: "pa", loc: pa };
    if (/^-?[0-9]/.test(s)) return { k: "num", v: this.num(s, line, "value") };
    return { k: "va", loc: this.loc(s, line) };
  }
}

/** Split at `sep` outside parentheses and brackets. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(" || ch === "[") depth++;
    if (ch === ")" || ch === "]") depth--;
    if (ch === sep && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Blank out `(* … *)` comments, keeping line breaks (so line numbers stay the file's). */
function stripComments(text: string, r: Reader): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("(*", i)) {
      const end = text.indexOf("*)", i + 2);
      if (end < 0) r.fail(text.slice(0, i).split("\n").length, "comment (* is never closed");
      out += text.slice(i, end + 2).replace(/[^\n]/g, " ");
      i = end + 2;
    } else out += text[i++];
  }
  return out;
}

export function parseHerd(text: string, file: string): HerdTest {
  const r: Reader = new Reader(file);
  const src = stripComments(text.replace(/\r\n?/g, "\n"), r);
  const lines = src.split("\n");
  let li = 0;
  const lineNo = (): number => li + 1;
  while (li < lines.length && (lines[li] as string).trim() === "") li++;
  const head = /^\s*(\S+)\s+(\S.*?)\s*$/.exec(lines[li] ?? "");
  if (head === null) r.fail(lineNo(), `expected "AArch64 NAME" on the first line`);
  if ((head[1] as string).toUpperCase() !== "AARCH64")
    r.fail(lineNo(), `architecture "${head[1]}": only AArch64 litmus tests are read (expected "AArch64 NAME")`);
  const name = head[2] as string;
  li++;
  const info = new Map<string, string>();
  for (; li < lines.length; li++) {
    const t = (lines[li] as string).trim();
    if (t === "" || t.startsWith('"')) continue;
    if (t.startsWith("{")) break;
    const kv = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(t);
    if (kv === null) r.fail(lineNo(), `"${t}" is not KEY=VALUE (expected info lines, then the init section "{")`);
    const key = (kv[1] as string).toLowerCase();
    if (!["variant", "tthm", "el0"].includes(key) && !INFO_IGNORED.has(key))
      r.fail(lineNo(), `info key ${kv[1]} is not supported (expected Variant, TTHM, EL0 or an informational key)`);
    info.set(key, (kv[2] as string).trim());
  }
  if (li >= lines.length) r.fail(lineNo(), 'no init section (expected "{ … }")');
  // The init section: from "{" to the matching "}", items separated by ";".
  const startLine = li;
  let init = "";
  let depth = 0;
  let endCol = -1;
  for (; li < lines.length; li++) {
    const l = lines[li] as string;
    for (let c = li === startLine ? l.indexOf("{") : 0; c < l.length; c++) {
      const ch = l[c] as string;
      if (ch === "{") depth++;
      else if (ch === "}") depth--;
      if (depth === 0) {
        endCol = c;
        break;
      }
      init += ch === "{" && depth === 1 ? "" : ch;
    }
    if (endCol >= 0) break;
    init += "\n";
  }
  if (endCol < 0) r.fail(startLine + 1, 'the init section "{" is never closed');
  const memory = new Map<string, bigint>();
  const ptes = new Map<string, HerdPte>();
  const registers: { cpu: number; reg: string; value: HerdValue }[] = [];
  let at = startLine + 1;
  for (const raw of splitTop(init, ";")) {
    const itemLine = at;
    at += (raw.match(/\n/g) ?? []).length;
    let item = raw.trim().replace(/\s+/g, " ");
    if (item === "") continue;
    // An optional type: int x=1; pteval_t 0:X1=(…); uint64_t [x]=1.
    const typed = /^([A-Za-z_][A-Za-z0-9_]*\*?)\s+(\S.*)$/.exec(item);
    if (typed && !/^(PTE|PA)\(/i.test(item) && !item.startsWith("[")) item = typed[2] as string;
    const eq = splitTop(item, "=");
    if (eq.length !== 2) r.fail(itemLine, `init item "${item}" is not LHS=VALUE`);
    const lhs = (eq[0] as string).trim();
    const rhs = (eq[1] as string).trim();
    const reg = /^P?(\d+)\s*:\s*([XW]\d+)$/i.exec(lhs);
    if (reg) {
      const n = Number((reg[2] as string).slice(1));
      if (n > 30) r.fail(itemLine, `register ${reg[2]} does not exist (X0..X30)`);
      registers.push({ cpu: Number(reg[1]), reg: `X${n}`, value: r.value(rhs, itemLine) });
      continue;
    }
    const inner = /^\[(.*)\]$/.exec(lhs)?.[1]?.trim() ?? lhs;
    const pteOf = r.pteName(inner, itemLine);
    if (pteOf !== undefined) {
      ptes.set(pteOf, r.pte(rhs, itemLine, pteOf));
      continue;
    }
    if (!LOC_RE.test(inner)) r.fail(itemLine, `init item "${item}": "${lhs}" is not a location, a register or a PTE`);
    const loc = r.loc(inner, itemLine);
    if (rhs.startsWith("(")) r.fail(itemLine, `init item "${item}": a location holds a number here (descriptors go in PTE(x))`);
    memory.set(loc, r.num(rhs, itemLine, `${loc}`));
  }
  li++;
  // Code: a header row "P0 | P1 | P1.F ;", then rows of cells, until the final condition.
  const threads: { cpu: number; handler: boolean; cells: { text: string; line: number }[] }[] = [];
  let condition: { text: string; line: number } | undefined;
  let header = true;
  for (; li < lines.length; li++) {
    const t = (lines[li] as string).trim();
    if (t === "") continue;
    if (/^(~\s*exists|exists|forall|final|observed|locations|filter)\b/i.test(t)) {
      const rest = lines.slice(li).join("\n").trim();
      const line = lineNo();
      if (/^filter\b/i.test(rest)) r.fail(line, "filter is not supported");
      let cond = rest;
      if (/^locations\b/i.test(cond)) {
        const close = cond.indexOf("]");
        if (close < 0) r.fail(line, "locations [ … ] is never closed");
        cond = cond.slice(close + 1).trim();
        if (/^filter\b/i.test(cond)) r.fail(line, "filter is not supported");
      }
      if (!/^(~\s*exists|exists|forall)\b/i.test(cond)) r.fail(line, "expected a final condition: exists, ~exists or forall");
      condition = { text: cond.replace(/\s+/g, " ").replace(/;\s*$/, ""), line };
      break;
    }
    const row = t.replace(/;\s*$/, "");
    const cells = row.split("|");
    if (header) {
      for (const c of cells) {
        const h = /^P(\d+)(\.F)?$/i.exec(c.trim());
        if (h === null) r.fail(lineNo(), `column "${c.trim()}" is not a thread (expected P0, P1, … or a handler P0.F)`);
        threads.push({ cpu: Number(h[1]), handler: h[2] !== undefined, cells: [] });
      }
      header = false;
      continue;
    }
    if (cells.length > threads.length) r.fail(lineNo(), `${cells.length} cells in a row of ${threads.length} columns`);
    cells.forEach((c, i) => {
      if (c.trim() !== "") (threads[i] as (typeof threads)[number]).cells.push({ text: c.trim(), line: lineNo() });
    });
  }
  if (header) r.fail(lineNo(), 'no code (expected a column header "P0 | P1 ;" after the init section)');
  if (condition === undefined) r.fail(lineNo(), "no final condition (expected exists, ~exists or forall)");
  const mains = threads.filter((t) => !t.handler).map((t) => t.cpu);
  mains.forEach((c, i) => {
    if (c !== i) r.fail(startLine + 1, `threads must be P0, P1, … in order (got P${c} as column ${i})`);
  });
  for (const t of threads) if (t.handler && !mains.includes(t.cpu)) r.fail(0, `handler P${t.cpu}.F has no thread P${t.cpu}`);
  for (const g of registers) if (!mains.includes(g.cpu)) r.fail(0, `register ${g.cpu}:${g.reg}: there is no thread P${g.cpu}`);
  return { file, name, info, locations: r.locations, memory, ptes, registers, threads, condition };
}

/** A value as the init section reads it (`(oa:PA(x), valid:0)`, `PTE(x)`, `x`, a number), for conditions. */
export function readHerdValue(file: string, line: number, text: string): HerdValue {
  return new Reader(file).value(text, line);
}
