import { useEffect, useRef, useState } from "preact/hooks";
import { compileRegs } from "../../../src/walk/context.js";
import { halfBase } from "../../../src/walk/range.js";
import { hex, hex16, sizeText } from "../lib/format.js";
import { describeClass, type MapClass } from "../lib/mapdata.js";
import type { MemClient } from "../worker/client.js";
import type { MapReply, SourceInfo } from "../worker/protocol.js";

export interface MapProps {
  params: Readonly<Record<string, string>>;
  update: (p: Record<string, string>, view?: string) => void;
  client: MemClient;
  source: SourceInfo | undefined;
}

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

function draw(canvas: HTMLCanvasElement, m: MapReply): void {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const H = canvas.height;
  ctx.clearRect(0, 0, WIDTH, H);
  // Hole background: light hatch.
  ctx.fillStyle = "#fafafa";
  ctx.fillRect(0, 20, WIDTH, H - 20);
  for (let x = 0; x < m.columns.length; x++) {
    const id = m.columns[x] as number;
    const c = id >= 0 ? m.classes[id] : undefined;
    if (!c || c.kind !== "leaf") {
      if (c && c.kind !== "hole") {
        // Shared subtrees (same mappings as an earlier range) in lilac; data problems in red.
        ctx.fillStyle = c.kind === "shared" ? "#b39ddb" : "#ff8a80";
        ctx.fillRect(x, 20, 1, H - 20);
      } else if (x % 6 === 0) {
        ctx.fillStyle = "#e0e0e0";
        ctx.fillRect(x, 20, 1, H - 20);
      }
      continue;
    }
    ctx.fillStyle = MEM_COLORS[c.mem];
    ctx.fillRect(x, 24, 1, 36);
    ctx.fillStyle = PERM_COLORS[c.permClass];
    ctx.fillRect(x, 62, 1, 22);
    // Shape row: blocks solid, contiguous groups striped, pages dotted.
    ctx.fillStyle = "#37474f";
    if (c.shape === "block") ctx.fillRect(x, 86, 1, 14);
    else if (c.shape === "cont") ctx.fillRect(x, 86 + (x % 4 < 2 ? 0 : 7), 1, 7);
    else if (x % 3 === 0) ctx.fillRect(x, 91, 1, 4);
    if (c.user) {
      ctx.fillStyle = "#000";
      ctx.fillRect(x, 102, 1, 3);
    }
  }
  // Markers.
  ctx.font = "10px sans-serif";
  const span = m.end - m.start;
  let lastX = -100;
  for (const mk of m.markers) {
    if (mk.off < m.start || mk.off > m.end) continue;
    const x = Math.round(((mk.off - m.start) / span) * WIDTH);
    ctx.fillStyle = "#b71c1c";
    ctx.fillRect(x, 14, 1, H - 14);
    if (x - lastX > 70) {
      ctx.fillText(mk.name, Math.min(x + 2, WIDTH - 90), 10);
      lastX = x;
    }
  }
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
      · shape row: solid = block, striped = contiguous group, dotted = pages; black tick = EL0 accessible; hatched = hole; red = table
      missing.
    </div>
  );
}

export function AddressMap({ params, update, client, source }: MapProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [map, setMap] = useState<MapReply | undefined>(undefined);
  const [hover, setHover] = useState("");
  const [err, setErr] = useState("");
  const drag = useRef<{ x: number; s: number; e: number } | undefined>(undefined);
  const half: 0 | 1 = params.half === "0" ? 0 : 1;
  const ctx = source ? compileRegs(source.regs) : undefined;
  const h = ctx?.halves[half];
  const full = h ? 2 ** h.iaBits : 1;
  const start = Math.max(0, Number(params.s ?? "0") || 0);
  const end = Math.min(full, Number(params.e ?? String(full)) || full);
  const base = h ? halfBase(h) : 0n;
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
    if (map && canvas.current) draw(canvas.current, map);
  }, [map]);
  const setView = (s: number, e: number): void => {
    const g = h ? 2 ** h.gShift : 4096;
    let a = Math.max(0, Math.floor(s / g) * g);
    let b = Math.min(full, Math.ceil(e / g) * g);
    if (b - a < g * 4) b = Math.min(full, a + g * 4);
    if (b <= a) a = Math.max(0, b - g * 4);
    update({ ...params, half: String(half), s: String(a), e: String(b) });
  };
  const offAt = (clientX: number): number => {
    const r = canvas.current?.getBoundingClientRect();
    if (!r) return start;
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    return start + f * (end - start);
  };
  const zoom = (factor: number, center = (start + end) / 2): void => {
    const ns = center - (center - start) * factor;
    const ne = center + (end - center) * factor;
    setView(ns, ne);
  };
  const classAt = (off: number): MapClass | undefined => {
    if (!map) return undefined;
    const col = Math.floor(((off - map.start) / (map.end - map.start)) * WIDTH);
    const id = map.columns[col] ?? -1;
    return id >= 0 ? map.classes[id] : undefined;
  };
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
        <button type="button" onClick={() => update({ ...params, half: String(half), s: "", e: "" })}>
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
            const leaves = map?.segments.filter((x) => map.classes[x.cls]?.kind === "leaf") ?? [];
            const a = leaves[0];
            const b = leaves[leaves.length - 1];
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
          {hex16(base + BigInt(start))} – {hex16(base + BigInt(end) - 1n)} ({sizeText(end - start)})
        </span>
      </div>
      {err && <p class="error">{err}</p>}
      <canvas
        ref={canvas}
        id="map-canvas"
        width={WIDTH}
        height={108}
        onWheel={(e) => {
          e.preventDefault();
          zoom(e.deltaY < 0 ? 0.5 : 2, offAt(e.clientX));
        }}
        onMouseDown={(e) => {
          drag.current = { x: e.clientX, s: start, e: end };
        }}
        onMouseUp={(e) => {
          const d = drag.current;
          drag.current = undefined;
          if (!d) return;
          const r = canvas.current?.getBoundingClientRect();
          const dx = e.clientX - d.x;
          if (Math.abs(dx) > 3 && r) {
            const shift = (-dx / r.width) * (d.e - d.s);
            setView(d.s + shift, d.e + shift);
          } else {
            const off = offAt(e.clientX);
            const c = classAt(off);
            if (c?.kind === "leaf") update({ va: hex16(base + BigInt(Math.floor(off))), acc: "r1" }, "walk");
          }
        }}
        onMouseMove={(e) => {
          const off = offAt(e.clientX);
          const c = classAt(off);
          setHover(`${hex16(base + BigInt(Math.floor(off)))}  ${c ? describeClass(c) : "-"}`);
        }}
      />
      <div class="small mono" id="map-hover">
        {hover || "scroll to zoom, drag to pan, click a mapping to walk it"}
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
                        {hex16(base + BigInt(s.start))}
                      </button>
                    </td>
                    <td class="mono">{hex16(base + BigInt(s.end))}</td>
                    <td>{sizeText(s.end - s.start)}</td>
                    <td>{s.entries}</td>
                    <td>
                      {c ? describeClass(c) : ""}
                      {c?.kind === "leaf" && (
                        <a class="small" href={`#/walk?va=${hex16(base + BigInt(s.start))}&acc=r1`}>
                          {" "}
                          walk
                        </a>
                      )}
                      {c?.kind !== "leaf" && c?.kind !== "hole" && <span class="small"> (descriptor @ {hex(s.descAddr)})</span>}
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
