/**
 * A translation table walk over memory with values: each descriptor the walker reads is one of
 * the writes to that location (`pick` chooses, by the rules of walk-rules.ts), so a walk can use
 * an older valid descriptor (a TLB or walk-cache hit) or a newer one. The walker runs over the
 * initial memory with the chosen values written in for the walk and put back after, level by
 * level (the choice at one level decides which descriptor the next level reads).
 */
import { FAULT_NONE } from "../../arch/fault.js";
import type { PhysMem } from "../../mem/physmem.js";
import type { Walker } from "../../walk/walker.js";
import type { Message } from "./messages.js";

export interface WalkRead {
  readonly pa: number;
  readonly level: number;
  readonly msg: Message;
}

export interface WalkOutcome {
  readonly fault: number;
  readonly level: number;
  /** Output PA (fault === FAULT_NONE). */
  readonly pa: number;
  readonly leafHi: number;
  readonly leafLo: number;
  /** Descriptors read, root first. */
  readonly reads: readonly WalkRead[];
}

/** Walk `vaHi:vaLo` for access code `acc`; `pick(pa, level, hi-of-choice)` returns the write read at each level, undefined to give up. */
export function walkChoosing(
  w: Walker,
  mem: PhysMem,
  vaHi: number,
  vaLo: number,
  acc: number,
  pick: (pa: number, level: number) => Message | undefined,
): WalkOutcome | undefined {
  const chosen = new Map<number, WalkRead>();
  for (let pass = 0; pass < 8; pass++) {
    const saved: [number, number, number][] = [];
    for (const r of chosen.values()) {
      const cur = mem.load64(r.pa) ? [mem.hi, mem.lo] : [0, 0];
      saved.push([r.pa, cur[0] as number, cur[1] as number]);
      mem.store64(r.pa, Number((r.msg.value >> 32n) & 0xffffffffn), Number(r.msg.value & 0xffffffffn));
    }
    const f = w.walkRaw(vaHi, vaLo, acc);
    const n = w.trailLen;
    const trail: { pa: number; level: number }[] = [];
    for (let i = 0; i < n; i++) trail.push({ pa: w.trailAddr[i] as number, level: w.trailLevel[i] as number });
    const out = { fault: f, level: w.level, pa: f === FAULT_NONE ? w.pa : 0, leafHi: w.descHi, leafLo: w.descLo };
    for (let i = saved.length - 1; i >= 0; i--) {
      const [pa, hi, lo] = saved[i] as [number, number, number];
      mem.store64(pa, hi, lo);
    }
    let redo = false;
    for (const t of trail) {
      if (chosen.has(t.pa)) continue;
      const m = pick(t.pa, t.level);
      if (m === undefined) return undefined;
      chosen.set(t.pa, { pa: t.pa, level: t.level, msg: m });
      if (!mem.load64(t.pa) || mem.hi !== Number((m.value >> 32n) & 0xffffffffn) || mem.lo !== Number(m.value & 0xffffffffn)) {
        redo = true;
        break;
      }
    }
    if (!redo) return { ...out, reads: trail.map((t) => chosen.get(t.pa) as WalkRead) };
  }
  throw new RangeError("walk: descriptor choices did not settle");
}
