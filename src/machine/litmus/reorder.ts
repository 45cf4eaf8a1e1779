/**
 * Which later stores of a CPU may run ahead of program order (a promise, in the view-based
 * reading of the Armv8 model: Pulte et al. PLDI'19). Arm ARM B2.3 orders a store after an
 * earlier access only through barrier-ordered-before (DMB/DSB: full ones always; ST ones after
 * earlier stores; LD ones after earlier loads), dependency-ordered-before (address, data,
 * control), acquire/release, and coherence (same location); anything else may be reordered, so
 * a store may pass plain accesses to other fixed locations and register moves that do not feed
 * it. Branches, TLBIs, MSRs and exceptions end the window.
 */
import type { Address, Line } from "./program.js";

/**
 * Later plain stores (after line `pc`, before `end`, not already run: `early`) that may run before the instructions before them: only register
 * moves and plain accesses to other, fixed locations lie between, none writes a register the
 * store reads, and nothing between can be ordered before it (no barrier, branch, acquire,
 * release, TLBI, MSR or exception).
 */
export function earlyStores(lines: readonly Line[], pc: number, end: number, early: ReadonlySet<number>): number[] {
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
      const a = fixedAddress(ins.addr);
      const usesWritten = (ins.src.k === "reg" && written.has(ins.src.r)) || (ins.addr.base.k === "reg" && written.has(ins.addr.base.r));
      if (a !== undefined && !usesWritten && !locs.includes(a)) out.push(j);
    }
    if (ins.i === "mov" || ins.i === "alu") {
      written.add(ins.rd);
      continue;
    }
    if (ins.i === "ldr" && ins.acq === "") {
      const a = fixedAddress(ins.addr);
      if (a === undefined) break;
      seenLoad = true;
      locs.push(a);
      if (ins.rt !== undefined) written.add(ins.rt);
      continue;
    }
    if (ins.i === "str" && !ins.rel) {
      const a = fixedAddress(ins.addr);
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

/** A fixed (immediate) address, as a comparable key; undefined when it comes from a register. */
function fixedAddress(a: Address): bigint | undefined {
  if (a.base.k !== "imm" || a.index !== undefined) return undefined;
  return (a.space === "pa" ? 1n << 64n : 0n) | (a.base.v & ~7n);
}
