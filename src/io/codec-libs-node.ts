/**
 * Node: the decompression libraries of ./codec-libs.ts are `require`d on first use, so synchronous
 * readers (openDump, gzip banks) work without an async preparation and commands whose inputs are
 * not compressed never load them (issue 14: startup). Importing this module installs the loader.
 */
import { createRequire } from "node:module";
import { type CodecLibName, type CodecLibs, type SyncCodecLoader, setSyncCodecLoader } from "./codec-libs.js";

const require = createRequire(import.meta.url);

function requireLib(name: CodecLibName): CodecLibs[CodecLibName] {
  switch (name) {
    case "zlib":
      return {
        inflate: require("pako/lib/zlib/inflate.js") as CodecLibs["zlib"]["inflate"],
        ZStream: require("pako/lib/zlib/zstream.js") as CodecLibs["zlib"]["ZStream"],
      };
    case "gzip":
      return { ungzip: (require("pako") as CodecLibs["gzip"]).ungzip };
    case "snappy":
      return require("snappyjs") as CodecLibs["snappy"];
    case "zstd":
      return { decompress: (require("fzstd") as CodecLibs["zstd"]).decompress };
  }
}

setSyncCodecLoader(requireLib as SyncCodecLoader);
