/**
 * Page codecs of kdump-compressed files, chosen by each page descriptor's flags:
 * zlib (pako's port of zlib's inflate), LZO1X (./lzo1x.ts), snappy (snappyjs), zstd (fzstd): all
 * pure JS, so the browser UI's worker decodes pages with the same code as the CLI. The libraries
 * are loaded on demand (../../io/codec-libs.ts): only a dump whose pages need one loads it.
 */
import { codecLib } from "../../io/codec-libs.js";
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

// zlib's return codes.
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_FINISH = 4;

/** A zlib stream (compress2's format) inflated into at most `pageSize` bytes; throws when corrupt or longer. */
function inflatePage(data: Uint8Array, pageSize: number): Uint8Array {
  const { inflate: zinflate, ZStream } = codecLib("zlib");
  const z = new ZStream();
  // windowBits 15: the zlib wrapper (header and Adler-32 checked by inflate).
  if (zinflate.inflateInit2(z, 15) !== Z_OK) throw new Error("cannot start the inflater");
  const out = new Uint8Array(pageSize);
  z.input = data;
  z.next_in = 0;
  z.avail_in = data.length;
  z.output = out;
  z.next_out = 0;
  z.avail_out = pageSize;
  const status = zinflate.inflate(z, Z_FINISH);
  zinflate.inflateEnd(z);
  if (status !== Z_STREAM_END) {
    if (z.avail_out === 0) throw new Error(`decompresses to more than ${pageSize} bytes`);
    throw new Error(z.msg || "unexpected end of file");
  }
  return out.subarray(0, z.next_out);
}

type Decoder = (data: Uint8Array, pageSize: number) => Uint8Array;

/**
 * The decoder of `codec`, its library loaded (throws CodecNotLoadedError otherwise: get the decoder
 * outside any catch that reports corrupt data).
 */
export function pageDecoder(codec: PageCodec): Decoder {
  let decode: Decoder;
  switch (codec) {
    case "raw":
      decode = (data) => data;
      break;
    case "zlib":
      codecLib("zlib");
      decode = inflatePage;
      break;
    case "lzo":
      decode = lzo1xDecompress;
      break;
    case "snappy": {
      const snappy = codecLib("snappy");
      decode = (data, pageSize) => snappy.uncompress(data, pageSize);
      break;
    }
    case "zstd": {
      const zstd = codecLib("zstd");
      decode = (data, pageSize) => zstd.decompress(data, new Uint8Array(pageSize));
      break;
    }
  }
  return (data, pageSize) => {
    const out = decode(data, pageSize);
    if (out.length !== pageSize) throw new Error(`decompressed to ${out.length} bytes, expected ${pageSize}`);
    return out;
  };
}

/** Decompress one page to exactly `pageSize` bytes; throws (any Error) when the data is corrupt. */
export function decodePage(codec: PageCodec, data: Uint8Array, pageSize: number): Uint8Array {
  return pageDecoder(codec)(data, pageSize);
}
