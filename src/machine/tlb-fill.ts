/**
 * How entries come to be held beyond memory: a store that changes a live descriptor leaves the
 * old value cached (a leaf, or a walk-cache root through which the old subtree stays
 * reachable), and an MSR leaves the whole old context (tlb.ts has the entry type and its states).
 */
import { HI_CONT, LO_AF, LO_NG } from "../arch/bits.js";
import type { PhysMem } from "../mem/physmem.js";
import { type HalfContext, halfWith, type WalkContext } from "../walk/context.js";
import { nextTableAddress } from "../walk/fields.js";
import { Walker } from "../walk/walker.js";
import type { StoreFacts } from "./rules/store.js";
import type { TableUse } from "./table-index.js";
import { NO_MISSES, type Root, ST_LIVE, type StaleEntry } from "./tlb.js";

/** Hierarchical table attributes accumulated above an entry (APTable, UXNTable, PXNTable). */
interface TableAttrs {
  readonly apT: number;
  readonly uxnT: number;
  readonly pxnT: number;
}

const NO_TABLE_ATTRS: TableAttrs = { apT: 0, uxnT: 0, pxnT: 0 };

/**
 * A new live stale entry (positional, one allocation: it is made on every store that changes a
 * live descriptor, the checker's hot path). `origin`: step that wrote the old value; `changed`:
 * step that made it stale.
 */
function newStaleEntry(
  id: number,
  kind: StaleEntry["kind"],
  cpu: number,
  half: HalfContext,
  ctx: WalkContext,
  vaOff: number,
  span: number,
  level: number,
  asid: number,
  global: boolean,
  descAddr: number,
  hi: number,
  lo: number,
  above: TableAttrs,
  root: Root | undefined,
  origin: number,
  changed: number,
  preIsb: boolean,
): StaleEntry {
  return {
    id,
    kind,
    cpu,
    halfIdx: half.index,
    ia: half.iaBits,
    vaOff,
    span,
    level,
    asid,
    global,
    globalOnly: false,
    descAddr,
    hi,
    lo,
    half,
    ctx,
    apT: above.apT,
    uxnT: above.uxnT,
    pxnT: above.pxnT,
    root,
    origin,
    changed,
    state: ST_LIVE,
    tlbiStep: 0,
    tlbiCpu: -1,
    tlbiBroadcast: false,
    completeStep: 0,
    refill: 0,
    preIsb,
    missed: NO_MISSES,
  };
}

/** The entry an MSR leaves behind: everything cached from the old root `r` of CPU `cpu`. */
export function contextEntry(id: number, cpu: number, r: Root, step: number): StaleEntry {
  return newStaleEntry(id, "context", cpu, r.half, r.ctx, 0, r.span, r.level, r.asid, false, -1, 0, 0, NO_TABLE_ATTRS, r, 0, step, true);
}

/** `half` of `ctx` rebased to start at `table` (level `level`): how a cached table entry is walked. */
function rebase(ctx: WalkContext, half: HalfContext, table: number, level: number): { ctx: WalkContext; half: HalfContext } {
  if (half.base === table && half.startLevel === level) return { ctx, half };
  const h = halfWith(half, { base: table, startLevel: level, baseFault: false, tnszFault: false, epd: false });
  const halves: [HalfContext, HalfContext] = half.index === 0 ? [h, ctx.halves[1]] : [ctx.halves[0], h];
  return { ctx: { ...ctx, halves }, half: h };
}

/**
 * The root a walk-cache entry provides: the table `next` that an old level-`level` table
 * descriptor ohi pointed to, covering [va, va + size), under `root` with hierarchical attributes
 * apT/uxnT/pxnT accumulated above it.
 */
export function walkCacheRoot(
  mem: PhysMem,
  root: Root,
  next: number,
  level: number,
  va: number,
  size: number,
  ohi: number,
  above: { readonly apT: number; readonly uxnT: number; readonly pxnT: number },
): Root {
  const h = root.half;
  const r = rebase(root.ctx, h, next, level + 1);
  return {
    half: r.half,
    ctx: r.ctx,
    walker: new Walker(mem, r.ctx),
    level: level + 1,
    table: next,
    vaOff: va,
    span: size,
    asid: root.asid,
    apT: h.hpd ? above.apT : above.apT | ((ohi >>> 29) & 3),
    uxnT: h.hpd ? above.uxnT : above.uxnT | ((ohi >>> 28) & 1),
    pxnT: h.hpd ? above.pxnT : above.pxnT | ((ohi >>> 27) & 1),
  };
}

/**
 * The entry CPU `u.cpu` may keep from the old value of the live descriptor `st` changed (kind
 * `ok`: 1 table, 2 leaf; VA offset `va`, `size` bytes at level `level`), given what it already
 * holds (`held`); undefined when the old value cannot be cached (AF=0 without FEAT_HAFDBS) or is
 * already held.
 */
export function staleFromStore(
  mem: PhysMem,
  st: StoreFacts,
  u: TableUse,
  held: readonly StaleEntry[],
  id: number,
  ok: number,
  level: number,
  va: number,
  size: number,
): StaleEntry | undefined {
  const { step, pa, ohi, olo, prevWriter } = st;
  const root = u.root;
  const h = root.half;
  if (ok === 2 && (olo & LO_AF) === 0 && !root.ctx.ha) return undefined;
  for (const s of held) {
    if (s.descAddr === pa && s.hi === ohi && s.lo === olo && s.state === ST_LIVE && s.vaOff === va) return undefined;
  }
  let vaOff = va;
  let span = size;
  if (ok === 2 && (ohi & HI_CONT) !== 0) {
    const cs = h.contAt[level + 1] as number;
    span = size * 2 ** cs;
    vaOff = va - (va % span);
  }
  const sub = ok === 1 ? walkCacheRoot(mem, root, nextTableAddress(h, ohi, olo), level, va, size, ohi, u) : undefined;
  const kind = ok === 1 ? "table" : "leaf";
  const global = ok === 2 ? (olo & LO_NG) === 0 : false;
  return newStaleEntry(id, kind, u.cpu, h, root.ctx, vaOff, span, level, root.asid, global, pa, ohi, olo, u, sub, prevWriter, step, false);
}
