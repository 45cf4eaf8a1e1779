/**
 * Node (the CLI): openDump loads a decompressor only when an input needs it (issue 14: startup),
 * through the synchronous loader src/dump/inputs.ts installs: an uncompressed ELF core loads none,
 * nor does a small gzip core (Node's native zlib inflates it, src/mem/gunzip-file.ts), which
 * reads as the plain core; a kdump file with zlib pages loads pako's inflater and nothing else.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { buildElfCore } from "../../src/dump/elfcore-reader.js";
import { openDump } from "../../src/dump/inputs.js";
import { loadedCodecLibs } from "../../src/io/codec-libs.js";
import { writeDiskDump } from "./diskdump/write.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-lazy-codecs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const data = new Uint8Array(0x2000);
data[0x1008] = 0x5a;
const core = buildElfCore([{ pa: 0x4000_0000n, data }]);
const regs = { TTBR1_EL1: 0x4000_0000n, TCR_EL1: 0x10n << 16n };

describe("openDump loads decompressors on demand", () => {
  it("an uncompressed or small gzip ELF core loads none; zlib kdump pages load only the zlib inflater", () => {
    const plain = join(dir, "plain.core");
    writeFileSync(plain, core);
    const p = openDump({ inputs: [plain], regs, vmcoreinfo: false, progress: false });
    expect(p.mem.read64(0x4000_1008n)).toBe(0x5an);
    expect(loadedCodecLibs()).toEqual([]);
    const z = join(dir, "gz.core");
    writeFileSync(z, gzipSync(core));
    const d = openDump({ inputs: [z], regs, vmcoreinfo: false, progress: false });
    expect(d.mem.read64(0x4000_1008n)).toBe(0x5an);
    expect(loadedCodecLibs()).toEqual([]);
    const k = join(dir, "zlib.kdump");
    writeFileSync(k, writeDiskDump([{ pa: 0x4000_0000n, data }], { codec: "zlib" }));
    const kd = openDump({ inputs: [k], regs, vmcoreinfo: false, progress: false });
    expect(kd.mem.read64(0x4000_1008n)).toBe(0x5an);
    expect(loadedCodecLibs()).toEqual(["zlib"]);
  });
});
