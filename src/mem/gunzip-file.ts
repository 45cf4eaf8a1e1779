/**
 * Gzip-compressed images and cores made readable on demand (Node only).
 *
 * A deflate stream cannot be entered in the middle, and Node's zlib offers no synchronous
 * streaming nor a way to save the inflater's state at restart points (what zran does). So a
 * compressed file is inflated once, front to back, by a streaming inflater (pako's port of zlib's
 * inflate: constant memory, 64 KiB at a time, a fresh inflater per gzip member), and its decompressed bytes go to a temporary file that is unlinked as soon as
 * it is created (nothing is left behind, whatever happens). All-zero 4 KiB frames are not written:
 * they stay holes of a sparse file, so the disk holds only the non-zero data. The temporary file
 * is then read on demand like a plain image (filesource.ts).
 *
 * Cost: one pass over the decompressed size (time grows with the image, unavoidable for gzip),
 * constant memory, disk = non-zero data. A small file (at most NATIVE_IN_LIMIT compressed and
 * NATIVE_OUT_LIMIT inflated) is inflated by Node's native zlib in one call instead: pako's JS
 * inflater runs cold in a short-lived command (about 60 ms for a 600 KB core, issue 14: startup).
 * Anything the native call does not accept (too large, damaged) goes through the streaming
 * inflater, which words every error; both give the same bytes (RFC 1952: all members, zero
 * padding after the last ignored). The stream is checked whole before anything is read
 * (CRC-32 and length of every member, as gunzip does): a damaged or truncated stream is one error
 * at open, and no byte of it is ever taken as zero.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type ZStream from "pako/lib/zlib/zstream.js";
import { codecLib } from "../io/codec-libs.js";
import "../io/codec-libs-node.js";
import { FileError, fsReason } from "../io/files.js";
import { FRAME_SIZE } from "./physmem.js";

/** An inflated copy: an open descriptor of an unlinked sparse file of `size` bytes. */
export interface Inflated {
  readonly fd: number;
  readonly size: number;
}

const IN_CHUNK = 1024 * 1024;
/** The native one-call path: compressed bytes read whole, and the inflated size it may make. */
export const NATIVE_IN_LIMIT = 16 * 1024 * 1024;
export const NATIVE_OUT_LIMIT = 64 * 1024 * 1024;
const OUT_CHUNK = 64 * 1024;
const ZERO = Buffer.alloc(FRAME_SIZE);
// zlib's return and flush codes.
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_BUF_ERROR = -5;
const Z_NO_FLUSH = 0;

/**
 * Inflate the gzip file `path` (all members) into an unlinked temporary file. `what` names the
 * role for errors (e.g. `--mem`); `progress` gets (compressed bytes read, compressed size);
 * `inChunk` is the size of the compressed reads (tests use it to put member ends at read ends);
 * `nativeOutLimit` bounds the native path's output (0: always stream; tests check both paths).
 */
export function inflateToTemp(
  path: string,
  what: string,
  progress?: (done: number, total: number) => void,
  inChunk = IN_CHUNK,
  nativeOutLimit = NATIVE_OUT_LIMIT,
): Inflated {
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
    const size = inflateNative(src, fd, path, what, nativeOutLimit, progress) ?? inflate(src, fd, path, what, inChunk, progress);
    return { fd, size };
  } catch (e) {
    closeSync(fd);
    throw e;
  } finally {
    closeSync(src);
  }
}

/** Inflated bytes written in order to `fd`, all-zero frames left as holes; `end` sizes the file. */
function sparseWriter(fd: number, path: string, what: string): { onData: (chunk: Uint8Array) => void; end: () => number } {
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
  const end = (): number => {
    const tail = pos % FRAME_SIZE;
    if (tail !== 0) put(frame.subarray(0, tail), pos - tail);
    try {
      ftruncateSync(fd, pos);
    } catch (e) {
      throw new FileError("EFILE_WRITE", `${what} ${path}: cannot size the temporary file (${fsReason(e)})`);
    }
    return pos;
  };
  return { onData, end };
}

/**
 * The whole file inflated by Node's zlib in one call, then written sparsely; undefined (nothing
 * written) when the file is larger than NATIVE_IN_LIMIT, inflates to more than `outLimit`, or
 * the native inflater rejects it: the streaming path then reads it (and words the error).
 */
function inflateNative(
  src: number,
  fd: number,
  path: string,
  what: string,
  outLimit: number,
  progress?: (done: number, total: number) => void,
): number | undefined {
  const total = fstatSync(src).size;
  if (outLimit <= 0 || total === 0 || total > NATIVE_IN_LIMIT) return undefined;
  const gz = Buffer.alloc(total);
  let got = 0;
  try {
    while (got < total) {
      const n = readSync(src, gz, got, total - got, got);
      if (n === 0) break;
      got += n;
    }
  } catch {
    return undefined;
  }
  // ISIZE, the last member's length mod 2^32 (RFC 1952 §2.3.1): a hint to skip a sure overflow.
  if (got >= 4 && gz.readUInt32LE(got - 4) > outLimit) return undefined;
  let out: Buffer;
  try {
    out = gunzipSync(gz.subarray(0, got), { maxOutputLength: outLimit });
  } catch {
    return undefined;
  }
  const w = sparseWriter(fd, path, what);
  w.onData(out);
  progress?.(got, total);
  return w.end();
}

/** The streaming inflater: constant memory, every member, every error worded. */
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
  const { onData, end } = sparseWriter(fd, path, what);
  // zlib's inflate, driven here so that every gzip member gets a fresh inflater: pako's own
  // member restart (inflateReset inside Inflate.push) loses the window of the next member
  // ("invalid distance too far back" on members larger than its output buffer).
  const out = new Uint8Array(OUT_CHUNK);
  let strm: ZStream | undefined;
  /** Inside a member: its end has not been seen yet. */
  let inMember = false;
  // pako's zlib port, loaded on the first gzip file only (issue 14: startup of commands that read none).
  const { inflate: zinflate, ZStream } = codecLib("zlib");
  const fresh = (): ZStream => {
    const z = new ZStream();
    // windowBits 15 + 16: a gzip wrapper (header, CRC-32 and ISIZE checked by inflate).
    if (zinflate.inflateInit2(z, 15 + 16) !== Z_OK) throw damaged("cannot start the inflater");
    return z;
  };
  const buf = Buffer.alloc(inChunk);
  let off = 0;
  let padding = false;
  while (!padding) {
    let got: number;
    try {
      got = readSync(src, buf, 0, inChunk, off);
    } catch (e) {
      throw new FileError("EFILE_READ", `${what} ${path}: cannot read (${fsReason(e)})`);
    }
    if (got === 0) break;
    off += got;
    let next = 0;
    while (next < got) {
      if (!inMember) {
        // Between members: zero bytes after the last member are padding, ignored as gunzip does.
        if (buf[next] === 0) {
          padding = true;
          break;
        }
        strm = fresh();
        inMember = true;
      }
      const z = strm as ZStream;
      z.input = buf;
      z.next_in = next;
      z.avail_in = got - next;
      for (;;) {
        z.output = out;
        z.next_out = 0;
        z.avail_out = OUT_CHUNK;
        const status = zinflate.inflate(z, Z_NO_FLUSH);
        if (status !== Z_OK && status !== Z_STREAM_END && status !== Z_BUF_ERROR) throw damaged(z.msg || `inflate status ${status}`);
        if (z.next_out > 0) onData(out.subarray(0, z.next_out));
        if (status === Z_STREAM_END) {
          zinflate.inflateEnd(z);
          inMember = false;
          break;
        }
        // Stop when this chunk is used up and the output buffer was not filled (or nothing moved).
        if ((z.avail_in === 0 && z.avail_out !== 0) || (status === Z_BUF_ERROR && z.next_out === 0)) break;
      }
      next = got - z.avail_in;
      if (inMember) break;
    }
    progress?.(off, total);
  }
  if (inMember || off === 0) throw damaged("unexpected end of file");
  return end();
}
