/**
 * Gzip-compressed images and cores made readable on demand (Node only).
 *
 * A deflate stream cannot be entered in the middle, and Node's zlib offers no synchronous
 * streaming nor a way to save the inflater's state at restart points (what zran does). So a
 * compressed file is inflated once, front to back, by a streaming inflater (pako: constant memory,
 * 64 KiB at a time), and its decompressed bytes go to a temporary file that is unlinked as soon as
 * it is created (nothing is left behind, whatever happens). All-zero 4 KiB frames are not written:
 * they stay holes of a sparse file, so the disk holds only the non-zero data. The temporary file
 * is then read on demand like a plain image (filesource.ts).
 *
 * Cost: one pass over the decompressed size (time grows with the image, unavoidable for gzip),
 * constant memory, disk = non-zero data. The stream is checked whole before anything is read
 * (CRC-32 and length of every member, as gunzip does): a damaged or truncated stream is one error
 * at open, and no byte of it is ever taken as zero.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pako from "pako";
import { FileError, fsReason } from "../io/files.js";
import { FRAME_SIZE } from "./physmem.js";

/** An inflated copy: an open descriptor of an unlinked sparse file of `size` bytes. */
export interface Inflated {
  readonly fd: number;
  readonly size: number;
}

const IN_CHUNK = 1024 * 1024;
const OUT_CHUNK = 64 * 1024;
const ZERO = Buffer.alloc(FRAME_SIZE);

/**
 * Inflate the gzip file `path` (all members) into an unlinked temporary file. `what` names the
 * role for errors (e.g. `--mem`); `progress` gets (compressed bytes read, compressed size);
 * `inChunk` is the size of the compressed reads (tests use it to put member ends at read ends).
 */
export function inflateToTemp(path: string, what: string, progress?: (done: number, total: number) => void, inChunk = IN_CHUNK): Inflated {
  let src: number;
  try {
    src = openSync(path, "r");
  } catch (e) {
    throw new FileError("EFILE_READ", `${what} ${path}: cannot open (${fsReason(e)})`);
  }
  const tmp = join(tmpdir(), `vmsa-gunzip-${process.pid}-${Math.random().toString(16).slice(2)}`);
  let fd: number;
  try {
    fd = openSync(tmp, "wx+", 0o600);
    unlinkSync(tmp);
  } catch (e) {
    closeSync(src);
    throw new FileError("EFILE_WRITE", `${what} ${path}: cannot create a temporary file in ${tmpdir()} to inflate it (${fsReason(e)})`);
  }
  try {
    const size = inflate(src, fd, path, what, inChunk, progress);
    return { fd, size };
  } catch (e) {
    closeSync(fd);
    throw e;
  } finally {
    closeSync(src);
  }
}

function inflate(
  src: number,
  fd: number,
  path: string,
  what: string,
  inChunk: number,
  progress?: (done: number, total: number) => void,
): number {
  const total = fstatSync(src).size;
  const damaged = (why: string): FileError => new FileError("EFILE_GZIP", `${what} ${path}: gzip stream is damaged or truncated (${why})`);
  // Output position, and the frame being assembled when a chunk ends inside one.
  let pos = 0;
  const frame = Buffer.alloc(FRAME_SIZE);
  const put = (bytes: Uint8Array, at: number): void => {
    if (ZERO.equals(bytes)) return;
    let done = 0;
    while (done < bytes.length) {
      try {
        done += writeSync(fd, bytes, done, bytes.length - done, at + done);
      } catch (e) {
        throw new FileError("EFILE_WRITE", `${what} ${path}: cannot write the inflated data to a temporary file (${fsReason(e)})`);
      }
    }
  };
  const onData = (chunk: Uint8Array): void => {
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = 0;
    while (i < data.length) {
      const inFrame = pos % FRAME_SIZE;
      const n = Math.min(FRAME_SIZE - inFrame, data.length - i);
      if (inFrame === 0 && n === FRAME_SIZE) {
        put(data.subarray(i, i + n), pos);
      } else {
        data.copy(frame, inFrame, i, i + n);
        if (inFrame + n === FRAME_SIZE) {
          put(frame, pos - inFrame);
          frame.fill(0);
        }
      }
      i += n;
      pos += n;
    }
  };
  // One inflater per gzip member run: pako goes on to the next member by itself when it starts
  // inside the same input chunk, and stops at the end of a member that ends with the chunk.
  let ended = false;
  const start = (): pako.Inflate => {
    const inf = new pako.Inflate({ chunkSize: OUT_CHUNK });
    inf.onData = onData;
    // pako's own onEnd records the status in err/msg: keep it, and note a clean end.
    const end = inf.onEnd.bind(inf);
    inf.onEnd = (status: number) => {
      if (status === 0) ended = true;
      end(status);
    };
    ended = false;
    return inf;
  };
  let inflater = start();
  const buf = Buffer.alloc(inChunk);
  let off = 0;
  for (;;) {
    let got: number;
    try {
      got = readSync(src, buf, 0, inChunk, off);
    } catch (e) {
      throw new FileError("EFILE_READ", `${what} ${path}: cannot read (${fsReason(e)})`);
    }
    off += got;
    const last = got === 0 || off >= total;
    inflater.push(buf.subarray(0, got), last);
    if (inflater.err !== 0) throw damaged(inflater.msg || `error ${inflater.err}`);
    progress?.(off, total);
    if (ended && !last && (inflater as unknown as { strm: { avail_in: number } }).strm.avail_in === 0) {
      // A member ended with this chunk: another member may follow (zero bytes after the last
      // member are padding, ignored as gunzip does).
      const next = Buffer.alloc(1);
      readSync(src, next, 0, 1, off);
      if (next[0] === 0) break;
      inflater = start();
      continue;
    }
    if (last || ended) break;
  }
  if (!ended) throw damaged("unexpected end of file");
  const tail = pos % FRAME_SIZE;
  if (tail !== 0) put(frame.subarray(0, tail), pos - tail);
  try {
    ftruncateSync(fd, pos);
  } catch (e) {
    throw new FileError("EFILE_WRITE", `${what} ${path}: cannot size the temporary file (${fsReason(e)})`);
  }
  return pos;
}
