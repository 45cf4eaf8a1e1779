/**
 * `FILE@PA[:SIZE]` memory bank specs (browser-safe: no node:fs). PA is hex (0x optional) like every
 * address; SIZE is hex too, or a decimal count with a K/M/G suffix (`ram.bin@40000000:64M`). The
 * last `@` separates, so paths may contain `@`.
 */
import { MemoryError } from "../arch/errors.js";
import { parseSize, parseU64 } from "../arch/u64.js";

export interface BankSpec {
  readonly file: string;
  readonly pa: bigint;
  /** Expected size: a file of another size is an error (truncated or wrong file). */
  readonly size?: bigint;
}

const PA_RE = /^(?:0x)?[0-9a-f_]+$/i;
const SIZE_RE = /^(?:(?:0x)?[0-9a-f_]+|[0-9]+[KMGT](?:i?B)?)$/i;

/** Whether `spec` is written as a bank (`FILE@PA` or `FILE@PA:SIZE`) rather than a plain file name. */
export function looksLikeBankSpec(spec: string): boolean {
  const at = spec.lastIndexOf("@");
  if (at <= 0) return false;
  const [pa, size, extra] = spec.slice(at + 1).split(":");
  return extra === undefined && PA_RE.test(pa ?? "") && (size === undefined || SIZE_RE.test(size));
}

/** Parse `FILE@PA` or `FILE@PA:SIZE`. */
export function parseBankSpec(spec: string): BankSpec {
  const at = spec.lastIndexOf("@");
  if (at <= 0 || at === spec.length - 1) {
    throw new MemoryError("EBANK_SPEC", `--mem "${spec}": expected FILE@PA or FILE@PA:SIZE, e.g. ram.bin@0x40000000`);
  }
  const file = spec.slice(0, at);
  const [paText, sizeText, extra] = spec.slice(at + 1).split(":");
  if (extra !== undefined) throw new MemoryError("EBANK_SPEC", `--mem "${spec}": expected FILE@PA or FILE@PA:SIZE`);
  const pa = parseU64(paText ?? "", `--mem ${file}: load address`);
  if (pa % 4096n !== 0n) throw new MemoryError("EBANK_SPEC", `--mem ${file}: load address 0x${pa.toString(16)} is not 4 KiB aligned`);
  if (sizeText === undefined) return { file, pa };
  return { file, pa, size: parseSize(sizeText, `--mem ${file}: size`) };
}
