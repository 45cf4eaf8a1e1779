/**
 * Loading and saving raw memory images as `FILE@PA` banks (Node only: uses node:fs).
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, writeFileSync } from "node:fs";
import { MemoryError } from "../arch/errors.js";
import { parseU64 } from "../arch/u64.js";
import { FRAME_SIZE, PhysMem } from "./physmem.js";

export interface BankSpec {
  readonly file: string;
  readonly pa: bigint;
  /** Expected size: a file of another size is an error (truncated or wrong file). */
  readonly size?: bigint;
}

/**
 * Parse `FILE@PA` or `FILE@PA:SIZE` (numbers hex or decimal). The last `@` separates, so paths
 * may contain `@`.
 */
export function parseBankSpec(spec: string): BankSpec {
  const at = spec.lastIndexOf("@");
  if (at <= 0 || at === spec.length - 1) {
    throw new MemoryError("EBANK_SPEC", `--mem "${spec}": expected FILE@PA or FILE@PA:SIZE, e.g. ram.bin@0x40000000`);
  }
  const file = spec.slice(0, at);
  const [paText, sizeText, extra] = spec.slice(at + 1).split(":");
  if (extra !== undefined) throw new MemoryError("EBANK_SPEC", `--mem "${spec}": expected FILE@PA or FILE@PA:SIZE`);
  const pa = parseU64(paText ?? "", `--mem ${file}: load address`);
  if (pa % 4096n !== 0n) throw new MemoryError("EBANK_SPEC", `--mem ${file}: load address 0x${pa.toString(16)} is not 4 KiB aligned`);
  if (sizeText === undefined) return { file, pa };
  return { file, pa, size: parseU64(sizeText, `--mem ${file}: size`) };
}

const CHUNK = 64 * 1024 * 1024;

/** Read a whole file into page-aligned chunks and add it as one bank. */
export function loadBank(mem: PhysMem, spec: BankSpec): void {
  let fd: number;
  try {
    fd = openSync(spec.file, "r");
  } catch (e) {
    throw new MemoryError("EBANK_READ", `--mem ${spec.file}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new MemoryError("EBANK_READ", `--mem ${spec.file}: not a regular file`);
    const size = st.size;
    if (size === 0) throw new MemoryError("EBANK_READ", `--mem ${spec.file}: file is empty`);
    if (spec.size !== undefined && BigInt(size) !== spec.size) {
      const what = BigInt(size) < spec.size ? "truncated" : "longer than expected";
      throw new MemoryError(
        "EBANK_READ",
        `--mem ${spec.file}: ${what}: the file ends at offset 0x${size.toString(16)}, expected 0x${spec.size.toString(16)} bytes`,
      );
    }
    const head = Buffer.alloc(Math.min(4, size));
    readSync(fd, head, 0, head.length, 0);
    if (head[0] === 0x1f && head[1] === 0x8b) {
      throw new MemoryError("EBANK_READ", `--mem ${spec.file}: gzip-compressed at offset 0; decompress it first (gunzip -k)`);
    }
    if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
      throw new MemoryError("EBANK_READ", `--mem ${spec.file}: zstd-compressed at offset 0; decompress it first (zstd -d)`);
    }
    // One bank, read in chunks so files above 2 GiB work; chunks are frame multiples.
    const chunks: Uint8Array[] = [];
    let off = 0;
    while (off < size) {
      const n = Math.min(CHUNK, size - off);
      const buf = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, buf, got, n - got, off + got);
        if (r === 0) {
          throw new MemoryError(
            "EBANK_READ",
            `--mem ${spec.file}: truncated at offset 0x${(off + got).toString(16)} (expected 0x${size.toString(16)} bytes)`,
          );
        }
        got += r;
      }
      chunks.push(buf);
      off += n;
    }
    addChunks(mem, spec, chunks, size);
  } finally {
    closeSync(fd);
  }
}

function addChunks(mem: PhysMem, spec: BankSpec, chunks: Uint8Array[], size: number): void {
  // Check overlap for the whole bank first, then add chunk by chunk.
  const base = Number(spec.pa);
  for (const o of mem.bankList()) {
    if (base < o.base + o.size && o.base < base + size) {
      throw new MemoryError(
        "EBANK_OVERLAP",
        `--mem ${spec.file}@0x${base.toString(16)} (0x${size.toString(16)} bytes) overlaps ${o.source}@0x${o.base.toString(16)} (0x${o.size.toString(16)} bytes)`,
      );
    }
  }
  let pa = spec.pa;
  chunks.forEach((c, i) => {
    mem.addBank(pa, c, chunks.length === 1 ? spec.file : `${spec.file}[chunk ${i}]`);
    pa += BigInt(c.byteLength);
  });
}

/** Load several `FILE@PA` banks into a fresh memory. */
export function loadMemory(specs: readonly (string | BankSpec)[]): PhysMem {
  const mem = new PhysMem();
  for (const s of specs) loadBank(mem, typeof s === "string" ? parseBankSpec(s) : s);
  return mem;
}

/** Write [pa, pa+size) to a file atomically (temp file + rename). Unbacked bytes are zero. */
export function saveImage(mem: PhysMem, file: string, pa: bigint, size: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const out = Buffer.alloc(size);
  for (let off = 0; off < size; off += FRAME_SIZE) {
    const n = Math.min(FRAME_SIZE, size - off);
    out.set(mem.readBytes(pa + BigInt(off), n), off);
  }
  writeFileSync(tmp, out);
  renameSync(tmp, file);
}
