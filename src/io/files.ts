/**
 * File input and output for every command (Node only): reading a file whole, reading a text file
 * (binary data is refused in one line), gzip detection by magic, and the one atomic-write helper
 * (temporary file + rename; the temporary is removed on every failure). Filesystem errors become a
 * FileError naming the path and the reason, never a stack trace.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { gunzipSync } from "node:zlib";
import { VmsaError } from "../arch/errors.js";

export type FileErrorCode = "EFILE_READ" | "EFILE_WRITE" | "EFILE_BINARY" | "EFILE_GZIP";

export class FileError extends VmsaError {
  constructor(code: FileErrorCode, message: string) {
    super(code, message);
    this.name = "FileError";
  }
}

const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  ENOTDIR: "a component of the path is not a directory",
  EISDIR: "is a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
  EEXIST: "already exists",
  EMFILE: "too many open files",
  ENAMETOOLONG: "file name too long",
};

/** `ENOENT: no such file or directory` for a Node filesystem error, else its message. */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code) return `${code}: ${REASONS[code] ?? (e as Error).message}`;
  return e instanceof Error ? e.message : String(e);
}

/** Read a whole file; `what` names the option or role (e.g. `--markers`). A directory is refused. */
export function readInputFile(path: string, what: string): Buffer {
  try {
    if (path !== "/dev/stdin" && statSync(path).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    return readFileSync(path);
  } catch (e) {
    throw new FileError("EFILE_READ", `${what} ${path}: cannot read (${fsReason(e)})`);
  }
}

/**
 * A text file: UTF-8 without NUL bytes. A binary file is one error line naming the first offending
 * offset, never its bytes echoed back.
 */
export function decodeText(data: Uint8Array, path: string, what: string): string {
  const nul = data.indexOf(0);
  if (nul >= 0) throw new FileError("EFILE_BINARY", `${what} ${path}: not a text file (NUL byte at offset 0x${nul.toString(16)})`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    throw new FileError("EFILE_BINARY", `${what} ${path}: not a text file (invalid UTF-8)`);
  }
}

/** Read a text file (see decodeText); `-` reads standard input. */
export function readTextFile(path: string, what: string): string {
  if (path === "-") {
    let data: Buffer;
    try {
      data = readFileSync(0);
    } catch (e) {
      throw new FileError("EFILE_READ", `${what} stdin: cannot read (${fsReason(e)})`);
    }
    return decodeText(data, "stdin", what);
  }
  return decodeText(readInputFile(path, what), path, what);
}

/** Whether the bytes start with the gzip magic (1f 8b); files are recognised by content, not name. */
export function isGzip(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** The first `n` bytes of a file (fewer if it is shorter). */
export function readHeadBytes(path: string, n: number, what: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new FileError("EFILE_READ", `${what} ${path}: cannot open (${fsReason(e)})`);
  }
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } catch (e) {
    throw new FileError("EFILE_READ", `${what} ${path}: cannot read (${fsReason(e)})`);
  } finally {
    closeSync(fd);
  }
}

/** Decompress a whole gzip stream (all members); a damaged or truncated stream is one error line. */
export function gunzipBytes(data: Uint8Array, path: string, what: string): Buffer {
  try {
    return gunzipSync(data);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ERR_BUFFER_TOO_LARGE" ? "decompressed size is above what one buffer holds; decompress it first" : (e as Error).message;
    throw new FileError("EFILE_GZIP", `${what} ${path}: gzip stream is damaged or truncated (${why})`);
  }
}

/**
 * Write a file atomically: the data goes to `FILE.<pid>.tmp` beside it, then is renamed over FILE.
 * On any failure the temporary file is removed and a FileError names FILE and the reason.
 * `mkdir` creates missing parent directories first.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, what = "output", opts: { mkdir?: boolean } = {}): void {
  const dir = dirname(file);
  if (opts.mkdir) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new FileError("EFILE_WRITE", `${what} ${dir}: cannot create the directory (${fsReason(e)})`);
    }
  }
  let isDir = false;
  try {
    isDir = statSync(file).isDirectory();
  } catch {
    // absent: the usual case
  }
  if (isDir) throw new FileError("EFILE_WRITE", `${what} ${file}: cannot write (EISDIR: ${REASONS.EISDIR})`);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already gone
    }
    throw new FileError("EFILE_WRITE", `${what} ${file}: cannot write (${fsReason(e)})`);
  }
}
