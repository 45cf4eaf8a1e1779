/**
 * Conditional skips that say why. Use as the condition of describe.skipIf / it.skipIf:
 *
 *   describe.skipIf(skipBecause("browser UI", HAVE_CHROMIUM ? undefined : "chromium not found"))(…)
 *
 * A skip prints one line on stderr (once per test file, when the file is collected), so a
 * green run that left something out says what and why instead of only counting "skipped".
 */
export function skipBecause(what: string, reason: string | undefined): boolean {
  if (reason === undefined) return false;
  console.warn(`skipped: ${what}: ${reason}`);
  return true;
}
