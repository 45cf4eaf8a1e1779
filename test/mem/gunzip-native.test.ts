/**
 * A small gzip file is inflated by Node's native zlib in one call (src/mem/gunzip-file.ts; issue
 * 14: pako's JS inflater runs cold in a short-lived command), so pako is not even loaded; a file
 * that would inflate past the native limit, or that the native call rejects, goes through the
 * streaming inflater, which words the error (RFC 1952: CRC-32 and ISIZE checked either way).
 */
import { closeSync, mkdtempSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { loadedCodecLibs } from "../../src/io/codec-libs.js";
import { inflateToTemp } from "../../src/mem/gunzip-file.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-gz-native-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const data = Buffer.alloc(0x10000, 0x5a);
data.write("first page", 0);

function inflated(name: string, gz: Uint8Array, nativeOutLimit?: number): Buffer {
  const f = join(dir, name);
  writeFileSync(f, gz);
  const { fd, size } = inflateToTemp(f, "--mem", undefined, undefined, nativeOutLimit);
  try {
    const b = Buffer.alloc(size);
    readSync(fd, b, 0, size, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

describe("gzip: native one-call inflate for small files, streaming otherwise", () => {
  it("a small file is inflated without loading pako; one over the native limit streams through pako, same bytes", () => {
    expect(inflated("small.gz", gzipSync(data)).equals(data)).toBe(true);
    expect(loadedCodecLibs()).toEqual([]);
    // 64 KiB of output against a 4 KiB native limit: the streaming inflater (pako's zlib port).
    expect(inflated("over.gz", gzipSync(data), 4096).equals(data)).toBe(true);
    expect(loadedCodecLibs()).toEqual(["zlib"]);
  });

  it("a damaged small file is the streaming path's EFILE_GZIP error, not a native zlib error", () => {
    const gz = gzipSync(data);
    gz[gz.length - 6] = (gz[gz.length - 6] ?? 0) ^ 1; // CRC-32 (RFC 1952 §2.3.1)
    expect(() => inflated("crc.gz", gz)).toThrow(/crc\.gz: gzip stream is damaged or truncated \(incorrect data check\)/);
  });
});
