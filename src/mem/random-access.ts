/**
 * A random-access byte source: what every dump reader (ELF cores, kdump files, raw images) reads
 * through, so the same parsers serve the CLI (a file descriptor, ./file-access.ts) and the browser
 * UI's worker (a `File`/`Blob` or a URL read in ranges, web/src/lib/blob-access.ts). No Node APIs.
 */

export interface RandomAccess {
  /** The file's name, for errors. */
  readonly name: string;
  /** Its size in bytes when opened. */
  readonly size: number;
  /**
   * Copy up to `length` bytes at `offset` into `out` at `outOffset`; returns how many were copied
   * (fewer only at the end of the data, 0 past it). Throws an Error whose message is the reason
   * (e.g. `EIO`) when the bytes cannot be read.
   */
  readInto(offset: number, out: Uint8Array, outOffset: number, length: number): number;
  /** Release the source (a file descriptor); reads after close are not allowed. */
  close(): void;
}

/** Bytes held in memory (an inflated gzip core, a test's image) as a RandomAccess. */
export function bytesAccess(bytes: Uint8Array, name: string): RandomAccess {
  return {
    name,
    size: bytes.byteLength,
    readInto(offset, out, outOffset, length) {
      const n = Math.max(0, Math.min(length, bytes.byteLength - offset));
      if (n > 0) out.set(bytes.subarray(offset, offset + n), outOffset);
      return n;
    },
    close() {},
  };
}

/** Latin-1 text of bytes (one char per byte), without Node's Buffer. */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x2000) s += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  return s;
}
