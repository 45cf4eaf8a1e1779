/**
 * Page codecs of kdump-compressed files, chosen by each page descriptor's flags:
 * zlib (node:zlib), LZO1X (./lzo1x.ts), snappy (snappyjs, pure JS), zstd (fzstd, pure JS).
 */
import { inflateSync } from "node:zlib";
import { decompress as zstdDecompress } from "fzstd";
import snappy from "snappyjs";
import { DUMP_DH_COMPRESSED_LZO, DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_ZSTD } from "./header.js";
import { lzo1xDecompress } from "./lzo1x.js";

export type PageCodec = "raw" | "zlib" | "lzo" | "snappy" | "zstd";

/** The codec a descriptor's flags name, or undefined for an unknown combination. */
export function codecOf(flags: number): PageCodec | undefined {
  switch (flags & (DUMP_DH_COMPRESSED_ZLIB | DUMP_DH_COMPRESSED_LZO | DUMP_DH_COMPRESSED_SNAPPY | DUMP_DH_COMPRESSED_ZSTD)) {
    case 0:
      return "raw";
    case DUMP_DH_COMPRESSED_ZLIB:
      return "zlib";
    case DUMP_DH_COMPRESSED_LZO:
      return "lzo";
    case DUMP_DH_COMPRESSED_SNAPPY:
      return "snappy";
    case DUMP_DH_COMPRESSED_ZSTD:
      return "zstd";
    default:
      return undefined;
  }
}

/** Decompress one page to exactly `pageSize` bytes; throws (any Error) when the data is corrupt. */
export function decodePage(codec: PageCodec, data: Uint8Array, pageSize: number): Uint8Array {
  let out: Uint8Array;
  switch (codec) {
    case "raw":
      out = data;
      break;
    case "zlib":
      out = inflateSync(data, { maxOutputLength: pageSize });
      break;
    case "lzo":
      out = lzo1xDecompress(data, pageSize);
      break;
    case "snappy":
      out = snappy.uncompress(data, pageSize);
      break;
    case "zstd":
      out = zstdDecompress(data, new Uint8Array(pageSize));
      break;
  }
  if (out.length !== pageSize) throw new Error(`decompressed to ${out.length} bytes, expected ${pageSize}`);
  return out;
}
