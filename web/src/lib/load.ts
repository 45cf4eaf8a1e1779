/**
 * Streaming a memory image (raw or gzip) into PhysMem without holding the whole file twice:
 * the file is read in slices (Blob.slice, or a DecompressionStream for gzip) and handed to
 * PhysMem a chunk at a time. All-zero frames are not stored: the whole image range is declared
 * RAM (reads as zero until written), so a 1 GiB dump that is mostly zero costs only its non-zero
 * pages. Dense chunks become banks (one copy, no per-frame allocation).
 */
import { MemoryError } from "../../../src/arch/errors.js";
import { FRAME_SIZE, type PhysMem } from "../../../src/mem/physmem.js";

export const CHUNK = 4 * 1024 * 1024;
const SLICE = 16 * 1024 * 1024;

export interface LoadStats {
  readonly name: string;
  /** What the file was read as (the CLI's words, e.g. `ELF core x.core (3 PT_LOAD)`). */
  readonly desc?: string;
  /** Raw images: the load address (a dump file carries its own addresses). */
  readonly pa?: bigint;
  readonly bytes: number;
  readonly gzip: boolean;
  /** Frames that held non-zero bytes (and so are stored), when the image was read whole. */
  readonly storedFrames?: number;
}

export type Progress = (done: number, total: number) => void;

/** Add one chunk at `pa` (a frame multiple except possibly the last). Returns stored frames. */
export function addChunk(mem: PhysMem, pa: number, buf: Uint8Array, source: string): number {
  const frames = Math.ceil(buf.byteLength / FRAME_SIZE);
  const nonZero: number[] = [];
  const words = new Uint32Array(buf.buffer, buf.byteOffset, Math.floor(buf.byteLength / 4));
  const wpf = FRAME_SIZE / 4;
  for (let f = 0; f < frames; f++) {
    const w0 = f * wpf;
    const w1 = Math.min(words.length, w0 + wpf);
    let nz = false;
    for (let w = w0; w < w1; w++) {
      if (words[w] !== 0) {
        nz = true;
        break;
      }
    }
    if (!nz) {
      for (let bi = w1 * 4; bi < Math.min(buf.byteLength, (f + 1) * FRAME_SIZE); bi++) if (buf[bi] !== 0) nz = true;
    }
    if (nz) nonZero.push(f);
  }
  if (nonZero.length === 0) return 0;
  if (nonZero.length * 2 > frames && buf.byteLength % FRAME_SIZE === 0) {
    mem.addBank(BigInt(pa), buf.slice(), `${source}+0x${(pa % 2 ** 32).toString(16)}`);
    return nonZero.length;
  }
  for (const f of nonZero) {
    const s = f * FRAME_SIZE;
    mem.writeBytes(BigInt(pa + s), buf.subarray(s, Math.min(buf.byteLength, s + FRAME_SIZE)));
  }
  return nonZero.length;
}

/**
 * A gzip-compressed dump file (ELF core, kdump) larger than this is refused in the browser: its
 * deflate stream cannot be entered in the middle, so it would be inflated into memory whole (the
 * CLI inflates to a sparse temporary file instead). Decompress it first; the plain file is read on
 * demand. Gzip raw images have no such limit: their zero frames are never stored.
 */
export const GZIP_DUMP_LIMIT = 512 * 1024 * 1024;

/** The first `n` bytes of the gzip stream's data (fewer when it is shorter). */
export async function gunzipHead(blob: Blob, n: number): Promise<Uint8Array> {
  const reader = gunzipReader(blob);
  const out = new Uint8Array(n);
  let got = 0;
  try {
    while (got < n) {
      const r = await reader.read();
      if (r.done) break;
      const k = Math.min(n - got, r.value.byteLength);
      out.set(r.value.subarray(0, k), got);
      got += k;
    }
  } catch {
    // A damaged stream: whoever reads it whole reports where.
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return out.subarray(0, got);
}

/** A reader of the gzip stream's inflated data. */
function gunzipReader(blob: Blob): ReadableStreamDefaultReader<Uint8Array> {
  return blob.stream().pipeThrough(new DecompressionStream("gzip")).getReader();
}

/** The next inflated chunk (undefined at the end); a damaged stream is an error naming how far it got. */
async function nextChunk(reader: ReadableStreamDefaultReader<Uint8Array>, name: string, bytes: number): Promise<Uint8Array | undefined> {
  try {
    const r = await reader.read();
    return r.done ? undefined : r.value;
  } catch (e) {
    throw new MemoryError("EBANK_READ", `${name}: gzip data is corrupt after 0x${bytes.toString(16)} bytes (${(e as Error).message})`);
  }
}

/** The whole gzip stream inflated into memory, refused past GZIP_DUMP_LIMIT bytes. */
export async function gunzipAll(blob: Blob, name: string, progress?: Progress): Promise<Uint8Array> {
  const total = await gzipSize(blob);
  if (total > GZIP_DUMP_LIMIT) throw tooBig(name, total);
  const parts: Uint8Array[] = [];
  let bytes = 0;
  const reader = gunzipReader(blob);
  for (;;) {
    const chunk = await nextChunk(reader, name, bytes);
    if (!chunk) break;
    bytes += chunk.byteLength;
    if (bytes > GZIP_DUMP_LIMIT) {
      reader.cancel().catch(() => undefined);
      throw tooBig(name, bytes);
    }
    parts.push(chunk);
    progress?.(bytes, Math.max(total, bytes));
  }
  const out = new Uint8Array(bytes);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

function tooBig(name: string, bytes: number): MemoryError {
  return new MemoryError(
    "EBANK_READ",
    `${name}: a gzip-compressed dump of more than ${GZIP_DUMP_LIMIT / 2 ** 20} MiB (here ${(bytes / 2 ** 20).toFixed(0)}+ MiB) is not opened in the browser: decompress it first (gunzip -k) and open the plain file, which is read on demand (or use the CLI)`,
  );
}

export async function isGzip(blob: Blob): Promise<boolean> {
  const head = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** Uncompressed size mod 2^32 from the gzip trailer (ISIZE), for progress. */
async function gzipSize(blob: Blob): Promise<number> {
  if (blob.size < 18) return 0;
  const t = new DataView(await blob.slice(blob.size - 4).arrayBuffer());
  return t.getUint32(0, true);
}

export async function loadImage(mem: PhysMem, blob: Blob, pa: bigint, name: string, progress?: Progress): Promise<LoadStats> {
  if (pa % BigInt(FRAME_SIZE) !== 0n) {
    throw new MemoryError("EBANK_SPEC", `${name}: load address 0x${pa.toString(16)} is not 4 KiB aligned`);
  }
  if (blob.size === 0) throw new MemoryError("EBANK_READ", `${name}: file is empty`);
  const base = Number(pa);
  let stored = 0;
  let bytes = 0;
  const gz = await isGzip(blob);
  if (!gz) {
    for (let off = 0; off < blob.size; off += SLICE) {
      const slice = new Uint8Array(await blob.slice(off, Math.min(blob.size, off + SLICE)).arrayBuffer());
      for (let c = 0; c < slice.byteLength; c += CHUNK) {
        stored += addChunk(mem, base + off + c, slice.subarray(c, Math.min(slice.byteLength, c + CHUNK)), name);
      }
      bytes = off + slice.byteLength;
      progress?.(bytes, blob.size);
    }
  } else {
    const total = await gzipSize(blob);
    const stage = new Uint8Array(CHUNK);
    let fill = 0;
    const reader = gunzipReader(blob);
    let lastReport = 0;
    for (;;) {
      const chunk = await nextChunk(reader, name, bytes);
      if (!chunk) break;
      let data = chunk;
      while (data.byteLength > 0) {
        const n = Math.min(CHUNK - fill, data.byteLength);
        stage.set(data.subarray(0, n), fill);
        fill += n;
        data = data.subarray(n);
        if (fill === CHUNK) {
          stored += addChunk(mem, base + bytes, stage, name);
          bytes += CHUNK;
          fill = 0;
        }
      }
      if (bytes - lastReport >= (64 * CHUNK) / 4) {
        lastReport = bytes;
        progress?.(bytes, Math.max(total, bytes));
      }
    }
    if (fill > 0) {
      stored += addChunk(mem, base + bytes, stage.subarray(0, fill), name);
      bytes += fill;
    }
    progress?.(bytes, bytes);
  }
  if (bytes === 0) throw new MemoryError("EBANK_READ", `${name}: decompressed to 0 bytes`);
  mem.addRam(pa, BigInt(bytes));
  return { name, desc: `raw ${name}@0x${pa.toString(16)}${gz ? " (gzip)" : ""}`, pa, bytes, gzip: gz, storedFrames: stored };
}
