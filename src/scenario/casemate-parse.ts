/**
 * Reading Casemate traces: the s-expression records that Casemate's instrumentation of pKVM (and
 * its example tests) writes, one transition each, in the order the threads performed them.
 *
 * A record is `(KIND (id N) (tid T) FIELD… (src S)?)` with named fields, or the compressed
 * positional form `(KIND N T S FIELD…)`. Kinds: mem-write, mem-read, mem-init, mem-set, barrier,
 * tlbi, sysreg-write (older traces: msr), hint, lock, unlock; enter-context / exit-context are
 * kept as context records. Lines starting with `!` are Casemate's own verdict (its expected logs
 * end with one): they are kept apart, not replayed.
 *
 * Numbers follow the project convention: addresses, values and sizes are hex with or without
 * `0x` (Casemate prints both `0xaaaae98a2000` and `23f000`); id and tid are decimal counts.
 * Anything else is bad input: one `FILE:LINE: field: expected …` error (CasemateError).
 * The s-expression syntax is read by the npm package sexpr-plus (pinned 7.0.0).
 */
import sexpr, { type SexprNode, type SexprSyntaxError } from "sexpr-plus";
import { VmsaError } from "../arch/errors.js";
import { parseU64 } from "../arch/u64.js";

export class CasemateError extends VmsaError {
  constructor(message: string) {
    super("ECASEMATE", message);
    this.name = "CasemateError";
  }
}

export type BarrierDomain = "ish" | "ishst" | "ishld" | "nsh" | "nshst" | "nshld" | "osh" | "oshst" | "oshld" | "sy" | "st" | "ld";
const DOMAINS: readonly BarrierDomain[] = ["ish", "ishst", "ishld", "nsh", "nshst", "nshld", "osh", "oshst", "oshld", "sy", "st", "ld"];

/** Fields every record carries. */
interface RecordBase {
  readonly id: number;
  readonly tid: number;
  /** Source location the trace names (file:line text, or a numeric key), when given. */
  readonly src?: string;
  /** Line of the record in the trace file (1-based). */
  readonly line: number;
}

export type CasemateRecord = RecordBase &
  (
    | { readonly kind: "mem-write"; readonly order: "plain" | "release"; readonly address: bigint; readonly value: bigint }
    | { readonly kind: "mem-read"; readonly address: bigint; readonly value: bigint }
    | { readonly kind: "mem-init"; readonly address: bigint; readonly size: bigint }
    | { readonly kind: "mem-set"; readonly address: bigint; readonly size: bigint; readonly value: number }
    | { readonly kind: "barrier"; readonly barrier: "isb" }
    | { readonly kind: "barrier"; readonly barrier: "dsb" | "dmb"; readonly domain: BarrierDomain }
    /** `op` lower case; `addr`/`level` (by-address forms) or `value` (the raw Xt operand). */
    | { readonly kind: "tlbi"; readonly op: string; readonly addr?: bigint; readonly level?: number; readonly value?: bigint }
    /** `sysreg` lower case (`ttbr_el2` of compressed traces is read as ttbr0_el2). */
    | { readonly kind: "sysreg-write"; readonly sysreg: string; readonly value: bigint }
    | { readonly kind: "hint"; readonly hint: string; readonly location: bigint; readonly value: bigint }
    | { readonly kind: "lock" | "unlock"; readonly address: bigint }
    | { readonly kind: "context"; readonly which: "enter-context" | "exit-context"; readonly text: string }
  );

export interface CasemateTrace {
  readonly file: string;
  readonly records: readonly CasemateRecord[];
  /** Casemate's own verdict lines (`! …`) found in the file, without the `!`. */
  readonly casemateVerdicts: readonly { readonly line: number; readonly text: string }[];
}

/**
 * Whether a file's text looks like a Casemate trace: its first form (after blank lines and `;`
 * comments) is a parenthesised record of a known kind. Scenario YAML/JSON never starts so.
 */
export function looksLikeCasemate(text: string): boolean {
  const m = /^(?:\s|;[^\n]*\n)*\(\s*([a-z-]+)/i.exec(text.slice(0, 4096));
  return m !== null && KINDS.has((m[1] as string).toLowerCase());
}

const KINDS = new Set([
  "mem-write",
  "mem-read",
  "mem-init",
  "mem-set",
  "barrier",
  "tlbi",
  "sysreg-write",
  "msr",
  "hint",
  "lock",
  "unlock",
  "enter-context",
  "exit-context",
]);

type Node = SexprNode;

/** Reads one record's fields, named or positional, naming the record in every error. */
class RecordReader {
  private readonly named = new Map<string, readonly Node[]>();
  /** Bare atoms/strings after the header, in order (positional fields, `dsb`, `ipas2e1is`…). */
  readonly bare: Node[] = [];
  readonly positional: boolean;

  constructor(
    private readonly file: string,
    readonly kind: string,
    readonly line: number,
    items: readonly Node[],
  ) {
    // Positional form: the id is a bare atom right after the kind.
    this.positional = items[0]?.type === "atom";
    for (const it of items) {
      if (it.type === "list") {
        const head = it.content[0];
        if (head === undefined || head.type !== "atom") this.fail(lineOf(it), "field", "a (name value) field");
        const key = head.content.toLowerCase();
        if (this.named.has(key)) this.fail(lineOf(it), key, "one field of this name (it is given twice)");
        this.named.set(key, it.content.slice(1));
      } else this.bare.push(it);
    }
  }

  fail(line: number, field: string, expected: string, got?: string): never {
    const g = got === undefined ? "" : `, got ${got}`;
    throw new CasemateError(`${this.file}:${line}: ${this.kind}: ${field}: expected ${expected}${g}`);
  }

  has(key: string): boolean {
    return this.named.has(key);
  }

  /** The single atom of named field `key`. */
  atom(key: string, expected: string): { text: string; line: number } {
    const v = this.named.get(key);
    if (v === undefined) this.fail(this.line, key, `a (${key} …) field with ${expected}`, "none");
    const n = v[0];
    if (v.length !== 1 || n === undefined || n.type === "list") this.fail(this.line, key, `one ${expected}`, `${v.length} items`);
    return { text: n.content, line: lineOf(n) };
  }

  /** The next bare item (positional field or keyword). */
  next(field: string, expected: string): { text: string; line: number; type: "atom" | "string" } {
    const n = this.bare.shift();
    if (n === undefined) this.fail(this.line, field, expected, "end of record");
    if (n.type === "list") this.fail(lineOf(n), field, expected, "a list");
    return { text: n.content, line: lineOf(n), type: n.type };
  }

  hex(field: string, t: { text: string; line: number }): bigint {
    try {
      return parseU64(t.text, field);
    } catch {
      return this.fail(t.line, field, "a hex number (0x optional, at most 64 bits)", `"${t.text}"`);
    }
  }

  count(field: string, t: { text: string; line: number }, max: number): number {
    if (!/^[0-9]{1,10}$/.test(t.text) || Number(t.text) > max) this.fail(t.line, field, `a decimal number 0..${max}`, `"${t.text}"`);
    return Number(t.text);
  }

  /** Named field `key` (hex), or the next positional one. */
  hexField(key: string): bigint {
    return this.hex(key, this.positional ? this.next(key, "a hex number") : this.atom(key, "a hex number"));
  }

  /** Named field `key` (a word), or the next positional one; lower case. */
  wordField(key: string, expected: string): { text: string; line: number } {
    const t = this.positional ? this.next(key, expected) : this.atom(key, expected);
    return { text: t.text.toLowerCase(), line: t.line };
  }

  /** No field may be left over: a misspelt name is bad input, not ignored. */
  done(known: readonly string[]): void {
    for (const k of this.named.keys()) {
      if (!known.includes(k)) this.fail(this.line, k, `only the fields ${known.map((x) => `(${x} …)`).join(" ")}`, `(${k} …)`);
    }
    const extra = this.bare[0];
    if (extra !== undefined) this.fail(lineOf(extra), "record", "no further items", `"${extra.type === "list" ? "(…)" : extra.content}"`);
  }
}

function lineOf(n: Node): number {
  return n.location.start.line;
}

/** Parse a Casemate trace (text of file `file`). Throws CasemateError (one line) on bad input. */
export function parseCasemate(text: string, file: string): CasemateTrace {
  // Casemate's verdict lines (`! BBM valid->valid`) are not s-expressions: set aside, keeping
  // the line numbering of everything else.
  const verdicts: { line: number; text: string }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    if (/^\s*!/.test(l)) {
      verdicts.push({ line: i + 1, text: l.trim().slice(1).trim() });
      lines[i] = "";
    }
  }
  let forms: SexprNode[];
  try {
    forms = sexpr.parse(lines.join("\n"));
  } catch (e) {
    const se = e as SexprSyntaxError;
    // At the end of the input the reader names the last line; the record left open is more useful.
    const open = unclosedRecordLine(lines);
    if (se.location !== undefined && se.location.start.offset >= lines.join("\n").trimEnd().length && open !== undefined) {
      throw new CasemateError(`${file}:${open}: expected an s-expression record: the record opened here is not closed`);
    }
    const line = se.location?.start.line ?? 1;
    throw new CasemateError(`${file}:${line}: expected an s-expression record: ${se.message}`);
  }
  const records: CasemateRecord[] = [];
  for (const f of forms) records.push(readRecord(f, file));
  if (records.length === 0) throw new CasemateError(`${file}:1: expected at least one Casemate record, found none`);
  return { file, records, casemateVerdicts: verdicts };
}

/** Line of the outermost `(` never closed (outside strings and `;` comments), if any. */
function unclosedRecordLine(lines: readonly string[]): number | undefined {
  let depth = 0;
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    let inStr = false;
    for (let c = 0; c < l.length; c++) {
      const ch = l[c];
      if (inStr) {
        if (ch === "\\") c++;
        else if (ch === '"') inStr = false;
      } else if (ch === '"') inStr = true;
      else if (ch === ";") break;
      else if (ch === "(") {
        if (depth === 0) start = i + 1;
        depth++;
      } else if (ch === ")") depth = Math.max(0, depth - 1);
    }
  }
  return depth > 0 ? start : undefined;
}

function readRecord(f: Node, file: string): CasemateRecord {
  const line = lineOf(f);
  if (f.type !== "list") {
    throw new CasemateError(`${file}:${line}: expected a record "(KIND (id N) (tid T) …)", got "${f.content}"`);
  }
  const head = f.content[0];
  if (head === undefined || head.type !== "atom" || !KINDS.has(head.content.toLowerCase())) {
    const got = head === undefined ? "()" : head.type === "list" ? "a list" : `"${head.content}"`;
    throw new CasemateError(`${file}:${line}: record: expected a kind (${[...KINDS].join(", ")}), got ${got}`);
  }
  const kind = head.content.toLowerCase();
  const r = new RecordReader(file, kind, line, f.content.slice(1));
  let id: number;
  let tid: number;
  let src: string | undefined;
  if (r.positional) {
    id = r.count("id", r.next("id", "a decimal id"), 0xffffffff);
    tid = r.count("tid", r.next("tid", "a decimal thread id"), 0xffff);
    // The source, when present, is the string in third place.
    if (r.bare[0]?.type === "string") src = r.next("src", "a string").text;
  } else {
    id = r.count("id", r.atom("id", "a decimal id"), 0xffffffff);
    const tk = r.has("tid") ? "tid" : "thread";
    tid = r.count(tk, r.atom(tk, "a decimal thread id"), 0xffff);
    if (r.has("src")) src = r.atom("src", "a source location").text;
  }
  const base = { id, tid, line, ...(src !== undefined ? { src } : {}) };
  const common = ["id", "tid", "thread", "src"];
  switch (kind) {
    case "mem-write": {
      const o = r.wordField("mem-order", "plain or release");
      const order = o.text === "plain" || o.text === "release" ? o.text : r.fail(o.line, "mem-order", "plain or release", `"${o.text}"`);
      const address = r.hexField("address");
      const value = r.hexField("value");
      r.done([...common, "mem-order", "address", "value"]);
      if ((address & 7n) !== 0n)
        r.fail(line, "address", "an 8-byte aligned address (a 64-bit descriptor write)", `0x${address.toString(16)}`);
      return { ...base, kind, order, address, value };
    }
    case "mem-read": {
      const address = r.hexField("address");
      const value = r.hexField("value");
      r.done([...common, "address", "value"]);
      return { ...base, kind, address, value };
    }
    case "mem-init":
    case "mem-set": {
      const address = r.hexField("address");
      const size = r.hexField("size");
      let value = 0;
      if (kind === "mem-set") {
        const v = r.hexField("value");
        if (v > 0xffn) r.fail(line, "value", "one byte (0..ff)", `0x${v.toString(16)}`);
        value = Number(v);
      }
      r.done([...common, "address", "size", ...(kind === "mem-set" ? ["value"] : [])]);
      if ((address & 7n) !== 0n || (size & 7n) !== 0n) {
        r.fail(
          line,
          "address",
          "an 8-byte aligned address and a size that is a multiple of 8",
          `0x${address.toString(16)} +0x${size.toString(16)}`,
        );
      }
      if (size > 0x4000_0000n) r.fail(line, "size", "at most 0x40000000 bytes", `0x${size.toString(16)}`);
      return kind === "mem-init" ? { ...base, kind, address, size } : { ...base, kind, address, size, value };
    }
    case "barrier": {
      const b = r.next("barrier", "isb, dsb or dmb");
      const w = b.text.toLowerCase();
      if (w === "isb") {
        r.done(common);
        return { ...base, kind, barrier: "isb" };
      }
      if (w !== "dsb" && w !== "dmb") return r.fail(b.line, "barrier", "isb, dsb or dmb", `"${b.text}"`);
      const d = r.positional ? r.next("kind", "a domain (ish, ishst, nsh, sy…)") : r.atom("kind", "a domain (ish, ishst, nsh, sy…)");
      const domain =
        DOMAINS.find((x) => x === d.text.toLowerCase()) ?? r.fail(d.line, "kind", `one of ${DOMAINS.join(", ")}`, `"${d.text}"`);
      r.done([...common, "kind"]);
      return { ...base, kind, barrier: w, domain };
    }
    case "tlbi": {
      const o = r.next("op", "a TLBI operation (vmalls12e1is, ipas2e1is, vae2is…)");
      const op = o.text.toLowerCase();
      if (!/^[a-z0-9]+$/.test(op)) r.fail(o.line, "op", "a TLBI operation name", `"${o.text}"`);
      let addr: bigint | undefined;
      let level: number | undefined;
      let value: bigint | undefined;
      if (r.positional) {
        if (r.bare.length >= 1) addr = r.hex("addr", r.next("addr", "a hex address"));
        if (r.bare.length >= 1) level = levelOf(r, r.next("level", "a level 0..3"));
      } else {
        if (r.has("addr")) addr = r.hexField("addr");
        if (r.has("level")) level = levelOf(r, r.atom("level", "a level 0..3"));
        if (r.has("value")) value = r.hexField("value");
      }
      r.done([...common, "addr", "level", "value"]);
      return {
        ...base,
        kind,
        op,
        ...(addr !== undefined ? { addr } : {}),
        ...(level !== undefined ? { level } : {}),
        ...(value !== undefined ? { value } : {}),
      };
    }
    case "sysreg-write":
    case "msr": {
      const reg = r.wordField("sysreg", "a system register name (vttbr_el2, ttbr0_el2…)");
      if (!/^[a-z0-9_]+$/.test(reg.text)) r.fail(reg.line, "sysreg", "a system register name", `"${reg.text}"`);
      const value = r.hexField("value");
      r.done([...common, "sysreg", "value"]);
      return { ...base, kind: "sysreg-write", sysreg: reg.text === "ttbr_el2" ? "ttbr0_el2" : reg.text, value };
    }
    case "hint": {
      const h = r.wordField("kind", "a hint kind (set_root_lock, set_owner_root, release_table…)");
      const location = r.hexField("location");
      const value = r.hexField("value");
      r.done([...common, "kind", "location", "value"]);
      return { ...base, kind, hint: h.text, location, value };
    }
    case "lock":
    case "unlock": {
      const address = r.hexField("address");
      r.done([...common, "address"]);
      return { ...base, kind, address };
    }
    default: {
      // enter-context / exit-context: kept in the log as written.
      const parts = r.bare.splice(0).map((n) => (n.type === "list" ? "(…)" : n.content));
      return { ...base, kind: "context", which: kind === "enter-context" ? "enter-context" : "exit-context", text: parts.join(" ") };
    }
  }
}

function levelOf(r: RecordReader, t: { text: string; line: number }): number {
  const m = /^(?:0x)?([0-3])$/i.exec(t.text);
  if (!m) r.fail(t.line, "level", "a translation level 0..3", `"${t.text}"`);
  return Number(m[1]);
}
