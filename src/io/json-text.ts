/**
 * JSON text as the CLI prints it: JSON.stringify with bigints as `0x…` hex strings, indented one
 * space per level by default.
 */
export function jsonText(value: unknown, indent = 1): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v), indent);
}
