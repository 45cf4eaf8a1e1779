/**
 * Types for the part of pako 2.1.0 used here (the package ships none): its top-level ungzip
 * (ikconfig.ts), and for gunzip-file.ts and the kdump zlib pages the low-level zlib port: a
 * z_stream and the inflate entry points, as in zlib.
 */
declare module "pako" {
  /** Inflate a whole gzip stream; throws (a string or Error) when it is damaged. */
  export function ungzip(data: Uint8Array): Uint8Array;
}

declare module "pako/lib/zlib/zstream.js" {
  class ZStream {
    input: Uint8Array | null;
    next_in: number;
    avail_in: number;
    output: Uint8Array | null;
    next_out: number;
    avail_out: number;
    msg: string;
  }
  export default ZStream;
}

declare module "pako/lib/zlib/inflate.js" {
  import type ZStream from "pako/lib/zlib/zstream.js";
  const inflate: {
    inflateInit2(strm: ZStream, windowBits: number): number;
    inflate(strm: ZStream, flush: number): number;
    inflateEnd(strm: ZStream): number;
  };
  export default inflate;
}
