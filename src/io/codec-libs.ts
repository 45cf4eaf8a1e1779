/**
 * The decompression libraries the memory and dump readers use, loaded only when an input needs one
 * (issue 14: a command reading an uncompressed input never loads, compiles or runs them):
 * - zlib: pako's port of zlib's inflate (kdump zlib pages, gzip images and cores);
 * - gzip: pako's whole-stream `ungzip` (the IKCONFIG blob inside a dump);
 * - snappy: snappyjs; zstd: fzstd (kdump pages).
 * No Node APIs: the browser UI's worker uses the same readers. A reader asks for a library with
 * `codecLib` (synchronous). It is there when `loadCodecLibs` (dynamic import, anywhere) loaded it
 * before the read, or when a synchronous loader is installed (Node: ./codec-libs-node.ts, which
 * `require`s it on first use). Otherwise `codecLib` throws CodecNotLoadedError: a reader never
 * takes a missing library for bad data.
 */
import type Zinflate from "pako/lib/zlib/inflate.js";
import type ZStream from "pako/lib/zlib/zstream.js";

export interface CodecLibs {
  readonly zlib: { readonly inflate: typeof Zinflate; readonly ZStream: typeof ZStream };
  readonly gzip: { readonly ungzip: (data: Uint8Array) => Uint8Array };
  readonly snappy: { readonly uncompress: (compressed: Uint8Array, maxLength?: number) => Uint8Array };
  readonly zstd: { readonly decompress: (data: Uint8Array, out?: Uint8Array) => Uint8Array };
}
export type CodecLibName = keyof CodecLibs;
export const CODEC_LIB_NAMES: readonly CodecLibName[] = ["zlib", "gzip", "snappy", "zstd"];

export type SyncCodecLoader = <K extends CodecLibName>(name: K) => CodecLibs[K];

/** A reader asked for a library nobody loaded: a caller forgot `loadCodecLibs` (a bug, not bad input). */
export class CodecNotLoadedError extends Error {
  readonly code = "ECODEC_NOT_LOADED";
  constructor(readonly lib: CodecLibName) {
    super(`the ${lib} decompressor is not loaded (await loadCodecLibs(["${lib}"]) before reading)`);
    this.name = "CodecNotLoadedError";
  }
}

const loaded: { -readonly [K in CodecLibName]?: CodecLibs[K] } = {};
let syncLoader: SyncCodecLoader | undefined;
/** Every library load, in order (tests check what a read loaded). */
const loadLog: CodecLibName[] = [];

/** Install a synchronous loader (Node's `require`), used on a library's first `codecLib`. */
export function setSyncCodecLoader(loader: SyncCodecLoader | undefined): void {
  syncLoader = loader;
}

function keep<K extends CodecLibName>(name: K, lib: CodecLibs[K]): CodecLibs[K] {
  (loaded as Record<K, CodecLibs[K]>)[name] = lib;
  loadLog.push(name);
  return lib;
}

/** Load the libraries named (dynamic import; each once). */
export async function loadCodecLibs(names: readonly CodecLibName[]): Promise<void> {
  for (const name of names) {
    if (loaded[name] !== undefined) continue;
    switch (name) {
      case "zlib": {
        const [inflate, zstream] = await Promise.all([import("pako/lib/zlib/inflate.js"), import("pako/lib/zlib/zstream.js")]);
        keep("zlib", { inflate: inflate.default, ZStream: zstream.default });
        break;
      }
      case "gzip":
        keep("gzip", { ungzip: (await import("pako")).ungzip });
        break;
      case "snappy":
        keep("snappy", (await import("snappyjs")).default);
        break;
      case "zstd":
        keep("zstd", { decompress: (await import("fzstd")).decompress });
        break;
    }
  }
}

/** The library `name`: loaded before, or now by the synchronous loader; else CodecNotLoadedError. */
export function codecLib<K extends CodecLibName>(name: K): CodecLibs[K] {
  const lib = loaded[name] as CodecLibs[K] | undefined;
  if (lib !== undefined) return lib;
  if (syncLoader === undefined) throw new CodecNotLoadedError(name);
  return keep(name, syncLoader(name));
}

/** The libraries loaded so far, in load order. */
export function loadedCodecLibs(): readonly CodecLibName[] {
  return [...loadLog];
}
