/** A file descriptor as a RandomAccess (Node only: node:fs); the dump readers are in fs-free modules. */
import { closeSync, readSync } from "node:fs";
import type { RandomAccess } from "./random-access.js";

/** `fd` (open, of `name`, `size` bytes when opened) read with positional reads; close() closes it (once). */
export function fdAccess(fd: number, name: string, size: number): RandomAccess {
  let open = true;
  return {
    name,
    size,
    readInto(offset, out, outOffset, length) {
      let got = 0;
      while (got < length) {
        let r: number;
        try {
          r = readSync(fd, out, outOffset + got, length - got, offset + got);
        } catch (e) {
          throw new Error((e as NodeJS.ErrnoException).code ?? String(e));
        }
        if (r === 0) break;
        got += r;
      }
      return got;
    },
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
