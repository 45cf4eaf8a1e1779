/**
 * herd-style final conditions in scenario files (`final: "exists (P1:X0=1 /\ P1:X2=0)"`):
 * quantifier `exists` / `~exists` / `forall`, then a proposition with `/\`, `\/`, `=>`, `~`,
 * parentheses, `true`, and atoms `P1:X0=VALUE` (also `1:X0`, W registers), `[VA]=VALUE` (the
 * location VA maps to in the initial tables), `[pa:PA]=VALUE`, and `fault(P1[:LABEL][, VA][, KIND])`
 * (KIND: translation, access-flag, permission, address-size, or herd's MMU:Translation ...).
 * VALUE is a number (0x hex or decimal) or $NAME.
 */
import type { FaultKind } from "../arch/fault.js";
import type { FinalCondition, Prop, Quantifier } from "../machine/litmus/condition.js";

export interface ConditionResolver {
  fail(msg: string): never;
  /** Value of `$NAME` or a number. */
  value(text: string): bigint;
  /** PA of the 8-byte location a VA maps to initially. */
  vaToPa(va: bigint): number;
  /** Line index of label `label` on CPU `cpu`. */
  labelLine(cpu: number, label: string): number;
  cpus: number;
}

const FAULT_NAMES: Readonly<Record<string, FaultKind>> = {
  translation: "translation",
  "mmu:translation": "translation",
  "access-flag": "access-flag",
  accessflag: "access-flag",
  "mmu:accessflag": "access-flag",
  permission: "permission",
  "mmu:permission": "permission",
  "address-size": "address-size",
  "external-abort": "external-abort",
};

export function parseFinalCondition(text: string, r: ConditionResolver): FinalCondition {
  const t = text.trim();
  const q = /^(~\s*exists|exists|forall)\b/i.exec(t);
  if (!q) r.fail(`"${t}" does not start with exists, ~exists or forall`);
  const quantifier = (q[1] as string).replace(/\s+/g, "").toLowerCase() as Quantifier;
  const src = t.slice(q[0].length);
  let i = 0;
  const ws = (): void => {
    while (i < src.length && /\s/.test(src[i] as string)) i++;
  };
  const eat = (s: string): boolean => {
    ws();
    if (src.startsWith(s, i)) {
      i += s.length;
      return true;
    }
    return false;
  };
  const until = (stop: RegExp): string => {
    ws();
    const start = i;
    let depth = 0;
    while (i < src.length) {
      const ch = src[i] as string;
      if (ch === "(" || ch === "[") depth++;
      else if (ch === ")" || ch === "]") {
        if (depth === 0) break;
        depth--;
      } else if (depth === 0 && stop.test(ch)) break;
      i++;
    }
    return src.slice(start, i).trim();
  };
  const cpuOf = (s: string): number => {
    const m = /^P?(\d+)$/i.exec(s.trim());
    if (!m || Number(m[1]) >= r.cpus) r.fail(`"${s}" is not a CPU (expected P0..P${r.cpus - 1})`);
    return Number(m[1]);
  };
  const atom = (): Prop => {
    ws();
    if (/^true\b/.test(src.slice(i))) {
      i += 4;
      return { k: "true" };
    }
    if (/^fault\s*\(/i.test(src.slice(i))) {
      i = src.indexOf("(", i) + 1;
      const inner = until(/[)]/);
      if (!eat(")")) r.fail("fault( is not closed");
      const parts = inner.split(",").map((x) => x.trim());
      const [who = "", label] = (parts[0] ?? "").split(":");
      const cpu = cpuOf(who);
      let kind: FaultKind | undefined;
      let va: bigint | undefined;
      for (const p of parts.slice(1)) {
        const k = FAULT_NAMES[p.toLowerCase()];
        if (k !== undefined) kind = k;
        else va = r.value(p);
      }
      return {
        k: "fault",
        cpu,
        ...(label !== undefined ? { line: r.labelLine(cpu, label.trim()) } : {}),
        ...(va !== undefined ? { va } : {}),
        ...(kind !== undefined ? { kind } : {}),
      };
    }
    const lhs = until(/[=]/);
    if (!eat("=")) r.fail(`expected "=" after "${lhs}"`);
    const rhs = until(/[\s)\\/=~]/);
    const value = r.value(rhs);
    const mm = /^\[(.*)\]$/.exec(lhs);
    if (mm) {
      const inner = (mm[1] as string).trim();
      if (/^pa:/i.test(inner)) return { k: "mem", pa: Number(r.value(inner.slice(3)) & ~7n), value };
      return { k: "mem", pa: r.vaToPa(r.value(inner)), value };
    }
    const rm = /^(P?\d+):[XW]([0-9]|[12][0-9]|30)$/i.exec(lhs);
    if (!rm) r.fail(`"${lhs}" is not P<cpu>:X<n>, [VA], [pa:PA] or fault(...)`);
    return { k: "reg", cpu: cpuOf(rm[1] as string), reg: Number(rm[2]), value };
  };
  const unary = (): Prop => {
    if (eat("~")) return { k: "not", a: unary() };
    if (eat("(")) {
      const p = prop();
      if (!eat(")")) r.fail("a parenthesis is not closed");
      return p;
    }
    return atom();
  };
  const conj = (): Prop => {
    let a = unary();
    while (eat("/\\")) a = { k: "and", a, b: unary() };
    return a;
  };
  const disj = (): Prop => {
    let a = conj();
    while (eat("\\/")) a = { k: "or", a, b: conj() };
    return a;
  };
  const prop = (): Prop => {
    const a = disj();
    if (eat("=>")) return { k: "implies", a, b: prop() };
    return a;
  };
  const p = prop();
  ws();
  if (i < src.length) r.fail(`unexpected "${src.slice(i)}" after the condition`);
  return { quantifier, prop: p, text: t };
}
