/**
 * The readers' decompressors are loaded on demand (issue 14: startup), the browser's way: no
 * synchronous loader is installed in this file (nothing here imports src/dump/inputs.ts nor
 * src/io/codec-libs-node.ts), so a page can only decode after `prepareDumpAccess` loaded its codec.
 * A kdump page's codec is named by its descriptor flags (makedumpfile's DUMP_DH_COMPRESSED_*).
 */
import { describe, expect, it } from "vitest";
import { buildElfCore } from "../../src/dump/elfcore-reader.js";
import { codecLibsFor, loadDumpAccess, prepareDumpAccess } from "../../src/dump/load-source.js";
import { CodecNotLoadedError, loadedCodecLibs } from "../../src/io/codec-libs.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { bytesAccess } from "../../src/mem/random-access.js";
import { writeDiskDump } from "./diskdump/write.js";

const PA = 0x4000_0000n;
const page = new Uint8Array(0x1000).map((_, i) => (i * 7 + 3) & 0xff);

function kdump(codec: "zlib" | "snappy"): { mem: PhysMem; head: Uint8Array; bytes: Uint8Array } {
  const bytes = new Uint8Array(writeDiskDump([{ pa: PA, data: page }], { codec }));
  return { mem: new PhysMem(), head: bytes.subarray(0, 16), bytes };
}

describe("decompressors loaded on demand (no synchronous loader: the browser UI's path)", () => {
  it("a compressed kdump page does not decode before its codec is loaded: CodecNotLoadedError, not corrupt data", () => {
    const { mem, head, bytes } = kdump("zlib");
    expect(loadDumpAccess(mem, bytesAccess(bytes, "z.kdump"), head)?.desc).toMatch(/kdump-compressed z\.kdump/);
    let thrown: unknown;
    try {
      mem.readBytes(PA, 16);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CodecNotLoadedError);
    expect((thrown as CodecNotLoadedError).code).toBe("ECODEC_NOT_LOADED");
    expect(loadedCodecLibs()).toEqual([]);
  });

  it("after prepareDumpAccess the same zlib and snappy pages decode to the bytes written", async () => {
    for (const codec of ["zlib", "snappy"] as const) {
      const { mem, head, bytes } = kdump(codec);
      await prepareDumpAccess(head);
      loadDumpAccess(mem, bytesAccess(bytes, `${codec}.kdump`), head);
      expect(mem.readBytes(PA, 0x1000)).toEqual(page);
    }
    expect(loadedCodecLibs()).toEqual(expect.arrayContaining(["zlib", "snappy", "zstd", "gzip"]));
  });

  it("an ELF core needs no page codec (only the IKCONFIG inflater), raw RAM none", () => {
    const core = buildElfCore([{ pa: PA, data: page }]);
    expect(codecLibsFor(core.subarray(0, 16))).toEqual(["gzip"]);
    expect(codecLibsFor(page.subarray(0, 16))).toEqual([]);
    expect(codecLibsFor(kdump("zlib").head)).toEqual(expect.arrayContaining(["zlib", "snappy", "zstd"]));
  });
});
