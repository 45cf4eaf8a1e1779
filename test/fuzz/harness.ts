/**
 * Running a target over generated inputs and judging each outcome. A reader may return, or throw
 * a VmsaError whose `code` is a stable identifier and whose message is one line; anything else
 * (TypeError, RangeError, a plain Error, a multi-line or input-echoing message) is a crash.
 */
import fc from "fast-check";
import { VmsaError } from "../../src/arch/errors.js";
import { betweenRuns } from "../helpers/property.js";
import type { FuzzInput, Target } from "./targets.js";

export type Outcome =
  | { readonly kind: "ok" }
  | { readonly kind: "error"; readonly code: string }
  | { readonly kind: "crash"; readonly what: string };

/** A message names the file, field and offset in one short line; longer means it echoes input. */
export const MAX_MESSAGE = 600;
const CODE = /^E[A-Z0-9_]+$/;

export function judge(e: unknown): Outcome {
  if (!(e instanceof VmsaError)) {
    const err = e as { name?: unknown; message?: unknown };
    return { kind: "crash", what: `${String(err?.name ?? typeof e)}: ${String(err?.message ?? e).split("\n")[0]}` };
  }
  if (!CODE.test(e.code)) return { kind: "crash", what: `VmsaError with an unstable code "${e.code}": ${e.message}` };
  if (e.message.length === 0) return { kind: "crash", what: `${e.code} with an empty message` };
  if (/[\n\r]/.test(e.message)) return { kind: "crash", what: `${e.code} message spans lines: ${JSON.stringify(e.message.slice(0, 200))}` };
  if (e.message.length > MAX_MESSAGE) return { kind: "crash", what: `${e.code} message is ${e.message.length} chars (echoes input?)` };
  return { kind: "error", code: e.code };
}

/**
 * Run every stage of a reader even when an earlier one refuses the input (each stage is a reader
 * of its own): a crash in any stage is thrown at once, else the first refusal is rethrown.
 */
export async function stages(...fns: (() => unknown)[]): Promise<void> {
  let refusal: unknown;
  let refused = false;
  for (const f of fns) {
    try {
      await f();
    } catch (e) {
      if (judge(e).kind === "crash") throw e;
      if (!refused) {
        refusal = e;
        refused = true;
      }
    }
  }
  if (refused) throw refusal;
}

export async function outcomeOf(t: Target, input: FuzzInput): Promise<Outcome> {
  try {
    await t.run(input);
    return { kind: "ok" };
  } catch (e) {
    return judge(e);
  }
}

export interface Crash {
  readonly index: number;
  readonly seed: string;
  readonly what: string;
  readonly input: FuzzInput;
}

export interface Figures {
  readonly target: string;
  tried: number;
  ok: number;
  /** Error codes seen, with counts. */
  readonly codes: Map<string, number>;
  readonly crashes: Crash[];
}

/**
 * Feed `runs` inputs (deterministic for a given `seed`) to a target and count the outcomes. The
 * inputs are generated one at a time (a property that never fails), not held all at once.
 */
export async function fuzzTarget(t: Target, runs: number, seed: number, onInput?: (index: number) => void): Promise<Figures> {
  const fig: Figures = { target: t.name, tried: 0, ok: 0, codes: new Map(), crashes: [] };
  let i = 0;
  await fc.assert(
    fc.asyncProperty(t.arbitrary, async (input) => {
      const index = i++;
      onInput?.(index);
      await betweenRuns(); // the vitest worker answers its RPC between inputs
      const o = await outcomeOf(t, input);
      fig.tried++;
      if (o.kind === "ok") fig.ok++;
      else if (o.kind === "error") fig.codes.set(o.code, (fig.codes.get(o.code) ?? 0) + 1);
      else fig.crashes.push({ index, seed: input.seed, what: o.what, input });
      return true;
    }),
    { numRuns: runs, seed },
  );
  return fig;
}

/** The input `fuzzTarget(t, _, seed)` feeds at `index` (generated again, not run). */
export async function inputAt(t: Target, seed: number, index: number): Promise<FuzzInput> {
  let i = 0;
  let found: FuzzInput | undefined;
  await fc.assert(
    fc.asyncProperty(t.arbitrary, async (input) => {
      if (i++ === index) found = input;
      return true;
    }),
    { numRuns: index + 1, seed },
  );
  if (!found) throw new Error(`no input #${index}`);
  return found;
}

/** Distinct crashes: the same kind of failure from many inputs counts once. */
export function distinctCrashes(crashes: readonly Crash[]): Crash[] {
  const seen = new Map<string, Crash>();
  for (const c of crashes) {
    const key = c.what.replace(/0x[0-9a-f]+|\d+/gi, "N").slice(0, 120);
    if (!seen.has(key)) seen.set(key, c);
  }
  return [...seen.values()];
}
