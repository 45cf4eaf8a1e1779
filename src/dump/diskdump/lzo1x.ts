/**
 * LZO1X decompression (the stream format liblzo's lzo1x_1_compress writes, used by
 * `makedumpfile -l` and `dump-guest-memory -l` page by page). Written from the format's
 * description (the instruction table in the Linux kernel's Documentation/staging/lzo.rst); no
 * maintained pure-JS or WebAssembly LZO1X decoder exists on the npm registry (see the note).
 *
 * Instructions carry a 2-bit "state" S: the number of literals (0..3) copied right after a match;
 * a long literal run leaves state 4. The meaning of opcodes 0..15 depends on that state.
 */

export class LzoError extends Error {}

export function lzo1xDecompress(src: Uint8Array, outLen: number): Uint8Array {
  const out = new Uint8Array(outLen);
  let ip = 0;
  let op = 0;
  const byte = (): number => {
    if (ip >= src.length) throw new LzoError(`input ends at byte ${ip}`);
    return src[ip++] as number;
  };
  /** Length extension: each zero byte adds 255, then the first non-zero byte is added. */
  const ext = (): number => {
    let n = 0;
    for (let b = byte(); b === 0; b = byte()) n += 255;
    return n + (src[ip - 1] as number);
  };
  const literals = (n: number): void => {
    if (ip + n > src.length) throw new LzoError(`literal run of ${n} at byte ${ip} passes the end of the input`);
    if (op + n > outLen) throw new LzoError(`literal run of ${n} overflows the ${outLen}-byte output`);
    out.set(src.subarray(ip, ip + n), op);
    ip += n;
    op += n;
  };
  const match = (dist: number, len: number): void => {
    if (dist > op) throw new LzoError(`match distance ${dist} reaches before the output start (at ${op})`);
    if (op + len > outLen) throw new LzoError(`match of ${len} overflows the ${outLen}-byte output`);
    for (let i = 0; i < len; i++, op++) out[op] = out[op - dist] as number;
  };
  let state = 0;
  // First byte above 17: a literal run of (byte - 17) bytes opens the stream.
  if ((src[0] ?? 0) > 17) {
    const t = byte() - 17;
    literals(t);
    state = t < 4 ? t : 4;
  }
  for (;;) {
    const inst = byte();
    let s: number;
    if (inst < 16) {
      if (state === 0) {
        literals(inst === 0 ? 18 + ext() : inst + 3);
        state = 4;
        continue;
      }
      const h = byte();
      if (state === 4) match((h << 2) + (inst >> 2) + 2049, 3);
      else match((h << 2) + (inst >> 2) + 1, 2);
      s = inst & 3;
    } else if (inst < 32) {
      const len = (inst & 7) === 0 ? 9 + ext() : (inst & 7) + 2;
      const v = byte() | (byte() << 8);
      const dist = 16384 + ((inst & 8) << 11) + (v >> 2);
      if (dist === 16384) break; // end of stream
      match(dist, len);
      s = v & 3;
    } else if (inst < 64) {
      const len = (inst & 31) === 0 ? 33 + ext() : (inst & 31) + 2;
      const v = byte() | (byte() << 8);
      match((v >> 2) + 1, len);
      s = v & 3;
    } else {
      const len = inst < 128 ? 3 + ((inst >> 5) & 1) : 5 + ((inst >> 5) & 3);
      const h = byte();
      match((h << 3) + ((inst >> 2) & 7) + 1, len);
      s = inst & 3;
    }
    literals(s);
    state = s;
  }
  if (op !== outLen) throw new LzoError(`stream ends after ${op} of ${outLen} bytes`);
  return out;
}
