/**
 * Deep links: the URL hash names the view and its inputs, e.g.
 * `#/walk?src=demo&va=0xffff000000201000&acc=r1`. Parsing never throws; unknown views fall back
 * to the decoder.
 */
export const VIEWS = ["decode", "walk", "map", "dump", "scenario"] as const;
export type View = (typeof VIEWS)[number];

export interface Route {
  readonly view: View;
  readonly params: Readonly<Record<string, string>>;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, "");
  const q = h.indexOf("?");
  const name = q < 0 ? h : h.slice(0, q);
  const view = (VIEWS as readonly string[]).includes(name) ? (name as View) : "decode";
  const params: Record<string, string> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(h.slice(q + 1))) params[k] = v;
  }
  return { view, params };
}

export function formatHash(r: Route): string {
  const entries = Object.entries(r.params).filter(([, v]) => v !== "");
  const qs = new URLSearchParams(entries).toString();
  return `#/${r.view}${qs ? `?${qs}` : ""}`;
}
