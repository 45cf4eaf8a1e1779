/**
 * The map strip's scale: a kernel half is a few islands of mappings in an ocean of invalid
 * entries (a 256 TiB half holds a 1 GiB linear map and some MiB of vmalloc), so a linear bar shows
 * nothing. Large holes become fixed-width breaks labelled with their size; every other run gets a
 * minimum width plus a share of the rest by the square root of its size, so a 4K guard page next to
 * a 992M block run is still a visible column. Inside one item the scale is linear, which
 * `xToOff` and `offToX` use for the hover, the click and the markers.
 */

/** What the layout needs of a run (offsets within the half, [start, end)). */
export interface LayoutRun {
  readonly start: number;
  readonly end: number;
  /** An invalid-entry run: breaks are made of these. */
  readonly hole: boolean;
}

export interface LayoutItem {
  readonly kind: "run" | "break";
  readonly start: number;
  readonly end: number;
  readonly x: number;
  readonly w: number;
  /** Index of the run in the input (a break: its first hole run). */
  readonly run: number;
}

export interface MapLayout {
  readonly items: readonly LayoutItem[];
  /** Total width: the requested width, or more when the runs' minimum widths do not fit. */
  readonly width: number;
}

export interface LayoutOptions {
  readonly width: number;
  /** Holes at least this large (bytes) are drawn as breaks. */
  readonly breakMin: number;
  readonly minRun?: number;
  readonly breakWidth?: number;
  /**
   * Offsets where items must split (the ptdump markers, where ptdump also starts a new line), so a
   * marker is a boundary between items, never lost inside a break.
   */
  readonly cuts?: readonly number[];
}

export function layoutMap(runs: readonly LayoutRun[], o: LayoutOptions): MapLayout {
  const minRun = o.minRun ?? 3;
  const breakWidth = o.breakWidth ?? 44;
  const cuts = [...new Set(o.cuts ?? [])].sort((x, y) => x - y);
  const isCut = new Set(cuts);
  // Adjacent holes (of different levels) form one hole for the break decision unless a cut
  // separates them; a run with a cut inside is split there.
  const merged: { start: number; end: number; hole: boolean; run: number }[] = [];
  let ci = 0;
  runs.forEach((r, i) => {
    while (ci < cuts.length && (cuts[ci] as number) <= r.start) ci++;
    let s = r.start;
    const piece = (e: number): void => {
      const last = merged[merged.length - 1];
      if (last && r.hole && last.hole && last.end === s && !isCut.has(s)) last.end = e;
      else merged.push({ start: s, end: e, hole: r.hole, run: i });
      s = e;
    };
    for (; ci < cuts.length && (cuts[ci] as number) < r.end; ci++) piece(cuts[ci] as number);
    piece(r.end);
  });
  const isBreak = (m: { start: number; end: number; hole: boolean }): boolean => m.hole && m.end - m.start >= o.breakMin;
  let fixed = 0;
  let weights = 0;
  for (const m of merged) {
    if (isBreak(m)) fixed += breakWidth;
    else {
      fixed += minRun;
      weights += Math.sqrt(m.end - m.start);
    }
  }
  const spare = Math.max(0, o.width - fixed);
  const items: LayoutItem[] = [];
  let x = 0;
  for (const m of merged) {
    const brk = isBreak(m);
    const w = brk ? breakWidth : minRun + (weights > 0 ? (spare * Math.sqrt(m.end - m.start)) / weights : 0);
    items.push({ kind: brk ? "break" : "run", start: m.start, end: m.end, x, w, run: m.run });
    x += w;
  }
  // A view of breaks only (nothing mapped) still spans the requested width.
  if (weights === 0 && items.length > 0 && x < o.width) {
    const k = o.width / x;
    return { items: items.map((it) => ({ ...it, x: it.x * k, w: it.w * k })), width: o.width };
  }
  return { items, width: Math.max(o.width, x) };
}

function itemAt<T extends { readonly x: number; readonly w: number }>(items: readonly T[], key: (it: T) => boolean): T | undefined {
  let lo = 0;
  let hi = items.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (key(items[mid] as T)) lo = mid;
    else hi = mid - 1;
  }
  return items[lo];
}

/** The offset under x (linear inside its item), clamped to the laid-out range. */
export function xToOff(l: MapLayout, x: number): number {
  const it = itemAt(l.items, (i) => i.x <= x);
  if (!it) return 0;
  const f = Math.min(1, Math.max(0, (x - it.x) / it.w));
  return Math.min(it.end - 1, it.start + Math.floor(f * (it.end - it.start)));
}

/** The x of an offset, or undefined outside the laid-out range. */
export function offToX(l: MapLayout, off: number): number | undefined {
  const first = l.items[0];
  const last = l.items[l.items.length - 1];
  if (!first || !last || off < first.start || off > last.end) return undefined;
  const it = itemAt(l.items, (i) => i.start <= off) as LayoutItem;
  return it.x + ((off - it.start) / (it.end - it.start)) * it.w;
}

/** Labels on rows: each label goes on the first row where it does not overlap the previous one. */
export function placeLabels(xs: readonly { x: number; width: number }[], rows: number): (number | undefined)[] {
  const ends = new Array<number>(rows).fill(Number.NEGATIVE_INFINITY);
  return xs.map(({ x, width }) => {
    for (let r = 0; r < rows; r++) {
      if (x >= (ends[r] as number) + 4) {
        ends[r] = x + width;
        return r;
      }
    }
    return undefined;
  });
}
