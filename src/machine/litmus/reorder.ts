/**
 * Which later stores of a CPU may run ahead of program order (a promise, in the view-based
 * reading of the Armv8 model: Pulte et al. PLDI'19). Arm ARM B2.3 orders a store after an
 * earlier access only through barrier-ordered-before (DMB/DSB: full ones always; ST ones after
 * earlier stores; LD ones after earlier loads), dependency-ordered-before (address, data,
 * control), acquire/release, and coherence (same location); anything else may be reordered, so
 * a store may pass plain accesses to other fixed locations and register moves that do not feed
 * it. Branches, TLBIs, MSRs and exceptions end the window.
 *
 * An address held in a register is as fixed as an immediate when no instruction between writes
 * the register and its value carries no dependency (view 0: an initial value or a moved
 * constant). Arm ARM B2.3 "Dependency definitions": a dependency runs from a register *write*
 * by an earlier instruction (a Register dataflow dependency), so a register nobody wrote creates
 * none; herd7 likewise writes every address as an initialised register (`0:X10=x`) and treats it
 * as a constant.
 */
import type { Address, Line } from "./program.js";

/** The CPU's registers at `pc`: values and the dependency view each carries. */
export interface RegState {
  readonly x: readonly bigint[];
  readonly xv: readonly number[];
}

/**
 * Later plain stores (after line `pc`, before `end`, not already run: `early`) that may run before the instructions before them: only register
 * moves and plain accesses to other, fixed locations lie between, none writes a register the
 * store reads, and nothing between can be ordered before it (no barrier, branch, acquire,
 * release, TLBI, MSR or exception).
 */
export function earlyStores(lines: readonly Line[], pc: number, end: number, early: ReadonlySet<number>, regs: RegState): number[] {
  const out: number[] = [];
  const written = new Set<number>();
  const locs: bigint[] = [];
  let seenLoad = false;
  let seenStore = false;
  const first = lines[pc]?.instr;
  if (first === undefined) return out;
  for (let j = pc; j < end; j++) {
    const ins = (lines[j] as Line).instr;
    if (j > pc && ins.i === "str" && !ins.rel && !early.has(j)) {
      const a = fixedAddress(ins.addr, regs, written);
      const usesWritten = ins.src.k === "reg" && written.has(ins.src.r);
      if (a !== undefined && !usesWritten && !locs.includes(a)) out.push(j);
    }
    if (ins.i === "mov" || ins.i === "alu") {
      written.add(ins.rd);
      continue;
    }
    if (ins.i === "ldr" && ins.acq === "") {
      const a = fixedAddress(ins.addr, regs, written);
      if (a === undefined) break;
      seenLoad = true;
      locs.push(a);
      if (ins.rt !== undefined) written.add(ins.rt);
      continue;
    }
    if (ins.i === "str" && !ins.rel) {
      const a = fixedAddress(ins.addr, regs, written);
      if (a === undefined) break;
      seenStore = true;
      locs.push(a);
      continue;
    }
    if (ins.i === "nop") continue;
    // DMB/DSB ST order earlier stores before later ones, LD earlier loads: a store may pass
    // one that orders nothing it passes (B2.3 barrier-ordered-before).
    if ((ins.i === "dmb" || ins.i === "dsb") && ins.kind.endsWith("ST") && !seenStore) continue;
    if ((ins.i === "dmb" || ins.i === "dsb") && ins.kind.endsWith("LD") && !seenLoad) continue;
    break;
  }
  return out;
}

/**
 * A fixed address, as a comparable key: an immediate, or registers that no instruction since
 * `pc` wrote (`written`) and whose values carry no dependency; undefined otherwise (the access
 * may depend on an earlier read, so nothing passes it). Refusing registers with a dependency
 * from a load already run is stricter than B2.3 needs ("addr; po; [W]" orders the store after
 * that load, which a store run now follows anyway), as the model was before for every register.
 */
function fixedAddress(a: Address, regs: RegState, written: ReadonlySet<number>): bigint | undefined {
  const known = (r: number): bigint | undefined => (written.has(r) || regs.xv[r] !== 0 ? undefined : regs.x[r]);
  const base = a.base.k === "imm" ? a.base.v : known(a.base.r);
  const index = a.index === undefined ? 0n : known(a.index);
  if (base === undefined || index === undefined) return undefined;
  const va = (base + index) & 0xffff_ffff_ffff_ffffn;
  return (a.space === "pa" ? 1n << 64n : 0n) | (va & ~7n);
}
