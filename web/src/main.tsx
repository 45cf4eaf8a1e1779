import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { PRESETS } from "../../src/arch/registers.js";
import { EXAMPLE_PRESETS } from "./lib/demo.js";
import { KERNEL_EXAMPLE } from "./lib/kernelExample.js";
import { formatHash, parseHash, type Route, VIEWS, type View } from "./lib/route.js";
import { TWO_STAGE_EXAMPLE } from "./lib/twoStage.js";
import { Decoder } from "./views/Decoder.js";
import { Dump } from "./views/Dump.js";
import { AddressMap } from "./views/Map.js";
import { Scenario } from "./views/Scenario.js";
import { Walk } from "./views/Walk.js";
import { MemClient } from "./worker/client.js";
import type { SourceInfo } from "./worker/protocol.js";
import "./style.css";

const client = new MemClient();
const root = document.getElementById("app");

/**
 * The ready signal (README, Browser UI): `data-ready="true"` on #app once the view has rendered
 * the answer of every worker call it made, `"false"` from the moment a call starts (recomputing).
 */
function setReady(ready: boolean): void {
  if (root && root.dataset.ready !== String(ready)) root.dataset.ready = String(ready);
}

const TITLES: Record<View, string> = {
  decode: "Descriptor",
  walk: "Walk",
  map: "Map",
  dump: "Dump",
  scenario: "Scenario",
};

function App() {
  const [route, setRoute] = useState<Route>(() => parseHash(location.hash));
  const [source, setSource] = useState<SourceInfo | undefined>(undefined);
  const [status, setStatus] = useState("loading the example…");
  useEffect(() => {
    const on = (): void => {
      setReady(false); // the new view has not rendered yet; the effect below sets it again
      setRoute(parseHash(location.hash));
    };
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  const [, setSettled] = useState(0);
  useEffect(() => {
    client.onBusyChange = (n) => {
      if (n > 0) setReady(false);
      // After the settled call's then-callbacks and the render they cause: re-render the app, so
      // the effect below runs after any effect of a view that starts the next call.
      else setTimeout(() => setSettled((k) => k + 1), 0);
    };
    return () => {
      client.onBusyChange = undefined;
    };
  }, []);
  // Runs after every commit, after the views' own effects of that commit (preact runs child
  // effects first), so a view that starts a worker call in its effect has made it pending already.
  useEffect(() => setReady(source !== undefined && client.inFlight === 0));
  // The page opens on the real Linux 6.1 example (examples/linux-6.1-4k48); ?preset= picks another.
  const preset = route.params.preset ?? KERNEL_EXAMPLE;
  const loadExample = (name: string): void => {
    setStatus(`building example ${name}…`);
    client.call({ op: "example", preset: name }).then(
      (r) => {
        setSource(r.info);
        setStatus("");
      },
      (e: Error) => setStatus(e.message),
    );
  };
  useEffect(() => {
    if (route.params.src === "dump") {
      setStatus("this link refers to a dump: open it in the Dump tab (files never leave your machine)");
    }
    loadExample(
      preset === KERNEL_EXAMPLE || preset === TWO_STAGE_EXAMPLE || PRESETS.some((p) => p.name === preset) ? preset : KERNEL_EXAMPLE,
    );
  }, []);
  /** Navigate: params replace the current ones; a view change pushes history. */
  const update = (params: Record<string, string>, view?: string): void => {
    const v = (view ?? route.view) as View;
    const p: Record<string, string> = { ...params };
    if (source) p.src = source.images.length ? "dump" : "example";
    if (source && !source.images.length && source.name.startsWith("example:")) p.preset = source.name.slice(8);
    if (v === "decode" || v === "scenario") {
      delete p.src;
      delete p.preset;
    }
    const hash = formatHash({ view: v, params: p });
    setReady(false);
    if (view && view !== route.view) location.hash = hash;
    else {
      history.replaceState(null, "", hash);
      setRoute(parseHash(hash));
    }
  };
  return (
    <>
      <header>
        <h1>vmsa</h1>
        <nav>
          {VIEWS.map((v) => (
            <a
              href={formatHash({ view: v, params: v === route.view ? route.params : {} })}
              class={v === route.view ? "active" : ""}
              id={`tab-${v}`}
            >
              {TITLES[v]}
            </a>
          ))}
        </nav>
        <div class="source small">
          Memory: <strong id="source-name">{source ? source.name : "none"}</strong>{" "}
          <select
            id="example-preset"
            title="load the built-in example for a register preset"
            value=""
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              if (v) loadExample(v);
            }}
          >
            <option value="">example…</option>
            <option value={KERNEL_EXAMPLE}>{KERNEL_EXAMPLE} (real kernel)</option>
            <option value={TWO_STAGE_EXAMPLE}>{TWO_STAGE_EXAMPLE} (guest under stage 2)</option>
            {EXAMPLE_PRESETS.map((p) => (
              <option value={p}>{p}</option>
            ))}
          </select>{" "}
          <span id="status">{status}</span>
        </div>
      </header>
      <main>
        {route.view === "decode" && <Decoder params={route.params} update={update} />}
        {route.view === "walk" && <Walk params={route.params} update={update} client={client} source={source} />}
        {route.view === "map" && <AddressMap params={route.params} update={update} client={client} source={source} />}
        {route.view === "dump" && (
          <Dump
            client={client}
            source={source}
            onLoaded={(info) => {
              setSource(info);
              setStatus("");
            }}
          />
        )}
        {route.view === "scenario" && <Scenario params={route.params} update={update} client={client} />}
      </main>
    </>
  );
}

if (root) {
  setReady(false);
  render(<App />, root);
}
