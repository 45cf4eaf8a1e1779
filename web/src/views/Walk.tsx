import { useEffect, useState } from "preact/hooks";
import { parseU64 } from "../../../src/arch/u64.js";
import { compileRegs, type HalfContext } from "../../../src/walk/context.js";
import type { TranslationResult } from "../../../src/walk/walker.js";
import { describeFields } from "../lib/fields.js";
import { accessText, decodePar, hex, hex16, parseAccess, sizeText } from "../lib/format.js";
import type { MemClient } from "../worker/client.js";
import type { SourceInfo } from "../worker/protocol.js";

export interface WalkProps {
  params: Readonly<Record<string, string>>;
  update: (p: Record<string, string>, view?: string) => void;
  client: MemClient;
  source: SourceInfo | undefined;
}

const LEVEL_COLORS: Record<number, string> = { [-1]: "#ffcdd2", 0: "#f8bbd0", 1: "#d1c4e9", 2: "#bbdefb", 3: "#c8e6c9" };

interface BitGroup {
  msb: number;
  lsb: number;
  label: string;
  color: string;
}

/** How the VA's bits are used by this walk: tag/select bits, one index per level, page offset. */
export function vaGroups(h: HalfContext, leafLevel: number | undefined): BitGroup[] {
  const g: BitGroup[] = [];
  const top = h.tcr.tbi ? 55 : 63;
  if (top === 55) g.push({ msb: 63, lsb: 56, label: "tag (TBI)", color: "#eeeeee" });
  g.push({ msb: top, lsb: h.iaBits, label: `TTBR${h.index} select / canonical`, color: "#fff9c4" });
  const last = leafLevel ?? 3;
  for (let l = h.startLevel; l <= last; l++) {
    const sh = h.shiftAt[l + 1] as number;
    const nb = h.bitsAt[l + 1] as number;
    g.push({ msb: sh + nb - 1, lsb: sh, label: `L${l} index`, color: LEVEL_COLORS[l] ?? "#ddd" });
  }
  const offMsb = (h.shiftAt[last + 1] as number) - 1;
  g.push({ msb: offMsb, lsb: 0, label: last === 3 ? "page offset" : `L${last} block offset`, color: "#f5f5f5" });
  return g;
}

function VaBits(props: { va: bigint; groups: BitGroup[] }) {
  return (
    <div class="vabits" id="va-bits">
      {props.groups.map((g) => {
        const w = g.msb - g.lsb + 1;
        const v = (props.va >> BigInt(g.lsb)) & ((1n << BigInt(w)) - 1n);
        return (
          <div class="vagroup" style={{ background: g.color, flexGrow: w }} title={`[${g.msb}:${g.lsb}] ${g.label}`} data-label={g.label}>
            <div class="mono bits">{v.toString(2).padStart(w, "0")}</div>
            <div class="small">
              [{g.msb}:{g.lsb}] {g.label} = {hex(v)}
            </div>
          </div>
        );
      })}
    </div>
  );
}

export function Walk({ params, update, client, source }: WalkProps) {
  const [text, setText] = useState<string | undefined>(undefined);
  const [result, setResult] = useState<TranslationResult | undefined>(undefined);
  const [err, setErr] = useState("");
  const access = parseAccess(params.acc);
  const vaText = params.va ?? "";
  useEffect(() => {
    setText(undefined);
    if (!source || !vaText) {
      setResult(undefined);
      return;
    }
    let va: bigint;
    try {
      va = parseU64(vaText, "VA");
    } catch (e) {
      setErr((e as Error).message);
      setResult(undefined);
      return;
    }
    setErr("");
    client.call({ op: "translate", va, access }).then(
      (r) => setResult(r.result),
      (e: Error) => setErr(e.message),
    );
  }, [vaText, params.acc, source]);
  const ctx = source ? compileRegs(source.regs) : undefined;
  const h = ctx && result?.half !== undefined ? ctx.halves[result.half] : undefined;
  const fmt = h?.fmt;
  const go = (va: string, acc = params.acc ?? "r1"): void => update({ ...params, va, acc });
  const faultLevel = result?.kind === "fault" ? result.level : undefined;
  return (
    <section id="walk">
      <h2>Walk</h2>
      {!source && <p>Load the example or a dump first.</p>}
      <div class="controls">
        <label>
          VA{" "}
          <input
            id="walk-va"
            size={22}
            value={text ?? vaText}
            placeholder="0xffff000000201000"
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => e.key === "Enter" && go((e.target as HTMLInputElement).value.trim())}
          />
        </label>
        <label>
          Access{" "}
          <select id="walk-access" value={accessText(access)} onChange={(e) => go(vaText, (e.target as HTMLSelectElement).value)}>
            <option value="r1">EL1 read (AT S1E1R)</option>
            <option value="w1">EL1 write (AT S1E1W)</option>
            <option value="x1">EL1 execute</option>
            <option value="r1p">EL1 read, PAN (AT S1E1RP)</option>
            <option value="w1p">EL1 write, PAN (AT S1E1WP)</option>
            <option value="r0">EL0 read (AT S1E0R)</option>
            <option value="w0">EL0 write (AT S1E0W)</option>
            <option value="x0">EL0 execute</option>
          </select>
        </label>
        <button type="button" id="walk-go" onClick={() => go((text ?? vaText).trim())}>
          Walk
        </button>
      </div>
      {source && source.tour.length > 0 && (
        <p class="tour">
          Try:{" "}
          {source.tour.map((t) => (
            <button type="button" class="linkish" title={t.what} onClick={() => go(hex16(t.va))}>
              {t.what}
            </button>
          ))}
        </p>
      )}
      {err && <p class="error">{err}</p>}
      {result && h && <VaBits va={result.va} groups={vaGroups(h, result.kind === "ok" ? result.level : faultLevel)} />}
      {result && (
        <div id="walk-result">
          {h && (
            <p class="small">
              TTBR{h.index}_EL1 {hex16(h.ttbr.raw)}: table {hex(h.base)}, {h.granule.name} granule, {h.iaBits}-bit VA, start level{" "}
              {h.startLevel}, {h.paBits}-bit PA, ASID {h.asid}
            </p>
          )}
          <table class="trail" id="walk-trail">
            <thead>
              <tr>
                <th>Level</th>
                <th>Table</th>
                <th>Index</th>
                <th>Descriptor @</th>
                <th>Value</th>
                <th>Decoded</th>
              </tr>
            </thead>
            <tbody>
              {result.trail.map((t, i) => {
                const idx = h
                  ? Number((result.va >> BigInt(h.shiftAt[t.level + 1] as number)) & BigInt(2 ** (h.bitsAt[t.level + 1] as number) - 1))
                  : 0;
                const isFault = faultLevel === t.level && i === result.trail.length - 1;
                const fields = t.value !== undefined && fmt ? describeFields(t.value, t.level, fmt, source?.regs.mair) : undefined;
                return (
                  <tr
                    class={isFault ? "fault-row" : ""}
                    data-level={t.level}
                    style={{ borderLeft: `6px solid ${LEVEL_COLORS[t.level] ?? "#ddd"}` }}
                  >
                    <td>L{t.level}</td>
                    <td class="mono">{hex(t.address - BigInt(idx * 8))}</td>
                    <td class="mono">
                      {idx} ({hex(idx)})
                    </td>
                    <td class="mono">{hex(t.address)}</td>
                    <td class="mono">
                      {t.value === undefined ? (
                        "unbacked"
                      ) : (
                        <a
                          href={`#/decode?v=${hex16(t.value)}&g=${h?.granule.name ?? "4K"}&l=${t.level}${h?.ds ? "&ds=1" : ""}${h?.oa52 ? "&pa52=1" : ""}`}
                          title="open in the decoder"
                        >
                          {hex16(t.value)}
                        </a>
                      )}
                    </td>
                    <td>
                      <strong>{fields?.kind ?? "-"}</strong>
                      {fields && (
                        <span class="small">
                          {" "}
                          {fields.fields
                            .filter(
                              (f) => f.key !== "valid" && f.key !== "type" && f.key !== "other" && (f.value !== 0n || f.type === "address"),
                            )
                            .map((f) => `${f.name}=${f.type === "address" ? hex(f.value) : f.value.toString()}`)
                            .join(" · ")}
                        </span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {result.kind === "ok" ? (
            <div class="outcome ok" id="walk-outcome">
              <p>
                <strong>PA {hex(result.pa)}</strong> via a {sizeText(result.blockSize || 1)} {result.leafKind} at level {result.level}
                {result.contiguous ? " (contiguous)" : ""}
              </p>
              <p>
                {result.memAttr.name} (AttrIndx {result.attrIndx}, MAIR byte 0x{result.mairByte.toString(16).padStart(2, "0")}),{" "}
                {result.shareability} shareable, {result.nG ? "nG (ASID-tagged)" : "global"}, AF={result.af ? 1 : 0}
              </p>
              <p>
                EL1 {result.permissions.pr ? "r" : "-"}
                {result.permissions.pw ? "w" : "-"}
                {result.permissions.px ? "x" : "-"} · EL0 {result.permissions.ur ? "r" : "-"}
                {result.permissions.uw ? "w" : "-"}
                {result.permissions.ux ? "x" : "-"}
                {result.apTable || result.uxnTable || result.pxnTable
                  ? ` (table limits: APTable=${result.apTable}${result.uxnTable ? " UXNTable" : ""}${result.pxnTable ? " PXNTable" : ""})`
                  : ""}
              </p>
            </div>
          ) : (
            <div class="outcome fault" id="walk-outcome">
              <p>
                <strong>
                  {result.fault} fault at level {result.level}
                </strong>{" "}
                (FSC 0x{result.fsc.toString(16).padStart(2, "0")}): {result.reason}
              </p>
            </div>
          )}
          <p id="walk-par">
            PAR_EL1:{" "}
            {result.access.type === "exec" ? (
              "n/a (AT has no instruction-fetch form)"
            ) : result.par === null ? (
              "none: AT takes a synchronous external abort"
            ) : (
              <span class="mono">
                {hex16(result.par)} ({decodePar(result.par)})
              </span>
            )}
          </p>
        </div>
      )}
    </section>
  );
}
