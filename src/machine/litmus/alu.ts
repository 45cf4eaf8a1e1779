/** Register arithmetic and the values atomics write (Arm ARM C6 instruction descriptions: ADD, EOR, BIC, LSR, SWP, CAS, LDCLR, LDSET, LDADD). */
import type { AluOp, RmwOp } from "./program.js";

const M64 = 0xffff_ffff_ffff_ffffn;

export function alu(op: AluOp, a: bigint, b: bigint): bigint {
  switch (op) {
    case "add":
      return (a + b) & M64;
    case "sub":
      return (a - b) & M64;
    case "eor":
      return a ^ b;
    case "and":
      return a & b;
    case "orr":
      return a | b;
    case "bic":
      return a & ~b & M64;
    case "lsr":
      return a >> (b & 63n);
    case "lsl":
      return (a << (b & 63n)) & M64;
  }
}

export function rmwValue(op: RmwOp, old: bigint, s: bigint): bigint {
  switch (op) {
    case "swp":
    case "cas":
      return s;
    case "ldclr":
      return old & ~s & M64;
    case "ldset":
      return old | s;
    case "ldadd":
      return (old + s) & M64;
  }
}
