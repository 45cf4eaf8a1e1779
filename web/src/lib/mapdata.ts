/**
 * Address-space map data for one TTBR half, built from the range walk (src/walk/range.ts):
 * coalesced segments for the listing and per-pixel-column classes for the strip, so a 2^48-byte
 * half with a million entries still arrives at the UI as a few kilobytes. Tables named by many
 * table descriptors are walked once: later ranges are "shared" segments (the same mappings as
 * the first range), so a corrupted dump with 512-way fan-in costs its distinct tables, not 512^n.
 */
import { decodeMairAttr } from "../../../src/arch/mair.js";
import type { PhysMem } from "../../../src/mem/physmem.js";
import type { WalkContext } from "../../../src/walk/context.js";
import { walkEntries } from "../../../src/walk/range.js";
import { sizeText } from "./format.js";

/** What a stretch of VA is: one coalescing key. */
export interface MapClass {
  readonly kind: "leaf" | "hole" | "unbacked" | "bad-table" | "shared";
  /** Leaf shape: block, contiguous group member, or page. */
  readonly shape: "block" | "cont" | "page" | "none";
  readonly level: number;
  /** Memory type family for colouring. */
  readonly mem: "normal" | "tagged" | "nc" | "device" | "other" | "none";
  readonly memName: string;
  readonly attrIndx: number;
  /** Effective permissions (with the table restrictions above). */
  readonly perm: string;
  /** "rw", "ro", "rx", "rwx" for EL1; used for colouring. */
  readonly permClass: "rw" | "ro" | "rx" | "rwx" | "none";
  readonly user: boolean;
  readonly nG: boolean;
  readonly af: boolean;
}

export interface MapSegment {
  /** Offsets inside the half, [start, end). */
  readonly start: number;
  readonly end: number;
  readonly cls: number;
  readonly entries: number;
  /** Descriptor of the first entry (halves) and its address. */
  readonly hi: number;
  readonly lo: number;
  readonly descAddr: number;
}

export interface MapData {
  readonly half: 0 | 1;
  readonly start: number;
  readonly end: number;
  readonly classes: readonly MapClass[];
  readonly segments: readonly MapSegment[];
  /** Segments beyond the listing limit. */
  readonly moreSegments: number;
  /** Class per pixel column (-1: nothing), preferring leaves over holes. */
  readonly columns: Int32Array;
  readonly leafCount: number;
}

const HOLE_KEY = "hole";

function classOf(
  kind: MapClass["kind"],
  level: number,
  hi: number,
  lo: number,
  apT: number,
  uxnT: number,
  pxnT: number,
  mair: Uint8Array,
): MapClass {
  if (kind !== "leaf") {
    return {
      kind,
      shape: "none",
      level: -9,
      mem: "none",
      memName: "",
      attrIndx: -1,
      perm: "",
      permClass: "none",
      user: false,
      nG: false,
      af: false,
    };
  }
  const attr = (lo >>> 2) & 7;
  const byte = mair[attr] ?? 0;
  const ma = decodeMairAttr(byte);
  const m: MapClass["mem"] =
    ma.kind === "device" ? "device" : ma.kind === "normal" ? (ma.tagged ? "tagged" : ma.inner.policy === "NC" ? "nc" : "normal") : "other";
  const ap = (lo >>> 6) & 3;
  const ro = (ap & 2) !== 0 || (apT & 2) !== 0;
  const user = (ap & 1) !== 0 && (apT & 1) === 0;
  const pxn = ((hi >>> 21) & 1) | pxnT;
  const uxn = ((hi >>> 22) & 1) | uxnT;
  const x = pxn === 0;
  const permClass: MapClass["permClass"] = ro ? (x ? "rx" : "ro") : x ? "rwx" : "rw";
  const perm = `EL1 r${ro ? "-" : "w"}${x ? "x" : "-"}${user ? ` EL0 r${ro || ap === 3 ? "-" : "w"}${uxn ? "-" : "x"}` : ""}`;
  const cont = (hi & 0x100000) !== 0;
  return {
    kind,
    shape: (lo & 2) === 0 ? "block" : cont ? "cont" : "page",
    level,
    mem: m,
    memName: ma.name,
    attrIndx: attr,
    perm,
    permClass,
    user,
    nG: (lo & 0x800) !== 0,
    af: (lo & 0x400) !== 0,
  };
}

function keyOf(c: MapClass): string {
  return c.kind === "hole" ? HOLE_KEY : `${c.kind}|${c.shape}|${c.level}|${c.attrIndx}|${c.perm}|${c.nG}|${c.af}`;
}

/** Map of [start, end) (offsets within the half) sampled into `width` columns. */
export function buildMap(
  mem: PhysMem,
  ctx: WalkContext,
  half: 0 | 1,
  start: number,
  end: number,
  width: number,
  maxSegments = 2000,
): MapData {
  const h = ctx.halves[half];
  const classes: MapClass[] = [];
  const keys = new Map<string, number>();
  const segments: MapSegment[] = [];
  let more = 0;
  const columns = new Int32Array(Math.max(1, width)).fill(-1);
  const scale = (end - start) / columns.length;
  let cur: { start: number; end: number; cls: number; entries: number; hi: number; lo: number; descAddr: number } | undefined;
  let leafCount = 0;
  const flush = (): void => {
    if (!cur) return;
    if (segments.length < maxSegments) segments.push(cur);
    else more++;
    cur = undefined;
  };
  walkEntries(
    mem,
    h,
    start,
    end,
    (e) => {
      if (e.kind === "table" || e.kind === "table-end") return;
      const c = classOf(e.kind, e.level, e.hi, e.lo, e.apTable, e.uxnTable, e.pxnTable, ctx.mair);
      const key = keyOf(c);
      let id = keys.get(key);
      if (id === undefined) {
        id = classes.length;
        classes.push(c);
        keys.set(key, id);
      }
      if (e.kind === "leaf") leafCount++;
      const claims = e.kind === "leaf" || e.kind === "shared";
      const s = Math.max(e.off, start);
      const t = Math.min(e.off + e.size, end);
      // Columns: a leaf claims every column it touches; holes only fill empty columns.
      const c0 = Math.max(0, Math.floor((s - start) / scale));
      const c1 = Math.min(columns.length - 1, Math.ceil((t - start) / scale) - 1);
      for (let i = c0; i <= c1; i++) {
        const prev = columns[i] as number;
        if (prev < 0 || (claims && classes[prev]?.kind !== "leaf" && classes[prev]?.kind !== "shared")) columns[i] = id;
      }
      if (cur && cur.cls === id && cur.end === s) {
        cur.end = t;
        cur.entries++;
        return;
      }
      flush();
      cur = { start: s, end: t, cls: id, entries: 1, hi: e.hi, lo: e.lo, descAddr: e.descAddr };
    },
    { shared: true },
  );
  flush();
  return { half, start, end, classes, segments, moreSegments: more, columns, leafCount };
}

export function describeClass(c: MapClass): string {
  if (c.kind === "hole") return "hole (invalid)";
  if (c.kind === "unbacked") return "table not in memory";
  if (c.kind === "bad-table") return "table address beyond PA size";
  if (c.kind === "shared") return "table shared with an earlier range (the same mappings; walked once)";
  const shape = c.shape === "block" ? `L${c.level} block` : c.shape === "cont" ? `L${c.level} contiguous` : `L${c.level} page`;
  return `${shape}, AttrIndx ${c.attrIndx} ${c.memName}, ${c.perm}${c.nG ? ", nG" : ""}${c.af ? "" : ", AF=0"}`;
}

export function segmentSizeText(s: MapSegment): string {
  return sizeText(s.end - s.start);
}
