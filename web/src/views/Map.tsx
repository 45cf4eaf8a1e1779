import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { AuditReport } from "../../../src/dump/audit.js";
import { compileRegs } from "../../../src/walk/context.js";
import { halfBase } from "../../../src/walk/range.js";
import { auditCounts, auditHeadline } from "../lib/auditSummary.js";
import { hex16, sizeText } from "../lib/format.js";
import { describeClass, type MapClass } from "../lib/mapdata.js";
import { type LayoutItem, type LayoutRun, layoutMap, offToX, placeLabels, xToOff } from "../lib/mapLayout.js";
import type { MemClient } from "../worker/client.js";
import type { MapReply, SourceInfo } from "../worker/protocol.js";

export interface MapProps {
  params: Readonly<Record<string, string>>;
  update: (p: Record<string, string>, view?: string) => void;
  client: MemClient;
  source: SourceInfo | undefined;
}

/** Width the strip asks for; more runs than fit at their minimum width make it scroll. */
const WIDTH = 1200;
const MEM_COLORS: Record<MapClass["mem"], string> = {
  normal: "#1e88e5",
  tagged: "#5e35b1",
  nc: "#00897b",
  device: "#ef6c00",
  other: "#757575",
  none: "#ffffff",
};
const PERM_COLORS: Record<MapClass["permClass"], string> = {
  rw: "#43a047",
  ro: "#9e9e9e",
  rx: "#fdd835",
  rwx: "#e53935",
  none: "#ffffff",
};
const OTHER_COLORS: Record<Exclude<MapClass["kind"], "leaf">, string> = {
  hole: "#eeeeee",
  unbacked: "url(#map-missing-hatch)",
  "bad-table": "#ff8a80",
  shared: "#b39ddb",
};

// Rows of the strip (y, height).
const LABEL_ROWS = 3;
const LABEL_H = 12;
const MEM_Y = LABEL_ROWS * LABEL_H + 4;
const MEM_H = 34;
const PERM_Y = MEM_Y + MEM_H + 2;
const PERM_H = 18;
const SHAPE_Y = PERM_Y + PERM_H + 2;
const SHAPE_H = 12;
const FIND_Y = SHAPE_Y + SHAPE_H + 4;
const FIND_H = 10;
const AXIS_Y = FIND_Y + FIND_H + 12;
const HEIGHT = AXIS_Y + 2 * LABEL_H + 2;

interface Drawn extends LayoutItem {
  /** The segment's class (undefined for a break and for the "more runs" tail). */
  readonly cls: MapClass | undefined;
  readonly label: string;
}

function Patterns() {
  return (
    <defs>
      <pattern id="map-break-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
        <rect width="6" height="6" fill="#fafafa" />
        <line x1="0" y1="0" x2="0" y2="6" stroke="#d0d0d0" stroke-width="2" />
      </pattern>
      <pattern id="map-missing-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
        <rect width="6" height="6" fill="#ffcdd2" />
        <line x1="0" y1="0" x2="0" y2="6" stroke="#e53935" stroke-width="2" />
      </pattern>
      <pattern id="map-cont" width="4" height="4" patternUnits="userSpaceOnUse">
        <rect width="2" height="4" fill="#37474f" />
      </pattern>
      <pattern id="map-page" width="3" height="3" patternUnits="userSpaceOnUse">
        <rect width="1" height="1" fill="#37474f" />
      </pattern>
    </defs>
  );
}

function ItemShape({ d }: { d: Drawn }) {
  const c = d.cls;
  if (d.kind === "break") {
    const mid = d.x + d.w / 2;
    return (
      <>
        <rect x={d.x} y={MEM_Y} width={d.w} height={SHAPE_Y + SHAPE_H - MEM_Y} fill="url(#map-break-hatch)" />
        <path
          d={`M${d.x + 3} ${MEM_Y + 4} l4 -4 l4 4 M${d.x + d.w - 11} ${SHAPE_Y + SHAPE_H - 4} l4 4 l4 -4`}
          stroke="#9e9e9e"
          fill="none"
        />
        <text x={mid} y={PERM_Y + 4} text-anchor="middle" class="map-break-size">
          {d.label}
        </text>
      </>
    );
  }
  if (!c) return <rect x={d.x} y={MEM_Y} width={d.w} height={MEM_H} fill="#cfd8dc" />;
  const size =
    d.w > d.label.length * 6 + 4 ? (
      <text x={d.x + d.w / 2} y={MEM_Y + MEM_H / 2 + 3} text-anchor="middle" class={c.kind === "leaf" ? "map-run-size" : "map-hole-size"}>
        {d.label}
      </text>
    ) : null;
  if (c.kind !== "leaf") {
    return (
      <>
        <rect x={d.x} y={MEM_Y} width={d.w} height={SHAPE_Y + SHAPE_H - MEM_Y} fill={OTHER_COLORS[c.kind]} />
        {size}
      </>
    );
  }
  const shape = c.shape === "block" ? "#37474f" : c.shape === "cont" ? "url(#map-cont)" : "url(#map-page)";
  return (
    <>
      <rect x={d.x} y={MEM_Y} width={d.w} height={MEM_H} fill={MEM_COLORS[c.mem]} />
      <rect x={d.x} y={PERM_Y} width={d.w} height={PERM_H} fill={PERM_COLORS[c.permClass]} />
      <rect x={d.x} y={SHAPE_Y} width={d.w} height={SHAPE_H} fill={shape} />
      {c.user && <rect x={d.x} y={MEM_Y} width={d.w} height={3} fill="#000" />}
      {size}
    </>
  );
}

/** Props of an SVG element that opens a walk: a link for the keyboard and screen readers too. */
function linkTo(go: () => void) {
  return {
    role: "link" as const,
    tabIndex: 0,
    onClick: go,
    onKeyDown: (e: KeyboardEvent) => {
      if (e.key === "Enter") go();
    },
  };
}

function Legend() {
  return (
    <div class="legend small">
      Memory:{" "}
      {Object.entries(MEM_COLORS)
        .filter(([k]) => k !== "none")
        .map(([k, c]) => (
          <span class="swatch" style={{ background: c }} title={k}>
            {k}
          </span>
        ))}{" "}
      · EL1 access:{" "}
      {Object.entries(PERM_COLORS)
        .filter(([k]) => k !== "none")
        .map(([k, c]) => (
          <span class="swatch" style={{ background: c }}>
            {k}
          </span>
        ))}{" "}
      · shape row: solid = block, striped = contiguous group, dotted = pages; black top edge = EL0 accessible; grey = small hole; hatched
      break = a large hole (its size written on it), not to scale; red hatch = table not in the input (inconclusive); lilac = shared table.
      Widths follow the runs (a minimum width, then by the square root of the size). Bottom row: audit findings (red), warnings (amber),
      missing tables (hatched).
    </div>
  );
}

export function AddressMap({ params, update, client, source }: MapProps) {
  const svg = useRef<SVGSVGElement>(null);
  const [map, setMap] = useState<MapReply | undefined>(undefined);
  const [report, setReport] = useState<AuditReport | undefined>(undefined);
  const [hover, setHover] = useState("");
  const [err, setErr] = useState("");
  const half: 0 | 1 = params.half === "0" ? 0 : 1;
  const ctx = source ? compileRegs(source.regs) : undefined;
  const h = ctx?.halves[half];
  const full = h ? 2 ** h.iaBits : 1;
  const start = Math.max(0, Number(params.s ?? "0") || 0);
  const end = Math.min(full, Number(params.e ?? String(full)) || full);
  const base = h ? halfBase(h) : 0n;
  const va = (off: number): bigint => base + BigInt(Math.floor(off));
  useEffect(() => {
    if (!source || !h) return;
    client.call({ op: "map", half, start, end: Math.max(end, start + 4096), width: WIDTH }).then(
      (r) => {
        setErr("");
        setMap(r.map);
      },
      (e: Error) => setErr(e.message),
    );
  }, [source, half, start, end]);
  useEffect(() => {
    if (!source) return;
    setReport(undefined);
    client.call({ op: "audit", userHalf: half === 0 }).then(
      (r) => setReport(r.report),
      () => setReport(undefined),
    );
  }, [source, half]);
  const drawn = useMemo((): { items: Drawn[]; width: number } | undefined => {
    if (!map || !h) return undefined;
    const runs: LayoutRun[] = map.segments.map((s) => ({ start: s.start, end: s.end, hole: map.classes[s.cls]?.kind === "hole" }));
    const last = map.segments[map.segments.length - 1];
    if (map.moreSegments > 0 && last && last.end < map.end) runs.push({ start: last.end, end: map.end, hole: false });
    // Holes of an L2 block or more (2M with 4K pages) are breaks.
    const cuts = map.markers.map((m) => m.off).filter((o) => o > map.start && o < map.end);
    const l = layoutMap(runs, { width: WIDTH, breakMin: 2 ** (2 * h.gShift - 3), cuts });
    const items = l.items.map((it): Drawn => {
      const seg = map.segments[it.run];
      const cls = it.kind === "run" && seg ? map.classes[seg.cls] : undefined;
      return { ...it, cls, label: sizeText(it.end - it.start) };
    });
    return { items, width: l.width };
  }, [map]);
  const layout = drawn ? { items: drawn.items, width: drawn.width } : undefined;
  const setView = (s: number, e: number): void => {
    const g = h ? 2 ** h.gShift : 4096;
    let a = Math.max(0, Math.floor(s / g) * g);
    let b = Math.min(full, Math.ceil(e / g) * g);
    if (b - a < g * 4) b = Math.min(full, a + g * 4);
    if (b <= a) a = Math.max(0, b - g * 4);
    update({ ...params, half: String(half), s: String(a), e: String(b) });
  };
  const xAt = (clientX: number): number => {
    const r = svg.current?.getBoundingClientRect();
    return r ? clientX - r.left : 0;
  };
  const zoom = (factor: number, center = (start + end) / 2): void => {
    setView(center - (center - start) * factor, center + (end - center) * factor);
  };
  const walk = (off: number): void => update({ va: hex16(va(off)), acc: "r1" }, "walk");
  const markers = map && layout ? map.markers.filter((m) => m.off >= map.start && m.off <= map.end) : [];
  // Markers at the same x share one label.
  const markerGroups: { x: number; names: string[] }[] = [];
  if (layout) {
    for (const m of markers) {
      const x = offToX(layout, m.off);
      if (x === undefined) continue;
      const g = markerGroups[markerGroups.length - 1];
      if (g && Math.abs(g.x - x) < 1) g.names.push(m.name);
      else markerGroups.push({ x, names: [m.name] });
    }
  }
  const markerRows = placeLabels(
    markerGroups.map((g) => ({ x: g.x, width: g.names.join(" / ").length * 5.6 })),
    LABEL_ROWS,
  );
  // Island starts (the first run after a break) on the axis.
  const islands = layout ? layout.items.filter((it, i) => it.kind === "run" && (i === 0 || layout.items[i - 1]?.kind === "break")) : [];
  const islandRows = placeLabels(
    islands.map((it) => ({ x: it.x, width: 108 })),
    2,
  );
  const halfBit = BigInt(half);
  const inView = (v: bigint, size: bigint): { x: number; w: number } | undefined => {
    if (!map || !layout || ((v >> 55n) & 1n) !== halfBit || v < base) return undefined;
    const off = Number(v - base);
    const e = Math.min(off + Number(size), map.end);
    if (e <= map.start || off >= map.end) return undefined;
    const x0 = offToX(layout, Math.max(off, map.start)) ?? 0;
    const x1 = offToX(layout, e) ?? x0;
    return { x: x0, w: Math.max(3, x1 - x0) };
  };
  const counts = report ? auditCounts(report) : undefined;
  return (
    <section id="map">
      <h2>Address-space map</h2>
      {!source && <p>Load the example or a dump first.</p>}
      <div class="controls">
        <label>
          Half{" "}
          <select
            id="map-half"
            value={String(half)}
            onChange={(e) => update({ ...params, half: (e.target as HTMLSelectElement).value, s: "", e: "" })}
          >
            <option value="1">TTBR1 (kernel)</option>
            <option value="0">TTBR0 (user)</option>
          </select>
        </label>
        <button type="button" id="map-whole" onClick={() => update({ ...params, half: String(half), s: "", e: "" })}>
          Whole half
        </button>
        <button type="button" id="map-zoom-in" onClick={() => zoom(0.25)}>
          Zoom in
        </button>
        <button type="button" id="map-zoom-out" onClick={() => zoom(4)}>
          Zoom out
        </button>
        <button
          type="button"
          id="map-fit"
          title="zoom to the first and last mapping in view"
          onClick={() => {
            const mapped = map?.segments.filter((x) => map.classes[x.cls]?.kind !== "hole") ?? [];
            const a = mapped[0];
            const b = mapped[mapped.length - 1];
            if (a && b) setView(a.start, b.end);
          }}
        >
          Fit mappings
        </button>
        {map && map.markers.length > 0 && (
          <select
            id="map-marker"
            onChange={(e) => {
              const i = Number((e.target as HTMLSelectElement).value);
              const mk = map.markers[i];
              const nx = map.markers.slice(i + 1).find((m) => m.off > (mk?.off ?? 0));
              if (mk) setView(mk.off, nx ? nx.off : full);
            }}
          >
            <option value="">jump to marker…</option>
            {map.markers.map((mk, i) => (
              <option value={String(i)}>{mk.name}</option>
            ))}
          </select>
        )}
        <span class="small mono" id="map-range">
          {hex16(va(start))} – {hex16(va(end) - 1n)} ({sizeText(end - start)})
        </span>
      </div>
      {err && <p class="error">{err}</p>}
      {counts && report && (
        <p class="small" id="map-audit" data-verdict={counts.verdict}>
          Audit (as <code>vmsa audit</code>): <strong class={counts.verdict}>{auditHeadline(counts)}</strong>; {report.wx.summary}
        </p>
      )}
      {layout && map && (
        <div class="map-scroll">
          <svg
            ref={svg}
            id="map-strip"
            width={layout.width}
            height={HEIGHT}
            viewBox={`0 0 ${layout.width} ${HEIGHT}`}
            onWheel={(e) => {
              e.preventDefault();
              zoom(e.deltaY < 0 ? 0.5 : 2, xToOff(layout, xAt(e.clientX)));
            }}
            onMouseMove={(e) => {
              const off = xToOff(layout, xAt(e.clientX));
              const seg = map.segments.find((s) => s.start <= off && off < s.end);
              const c = seg ? map.classes[seg.cls] : undefined;
              setHover(`${hex16(va(off))}  ${c ? describeClass(c) : "-"}`);
            }}
          >
            <title>The TTBR half's runs, large holes drawn as breaks; click a run to walk it</title>
            <Patterns />
            {layout.items.map((d) => (
              <g
                class="map-item"
                data-kind={d.kind === "break" ? "break" : (d.cls?.kind ?? "more")}
                data-start={hex16(va(d.start))}
                data-end={hex16(va(d.end))}
                data-size={d.label}
                {...linkTo(() => walk(d.start))}
              >
                <title>
                  {`${hex16(va(d.start))}-${hex16(va(d.end))} ${d.label} ${d.kind === "break" ? "hole (not to scale)" : d.cls ? describeClass(d.cls) : "more runs: zoom in"} · click: walk ${hex16(va(d.start))}`}
                </title>
                <ItemShape d={d} />
              </g>
            ))}
            {markerGroups.map((g, i) => {
              const row = markerRows[i];
              const name = g.names.join(" / ");
              return (
                <g class="map-marker" data-name={name}>
                  <title>{name}</title>
                  <line x1={g.x} x2={g.x} y1={(row ?? 0) * LABEL_H + 2} y2={FIND_Y + FIND_H} stroke="#b71c1c" stroke-width="1" />
                  {row !== undefined && (
                    <text
                      x={g.x + 2 + name.length * 5.6 > layout.width ? g.x - 2 : g.x + 2}
                      text-anchor={g.x + 2 + name.length * 5.6 > layout.width ? "end" : "start"}
                      y={(row + 1) * LABEL_H - 2}
                      class="map-marker-label"
                    >
                      {name}
                    </text>
                  )}
                </g>
              );
            })}
            {report?.findings
              .filter((f) => f.kind !== "missing-table")
              .map((f) => {
                const p = inView(f.va, f.size);
                return (
                  p && (
                    <rect
                      class="map-finding"
                      data-kind={f.kind}
                      data-severity={f.severity}
                      data-va={hex16(f.va)}
                      x={p.x}
                      y={FIND_Y}
                      width={p.w}
                      height={FIND_H}
                      fill={f.severity === "error" ? "#c62828" : "#ffb300"}
                      {...linkTo(() => update({ va: hex16(f.va), acc: "r1" }, "walk"))}
                    >
                      <title>{`${f.kind} (${f.severity}) at ${hex16(f.va)} ${sizeText(Number(f.size))}: ${f.message}`}</title>
                    </rect>
                  )
                );
              })}
            {report?.missing.map((m) => {
              const p = inView(m.va, m.size);
              return (
                p && (
                  <rect
                    class="map-missing"
                    data-va={hex16(m.va)}
                    x={p.x}
                    y={FIND_Y}
                    width={p.w}
                    height={FIND_H}
                    fill="url(#map-missing-hatch)"
                    {...linkTo(() => update({ va: hex16(m.va), acc: "r1" }, "walk"))}
                  >
                    <title>{`table at PA 0x${m.table.toString(16)} (L${m.level}) not in the input: ${hex16(m.va)} ${sizeText(Number(m.size))} unknown (inconclusive)`}</title>
                  </rect>
                )
              );
            })}
            {islands.map((it, i) => {
              const row = islandRows[i];
              return (
                row !== undefined && (
                  <text x={Math.min(it.x, layout.width - 110)} y={AXIS_Y + row * LABEL_H} class="map-axis-label">
                    {hex16(va(it.start))}
                  </text>
                )
              );
            })}
          </svg>
        </div>
      )}
      <div class="small mono" id="map-hover">
        {hover || "click any run to walk its first address, scroll to zoom; hatched breaks are holes drawn at a fixed width"}
      </div>
      <Legend />
      {map && (
        <>
          <p class="small">
            {map.leafCount} leaf entries in view, {map.segments.length + map.moreSegments} runs
            {map.moreSegments ? ` (first ${map.segments.length} listed)` : ""}.
          </p>
          <table class="segments" id="map-segments">
            <thead>
              <tr>
                <th>Start</th>
                <th>End</th>
                <th>Size</th>
                <th>Entries</th>
                <th>What</th>
              </tr>
            </thead>
            <tbody>
              {map.segments.map((s) => {
                const c = map.classes[s.cls];
                const mk = map.markers.find((m) => m.off === s.start);
                return (
                  <tr class={c?.kind === "leaf" ? "leaf" : "hole"} data-kind={c?.kind}>
                    <td class="mono">
                      <button type="button" class="linkish mono" onClick={() => setView(s.start, s.end)} title={mk ? mk.name : "zoom here"}>
                        {hex16(va(s.start))}
                      </button>
                    </td>
                    <td class="mono">{hex16(va(s.end))}</td>
                    <td class="size">{sizeText(s.end - s.start)}</td>
                    <td>{s.entries}</td>
                    <td>
                      {c ? describeClass(c) : ""}
                      {c?.kind !== "leaf" && c?.kind !== "hole" && <span class="small"> (descriptor @ 0x{s.descAddr.toString(16)})</span>}
                      <a class="small" href={`#/walk?va=${hex16(va(s.start))}&acc=r1`}>
                        {" "}
                        walk
                      </a>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
