/** Longest message kept whole; a longer one (it quotes input) keeps its head and tail. */
export const MAX_MESSAGE = 480;

/**
 * A message as one printable line of bounded length: control characters (newlines, NULs from a
 * binary file quoted in the message) become `\xNN` escapes, and the middle of an over-long
 * message (a quoted line or value) is elided, so the `vmsa: error:` line stays one line.
 */
export function oneLine(message: string): string {
  let s = "";
  for (const ch of message) {
    const c = ch.charCodeAt(0);
    s += c < 0x20 || c === 0x7f ? (c === 9 ? " " : `\\x${c.toString(16).padStart(2, "0")}`) : ch;
  }
  if (s.length <= MAX_MESSAGE) return s;
  return `${s.slice(0, 320)} … ${s.slice(-140)}`;
}

/** Bad input: a one-line message naming what and where, plus a stable machine-readable code. */
export class VmsaError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(oneLine(message));
    this.name = "VmsaError";
    this.code = code;
  }
}

export class ParseError extends VmsaError {
  constructor(message: string) {
    super("EPARSE", message);
    this.name = "ParseError";
  }
}

export class RegisterError extends VmsaError {
  constructor(message: string) {
    super("EREGISTER", message);
    this.name = "RegisterError";
  }
}

export class MemoryError extends VmsaError {
  constructor(
    code:
      | "EBANK_OVERLAP"
      | "EBANK_READ"
      | "EBANK_SPEC"
      | "EMEM_CHECKPOINT"
      | "EMEM_LAYOUT"
      | "EMEM_RESERVE"
      | "EMEM_UNBACKED"
      | "EMEM_WRITE",
    message: string,
  ) {
    super(code, message);
    this.name = "MemoryError";
  }
}
