/**
 * The scenario format's single truth: examples/scenarios/scenario.schema.json (JSON Schema
 * 2020-12). A file is first checked against it (an ajv validator generated ahead of time into
 * schema.generated.ts by `npm run gen:schema`), and the parser takes its field lists from it.
 * What the schema cannot say (64-bit ranges, CPU numbers, value expressions, step operands) the
 * parser checks after.
 *
 * A schema failure becomes one `field: expected …, got …` message: ajv's first error, at the
 * deepest place it found, worded with the `title` the schema gives that place.
 */
import { SCENARIO_SCHEMA_JSON, validate } from "./schema.generated.js";

/** The part of JSON Schema the scenario schema uses. */
export interface JsonSchema {
  readonly title?: string;
  readonly description?: string;
  readonly type?: "object" | "array" | "string" | "integer" | "boolean";
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly patternProperties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly oneOf?: readonly JsonSchema[];
  readonly $ref?: string;
  readonly $defs?: Readonly<Record<string, JsonSchema>>;
  readonly enum?: readonly string[];
  readonly const?: string;
  readonly pattern?: string;
  readonly minimum?: number;
}

export const SCENARIO_SCHEMA: JsonSchema = JSON.parse(SCENARIO_SCHEMA_JSON) as JsonSchema;

interface AjvError {
  readonly instancePath: string;
  readonly keyword: string;
  readonly params: { readonly additionalProperty?: string; readonly missingProperty?: string; readonly limit?: number };
}

const validateFn = validate as unknown as ((data: unknown) => boolean) & { errors?: readonly AjvError[] | null };

/** A schema failure: where (a path of keys and list indices) and what was expected there. */
export interface SchemaIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** Resolve `$ref: "#/$defs/NAME"` against the scenario schema. */
function deref(s: JsonSchema): JsonSchema {
  let cur = s;
  for (let i = 0; i < 8 && cur.$ref !== undefined; i++) {
    const name = /^#\/\$defs\/(.+)$/.exec(cur.$ref)?.[1];
    const def = name === undefined ? undefined : SCENARIO_SCHEMA.$defs?.[name];
    if (def === undefined) break;
    cur = def;
  }
  return cur;
}

/** The schemas that can apply at `path` (every branch of a oneOf is followed). */
export function schemasAt(path: readonly (string | number)[]): JsonSchema[] {
  let cur: JsonSchema[] = [SCENARIO_SCHEMA];
  for (const key of path) {
    const next: JsonSchema[] = [];
    const visit = (raw: JsonSchema): void => {
      const s = deref(raw);
      if (s.oneOf) for (const b of s.oneOf) visit(b);
      if (typeof key === "number") {
        if (s.items) next.push(s.items);
        return;
      }
      const p = s.properties?.[key];
      if (p) return void next.push(p);
      for (const [re, ps] of Object.entries(s.patternProperties ?? {})) if (new RegExp(re, "u").test(key)) return void next.push(ps);
      if (typeof s.additionalProperties === "object") next.push(s.additionalProperties);
    };
    for (const s of cur) visit(s);
    cur = next;
  }
  return cur;
}

/** The field names a mapping at `path` takes (its `properties`), in schema order. */
export function fieldsAt(path: readonly (string | number)[]): string[] {
  const out: string[] = [];
  const add = (raw: JsonSchema): void => {
    const s = deref(raw);
    for (const k of Object.keys(s.properties ?? {})) if (!out.includes(k)) out.push(k);
    for (const b of s.oneOf ?? []) add(b);
  };
  for (const s of schemasAt(path)) add(s);
  return out;
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  object: "a mapping",
  array: "a list",
  string: "a string",
  integer: "a whole number",
  boolean: "true or false",
};

/** What the schema expects at `path`, in words: the nearest title, else the enum, const or type. */
export function expectedAt(path: readonly (string | number)[]): string {
  const words = (raw: JsonSchema): string | undefined => {
    const s = deref(raw);
    const title = raw.title ?? s.title;
    if (s.enum) return `${title === undefined ? "" : `${title}: `}one of ${s.enum.join(", ")}`;
    if (title !== undefined) return title;
    if (s.const !== undefined) return JSON.stringify(s.const);
    if (s.oneOf) {
      const alts = s.oneOf.map(words).filter((w): w is string => w !== undefined);
      if (alts.length > 0) return alts.join(" or ");
    }
    if (s.type === "integer" && s.minimum !== undefined) return `a whole number ≥ ${s.minimum}`;
    return s.type === undefined ? undefined : TYPE_WORDS[s.type];
  };
  const all = schemasAt(path)
    .map(words)
    .filter((w): w is string => w !== undefined);
  return [...new Set(all)].join(" or ") || "nothing here";
}

/** How a value reads in an error: "a list", "a mapping", or the value itself. */
export function describeValue(v: unknown): string {
  if (v === undefined || v === null) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

/** YAML integers are BigInts (exact 64-bit values); the validator sees them as numbers. */
function jsonView(v: unknown): unknown {
  if (typeof v === "bigint") {
    const n = Number(v);
    // Still an integer of the right sign when too wide for a double: the parser names the width error.
    return Number.isFinite(n) ? n : v < 0n ? -Number.MAX_VALUE : Number.MAX_VALUE;
  }
  if (Array.isArray(v)) return v.map(jsonView);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonView(x)]));
  return v;
}

function pathOf(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Key path with list indices as numbers (the pointer's segments are all text). */
function typedPath(data: unknown, segs: readonly string[]): (string | number)[] {
  const out: (string | number)[] = [];
  let cur = data;
  for (const s of segs) {
    const k = Array.isArray(cur) ? Number(s) : s;
    out.push(k);
    cur = cur !== null && typeof cur === "object" ? (cur as Record<string | number, unknown>)[k] : undefined;
  }
  return out;
}

function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let cur = data;
  for (const k of path) cur = cur !== null && typeof cur === "object" ? (cur as Record<string | number, unknown>)[k] : undefined;
  return cur;
}

/**
 * The first way `data` (a parsed YAML/JSON document) breaks the schema, or undefined if it
 * conforms. Of ajv's errors the deepest is reported: a oneOf's failure is told by the branch
 * that got furthest, and a type mismatch at the same place by what the place expects.
 */
export function checkSchema(data: unknown): SchemaIssue | undefined {
  const view = jsonView(data);
  if (validateFn(view)) return undefined;
  const errors = (validateFn.errors ?? []).filter((e) => e.keyword !== "oneOf");
  if (errors.length === 0) return { path: [], message: "does not match the scenario schema" };
  const depth = (e: AjvError): number => (e.instancePath === "" ? 0 : e.instancePath.split("/").length);
  // Deepest first; at equal depth, an error that is not about the type (its branch's type matched).
  const best = [...errors].sort(
    (a, b) =>
      depth(b) - depth(a) || Number(a.keyword === "type" || a.keyword === "const") - Number(b.keyword === "type" || b.keyword === "const"),
  )[0] as AjvError;
  const path = typedPath(view, pathOf(best.instancePath));
  const got = valueAt(data, path);
  switch (best.keyword) {
    case "additionalProperties": {
      const key = best.params.additionalProperty ?? "";
      const fields = fieldsAt(path);
      const expected = fields.length > 0 ? `one of ${fields.join(", ")}` : expectedAt(path);
      return { path: [...path, key], message: `unknown field (expected ${expected})` };
    }
    case "required": {
      const key = best.params.missingProperty ?? "";
      return { path: [...path, key], message: `missing (expected ${expectedAt([...path, key])})` };
    }
    case "minItems":
      return { path, message: `expected at least ${best.params.limit ?? 1} item(s), got ${Array.isArray(got) ? got.length : 0}` };
    default:
      return { path, message: `expected ${expectedAt(path)}, got ${describeValue(got)}` };
  }
}
