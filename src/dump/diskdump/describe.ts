/** Recognising kdump-compressed files and describing one for `sources.memory`. */
import { latin1 } from "../../mem/random-access.js";
import { KDUMP_SIGNATURE } from "./header.js";
import type { DiskDump } from "./load.js";
import { isFlattened } from "./source.js";

/** A kdump-compressed file ("KDUMP   ") or a flattened makedumpfile stream, by its first bytes. */
export function isDiskDump(head: Uint8Array): boolean {
  return latin1(head.subarray(0, 8)) === KDUMP_SIGNATURE || isFlattened(head);
}

export function describeDiskDump(file: string, dd: DiskDump): string {
  const codecs = dd.codec ?? `compression flags 0x${dd.header.status.toString(16)}`;
  const parts = [
    `kdump-compressed ${file}${dd.flattened ? " (flattened)" : ""}`,
    `${codecs}, ${dd.header.blockSize / 1024}K pages`,
    `${dd.dumpedPages} dumped`,
  ];
  if (dd.excludedPages > 0) parts.push(`${dd.excludedPages} excluded (dump_level ${dd.header.dumpLevel}: missing, not zero)`);
  return parts.join(", ");
}
