/** Bad input: a one-line message naming what and where, plus a stable machine-readable code. */
export class VmsaError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
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
  constructor(code: "EBANK_OVERLAP" | "EBANK_READ" | "EBANK_SPEC" | "EMEM_UNBACKED" | "EMEM_WRITE", message: string) {
    super(code, message);
    this.name = "MemoryError";
  }
}
