/**
 * Frames of an uncompressed file read on demand, through a RandomAccess (no Node APIs: the CLI
 * reads a file descriptor, the browser UI's worker a `File`): a raw RAM image or the PT_LOAD
 * segments of an ELF core. The file is indexed at open (extents: PA -> file offset) and a frame is
 * read with one positional read when a walk first touches it (a scan, asking for frame after
 * frame, is served 1 MiB at a time); PhysMem keeps what was read in its bounded pool. The source
 * stays open for the life of the memory.
 */
import { MemoryError } from "../arch/errors.js";
import { FRAME_SIZE, type FrameRun, type FrameSource, type PhysMem } from "./physmem.js";
import type { RandomAccess } from "./random-access.js";

/** Bytes read at once when frames are asked for one after another (a scan of all memory). */
const READ_AHEAD = 1024 * 1024;

/** A run of the file that holds the bytes of [pa, pa+length) (pa 4 KiB aligned). */
export interface FileExtent {
  readonly pa: number;
  readonly offset: number;
  readonly length: number;
  /** What the extent is, for bank listings and errors (e.g. `core.elf[PT_LOAD #2]`). */
  readonly name: string;
}

export class FileFrames implements FrameSource {
  private readonly firstPfn: Float64Array;
  private readonly endPfn: Float64Array;
  /** The frame read last: the next one read means a scan, served by read-ahead. */
  private lastPfn = -2;
  /** Read-ahead window: frames aheadFirst .. aheadFirst+aheadCount-1 of one extent. */
  private ahead = new Uint8Array(0);
  private aheadFirst = -1;
  private aheadCount = 0;

  private readonly file: string;
  private readonly fileSize: number;

  /**
   * @param ra the file (kept open); its size at open: a read that comes back short means the file shrank
   * @param extents non-overlapping, each `pa` 4 KiB aligned (checked by addAccessFrames)
   */
  constructor(
    private readonly ra: RandomAccess,
    private readonly extents: readonly FileExtent[],
  ) {
    this.file = ra.name;
    this.fileSize = ra.size;
    const sorted = [...extents].sort((a, b) => a.pa - b.pa);
    this.extents = sorted;
    this.firstPfn = Float64Array.from(sorted, (e) => e.pa / FRAME_SIZE);
    this.endPfn = Float64Array.from(sorted, (e) => Math.ceil((e.pa + e.length) / FRAME_SIZE));
  }

  /** Index of the extent holding frame `pfn`, or -1 (binary search). */
  private find(pfn: number): number {
    let lo = 0;
    let hi = this.firstPfn.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (pfn < (this.firstPfn[mid] as number)) hi = mid - 1;
      else if (pfn >= (this.endPfn[mid] as number)) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  has(pfn: number): boolean {
    return this.find(pfn) >= 0;
  }

  read(pfn: number, out: Uint8Array): boolean {
    const i = this.find(pfn);
    const e = this.extents[i];
    if (e === undefined) return false;
    const inExtent = pfn * FRAME_SIZE - e.pa;
    const n = Math.min(FRAME_SIZE, e.length - inExtent);
    const sequential = pfn === this.lastPfn + 1;
    this.lastPfn = pfn;
    if (pfn >= this.aheadFirst && pfn < this.aheadFirst + this.aheadCount) {
      const o = (pfn - this.aheadFirst) * FRAME_SIZE;
      out.set(this.ahead.subarray(o, o + n));
    } else if (sequential) {
      // A scan (frame after frame): read the next READ_AHEAD bytes of the extent at once.
      const len = Math.min(READ_AHEAD, e.length - inExtent);
      if (this.ahead.length === 0) this.ahead = new Uint8Array(READ_AHEAD);
      this.aheadFirst = -1;
      this.readFully(this.ahead, len, e.offset + inExtent, pfn, e);
      this.aheadFirst = pfn;
      this.aheadCount = Math.ceil(len / FRAME_SIZE);
      out.set(this.ahead.subarray(0, n));
    } else {
      this.readFully(out, n, e.offset + inExtent, pfn, e);
    }
    // The tail of a last, partial frame: zero, as a loaded bank's padding is.
    if (n < FRAME_SIZE) out.fill(0, n);
    return true;
  }

  /** `n` bytes at file offset `pos` (frame `pfn`'s data) into `buf`; a short file is an error, never zeros. */
  private readFully(buf: Uint8Array, n: number, pos: number, pfn: number, e: FileExtent): void {
    let got: number;
    try {
      got = this.ra.readInto(pos, buf, 0, n);
    } catch (err) {
      throw new MemoryError(
        "EBANK_READ",
        `${this.file}: cannot read offset 0x${pos.toString(16)} (PA 0x${(pfn * FRAME_SIZE).toString(16)}, ${e.name}): ${(err as Error).message}`,
      );
    }
    if (got < n) {
      throw new MemoryError(
        "EBANK_READ",
        `${this.file}: truncated at offset 0x${(pos + got).toString(16)}: PA 0x${(pfn * FRAME_SIZE + got).toString(16)} (${e.name}) needs the file to reach offset 0x${(pos + n).toString(16)} (it had 0x${this.fileSize.toString(16)} bytes when opened)`,
      );
    }
  }

  runs(): FrameRun[] {
    return Array.from(this.firstPfn, (first, i) => ({ first, count: (this.endPfn[i] as number) - first }));
  }
}

/**
 * Make `extents` of the file `ra` memory read on demand: each becomes a bank (overlaps are refused
 * like loaded banks) whose frames come from the file when first touched.
 */
export function addAccessFrames(mem: PhysMem, ra: RandomAccess, all: readonly FileExtent[]): void {
  const extents = all.filter((e) => e.length > 0);
  for (const e of extents) {
    if (e.offset + e.length > ra.size) {
      throw new MemoryError(
        "EBANK_READ",
        `${ra.name}: truncated at offset 0x${ra.size.toString(16)}: ${e.name} needs the file to reach offset 0x${(e.offset + e.length).toString(16)}`,
      );
    }
    mem.addSourceBank(e.pa, e.length, e.name);
  }
  mem.addSource(new FileFrames(ra, extents));
}
