import { useEffect, useState } from "preact/hooks";
import { decodeHcr } from "../../../src/arch/hcr.js";
import { decodeMairAttr } from "../../../src/arch/mair.js";
import { parseU64 } from "../../../src/arch/u64.js";
import { compileRegs, type HalfContext } from "../../../src/walk/context.js";
import type { Stage2Result } from "../../../src/walk/stage2.js";
import type { TranslationResult } from "../../../src/walk/walker.js";
import { describeFields } from "../lib/fields.js";
import { accessText, decodePar, hex, hex16, parseAccess, sizeText } from "../lib/format.js";
import type { MemClient } from "../worker/client.js";
import type { SourceInfo, Stage2Override } from "../worker/protocol.js";

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

/** The stage-2 registers a link or the inputs give, else the source's; undefined: no stage 2 asked for. */
const S2_FIELDS = [
  { key: "hcr", reg: "HCR_EL2", title: "VM (bit 0) set: EL1&0 walks have two stages" },
  { key: "vtcr", reg: "VTCR_EL2", title: "stage 2: IPA size, granule, start level, PS" },
  { key: "vttbr", reg: "VTTBR_EL2", title: "stage-2 root table and VMID" },
] as const;
type S2Key = (typeof S2_FIELDS)[number]["key"];

function stage2From(params: Readonly<Record<string, string>>, source: SourceInfo | undefined): Stage2Override | undefined {
  if (!S2_FIELDS.some((f) => params[f.key] !== undefined)) return undefined;
  const value = (k: S2Key, reg: string): bigint => {
    const t = params[k];
    return t !== undefined ? parseU64(t, reg) : (source?.regs[k] ?? 0n);
  };
  return { hcr: value("hcr", "HCR_EL2"), vtcr: value("vtcr", "VTCR_EL2"), vttbr: value("vttbr", "VTTBR_EL2") };
}

function s2What(t: Stage2Result["trail"][number]): string {
  const d = t.descriptor;
  if (!d) return "not backed by memory";
  if (d.kind === "table") return `table -> ${hex(d.nextTable)}`;
  if (d.kind === "invalid") return "invalid";
  const x = `${d.kind} -> ${hex(d.oa)}`;
  return `${x} S2AP=${d.s2ap.toString(2).padStart(2, "0")} MemAttr=${d.memAttr.toString(2).padStart(4, "0")}${d.af ? " AF" : ""}`;
}

/** One stage-2 walk: its descriptor reads, then the PA or the stage-2 fault. */
function Stage2Walk(props: { r: Stage2Result; id?: string }) {
  const r = props.r;
  return (
    <div class="s2walk" id={props.id} data-ipa={hex(r.ipa)} data-kind={r.kind}>
      <table class="trail">
        <tbody>
          {r.trail.map((t) => (
            <tr data-level={t.level} style={{ borderLeft: `6px solid ${LEVEL_COLORS[t.level] ?? "#ddd"}` }}>
              <td>S2 L{t.level}</td>
              <td class="mono">{hex(t.address)}</td>
              <td class="mono">{t.value === undefined ? "unbacked" : hex16(t.value)}</td>
              <td class="small">{s2What(t)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="small s2-outcome">
        {r.kind === "ok"
          ? `IPA ${hex(r.ipa)} -> PA ${hex(r.pa)} (${sizeText(r.blockSize)} at stage-2 level ${r.level}; S2AP ${r.permissions.r ? "r" : "-"}${r.permissions.w ? "w" : "-"}, exec EL1 ${r.permissions.x1 ? "x" : "-"} EL0 ${r.permissions.x0 ? "x" : "-"})`
          : `IPA ${hex(r.ipa)}: stage-2 ${r.fault} fault at level ${r.level} (FSC 0x${r.fsc.toString(16).padStart(2, "0")}): ${r.reason}`}
      </p>
    </div>
  );
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
  const [tableWalks, setTableWalks] = useState<readonly (Stage2Result | undefined)[]>([]);
  const [s2Text, setS2Text] = useState<Partial<Record<S2Key, string>>>({});
  const [err, setErr] = useState("");
  const access = parseAccess(params.acc);
  const vaText = params.va ?? "";
  useEffect(() => {
    setText(undefined);
    setS2Text({});
    if (!source || !vaText) {
      setResult(undefined);
      return;
    }
    let va: bigint;
    let stage2: Stage2Override | undefined;
    try {
      va = parseU64(vaText, "VA");
      stage2 = stage2From(params, source);
    } catch (e) {
      setErr((e as Error).message);
      setResult(undefined);
      return;
    }
    setErr("");
    client.call({ op: "translate", va, access, ...(stage2 ? { stage2 } : {}) }).then(
      (r) => {
        setResult(r.result);
        setTableWalks(r.tableWalks ?? []);
      },
      (e: Error) => {
        setErr(e.message);
        setResult(undefined);
      },
    );
  }, [vaText, params.acc, params.hcr, params.vtcr, params.vttbr, source]);
  const s2Value = (k: S2Key): string => s2Text[k] ?? params[k] ?? (source?.regs[k] !== undefined ? hex16(source.regs[k] ?? 0n) : "");
  const twoStage = decodeHcr(
    (() => {
      try {
        return stage2From(params, source)?.hcr ?? source?.regs.hcr ?? 0n;
      } catch {
        return 0n;
      }
    })(),
  ).stage2;
  const ctx = source ? compileRegs(source.regs) : undefined;
  const h = ctx && result?.half !== undefined ? ctx.halves[result.half] : undefined;
  const fmt = h?.fmt;
  const go = (va: string, acc = params.acc ?? "r1"): void => {
    const s2: Record<string, string> = {};
    for (const f of S2_FIELDS) {
      const t = s2Text[f.key]?.trim();
      if (t !== undefined && t !== "") s2[f.key] = t;
    }
    update({ ...params, ...s2, va, acc });
  };
  const s2Final = result ? (result.kind === "ok" ? result.stage2?.result : result.stage2) : undefined;
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
      <div class="controls small" id="walk-stage2-regs">
        {S2_FIELDS.map((f) => (
          <label title={f.title}>
            {f.reg}{" "}
            <input
              id={`walk-${f.key}`}
              class="mono"
              size={18}
              value={s2Value(f.key)}
              placeholder="0"
              onInput={(e) => setS2Text({ ...s2Text, [f.key]: (e.target as HTMLInputElement).value })}
              onKeyDown={(e) => e.key === "Enter" && go((text ?? vaText).trim())}
            />
          </label>
        ))}
        <span>{twoStage ? "two stages (HCR_EL2.VM=1): AT S12E*" : "stage 1 only"}</span>
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
                const s2 = tableWalks[i];
                return (
                  <>
                    <tr
                      class={isFault ? "fault-row" : ""}
                      data-level={t.level}
                      style={{ borderLeft: `6px solid ${LEVEL_COLORS[t.level] ?? "#ddd"}` }}
                    >
                      <td>L{t.level}</td>
                      <td class="mono">
                        {hex(t.address - BigInt(idx * 8))}
                        {t.ipa !== undefined && t.ipa !== t.address && <div class="small">IPA {hex(t.ipa - BigInt(idx * 8))}</div>}
                      </td>
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
                                (f) =>
                                  f.key !== "valid" && f.key !== "type" && f.key !== "other" && (f.value !== 0n || f.type === "address"),
                              )
                              .map((f) => `${f.name}=${f.type === "address" ? hex(f.value) : f.value.toString()}`)
                              .join(" · ")}
                          </span>
                        )}
                      </td>
                    </tr>
                    {s2 && (
                      <tr class="s2-row" data-level={t.level}>
                        <td />
                        <td colSpan={5}>
                          <details id={`walk-s2-table-${i}`}>
                            <summary class="small">
                              stage 2 of this table read: IPA {hex(s2.ipa)}{" "}
                              {s2.kind === "ok" ? `-> PA ${hex(s2.pa)}` : `stage-2 ${s2.fault} fault`} ({s2.trail.length} read
                              {s2.trail.length === 1 ? "" : "s"})
                            </summary>
                            <Stage2Walk r={s2} />
                          </details>
                        </td>
                      </tr>
                    )}
                  </>
                );
              })}
            </tbody>
          </table>
          {s2Final && (
            <div id="walk-s2-final">
              <h3>
                Stage 2 of {result.kind === "fault" && result.s1ptw ? "the stage-1 table read at" : "the output"} IPA {hex(s2Final.ipa)}
              </h3>
              <Stage2Walk r={s2Final} />
            </div>
          )}
          {result.kind === "ok" ? (
            <div class="outcome ok" id="walk-outcome">
              <p>
                <strong>PA {hex(result.pa)}</strong> via a {sizeText(result.blockSize || 1)} {result.leafKind} at level {result.level}
                {result.contiguous ? " (contiguous)" : ""}
                {result.stage2 ? ` (IPA ${hex(result.stage2.ipa)})` : ""}
              </p>
              {result.stage2 && (
                <p id="walk-combined">
                  Combined stage 1 + stage 2:{" "}
                  {result.stage2.attr === undefined
                    ? "unpredictable (a reserved encoding)"
                    : `0x${result.stage2.attr.toString(16).padStart(2, "0")} (${decodeMairAttr(result.stage2.attr).name}), ${result.stage2.sh ?? ""}`}
                </p>
              )}
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
                  {result.stage === 2 ? "stage-2 " : ""}
                  {result.fault} fault at level {result.level}
                </strong>{" "}
                (FSC 0x{result.fsc.toString(16).padStart(2, "0")}): {result.reason}
              </p>
            </div>
          )}
          <p id="walk-par">
            PAR_EL1
            {twoStage && result.access.type !== "exec" ? ` (AT S12E${result.access.el}${result.access.type === "read" ? "R" : "W"})` : ""}:{" "}
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
