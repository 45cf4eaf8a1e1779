/**
 * Dump files read on demand (raw FILE@PA images, ELF cores, snapshot memory files): the same
 * memory as the eager gzip path, whatever the page cache size; only the pages walks touch are
 * read; a file that ends early is bad input (exit 2) when the data is needed, and a table past
 * the end of a raw image is missing data (exit 3), never zeros.
 */
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parseElfCoreBytes } from "../../src/dump/elfcore.js";
import { openDump } from "../../src/dump/inputs.js";
import { ptdump } from "../../src/dump/ptdump.js";
import { FRAME_SIZE } from "../../src/mem/physmem.js";
import { compileRegs } from "../../src/walk/context.js";
import { halfBase, mappingRuns } from "../../src/walk/range.js";
import { accessCode, Walker } from "../../src/walk/walker.js";
import { vmsa } from "../cli/run.js";
import { propertyRuns } from "../helpers/property.js";

const FIX = join(import.meta.dirname, "../fixtures/real-kernel");
const tmp = mkdtempSync(join(tmpdir(), "vmsa-lazy-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Fixture directories holding a gzip'd ELF core of table pages and a register file. */
const fixtures = readdirSync(FIX, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .filter((n) => {
    try {
      readFileSync(join(FIX, n, "tables.core.gz"));
      readFileSync(join(FIX, n, "registers.txt"));
      return true;
    } catch {
      return false;
    }
  });

/** The fixture's core uncompressed (read on demand) and its PT_LOADs. */
function plainCore(name: string): { core: string; bytes: Buffer; regs: string } {
  const bytes = gunzipSync(readFileSync(join(FIX, name, "tables.core.gz")));
  const core = join(tmp, `${name}.core`);
  writeFileSync(core, bytes);
  return { core, bytes, regs: join(FIX, name, "registers.txt") };
}

/** A sparse raw image of [base, base+size) holding the core's PT_LOAD bytes at their PAs. */
function rawImage(name: string, bytes: Buffer, base: number, size: number): string {
  const parsed = parseElfCoreBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), name);
  const file = join(tmp, `${name}.raw`);
  const fd = openSync(file, "w");
  try {
    ftruncateSync(fd, size);
    for (const s of parsed.segments) writeSync(fd, bytes, s.offset, s.filesz, Number(s.paddr) - base);
  } finally {
    closeSync(fd);
  }
  return file;
}

describe("dump files read on demand", () => {
  expect(fixtures.length).toBeGreaterThan(3);

  it.each(fixtures)("%s: the plain ELF core read on demand through a 4-page cache gives the gzip (eager) ptdump", (name) => {
    const { core, regs } = plainCore(name);
    const eager = openDump({ inputs: [join(FIX, name, "tables.core.gz")], regsFile: regs, progress: false });
    const lazy = openDump({ inputs: [core], regsFile: regs, progress: false, pageCacheBytes: 4 * FRAME_SIZE });
    const want = ptdump(eager.mem, eager.regs, { markers: eager.markers ?? [] });
    expect(want.split("\n").length).toBeGreaterThan(20);
    expect(ptdump(lazy.mem, lazy.regs, { markers: lazy.markers ?? [] })).toBe(want);
    // Evictions happened and were read again: far more reads than a 4-page pool holds.
    expect(lazy.mem.sourceReads).toBeGreaterThan(4);
  });

  it("linux-6.1-4k48: a raw FILE@PA image (256 MiB, sparse) gives the ELF core's ptdump and `vmsa dump` output", async () => {
    const { core, bytes, regs } = plainCore("linux-6.1-4k48");
    const raw = rawImage("linux-6.1-4k48", bytes, 0x4000_0000, 0x1000_0000);
    const a = await vmsa("dump", core, "--regs", regs);
    const b = await vmsa("dump", `${raw}@40000000`, "--regs", regs, "--page-cache", "64K");
    expect(a.code).toBe(0);
    // Only the line naming the layout source.
    expect(b.err).toMatch(/^vmsa: note: layout and markers: [^\n]*\n$/);
    expect(b.code).toBe(0);
    expect(b.out.replaceAll(raw, "IN").replace(/raw \S+@40000000/, "X")).toBe(
      a.out.replaceAll(core, "IN").replace(/ELF core IN \(\d+ PT_LOAD\)/, "X"),
    );
    const snap = join(tmp, "raw.json");
    writeFileSync(snap, JSON.stringify({ memory: { file: raw, load_at: "0x40000000" } }));
    const viaSnap = openDump({ inputs: [snap], regsFile: regs, progress: false, pageCacheBytes: 8 * FRAME_SIZE });
    const viaCore = openDump({ inputs: [core], regsFile: regs, progress: false });
    expect(ptdump(viaSnap.mem, viaSnap.regs, { markers: viaSnap.markers ?? [] })).toBe(
      ptdump(viaCore.mem, viaCore.regs, { markers: viaCore.markers ?? [] }),
    );
  });

  it("only the pages a kernel-half dump touches are read from a 256 MiB image (VMCOREINFO given)", () => {
    const { bytes, regs } = plainCore("linux-6.1-4k48");
    const raw = rawImage("linux-6.1-4k48", bytes, 0x4000_0000, 0x1000_0000);
    // searchDump false: the IKCONFIG search (layout-source.ts) reads the kernel's read-only data
    // besides the tables; this counts what the walk itself reads.
    const d = openDump({
      inputs: [`${raw}@40000000`],
      regsFile: regs,
      vmcoreinfo: false,
      kernelVersion: "6.1",
      progress: false,
      searchDump: false,
    });
    ptdump(d.mem, d.regs, { markers: d.markers ?? [] });
    // The core holds 139 pages of tables; the image has 65536 pages.
    expect(d.mem.sourceReads).toBeGreaterThan(10);
    expect(d.mem.sourceReads).toBeLessThan(bytes.length / FRAME_SIZE);
  });

  it("random translations through a tiny cache equal the eager memory's (property)", () => {
    const { core, regs } = plainCore("linux-6.1-4k48");
    const eager = openDump({ inputs: [join(FIX, "linux-6.1-4k48", "tables.core.gz")], regsFile: regs, progress: false });
    const ctx = compileRegs(eager.regs);
    const runs = mappingRuns(eager.mem, ctx, halfBase(ctx.halves[1]), 0n);
    expect(runs.length).toBeGreaterThan(10);
    const acc = accessCode({ type: "read", el: 1 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.tuple(fc.nat(runs.length - 1), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 1, maxLength: 200 }),
        (frames, picks) => {
          const lazy = openDump({
            inputs: [core],
            regsFile: regs,
            progress: false,
            vmcoreinfo: false,
            pageCacheBytes: frames * FRAME_SIZE,
          });
          const we = new Walker(eager.mem, eager.regs);
          const wl = new Walker(lazy.mem, lazy.regs);
          for (const [r, f] of picks) {
            const run = runs[r];
            if (run === undefined) continue;
            const va = run.va + ((BigInt(Math.floor(f * Number(run.size))) & ~7n) % run.size);
            const hi = Number(va >> 32n) >>> 0;
            const lo = Number(va & 0xffffffffn) >>> 0;
            const fe = we.walkRaw(hi, lo, acc);
            const fl = wl.walkRaw(hi, lo, acc);
            expect([fl, wl.paHi, wl.paLo]).toEqual([fe, we.paHi, we.paLo]);
          }
        },
      ),
      { numRuns: propertyRuns(25) },
    );
  });

  it("--page-cache below one page is bad input (exit 2, one line)", async () => {
    const { core, regs } = plainCore("linux-6.1-4k48");
    const r = await vmsa("dump", core, "--regs", regs, "--page-cache", "1K");
    expect(r.code).toBe(2);
    expect(r.err).toBe("vmsa: error: --page-cache 1K: expected a size from 4K to 1T\n");
  });

  it("a core cut short is one `vmsa: error:` line, exit 2", async () => {
    const { bytes, regs } = plainCore("linux-6.1-4k48");
    const cut = join(tmp, "cut.core");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 3 * FRAME_SIZE));
    const r = await vmsa("dump", cut, "--regs", regs);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: .*cut\.core: truncated at offset 0x[0-9a-f]+: PT_LOAD #\d+ .*\n$/);
  });

  it("a core that shrinks after it was opened: the walk's read is one error naming the offset and PA, not zeros", () => {
    const { core, regs } = plainCore("linux-6.1-4k48");
    const d = openDump({ inputs: [core], regsFile: regs, progress: false, vmcoreinfo: false, kernelVersion: "6.1" });
    truncateSync(core, 4096);
    expect(() => ptdump(d.mem, d.regs)).toThrow(/truncated at offset 0x[0-9a-f]+: PA 0x[0-9a-f]+ .*PT_LOAD #\d+/);
  });

  it("a table page past the end of a raw image is missing data: `vmsa dump` exits 3, the image is not padded with zeros", async () => {
    const { bytes, regs } = plainCore("linux-6.1-4k48");
    // The image ends at 0x4ff00000: the tables the core holds above it are gone.
    const raw = rawImage("linux-6.1-4k48", bytes, 0x4000_0000, 0x1000_0000);
    truncateSync(raw, 0x0ff0_0000);
    const r = await vmsa("dump", `${raw}@40000000`, "--regs", regs, "--no-vmcoreinfo", "--kernel-version", "6.1");
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/MISSING table at PA 0x4ff[0-9a-f]{5} \(not in the input\)/);
    expect(r.err).toMatch(/tables reached by the walk are not in the input/);
  });
});
