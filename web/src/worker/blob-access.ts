/// <reference lib="webworker" />
/**
 * Browser files as the dump readers' RandomAccess (src/mem/random-access.ts), for the memory
 * worker: a `File`/`Blob` read a range at a time with Blob.slice + FileReaderSync (synchronous,
 * which dedicated workers allow), or a file `vmsa serve` names read with HTTP Range requests
 * (synchronous XHR, also worker-only). Either way nothing is read until a walk needs it, so a
 * multi-GiB dump opens at once and costs only the pages its tables use.
 */
import type { RandomAccess } from "../../../src/mem/random-access.js";

export function blobAccess(blob: Blob, name: string): RandomAccess {
  const reader = new FileReaderSync();
  return {
    name,
    size: blob.size,
    readInto(offset, out, outOffset, length) {
      const end = Math.min(blob.size, offset + length);
      if (end <= offset) return 0;
      let buf: ArrayBuffer;
      try {
        buf = reader.readAsArrayBuffer(blob.slice(offset, end));
      } catch (e) {
        // NotReadableError: the file changed or went away after it was chosen.
        throw new Error(`${(e as Error).name}: the browser cannot read the file (changed on disk since it was opened?)`);
      }
      out.set(new Uint8Array(buf), outOffset);
      return buf.byteLength;
    },
    close() {},
  };
}

/** A file served by `vmsa serve` (`size` from files/index.json), read with Range requests. */
export function urlAccess(url: string, name: string, size: number): RandomAccess {
  return {
    name,
    size,
    readInto(offset, out, outOffset, length) {
      const end = Math.min(size, offset + length);
      if (end <= offset) return 0;
      const x = new XMLHttpRequest();
      x.open("GET", url, false);
      x.responseType = "arraybuffer";
      x.setRequestHeader("Range", `bytes=${offset}-${end - 1}`);
      try {
        x.send();
      } catch (e) {
        throw new Error(`the server did not answer (${(e as Error).message})`);
      }
      if (x.status !== 206) throw new Error(`the server answered ${x.status} to a Range request for bytes ${offset}..${end}`);
      const buf = new Uint8Array(x.response as ArrayBuffer);
      const n = Math.min(buf.byteLength, end - offset);
      out.set(buf.subarray(0, n), outOffset);
      return n;
    },
    close() {},
  };
}
