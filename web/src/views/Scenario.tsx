/**
 * Scenario stepper: load a scenario (a bundled example, a file from disk or pasted text), run it
 * once in the worker and step through the per-step snapshots: each CPU's registers and what its
 * TLB may hold, the step where the checker reports a broken rule and the earlier steps it cites.
 * Deep link: `#/scenario?sc=NAME&step=N&r=K` (example) or `?y=BASE64URL&f=FILE&step=N` (pasted).
 * The checker view (Checker.tsx): `x=1` explores every execution (always on for litmus files),
 * `o=STATE&i=EXECUTION&ev=N` steps through one of them. Herd7 `.litmus` files open as the CLI
 * reads them; `el=N&eb=30s&ef=1` are --explore-limit, --explore-budget and --explore-full.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Violation } from "../../../src/machine/types.js";
import type { CheckerOutcomes, ExploreLimits, Interleaving, InterleavingSearch } from "../lib/checker.js";
import { errorLine } from "../lib/checkerText.js";
import { decodePar, hex, hex16, sizeText } from "../lib/format.js";
import { EXAMPLE_SCENARIOS, exampleScenario } from "../lib/scenarios.js";
import { type CpuSnapshot, citedSteps, decodeText, encodeText, type ScenarioTrace, type TlbRow } from "../lib/stepper.js";
import type { MemClient } from "../worker/client.js";
import { Checker } from "./Checker.js";

export interface ScenarioProps {
  params: Readonly<Record<string, string>>;
  update: (p: Record<string, string>, view?: string) => void;
  client: MemClient;
}

/** Pasted text longer than this is not put into the URL (the link then names only the file). */
const URL_TEXT_LIMIT = 24_000;
const DEFAULT_EXAMPLE = "asid-global-bad";

interface Source {
  readonly key: string;
  readonly file: string;
  readonly text: string;
}

/** `ord=1.2.6.3`: an interleaving as file step numbers (undefined: the file's order, or malformed). */
function orderFromParams(p: Readonly<Record<string, string>>): number[] | undefined {
  if (!p.ord || !/^\d+(\.\d+)*$/.test(p.ord)) return undefined;
  return p.ord.split(".").map(Number);
}

/** The explore-limit inputs in the URL (`el`, `eb`, `ef`), as typed. */
function limitsFromParams(p: Readonly<Record<string, string>>): ExploreLimits {
  return { ...(p.el ? { limit: p.el } : {}), ...(p.eb ? { budget: p.eb } : {}), ...(p.ef === "1" ? { full: true } : {}) };
}

/** One option's text input, labelled. */
function OptionInput(props: { id: string; label: string; title: string; placeholder: string; value: string; set: (v: string) => void }) {
  return (
    <label title={props.title}>
      {props.label}{" "}
      <input
        id={props.id}
        size={8}
        placeholder={props.placeholder}
        value={props.value}
        onInput={(e) => props.set((e.target as HTMLInputElement).value)}
      />
    </label>
  );
}

/** The --explore limit inputs (as the CLI's options); Apply puts them in the URL, which reruns the search. */
function LimitControls(props: { limits: ExploreLimits; apply: (l: ExploreLimits) => void }) {
  const [limit, setLimit] = useState(props.limits.limit ?? "");
  const [budget, setBudget] = useState(props.limits.budget ?? "");
  const [full, setFull] = useState(props.limits.full === true);
  return (
    <form
      class="controls"
      id="explore-limits"
      onSubmit={(e) => {
        e.preventDefault();
        props.apply({ limit, budget, full });
      }}
    >
      <OptionInput
        id="explore-limit"
        label="limit"
        title="vmsa check --explore-limit: at most this many interleavings (litmus model: executions); blank: the CLI's default"
        placeholder="default"
        value={limit}
        set={setLimit}
      />
      <OptionInput
        id="explore-budget"
        label="time budget"
        title="vmsa check --explore-budget: stop starting interleavings after this long (500ms, 30s, 2m); blank: none"
        placeholder="none"
        value={budget}
        set={setBudget}
      />
      <label title="vmsa check --explore-full: no partial-order reduction (ordinary scenarios' interleavings)">
        <input type="checkbox" id="explore-full" checked={full} onChange={(e) => setFull((e.target as HTMLInputElement).checked)} /> full
      </label>
      <button type="submit" id="explore-apply">
        Explore with these limits
      </button>
      <span class="small dim">a search a limit stops is inconclusive (exit 3), as in the CLI</span>
    </form>
  );
}

function sourceFromParams(p: Readonly<Record<string, string>>): Source | undefined {
  if (p.y) {
    try {
      return { key: `y:${p.y}`, file: p.f || "pasted.yaml", text: decodeText(p.y) };
    } catch {
      return undefined;
    }
  }
  if (p.f) return undefined;
  const ex = exampleScenario(p.sc || DEFAULT_EXAMPLE);
  return ex ? { key: `sc:${ex.name}`, file: ex.file, text: ex.text } : undefined;
}

const REG_NAMES: readonly ["ttbr0" | "ttbr1" | "tcr" | "mair" | "sctlr" | "par", string][] = [
  ["ttbr0", "TTBR0_EL1"],
  ["ttbr1", "TTBR1_EL1"],
  ["tcr", "TCR_EL1"],
  ["mair", "MAIR_EL1"],
  ["sctlr", "SCTLR_EL1"],
  ["par", "PAR_EL1"],
];

function rowKind(e: TlbRow): string {
  if (e.kind === "context") return `context L${e.level}`;
  return e.kind === "table" ? `walk cache L${e.level}` : `leaf L${e.level}`;
}

function TlbTable(props: { cpu: CpuSnapshot; prev: CpuSnapshot | undefined; goto: (s: number) => void }) {
  const { cpu, prev } = props;
  const prevKeys = new Set((prev?.tlb ?? []).map((e) => `${e.source}:${e.kind}:${e.va}:${e.desc}`));
  if (!cpu.mmuOn) return <p class="small">MMU off (SCTLR_EL1.M=0): no translations are cached.</p>;
  return (
    <div class="scroll-x">
      <table class="tlb small">
        <thead>
          <tr>
            <th>entry</th>
            <th>VA</th>
            <th>size</th>
            <th>ASID / G</th>
            <th>OA / next table</th>
            <th>descriptor</th>
          </tr>
        </thead>
        <tbody>
          {cpu.tlb.map((e) => {
            const isNew = prev !== undefined && !prevKeys.has(`${e.source}:${e.kind}:${e.va}:${e.desc}`);
            const main = (
              <tr class={`${e.source}${isNew ? " new" : ""}`} data-source={e.source} data-kind={e.kind} data-va={hex16(e.va)}>
                <td>
                  {e.source === "stale" ? <strong>stale </strong> : ""}
                  {rowKind(e)}
                </td>
                <td class="mono">{hex16(e.va)}</td>
                <td>{e.count > 1 ? `${e.count} × ${sizeText(e.size)}` : sizeText(e.size)}</td>
                <td>
                  {e.asid}
                  {e.global === true ? " / global" : e.global === false ? " / nG" : ""}
                </td>
                <td class="mono">
                  {e.target !== undefined ? hex(e.target) : "—"}
                  {e.attrs && <div class="dim">{e.attrs}</div>}
                </td>
                <td class="mono">
                  {e.descAddr >= 0 ? (
                    <>
                      [{hex(e.descAddr)}
                      {e.count > 1 ? ` + ${e.count - 1} × 8` : ""}]<br />= {hex16(e.desc)}
                      {e.count > 1 ? " …" : ""}
                    </>
                  ) : (
                    "—"
                  )}
                </td>
              </tr>
            );
            if (e.source !== "stale") return main;
            return (
              <>
                {main}
                <tr class="stale note-row">
                  <td colSpan={6}>
                    old value written at{" "}
                    <button type="button" class="linkish" onClick={() => props.goto(e.origin ?? 0)}>
                      {e.origin ? `step ${e.origin}` : "initial memory"}
                    </button>
                    , stale since{" "}
                    <button type="button" class="linkish" onClick={() => props.goto(e.changed ?? 0)}>
                      step {e.changed}
                    </button>
                    {e.note ? `; ${e.note}` : ""}
                  </td>
                </tr>
              </>
            );
          })}
          {cpu.omitted > 0 && (
            <tr>
              <td colSpan={6} class="dim">
                … and {cpu.omitted} more entries reachable through memory
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function CpuPanel(props: { id: number; cpu: CpuSnapshot; prev: CpuSnapshot | undefined; active: boolean; goto: (s: number) => void }) {
  const { cpu, prev } = props;
  const stale = cpu.tlb.filter((e) => e.source === "stale").length;
  return (
    <div class={`cpu${props.active ? " active" : ""}`} id={`cpu-${props.id}`}>
      <h3>
        CPU {props.id}{" "}
        <span class="small dim">
          ASID {cpu.asids[0]}/{cpu.asids[1]} · {cpu.tlb.reduce((n, e) => n + (e.source === "memory" ? e.count : 0), 0) + cpu.omitted}{" "}
          reachable, <span class="stale-count">{stale}</span> stale
        </span>
      </h3>
      <table class="regs small">
        <tbody>
          {REG_NAMES.map(([k, name]) => {
            const changed = prev !== undefined && prev.regs[k] !== cpu.regs[k];
            return (
              <tr class={changed ? "changed" : ""} data-reg={name}>
                <th>{name}</th>
                <td class="mono">{hex16(cpu.regs[k])}</td>
                {k === "par" && (
                  <td class="small par-decoded">
                    {cpu.parFrom === undefined ? (
                      "no AT yet: reset value, UNKNOWN (not a translation)"
                    ) : (
                      <>
                        {decodePar(cpu.regs.par)} (step{" "}
                        <button type="button" class="linkish" onClick={() => props.goto(cpu.parFrom ?? 0)}>
                          {cpu.parFrom}
                        </button>
                        )
                      </>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {cpu.pending.length > 0 && (
        <div class="pending small">
          Stores walkers may not see yet:
          <ul>
            {cpu.pending.map((p) => (
              <li class="mono">
                [{hex(p.pa)}] (step{" "}
                <button type="button" class="linkish" onClick={() => props.goto(p.step)}>
                  {p.step}
                </button>
                ; old value {hex16(p.old)} may still be walked{p.completeStep ? `; DSB at step ${p.completeStep}, awaiting ISB` : ""})
              </li>
            ))}
          </ul>
        </div>
      )}
      <TlbTable cpu={cpu} prev={prev} goto={props.goto} />
    </div>
  );
}

function Report(props: { v: Violation; index: number; selected: boolean; reached: boolean; jump: (step: number | undefined) => void }) {
  const { v } = props;
  const cited = citedSteps(v);
  return (
    <div
      class={`report${props.selected ? " selected" : ""}${props.reached ? "" : " upcoming"}`}
      data-rule={v.rule}
      data-step={v.step}
      data-index={props.index}
    >
      <div>
        <strong>
          rule {v.ruleNumber} {v.rule}
        </strong>{" "}
        <span class="small">({v.detail})</span> at{" "}
        <button
          type="button"
          class="linkish report-step"
          onClick={(e) => {
            e.stopPropagation();
            props.jump(v.step);
          }}
        >
          step {v.step}
        </button>{" "}
        on CPU {v.cpu}
        {!props.reached && <span class="small dim"> — not reached yet</span>}{" "}
        {!props.selected && (
          <button type="button" class="linkish report-select" onClick={() => props.jump(undefined)}>
            show its steps
          </button>
        )}
      </div>
      <div class="message">{v.message}</div>
      {v.fix && <div class="small">fix: {v.fix}</div>}
      {v.trace.length > 0 && (
        <ol class="trace small">
          {v.trace.map((t) => (
            <li>
              <button
                type="button"
                class="linkish cite"
                data-step={t.step}
                onClick={(e) => {
                  e.stopPropagation();
                  props.jump(t.step);
                }}
              >
                {t.step === 0 ? "initial memory" : `step ${t.step}`}
              </button>{" "}
              {t.step > 0 && (
                <>
                  (CPU {t.cpu}) <span class="mono">{t.text}</span>{" "}
                </>
              )}
              — {t.role}
            </li>
          ))}
        </ol>
      )}
      <div class="small dim">source: {v.citation}</div>
      {cited.length === 0 && <div class="small dim">no earlier steps cited</div>}
    </div>
  );
}

export function Scenario(props: ScenarioProps) {
  const { params, update, client } = props;
  const [trace, setTrace] = useState<ScenarioTrace | undefined>(undefined);
  const [loadedKey, setLoadedKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [paste, setPaste] = useState(false);
  const [pasteText, setPasteText] = useState("");
  const localText = useRef<Source | undefined>(undefined);
  const [outcomes, setOutcomes] = useState<{ key: string; o: CheckerOutcomes } | undefined>(undefined);
  const [interleaving, setInterleaving] = useState<{ key: string; il: Interleaving } | undefined>(undefined);
  const [search, setSearch] = useState<{ key: string; s: InterleavingSearch } | undefined>(undefined);
  const current = useRef<Source | undefined>(undefined);
  const order = orderFromParams(params);
  const limits = limitsFromParams(params);
  const limitsKey = `${limits.limit ?? ""}|${limits.budget ?? ""}|${limits.full === true}`;
  /** The search's key: the source and the limits it ran with. */
  const searchKey = (src: Source): string => `${src.key}|${limitsKey}`;

  const run = (src: Source): void => {
    setBusy(true);
    setLoadedKey(`${src.key}|${order?.join(".") ?? ""}`);
    if (current.current?.key !== src.key) {
      setOutcomes(undefined);
      setInterleaving(undefined);
      setSearch(undefined);
    }
    current.current = src;
    client.call({ op: "scenario", file: src.file, text: src.text, ...(order ? { order } : {}) }).then(
      (r) => {
        setTrace(r.trace);
        setError("");
        setBusy(false);
      },
      (e: Error) => {
        setTrace(undefined);
        setError(errorLine(e.message));
        setBusy(false);
      },
    );
  };

  // (Re)load when the URL names another scenario.
  useEffect(() => {
    const src = sourceFromParams(params) ?? (params.f ? localText.current : undefined);
    if (!src) {
      if (params.f) setError(`${params.f}: this link does not carry the file's text; open the file again`);
      else setError(`unknown example scenario "${params.sc}"`);
      return;
    }
    if (`${src.key}|${order?.join(".") ?? ""}` !== loadedKey) run(src);
  }, [params.sc, params.y, params.f, params.ord]);

  /** Load text from a file or the paste box; it travels in the URL when small enough. */
  const loadText = (file: string, text: string): void => {
    const y = encodeText(text);
    if (y.length <= URL_TEXT_LIMIT) update({ y, f: file, step: "0" });
    else {
      localText.current = { key: `local:${file}:${text.length}:${Date.now()}`, file, text };
      update({ f: file, step: "0" });
      run(localText.current);
    }
  };

  // The checker: every execution (worker), then the picked one replayed with its reads-from.
  const explore = trace?.litmus === true || params.x === "1";
  useEffect(() => {
    const src = current.current;
    if (!trace || !explore || !src || outcomes?.key === searchKey(src)) return;
    const key = searchKey(src);
    setError("");
    client.call({ op: "explore", file: src.file, text: src.text, limits }).then(
      (r) => setOutcomes({ key, o: r.outcomes }),
      (e: Error) => setError(errorLine(e.message)),
    );
  }, [trace, explore, limitsKey]);
  // Ordinary scenarios: `vmsa check --explore` too (interleavings on the machine model, with violations).
  useEffect(() => {
    const src = current.current;
    if (!trace || trace.litmus || !explore || !src || search?.key === searchKey(src)) return;
    const key = searchKey(src);
    client.call({ op: "interleavings", file: src.file, text: src.text, limits }).then(
      (r) => setSearch({ key, s: r.search }),
      (e: Error) => setError(errorLine(e.message)),
    );
  }, [trace, explore, limitsKey]);
  // Only what ran with the current source and limits is shown.
  const shownOutcomes = current.current && outcomes?.key === searchKey(current.current) ? outcomes : undefined;
  const shownSearch = current.current && search?.key === searchKey(current.current) ? search : undefined;
  const pickState = params.o === undefined ? undefined : Number.parseInt(params.o, 10);
  const pickSample = Number.parseInt(params.i ?? "0", 10) || 0;
  const choices = shownOutcomes && pickState !== undefined ? shownOutcomes.o.samples[pickState]?.[pickSample] : undefined;
  const ilKey = `${shownOutcomes?.key}:${pickState}:${pickSample}`;
  useEffect(() => {
    const src = current.current;
    if (!src || !choices || interleaving?.key === ilKey) return;
    client.call({ op: "replay", file: src.file, text: src.text, choices }).then(
      (r) => setInterleaving({ key: ilKey, il: r.interleaving }),
      (e: Error) => setError(errorLine(e.message)),
    );
  }, [ilKey, choices !== undefined]);
  const il = interleaving?.key === ilKey ? interleaving.il : undefined;
  const cursor = Math.min(Math.max(Number.parseInt(params.ev ?? "0", 10) || 0, 0), il?.events.length ?? 0);

  const nSteps = trace?.steps.length ?? 0;
  const step = Math.min(Math.max(Number.parseInt(params.step ?? "0", 10) || 0, 0), nSteps);
  const reports = trace?.reports ?? [];
  const sel = Math.min(Math.max(Number.parseInt(params.r ?? "0", 10) || 0, 0), Math.max(reports.length - 1, 0));
  const selected = reports[sel];
  const cited = new Set(selected ? citedSteps(selected) : []);
  const reportSteps = new Map<number, Violation[]>();
  for (const v of reports) reportSteps.set(v.step, [...(reportSteps.get(v.step) ?? []), v]);

  const keep = (): Record<string, string> => {
    const p: Record<string, string> = {};
    for (const k of ["sc", "y", "f", "r", "x", "o", "i", "ev", "ord", "el", "eb", "ef"]) if (params[k]) p[k] = params[k] as string;
    return p;
  };
  const goto = (s: number): void => update({ ...keep(), step: String(Math.min(Math.max(s, 0), nSteps)) });
  const nextViolation = (): void => {
    const next = reports.map((v) => v.step).find((s) => s > step);
    if (next !== undefined) {
      const idx = reports.findIndex((v) => v.step === next);
      update({ ...keep(), step: String(next), r: String(idx) });
    }
  };

  // Arrow keys step (outside form fields).
  // With a picked execution of a litmus file, the arrows step through that execution.
  const stepIl = (ev: number): void =>
    update({ ...keep(), step: String(step), ev: String(Math.max(0, Math.min(ev, il?.events.length ?? 0))) });
  const gotoRef = useRef(goto);
  gotoRef.current = trace?.litmus && il ? stepIl : goto;
  const stepRef = useRef(step);
  stepRef.current = trace?.litmus && il ? cursor : step;
  useEffect(() => {
    const on = (e: KeyboardEvent): void => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
      if (e.key === "ArrowRight") gotoRef.current(stepRef.current + 1);
      else if (e.key === "ArrowLeft") gotoRef.current(stepRef.current - 1);
    };
    addEventListener("keydown", on);
    return () => removeEventListener("keydown", on);
  }, []);

  const snap = trace?.snapshots[step];
  const prevSnap = step > 0 ? trace?.snapshots[step - 1] : undefined;
  const cur = step > 0 ? trace?.steps[step - 1] : undefined;
  const reached = reports.filter((v) => v.step <= step).length;

  return (
    <section id="scenario">
      <div class="controls">
        <label>
          Example{" "}
          <select
            id="scenario-select"
            value={params.y || params.f ? "" : params.sc || DEFAULT_EXAMPLE}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              if (v) update({ sc: v, step: "0" });
            }}
          >
            <option value="">(file or pasted)</option>
            {EXAMPLE_SCENARIOS.map((s) => (
              <option value={s.name}>{s.name}</option>
            ))}
          </select>
        </label>
        <label>
          Open file{" "}
          <input
            type="file"
            id="scenario-file"
            accept=".yaml,.yml,.json,.litmus"
            onChange={(e) => {
              const f = (e.target as HTMLInputElement).files?.[0];
              if (f) f.text().then((t) => loadText(f.name, t));
            }}
          />
        </label>
        <button
          type="button"
          id="scenario-paste-toggle"
          onClick={() => {
            if (!paste && trace && !pasteText) {
              const src = sourceFromParams(params);
              if (src) setPasteText(src.text);
            }
            setPaste(!paste);
          }}
        >
          {paste ? "Hide text" : "Paste / edit…"}
        </button>
        {busy && <span class="small">running…</span>}
      </div>
      {paste && (
        <div class="controls column">
          <textarea
            id="scenario-text"
            rows={14}
            cols={100}
            class="mono"
            spellcheck={false}
            value={pasteText}
            onInput={(e) => setPasteText((e.target as HTMLTextAreaElement).value)}
            placeholder="name: my-scenario&#10;machine: { cpus: 2 }&#10;steps:&#10;  - 'P0: …'"
          />
          <button type="button" id="scenario-run" onClick={() => loadText("pasted.yaml", pasteText)}>
            Run this text
          </button>
        </div>
      )}
      {error && (
        <p class="error" id="scenario-error">
          {error}
        </p>
      )}
      {trace?.litmus && (
        <>
          <h2>
            <span id="scenario-name">{trace.name}</span> <span class="small dim">litmus model: every execution at once</span>
          </h2>
          <p class="small description">
            {trace.file} · {trace.cpus} CPU{trace.cpus === 1 ? "" : "s"} · {trace.steps.length} steps
            {trace.description ? ` · ${trace.description}` : ""}
          </p>
        </>
      )}
      {trace && !trace.litmus && !explore && (
        <div class="controls">
          <button type="button" id="explore-run" onClick={() => update({ ...keep(), step: String(step), x: "1" })}>
            Explore every execution (vmsa check --explore --outcomes)
          </button>
        </div>
      )}
      {trace && explore && (
        <LimitControls
          key={limitsKey}
          limits={limits}
          apply={(l) => {
            // The final states may change: the picked execution goes, and so do the old limits.
            const p = Object.fromEntries(Object.entries(keep()).filter(([k]) => !["o", "i", "ev", "el", "eb", "ef"].includes(k)));
            update({
              ...p,
              step: String(step),
              ...(l.limit?.trim() ? { el: l.limit.trim() } : {}),
              ...(l.budget?.trim() ? { eb: l.budget.trim() } : {}),
              ...(l.full ? { ef: "1" } : {}),
            });
          }}
        />
      )}
      {trace && explore && !shownOutcomes && !error && <p class="small">exploring every execution…</p>}
      {trace && !trace.litmus && shownSearch && (
        <div id="explore-interleavings">
          <h3>Interleavings (as vmsa check --explore)</h3>
          <pre id="explore-text" data-verdict={shownSearch.s.verdict} data-status={String(shownSearch.s.status)} class="small">
            {shownSearch.s.text}
          </pre>
          {shownSearch.s.findings.map((f, i) => (
            <div class="small">
              <button
                type="button"
                class="explore-finding"
                data-index={i}
                data-order={f.order.join(".")}
                onClick={() => update({ ...keep(), ord: f.order.join("."), step: String(f.order.indexOf(f.step) + 1), r: "" })}
              >
                step through it
              </button>{" "}
              {f.rule} at step {f.step} on CPU {f.cpu}: first seen in steps <span class="mono">{f.order.join(" ")}</span>
            </div>
          ))}
        </div>
      )}
      {trace && !trace.litmus && order && (
        <p class="small" id="scenario-order" data-order={order.join(".")}>
          Stepping the interleaving <span class="mono">{order.join(" ")}</span> (the file's step numbers, in the order they run){" "}
          <button type="button" id="order-reset" onClick={() => update({ ...keep(), ord: "", step: "0", r: "" })}>
            back to the file's order
          </button>
        </p>
      )}
      {trace && shownOutcomes && (
        <Checker
          outcomes={shownOutcomes.o}
          picked={pickState !== undefined && choices ? { state: pickState, sample: pickSample } : undefined}
          interleaving={il}
          cursor={cursor}
          pick={(o, i) => update({ ...keep(), step: String(step), o: String(o), i: String(i), ev: "0" })}
          step={stepIl}
        />
      )}
      {trace && snap && (
        <>
          <h2>
            <span id="scenario-name">{trace.name}</span>{" "}
            <span id="scenario-verdict" class={`verdict ${reports.length ? "bad" : "clean"}`}>
              {reports.length === 0 ? "clean" : `${reports.length} violation${reports.length === 1 ? "" : "s"}`}
            </span>{" "}
            {trace.hasExpectations && (
              <span class="small" id="scenario-expect">
                {trace.expectationFailures.length === 0
                  ? "expectations met"
                  : `expectations failed: ${trace.expectationFailures.join("; ")}`}
              </span>
            )}
          </h2>
          <p class="small description">
            {trace.file} · {trace.cpus} CPU{trace.cpus === 1 ? "" : "s"} · ran in {trace.runMs.toFixed(1)} ms
            {trace.description ? ` · ${trace.description}` : ""}
          </p>
          <div class="controls stepbar">
            <button type="button" id="step-first" onClick={() => goto(0)} disabled={step === 0} title="initial state">
              « start
            </button>
            <button type="button" id="step-prev" onClick={() => goto(step - 1)} disabled={step === 0} title="step back (←)">
              ◀ back
            </button>
            <button type="button" id="step-next" onClick={() => goto(step + 1)} disabled={step >= nSteps} title="step forward (→)">
              forward ▶
            </button>
            <button type="button" id="step-last" onClick={() => goto(nSteps)} disabled={step >= nSteps} title="last step">
              end »
            </button>
            <button type="button" id="step-violation" onClick={nextViolation} disabled={!reports.some((v) => v.step > step)}>
              next violation ⚠
            </button>
            <input
              type="range"
              id="step-slider"
              min={0}
              max={nSteps}
              value={step}
              onInput={(e) => goto(Number((e.target as HTMLInputElement).value))}
            />
            <span id="scenario-step" data-step={step}>
              step {step} of {nSteps}
            </span>
            <span class="small">
              {reached} of {reports.length} reports reached
            </span>
          </div>
          <div class="stepper">
            <div class="steps-col">
              <table id="scenario-steps" class="small">
                <tbody>
                  <tr data-step="0" class={step === 0 ? "current" : "done"} onClick={() => goto(0)}>
                    <td>0</td>
                    <td />
                    <td colSpan={2}>initial memory and registers</td>
                  </tr>
                  {trace.steps.map((s) => {
                    const vs = reportSteps.get(s.step);
                    const cls = [
                      s.step === step ? "current" : s.step < step ? "done" : "future",
                      vs ? "violation" : "",
                      cited.has(s.step) ? "cited" : "",
                      selected && selected.step === s.step ? "selected-violation" : "",
                    ]
                      .filter(Boolean)
                      .join(" ");
                    return (
                      <tr data-step={s.step} class={cls} onClick={() => goto(s.step)} title={`line ${s.line}: ${s.exec}`}>
                        <td title={s.fileStep ? `step ${s.fileStep} of the file` : undefined}>
                          {s.step}
                          {s.fileStep && s.fileStep !== s.step ? <span class="dim small"> ({s.fileStep})</span> : ""}
                        </td>
                        <td>P{s.cpu}</td>
                        <td class="mono">{s.text.replace(/^\s*(P|cpu)\d+\s*:\s*/i, "")}</td>
                        <td>
                          {vs?.map((v) => (
                            <span class="badge" title={v.message}>
                              ⚠ {v.rule}
                            </span>
                          ))}
                          {cited.has(s.step) && <span class="badge cite-badge">cited</span>}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            <div class="detail-col">
              <div id="current-step" class="small">
                {cur ? (
                  <>
                    <strong>
                      Step {cur.step} (line {cur.line}) on CPU {cur.cpu}:
                    </strong>{" "}
                    <span class="mono">{cur.exec}</span>
                    {cur.outcomes && (
                      <div id="step-outcomes">
                        allowed outcomes:
                        <ul>
                          {cur.outcomes.map((o) => (
                            <li class="mono">{o}</li>
                          ))}
                        </ul>
                        {cur.par !== undefined && (
                          <div class="mono">
                            PAR_EL1 = {hex16(cur.par)} ({decodePar(cur.par)})
                          </div>
                        )}
                      </div>
                    )}
                  </>
                ) : (
                  <strong>Initial state, before step 1.</strong>
                )}
              </div>
              <div id="scenario-reports">
                {reports.length === 0 ? (
                  <p class="small">The checker reports no broken rule for this interleaving.</p>
                ) : (
                  reports.map((v, i) => (
                    <Report
                      v={v}
                      index={i}
                      selected={i === sel}
                      reached={v.step <= step}
                      jump={(s) => update({ ...keep(), step: String(s ?? step), r: String(i) })}
                    />
                  ))
                )}
              </div>
              <div class="cpus">
                {snap.map((c, i) => (
                  <CpuPanel id={i} cpu={c} prev={prevSnap?.[i]} active={cur?.cpu === i} goto={goto} />
                ))}
              </div>
            </div>
          </div>
        </>
      )}
    </section>
  );
}
