/**
 * Refusals of the kernel library. Each carries a stable `code` and the kernel rule it enforces
 * (the BUG_ON / WARN in arch/arm64/mm or the invariant in linux-arm64-mm.md section 9).
 */
import { VmsaError } from "../arch/errors.js";

export type KernelErrorCode =
  | "EKERN_ALIGN"
  | "EKERN_LIVE_BLOCK"
  | "EKERN_TABLE_REPOINT"
  | "EKERN_BAD_ENTRY"
  | "EKERN_UNSAFE_CHANGE"
  | "EKERN_NO_ALLOC"
  | "ENOMEM"
  | "ENXIO"
  | "EKERN_CONT_PARTIAL"
  | "EKERN_RANGE"
  | "EKERN_NOT_MAPPED"
  | "EFIXMAP_SLOT"
  | "EFIXMAP_BUSY"
  | "EKMAP_DEPTH"
  | "EKERN_CONFIG"
  | "EPKVM_INVAL"
  | "EPKVM_PERM";

export class KernelError extends VmsaError {
  /** The kernel rule the refusal enforces, with its source. */
  readonly rule: string;
  constructor(code: KernelErrorCode, message: string, rule: string) {
    super(code, `${message} [rule: ${rule}]`);
    this.name = "KernelError";
    this.rule = rule;
  }
}

/** -ENOMEM from a table allocator that failed (trans_pgd, early allocation). */
export class OutOfMemoryError extends KernelError {
  constructor(what: string, rule = "trans_pgd_info.trans_alloc_page returned NULL → -ENOMEM") {
    super("ENOMEM", `${what}: table allocator returned no page (-ENOMEM)`, rule);
    this.name = "OutOfMemoryError";
  }
}
