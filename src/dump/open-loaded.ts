/**
 * From loaded memory to an opened dump, without Node APIs (the CLI's ./inputs.ts and the browser
 * UI's worker both call it): VMCOREINFO (a given text, else the ELF note, else a scan of RAM),
 * registers merged from presets, VMCOREINFO, snapshots, register text and overrides with where each
 * came from, and the kernel layout with its ptdump markers (./layout-source.ts).
 */
import { ParseError } from "../arch/errors.js";
import { type LinuxPieEra, linuxPieRegisters } from "../arch/linux-pie.js";
import { presetByName, type Regs } from "../arch/registers.js";
import type { PhysMem } from "../mem/physmem.js";
import { latin1 } from "../mem/random-access.js";
import { compileRegs } from "../walk/context.js";
import type { ElfNote } from "./elfcore-reader.js";
import type { KconfigFacts } from "./kconfig.js";
import { type KernelConfig, type KernelLayout, type KernelVersion, parseKernelVersion } from "./layout.js";
import { type LayoutSource, resolveLayout } from "./layout-source.js";
import type { Marker } from "./ptdump.js";
import {
  completeRegs,
  mergeRegs,
  parseRegisterFile,
  type RegName,
  type RegValues,
  regsFromVmcoreInfo,
  type SourcedRegs,
} from "./regfile.js";
import { parseVmcoreInfo, scanVmcoreInfo, type VmcoreInfo, vmKernelOffset, vmNumber, vmValue } from "./vmcoreinfo.js";

/** What resolveLoaded needs besides the memory: the options of OpenDumpOptions, files already read. */
export interface ResolveOptions {
  /** Register preset name (e.g. linux-4k-48) used as the base before files and overrides. */
  readonly preset?: string;
  /** Command-line overrides: win over everything else. */
  readonly regs?: RegValues;
  /** Linux's PIE registers (TCR2/PIR/PIRE0) below register files and flags (--linux-pie). */
  readonly linuxPie?: LinuxPieEra;
  /** A VMCOREINFO text (overrides notes and the RAM scan); false disables VMCOREINFO. */
  readonly vmcoreinfo?: { readonly file: string; readonly text: string } | false;
  /** Register text (gdb `info registers` output, NAME=VALUE lines, or JSON) and its file name. */
  readonly regsText?: { readonly file: string; readonly text: string };
  /** Kernel release/version for the layout, e.g. "6.12" (default: from VMCOREINFO / snapshot). */
  readonly kernelVersion?: string;
  /** CONFIG_ARM64_VA_BITS (default: VMCOREINFO NUMBER(VA_BITS), else the TTBR1 VA size). */
  readonly vaBits?: number;
  readonly fixmapSize?: bigint;
  readonly kernelConfig?: KernelConfig;
  /** A kernel config file's facts (`--kernel-config`). */
  readonly kernelConfigFile?: { readonly file: string; readonly facts: KconfigFacts };
  /** System.map or `nm vmlinux` output (`--system-map`). */
  readonly systemMap?: { readonly file: string; readonly text: string };
  /** Search the memory for the kernel's IKCONFIG (default true; false while a live guest's memory is unread). */
  readonly searchDump?: boolean;
  /** Override TCR_EL1.T0SZ / T1SZ after everything else (VA size 64-n). */
  readonly t0sz?: number;
  readonly t1sz?: number;
  /** What the inputs were, for register errors. */
  readonly what: string;
  /** Progress of the RAM scan for VMCOREINFO (the CLI: on stderr). */
  readonly scanProgress?: (label: string) => { update: (done: number, total: number) => void; done: () => void };
}

export type SourceKey = RegName | "memory" | "vmcoreinfo" | "layout";

export interface OpenedDump {
  readonly mem: PhysMem;
  readonly regs: Regs;
  /** Where each register, the memory, VMCOREINFO and the layout came from. */
  readonly sources: Partial<Record<SourceKey, string>>;
  readonly vmcoreinfo: VmcoreInfo | undefined;
  readonly layout: KernelLayout | undefined;
  /** ptdump markers for the layout (undefined when the kernel version is unknown). */
  readonly markers: readonly Marker[] | undefined;
  /** Where the layout and markers came from (./layout-source.ts). */
  readonly layoutSource: LayoutSource;
  /** Notes for the user (assumptions made, things not found). */
  readonly notes: readonly string[];
}

/** A kernel release given by the user: `6.12`, `6.1.0-56-arm64`, `6.12.117+deb12-arm64-16k`. */
export function checkKernelVersion(text: string): KernelVersion {
  const v = /^\d{1,2}\.\d{1,3}(?:\.\d+)?(?:[-+~][A-Za-z0-9_.+~-]*)?$/.test(text.trim()) ? parseKernelVersion(text) : undefined;
  if (!v) throw new ParseError(`--kernel-version "${text}": expected a version like 6.12 or 6.1.0-56-arm64`);
  return v;
}

function osVersion(
  vi: VmcoreInfo | undefined,
  kernel: string | undefined,
  override: string | undefined,
): { v: KernelVersion; release: string; from: string } | undefined {
  if (override) {
    const v = checkKernelVersion(override);
    return { v, release: override, from: "--kernel-version" };
  }
  const rel = vi ? vmValue(vi, "OSRELEASE") : undefined;
  if (rel) {
    const v = parseKernelVersion(rel);
    if (v) return { v, release: rel, from: `VMCOREINFO OSRELEASE=${rel}` };
  }
  if (kernel) {
    const m = /Linux\s+(\d+\.\d+[^\s,()]*)/.exec(kernel);
    if (m?.[1]) {
      const v = parseKernelVersion(m[1]);
      if (v) return { v, release: m[1], from: `snapshot "kernel": ${m[1]}` };
    }
  }
  return undefined;
}

/** Memory (and what the snapshots said) from input specs, before any register is looked at. */
export interface LoadedInputs {
  readonly mem: PhysMem;
  /** ELF notes of the cores (VMCOREINFO, NT_PRSTATUS, ...). */
  readonly elfNotes: readonly ElfNote[];
  /** Registers the snapshot descriptors gave, in input order. */
  readonly regSets: readonly SourcedRegs[];
  readonly kernelDesc: string | undefined;
  readonly snapConfig: KernelConfig | undefined;
  readonly snapVaBits: number | undefined;
  readonly snapFixmap: bigint | undefined;
  /** Where the memory came from, for `sources.memory`. */
  readonly memory: string;
}

/**
 * The rest of `openDump` once the memory is there (or, for a live guest, before it is fetched:
 * the PhysMem is filled afterwards): VMCOREINFO, registers with their sources, the layout. The
 * files the options name are already read (./inputs.ts openLoaded reads them for the CLI).
 */
export function resolveLoaded(loaded: LoadedInputs, opts: ResolveOptions): OpenedDump {
  const { mem, elfNotes, regSets, kernelDesc, snapConfig, snapVaBits, snapFixmap, memory } = loaded;
  const notesOut: string[] = [];
  const sources: Partial<Record<SourceKey, string>> = { memory };

  // VMCOREINFO: explicit file, else ELF note, else RAM scan.
  let vi: VmcoreInfo | undefined;
  if (opts.vmcoreinfo !== false) {
    if (opts.vmcoreinfo !== undefined) {
      vi = parseVmcoreInfo(opts.vmcoreinfo.text, `file ${opts.vmcoreinfo.file}`);
    } else {
      const note = elfNotes.find((n) => n.name === "VMCOREINFO");
      if (note) {
        vi = parseVmcoreInfo(latin1(note.desc), `ELF note at offset 0x${note.offset.toString(16)}`);
      } else {
        const p = opts.scanProgress?.("scanning RAM for VMCOREINFO");
        vi = scanVmcoreInfo(mem, p?.update);
        p?.done();
        if (!vi) notesOut.push("no VMCOREINFO (no ELF note, none found in RAM)");
      }
    }
  }
  if (vi) sources.vmcoreinfo = vi.source;

  const base: SourcedRegs[] = [];
  if (opts.preset) {
    const p = presetByName(opts.preset).regs;
    const src = `preset ${opts.preset}`;
    const pie = p.tcr2 !== undefined ? { TCR2_EL1: p.tcr2, PIR_EL1: p.pir, PIRE0_EL1: p.pire0 } : {};
    base.push({
      values: { TTBR0_EL1: p.ttbr0, TTBR1_EL1: p.ttbr1, TCR_EL1: p.tcr, MAIR_EL1: p.mair, SCTLR_EL1: p.sctlr, ...pie },
      sources: {
        TTBR0_EL1: src,
        TTBR1_EL1: src,
        TCR_EL1: src,
        MAIR_EL1: src,
        SCTLR_EL1: src,
        ...(p.tcr2 !== undefined ? { TCR2_EL1: src, PIR_EL1: src, PIRE0_EL1: src } : {}),
      },
    });
    // A preset's zero TTBRs are placeholders: let VMCOREINFO or files supply real ones.
    delete base[0]?.values.TTBR1_EL1;
    delete base[0]?.values.TTBR0_EL1;
  }
  if (vi) base.push(regsFromVmcoreInfo(vi));
  if (opts.linuxPie) {
    const lp = linuxPieRegisters(opts.linuxPie);
    const src = `--linux-pie ${opts.linuxPie} (Linux __cpu_setup)`;
    base.push({
      values: { TCR2_EL1: lp.tcr2, PIR_EL1: lp.pir, PIRE0_EL1: lp.pire0 },
      sources: { TCR2_EL1: src, PIR_EL1: src, PIRE0_EL1: src },
    });
  }
  base.push(...regSets);
  if (opts.regsText) base.push(parseRegisterFile(opts.regsText.text, opts.regsText.file));
  if (opts.regs) {
    const cli: SourcedRegs = { values: { ...opts.regs }, sources: {} };
    for (const k of Object.keys(opts.regs) as RegName[]) (cli.sources as Record<string, string>)[k] = "command line";
    base.push(cli);
  }
  const done = completeRegs(mergeRegs(...base), opts.what);
  let regs = done.regs;
  Object.assign(sources, done.sources);
  for (const [n, shift, v] of [
    ["T0SZ", 0n, opts.t0sz],
    ["T1SZ", 16n, opts.t1sz],
  ] as const) {
    if (v === undefined) continue;
    regs = { ...regs, tcr: (regs.tcr & ~(0x3fn << shift)) | (BigInt(v) << shift) };
    sources.TCR_EL1 = `${sources.TCR_EL1 ?? "?"}; ${n}=${v} from the command line`;
  }

  // Layout: from the kernel's config in the dump, a config file, symbols, or defaults (./layout-source.ts).
  const ctx = compileRegs(regs);
  const ver = osVersion(vi, kernelDesc, opts.kernelVersion);
  const viVa = vi ? vmNumber(vi, "VA_BITS") : undefined;
  const dumpVa =
    viVa !== undefined
      ? { bits: Number(viVa), from: "VMCOREINFO" }
      : snapVaBits !== undefined
        ? { bits: snapVaBits, from: "the snapshot" }
        : undefined;
  // CONFIG_ARM64_VA_BITS is one of 36..52 (arch/arm64/Kconfig); a corrupt value would size the layout.
  if (opts.vaBits === undefined && dumpVa && !(Number.isInteger(dumpVa.bits) && dumpVa.bits >= 36 && dumpVa.bits <= 52)) {
    const from = viVa !== undefined && vi ? `VMCOREINFO (${vi.source})` : "the snapshot va_bits";
    throw new ParseError(`${from}: VA_BITS ${viVa ?? snapVaBits}: expected a kernel VA size between 36 and 52`);
  }
  const kaslr = vi ? vmKernelOffset(vi) : undefined;
  const r = resolveLayout({
    mem,
    regs,
    ctx,
    ...(ver ? (ver.from === "--kernel-version" ? { versionOverride: ver } : { dumpVersion: ver }) : {}),
    ...(opts.vaBits !== undefined ? { vaBitsOverride: { bits: opts.vaBits, from: "--va-bits" } } : {}),
    ...(dumpVa ? { vaBitsDump: dumpVa } : {}),
    ...((opts.fixmapSize ?? snapFixmap) !== undefined ? { fixmapSize: (opts.fixmapSize ?? snapFixmap) as bigint } : {}),
    ...((opts.kernelConfig ?? snapConfig) ? { snapshotConfig: (opts.kernelConfig ?? snapConfig) as KernelConfig } : {}),
    ...(opts.kernelConfigFile !== undefined ? { kernelConfig: opts.kernelConfigFile } : {}),
    ...(opts.systemMap !== undefined ? { systemMap: opts.systemMap } : {}),
    ...(kaslr !== undefined ? { kaslrOffset: kaslr } : {}),
    ...(opts.searchDump === false ? { searchDump: false } : {}),
  });
  notesOut.push(...r.notes);
  const layout = r.layout;
  sources.layout = layout ? `${layout.description}; ${r.source.detail}` : r.source.detail;
  return { mem, regs, sources, vmcoreinfo: vi, layout, markers: r.markers, layoutSource: r.source, notes: notesOut };
}
