/**
 * Sizing of property tests (fast-check numRuns).
 *
 * The size a test file passes to propertyRuns() is its CI size: small enough that every
 * property test stays a few seconds on an idle core, so the suite holds on a loaded two-core
 * machine. (A synchronous test that blocks its vitest worker for a minute makes the worker's
 * own RPC calls to the main process time out: `[vitest-worker]: Timeout calling "onTaskUpdate"`.)
 *
 * A property whose single runs can take seconds is asynchronous and awaits betweenRuns() first,
 * so the worker answers its RPC between runs and only one run at a time blocks it.
 *
 * Longer campaigns: `npm run test:property` sets VMSA_PROPERTY_SCALE, which multiplies every
 * property test's runs and enables the cases CI leaves out for their cost (propertyFull). Each
 * run uses new random seeds; fast-check prints the seed and path of any counterexample.
 */

/** Multiplier of every property test's runs (VMSA_PROPERTY_SCALE, a positive decimal; default 1). */
export const PROPERTY_SCALE = parseScale(process.env.VMSA_PROPERTY_SCALE);

/** Campaign mode (VMSA_PROPERTY_SCALE above 1): also run the cases too costly for CI. */
export const propertyFull = PROPERTY_SCALE > 1;

export function parseScale(value: string | undefined): number {
  if (value === undefined || value === "") return 1;
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || Number(value) <= 0) {
    throw new Error(`VMSA_PROPERTY_SCALE must be a positive decimal number, got "${value}"`);
  }
  return Number(value);
}

/** numRuns for a property test whose CI size is `ciRuns`. */
export function propertyRuns(ciRuns: number, scale = PROPERTY_SCALE): number {
  return Math.max(1, Math.round(ciRuns * scale));
}

/** Lets the event loop run (I/O included: the worker's RPC replies) before the next property run. */
export function betweenRuns(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
