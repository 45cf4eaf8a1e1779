/**
 * sparse-dump-raw / -elf / -kdump / -gz: `vmsa dump` (kernel half) of sparse dumps of
 * 1, 16, 64 and 256 GiB (gzip raw images: 1 and 4 GiB) whose only data are a real kernel's tables (the linux-6.1-4k48 fixture's table pages and
 * its VMCOREINFO page, at their PAs in a RAM bank starting at 0x40000000 and declared as large as
 * the file). Each dump runs in a child process under /usr/bin/time: max RSS, wall and CPU time.
 * Memory and time must follow the tables, not the file (issue 11 §1: < 200 MB at 256 GiB).
 *
 * The files are sparse (ftruncate; a few hundred KiB on disk each) in $VMSA_BENCH_DIR or the
 * system temp directory, and deleted after each size. Environment:
 *   VMSA_BENCH_SIZES=1,16   sizes in GiB (default 1,16,64,256)
 *   VMSA_BENCH_GZ_SIZES=1   sizes of the gzip images in GiB (default 1,4: gzip has no random
 *                           access, so vmsa inflates the whole stream once; time grows with the size)
 *   VMSA_BENCH_VMSA=path    the vmsa.js to measure (default this checkout's bin/vmsa.js), e.g. an
 *                           older build for a before/after table
 * The raw image is given VMCOREINFO's facts on the command line (--no-vmcoreinfo --kernel-version):
 * without them vmsa scans all RAM for VMCOREINFO, which reads the whole file. The ELF core carries
 * VMCOREINFO as a PT_NOTE, as kdump and QEMU write it.
 */
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { buildElfCore, parseElfCoreBytes } from "../src/dump/elfcore.js";
import { writeDiskDump } from "../test/dump/diskdump/write.js";

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, "../..");
const FIX = join(ROOT, "test/fixtures/real-kernel/linux-6.1-4k48");
const BASE = 0x4000_0000;
const GIB = 1024 * 1024 * 1024;

interface Measure {
  gib: number;
  max_rss_mb: number;
  wall_s: number;
  cpu_s: number;
  exit: number;
}

interface Tables {
  pages: { pa: number; data: Uint8Array }[];
  vmcoreinfo: Uint8Array;
}

/** The fixture's table pages (and the VMCOREINFO page, found by its text) at their PAs. */
function tables(): Tables {
  const bytes = gunzipSync(readFileSync(join(FIX, "tables.core.gz")));
  const core = parseElfCoreBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), "tables.core.gz");
  const pages = core.segments.map((s) => ({ pa: Number(s.paddr), data: bytes.subarray(s.offset, s.offset + s.filesz) }));
  let vmcoreinfo: Uint8Array | undefined;
  for (const p of pages) {
    for (let o = 0; o < p.data.length; o += 4096) {
      const head = Buffer.from(p.data.subarray(o, o + 10)).toString("latin1");
      if (head === "OSRELEASE=") {
        const page = p.data.subarray(o, o + 4096);
        const nul = page.indexOf(0);
        vmcoreinfo = page.subarray(0, nul < 0 ? page.length : nul);
      }
    }
  }
  if (!vmcoreinfo) throw new Error("lazy-dump bench: no VMCOREINFO page in the fixture");
  return { pages, vmcoreinfo };
}

/** A sparse file of `size` bytes with `parts` written at their offsets. */
function sparse(file: string, size: number, parts: { off: number; data: Uint8Array }[]): void {
  const fd = openSync(file, "w");
  try {
    ftruncateSync(fd, size);
    for (const p of parts) writeSync(fd, p.data, 0, p.data.length, p.off);
  } finally {
    closeSync(fd);
  }
}

/**
 * A gzip image of `size` bytes: one gzip member per 64 MiB (RFC 1952 §2.2: a file is a series of
 * members), the all-zero ones compressed once and repeated, so a large file is made in seconds.
 */
function sparseGz(file: string, size: number, t: Tables): void {
  const chunk = 64 * 1024 * 1024;
  const zero = gzipSync(Buffer.alloc(chunk), { level: 1 });
  const fd = openSync(file, "w");
  try {
    for (let off = 0; off < size; off += chunk) {
      const inChunk = t.pages.filter((p) => p.pa - BASE < off + chunk && p.pa - BASE + p.data.length > off);
      if (inChunk.length === 0) {
        writeSync(fd, zero);
        continue;
      }
      const data = Buffer.alloc(chunk);
      for (const p of inChunk) data.set(p.data.subarray(0, Math.min(p.data.length, off + chunk - (p.pa - BASE))), p.pa - BASE - off);
      writeSync(fd, gzipSync(data, { level: 1 }));
    }
  } finally {
    closeSync(fd);
  }
}

/** A kdump-compressed file (zlib pages) of a `size`-byte RAM bank whose pages other than the tables are excluded (-d 31). */
function sparseKdump(file: string, size: number, t: Tables): void {
  const bytes = writeDiskDump(
    t.pages.map((p) => ({ pa: BigInt(p.pa), data: p.data })),
    { codec: "zlib", vmcoreinfo: Buffer.from(t.vmcoreinfo).toString("latin1"), ramPages: { first: BASE / 4096, count: size / 4096 } },
  );
  writeFileSync(file, bytes);
}

/** An ELF core: headers and the VMCOREINFO note from buildElfCore, one PT_LOAD of the whole bank, tables at their offsets. */
function sparseElf(file: string, size: number, t: Tables): void {
  // buildElfCore lays out one PT_LOAD of a one-page bank; its segment is then widened to `size`.
  const head = buildElfCore([{ pa: BigInt(BASE), data: new Uint8Array(4096) }], [{ name: "VMCOREINFO", type: 0, desc: t.vmcoreinfo }]);
  const dataOff = head.length - 4096;
  const hdr = Buffer.from(head.subarray(0, dataOff));
  const ph = 64 + 56; // the PT_LOAD follows the PT_NOTE
  hdr.writeBigUInt64LE(BigInt(size), ph + 32);
  hdr.writeBigUInt64LE(BigInt(size), ph + 40);
  sparse(file, dataOff + size, [{ off: 0, data: hdr }, ...t.pages.map((p) => ({ off: dataOff + p.pa - BASE, data: p.data }))]);
}

function timed(args: string[], vmsa: string): { m: Omit<Measure, "gib">; out: string; err: string } {
  const r = spawnSync("/usr/bin/time", ["-v", process.execPath, vmsa, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const field = (name: string): string => {
    const m = new RegExp(`${name}: (.*)`).exec(r.stderr);
    if (!m?.[1]) throw new Error(`lazy-dump bench: /usr/bin/time gave no "${name}" (${r.stderr.slice(-400)})`);
    return m[1].trim();
  };
  const wall = field("Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)")
    .split(":")
    .reduce((a, x) => a * 60 + Number(x), 0);
  const cpu = Number(field("User time \\(seconds\\)")) + Number(field("System time \\(seconds\\)"));
  const rss = Number(field("Maximum resident set size \\(kbytes\\)")) / 1024;
  return {
    m: { max_rss_mb: Math.round(rss), wall_s: Number(wall.toFixed(2)), cpu_s: Number(cpu.toFixed(2)), exit: r.status ?? -1 },
    out: r.stdout.replace(/^.*(memory|raw|ELF core).*$/gm, ""),
    err: r.stderr
      .split("\n")
      .filter((l) => l.startsWith("vmsa:"))
      .join("\n"),
  };
}

export async function run(): Promise<{ workload: string; ops_per_s: number; sizes: Measure[] }[]> {
  const sizes = (process.env.VMSA_BENCH_SIZES ?? "1,16,64,256").split(",").map(Number);
  const gzSizes = (process.env.VMSA_BENCH_GZ_SIZES ?? "1,4").split(",").map(Number);
  const vmsa = process.env.VMSA_BENCH_VMSA ?? join(ROOT, "bin/vmsa.js");
  const dir = mkdtempSync(join(process.env.VMSA_BENCH_DIR ?? tmpdir(), "vmsa-bench-lazy-"));
  const t = tables();
  const regs = join(FIX, "registers.txt");
  const results: { workload: string; ops_per_s: number; sizes: Measure[] }[] = [];
  let reference: string | undefined;
  try {
    const st = statfsSync(dir);
    if (st.bavail * st.bsize < 256 * 1024 * 1024) throw new Error(`lazy-dump bench: less than 256 MiB free in ${dir}`);
    for (const kind of ["raw", "elf", "kdump", "gz"] as const) {
      const measures: Measure[] = [];
      for (const gib of kind === "gz" ? gzSizes : sizes) {
        const file = join(dir, `ram-${gib}g.${kind}`);
        const size = gib * GIB;
        if (kind === "raw")
          sparse(
            file,
            size,
            t.pages.map((p) => ({ off: p.pa - BASE, data: p.data })),
          );
        else if (kind === "elf") sparseElf(file, size, t);
        else if (kind === "kdump") sparseKdump(file, size, t);
        else sparseGz(file, size, t);
        try {
          const args =
            kind === "raw" || kind === "gz"
              ? ["dump", `${file}@40000000`, "--regs", regs, "--no-vmcoreinfo", "--kernel-version", "6.1.0-56-arm64"]
              : ["dump", file, "--regs", regs];
          const { m, out, err } = timed(args, vmsa);
          if (m.exit !== 0) throw new Error(`lazy-dump bench: ${kind} ${gib} GiB: vmsa dump exited ${m.exit}: ${err.trim()}`);
          // Every size and format prints the same dump.
          reference ??= out;
          if (out !== reference) throw new Error(`lazy-dump bench: ${kind} ${gib} GiB prints another dump`);
          measures.push({ gib, ...m });
          process.stderr.write(`${kind} ${gib} GiB: ${JSON.stringify(m)}\n`);
        } finally {
          rmSync(file, { force: true });
        }
      }
      const last = measures[measures.length - 1];
      results.push({
        workload: `sparse-dump-${kind}`,
        ops_per_s: last && last.wall_s > 0 ? Number((1 / last.wall_s).toFixed(3)) : 0,
        sizes: measures,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
