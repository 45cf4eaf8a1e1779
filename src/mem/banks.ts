/**
 * Loading and saving raw memory images as `FILE@PA` banks (Node only: uses node:fs). A plain image
 * is read on demand (see filesource.ts); a gzip-compressed one is inflated whole.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { MemoryError } from "../arch/errors.js";
import { gunzipBytes, isGzip, writeFileAtomic } from "../io/files.js";
import { type BankSpec, parseBankSpec } from "./bankspec.js";
import { addFileFrames } from "./filesource.js";
import { FRAME_SIZE, PhysMem } from "./physmem.js";

export { type BankSpec, looksLikeBankSpec, parseBankSpec } from "./bankspec.js";

const CHUNK = 64 * 1024 * 1024;

/** Add a file as one bank: a plain image read on demand, a gzip one inflated whole. */
export function loadBank(mem: PhysMem, spec: BankSpec): void {
  let fd: number;
  try {
    fd = openSync(spec.file, "r");
  } catch (e) {
    throw new MemoryError("EBANK_READ", `--mem ${spec.file}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let keep = false;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new MemoryError("EBANK_READ", `--mem ${spec.file}: not a regular file`);
    const size = st.size;
    if (size === 0) throw new MemoryError("EBANK_READ", `--mem ${spec.file}: file is empty`);
    const head = Buffer.alloc(Math.min(4, size));
    readSync(fd, head, 0, head.length, 0);
    if (isGzip(head)) {
      loadGzipBank(mem, spec, fd, size);
      return;
    }
    checkSize(spec, size);
    if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
      throw new MemoryError("EBANK_READ", `--mem ${spec.file}: zstd-compressed at offset 0; decompress it first (zstd -d)`);
    }
    // Read on demand: the bank is indexed now and a frame is read when a walk first touches it.
    checkOverlap(mem, spec, size);
    addFileFrames(mem, fd, spec.file, [{ pa: Number(spec.pa), offset: 0, length: size, name: spec.file }], size);
    keep = true;
  } finally {
    if (!keep) closeSync(fd);
  }
}

function checkSize(spec: BankSpec, size: number): void {
  if (spec.size !== undefined && BigInt(size) !== spec.size) {
    const what = BigInt(size) < spec.size ? "truncated" : "longer than expected";
    throw new MemoryError(
      "EBANK_READ",
      `--mem ${spec.file}: ${what}: the file ends at offset 0x${size.toString(16)}, expected 0x${spec.size.toString(16)} bytes`,
    );
  }
}

/** A gzip-compressed image (detected by its magic): decompressed whole, then added like a raw one. */
function loadGzipBank(mem: PhysMem, spec: BankSpec, fd: number, size: number): void {
  const raw = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const r = readSync(fd, raw, got, size - got, got);
    if (r === 0) break;
    got += r;
  }
  const data = gunzipBytes(raw.subarray(0, got), spec.file, "--mem");
  if (data.length === 0) throw new MemoryError("EBANK_READ", `--mem ${spec.file}: gzip stream decompresses to nothing`);
  checkSize(spec, data.length);
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += CHUNK) chunks.push(data.subarray(off, Math.min(off + CHUNK, data.length)));
  addChunks(mem, spec, chunks, data.length);
}

function addChunks(mem: PhysMem, spec: BankSpec, chunks: Uint8Array[], size: number): void {
  // Check overlap for the whole bank first, then add chunk by chunk.
  checkOverlap(mem, spec, size);
  let pa = spec.pa;
  chunks.forEach((c, i) => {
    mem.addBank(pa, c, chunks.length === 1 ? spec.file : `${spec.file}[chunk ${i}]`);
    pa += BigInt(c.byteLength);
  });
}

function checkOverlap(mem: PhysMem, spec: BankSpec, size: number): void {
  const base = Number(spec.pa);
  for (const o of mem.bankList()) {
    if (base < o.base + o.size && o.base < base + size) {
      throw new MemoryError(
        "EBANK_OVERLAP",
        `--mem ${spec.file}@0x${base.toString(16)} (0x${size.toString(16)} bytes) overlaps ${o.source}@0x${o.base.toString(16)} (0x${o.size.toString(16)} bytes)`,
      );
    }
  }
}

/** Load several `FILE@PA` banks into a fresh memory. */
export function loadMemory(specs: readonly (string | BankSpec)[]): PhysMem {
  const mem = new PhysMem();
  for (const s of specs) loadBank(mem, typeof s === "string" ? parseBankSpec(s) : s);
  return mem;
}

/** Write [pa, pa+size) to a file atomically (temp file + rename). Unbacked bytes are zero. */
export function saveImage(mem: PhysMem, file: string, pa: bigint, size: number): void {
  const out = Buffer.alloc(size);
  for (let off = 0; off < size; off += FRAME_SIZE) {
    const n = Math.min(FRAME_SIZE, size - off);
    out.set(mem.readBytes(pa + BigInt(off), n), off);
  }
  writeFileAtomic(file, out, "image");
}
