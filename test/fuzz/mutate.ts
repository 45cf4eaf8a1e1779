/**
 * Mutations of real inputs for the reader fuzz tests: fast-check arbitraries that produce a
 * "plan" (a short list of edits) and apply it to a seed, so a failing case shrinks to the fewest
 * edits. Binary seeds carry their structure (header boundaries and the size/offset/count fields
 * worth corrupting); text seeds are edited by line and token; JSON seeds also get values of the
 * wrong type at any path.
 */
import fc from "fast-check";

/** A field of a binary seed worth corrupting (little-endian unsigned, `width` bytes at `at`). */
export interface Field {
  readonly name: string;
  readonly at: number;
  readonly width: 1 | 2 | 4 | 8;
}

/** A table of fixed-size records (e.g. ELF program headers): whole records get duplicated. */
export interface Records {
  readonly at: number;
  readonly size: number;
  readonly count: number;
}

export interface BinarySeed {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Offsets where a truncation is interesting (header ends, segment starts...). */
  readonly boundaries: readonly number[];
  readonly fields: readonly Field[];
  readonly records?: Records;
}

/** Values that break size/offset/count arithmetic: zero, sign and width edges, 2^53, all-ones. */
const EDGE_VALUES: readonly bigint[] = [
  0n,
  1n,
  3n,
  0x7fn,
  0xffn,
  0x7fffn,
  0xffffn,
  0x7fff_fffdn,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_fffcn,
  0xffff_ffffn,
  0x1_0000_0000n,
  1n << 52n,
  (1n << 53n) - 1n,
  1n << 53n,
  1n << 63n,
  (1n << 64n) - 1n,
];

export type ByteOp =
  | { readonly k: "flip"; readonly pos: number; readonly xor: number }
  | { readonly k: "truncate"; readonly boundary: number; readonly delta: number }
  | { readonly k: "field"; readonly field: number; readonly value: bigint | "size" | "size+1" | "size-1" | "half" }
  | { readonly k: "dupRecord"; readonly from: number; readonly to: number }
  | { readonly k: "copy"; readonly src: number; readonly dst: number; readonly len: number }
  | { readonly k: "delete"; readonly pos: number; readonly len: number }
  | { readonly k: "insert"; readonly pos: number; readonly bytes: Uint8Array }
  | { readonly k: "append"; readonly bytes: Uint8Array };

function writeLe(b: Uint8Array, at: number, width: number, v: bigint): void {
  for (let i = 0; i < width && at + i < b.length; i++) b[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

/** Apply one edit; offsets are taken modulo the current length so every plan applies to every seed. */
export function applyByteOp(seed: BinarySeed, b: Uint8Array, op: ByteOp): Uint8Array {
  const n = b.length;
  switch (op.k) {
    case "flip": {
      if (n === 0) return b;
      const out = b.slice();
      const p = op.pos % n;
      out[p] = (out[p] as number) ^ (op.xor || 1);
      return out;
    }
    case "truncate": {
      const bs = seed.boundaries;
      const base = bs.length ? (bs[op.boundary % bs.length] as number) : op.boundary;
      return b.slice(0, Math.max(0, Math.min(n, base + op.delta)));
    }
    case "field": {
      const f = seed.fields[op.field % Math.max(1, seed.fields.length)];
      if (!f) return b;
      const v =
        op.value === "size"
          ? BigInt(n)
          : op.value === "size+1"
            ? BigInt(n + 1)
            : op.value === "size-1"
              ? BigInt(Math.max(0, n - 1))
              : op.value === "half"
                ? BigInt(n >> 1)
                : op.value;
      const out = b.slice();
      writeLe(out, f.at, f.width, v & ((1n << BigInt(8 * f.width)) - 1n));
      return out;
    }
    case "dupRecord": {
      const r = seed.records;
      if (!r || r.count === 0) return b;
      const from = r.at + (op.from % r.count) * r.size;
      const to = r.at + (op.to % r.count) * r.size;
      const out = b.slice();
      out.copyWithin(to, from, Math.min(n, from + r.size));
      return out;
    }
    case "copy": {
      if (n === 0) return b;
      const out = b.slice();
      out.copyWithin(op.dst % n, op.src % n, Math.min(n, (op.src % n) + op.len));
      return out;
    }
    case "delete": {
      if (n === 0) return b;
      const p = op.pos % n;
      const out = new Uint8Array(n - Math.min(op.len, n - p));
      out.set(b.subarray(0, p));
      out.set(b.subarray(p + Math.min(op.len, n - p)), p);
      return out;
    }
    case "insert": {
      const p = n === 0 ? 0 : op.pos % (n + 1);
      const out = new Uint8Array(n + op.bytes.length);
      out.set(b.subarray(0, p));
      out.set(op.bytes, p);
      out.set(b.subarray(p), p + op.bytes.length);
      return out;
    }
    case "append": {
      const out = new Uint8Array(n + op.bytes.length);
      out.set(b);
      out.set(op.bytes, n);
      return out;
    }
  }
}

const smallBytes = fc.uint8Array({ minLength: 1, maxLength: 64 });

/** One binary edit, weighted towards the structure-aware ones. */
export function byteOpArb(): fc.Arbitrary<ByteOp> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ k: fc.constant("flip" as const), pos: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({ k: fc.constant("truncate" as const), boundary: fc.nat(), delta: fc.integer({ min: -9, max: 9 }) }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        k: fc.constant("field" as const),
        field: fc.nat(),
        value: fc.oneof(
          fc.constantFrom(...EDGE_VALUES),
          fc.constantFrom("size" as const, "size+1" as const, "size-1" as const, "half" as const),
          fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          fc.bigInt({ min: 0n, max: 0x10000n }),
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("dupRecord" as const), from: fc.nat(), to: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({ k: fc.constant("copy" as const), src: fc.nat(), dst: fc.nat(), len: fc.integer({ min: 1, max: 256 }) }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("delete" as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("insert" as const), pos: fc.nat(), bytes: smallBytes }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("append" as const), bytes: smallBytes }) },
  );
}

/** A mutated version of one of `seeds`: 1..4 edits (the seed itself is tried too). */
export function mutatedBinary(seeds: readonly BinarySeed[]): fc.Arbitrary<{ seed: string; bytes: Uint8Array }> {
  return fc
    .record({ s: fc.nat({ max: seeds.length - 1 }), ops: fc.array(byteOpArb(), { minLength: 0, maxLength: 4 }) })
    .map(({ s, ops }) => {
      const seed = seeds[s] as BinarySeed;
      let b = seed.bytes;
      for (const op of ops) b = applyByteOp(seed, b, op);
      return { seed: seed.name, bytes: b };
    });
}

// ---------------------------------------------------------------- gzip

/** Where the gzip-specific damage goes (RFC 1952 member layout). */
export function gzipSeed(name: string, gz: Uint8Array): BinarySeed {
  const n = gz.length;
  return {
    name,
    bytes: gz,
    // header (10 bytes), inside the deflate stream, the CRC32 and ISIZE trailer
    boundaries: [0, 2, 3, 4, 10, n >> 1, n - 8, n - 4, n - 1, n],
    fields: [
      { name: "FLG", at: 3, width: 1 },
      { name: "CM", at: 2, width: 1 },
      { name: "MTIME", at: 4, width: 4 },
      { name: "CRC32", at: n - 8, width: 4 },
      { name: "ISIZE", at: n - 4, width: 4 },
    ],
  };
}

export type GzipOp =
  | { readonly k: "bytes"; readonly op: ByteOp }
  | { readonly k: "concat"; readonly other: number; readonly damaged: boolean };

/** A damaged gzip file: byte edits, a corrupted CRC/ISIZE, truncation, or a second member appended. */
export function mutatedGzip(seeds: readonly BinarySeed[]): fc.Arbitrary<{ seed: string; bytes: Uint8Array }> {
  const op: fc.Arbitrary<GzipOp> = fc.oneof(
    { weight: 4, arbitrary: byteOpArb().map((o) => ({ k: "bytes" as const, op: o })) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("concat" as const), other: fc.nat(), damaged: fc.boolean() }) },
  );
  return fc.record({ s: fc.nat({ max: seeds.length - 1 }), ops: fc.array(op, { minLength: 1, maxLength: 3 }) }).map(({ s, ops }) => {
    const seed = seeds[s] as BinarySeed;
    let b = seed.bytes;
    for (const o of ops) {
      if (o.k === "bytes") b = applyByteOp(seed, b, o.op);
      else {
        const other = (seeds[o.other % seeds.length] as BinarySeed).bytes;
        const tail = o.damaged ? other.subarray(0, other.length >> 1) : other;
        const out = new Uint8Array(b.length + tail.length);
        out.set(b);
        out.set(tail, b.length);
        b = out;
      }
    }
    return { seed: seed.name, bytes: b };
  });
}

// ---------------------------------------------------------------- text

export interface TextSeed {
  readonly name: string;
  readonly text: string;
}

/** Strings that break number, name and YAML parsing. */
export const EDGE_STRINGS: readonly string[] = [
  "",
  " ",
  "0",
  "-1",
  "0x",
  "0x-1",
  "0b101",
  "0o17",
  "1e309",
  "NaN",
  "Infinity",
  "0xffffffffffffffff",
  "0x1ffffffffffffffff",
  "18446744073709551616",
  "99999999999999999999999999999999",
  "9007199254740993",
  "4294967296",
  "null",
  "~",
  "true",
  "[]",
  "{}",
  "[1, 2",
  "{a: ",
  "&a",
  "*a",
  "*undefined_alias",
  "<<: *a",
  "!!binary AAAA",
  "!!js/function 'f'",
  "!!str",
  "? complex",
  "|",
  ">-",
  "---",
  "...",
  "%YAML 1.1",
  "#",
  '"unterminated',
  "'",
  "\\u0000",
  "\0",
  "\t",
  "\r",
  "\x7fELF\x02\x01",
  "\u00ff\u00fe",
  "\ud800",
  "é",
  "P0:",
  "P99999999999999999999: isb",
  "P0: store",
  "leaf(",
  "leaf(oa=)",
  "table(table(table(1)))",
  "desc(0, 99999999999)",
  "$",
  "$missing",
  "0xffffffffffffffffK",
  "99999999999T",
  "-0",
  "=",
  "==",
  "OSRELEASE=",
  "PAGESIZE=0",
  "NUMBER(VA_BITS)=1000000",
  "NUMBER(VA_BITS)=-5",
  "NUMBER(TCR_EL1_T1SZ)=0x40",
  "PAGESIZE=99999999999999999999",
];

export type TextOp =
  | { readonly k: "deleteLine"; readonly line: number }
  | { readonly k: "dupLine"; readonly line: number; readonly times: number }
  | { readonly k: "swapLines"; readonly a: number; readonly b: number }
  | { readonly k: "truncate"; readonly pos: number }
  | { readonly k: "replaceToken"; readonly token: number; readonly by: string }
  | { readonly k: "insert"; readonly pos: number; readonly s: string }
  | { readonly k: "insertLine"; readonly line: number; readonly s: string }
  | { readonly k: "longLine"; readonly line: number; readonly repeat: number };

/** Edits that would grow a text past this many characters are skipped (inputs stay small). */
const MAX_TEXT = 1 << 20;

export function applyTextOp(t: string, op: TextOp): string {
  const out = applyTextOpUnbounded(t, op);
  return out.length > MAX_TEXT ? t : out;
}

function applyTextOpUnbounded(t: string, op: TextOp): string {
  const lines = t.split("\n");
  const li = (i: number): number => i % Math.max(1, lines.length);
  switch (op.k) {
    case "deleteLine":
      lines.splice(li(op.line), 1);
      return lines.join("\n");
    case "dupLine": {
      const i = li(op.line);
      lines.splice(i, 0, ...Array<string>(op.times).fill(lines[i] ?? ""));
      return lines.join("\n");
    }
    case "swapLines": {
      const a = li(op.a);
      const b = li(op.b);
      const x = lines[a] ?? "";
      lines[a] = lines[b] ?? "";
      lines[b] = x;
      return lines.join("\n");
    }
    case "truncate":
      return t.slice(0, op.pos % (t.length + 1));
    case "replaceToken": {
      // tokens: runs of word characters (numbers, names, hex)
      const re = /[A-Za-z0-9_$.()]+/g;
      const hits = [...t.matchAll(re)];
      if (hits.length === 0) return t;
      const h = hits[op.token % hits.length] as RegExpExecArray;
      return t.slice(0, h.index) + op.by + t.slice(h.index + h[0].length);
    }
    case "insert": {
      const p = op.pos % (t.length + 1);
      return t.slice(0, p) + op.s + t.slice(p);
    }
    case "insertLine":
      lines.splice(op.line % (lines.length + 1), 0, op.s);
      return lines.join("\n");
    case "longLine": {
      const i = li(op.line);
      const l = lines[i] ?? "";
      if (l.length * op.repeat > MAX_TEXT) return t;
      lines[i] = l.repeat(op.repeat);
      return lines.join("\n");
    }
  }
}

const edgeOrRandom = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EDGE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8, unit: "binary" }) },
);

export function textOpArb(extraLines: readonly string[] = []): fc.Arbitrary<TextOp> {
  const lineText = extraLines.length ? fc.oneof(edgeOrRandom, fc.constantFrom(...extraLines)) : edgeOrRandom;
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({ k: fc.constant("deleteLine" as const), line: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("dupLine" as const), line: fc.nat(), times: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("swapLines" as const), a: fc.nat(), b: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("truncate" as const), pos: fc.nat() }) },
    { weight: 5, arbitrary: fc.record({ k: fc.constant("replaceToken" as const), token: fc.nat(), by: edgeOrRandom }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("insert" as const), pos: fc.nat(), s: edgeOrRandom }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("insertLine" as const), line: fc.nat(), s: lineText }) },
    {
      weight: 1,
      arbitrary: fc.record({ k: fc.constant("longLine" as const), line: fc.nat(), repeat: fc.integer({ min: 2, max: 200 }) }),
    },
  );
}

/** A mutated version of one of `seeds`: 1..4 line/token edits. */
export function mutatedText(seeds: readonly TextSeed[], extraLines: readonly string[] = []): fc.Arbitrary<{ seed: string; text: string }> {
  return fc
    .record({ s: fc.nat({ max: seeds.length - 1 }), ops: fc.array(textOpArb(extraLines), { minLength: 0, maxLength: 4 }) })
    .map(({ s, ops }) => {
      const seed = seeds[s] as TextSeed;
      let t = seed.text;
      for (const op of ops) t = applyTextOp(t, op);
      return { seed: seed.name, text: t };
    });
}

// ---------------------------------------------------------------- JSON (structure-aware)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Values of every JSON type, including the awkward ones (huge numbers, deep arrays, long strings). */
export const WRONG_JSON: readonly Json[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e300,
  2 ** 53 + 2,
  "",
  "0x",
  "zz",
  "0xffffffffffffffffff",
  "../../../nonexistent",
  "/dev/null",
  [],
  [null],
  {},
  { file: 1 },
  { core: null },
  { file: "x", load_at: {} },
  "a".repeat(5000),
];

function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) paths(v[i] as Json, [...prefix, i], out);
  } else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

function setAt(v: Json, path: readonly (string | number)[], by: Json | undefined): Json {
  if (path.length === 0) return by ?? null;
  const [h, ...rest] = path;
  if (Array.isArray(v)) {
    const c = v.slice();
    if (by === undefined && rest.length === 0) c.splice(h as number, 1);
    else c[h as number] = setAt(c[h as number] ?? null, rest, by);
    return c;
  }
  if (v !== null && typeof v === "object") {
    const c: { [k: string]: Json } = { ...v };
    if (by === undefined && rest.length === 0) delete c[h as string];
    else c[h as string] = setAt(c[h as string] ?? null, rest, by);
    return c;
  }
  return v;
}

export type JsonOp =
  | { readonly k: "wrongType"; readonly path: number; readonly by: number }
  | { readonly k: "remove"; readonly path: number }
  | { readonly k: "nest"; readonly path: number; readonly depth: number };

/** A JSON seed with values of the wrong type, keys removed, or values buried in deep arrays. */
export function mutatedJson(seeds: readonly TextSeed[]): fc.Arbitrary<{ seed: string; text: string }> {
  const op: fc.Arbitrary<JsonOp> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant("wrongType" as const), path: fc.nat(), by: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("remove" as const), path: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("nest" as const), path: fc.nat(), depth: fc.integer({ min: 1, max: 5000 }) }) },
  );
  return fc.record({ s: fc.nat({ max: seeds.length - 1 }), ops: fc.array(op, { minLength: 1, maxLength: 3 }) }).map(({ s, ops }) => {
    const seed = seeds[s] as TextSeed;
    let v = JSON.parse(seed.text) as Json;
    // Deep nesting goes in as a placeholder, expanded in the text (no deep recursion here).
    const nests: number[] = [];
    for (const o of ops) {
      const ps = paths(v);
      const p = ps[o.path % ps.length] as (string | number)[];
      if (o.k === "wrongType") v = setAt(v, p, WRONG_JSON[o.by % WRONG_JSON.length] as Json);
      else if (o.k === "remove") v = setAt(v, p, undefined);
      else {
        v = setAt(v, p, `@@NEST${nests.length}@@`);
        nests.push(o.depth);
      }
    }
    let out = JSON.stringify(v);
    nests.forEach((d, i) => {
      out = out.replace(`"@@NEST${i}@@"`, `${"[".repeat(d)}null${"]".repeat(d)}`);
    });
    return { seed: seed.name, text: out };
  });
}

// ---------------------------------------------------------------- YAML resource attacks

/** "Billion laughs": each anchor aliases the previous one `fan` times; `levels` deep. */
export function yamlAliasBomb(levels: number, fan: number): string {
  const out = ["a0: &a0 [lol]"];
  for (let i = 1; i <= levels; i++)
    out.push(
      `a${i}: &a${i} [${Array<string>(fan)
        .fill(`*a${i - 1}`)
        .join(", ")}]`,
    );
  out.push(`steps: *a${levels}`);
  return out.join("\n");
}

/** Deeply nested flow or block collections. */
export function yamlDeep(depth: number, kind: "flow-seq" | "flow-map" | "block-seq" | "block-map"): string {
  switch (kind) {
    case "flow-seq":
      return `steps: ${"[".repeat(depth)}${"]".repeat(depth)}`;
    case "flow-map":
      return `machine: ${"{a: ".repeat(depth)}1${"}".repeat(depth)}`;
    case "block-seq":
      return `steps:\n${Array.from({ length: depth }, (_, i) => `${" ".repeat(i * 2)}- `).join("\n")}x`;
    case "block-map":
      return `memory:\n${Array.from({ length: depth }, (_, i) => `${" ".repeat(i + 1)}k${i}:`).join("\n")} 1`;
  }
}

export const yamlAttack: fc.Arbitrary<{ seed: string; text: string }> = fc.oneof(
  fc
    .record({ levels: fc.integer({ min: 1, max: 12 }), fan: fc.integer({ min: 2, max: 12 }) })
    .map(({ levels, fan }) => ({ seed: `alias-bomb ${levels}x${fan}`, text: yamlAliasBomb(levels, fan) })),
  fc
    .record({
      depth: fc.integer({ min: 1, max: 20000 }),
      kind: fc.constantFrom("flow-seq" as const, "flow-map" as const, "block-seq" as const, "block-map" as const),
    })
    // block nesting costs its depth in indentation per line: keep those texts to a few MB
    .map(({ depth, kind }) => ({ depth: kind.startsWith("block") ? Math.min(depth, 1500) : depth, kind }))
    .map(({ depth, kind }) => ({ seed: `deep ${kind} ${depth}`, text: yamlDeep(depth, kind) })),
);
