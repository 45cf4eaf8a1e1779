/**
 * The bounds of `vmsa check --explore` (--explore-limit, --explore-budget), read from their text
 * exactly as the CLI reads them; fs-free, so the web checker's limit inputs use the same reader
 * and give the same one-line errors.
 */
import { DEFAULT_EXPLORE_LIMIT } from "../scenario/explore.js";
import { DEFAULT_LITMUS_LIMIT } from "../scenario/litmus.js";
import { parseDuration } from "./duration.js";
import { UsageError } from "./usage-error.js";

export interface ExploreBounds {
  /** Interleavings --explore runs at most (the machine model). */
  readonly limit: number;
  /** Executions the litmus model runs at most: --explore-limit when given, else its own default. */
  readonly litmusLimit: number;
  readonly budgetMs: number | undefined;
}

/** `limitText` / `budgetText`: the options' text, undefined when not given. Throws UsageError naming the option. */
export function parseExploreBounds(limitText: string | undefined, budgetText: string | undefined): ExploreBounds {
  const limit = limitText === undefined ? DEFAULT_EXPLORE_LIMIT : /^\d+$/.test(limitText.trim()) ? Number(limitText.trim()) : Number.NaN;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new UsageError(`--explore-limit: "${String(limitText)}" is not a positive decimal number of interleavings`);
  }
  let budgetMs: number | undefined;
  if (budgetText !== undefined) {
    budgetMs = parseDuration(budgetText);
    if (budgetMs === undefined) {
      throw new UsageError(`--explore-budget: "${budgetText}" is not a duration (expected a number and a unit: 500ms, 30s, 2m, 1h)`);
    }
  }
  return { limit, litmusLimit: limitText === undefined ? DEFAULT_LITMUS_LIMIT : limit, budgetMs };
}
