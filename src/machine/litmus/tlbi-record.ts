/**
 * TLB invalidations at litmus level. A TLBI is issued, then completed by a later DSB of its CPU
 * (not DSB ST/LD; DSB NSH completes it for the issuing CPU only): Arm ARM D8.14 "TLB maintenance
 * instructions" (completion), herd aarch64.cat C_TLBI. Each completed TLBI T gets a timestamp
 * `done`; `ordered` is what was ordered before T (a DSB between a write and the TLBI).
 */
import type { WalkContext } from "../../walk/context.js";
import { parseTlbiOp, type TlbiScope, tlbiScope } from "../tlbi-op.js";
import type { TlbiOp } from "../types.js";

export interface TlbiRecord {
  readonly cpu: number;
  readonly op: TlbiOp;
  readonly scope: TlbiScope;
  /** Broadcast (IS/OS): affects every CPU's walks; otherwise only the issuing CPU's. */
  readonly broadcast: boolean;
  /** Writes ordered before the TLBI (the issuing CPU's view `tlbiOrd` at issue). */
  readonly ordered: number;
  /** Timestamp of the completing DSB (0 while pending). */
  done: number;
  /** Completed by DSB NSH: complete for the issuing CPU only. */
  localOnly: boolean;
}

export function newTlbi(cpu: number, op: TlbiOp, operand: bigint, ctx: WalkContext, ordered: number): TlbiRecord {
  const m = parseTlbiOp(op);
  if (m === undefined) throw new RangeError(`tlbi: unknown operation ${op}`);
  const hi = Number((operand >> 32n) & 0xffffffffn);
  const lo = Number(operand & 0xffffffffn);
  const scope = tlbiScope(m.base, ctx.tcr.as ? 0xffff : 0xff, hi, lo);
  return { cpu, op, scope, broadcast: m.broadcast, ordered, done: 0, localOnly: false };
}

/**
 * Whether completed TLBI `t` can affect a walk by CPU `cpu` of the VA at offset `vaOff` in half
 * `half` (IA bits `ia`), tagged ASID `asid` (`global`: the leaf is nG=0), reading a descriptor
 * that maps `span` bytes and is a leaf (`leaf`) or a table entry. Arm ARM D8.14: by-VA
 * operations match the page and the ASID unless all-ASID or global; last-level operations
 * (VALE1, VAALE1) need not affect walk-cache (table) entries; VMALLE1 affects everything of the
 * EL1&0 regime.
 */
export function tlbiAffects(
  t: TlbiRecord,
  cpu: number,
  half: number,
  ia: number,
  vaOff: number,
  span: number,
  asid: number,
  global: boolean,
  leaf: boolean,
): boolean {
  if (t.done === 0) return false;
  if (t.cpu !== cpu && (!t.broadcast || t.localOnly)) return false;
  const sc = t.scope;
  if (sc.base === "ASIDE1") return !global && sc.asid === asid;
  if (!sc.isVa) return true;
  if (sc.lastLevel && !leaf) return false;
  if (!sc.allAsid && !global && sc.asid !== asid) return false;
  if (sc.isRange) {
    const off = sc.rBase % 2 ** ia;
    const base = vaOff - (vaOff % span);
    return sc.rHalf === half && base < off + sc.rLen && off < base + span;
  }
  const page = (sc.pageNum % 2 ** (ia - 12)) * 4096;
  return sc.vaHalf === half && Math.floor(vaOff / span) === Math.floor(page / span);
}
