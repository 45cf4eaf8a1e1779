/**
 * The "mappings" array of `vmsa dump --format json`, written as text straight from a range walk's
 * numeric runs (walk/range.ts LeafRun): the same bytes as jsonText (io/json-text.ts) of the
 * MappingRun objects, without making a bigint, a decoded descriptor or an object per run.
 *
 * Runs that differ only in where they are (VA, PA, size, entry count, descriptor raw and OA) share
 * a template: the run's JSON made once by jsonText, with those six fields replaced by markers and
 * cut there. The template key is everything else the text depends on: the descriptor bits outside
 * the output-address field (addressFieldMask of the leaf's level), its level, the levels met and
 * the table restrictions. Each run is then its template with the six fields filled in as hex
 * (from 32-bit halves: every number here is exact below 2^53).
 */
import { addressFieldMask, addressOf, type DescriptorFormat } from "../arch/descriptor.js";
import { VmsaError } from "../arch/errors.js";
import { jsonText } from "../io/json-text.js";
import type { HalfContext } from "../walk/context.js";
import { halfBase, type LeafRun, mappingRunOf } from "../walk/range.js";

const TWO32 = 4294967296;

/** The fields filled in per run, in marker form `"@@name@@"` inside a template. */
const FIELDS = ["va", "pa", "size", "entries", "raw", "oa"] as const;
const FIELD_CODE: Readonly<Record<string, number>> = Object.fromEntries(FIELDS.map((f, i) => [f, i]));

export interface Template {
  /** Fixed text around the fields, as ASCII bytes: `text[0] field[0] text[1] … field[n-1] text[n]`. */
  readonly text: readonly Uint8Array[];
  /** Index into FIELDS of each field, in document order. */
  readonly fields: readonly number[];
  /** Bytes a run of this template can take at most (its text and six 64-bit hex fields). */
  readonly maxBytes: number;
}

/** A field's marker inside a template's text. */
export const mark = (f: string): string => `@@${f}@@`;

/**
 * A template from a run object whose per-run fields are markers (their codes in `codes`), indented
 * as an element of a top-level array. The only strings in the object may be markers and words that
 * contain no `"` (enum names): the cut at the markers is exact.
 */
export function cutTemplate(marked: object, codes: Readonly<Record<string, number>>): Template {
  const doc = `  ${jsonText(marked, 1).replaceAll("\n", "\n  ")}`;
  const parts = doc.split(/"@@(\w+)@@"/);
  const text: Uint8Array[] = [];
  const fields: number[] = [];
  let maxBytes = 0;
  parts.forEach((p, i) => {
    if (i % 2 === 0) {
      text.push(Uint8Array.from(p, (c) => c.charCodeAt(0)));
      maxBytes += p.length;
    } else {
      fields.push(codes[p] as number);
      maxBytes += 20; // "0x" + 16 digits, quoted
    }
  });
  return { text, fields, maxBytes };
}

/** The template of runs like `r`, indented as an element of the top-level "mappings" array. */
function makeTemplate(h: HalfContext, r: LeafRun): Template {
  const run = mappingRunOf(h, r);
  const d = run.descriptor;
  // Spreading then overwriting keeps each key in its place: the key order is the reference's.
  const marked = {
    ...run,
    va: mark("va"),
    pa: mark("pa"),
    size: mark("size"),
    entries: mark("entries"),
    descriptor: "oa" in d ? { ...d, raw: mark("raw"), oa: mark("oa") } : { ...d, raw: mark("raw") },
  };
  // The only strings in a run are these markers and enum words (descriptor kind).
  return cutTemplate(marked, FIELD_CODE);
}

/** The line of the "mappings" key in a document made with an empty array (newlines occur only between lines). */
const MAPPINGS_LINE = '\n "mappings": [],\n';

/** ASCII hex digits. */
const HEX = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
const QUOTE = 0x22;

const UTF8 = new TextEncoder();

/** The longest byte array Node 20 makes (buffer.constants.MAX_LENGTH, 4 GiB). */
export const MAX_JSON_BYTES = 2 ** 32;

/** The document does not fit in memory as one byte array: a limit reached (exit 3), not bad input. */
export class JsonSizeError extends VmsaError {
  readonly inconclusive = true;
  constructor(message: string) {
    super("EJSON_SIZE", message);
    this.name = "JsonSizeError";
  }
}

/**
 * Writes a JSON document into one growing byte buffer, its array of runs through per-kind templates
 * (no string per field or run): a subclass says which template a run takes (undefined: the run is
 * not listed) and writes its fields.
 */
export abstract class TemplateJsonWriter<R> {
  protected buf = new Uint8Array(0);
  protected pos = 0;
  /** Per level (index level + 1): the descriptor bits outside the output-address field, high and low half. */
  protected readonly keepHi: number[] = [];
  protected readonly keepLo: number[] = [];
  /** Templates by a key's low part (the kept low half), then its high part; null: such runs are not listed. */
  private readonly templates = new Map<number, Map<number, Template | null>>();

  /** `limit`: the most bytes the document may take (a typed array's length limit by default). */
  constructor(
    g: { readonly fmt: DescriptorFormat; readonly shiftAt: readonly number[] },
    protected readonly limit = MAX_JSON_BYTES,
  ) {
    for (let li = 0; li < g.shiftAt.length; li++) {
      const m = addressFieldMask(g.fmt, g.shiftAt[li] as number);
      this.keepHi.push(~Number(m >> 32n) >>> 0);
      this.keepLo.push(~Number(m & 0xffffffffn) >>> 0);
    }
  }

  /** The template under key (kLo, kHi), made by `make` the first time. */
  protected cached(kLo: number, kHi: number, make: () => Template | null): Template | undefined {
    let inner = this.templates.get(kLo);
    if (inner === undefined) {
      inner = new Map();
      this.templates.set(kLo, inner);
    }
    let t = inner.get(kHi);
    if (t === undefined) {
      t = make();
      inner.set(kHi, t);
    }
    return t ?? undefined;
  }

  protected abstract template(r: R): Template | undefined;
  protected abstract field(code: number, r: R): void;

  protected reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos + n > this.limit) {
      throw new JsonSizeError(
        `--format json: the document would exceed ${this.limit} bytes; narrow the range with --start/--end (or use the ptdump text)`,
      );
    }
    const next = new Uint8Array(Math.min(this.limit, Math.max(this.buf.length * 2, this.pos + n)));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  protected copy(b: Uint8Array): void {
    if (b.length > 32) {
      this.buf.set(b, this.pos);
      this.pos += b.length;
      return;
    }
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) buf[p++] = b[i] as number;
    this.pos = p;
  }

  /** The hex digits of an unsigned 32-bit value: all 8 when `pad`, else from its first non-zero digit (at least one). */
  protected digits(v: number, pad: boolean): void {
    const buf = this.buf;
    let p = this.pos;
    let shift = 28;
    if (!pad) while (shift > 0 && v >>> shift === 0) shift -= 4;
    for (; shift >= 0; shift -= 4) buf[p++] = HEX[(v >>> shift) & 15] as number;
    this.pos = p;
  }

  /** `"0x…"` of a 64-bit value given as unsigned 32-bit halves. */
  protected hex(hi: number, lo: number): void {
    const buf = this.buf;
    buf[this.pos] = QUOTE;
    buf[this.pos + 1] = 0x30;
    buf[this.pos + 2] = 0x78;
    this.pos += 3;
    if (hi !== 0) {
      this.digits(hi, false);
      this.digits(lo, true);
    } else this.digits(lo, false);
    buf[this.pos++] = QUOTE;
  }

  /** `"0x…"` of an exact number below 2^53. */
  protected hexNumber(v: number): void {
    this.hex(Math.floor(v / TWO32), v >>> 0);
  }

  /** Writes the run through its template (a separator before it when `sep`); false when the run is not listed. */
  private run(r: R, sep: boolean): boolean {
    const t = this.template(r);
    if (t === undefined) return false;
    this.reserve(t.maxBytes + 2);
    if (sep) this.buf[this.pos++] = 0x2c; // ,
    this.buf[this.pos++] = 0x0a;
    this.copy(t.text[0] as Uint8Array);
    for (let i = 0; i < t.fields.length; i++) {
      this.field(t.fields[i] as number, r);
      this.copy(t.text[i + 1] as Uint8Array);
    }
    return true;
  }

  /** Appends `text` as UTF-8 (the document's header and tail: any JSON text). */
  text(text: string): void {
    this.reserve(text.length * 3);
    this.pos += UTF8.encodeInto(text, this.buf.subarray(this.pos)).written;
  }

  /**
   * Appends the value of the "mappings" key: `[]`, or the runs one per element, indented as
   * jsonText indents them at depth 1.
   */
  array(runs: readonly R[]): void {
    // Sized from the first run's template: most runs of a table are alike (grown if not).
    const first = runs.length > 0 ? this.template(runs[0] as R) : undefined;
    if (first !== undefined) this.reserve(Math.min(runs.length * (first.maxBytes + 2) + 4, this.limit - this.pos));
    this.reserve(1);
    const open = this.pos;
    this.buf[this.pos++] = 0x5b; // [
    let n = 0;
    for (let i = 0; i < runs.length; i++) if (this.run(runs[i] as R, n > 0)) n++;
    if (n === 0) {
      this.pos = open;
      this.text("[]");
      return;
    }
    this.text("\n ]");
  }

  /** What was written (a view of the buffer). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /**
   * The whole document as UTF-8 bytes with its final newline: `doc` is jsonText of it made with an
   * empty "mappings" array, and `runs` are written in that array's place.
   */
  document(doc: string, runs: readonly R[]): Uint8Array {
    const at = doc.indexOf(MAPPINGS_LINE);
    // Stryker disable next-line ConditionalExpression: a guard on the caller's document shape, not a rule
    if (at < 0) throw new Error('TemplateJsonWriter.document: no top-level "mappings": [] line');
    this.text(`${doc.slice(0, at)}\n "mappings": `);
    this.array(runs);
    this.text(`,\n${doc.slice(at + MAPPINGS_LINE.length)}\n`);
    return this.bytes();
  }
}

/** Writes a document with the runs of one half into one growing byte buffer (no string per field or run). */
export class MappingsJsonWriter extends TemplateJsonWriter<LeafRun> {
  private readonly baseHi: number;
  private readonly baseLo: number;

  /** `limit`: the most bytes the document may take (a typed array's length limit by default). */
  constructor(
    private readonly h: HalfContext,
    limit = MAX_JSON_BYTES,
  ) {
    super(h, limit);
    const base = halfBase(h);
    this.baseHi = Number(base >> 32n);
    this.baseLo = Number(base & 0xffffffffn);
  }

  protected template(r: LeafRun): Template {
    const li = r.level + 1;
    const kLo = (r.lo & (this.keepLo[li] as number)) >>> 0;
    // 32 + 3 + 5 + 4 bits: an exact number.
    const kHi = ((r.hi & (this.keepHi[li] as number)) >>> 0) * 4096 + li * 512 + r.levels * 16 + r.a * 4 + r.u * 2 + r.p;
    return this.cached(kLo, kHi, () => makeTemplate(this.h, r)) as Template;
  }

  protected field(code: number, r: LeafRun): void {
    switch (code) {
      case 0: {
        // va = the half's base + offset, as halves. No carry: the base is 0 or 2^64 - 2^ia and the
        // offset is below 2^ia, so below bit ia the base is zero.
        this.hex(this.baseHi + Math.floor(r.off / TWO32), this.baseLo + (r.off >>> 0));
        return;
      }
      case 1:
        this.hexNumber(r.oa);
        return;
      case 2:
        this.hexNumber(r.size);
        return;
      case 3: {
        // A count (decimal), below 2^53.
        const s = String(r.entries);
        for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
        return;
      }
      case 4:
        this.hex(r.hi >>> 0, r.lo >>> 0);
        return;
      default:
        this.hexNumber(addressOf(this.h.fmt, r.hi, r.lo, this.h.shiftAt[r.level + 1] as number));
    }
  }
}
