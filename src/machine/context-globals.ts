/**
 * What is left of a switched-out translation context after a TLBI ASIDE1 by its ASID: that TLBI
 * invalidates every non-global entry of the ASID, at every level (Arm ARM D8.16 "TLB maintenance
 * instructions", ASIDE1), so only global leaves (nG = 0) cached through the context may remain.
 * A user address space (Linux maps user pages nG = 1) then holds nothing any more.
 */
import { LO_NG } from "../arch/bits.js";
import type { PhysMem } from "../mem/physmem.js";
import { entryKind, nextTableAddress } from "../walk/fields.js";
import type { Root } from "./tlb.js";

/**
 * Whether a valid leaf with nG = 0 is reachable from `root` through descriptors written no later
 * than step `before` (`writtenAt(pa)`: the step a descriptor was written after): what the CPU can
 * have cached through the context while it was current.
 */
export function contextHoldsGlobal(mem: PhysMem, root: Root, before: number, writtenAt: (pa: number) => number): boolean {
  const h = root.half;
  const walk = (table: number, level: number, entries: number): boolean => {
    for (let i = 0; i < entries; i++) {
      const pa = table + i * 8;
      if (writtenAt(pa) > before || !mem.load64(pa)) continue;
      const hi = mem.hi;
      const lo = mem.lo;
      const kind = entryKind(h, lo, level);
      if (kind === 2 && (lo & LO_NG) === 0) return true;
      if (kind !== 1 || level >= 3) continue;
      const next = nextTableAddress(h, hi, lo);
      if (next < h.paLimit && walk(next, level + 1, 2 ** (h.gShift - 3))) return true;
    }
    return false;
  };
  const entries = Math.min(2 ** (h.bitsAt[root.level + 1] as number), Math.max(1, root.span / 2 ** (h.shiftAt[root.level + 1] as number)));
  return walk(root.table, root.level, entries);
}
