/**
 * One memory file of the Dump view into the worker's PhysMem, through the CLI's readers: ELF cores
 * and kdump-compressed files (src/dump/load-source.ts) read on demand from the `File` or, for a
 * file `vmsa serve` names, with Range requests; raw images (FILE@PA) read on demand likewise.
 * Gzip: a raw image is inflated as it streams, keeping only its non-zero frames; a gzip dump file
 * is inflated into memory (up to GZIP_DUMP_LIMIT) and then read by the same readers.
 */
import { MemoryError } from "../../../src/arch/errors.js";
import type { ElfNote } from "../../../src/dump/elfcore-reader.js";
import { isDumpFile, loadDumpAccess, prepareDumpAccess } from "../../../src/dump/load-source.js";
import { addAccessFrames } from "../../../src/mem/access-frames.js";
import { FRAME_SIZE, type PhysMem } from "../../../src/mem/physmem.js";
import { bytesAccess, type RandomAccess } from "../../../src/mem/random-access.js";
import { gunzipAll, gunzipHead, isGzip, type LoadStats, loadImage, type Progress } from "../lib/load.js";
import { blobAccess, urlAccess } from "./blob-access.js";
import type { ImageRequest } from "./protocol.js";

export interface OpenedImage {
  readonly stats: LoadStats;
  readonly notes: readonly ElfNote[];
}

const headOf = (ra: RandomAccess): Uint8Array => {
  const h = new Uint8Array(16);
  return h.subarray(0, ra.readInto(0, h, 0, 16));
};

export async function openImage(mem: PhysMem, img: ImageRequest, progress: Progress): Promise<OpenedImage> {
  const { name } = img;
  let blob = img.blob;
  let ra: RandomAccess | undefined;
  if (!blob) {
    if (!img.url) throw new MemoryError("EBANK_READ", `${name}: no file given`);
    if (img.size !== undefined) {
      ra = urlAccess(img.url, name, img.size);
      const h = headOf(ra);
      // Gzip cannot be read in ranges: fetch the compressed file whole.
      if (h[0] === 0x1f && h[1] === 0x8b) ra = undefined;
    }
    if (!ra) {
      const res = await fetch(img.url);
      if (!res.ok) throw new MemoryError("EBANK_READ", `${name}: server answered ${res.status} for ${img.url}`);
      blob = await res.blob();
    }
  }
  if (blob && (await isGzip(blob))) {
    if (!isDumpFile(await gunzipHead(blob, 16))) {
      if (img.pa === undefined) throw noAddress(name);
      return { stats: await loadImage(mem, blob, img.pa, name, progress), notes: [] };
    }
    const bytes = await gunzipAll(blob, name, progress);
    await prepareDumpAccess(bytes.subarray(0, 16));
    const d = loadDumpAccess(mem, bytesAccess(bytes, name), bytes.subarray(0, 16));
    if (!d) throw new MemoryError("EBANK_READ", `${name}: not a dump file after all`);
    return { stats: { name, desc: `${d.desc} (gzip, inflated in memory)`, bytes: bytes.byteLength, gzip: true }, notes: d.notes };
  }
  const access = ra ?? blobAccess(blob as Blob, name);
  if (access.size === 0) throw new MemoryError("EBANK_READ", `${name}: file is empty`);
  const head = headOf(access);
  // The decompressors this dump needs (its pages, its IKCONFIG), loaded before the synchronous read.
  await prepareDumpAccess(head);
  const d = loadDumpAccess(mem, access, head, progress);
  if (d) return { stats: { name, desc: d.desc, bytes: access.size, gzip: false }, notes: d.notes };
  // Raw RAM at the row's address, read on demand (as `vmsa dump FILE@PA`).
  if (img.pa === undefined) throw noAddress(name);
  if (img.pa % BigInt(FRAME_SIZE) !== 0n) {
    throw new MemoryError("EBANK_SPEC", `${name}: load address 0x${img.pa.toString(16)} is not 4 KiB aligned`);
  }
  addAccessFrames(mem, access, [{ pa: Number(img.pa), offset: 0, length: access.size, name }]);
  return { stats: { name, desc: `raw ${name}@0x${img.pa.toString(16)}`, pa: img.pa, bytes: access.size, gzip: false }, notes: [] };
}

function noAddress(name: string): MemoryError {
  return new MemoryError("EBANK_SPEC", `${name}: not an ELF core or kdump file: give the load address of this raw RAM image (FILE@PA)`);
}
