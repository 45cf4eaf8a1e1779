/** A bad option or option combination on the command line (or in the UI's equivalent inputs): exit 2. */
import { VmsaError } from "../arch/errors.js";

export class UsageError extends VmsaError {
  constructor(message: string) {
    super("EUSAGE", message);
    this.name = "UsageError";
  }
}
