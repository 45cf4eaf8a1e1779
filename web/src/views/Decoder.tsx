import { useMemo, useState } from "preact/hooks";
import { type DescriptorFormat, descriptorFormat } from "../../../src/arch/descriptor.js";
import { GRANULE_4K, granuleByName } from "../../../src/arch/granule.js";
import { LINUX_MAIR } from "../../../src/arch/registers.js";
import { parseU64 } from "../../../src/arch/u64.js";
import { describeFields, type Field, fieldMax, parseFieldValue, segText, setField } from "../lib/fields.js";
import { hex, hex16 } from "../lib/format.js";

export interface DecoderProps {
  params: Readonly<Record<string, string>>;
  update: (p: Record<string, string>) => void;
}

function FieldEditor(props: { f: Field; onSet: (v: bigint) => void }) {
  const { f, onSet } = props;
  const [draft, setDraft] = useState<string | undefined>(undefined);
  const [err, setErr] = useState<string>("");
  if (f.type === "flag") {
    return (
      <input
        type="checkbox"
        data-field={f.key}
        checked={f.value !== 0n}
        onChange={(e) => onSet((e.target as HTMLInputElement).checked ? 1n : 0n)}
      />
    );
  }
  const shown = draft ?? (f.type === "address" ? hex(f.value) : f.value.toString());
  const commit = (): void => {
    if (draft === undefined) return;
    try {
      const v = parseFieldValue(f, draft);
      if ((v & ~fieldMax(f)) !== 0n) throw new Error(`${f.name}: ${hex(v)} does not fit (allowed bits ${hex(fieldMax(f))})`);
      onSet(v);
      setErr("");
      setDraft(undefined);
    } catch (e) {
      setErr((e as Error).message);
    }
  };
  return (
    <span>
      <input
        class="field-input"
        data-field={f.key}
        value={shown}
        size={f.type === "address" ? 18 : 4}
        onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => e.key === "Enter" && commit()}
        onBlur={commit}
      />
      {err && <span class="error"> {err}</span>}
    </span>
  );
}

const FIELD_COLORS = ["#e3f2fd", "#fce4ec", "#e8f5e9", "#fff3e0", "#f3e5f5", "#e0f7fa", "#f9fbe7", "#efebe9"];

export function Decoder({ params, update }: DecoderProps) {
  const granule = granuleByName(params.g ?? "4K") ?? GRANULE_4K;
  const level = Number(params.l ?? "3");
  const ds = params.ds === "1";
  const oa52 = params.pa52 === "1";
  const fmt: DescriptorFormat = descriptorFormat(granule, { ds, oaBits: oa52 ? 52 : 48 });
  const [text, setText] = useState<string | undefined>(undefined);
  let raw = 0n;
  let parseErr = "";
  try {
    raw = parseU64(params.v ?? "0x0040000040000713", "descriptor");
  } catch (e) {
    parseErr = (e as Error).message;
  }
  const dec = useMemo(() => describeFields(raw, level, fmt, LINUX_MAIR), [raw, level, granule, ds, oa52]);
  const setRaw = (v: bigint): void => {
    setText(undefined);
    update({ ...params, v: hex16(v) });
  };
  const bitOwner = new Map<number, number>();
  dec.fields.forEach((f, i) => {
    for (const s of f.segs) for (let b = s.lsb; b <= s.msb; b++) bitOwner.set(b, i);
  });
  const levels = granule.size === 4096 && ds ? [-1, 0, 1, 2, 3] : [0, 1, 2, 3];
  return (
    <section id="decoder">
      <h2>Descriptor decoder</h2>
      <div class="controls">
        <label>
          Value{" "}
          <input
            id="desc-value"
            size={22}
            value={text ?? params.v ?? "0x0040000040000713"}
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => {
              if (e.key !== "Enter") return;
              try {
                setRaw(parseU64((e.target as HTMLInputElement).value, "descriptor"));
              } catch {
                update({ ...params, v: (e.target as HTMLInputElement).value });
              }
            }}
          />
        </label>
        <label>
          Granule{" "}
          <select id="desc-granule" value={granule.name} onChange={(e) => update({ ...params, g: (e.target as HTMLSelectElement).value })}>
            {["4K", "16K", "64K"].map((g) => (
              <option value={g}>{g}</option>
            ))}
          </select>
        </label>
        <label>
          Level{" "}
          <select id="desc-level" value={String(level)} onChange={(e) => update({ ...params, l: (e.target as HTMLSelectElement).value })}>
            {levels.map((l) => (
              <option value={String(l)}>{l}</option>
            ))}
          </select>
        </label>
        <label title="TCR_EL1.DS: FEAT_LPA2 52-bit descriptors (4K/16K)">
          <input
            type="checkbox"
            id="desc-ds"
            checked={ds}
            onChange={(e) => update({ ...params, ds: (e.target as HTMLInputElement).checked ? "1" : "" })}
          />{" "}
          DS
        </label>
        <label title="52-bit output addresses (FEAT_LPA with 64K, or DS=1 with PS=52)">
          <input
            type="checkbox"
            id="desc-pa52"
            checked={oa52}
            onChange={(e) => update({ ...params, pa52: (e.target as HTMLInputElement).checked ? "1" : "" })}
          />{" "}
          52-bit OA
        </label>
      </div>
      {parseErr && <p class="error">{parseErr}</p>}
      <p>
        <span id="desc-raw" class="mono big">
          {hex16(raw)}
        </span>{" "}
        is a{" "}
        <strong id="desc-kind">
          {dec.kind}
          {dec.reason && dec.reason !== "invalid" ? ` (${dec.reason})` : ""}
        </strong>{" "}
        descriptor at level {level} ({granule.name} granule{ds ? ", DS=1" : ""}). Click a bit to toggle it.
      </p>
      <fieldset class="bitgrid" aria-label="descriptor bits">
        {Array.from({ length: 64 }, (_, i) => 63 - i).map((b) => {
          const on = ((raw >> BigInt(b)) & 1n) === 1n;
          const owner = bitOwner.get(b) ?? 0;
          return (
            <button
              type="button"
              class={`bit${on ? " on" : ""}`}
              data-bit={b}
              style={{ background: on ? undefined : FIELD_COLORS[owner % FIELD_COLORS.length] }}
              title={`bit ${b}: ${dec.fields[owner]?.name ?? ""}`}
              onClick={() => setRaw(raw ^ (1n << BigInt(b)))}
            >
              {on ? "1" : "0"}
              <small>{b}</small>
            </button>
          );
        })}
      </fieldset>
      <table class="fields" id="desc-fields">
        <thead>
          <tr>
            <th>Bits</th>
            <th>Field</th>
            <th>Value</th>
            <th>Meaning</th>
          </tr>
        </thead>
        <tbody>
          {dec.fields.map((f, i) => (
            <tr data-key={f.key} style={{ background: FIELD_COLORS[i % FIELD_COLORS.length] }}>
              <td class="mono">[{segText(f.segs)}]</td>
              <td>{f.name}</td>
              <td>
                <FieldEditor key={`${f.key}:${raw}`} f={f} onSet={(v) => setRaw(setField(raw, level, fmt, f.key, v))} />
              </td>
              <td>{f.meaning}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
