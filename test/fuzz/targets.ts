/**
 * The input readers under fuzz, each with its real seed inputs (the committed fixtures and
 * examples) and the mutations that fit its format. A target's `run` feeds one mutated input to
 * the reader the way the CLI does (files are written to a scratch directory first).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import YAML from "yaml";
import { readMarkers } from "../../src/cli/dump.js";
import { buildElfCore, loadElfCore, readElfCore } from "../../src/dump/elfcore.js";
import { openDump } from "../../src/dump/inputs.js";
import { linuxLayout } from "../../src/dump/layout.js";
import { parseRegisterFile, regsFromVmcoreInfo } from "../../src/dump/regfile.js";
import { parseVmcoreInfo } from "../../src/dump/vmcoreinfo.js";
import { loadBank, parseBankSpec } from "../../src/mem/banks.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { parseScenario } from "../../src/scenario/format.js";
import { runScenario } from "../../src/scenario/run.js";
import { loadImage } from "../../web/src/lib/load.js";
import { parseImageSpec, parseRegisterText } from "../../web/src/lib/regs.js";
import { stages } from "./harness.js";
import {
  type BinarySeed,
  type Field,
  gzipSeed,
  mutatedBinary,
  mutatedGzip,
  mutatedJson,
  mutatedText,
  type TextSeed,
  yamlAttack,
} from "./mutate.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FIX = join(ROOT, "test/fixtures/real-kernel");

/** One generated input: where it came from (seed name) and its bytes. */
export interface FuzzInput {
  readonly seed: string;
  readonly bytes: Uint8Array;
}

export interface Target {
  readonly name: string;
  /** What is read: the reader functions this target calls. */
  readonly reads: string;
  readonly arbitrary: fc.Arbitrary<FuzzInput>;
  /** Inputs per CI run: a few seconds on an idle core (the slow readers load real cores). */
  readonly ciRuns: number;
  /** Feed one input to the reader; returns normally or throws. */
  run(input: FuzzInput): void | Promise<void>;
  /** File name a saved input gets (keeps the extension the CLI dispatches on). */
  readonly fileName: string;
  /** CLI arguments that read a file holding the input (for the CLI error-path sample). */
  cli(file: string): string[];
}

const text = (t: string): Uint8Array => new Uint8Array(Buffer.from(t, "utf8"));
const fromText = (a: fc.Arbitrary<{ seed: string; text: string }>): fc.Arbitrary<FuzzInput> =>
  a.map((x) => ({ seed: x.seed, bytes: text(x.text) }));

// ---------------------------------------------------------------- seeds

const realKernelDirs = (): string[] =>
  readdirSync(FIX, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);

/** The ELF layout a mutation should aim at: header fields, each program header's fields, each note header. */
export function elfSeed(name: string, bytes: Uint8Array): BinarySeed {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phnum = b.readUInt16LE(0x38);
  const fields: Field[] = [
    { name: "EI_CLASS", at: 4, width: 1 },
    { name: "EI_DATA", at: 5, width: 1 },
    { name: "e_type", at: 0x10, width: 2 },
    { name: "e_machine", at: 0x12, width: 2 },
    { name: "e_phoff", at: 0x20, width: 8 },
    { name: "e_shoff", at: 0x28, width: 8 },
    { name: "e_phentsize", at: 0x36, width: 2 },
    { name: "e_phnum", at: 0x38, width: 2 },
    { name: "e_shnum", at: 0x3c, width: 2 },
  ];
  const boundaries = [0, 4, 16, 0x20, 0x38, 64, phoff + 56 * phnum, b.length];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + 56 * i;
    boundaries.push(o, o + 8, o + 32);
    fields.push(
      { name: `p_type#${i}`, at: o, width: 4 },
      { name: `p_offset#${i}`, at: o + 8, width: 8 },
      { name: `p_paddr#${i}`, at: o + 24, width: 8 },
      { name: `p_filesz#${i}`, at: o + 32, width: 8 },
      { name: `p_memsz#${i}`, at: o + 40, width: 8 },
    );
    const type = b.readUInt32LE(o);
    const off = Number(b.readBigUInt64LE(o + 8));
    const sz = Number(b.readBigUInt64LE(o + 32));
    boundaries.push(off, off + 1, off + sz - 1, off + sz);
    if (type === 4) {
      // PT_NOTE: each note's namesz/descsz/type
      let p = off;
      while (p + 12 <= off + sz) {
        const namesz = b.readUInt32LE(p);
        const descsz = b.readUInt32LE(p + 4);
        fields.push(
          { name: `note@${p}.namesz`, at: p, width: 4 },
          { name: `note@${p}.descsz`, at: p + 4, width: 4 },
          { name: `note@${p}.type`, at: p + 8, width: 4 },
        );
        boundaries.push(p, p + 12);
        p += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
      }
    }
  }
  return { name, bytes, boundaries, fields, records: { at: phoff, size: 56, count: phnum } };
}

/** The real 6.1 core's VMCOREINFO text (found in its RAM) and its two table pages, for a small core with notes. */
function realVmcoreInfo(core: string): { text: string; pa: bigint } {
  const mem = new PhysMem();
  loadElfCore(mem, core);
  for (const pfn of mem.backedFrames()) {
    const bytes = mem.readBytes(BigInt(pfn) * 4096n, 4096);
    const t = Buffer.from(bytes).toString("latin1");
    if (t.startsWith("OSRELEASE=")) return { text: t.replace(/\0.*$/s, ""), pa: BigInt(pfn) * 4096n };
  }
  throw new Error(`${core}: no VMCOREINFO page`);
}

export interface Scratch {
  readonly dir: string;
  /** Real ELF cores (uncompressed), by name. */
  readonly cores: readonly { name: string; file: string; bytes: Uint8Array }[];
  /** A small core: the 6.1 TTBR1 root page and VMCOREINFO as a note plus an NT_PRSTATUS note. */
  readonly smallCore: Uint8Array;
  readonly vmcoreinfoTexts: readonly TextSeed[];
  dispose(): void;
}

let scratch: Scratch | undefined;

/** Seeds and the scratch directory, built once per process. */
export function getScratch(): Scratch {
  if (scratch) return scratch;
  const dir = mkdtempSync(join(tmpdir(), "vmsa-fuzz-"));
  const cores: { name: string; file: string; bytes: Uint8Array }[] = [];
  for (const d of ["linux-6.1-4k48", "linux-6.12-16k52"]) {
    const bytes = new Uint8Array(gunzipSync(readFileSync(join(FIX, d, "tables.core.gz"))));
    const file = join(dir, `${d}.core`);
    writeFileSync(file, bytes);
    cores.push({ name: d, file, bytes });
  }
  const base = cores[0] as { file: string; bytes: Uint8Array };
  const vi = realVmcoreInfo(base.file);
  const mem = new PhysMem();
  loadElfCore(mem, base.file);
  const root = 0x41858000n; // TTBR1_EL1 of test/fixtures/real-kernel/linux-6.1-4k48/registers.txt
  const smallCore = buildElfCore(
    [
      { pa: root, data: mem.readBytes(root, 4096) },
      { pa: vi.pa, data: mem.readBytes(vi.pa, 4096) },
    ],
    [
      { name: "CORE", type: 1, desc: new Uint8Array(392) },
      { name: "VMCOREINFO", type: 0, desc: new Uint8Array(Buffer.from(vi.text, "latin1")) },
    ],
  );
  writeFileSync(join(dir, "small.core"), smallCore);
  // Files the snapshot seeds name (examples/linux-6.1-4k48 banks, the 16k52 core, a gzipped bank).
  const ex = join(ROOT, "examples/linux-6.1-4k48");
  for (const f of readdirSync(ex)) if (f.endsWith(".bin")) writeFileSync(join(dir, f), readFileSync(join(ex, f)));
  writeFileSync(join(dir, "ram-40530000.bin.gz"), gzipSync(readFileSync(join(ex, "ram-40530000.bin"))));
  writeFileSync(join(dir, "tables.core.gz"), readFileSync(join(FIX, "linux-6.12-16k52", "tables.core.gz")));
  writeFileSync(join(dir, "small.core.gz"), gzipSync(smallCore));
  mkdirSync(join(dir, "subdir"));
  const viOther = [
    "OSRELEASE=6.12.117+deb12-arm64-16k",
    "PAGESIZE=16384",
    "SYMBOL(swapper_pg_dir)=ffff800082a4c000",
    "NUMBER(VA_BITS)=52",
    "NUMBER(kimage_voffset)=0xffff7fffc0000000",
    "NUMBER(PHYS_OFFSET)=0x40000000",
    "KERNELOFFSET=0",
    "NUMBER(TCR_EL1_T1SZ)=0x11",
    "",
  ].join("\n");
  scratch = {
    dir,
    cores,
    smallCore,
    vmcoreinfoTexts: [
      { name: "linux-6.1-4k48 VMCOREINFO", text: vi.text },
      { name: "6.12 16K VMCOREINFO", text: viOther },
    ],
    dispose() {
      rmSync(dir, { recursive: true, force: true });
      scratch = undefined;
    },
  };
  return scratch;
}

let counter = 0;
/** Write an input to a fresh file in the scratch directory. */
export function inputFile(s: Scratch, name: string, bytes: Uint8Array): string {
  const f = join(s.dir, `in-${process.pid}-${counter++}-${name}`);
  writeFileSync(f, bytes);
  return f;
}

async function withFile<T>(s: Scratch, name: string, bytes: Uint8Array, f: (file: string) => T | Promise<T>): Promise<T> {
  const file = inputFile(s, name, bytes);
  try {
    return await f(file);
  } finally {
    rmSync(file, { force: true });
  }
}

function regFileSeeds(): TextSeed[] {
  const out: TextSeed[] = [];
  for (const d of realKernelDirs()) {
    for (const f of readdirSync(join(FIX, d))) {
      if (f.endsWith("registers.txt")) out.push({ name: `${d}/${f}`, text: readFileSync(join(FIX, d, f), "utf8") });
    }
  }
  const m = JSON.parse(readFileSync(join(ROOT, "test/e2e/fixtures/linux-6.1-4k48/machine.json"), "utf8")) as { registers: unknown };
  out.push({ name: "e2e machine.json registers", text: JSON.stringify({ registers: m.registers }, null, 1) });
  out.push({ name: "NAME=VALUE lines", text: "TTBR1_EL1=0x3a000040530001\nTCR_EL1=0x14001b5b5503510\nmair: 0x40044ffff\n" });
  return out;
}

function snapshotSeeds(): TextSeed[] {
  const regs = (JSON.parse(readFileSync(join(ROOT, "test/e2e/fixtures/linux-6.1-4k48/machine.json"), "utf8")) as { registers: unknown })
    .registers;
  const fixture = JSON.parse(readFileSync(join(FIX, "linux-6.1-4k48", "machine.json"), "utf8")) as Record<string, unknown>;
  const example = readFileSync(join(ROOT, "examples/linux-6.1-4k48/example.json"), "utf8");
  return [
    { name: "real-kernel machine.json (core .gz)", text: JSON.stringify({ ...fixture, memory: { core: "tables.core.gz" } }) },
    {
      name: "rodata before.json",
      text: readFileSync(join(FIX, "linux-6.1-4k48-rodata", "before.json"), "utf8").replace("before.core.gz", "tables.core.gz"),
    },
    {
      name: "banks + registers",
      text: JSON.stringify({
        kernel: "Linux 6.1.0 arm64",
        registers: regs,
        memory: [
          { file: "ram-40530000.bin.gz", load_at: "0x40530000" },
          { file: "ram-4064d000.bin", load_at: "0x4064d000" },
          { file: "ram-7ffd7000.bin", load_at: "0x7ffd7000" },
          { file: "ram-7fff7000.bin", load_at: "0x7fff7000" },
        ],
        kernel_config: { apeiGhes: true, sdei: true, kpti: true, relocatable: true },
        va_bits: 48,
      }),
    },
    { name: "small core", text: JSON.stringify({ memory: { core: "small.core" } }) },
    { name: "small core .gz", text: JSON.stringify({ memory: [{ core: "small.core.gz" }] }) },
    { name: "examples/linux-6.1-4k48/example.json", text: example },
  ];
}

function scenarioSeeds(): TextSeed[] {
  const out: TextSeed[] = [];
  for (const d of ["examples/scenarios", "examples/kernel"]) {
    for (const f of readdirSync(join(ROOT, d))) {
      if (f.endsWith(".yaml")) out.push({ name: `${d}/${f}`, text: readFileSync(join(ROOT, d, f), "utf8") });
    }
  }
  return out;
}

/** A scenario as JSON (a YAML subset), for the wrong-type mutations. */
function scenarioJsonSeeds(seeds: readonly TextSeed[]): TextSeed[] {
  return seeds
    .filter((s) => s.text.length < 5000)
    .map((s) => {
      const v = parseScenarioAsJs(s.text);
      return { name: `${s.name} as JSON`, text: JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x)) };
    });
}

function parseScenarioAsJs(t: string): unknown {
  // The scenario examples are plain YAML; their JS form is what the parser checks.
  return YAML.parse(t, { intAsBigInt: true });
}

function markerSeeds(): TextSeed[] {
  const lines = (vaBits: number, pageShift: number, release: string, version: [number, number]): string =>
    linuxLayout({ version, pageShift, vaBits, release })
      .markers.map((m) => `0x${m.address.toString(16)} ${m.name}`)
      .join("\n");
  return [
    { name: "6.1 4K 48-bit markers", text: `# Linux 6.1 layout\n${lines(48, 12, "6.1", [6, 1])}\n` },
    { name: "6.12 16K 52-bit markers", text: lines(52, 14, "6.12", [6, 12]) },
    { name: "hex without 0x", text: "ffff000000000000 Linear Mapping start\nffff800000000000 Linear Mapping end\n" },
  ];
}

// ---------------------------------------------------------------- targets

export function targets(): Target[] {
  const s = getScratch();
  const elfSeeds = [...s.cores.map((c) => elfSeed(c.name, c.bytes)), elfSeed("small core with notes", s.smallCore)];
  const regSeeds = regFileSeeds();
  const scSeeds = scenarioSeeds();
  const gzSeeds = [
    gzipSeed("tables.core.gz (16k52)", new Uint8Array(readFileSync(join(s.dir, "tables.core.gz")))),
    gzipSeed("small.core.gz", new Uint8Array(readFileSync(join(s.dir, "small.core.gz")))),
    gzipSeed("ram-40530000.bin.gz", new Uint8Array(readFileSync(join(s.dir, "ram-40530000.bin.gz")))),
  ];
  const ramSeeds: BinarySeed[] = readdirSync(s.dir)
    .filter((f) => /^ram-.*\.bin$/.test(f))
    .map((f) => {
      const bytes = new Uint8Array(readFileSync(join(s.dir, f)));
      return { name: f, bytes, boundaries: [0, 1, 2, 4, 4096, bytes.length], fields: [] };
    });
  const regsFile = join(FIX, "linux-6.1-4k48", "registers.txt");

  return [
    {
      name: "elf-core",
      ciRuns: 100,
      reads: "readElfCore, loadElfCore, openDump (src/dump/elfcore.ts, inputs.ts)",
      arbitrary: mutatedBinary(elfSeeds),
      fileName: "fuzz.core",
      async run(i) {
        const f = inputFile(s, "fuzz.core", i.bytes);
        // The same core gzipped, named by a snapshot (the in-memory ELF reader).
        const gz = inputFile(s, "fuzz.core.gz", gzipSync(i.bytes, { level: 1 }));
        const snap = inputFile(s, "snap.json", text(JSON.stringify({ memory: { core: gz.slice(s.dir.length + 1) } })));
        try {
          await stages(
            () => readElfCore(f),
            () => loadElfCore(new PhysMem(), f),
            () => openDump({ inputs: [f], progress: false }),
            () => openDump({ inputs: [snap], progress: false }),
          );
        } finally {
          for (const x of [f, gz, snap]) rmSync(x, { force: true });
        }
      },
      cli: (f) => ["dump", f],
    },
    {
      name: "vmcoreinfo",
      ciRuns: 100,
      reads: "parseVmcoreInfo, regsFromVmcoreInfo, the kernel layout (src/dump/vmcoreinfo.ts, regfile.ts, layout.ts)",
      arbitrary: fromText(mutatedText(s.vmcoreinfoTexts, ["NUMBER(VA_BITS)=99999999999", "PAGESIZE=65536", "NUMBER(TCR_EL1_T1SZ)=0"])),
      fileName: "vmcoreinfo.txt",
      async run(i) {
        const t = Buffer.from(i.bytes).toString("latin1");
        await withFile(s, "vmcoreinfo.txt", i.bytes, (f) =>
          stages(
            () => regsFromVmcoreInfo(parseVmcoreInfo(t, "fuzz")),
            () => openDump({ inputs: [join(s.dir, "small.core")], vmcoreinfo: f, progress: false }),
          ),
        );
      },
      cli: (f) => ["dump", join(getScratch().dir, "small.core"), "--vmcoreinfo", f],
    },
    {
      name: "regfile",
      ciRuns: 120,
      reads: "parseRegisterFile, completeRegs (src/dump/regfile.ts)",
      arbitrary: fc.oneof(fromText(mutatedText(regSeeds)), fromText(mutatedJson(regSeeds.filter((r) => r.text.startsWith("{"))))),
      fileName: "registers.txt",
      async run(i) {
        await withFile(s, "registers.txt", i.bytes, (f) =>
          stages(
            () => parseRegisterFile(Buffer.from(i.bytes).toString("utf8"), "fuzz"),
            () => openDump({ inputs: [join(s.dir, "small.core")], regsFile: f, vmcoreinfo: false, progress: false }),
          ),
        );
      },
      cli: (f) => ["dump", join(getScratch().dir, "small.core"), "--regs", f, "--no-vmcoreinfo"],
    },
    {
      name: "snapshot",
      ciRuns: 120,
      reads: "openDump on a snapshot .json (src/dump/inputs.ts loadSnapshot)",
      arbitrary: fc.oneof(fromText(mutatedJson(snapshotSeeds())), fromText(mutatedText(snapshotSeeds()))),
      fileName: "snapshot.json",
      async run(i) {
        await withFile(s, "snapshot.json", i.bytes, (f) => openDump({ inputs: [f], regsFile, progress: false }));
      },
      cli: (f) => ["dump", f, "--regs", regsFile],
    },
    {
      name: "gzip",
      ciRuns: 80,
      reads: "gzip cores and banks named by a snapshot (src/dump/inputs.ts readMaybeGz)",
      arbitrary: mutatedGzip(gzSeeds),
      fileName: "fuzz.gz",
      async run(i) {
        const rel = (f: string): string => f.slice(s.dir.length + 1);
        const gz = inputFile(s, "fuzz.core.gz", i.bytes);
        const core = inputFile(s, "core.json", text(JSON.stringify({ memory: { core: rel(gz) } })));
        const bank = inputFile(s, "bank.json", text(JSON.stringify({ memory: { file: rel(gz), load_at: "0x40000000" } })));
        try {
          await stages(
            () => openDump({ inputs: [core], regsFile, progress: false }),
            () => openDump({ inputs: [bank], regsFile, progress: false }),
          );
        } finally {
          for (const x of [gz, core, bank]) rmSync(x, { force: true });
        }
      },
      cli: (f) => {
        const snap = inputFile(getScratch(), "snap.json", text(JSON.stringify({ memory: { core: f } })));
        return ["dump", snap, "--regs", regsFile];
      },
    },
    {
      name: "web-load",
      ciRuns: 40,
      reads: "loadImage for raw and gzip images (web/src/lib/load.ts)",
      arbitrary: fc.oneof(mutatedGzip(gzSeeds), mutatedBinary(ramSeeds)),
      fileName: "image.bin",
      async run(i) {
        await loadImage(new PhysMem(), new Blob([new Uint8Array(i.bytes)]), 0x4000_0000n, "fuzz");
      },
      cli: (f) => ["dump", `${f}@0x40000000`, "--regs", regsFile],
    },
    {
      name: "banks",
      ciRuns: 120,
      reads: "parseBankSpec, loadBank (src/mem/banks.ts)",
      arbitrary: fc.oneof(
        mutatedBinary(ramSeeds),
        fromText(
          mutatedText([
            { name: "FILE@PA", text: "ram-40530000.bin@0x40530000" },
            { name: "FILE@PA:SIZE", text: "ram-7fff7000.bin@0x7fff7000:0x9000" },
            { name: "FILE@decimal", text: "ram-4064d000.bin@1080348672" },
          ]),
        ).map((x) => ({ seed: `spec ${x.seed}`, bytes: x.bytes })),
      ),
      fileName: "ram.bin",
      async run(i) {
        if (i.seed.startsWith("spec ")) {
          loadBank(new PhysMem(), parseBankSpec(`${s.dir}/${Buffer.from(i.bytes).toString("utf8")}`));
        } else {
          await withFile(s, "ram.bin", i.bytes, (f) =>
            stages(
              () => loadBank(new PhysMem(), parseBankSpec(`${f}@0x40530000`)),
              () => loadBank(new PhysMem(), parseBankSpec(`${f}@0x40530000:0x1000`)),
            ),
          );
        }
      },
      cli: (f) => ["dump", `${f}@0x40530000`, "--regs", regsFile],
    },
    {
      name: "markers",
      ciRuns: 120,
      reads: "readMarkers (src/cli/dump.ts --markers FILE)",
      arbitrary: fc.oneof(fromText(mutatedText(markerSeeds())), mutatedBinary([elfSeed("small core as a markers file", s.smallCore)])),
      fileName: "markers.txt",
      async run(i) {
        await withFile(s, "markers.txt", i.bytes, (f) => readMarkers(f));
      },
      cli: (f) => ["dump", join(getScratch().dir, "small.core"), "--markers", f],
    },
    {
      name: "scenario-run",
      ciRuns: 60,
      reads: "parseScenario then runScenario: the initial memory a scenario builds (src/scenario/run.ts)",
      arbitrary: fc.oneof(
        { weight: 4, arbitrary: fromText(mutatedText(scSeeds.filter((x) => x.text.length < 25000))) },
        { weight: 1, arbitrary: fromText(mutatedJson(scenarioJsonSeeds(scSeeds))) },
      ),
      fileName: "scenario.yaml",
      run(i) {
        runScenario(parseScenario(Buffer.from(i.bytes).toString("utf8"), "fuzz.yaml"));
      },
      cli: (f) => ["check", f],
    },
    {
      name: "web-regs",
      ciRuns: 120,
      reads: "parseRegisterText, parseImageSpec (web/src/lib/regs.ts)",
      arbitrary: fc.oneof(fromText(mutatedText(regSeeds)), fromText(mutatedJson(regSeeds.filter((r) => r.text.startsWith("{"))))),
      fileName: "registers.txt",
      async run(i) {
        const t = Buffer.from(i.bytes).toString("utf8");
        await stages(
          () => parseRegisterText(t, "fuzz"),
          () => parseImageSpec(t.split("\n")[0] ?? ""),
        );
      },
      cli: (f) => ["dump", join(getScratch().dir, "small.core"), "--regs", f, "--no-vmcoreinfo"],
    },
    {
      name: "scenario",
      ciRuns: 60,
      reads: "parseScenario, YAML and JSON (src/scenario/format.ts)",
      arbitrary: fc.oneof(
        { weight: 6, arbitrary: fromText(mutatedText(scSeeds)) },
        { weight: 2, arbitrary: fromText(mutatedJson(scenarioJsonSeeds(scSeeds))) },
        { weight: 1, arbitrary: fromText(yamlAttack) },
      ),
      fileName: "scenario.yaml",
      run(i) {
        parseScenario(Buffer.from(i.bytes).toString("utf8"), "fuzz.yaml");
      },
      cli: (f) => ["check", f],
    },
  ];
}
