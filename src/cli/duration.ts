/** Durations on the command line (`--explore-budget 30s`): a decimal number and a unit. */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Milliseconds in `text`: `500ms`, `30s`, `1.5m`, `2h`, or `0`. Anything else (no unit on a
 * non-zero value, a sign, another radix, junk) is undefined: the caller names the option.
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^0+(\.0+)?$/.test(t)) return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(t);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isFinite(ms) && ms <= Number.MAX_SAFE_INTEGER ? Math.round(ms) : undefined;
}
