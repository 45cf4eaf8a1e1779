/**
 * Load a kdump-compressed file into PhysMem: index the bitmaps and page descriptors, then
 * decompress every dumped page (eagerly; the on-demand page source of issue 11 §1 is not there
 * yet). Pages the dump excluded (first bitmap set, second clear: `makedumpfile -d`) and pages
 * outside RAM stay unbacked, so a walk that needs one reports the data missing, never zeros.
 * Dumped pages are RAM; only their non-zero 4 KiB frames take memory.
 */
import { FRAME_SIZE, type PhysMem } from "../../mem/physmem.js";
import { DumpFormatError, type ElfNote, parseNotes } from "../elfcore.js";
import { codecOf, decodePage, type PageCodec } from "./codecs.js";
import { type DiskDumpHeader, readDiskDumpHeader } from "./header.js";
import { type ByteSource, fileSource, flattenedSource, isFlattened } from "./source.js";

const DESC_SIZE = 24;
const DESC_CHUNK = 4096;

export interface DiskDump {
  readonly header: DiskDumpHeader;
  readonly notes: readonly ElfNote[];
  readonly flattened: boolean;
  /** Pages written to the dump, and pages that exist but the dump left out. */
  readonly dumpedPages: number;
  readonly excludedPages: number;
  readonly codecs: ReadonlySet<PageCodec>;
}

function isZero(b: Uint8Array, off: number, len: number): boolean {
  for (let i = off; i < off + len; i++) if (b[i] !== 0) return false;
  return true;
}

/** Open `file` (plain or flattened) and load its pages into `mem`. `head` is the file's first bytes. */
export function loadDiskDump(mem: PhysMem, file: string, head: Uint8Array, progress?: (done: number, total: number) => void): DiskDump {
  const flattened = isFlattened(head);
  const src: ByteSource = flattened ? flattenedSource(file) : fileSource(file);
  try {
    return loadFrom(mem, src, flattened, progress);
  } finally {
    src.close();
  }
}

function loadFrom(mem: PhysMem, src: ByteSource, flattened: boolean, progress?: (done: number, total: number) => void): DiskDump {
  const f = src.file;
  const h = readDiskDumpHeader(src);
  const notes: ElfNote[] = [];
  if (h.notes[1] > 0) notes.push(...parseNotes(src.read(h.notes[0], h.notes[1], "the ELF notes (sub-header offset_note)"), h.notes[0], f));
  if (h.vmcoreinfo[1] > 0 && !notes.some((n) => n.name === "VMCOREINFO")) {
    const desc = src.read(h.vmcoreinfo[0], h.vmcoreinfo[1], "VMCOREINFO (sub-header offset_vmcoreinfo)");
    notes.push({ name: "VMCOREINFO", type: 0, desc, offset: h.vmcoreinfo[0] });
  }
  const mapBytes = Math.ceil(h.maxMapnr / 8);
  const bm1 = src.read(h.bitmap1Offset, mapBytes, "the first bitmap (pages present)");
  const bm2 = src.read(h.bitmap2Offset, mapBytes, "the second bitmap (pages dumped)");
  let total = 0;
  for (let i = 0; i < mapBytes; i++) {
    let b = bm2[i] as number;
    while (b) {
      total += b & 1;
      b >>= 1;
    }
  }
  const ps = h.blockSize;
  const codecs = new Set<PageCodec>();
  let descs: Buffer = Buffer.alloc(0);
  let descBase = 0;
  let n = 0;
  let excluded = 0;
  let runStart = -1;
  let runEnd = -1;
  const flushRun = (): void => {
    if (runStart >= 0) mem.addRam(BigInt(runStart) * BigInt(ps), BigInt(runEnd - runStart) * BigInt(ps));
    runStart = -1;
  };
  let lastOff = -1;
  let lastSize = -1;
  let lastFlags = -1;
  let lastPage: Uint8Array = new Uint8Array(0);
  for (let pfn = 0; pfn < h.maxMapnr; pfn++) {
    const bit = 1 << (pfn & 7);
    const dumped = ((bm2[pfn >> 3] as number) & bit) !== 0;
    if (!dumped) {
      if (((bm1[pfn >> 3] as number) & bit) !== 0) excluded++;
      continue;
    }
    if (n - descBase >= descs.length / DESC_SIZE) {
      descBase = n;
      const count = Math.min(DESC_CHUNK, total - n);
      descs = src.read(h.descOffset + n * DESC_SIZE, count * DESC_SIZE, `page descriptors ${n}..${n + count - 1}`);
    }
    const d = (n - descBase) * DESC_SIZE;
    const descAt = h.descOffset + n * DESC_SIZE;
    const off = descs.readBigInt64LE(d);
    const size = descs.readUInt32LE(d + 8);
    const flags = descs.readUInt32LE(d + 12);
    const codec = codecOf(flags);
    const where = `page descriptor at offset 0x${descAt.toString(16)} (PFN 0x${pfn.toString(16)}, PA 0x${(pfn * ps).toString(16)})`;
    if (codec === undefined) throw new DumpFormatError("EDUMP_FORMAT", `${f}: ${where}: unknown compression flags 0x${flags.toString(16)}`);
    if (off < 0n || off > BigInt(src.size) || size > ps || (codec === "raw" && size !== ps)) {
      throw new DumpFormatError(
        "EDUMP_FORMAT",
        `${f}: ${where}: page data at offset 0x${off.toString(16)} size 0x${size.toString(16)} is invalid for ${codec} ${ps}-byte pages`,
      );
    }
    codecs.add(codec);
    let page: Uint8Array;
    if (Number(off) === lastOff && size === lastSize && flags === lastFlags) page = lastPage;
    else {
      const data = src.read(Number(off), size, `page data of PFN 0x${pfn.toString(16)}`);
      try {
        page = decodePage(codec, data, ps);
      } catch (e) {
        throw new DumpFormatError(
          "EDUMP_PAGE",
          `${f}: PFN 0x${pfn.toString(16)} (PA 0x${(pfn * ps).toString(16)}): ${codec} page data at offset 0x${off.toString(16)} does not decompress (${(e as Error).message})`,
        );
      }
      lastOff = Number(off);
      lastSize = size;
      lastFlags = flags;
      lastPage = page;
    }
    if (runStart >= 0 && runEnd === pfn) runEnd = pfn + 1;
    else {
      flushRun();
      runStart = pfn;
      runEnd = pfn + 1;
    }
    for (let o = 0; o < ps; o += FRAME_SIZE) {
      if (!isZero(page, o, FRAME_SIZE)) mem.writeBytes(BigInt(pfn * ps + o), page.subarray(o, o + FRAME_SIZE));
    }
    n++;
    if (progress && (n & 0xfff) === 0) progress(n, total);
  }
  flushRun();
  progress?.(total, total);
  return { header: h, notes, flattened, dumpedPages: total, excludedPages: excluded, codecs };
}
