/**
 * The input layer for real dumps: turns files (raw RAM banks, ELF cores, snapshot descriptors),
 * register files, VMCOREINFO and command-line overrides into memory + registers + the kernel
 * layout, recording where every value came from.
 *
 * Input specs (each string in `inputs`):
 *   FILE@PA[:SIZE] raw RAM loaded at PA (the last `@` separates; PA hex, 0x optional; SIZE hex or 64M)
 *   FILE.json    a snapshot descriptor (machine.json): { registers: {...}, memory: {file, load_at}
 *                | [{file, load_at} | {core}], kernel?: "Linux 6.1...", kernel_config?: {apeiGhes,
 *                sdei, kpti, relocatable}, va_bits?: CONFIG_ARM64_VA_BITS } (examples/snapshot.schema.json);
 *                memory files and cores may be gzip-compressed
 *   FILE         an ELF core (QEMU dump-guest-memory, kdump vmcore), or a kdump-compressed file
 *                (makedumpfile -c/-l/-p/-z, dump-guest-memory -z/-l/-s; flattened or not)
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ParseError } from "../arch/errors.js";
import type { LinuxPieEra } from "../arch/linux-pie.js";
import { parseSize, parseU64 } from "../arch/u64.js";
import { FileError, fsReason, gunzipBytes, isGzip, readHeadBytes, readInputFile, readTextFile } from "../io/files.js";
import { loadBank, looksLikeBankSpec, parseBankSpec } from "../mem/banks.js";
import { fdAccess } from "../mem/file-access.js";
import { addFileFrames } from "../mem/filesource.js";
import { inflateToTemp } from "../mem/gunzip-file.js";
import { FRAME_SIZE, PhysMem } from "../mem/physmem.js";
import { isDiskDump } from "./diskdump/describe.js";
import { loadDiskDump } from "./diskdump/open-file.js";
import { DumpFormatError, type ElfNote, loadElfCore, loadElfCoreFd, openDumpFile, sniffCompressed } from "./elfcore.js";
import { type KconfigFacts, kconfigFacts } from "./kconfig.js";
import { DEBIAN_CONFIG, type KernelConfig } from "./layout.js";
import { isDumpFile, loadDumpAccess } from "./load-source.js";
import { type LoadedInputs, type OpenedDump, resolveLoaded } from "./open-loaded.js";
import { stderrProgress } from "./progress.js";
import { parseRegisterFile, type RegValues, type SourcedRegs } from "./regfile.js";

export {
  checkKernelVersion,
  type LoadedInputs,
  type OpenedDump,
  type ResolveOptions,
  resolveLoaded,
  type SourceKey,
} from "./open-loaded.js";

export interface OpenDumpOptions {
  /** Input specs: FILE@PA, snapshot .json, or ELF core (see the module comment). */
  readonly inputs: readonly string[];
  /** Register file (gdb `info registers` output, NAME=VALUE lines, or JSON). */
  readonly regsFile?: string;
  /** Register preset name (e.g. linux-4k-48) used as the base before files and overrides. */
  readonly preset?: string;
  /** Command-line overrides: win over everything else. */
  readonly regs?: RegValues;
  /** Linux's PIE registers (TCR2/PIR/PIRE0) below register files and flags (--linux-pie). */
  readonly linuxPie?: LinuxPieEra;
  /** A file with VMCOREINFO text (overrides notes and the RAM scan); false disables VMCOREINFO. */
  readonly vmcoreinfo?: string | false;
  /** Kernel release/version for the layout, e.g. "6.12" (default: from VMCOREINFO / snapshot). */
  readonly kernelVersion?: string;
  /** CONFIG_ARM64_VA_BITS (default: VMCOREINFO NUMBER(VA_BITS), else the TTBR1 VA size). */
  readonly vaBits?: number;
  readonly fixmapSize?: bigint;
  readonly kernelConfig?: KernelConfig;
  /** A kernel config file (`--kernel-config`: .config, /boot/config-*, /proc/config.gz). */
  readonly kernelConfigFile?: string;
  /** System.map or `nm vmlinux` output (`--system-map`). */
  readonly systemMap?: string;
  /** Search the memory for the kernel's IKCONFIG (default true; false while a live guest's memory is unread). */
  readonly searchDump?: boolean;
  /** Override TCR_EL1.T0SZ / T1SZ after everything else (VA size 64-n). */
  readonly t0sz?: number;
  readonly t1sz?: number;
  /** Show progress on stderr (default: when stderr is a TTY). */
  readonly progress?: boolean;
  /** Bytes of the pool keeping frames read on demand from dump files (default 64 MiB). */
  readonly pageCacheBytes?: number;
}

interface Snapshot {
  regs: SourcedRegs;
  kernel?: string;
  config?: KernelConfig;
  vaBits?: number;
  fixmapSize?: bigint;
}

/**
 * Add a raw image at `pa` (all of it RAM), read on demand; a gzip-compressed one (detected by its
 * magic) is inflated to a temporary file first (gunzip-file.ts).
 */
function addRawFile(mem: PhysMem, pa: bigint, path: string, what: string): void {
  if (pa % BigInt(FRAME_SIZE) !== 0n) throw new ParseError(`${path}: load address 0x${pa.toString(16)} is not 4 KiB aligned`);
  let fd: number;
  let size: number;
  if (isGzip(readHeadBytes(path, 16, what))) {
    ({ fd, size } = inflateToTemp(path, what));
  } else {
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw new FileError("EFILE_READ", `${what} ${path}: cannot open (${fsReason(e)})`);
    }
    size = fstatSync(fd).size;
  }
  if (size === 0) {
    closeSync(fd);
    return;
  }
  try {
    addFileFrames(mem, fd, path, [{ pa: Number(pa), offset: 0, length: size, name: path }], size);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The fields of a snapshot descriptor (kept in step with examples/snapshot.schema.json). */
export const SNAPSHOT_KEYS = {
  top: ["registers", "memory", "kernel", "kernel_config", "va_bits", "fixmap_size"],
  memoryEntry: ["file", "load_at", "core"],
  kernelConfig: ["apeiGhes", "sdei", "kpti", "relocatable"],
} as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Load an ELF core named by a path, gzip-compressed or not (detected by its magic). */
function loadCoreFile(mem: PhysMem, path: string, notes: ElfNote[], what: string): number {
  const head = readHeadBytes(path, 16, what);
  if (isDiskDump(head)) {
    notes.push(...loadDiskDump(mem, path, head).notes);
    return 1;
  }
  if (isGzip(head)) {
    const { fd } = inflateToTemp(path, what);
    let kept = false;
    try {
      const r = loadElfCoreFd(mem, fd, path);
      kept = r.kept;
      notes.push(...r.core.notes);
      return r.core.segments.length;
    } finally {
      if (!kept) closeSync(fd);
    }
  }
  const core = loadElfCore(mem, path);
  notes.push(...core.notes);
  return core.segments.length;
}

/**
 * A snapshot descriptor (examples/snapshot.schema.json): memory as raw files at load addresses
 * and/or ELF cores (gzip allowed), registers as hex strings, and what is known of the kernel.
 * Other top-level keys are descriptive metadata and are ignored.
 */
function loadSnapshot(mem: PhysMem, file: string, notes: ElfNote[]): Snapshot {
  const text = readTextFile(file, "snapshot");
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new ParseError(`${file}: not a snapshot descriptor (${(e as Error).message})`);
  }
  if (!isObject(obj)) throw new ParseError(`${file}: not a snapshot descriptor (expected a JSON object)`);
  const dir = dirname(file);
  const mems = Array.isArray(obj.memory) ? obj.memory : obj.memory !== undefined ? [obj.memory] : [];
  if (mems.length === 0) {
    throw new ParseError(`${file}: "memory" is missing (expected {"file": ..., "load_at": "0x..."}, {"core": ...} or a list of them)`);
  }
  mems.forEach((m: unknown, i: number) => {
    const where = `${file}: memory[${i}]`;
    if (!isObject(m)) throw new ParseError(`${where}: expected an object {"file", "load_at"} or {"core"}`);
    for (const k of Object.keys(m)) {
      if (!(SNAPSHOT_KEYS.memoryEntry as readonly string[]).includes(k)) {
        throw new ParseError(`${where}: unknown field "${k}" (expected ${SNAPSHOT_KEYS.memoryEntry.join(", ")})`);
      }
    }
    if (m.core !== undefined) {
      if (typeof m.core !== "string" || m.file !== undefined || m.load_at !== undefined) {
        throw new ParseError(`${where}: expected {"core": "FILE"} alone (an ELF core carries its own addresses)`);
      }
      loadCoreFile(mem, resolve(dir, m.core), notes, `${where}.core`);
      return;
    }
    if (typeof m.file !== "string" || typeof m.load_at !== "string") {
      throw new ParseError(`${where}: expected {"file": "FILE", "load_at": "0x..."} (load_at a hex string)`);
    }
    const path = resolve(dir, m.file);
    addRawFile(mem, parseU64(m.load_at, `${where}.load_at`), path, `${where}.file`);
  });
  if (obj.registers !== undefined && !isObject(obj.registers))
    throw new ParseError(`${file}: "registers" must be an object of hex strings`);
  for (const [k, v] of Object.entries(obj.registers ?? {})) {
    // Checked before the object is re-serialised (a value nested thousands deep would overflow it).
    if (typeof v !== "string" && typeof v !== "number") {
      throw new ParseError(
        `${file}: registers.${k}: expected a hex string, got ${Array.isArray(v) ? "an array" : v === null ? "null" : typeof v}`,
      );
    }
  }
  const regs = obj.registers ? parseRegisterFile(JSON.stringify({ registers: obj.registers }), file) : { values: {}, sources: {} };
  const snap: Snapshot = { regs };
  if (obj.kernel !== undefined) {
    if (typeof obj.kernel !== "string") throw new ParseError(`${file}: "kernel" must be a string like "Linux 6.1.0-56-arm64"`);
    snap.kernel = obj.kernel;
  }
  if (obj.kernel_config !== undefined) {
    const kc = obj.kernel_config;
    if (!isObject(kc)) throw new ParseError(`${file}: "kernel_config" must be an object of booleans`);
    for (const [k, v] of Object.entries(kc)) {
      if (!(SNAPSHOT_KEYS.kernelConfig as readonly string[]).includes(k) || typeof v !== "boolean") {
        throw new ParseError(`${file}: kernel_config.${k}: expected one of ${SNAPSHOT_KEYS.kernelConfig.join(", ")} with a boolean value`);
      }
    }
    snap.config = { ...DEBIAN_CONFIG, ...(kc as Partial<KernelConfig>) };
  }
  if (obj.va_bits !== undefined) {
    if (typeof obj.va_bits !== "number" || !Number.isInteger(obj.va_bits) || obj.va_bits < 36 || obj.va_bits > 52) {
      throw new ParseError(`${file}: "va_bits" must be an integer 36..52 (CONFIG_ARM64_VA_BITS)`);
    }
    snap.vaBits = obj.va_bits;
  }
  if (obj.fixmap_size !== undefined) {
    if (typeof obj.fixmap_size !== "string") throw new ParseError(`${file}: "fixmap_size" must be a hex string like "0x407000"`);
    snap.fixmapSize = parseSize(obj.fixmap_size, `${file}: fixmap_size`);
  }
  return snap;
}

/** Load the memory of input specs (FILE@PA, snapshot .json, ELF core); see the module comment. */
export function loadInputs(inputs: readonly string[], showProgress: boolean, pageCacheBytes?: number): LoadedInputs {
  if (inputs.length === 0) throw new ParseError("no input: give FILE@PA banks, an ELF core, or a snapshot .json");
  const mem = new PhysMem(pageCacheBytes !== undefined ? { sourceCacheBytes: pageCacheBytes } : {});
  const elfNotes: ElfNote[] = [];
  const regSets: SourcedRegs[] = [];
  let kernelDesc: string | undefined;
  let snapConfig: KernelConfig | undefined;
  let snapVaBits: number | undefined;
  let snapFixmap: bigint | undefined;
  const memDesc: string[] = [];
  for (const spec of inputs) {
    if (looksLikeBankSpec(spec)) {
      loadBank(mem, parseBankSpec(spec));
      memDesc.push(`raw ${spec}`);
    } else if (spec.endsWith(".json")) {
      const snap = loadSnapshot(mem, spec, elfNotes);
      regSets.push(snap.regs);
      kernelDesc = snap.kernel ?? kernelDesc;
      snapConfig = snap.config ?? snapConfig;
      snapVaBits = snap.vaBits ?? snapVaBits;
      snapFixmap = snap.fixmapSize ?? snapFixmap;
      memDesc.push(`snapshot ${spec}`);
    } else {
      const head = readHeadBytes(spec, 16, "dump");
      if (isGzip(head)) {
        // A gzip-compressed ELF core (detected by the magic, whatever the file is called).
        const n = loadCoreFile(mem, spec, elfNotes, "dump");
        memDesc.push(`ELF core ${spec} (gzip, ${n} PT_LOAD)`);
        continue;
      }
      if (!isDumpFile(head)) {
        const c = sniffCompressed(head);
        if (c) throw new DumpFormatError("EDUMP_COMPRESSED", `${spec}: ${c} (offset 0)`);
        throw new DumpFormatError("EDUMP_FORMAT", `${spec}: not an ELF core (offset 0: expected \\x7fELF); for raw RAM write ${spec}@PA`);
      }
      const fd = openDumpFile(spec);
      const ra = fdAccess(fd, spec, fstatSync(fd).size);
      let kept = false;
      try {
        const p = stderrProgress(`loading ${spec}`, showProgress);
        const d = loadDumpAccess(mem, ra, head, p.update);
        p.done();
        kept = d?.kept ?? false;
        elfNotes.push(...(d?.notes ?? []));
        memDesc.push(d?.desc ?? spec);
      } finally {
        if (!kept) ra.close();
      }
    }
  }
  return { mem, elfNotes, regSets, kernelDesc, snapConfig, snapVaBits, snapFixmap, memory: memDesc.join(", ") };
}

/** Open a dump: memory from the inputs, registers from files/VMCOREINFO/overrides, and the kernel layout. */
export function openDump(opts: OpenDumpOptions): OpenedDump {
  const showProgress = opts.progress ?? process.stderr.isTTY === true;
  return openLoaded(loadInputs(opts.inputs, showProgress, opts.pageCacheBytes), opts);
}

/**
 * The rest of `openDump` once the memory is there (or, for a live guest, before it is fetched):
 * reads the files the options name and hands over to ./open-loaded.ts resolveLoaded.
 */
export function openLoaded(loaded: LoadedInputs, opts: OpenDumpOptions): OpenedDump {
  const showProgress = opts.progress ?? process.stderr.isTTY === true;
  const { inputs, regsFile, vmcoreinfo, kernelConfigFile, systemMap, progress: _p, pageCacheBytes: _c, ...rest } = opts;
  return resolveLoaded(loaded, {
    ...rest,
    what: inputs.join(" "),
    ...(vmcoreinfo === false
      ? { vmcoreinfo: false }
      : typeof vmcoreinfo === "string"
        ? { vmcoreinfo: { file: vmcoreinfo, text: readInputFile(vmcoreinfo, "--vmcoreinfo").toString("latin1") } }
        : {}),
    ...(regsFile !== undefined ? { regsText: { file: regsFile, text: readTextFile(regsFile, "--regs") } } : {}),
    ...(kernelConfigFile !== undefined
      ? { kernelConfigFile: { file: kernelConfigFile, facts: readKernelConfigFile(kernelConfigFile) } }
      : {}),
    ...(systemMap !== undefined
      ? { systemMap: { file: systemMap, text: readInputFile(systemMap, "--system-map").toString("latin1") } }
      : {}),
    scanProgress: (label: string) => stderrProgress(label, showProgress),
  });
}

/** A config file given by the user: text, or gzip (/proc/config.gz) detected by its magic. */
export function readKernelConfigFile(file: string): KconfigFacts {
  const raw = readInputFile(file, "--kernel-config");
  const data = isGzip(raw) ? gunzipBytes(raw, file, "--kernel-config") : raw;
  return kconfigFacts(data.toString("latin1"), `--kernel-config ${file}`);
}
