/**
 * Real LZO1X data for tests: one page compressed by the `lzop` command (liblzo2's lzo1x_1 at
 * levels 1-6, lzo1x_999 at 7-9, the same library makedumpfile -l calls), taken out of lzop's file
 * container. Container facts (lzop's file format): 9-byte magic, version/lib_version (and
 * version_needed, method, level from version 0x0940), flags (F_ADLER32_D 0x1, F_ADLER32_C 0x2,
 * F_H_EXTRA_FIELD 0x40, F_CRC32_D 0x100, F_CRC32_C 0x200, F_H_FILTER 0x800), mode, mtime, name,
 * header checksum; then blocks of dst_len, src_len (big-endian), checksums, data.
 */
import { execFileSync } from "node:child_process";

export function haveLzop(): boolean {
  try {
    execFileSync("lzop", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** LZO1X data of `page` (or the page itself when lzop stored it uncompressed). */
export function lzopCompress(page: Uint8Array, level: number): Uint8Array {
  const f = execFileSync("lzop", ["-c", `-${level}`], { input: page });
  let p = 9;
  const u8 = (): number => f[p++] as number;
  const u16 = (): number => {
    p += 2;
    return f.readUInt16BE(p - 2);
  };
  const u32 = (): number => {
    p += 4;
    return f.readUInt32BE(p - 4);
  };
  const version = u16();
  u16();
  if (version >= 0x0940) u16();
  u8();
  if (version >= 0x0940) u8();
  const flags = u32();
  if (flags & 0x800) u32();
  u32();
  u32();
  if (version >= 0x0940) u32();
  const nameLen = u8();
  p += nameLen;
  u32();
  if (flags & 0x40) throw new Error("lzop extra field not expected");
  const dst = u32();
  const src = u32();
  if (dst !== page.length) throw new Error(`lzop block of ${dst} bytes, expected one block of ${page.length}`);
  if (flags & 0x1) u32();
  if (flags & 0x100) u32();
  if (src < dst) {
    if (flags & 0x2) u32();
    if (flags & 0x200) u32();
  }
  return new Uint8Array(f.subarray(p, p + src));
}
