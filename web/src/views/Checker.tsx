/**
 * The checker view under the scenario stepper: every execution of the scenario on the litmus
 * model, as `vmsa check --explore --outcomes` lists them (joint final states, the final
 * condition's allowed / forbidden / required verdict, inconclusive when a limit stopped the
 * search), and one picked execution stepped through instruction by instruction with the value
 * each read returned and the write it read from (reads-from).
 */
import type { CheckerOutcomes, Interleaving } from "../lib/checker.js";
import { readText, verdictText } from "../lib/checkerText.js";

export interface CheckerProps {
  readonly outcomes: CheckerOutcomes;
  /** The picked execution: final state index and sample index, and the replay (once it has come back). */
  readonly picked: { readonly state: number; readonly sample: number } | undefined;
  readonly interleaving: Interleaving | undefined;
  /** Events run so far in the picked execution (0: none). */
  readonly cursor: number;
  readonly pick: (state: number, sample: number) => void;
  readonly step: (cursor: number) => void;
}

const STATUS_TEXT: Record<0 | 1 | 3, string> = { 0: "exit 0", 1: "exit 1", 3: "exit 3: inconclusive" };

function stateText(st: CheckerOutcomes["json"]["states"][number]): string {
  const parts = [
    ...Object.entries(st.registers).map(([k, v]) => `${k}=${v}`),
    ...Object.entries(st.memory).map(([k, v]) => `[pa:${k}]=${v}`),
    ...st.faults.map((f) => f.text),
  ];
  return parts.join("; ") || "(no registers, memory or faults observed)";
}

export function Checker(props: CheckerProps) {
  const { outcomes: o, picked, interleaving: il, cursor } = props;
  const j = o.json;
  const c = j.condition;
  const events = il?.events ?? [];
  const n = events.length;
  return (
    <div id="checker">
      <h3>Every execution (as vmsa check --explore --outcomes)</h3>
      <p class="small" id="checker-summary">
        {j.states.length} final state{j.states.length === 1 ? "" : "s"} from {j.executions} execution{j.executions === 1 ? "" : "s"} (
        {j.inconsistent} inconsistent)
        {j.complete ? "" : `; stopped (${j.stopped ?? "limit"} of ${j.limit ?? "?"}): executions not run may reach other states`} ·{" "}
        {o.runMs.toFixed(0)} ms in the worker
      </p>
      <p
        id="checker-verdict"
        data-verdict={c?.verdict ?? (o.status === 3 ? "inconclusive" : o.status === 1 ? "findings" : "clean")}
        data-observed={c?.observed ?? ""}
        data-status={String(o.status)}
        class={`verdict-line ${o.status === 0 ? "clean" : o.status === 1 ? "bad" : "inconclusive"}`}
      >
        {c && <span class="mono">{c.text}</span>}
        {c && ": "}
        <strong>{verdictText(o)}</strong> <span class="small">({STATUS_TEXT[o.status]})</span>
        {c && (
          <span class="small">
            {" "}
            · {c.witnesses} of {j.states.length} final states satisfy it
          </span>
        )}
      </p>
      <table id="checker-outcomes" class="small">
        <thead>
          <tr>
            <th>final state (joint: registers, memory, faults)</th>
            <th>executions</th>
            {c && <th>condition</th>}
            <th>step through one</th>
          </tr>
        </thead>
        <tbody>
          {j.states.map((st, i) => (
            <tr
              data-index={i}
              data-state={JSON.stringify(st)}
              class={`${st.satisfies ? "satisfies" : ""}${picked?.state === i ? " picked" : ""}`}
            >
              <td class="mono">{stateText(st)}</td>
              <td>×{st.count}</td>
              {c && <td>{st.satisfies ? "satisfies" : ""}</td>}
              <td>
                {(o.samples[i] ?? []).map((_, k) => (
                  <button
                    type="button"
                    class={`pick${picked?.state === i && picked.sample === k ? " current" : ""}`}
                    data-state={i}
                    data-sample={k}
                    title="step through this execution, with what each read read from"
                    onClick={() => props.pick(i, k)}
                  >
                    {k + 1}
                  </button>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {j.findings.length > 0 && (
        <ul id="checker-findings" class="small">
          {j.findings.map((f) => (
            <li>
              flag: rule {f.rule} ({f.detail}) at step {f.step} on P{f.cpu}, in {f.executions} of {j.tracesChecked} distinct executions:{" "}
              {f.message}
            </li>
          ))}
        </ul>
      )}
      {picked && (
        <div id="interleaving" data-state={picked.state} data-sample={picked.sample} data-kind={il?.kind ?? ""}>
          <h4>
            Execution {picked.sample + 1} of final state {picked.state + 1} <span class="small mono">{o.keys[picked.state]}</span>
          </h4>
          {il && il.kind !== "final" && <p class="error">this execution did not replay to its end ({il.kind})</p>}
          <div class="controls stepbar">
            <button type="button" id="ilv-first" onClick={() => props.step(0)} disabled={cursor === 0}>
              « start
            </button>
            <button type="button" id="ilv-prev" onClick={() => props.step(cursor - 1)} disabled={cursor === 0}>
              ◀ back
            </button>
            <button type="button" id="ilv-next" onClick={() => props.step(cursor + 1)} disabled={cursor >= n}>
              forward ▶
            </button>
            <button type="button" id="ilv-last" onClick={() => props.step(n)} disabled={cursor >= n}>
              end »
            </button>
            <span id="ilv-step" data-event={cursor}>
              {cursor} of {n} instructions run
            </span>
          </div>
          <table id="interleaving-events" class="small">
            <thead>
              <tr>
                <th>#</th>
                <th>CPU</th>
                <th>step</th>
                <th>instruction</th>
                <th>reads (reads-from)</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e, k) => (
                <tr
                  data-event={k + 1}
                  data-step={e.step}
                  data-cpu={e.cpu}
                  class={k + 1 === cursor ? "current" : k + 1 < cursor ? "done" : "future"}
                  onClick={() => props.step(k + 1)}
                >
                  <td>{k + 1}</td>
                  <td>P{e.cpu}</td>
                  <td>{e.step}</td>
                  <td class="mono">
                    {o.steps[e.step - 1]?.text ?? ""}
                    {e.early && (
                      <span class="badge" title="a store run before earlier instructions of its CPU (nothing orders them)">
                        {" "}
                        early
                      </span>
                    )}
                  </td>
                  <td>
                    {k + 1 <= cursor &&
                      e.reads.map((r) => (
                        <div
                          class={`rf mono ${r.kind}`}
                          data-kind={r.kind}
                          data-value={`0x${r.value.toString(16)}`}
                          data-from={r.from.kind === "store" ? `P${r.from.cpu}:${r.from.step}` : r.from.kind}
                        >
                          {readText(r, o.steps)}
                        </div>
                      ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
