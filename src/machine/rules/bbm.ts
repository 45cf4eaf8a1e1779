/**
 * Rule 1, break-before-make, for a store that replaces one valid descriptor with another while
 * the entry is live: which changes need BBM is decided by machine/bbm.ts (bbmRequirement); a
 * block↔table size change is only exempt when it keeps OA and attributes (vmsa-rules.md §4.3).
 * Arm ARM DDI0487 D8.17.1 "Using break-before-make when updating translation table entries"
 * (RWHZWS, RPVTFW); Linux pgattr_change_is_safe().
 */
import { HI_CONT } from "../../arch/bits.js";
import { hex } from "../../arch/u64.js";
import type { PhysMem } from "../../mem/physmem.js";
import type { HalfContext, WalkContext } from "../../walk/context.js";
import { entryKind, leafOutputAddress, nextTableAddress } from "../../walk/fields.js";
import { bbmRequirement } from "../bbm.js";
import { hx, type Reporter } from "../report.js";
import { bigOf } from "../tlb.js";
import { readOnlySwapOfEqualPages } from "./readonly-swap.js";
import type { StoreFacts } from "./store.js";

/** `st` changed a live valid descriptor (kind `ok`: 1 table, 2 leaf) into a valid one (kind `nk`). */
export function checkLiveBbm(
  rep: Reporter,
  mem: PhysMem,
  bbmLevel: number,
  st: StoreFacts,
  h: HalfContext,
  ctx: WalkContext,
  ok: number,
  nk: number,
  level: number,
  vaB: () => bigint,
): void {
  const { cpu, step, pa, ohi, olo, hi, lo, prevWriter } = st;
  const oldD = bigOf(ohi, olo);
  const newD = bigOf(hi, lo);
  // RWHZWS: an output-address change between two read-only mappings of identical data needs no break.
  const contentsEqual = ok === 2 && nk === 2 && readOnlySwapOfEqualPages(mem, h, ctx.hd, ohi, olo, hi, lo, level);
  let r = bbmRequirement(oldD, newD, level, h.fmt, bbmLevel, { mair: ctx.regs.mair, ha: ctx.ha, contentsEqual });
  if (!r.required && ok !== nk) {
    // A size change is only exempt when it keeps OA and attributes (vmsa-rules.md §4.3).
    const blockHi = ok === 2 ? ohi : hi;
    const blockLo = ok === 2 ? olo : lo;
    const tableD = ok === 1 ? [ohi, olo] : [hi, lo];
    const why = subtableMismatch(mem, h, nextTableAddress(h, tableD[0] as number, tableD[1] as number), level, blockHi, blockLo);
    if (why !== undefined)
      r = { ...r, required: true, rule: "bbm.output-address", reason: `block size change that also changes the mapping: ${why}` };
  }
  if (r.required) {
    rep.report(
      "bbm",
      r.rule,
      step,
      cpu,
      `live ${ok === 1 ? "table" : "leaf"} descriptor at ${hx(pa)} (level ${level}, VA ${hex(vaB())}) changed ${hex(oldD)} → ${hex(newD)} without break-before-make: ${r.reason} (FEAT_BBM level ${bbmLevel})`,
      { va: vaB(), pa: nk === 2 ? leafOutputAddress(h, hi, lo, level) : undefined, descAddr: pa },
      [rep.tr(prevWriter, "wrote the old descriptor"), rep.tr(step, "overwrote it with a different valid descriptor")],
      `store an invalid descriptor; DSB ISHST; TLBI ${ok === 1 ? "VAE1IS (non-last-level)" : "VAE1IS"} for ${hex(vaB())}; DSB ISH; store ${hex(newD)}; DSB ISHST; ISB`,
    );
  }
}

/** Why the subtable at `table` does not map exactly what the level-`level` block bhi:blo maps (undefined: it does). */
function subtableMismatch(mem: PhysMem, h: HalfContext, table: number, level: number, bhi: number, blo: number): string | undefined {
  const n = 2 ** h.stride;
  const sub = 2 ** (h.shiftAt[level + 2] as number);
  const oa0 = leafOutputAddress(h, bhi, blo, level);
  // Attributes compared: everything except type bit, OA, contiguous, nT.
  const attrMaskLo = 0xffc; // bits [11:2]: AttrIndx, NS, AP, SH, AF, nG
  const attrMaskHi = 0xfff80000 & ~HI_CONT;
  for (let i = 0; i < n; i++) {
    if (!mem.load64(table + i * 8)) return `subtable entry ${i} is unbacked`;
    const hi = mem.hi;
    const lo = mem.lo;
    if (entryKind(h, lo, level + 1) !== 2) return `subtable entry ${i} at ${hx(table + i * 8)} is not a valid leaf`;
    if (leafOutputAddress(h, hi, lo, level + 1) !== oa0 + i * sub)
      return `subtable entry ${i} maps ${hx(leafOutputAddress(h, hi, lo, level + 1))}, not ${hx(oa0 + i * sub)}`;
    if ((lo & attrMaskLo) !== (blo & attrMaskLo) || (hi & attrMaskHi) !== (bhi & attrMaskHi))
      return `subtable entry ${i} has different attributes`;
  }
  return undefined;
}
