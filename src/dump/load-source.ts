/**
 * One dump file read through a RandomAccess into memory: an ELF core (PT_LOAD segments read on
 * demand) or a kdump-compressed file, plain or flattened (pages decompressed on demand). No Node
 * APIs: the CLI (./inputs.ts, a file descriptor) and the browser UI's worker (a `File`, or a URL
 * read in ranges) open dumps through this one function. Decompressors are loaded on demand
 * (../io/codec-libs.ts): where no synchronous loader is installed (the browser), await
 * `prepareDumpAccess` before reading.
 */
import { type CodecLibName, loadCodecLibs } from "../io/codec-libs.js";
import type { PhysMem } from "../mem/physmem.js";
import type { RandomAccess } from "../mem/random-access.js";
import { describeDiskDump, isDiskDump } from "./diskdump/describe.js";
import { openDiskDump } from "./diskdump/load.js";
import { DumpFormatError, type ElfNote, type LoadProgress, loadElfCoreFrom, sniffCompressed } from "./elfcore-reader.js";

export interface LoadedDumpFile {
  /** ELF notes (VMCOREINFO, NT_PRSTATUS, ...), from the core or the kdump headers. */
  readonly notes: readonly ElfNote[];
  /** What was read, for `sources.memory` (e.g. `ELF core guest.core (3 PT_LOAD)`). */
  readonly desc: string;
  /** `ra` serves frames on demand and must stay open; else the caller may close it. */
  readonly kept: boolean;
}

export const isElf = (head: Uint8Array): boolean => head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;

/** Whether `head` (a file's first 16 bytes) starts a dump this module reads (ELF or kdump). */
export function isDumpFile(head: Uint8Array): boolean {
  return isElf(head) || isDiskDump(head);
}

/**
 * The decompressors reading a dump that starts with `head` may need: a kdump file's page codecs,
 * and for any dump the gzip inflater of its IKCONFIG (the layout resolution looks for it).
 */
export function codecLibsFor(head: Uint8Array): CodecLibName[] {
  return isDiskDump(head) ? ["zlib", "snappy", "zstd", "gzip"] : isElf(head) ? ["gzip"] : [];
}

/** Load what `codecLibsFor(head)` names, before the synchronous `loadDumpAccess` and layout resolution. */
export async function prepareDumpAccess(head: Uint8Array): Promise<void> {
  await loadCodecLibs(codecLibsFor(head));
}

/**
 * Add the dump file `ra` (its first bytes `head`) to `mem`. A compressed or foreign wrapper
 * (xz, zstd, bzip2, gzip: the caller inflates gzip) is EDUMP_COMPRESSED; anything else that is
 * not a dump returns undefined (raw RAM: the caller needs a load address).
 */
export function loadDumpAccess(mem: PhysMem, ra: RandomAccess, head: Uint8Array, progress?: LoadProgress): LoadedDumpFile | undefined {
  if (isDiskDump(head)) {
    const dd = openDiskDump(mem, ra, head);
    return { notes: dd.notes, desc: describeDiskDump(ra.name, dd), kept: true };
  }
  const c = sniffCompressed(head);
  if (c) throw new DumpFormatError("EDUMP_COMPRESSED", `${ra.name}: ${c} (offset 0)`);
  if (!isElf(head)) return undefined;
  const { core, kept } = loadElfCoreFrom(mem, ra, progress);
  return { notes: core.notes, desc: `ELF core ${ra.name} (${core.segments.length} PT_LOAD)`, kept };
}
