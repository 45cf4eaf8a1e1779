/**
 * The page index of a kdump-compressed file and the on-demand FrameSource built on it.
 *
 * At open only the second bitmap (one bit per page: dumped or not) and a rank table (dumped pages
 * before each 4096-page block) are kept: a page's descriptor is the rank-th 24-byte entry after
 * the bitmaps, read from the file when the page is first touched, then its data is read and
 * decompressed. Memory is one bit per page plus 4 bytes per 4096 pages, never page data.
 * Dumped runs are declared RAM (so all-zero pages read as zero without being stored); pages the
 * dump excluded (first bitmap set, second clear) and pages outside RAM stay unbacked: missing data.
 */
import { FRAME_SHIFT, FRAME_SIZE, type FrameRun, type FrameSource, type PhysMem } from "../../mem/physmem.js";
import { DumpFormatError } from "../elfcore-reader.js";
import { codecOf, pageDecoder } from "./codecs.js";
import type { DiskDumpHeader } from "./header.js";
import type { ByteSource } from "./source.js";

const DESC_SIZE = 24;
const BLOCK_PAGES = 4096;
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let b = i; b; b >>= 1) n += b & 1;
  return n;
});

export interface PageIndex {
  readonly dumpedPages: number;
  readonly excludedPages: number;
}

/** Index the bitmaps, declare the dumped runs RAM and attach the dump's pages to `mem` as a FrameSource. */
export function attachPages(mem: PhysMem, src: ByteSource, h: DiskDumpHeader): PageIndex {
  const f = src.file;
  const ps = h.blockSize;
  const mapBytes = Math.ceil(h.maxMapnr / 8);
  const bm1 = src.read(h.bitmap1Offset, mapBytes, "the first bitmap (pages present)");
  const bm2 = src.read(h.bitmap2Offset, mapBytes, "the second bitmap (pages dumped)");
  const rank = new Uint32Array(Math.ceil(h.maxMapnr / BLOCK_PAGES) + 1);
  let dumped = 0;
  let excluded = 0;
  let runStart = -1;
  for (let byte = 0; byte < mapBytes; byte++) {
    if ((byte & (BLOCK_PAGES / 8 - 1)) === 0) rank[byte / (BLOCK_PAGES / 8)] = dumped;
    const b2 = bm2[byte] as number;
    dumped += POPCOUNT[b2] as number;
    excluded += POPCOUNT[(bm1[byte] as number) & ~b2 & 0xff] as number;
    // Dumped runs become RAM (page granular; bits past max_mapnr are never set by a writer).
    for (let bit = 0; bit < 8; bit++) {
      const pfn = byte * 8 + bit;
      const on = pfn < h.maxMapnr && (b2 & (1 << bit)) !== 0;
      if (on && runStart < 0) runStart = pfn;
      else if (!on && runStart >= 0) {
        mem.addRam(BigInt(runStart) * BigInt(ps), BigInt(pfn - runStart) * BigInt(ps));
        runStart = -1;
      }
    }
  }
  if (runStart >= 0) mem.addRam(BigInt(runStart) * BigInt(ps), BigInt(h.maxMapnr - runStart) * BigInt(ps));
  const descEnd = h.descOffset + dumped * DESC_SIZE;
  if (descEnd > src.size) {
    throw new DumpFormatError(
      "EDUMP_TRUNCATED",
      `${f}: truncated at offset 0x${src.size.toString(16)}: the ${dumped} page descriptors need bytes 0x${h.descOffset.toString(16)}..0x${descEnd.toString(16)}`,
    );
  }
  const framesPerPage = ps / FRAME_SIZE;
  const isDumped = (dpfn: number): boolean => dpfn < h.maxMapnr && ((bm2[dpfn >> 3] as number) & (1 << (dpfn & 7))) !== 0;
  const rankOf = (dpfn: number): number => {
    let r = rank[Math.floor(dpfn / BLOCK_PAGES)] as number;
    for (let byte = Math.floor(dpfn / BLOCK_PAGES) * (BLOCK_PAGES / 8); byte < dpfn >> 3; byte++)
      r += POPCOUNT[bm2[byte] as number] as number;
    return r + (POPCOUNT[(bm2[dpfn >> 3] as number) & ((1 << (dpfn & 7)) - 1)] as number);
  };
  let lastPage = -1;
  let lastData: Uint8Array = new Uint8Array(0);
  let lastKey = "";
  const decode = (dpfn: number): Uint8Array => {
    if (dpfn === lastPage) return lastData;
    const n = rankOf(dpfn);
    const descAt = h.descOffset + n * DESC_SIZE;
    const d = src.read(descAt, DESC_SIZE, `the page descriptor of PFN 0x${dpfn.toString(16)}`);
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const off = dv.getBigInt64(0, true);
    const size = dv.getUint32(8, true);
    const flags = dv.getUint32(12, true);
    const codec = codecOf(flags);
    const where = `page descriptor at offset 0x${descAt.toString(16)} (PFN 0x${dpfn.toString(16)}, PA 0x${(dpfn * ps).toString(16)})`;
    if (codec === undefined) throw new DumpFormatError("EDUMP_FORMAT", `${f}: ${where}: unknown compression flags 0x${flags.toString(16)}`);
    if (off < 0n || off > BigInt(Number.MAX_SAFE_INTEGER) || size > ps || (codec === "raw" && size !== ps)) {
      throw new DumpFormatError(
        "EDUMP_FORMAT",
        `${f}: ${where}: page data at offset 0x${off.toString(16)} size 0x${size.toString(16)} is invalid for ${codec} ${ps}-byte pages`,
      );
    }
    // Writers share one data block among identical pages (the zero page): decode it once.
    const key = `${off}:${size}:${flags}`;
    if (key !== lastKey) {
      const data = src.read(Number(off), size, `page data of PFN 0x${dpfn.toString(16)}`);
      // Outside the try: a decompressor nobody loaded is not corrupt data.
      const decodePage = pageDecoder(codec);
      try {
        lastData = decodePage(data, ps);
      } catch (e) {
        throw new DumpFormatError(
          "EDUMP_PAGE",
          `${f}: PFN 0x${dpfn.toString(16)} (PA 0x${(dpfn * ps).toString(16)}): ${codec} page data at offset 0x${off.toString(16)} does not decompress (${(e as Error).message})`,
        );
      }
      lastKey = key;
    }
    lastPage = dpfn;
    return lastData;
  };
  const source: FrameSource = {
    has: (pfn) => isDumped(Math.floor(pfn / framesPerPage)),
    // An all-zero frame is kept like any other: PhysMem's pool bounds what frames read cost (a set
    // of the zero frames seen grew with the dump in a scan of all memory).
    read: (pfn, out) => {
      const dpfn = Math.floor(pfn / framesPerPage);
      const page = decode(dpfn);
      const o = (pfn - dpfn * framesPerPage) << FRAME_SHIFT;
      out.set(page.subarray(o, o + FRAME_SIZE));
      return true;
    },
    runs: () => {
      const out: FrameRun[] = [];
      for (let dpfn = 0; dpfn < h.maxMapnr; dpfn++) {
        if (!isDumped(dpfn)) continue;
        const first = dpfn * framesPerPage;
        const last = out[out.length - 1];
        if (last && last.first + last.count === first) last.count += framesPerPage;
        else out.push({ first, count: framesPerPage });
      }
      return out;
    },
  };
  mem.addSource(source);
  return { dumpedPages: dumped, excludedPages: excluded };
}
