/**
 * Gzip images inflated once into an unlinked sparse temporary file (src/mem/gunzip-file.ts): the
 * bytes are exactly gunzip's (RFC 1952: every member, CRC-32 and ISIZE checked), zero frames take
 * no disk, no temporary file is left in the directory, and a damaged or truncated stream is one
 * EFILE_GZIP error (never data taken as zeros).
 */
import { closeSync, fstatSync, mkdtempSync, readdirSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { inflateToTemp, NATIVE_OUT_LIMIT } from "../../src/mem/gunzip-file.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-gz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readAll(fd: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const r = readSync(fd, b, got, size - got, got);
    if (r === 0) break;
    got += r;
  }
  return b.subarray(0, got);
}

/** Pseudo-random bytes in some frames, zeros elsewhere, and a length that is not a frame multiple. */
function image(frames: number, tail: number): Buffer {
  const b = Buffer.alloc(frames * 4096 + tail);
  let x = 12345;
  for (let f = 0; f < frames; f += 7) {
    for (let i = 0; i < 4096; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[f * 4096 + i] = x >>> 24;
    }
  }
  b.fill(0xab, frames * 4096);
  return b;
}

/** Inflate through the streaming path (`chunk`: its read size), or the native one-call path when `native`. */
function inflateFile(name: string, gz: Uint8Array, chunk?: number, native = false): Buffer {
  const f = join(dir, name);
  writeFileSync(f, gz);
  const { fd, size } = inflateToTemp(f, "test", undefined, chunk, native ? NATIVE_OUT_LIMIT : 0);
  try {
    expect(fstatSync(fd).size).toBe(size);
    return readAll(fd, size);
  } finally {
    closeSync(fd);
  }
}

const leftovers = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith(`vmsa-gunzip-${process.pid}-`));

describe("gzip inflated to a sparse temporary file", () => {
  it("gives gunzip's bytes (zero frames, a partial last frame), at several read sizes", () => {
    const data = image(64, 100);
    const gz = gzipSync(data);
    for (const chunk of [1, 333, 4096, 1 << 20]) expect(inflateFile("a.gz", gz, chunk).equals(data)).toBe(true);
    expect(inflateFile("a.gz", gz, undefined, true).equals(data)).toBe(true);
  });

  it("reads every member of a multi-member file, also when a member ends exactly where a read ends", () => {
    const a = image(8, 0);
    const b = Buffer.from("second member");
    const ga = gzipSync(a);
    const gz = Buffer.concat([ga, gzipSync(b)]);
    // RFC 1952 §2.2: a gzip file is a series of members; gunzip outputs their concatenation.
    expect(inflateFile("m.gz", gz, ga.length).equals(Buffer.concat([a, b]))).toBe(true);
    expect(inflateFile("m.gz", gz, 1000).equals(Buffer.concat([a, b]))).toBe(true);
    // Members larger than the inflater's output buffer whose back-references cross it (a run of
    // zeros is distance-1 matches): each member needs its own window, from its first byte.
    const z1 = Buffer.concat([Buffer.alloc(1 << 20), Buffer.from("one")]);
    const z2 = Buffer.concat([Buffer.alloc(1 << 20), Buffer.from("two")]);
    const big = Buffer.concat([gzipSync(z1), gzipSync(z2), gzipSync(z1)]);
    for (const chunk of [100, 1 << 20]) expect(inflateFile("big.gz", big, chunk).equals(Buffer.concat([z1, z2, z1]))).toBe(true);
    // Zero padding after the last member is ignored, as gunzip does.
    expect(inflateFile("p.gz", Buffer.concat([ga, Buffer.alloc(16)]), ga.length).equals(a)).toBe(true);
    // The native one-call path (small files) gives the same bytes.
    expect(inflateFile("m.gz", gz, undefined, true).equals(Buffer.concat([a, b]))).toBe(true);
    expect(inflateFile("big.gz", big, undefined, true).equals(Buffer.concat([z1, z2, z1]))).toBe(true);
    expect(inflateFile("p.gz", Buffer.concat([ga, Buffer.alloc(16)]), undefined, true).equals(a)).toBe(true);
  });

  it("zero frames are holes: 64 MiB of zeros around one table page takes a few KiB of disk", () => {
    const data = Buffer.alloc(64 * 1024 * 1024);
    data.fill(0x11, 0x100000, 0x101000);
    const f = join(dir, "sparse.gz");
    writeFileSync(f, gzipSync(data));
    const { fd, size } = inflateToTemp(f, "test");
    try {
      expect(size).toBe(data.length);
      expect(fstatSync(fd).blocks * 512).toBeLessThan(256 * 1024);
      const page = Buffer.alloc(4096);
      readSync(fd, page, 0, 4096, 0x100000);
      expect(page.every((v) => v === 0x11)).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it("leaves no temporary file behind, whether it succeeds or fails", () => {
    const gz = gzipSync(image(4, 0));
    inflateFile("ok.gz", gz);
    expect(() => inflateFile("bad.gz", gz.subarray(0, gz.length - 5))).toThrow();
    expect(leftovers()).toEqual([]);
  });

  it.each([
    [
      "a truncated stream",
      (g: Buffer) => g.subarray(0, g.length - 10),
      /trunc\.gz: gzip stream is damaged or truncated \(unexpected end of file\)/,
    ],
    [
      "a wrong CRC-32",
      (g: Buffer) => {
        const c = Buffer.from(g);
        c[c.length - 6] = (c[c.length - 6] ?? 0) ^ 1;
        return c;
      },
      /trunc\.gz: gzip stream is damaged or truncated \(incorrect data check\)/,
    ],
    [
      "junk after the last member",
      (g: Buffer) => Buffer.concat([g, Buffer.from("junk!")]),
      /trunc\.gz: gzip stream is damaged or truncated/,
    ],
    ["an empty file", (_g: Buffer) => Buffer.alloc(0), /trunc\.gz: gzip stream is damaged or truncated/],
  ])("%s is one EFILE_GZIP error", (_what, damage, message) => {
    const gz = gzipSync(image(16, 0));
    const f = join(dir, "trunc.gz");
    writeFileSync(f, damage(gz));
    expect(() => inflateToTemp(f, "--mem")).toThrow(message);
    try {
      inflateToTemp(f, "--mem");
    } catch (e) {
      expect((e as { code?: string }).code).toBe("EFILE_GZIP");
    }
  });
});
