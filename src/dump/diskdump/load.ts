/**
 * Open a kdump-compressed file as memory: headers and notes are read now, pages on demand
 * (./pages.ts: only the bitmaps are indexed at open; each page is decompressed when a walk or a
 * scan first touches it). The file stays open for the life of the memory it backs. No Node APIs.
 * Excluded pages (`makedumpfile -d`) and pages outside RAM stay unbacked: missing, never zeros.
 */
import type { PhysMem } from "../../mem/physmem.js";
import type { RandomAccess } from "../../mem/random-access.js";
import { type ElfNote, parseNotes } from "../elfcore-reader.js";
import { codecOf, type PageCodec } from "./codecs.js";
import { type DiskDumpHeader, readDiskDumpHeader } from "./header.js";
import { attachPages } from "./pages.js";
import { type ByteSource, flattenedSource, isFlattened, plainSource } from "./source.js";

export interface DiskDump {
  readonly header: DiskDumpHeader;
  readonly notes: readonly ElfNote[];
  readonly flattened: boolean;
  /** Pages written to the dump, and pages that exist but the dump left out. */
  readonly dumpedPages: number;
  readonly excludedPages: number;
  /** The compression the header's status names (pages may also be stored raw). */
  readonly codec: PageCodec | undefined;
}

/**
 * Open the kdump file `ra` (plain or flattened; `head` is its first bytes) and attach its pages to
 * `mem`; `ra` stays open for them (closed here on error). No Node APIs: ./open-file.ts gives it a file.
 */
export function openDiskDump(mem: PhysMem, ra: RandomAccess, head: Uint8Array): DiskDump {
  const flattened = isFlattened(head);
  const src: ByteSource = flattened ? flattenedSource(ra) : plainSource(ra);
  try {
    const f = src.file;
    const h = readDiskDumpHeader(src);
    const notes: ElfNote[] = [];
    if (h.notes[1] > 0)
      notes.push(...parseNotes(src.read(h.notes[0], h.notes[1], "the ELF notes (sub-header offset_note)"), h.notes[0], f));
    if (h.vmcoreinfo[1] > 0 && !notes.some((n) => n.name === "VMCOREINFO")) {
      const desc = src.read(h.vmcoreinfo[0], h.vmcoreinfo[1], "VMCOREINFO (sub-header offset_vmcoreinfo)");
      notes.push({ name: "VMCOREINFO", type: 0, desc, offset: h.vmcoreinfo[0] });
    }
    const idx = attachPages(mem, src, h);
    return { header: h, notes, flattened, dumpedPages: idx.dumpedPages, excludedPages: idx.excludedPages, codec: codecOf(h.status) };
  } catch (e) {
    src.close();
    throw e;
  }
}
