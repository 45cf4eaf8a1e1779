import { VmsaError } from "../arch/errors.js";

/** A trace file that is not a well-formed `vmsa record` trace (truncated, corrupt, wrong version). */
export class TraceError extends VmsaError {
  constructor(message: string) {
    super("ETRACE", message);
    this.name = "TraceError";
  }
}
