/**
 * Byte sources for kdump-compressed files: a plain file read at offsets, or a makedumpfile
 * "flattened" stream (what `makedumpfile -F` and QEMU's `dump-guest-memory -z` without -R
 * write), which is indexed once into extents so that it reads like the file it describes.
 *
 * Flattened format facts (makedumpfile's makedumpfile.h): a 4 KiB header block starting with
 * the 16-byte signature "makedumpfile" (NUL padded), a big-endian 64-bit type (1) and version (1);
 * then records of { offset: int64 BE, size: int64 BE } each followed by `size` bytes that belong
 * at `offset` of the rebuilt file; a record with offset = size = -1 ends the stream.
 */
import { latin1, type RandomAccess } from "../../mem/random-access.js";
import { DumpFormatError } from "../elfcore-reader.js";

/** Random access to the (rebuilt) kdump file (no Node APIs: the file itself is a RandomAccess). */
export interface ByteSource {
  readonly file: string;
  /** Size of the rebuilt file (the highest byte any record wrote, for a flattened stream). */
  readonly size: number;
  /** Bytes [pos, pos+len); throws EDUMP_TRUNCATED naming `what` and the offset when they are missing. */
  read(pos: number, len: number, what: string): Uint8Array;
  close(): void;
}

export const FLAT_SIGNATURE = "makedumpfile";
const FLAT_HEADER_SIZE = 4096;
const FLAT_RECORD_HEADER = 16;

function truncated(file: string, pos: number, len: number, what: string, size: number): DumpFormatError {
  return new DumpFormatError(
    "EDUMP_TRUNCATED",
    `${file}: truncated at offset 0x${size.toString(16)}: ${what} needs bytes 0x${pos.toString(16)}..0x${(pos + len).toString(16)}`,
  );
}

function readRa(ra: RandomAccess, pos: number, len: number, what: string, size: number, out?: Uint8Array, outOff = 0): Uint8Array {
  const file = ra.name;
  if (pos + len > size) throw truncated(file, pos, len, what, size);
  const b = out ?? new Uint8Array(len);
  let got: number;
  try {
    got = ra.readInto(pos, b, outOff, len);
  } catch (e) {
    throw new DumpFormatError("EDUMP_READ", `${file}: cannot read offset 0x${pos.toString(16)} (${what}): ${(e as Error).message}`);
  }
  if (got < len) throw new DumpFormatError("EDUMP_TRUNCATED", `${file}: short read at offset 0x${(pos + got).toString(16)} (${what})`);
  return b;
}

/** A plain file. */
export function plainSource(ra: RandomAccess): ByteSource {
  return {
    file: ra.name,
    size: ra.size,
    read: (pos, len, what) => readRa(ra, pos, len, what, ra.size),
    close: () => ra.close(),
  };
}

/** Whether the first bytes are a flattened makedumpfile stream's signature. */
export function isFlattened(head: Uint8Array): boolean {
  return latin1(head.subarray(0, 12)) === FLAT_SIGNATURE && head[12] === 0;
}

/**
 * A flattened stream, indexed: one extent per record (rebuilt offset, length, position in the
 * stream). Later records win where they overlap earlier ones, as when the stream is rebuilt.
 */
export function flattenedSource(ra: RandomAccess): ByteSource {
  const file = ra.name;
  try {
    const fsize = ra.size;
    const head = readRa(ra, 0, FLAT_HEADER_SIZE, "the flattened-format header", fsize);
    const type = new DataView(head.buffer).getBigUint64(16, false);
    if (type !== 1n) throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 0x10 (flattened type): expected 1, got ${type}`);
    const starts: number[] = [];
    const lens: number[] = [];
    const at: number[] = [];
    let pos = FLAT_HEADER_SIZE;
    let size = 0;
    let sorted = true;
    const rec = new Uint8Array(FLAT_RECORD_HEADER);
    const rv = new DataView(rec.buffer);
    for (;;) {
      readRa(ra, pos, FLAT_RECORD_HEADER, "a flattened record header (no end marker)", fsize, rec);
      const off = rv.getBigInt64(0, false);
      const len = rv.getBigInt64(8, false);
      if (off === -1n && len === -1n) break;
      if (off < 0n || len < 0n || off + len > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new DumpFormatError(
          "EDUMP_FORMAT",
          `${file}: offset 0x${pos.toString(16)}: flattened record offset ${off} size ${len} is invalid`,
        );
      }
      const o = Number(off);
      const n = Number(len);
      if (pos + FLAT_RECORD_HEADER + n > fsize)
        throw truncated(file, pos + FLAT_RECORD_HEADER, n, `flattened record for offset 0x${o.toString(16)}`, fsize);
      if (n > 0) {
        if (starts.length > 0 && o < (starts[starts.length - 1] as number) + (lens[lens.length - 1] as number)) sorted = false;
        starts.push(o);
        lens.push(n);
        at.push(pos + FLAT_RECORD_HEADER);
        size = Math.max(size, o + n);
      }
      pos += FLAT_RECORD_HEADER + n;
    }
    if (!sorted) {
      // Records out of offset order (makedumpfile's cyclic mode interleaves bitmaps, descriptors
      // and data): sort them; where two overlap, the later record wins, as in the rebuilt file.
      const order = starts.map((_, i) => i).sort((x, y) => (starts[x] as number) - (starts[y] as number) || x - y);
      const s2 = order.map((i) => starts[i] as number);
      const l2 = order.map((i) => lens[i] as number);
      const a2 = order.map((i) => at[i] as number);
      for (let k = 1; k < s2.length; k++) {
        const prevEnd = (s2[k - 1] as number) + (l2[k - 1] as number);
        if ((s2[k] as number) < prevEnd) {
          throw new DumpFormatError(
            "EDUMP_FORMAT",
            `${file}: flattened records overlap at rebuilt offset 0x${(s2[k] as number).toString(16)}; rebuild it with \`makedumpfile -R\` first`,
          );
        }
      }
      starts.splice(0, starts.length, ...s2);
      lens.splice(0, lens.length, ...l2);
      at.splice(0, at.length, ...a2);
    }
    const read = (p: number, len: number, what: string): Uint8Array => {
      if (p + len > size) throw truncated(file, p, len, what, size);
      const out = new Uint8Array(len);
      // Last extent starting at or before p.
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((starts[mid] as number) <= p) lo = mid;
        else hi = mid - 1;
      }
      let done = 0;
      for (let i = lo; done < len && i < starts.length; i++) {
        const s = starts[i] as number;
        const e = s + (lens[i] as number);
        const want = p + done;
        if (e <= want) continue;
        if (s > want) {
          throw new DumpFormatError(
            "EDUMP_TRUNCATED",
            `${file}: flattened stream has no record for offset 0x${want.toString(16)} (${what})`,
          );
        }
        const n = Math.min(e - want, len - done);
        readRa(ra, (at[i] as number) + (want - s), n, what, fsize, out, done);
        done += n;
      }
      if (done < len)
        throw new DumpFormatError(
          "EDUMP_TRUNCATED",
          `${file}: flattened stream has no record for offset 0x${(p + done).toString(16)} (${what})`,
        );
      return out;
    };
    return { file, size, read, close: () => ra.close() };
  } catch (e) {
    ra.close();
    throw e;
  }
}
