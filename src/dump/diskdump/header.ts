/**
 * The headers of a kdump-compressed ("diskdump") file, as makedumpfile and QEMU write them
 * (layout facts from makedumpfile's diskdump_mod.h and crash's diskdump.h, checked on files
 * written by QEMU 10 and makedumpfile 1.7.2; 64-bit little-endian writer):
 *
 *   block 0: disk_dump_header: signature "KDUMP   " (8), header_version i32 @8, utsname 6×65
 *            bytes @12, timestamp (2×i64) @408, status u32 @424 (compression: zlib 1, lzo 2,
 *            snappy 4, zstd 0x20; incomplete 8), block_size i32 @428 (the dump's page size),
 *            sub_hdr_size i32 @432 (blocks), bitmap_blocks u32 @436, max_mapnr u32 @440, ...,
 *            nr_cpus i32 @460.
 *   block 1: kdump_sub_header: phys_base u64 @0, dump_level i32 @8, split i32 @12,
 *            start_pfn/end_pfn u64 @16/@24, offset/size_vmcoreinfo u64 @32/@40 (version ≥ 3),
 *            offset/size_note u64 @48/@56 (≥ 4), offset/size_eraseinfo @64/@72 (≥ 5),
 *            start_pfn_64/end_pfn_64/max_mapnr_64 u64 @80/@88/@96 (≥ 6).
 *   then bitmap_blocks blocks of bitmaps (first half: pages that exist; second half: pages
 *   dumped), then one 24-byte page descriptor per dumped page in PFN order, then page data.
 */
import { latin1 } from "../../mem/random-access.js";
import { DumpFormatError } from "../elfcore-reader.js";
import type { ByteSource } from "./source.js";

export const KDUMP_SIGNATURE = "KDUMP   ";

/** Compression flags in the header status and in each page descriptor. */
export const DUMP_DH_COMPRESSED_ZLIB = 0x1;
export const DUMP_DH_COMPRESSED_LZO = 0x2;
export const DUMP_DH_COMPRESSED_SNAPPY = 0x4;
export const DUMP_DH_COMPRESSED_INCOMPLETE = 0x8;
export const DUMP_DH_COMPRESSED_ZSTD = 0x20;

export interface DiskDumpHeader {
  readonly version: number;
  readonly release: string;
  readonly status: number;
  readonly blockSize: number;
  readonly subHdrBlocks: number;
  readonly bitmapBlocks: number;
  readonly maxMapnr: number;
  readonly physBase: bigint;
  readonly dumpLevel: number;
  /** [offset, size] of the VMCOREINFO text and of the ELF notes; size 0 when absent. */
  readonly vmcoreinfo: readonly [number, number];
  readonly notes: readonly [number, number];
  /** File offsets of the bitmaps (each half of bitmap_blocks) and of the page descriptors. */
  readonly bitmap1Offset: number;
  readonly bitmap2Offset: number;
  readonly bitmapBytes: number;
  readonly descOffset: number;
}

const HEADER_SIZE = 464;
const SUB_HEADER_SIZE = 104;

function str(b: Uint8Array, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return latin1(s.subarray(0, nul < 0 ? s.length : nul));
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function u64(b: Uint8Array, off: number, file: string, field: string, base: number): number {
  const v = view(b).getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 0x${(base + off).toString(16)} (${field}): ${v} is out of range`);
  }
  return Number(v);
}

export function readDiskDumpHeader(src: ByteSource): DiskDumpHeader {
  const f = src.file;
  const h = src.read(0, HEADER_SIZE, "the kdump header");
  const sig = latin1(h.subarray(0, 8));
  const hv = view(h);
  if (sig !== KDUMP_SIGNATURE) {
    throw new DumpFormatError("EDUMP_FORMAT", `${f}: offset 0 (signature): expected "KDUMP   ", got ${JSON.stringify(sig)}`);
  }
  const version = hv.getInt32(8, true);
  const status = hv.getUint32(424, true);
  const blockSize = hv.getInt32(428, true);
  const subHdrBlocks = hv.getInt32(432, true);
  const bitmapBlocks = hv.getUint32(436, true);
  if (version < 1 || version > 64)
    throw new DumpFormatError("EDUMP_FORMAT", `${f}: offset 0x8 (header_version): expected 1..64, got ${version}`);
  // block_size is the dumped kernel's page size: 4K, 16K or 64K on arm64 (QEMU writes 64K).
  if (![4096, 16384, 65536].includes(blockSize)) {
    throw new DumpFormatError("EDUMP_FORMAT", `${f}: offset 0x1ac (block_size): expected 4096, 16384 or 65536, got ${blockSize}`);
  }
  if (subHdrBlocks < 1 || subHdrBlocks > 1 << 20) {
    throw new DumpFormatError("EDUMP_FORMAT", `${f}: offset 0x1b0 (sub_hdr_size): expected 1.. blocks, got ${subHdrBlocks}`);
  }
  if (bitmapBlocks === 0 || bitmapBlocks % 2 !== 0) {
    throw new DumpFormatError("EDUMP_FORMAT", `${f}: offset 0x1b4 (bitmap_blocks): expected a non-zero even count, got ${bitmapBlocks}`);
  }
  const sh = src.read(blockSize, SUB_HEADER_SIZE, "the kdump sub-header");
  const sv = view(sh);
  const physBase = sv.getBigUint64(0, true);
  const dumpLevel = sv.getInt32(8, true);
  const split = sv.getInt32(12, true);
  if (split !== 0) {
    throw new DumpFormatError(
      "EDUMP_FORMAT",
      `${f}: offset 0x${(blockSize + 12).toString(16)} (split): a split dump (makedumpfile --split) is one part of several; reassemble it with \`makedumpfile --reassemble\``,
    );
  }
  let maxMapnr = hv.getUint32(440, true);
  if (version >= 6) maxMapnr = u64(sh, 96, f, "max_mapnr_64", blockSize);
  const vmcoreinfo: [number, number] =
    version >= 3 ? [u64(sh, 32, f, "offset_vmcoreinfo", blockSize), u64(sh, 40, f, "size_vmcoreinfo", blockSize)] : [0, 0];
  const notes: [number, number] =
    version >= 4 ? [u64(sh, 48, f, "offset_note", blockSize), u64(sh, 56, f, "size_note", blockSize)] : [0, 0];
  const bitmapBytes = (bitmapBlocks / 2) * blockSize;
  if (Math.ceil(maxMapnr / 8) > bitmapBytes) {
    throw new DumpFormatError(
      "EDUMP_FORMAT",
      `${f}: offset 0x1b4 (bitmap_blocks): ${bitmapBlocks} blocks cannot hold max_mapnr ${maxMapnr} pages`,
    );
  }
  const bitmap1Offset = blockSize * (1 + subHdrBlocks);
  return {
    version,
    release: str(h, 12 + 65 * 2, 65),
    status,
    blockSize,
    subHdrBlocks,
    bitmapBlocks,
    maxMapnr,
    physBase,
    dumpLevel,
    vmcoreinfo,
    notes,
    bitmap1Offset,
    bitmap2Offset: bitmap1Offset + bitmapBytes,
    bitmapBytes,
    descOffset: bitmap1Offset + 2 * bitmapBytes,
  };
}
