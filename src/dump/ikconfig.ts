/**
 * The kernel's own configuration inside a dump (CONFIG_IKCONFIG): kernel/configs.c places the
 * gzip-compressed `.config` in .rodata between the ASCII tags `IKCFG_ST` and `IKCFG_ED`.
 *
 * Only the kernel's read-only, non-executable mappings are searched (the kernel image's .rodata,
 * or a module's with IKCONFIG=m), found by walking TTBR1 above the middle of its VA range: the work
 * is bounded by those mappings (a few MB), not by the size of the dump. No Node APIs (the browser
 * UI's worker resolves the layout too): the blob is inflated by pako, loaded on demand
 * (../io/codec-libs.ts: "gzip").
 */
import { codecLib } from "../io/codec-libs.js";
import { FRAME_SIZE, type PhysMem } from "../mem/physmem.js";
import { latin1 } from "../mem/random-access.js";
import type { WalkContext } from "../walk/context.js";
import { halfBase, mappingRuns } from "../walk/range.js";

const tag = (t: string): Uint8Array => Uint8Array.from(t, (c) => c.charCodeAt(0));
const START_TAG = tag("IKCFG_ST");
const END_TAG = tag("IKCFG_ED");
const EMPTY = new Uint8Array(0);

/** First index of `needle` in `hay` at or after `from`, or -1. */
function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  outer: for (
    let i = hay.indexOf(first as number, from);
    i >= 0 && i + needle.length <= hay.length;
    i = hay.indexOf(first as number, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
/** A config is well under this (Debian's is ~60 KiB compressed); longer is not the blob. */
const MAX_BLOB = 4 * 1024 * 1024;

export interface FoundIkconfig {
  /** The configuration text. */
  readonly text: string;
  /** Physical address of the `IKCFG_ST` tag, and the VA it is mapped at. */
  readonly pa: bigint;
  readonly va: bigint;
  /** Physical range [pa, pa + length) that holds tag, blob and end tag. */
  readonly length: number;
}

/** Read-only, non-executable kernel mappings in the upper part of TTBR1 (where the image lives). */
function rodataRuns(mem: PhysMem, ctx: WalkContext): { va: bigint; pa: bigint; size: bigint }[] {
  const h = ctx.halves[1];
  const mid = halfBase(h) + (1n << BigInt(h.iaBits - 1));
  const top = (halfBase(h) + (1n << BigInt(h.iaBits))) & ((1n << 64n) - 1n);
  const out: { va: bigint; pa: bigint; size: bigint }[] = [];
  for (const r of mappingRuns(mem, ctx, mid, top)) {
    const d = r.descriptor;
    if (d.kind !== "block" && d.kind !== "page") continue;
    // AP[2] set: read-only at EL1 (D8.4.1.2.1, Table D8-63); PXN: not kernel code.
    const readOnly = (d.ap & 2) !== 0 || (r.apTable & 2) !== 0;
    if (readOnly && (d.pxn || r.pxnTable)) out.push({ va: r.va, pa: r.pa, size: r.size });
  }
  return out;
}

/**
 * Find and inflate the IKCONFIG blob; undefined when no read-only kernel mapping holds one (kernel
 * built without CONFIG_IKCONFIG, or those pages are not in the dump).
 */
export function findIkconfig(mem: PhysMem, ctx: WalkContext): FoundIkconfig | undefined {
  const seen = new Set<bigint>();
  for (const run of rodataRuns(mem, ctx)) {
    // Scan the run a frame at a time, keeping the previous frame's tail so a tag may straddle two.
    let prev: Uint8Array = EMPTY;
    for (let off = 0n; off < run.size; off += BigInt(FRAME_SIZE)) {
      const pa = run.pa + off;
      if (seen.has(pa) || !mem.isBacked(Number(pa))) {
        prev = EMPTY;
        continue;
      }
      seen.add(pa);
      const frame = mem.readBytes(pa, FRAME_SIZE);
      const hay = prev.length ? concat(prev, frame) : frame;
      const i = indexOfBytes(hay, START_TAG);
      prev = frame.subarray(FRAME_SIZE - (START_TAG.length - 1));
      if (i < 0) continue;
      const tagPa = pa - BigInt(hay.length - FRAME_SIZE) + BigInt(i);
      const found = inflateAt(mem, tagPa);
      if (found) return { ...found, pa: tagPa, va: run.va + (tagPa - run.pa) };
    }
  }
  return undefined;
}

/** The blob after a start tag at `pa`: gzip up to the end tag, physically contiguous. */
function inflateAt(mem: PhysMem, pa: bigint): { text: string; length: number } | undefined {
  const first = pa + BigInt(START_TAG.length);
  let buf: Uint8Array = EMPTY;
  while (buf.length < MAX_BLOB) {
    const at = first + BigInt(buf.length);
    if (!mem.isBacked(Number(at))) return undefined;
    const chunk = mem.readBytes(at, FRAME_SIZE - Number(at % BigInt(FRAME_SIZE)));
    const from = Math.max(0, buf.length - END_TAG.length + 1);
    buf = concat(buf, chunk);
    const end = indexOfBytes(buf, END_TAG, from);
    if (end < 0) continue;
    // Outside the try: a decompressor nobody loaded is not a damaged blob.
    const { ungzip } = codecLib("gzip");
    try {
      const text = latin1(ungzip(buf.subarray(0, end)));
      return { text, length: START_TAG.length + end + END_TAG.length };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
