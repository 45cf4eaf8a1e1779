/**
 * Loading and saving raw memory images as `FILE@PA` banks (Node only: uses node:fs). A plain image
 * is read on demand (see filesource.ts); a gzip-compressed one is inflated to a temporary file
 * first (gunzip-file.ts).
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { MemoryError } from "../arch/errors.js";
import { isGzip, writeFileAtomic } from "../io/files.js";
import { type BankSpec, parseBankSpec } from "./bankspec.js";
import { addFileFrames } from "./filesource.js";
import { inflateToTemp } from "./gunzip-file.js";
import { FRAME_SIZE, PhysMem } from "./physmem.js";

export { type BankSpec, looksLikeBankSpec, parseBankSpec } from "./bankspec.js";

/** Add a file as one bank, read on demand (a gzip one is inflated to a temporary file first). */
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
      loadGzipBank(mem, spec);
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

/** A gzip-compressed image (detected by its magic): inflated once to a temporary file, then read on demand (gunzip-file.ts). */
function loadGzipBank(mem: PhysMem, spec: BankSpec): void {
  const { fd, size } = inflateToTemp(spec.file, "--mem");
  try {
    if (size === 0) throw new MemoryError("EBANK_READ", `--mem ${spec.file}: gzip stream decompresses to nothing`);
    checkSize(spec, size);
    checkOverlap(mem, spec, size);
    addFileFrames(mem, fd, spec.file, [{ pa: Number(spec.pa), offset: 0, length: size, name: spec.file }], size);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
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
