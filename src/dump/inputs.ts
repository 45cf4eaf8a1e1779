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
// Node: the readers' decompressors are required on first use (no async preparation needed here).
import "../io/codec-libs-node.js";
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
import type { KernelConfig } from "./layout.js";
import { isDumpFile, loadDumpAccess } from "./load-source.js";
import { type LoadedInputs, type OpenedDump, resolveLoaded } from "./open-loaded.js";
import { stderrProgress } from "./progress.js";
import type { RegValues, SourcedRegs } from "./regfile.js";
import { type ParsedSnapshot, parseSnapshot } from "./snapshot.js";

export {
  checkKernelVersion,
  type LoadedInputs,
  type OpenedDump,
  type ResolveOptions,
  resolveLoaded,
  type SourceKey,
} from "./open-loaded.js";
export { SNAPSHOT_KEYS } from "./snapshot.js";

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
 * A snapshot descriptor (./snapshot.ts parseSnapshot) with its memory loaded: files relative to
 * the descriptor, cores gzip or not.
 */
function loadSnapshot(mem: PhysMem, file: string, notes: ElfNote[]): ParsedSnapshot {
  const dir = dirname(file);
  return parseSnapshot(readTextFile(file, "snapshot"), file, (m) => {
    if (m.kind === "core") loadCoreFile(mem, resolve(dir, m.file), notes, m.where);
    else addRawFile(mem, m.pa, resolve(dir, m.file), m.where);
  });
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
