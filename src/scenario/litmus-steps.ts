/**
 * Litmus instructions in scenario steps (registers, values, branches, exceptions, atomics), in
 * a syntax close to herd7's AArch64 litmus code, operands separated by commas:
 *
 *   ldr|ldar|ldapr Xt, ADDR        str|stlr Xs, ADDR           (ADDR: [Xn], [Xn, Xm], VA, pa:PA)
 *   swp|cas|ldclr|ldset|ldadd[a|l|al] Xs, Xt, ADDR               mov Xd, VALUE|Xn
 *   add|sub|eor|and|orr|bic|lsr|lsl Xd, Xn, Xm|VALUE              cbz|cbnz Xn, LABEL   b LABEL
 *   tlbi OP, Xn     msr REG, Xn     svc     eret [LABEL]     nop
 *
 * `ldr`, `str`, `stlr`, `tlbi` and `msr` keep their older forms (`ldr VA`, `str PA VALUE`,
 * `tlbi OP VA`, `msr REG VALUE`): the litmus form is the one whose operand is a register.
 * VALUE and VA are value expressions ($NAME, numbers, leaf(...)); registers are X0..X30 (W0..W30
 * name the same registers).
 */

import { isStage2OrEl2Tlbi } from "../machine/litmus/tlbi-record.js";
import { SYS_REGS, type SysReg, TLBI_BASES, type TlbiOp } from "../machine/types.js";
import type { Expr } from "./format.js";

export type LOperand = { readonly k: "imm"; readonly e: Expr } | { readonly k: "reg"; readonly r: number };
export interface LAddress {
  readonly space: "va" | "pa";
  readonly base: LOperand;
  readonly index?: number;
}

/** A parsed litmus instruction: like machine/litmus Instr, with unevaluated values and label names. */
export type LitmusSpec =
  | { readonly i: "ldr"; readonly rt: number; readonly addr: LAddress; readonly acq: "" | "A" | "Q" }
  | { readonly i: "str"; readonly src: LOperand; readonly addr: LAddress; readonly rel: boolean }
  | {
      readonly i: "rmw";
      readonly op: "swp" | "cas" | "ldclr" | "ldset" | "ldadd";
      readonly rs: number;
      readonly rt: number;
      readonly addr: LAddress;
      readonly acq: boolean;
      readonly rel: boolean;
    }
  | { readonly i: "mov"; readonly rd: number; readonly src: LOperand }
  | {
      readonly i: "alu";
      readonly op: "add" | "sub" | "eor" | "and" | "orr" | "bic" | "lsr" | "lsl";
      readonly rd: number;
      readonly rn: number;
      readonly src: LOperand;
    }
  | { readonly i: "cbz" | "cbnz"; readonly rn: number; readonly target: string }
  | { readonly i: "b"; readonly target: string }
  | { readonly i: "tlbi"; readonly op: TlbiOp | string; readonly operand: LOperand }
  | { readonly i: "msr"; readonly reg: SysReg | "VTTBR_EL2"; readonly src: LOperand }
  | { readonly i: "svc" }
  | { readonly i: "eret"; readonly target?: string }
  | { readonly i: "nop" };

const REG_RE = /^[xw]([0-9]|[12][0-9]|30)$/i;
const ALU = ["add", "sub", "eor", "and", "orr", "bic", "lsr", "lsl"] as const;
const RMW_RE = /^(swp|cas|ldclr|ldset|ldadd)(a|l|al)?$/;
const LABEL_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Operation names only the litmus form has. */
export const LITMUS_ONLY_OPS = ["ldar", "ldapr", "mov", ...ALU, "cbz", "cbnz", "b", "svc", "eret", "nop"] as const;

export function isRegister(t: string | undefined): boolean {
  return t !== undefined && REG_RE.test(t.trim());
}

/** Written like a register (X31 too, so that it is refused as one rather than read as a number). */
function looksLikeRegister(t: string | undefined): boolean {
  return t !== undefined && /^[xw]\d+$/i.test(t.trim());
}

/** Split operands at commas outside brackets and parentheses. */
function operands(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "[" || ch === "(") depth++;
    if (ch === "]" || ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== "") out.push(cur.trim());
  return out;
}

export interface LitmusParseContext {
  fail(msg: string): never;
  expr(text: string): Expr;
}

/**
 * Whether `op` with operand text `rest` is a litmus instruction (and then its parse), or
 * undefined for an older-form step.
 */
export function parseLitmusStep(op: string, rest: string, c: LitmusParseContext): LitmusSpec | undefined {
  const ops = operands(rest);
  const first = ops[0];
  const second = ops[1];
  const registerFirst = looksLikeRegister(first);
  const litmus =
    (LITMUS_ONLY_OPS as readonly string[]).includes(op) ||
    RMW_RE.test(op) ||
    ((op === "ldr" || op === "str" || op === "stlr") && registerFirst) ||
    ((op === "tlbi" || op === "msr") && looksLikeRegister(second)) ||
    (op === "tlbi" && isStage2OrEl2Tlbi((first ?? "").toUpperCase()));
  if (!litmus) return undefined;
  const reg = (t: string | undefined, what: string): number => {
    if (t === undefined || !isRegister(t))
      c.fail(`${op}: ${what} must be a register X0..X30 (got ${t === undefined ? "nothing" : `"${t}"`})`);
    return Number(t.trim().slice(1));
  };
  const operand = (t: string | undefined, what: string): LOperand => {
    if (t === undefined || t === "") return c.fail(`${op}: missing ${what}`);
    if (looksLikeRegister(t)) return { k: "reg", r: reg(t, what) };
    return { k: "imm", e: c.expr(t.replace(/^#/, "")) };
  };
  const address = (t: string | undefined): LAddress => {
    if (t === undefined) return c.fail(`${op}: missing the address ([Xn], [Xn, Xm], a VA or pa:PA)`);
    const b = /^\[(.*)\]$/.exec(t);
    if (b) {
      const parts = operands(b[1] as string);
      if (parts.length < 1 || parts.length > 2) c.fail(`${op}: address "${t}" must be [Xn] or [Xn, Xm]`);
      return {
        space: "va",
        base: { k: "reg", r: reg(parts[0], "the address base") },
        ...(parts[1] !== undefined ? { index: reg(parts[1], "the address index") } : {}),
      };
    }
    if (/^pa:/i.test(t)) return { space: "pa", base: operand(t.slice(3), "physical address") };
    return { space: "va", base: operand(t, "address") };
  };
  const label = (t: string | undefined): string => {
    if (t === undefined || !LABEL_RE.test(t)) c.fail(`${op}: expected a label (got ${t === undefined ? "nothing" : `"${t}"`})`);
    return t;
  };
  const count = (n: number, usage: string): void => {
    if (ops.length !== n) c.fail(`${op} expects ${usage} (got "${rest}")`);
  };
  switch (op) {
    case "ldr":
    case "ldar":
    case "ldapr":
      count(2, "Xt, ADDR");
      return { i: "ldr", rt: reg(first, "the destination"), addr: address(second), acq: op === "ldar" ? "A" : op === "ldapr" ? "Q" : "" };
    case "str":
    case "stlr":
      count(2, "Xs, ADDR");
      return { i: "str", src: operand(first, "source"), addr: address(second), rel: op === "stlr" };
    case "mov":
      count(2, "Xd, VALUE|Xn");
      return { i: "mov", rd: reg(first, "the destination"), src: operand(second, "source") };
    case "cbz":
    case "cbnz":
      count(2, "Xn, LABEL");
      return { i: op, rn: reg(first, "the tested register"), target: label(second) };
    case "b":
      count(1, "LABEL");
      return { i: "b", target: label(first) };
    case "svc":
      if (ops.length > 1) c.fail(`svc expects at most an immediate (got "${rest}")`);
      return { i: "svc" };
    case "eret":
      if (ops.length > 1) c.fail(`eret expects at most a LABEL to return to (got "${rest}")`);
      return first === undefined ? { i: "eret" } : { i: "eret", target: label(first) };
    case "nop":
      count(0, "no operand");
      return { i: "nop" };
    case "tlbi": {
      const name = (first ?? "").toUpperCase();
      // VMALLS12E1, ALLE1 and ALLE2 take no operand.
      if (ops.length === 1 && /^(VMALLS12E1|ALLE1|ALLE2)(IS|OS)?$/.test(name))
        return { i: "tlbi", op: name, operand: { k: "imm", e: { e: "num", v: 0n } } };
      count(2, "OP, Xn");
      if (!(TLBI_BASES as readonly string[]).includes(name.replace(/(IS|OS)$/, "")) && !isStage2OrEl2Tlbi(name))
        c.fail(
          `unknown TLBI ${first} (expected one of ${TLBI_BASES.join(", ")}, IPAS2E1, IPAS2LE1, VMALLS12E1, ALLE1, ALLE2, VAE2, VALE2, with optional IS/OS)`,
        );
      return { i: "tlbi", op: name as TlbiOp, operand: operand(second, "operand") };
    }
    case "msr": {
      count(2, "REG, Xn");
      const r = (first as string).toUpperCase();
      if (r === "VTTBR_EL2") return { i: "msr", reg: r, src: operand(second, "source") };
      const full = r.endsWith("_EL1") ? r : `${r}_EL1`;
      if (!(SYS_REGS as readonly string[]).includes(full))
        c.fail(`unknown register ${first} (expected one of ${SYS_REGS.join(", ")}, VTTBR_EL2)`);
      return { i: "msr", reg: full as SysReg, src: operand(second, "source") };
    }
  }
  if ((ALU as readonly string[]).includes(op)) {
    count(3, "Xd, Xn, Xm|VALUE");
    return {
      i: "alu",
      op: op as (typeof ALU)[number],
      rd: reg(first, "the destination"),
      rn: reg(second, "the first source"),
      src: operand(ops[2], "second source"),
    };
  }
  const m = RMW_RE.exec(op);
  if (m) {
    count(3, "Xs, Xt, ADDR");
    const ord = m[2] ?? "";
    return {
      i: "rmw",
      op: m[1] as "swp",
      rs: reg(first, "Xs"),
      rt: reg(second, "Xt"),
      addr: address(ops[2]),
      acq: ord.includes("a"),
      rel: ord.includes("l"),
    };
  }
  return c.fail(`unknown litmus operation ${op}`);
}
