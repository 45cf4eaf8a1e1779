import { describe, expect, it } from "vitest";
import { linuxLayout } from "../../src/dump/layout.js";
import { compileRegs } from "../../src/walk/context.js";
import { buildMap } from "../../web/src/lib/mapdata.js";
import { layoutMap, offToX, placeLabels, xToOff } from "../../web/src/lib/mapLayout.js";
import { loadKernelExample } from "../helpers/kernel-example.js";

const M = 2 ** 20;
const G = 2 ** 30;
const T = 2 ** 40;

describe("the map strip's scale (islands in an ocean)", () => {
  it("draws a hole of at least breakMin as one fixed-width break and every run at least minRun wide", () => {
    // 4K page, 1G run, 100T hole, 4K guard hole, 2M run: the 4K runs stay visible next to the 1G one.
    const runs = [
      { start: 0, end: 4096, hole: false },
      { start: 4096, end: 4096 + G, hole: false },
      { start: 4096 + G, end: 100 * T, hole: true },
      { start: 100 * T, end: 100 * T + 4096, hole: true },
      { start: 100 * T + 4096, end: 100 * T + 4096 + 2 * M, hole: false },
    ];
    const l = layoutMap(runs, { width: 1000, breakMin: 2 * M, minRun: 3, breakWidth: 40 });
    // The two adjacent holes merge into one break (100T + 4K).
    expect(l.items.map((i) => i.kind)).toEqual(["run", "run", "break", "run"]);
    expect(l.items[2]?.w).toBe(40);
    expect(l.items[2]?.end).toBe(100 * T + 4096);
    for (const it of l.items) expect(it.w).toBeGreaterThanOrEqual(3);
    // Items tile [0, width) in order.
    let x = 0;
    for (const it of l.items) {
      expect(it.x).toBeCloseTo(x, 6);
      x += it.w;
    }
    expect(x).toBeCloseTo(1000, 6);
    // Wider for more bytes, but by the square root: 1G is 16384x the 4K page, not 262144x.
    const [page, big] = l.items;
    expect((big?.w ?? 0) - 3).toBeCloseTo(((page?.w ?? 0) - 3) * 2 ** 9, 3);
  });

  it("keeps a hole below breakMin as a run, and grows past the width when the minimum widths do not fit", () => {
    const runs = Array.from({ length: 500 }, (_, i) => ({ start: i * 4096, end: (i + 1) * 4096, hole: i % 2 === 1 }));
    const l = layoutMap(runs, { width: 1000, breakMin: 2 * M, minRun: 3 });
    expect(l.items.every((i) => i.kind === "run")).toBe(true);
    expect(l.items.length).toBe(500);
    expect(l.width).toBe(1500);
  });

  it("splits at the cuts (markers), so a marker inside a hole is a boundary between two breaks", () => {
    const runs = [
      { start: 0, end: G, hole: false },
      { start: G, end: 128 * T, hole: true },
      { start: 128 * T, end: 128 * T + 128 * M, hole: true },
      { start: 128 * T + 128 * M, end: 128 * T + 129 * M, hole: false },
    ];
    const plain = layoutMap(runs, { width: 800, breakMin: 2 * M });
    expect(plain.items.map((i) => i.kind)).toEqual(["run", "break", "run"]);
    const cut = layoutMap(runs, { width: 800, breakMin: 2 * M, cuts: [128 * T, 128 * T + 128 * M, G / 2] });
    expect(cut.items.map((i) => [i.kind, i.start, i.end])).toEqual([
      ["run", 0, G / 2],
      ["run", G / 2, G],
      ["break", G, 128 * T],
      ["break", 128 * T, 128 * T + 128 * M],
      ["run", 128 * T + 128 * M, 128 * T + 129 * M],
    ]);
    // The marker sits exactly on the boundary between the two breaks.
    expect(offToX(cut, 128 * T)).toBeCloseTo(cut.items[3]?.x ?? -1, 6);
  });

  it("maps x to offsets and back, linearly inside each item", () => {
    const runs = [
      { start: 0, end: 8192, hole: false },
      { start: 8192, end: T, hole: true },
      { start: T, end: T + 4 * M, hole: false },
    ];
    const l = layoutMap(runs, { width: 600, breakMin: 2 * M });
    const last = l.items[2];
    if (!last) throw new Error("three items expected");
    const mid = last.x + last.w / 2;
    expect(xToOff(l, mid)).toBe(T + 2 * M);
    expect(offToX(l, T + 2 * M)).toBeCloseTo(mid, 6);
    expect(xToOff(l, -5)).toBe(0);
    expect(xToOff(l, 10_000)).toBe(T + 4 * M - 1);
    expect(offToX(l, T + 5 * M)).toBeUndefined();
  });

  it("places labels on the first row where they do not overlap", () => {
    const rows = placeLabels(
      [
        { x: 0, width: 50 },
        { x: 20, width: 50 },
        { x: 30, width: 50 },
        { x: 40, width: 50 },
        { x: 100, width: 10 },
      ],
      3,
    );
    expect(rows).toEqual([0, 1, 2, undefined, 0]);
  });

  it("fits the real kernel example's TTBR1 half (256T) with its islands visible and ptdump's markers as cuts", () => {
    const ex = loadKernelExample();
    const ctx = compileRegs(ex.regs);
    const h = ctx.halves[1];
    const m = buildMap(ex.mem, ctx, 1, 0, 2 ** h.iaBits, 1200);
    const base = 2n ** 64n - 2n ** BigInt(h.iaBits);
    const cuts = linuxLayout({ version: [6, 1], pageShift: h.gShift, vaBits: h.iaBits, fixmapSize: 0x407000n }).markers.map((k) =>
      Number(k.address - base),
    );
    const l = layoutMap(
      m.segments.map((s) => ({ start: s.start, end: s.end, hole: m.classes[s.cls]?.kind === "hole" })),
      { width: 1200, breakMin: 2 * M, cuts },
    );
    // On a linear scale the 1 GiB linear map is 1200 * 2^30 / 2^48 px wide: invisible.
    expect((1200 * G) / 2 ** 48).toBeLessThan(0.01);
    const linear = l.items.find((i) => i.start === 0);
    expect(linear?.kind).toBe("run");
    expect(linear?.w ?? 0).toBeGreaterThan(3);
    const leaves = l.items.filter((i) => m.classes[m.segments[i.run]?.cls ?? -1]?.kind === "leaf");
    expect(leaves.reduce((a, i) => a + i.w, 0)).toBeGreaterThan(600);
    for (const c of cuts) if (c > 0 && c < 2 ** h.iaBits) expect(l.items.some((i) => i.start === c)).toBe(true);
  });
});
