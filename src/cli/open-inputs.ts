/**
 * Opening dump inputs (see ./inputs.ts for their options): registers from VMCOREINFO, register
 * files or flags, and the detected kernel layout and its ptdump markers. This module imports the
 * dump readers; commands that may not need them import it only when they do (issue 14: startup).
 */
import { parseLinuxPieEra } from "../arch/linux-pie.js";
import { parseRegister } from "../arch/registers.js";
import { parseCount, parseSize } from "../arch/u64.js";
import type { LiveNeed } from "../dump/gdb/open.js";
import { checkKernelVersion, type OpenDumpOptions, type OpenedDump, openDump } from "../dump/inputs.js";
import type { LayoutSource } from "../dump/layout-source.js";
import type { RegName, RegValues } from "../dump/regfile.js";
import { parseBankSpec } from "../mem/bankspec.js";
import { machineFromOptions, type RegOptions, UsageError } from "./common.js";
import type { DumpInputOptions } from "./inputs.js";

const FLAG_REGS: [keyof RegOptions, RegName][] = [
  ["ttbr0", "TTBR0_EL1"],
  ["ttbr1", "TTBR1_EL1"],
  ["tcr", "TCR_EL1"],
  ["mair", "MAIR_EL1"],
  ["sctlr", "SCTLR_EL1"],
  ["idAa64mmfr0", "ID_AA64MMFR0_EL1"],
  ["idAa64mmfr1", "ID_AA64MMFR1_EL1"],
  ["idAa64mmfr2", "ID_AA64MMFR2_EL1"],
  ["idAa64mmfr3", "ID_AA64MMFR3_EL1"],
  ["tcr2", "TCR2_EL1"],
  ["pir", "PIR_EL1"],
  ["pire0", "PIRE0_EL1"],
  ["porEl1", "POR_EL1"],
  ["porEl0", "POR_EL0"],
];

/**
 * Open a dump from positional inputs and options. Memory named by `--mem FILE@PA` is the same as a
 * positional `FILE@PA` (layout, VMCOREINFO, --kernel-version apply alike); only `--example` alone
 * takes the built-in example path. The layout options are checked on every path.
 */
export async function openDumpFromOptions(inputs: readonly string[], o: DumpInputOptions): Promise<OpenedDump> {
  const opts = dumpOptions(inputs, o);
  if (opts === undefined) {
    const m = await machineFromOptions(o);
    const layoutSource: LayoutSource = m.markers
      ? {
          kind: "example",
          detail:
            m.pkvmExample !== undefined
              ? `the built-in example ${m.pkvmExample}`
              : `the built-in example's kernel (${m.example?.kernel ?? "?"})`,
          exact: true,
        }
      : { kind: "none", detail: "no kernel version", exact: false };
    return {
      mem: m.mem,
      regs: m.regs,
      sources: m.sources,
      vmcoreinfo: undefined,
      layout: undefined,
      markers: m.markers,
      layoutSource,
      notes: [],
    };
  }
  return openDump(opts);
}

/**
 * Open the input: a dump (see openDumpFromOptions) or, with --gdb, a live QEMU guest whose tables
 * are read for `need` (the halves or the VAs the command walks).
 */
export async function openInputs(inputs: readonly string[], o: DumpInputOptions, need: LiveNeed): Promise<OpenedDump> {
  if (o.gdb === undefined) return openDumpFromOptions(inputs, o);
  // The gdbstub client is loaded only for --gdb (startup of the other commands, issue 14).
  const { parseGdbAddress } = await import("../dump/gdb/client.js");
  const { openLiveDump } = await import("../dump/gdb/open.js");
  const addr = parseGdbAddress(o.gdb);
  if (inputs.length > 0 || (o.mem ?? []).length > 0 || o.example !== undefined) {
    throw new UsageError("--gdb reads a live guest: it cannot be combined with dump inputs, --mem or --example");
  }
  const opts = dumpOptions(["gdb"], o);
  if (opts === undefined) throw new UsageError("--gdb: no input");
  const timeoutMs = parseCount(o.gdbTimeout ?? "5000", "--gdb-timeout", 1, 3_600_000);
  return openLiveDump(addr, { ...opts, timeoutMs }, need);
}

/** The openDump options of the command line; undefined for the built-in --example path. */
function dumpOptions(inputs: readonly string[], o: DumpInputOptions): OpenDumpOptions | undefined {
  const vaBits = o.vaBits === undefined ? undefined : parseCount(o.vaBits, "--va-bits", 36, 52);
  if (o.kernelVersion !== undefined) checkKernelVersion(o.kernelVersion);
  const fixmapSize = o.fixmapSize === undefined ? undefined : parseSize(o.fixmapSize, "--fixmap-size");
  const pageCache = o.pageCache === undefined ? undefined : parseSize(o.pageCache, "--page-cache");
  if (pageCache !== undefined && (pageCache < 4096n || pageCache > 1n << 40n)) {
    throw new UsageError(`--page-cache ${o.pageCache}: expected a size from 4K to 1T`);
  }
  if (inputs.length === 0 && (o.example !== undefined || (o.mem ?? []).length === 0)) {
    if (o.example === undefined) throw new UsageError("no input: give a dump (ELF core, snapshot .json, FILE@PA), --mem or --example");
    if (o.kernelVersion !== undefined || vaBits !== undefined || o.kernelConfig !== undefined || o.systemMap !== undefined) {
      throw new UsageError(
        "--kernel-version, --markers linux-X, --va-bits, --kernel-config and --system-map do not apply to --example (its layout is fixed)",
      );
    }
    return undefined;
  }
  if (o.example !== undefined) throw new UsageError("--example cannot be combined with dump inputs");
  // --mem is always FILE@PA[:SIZE]: a malformed one is a spec error, not a file to open.
  for (const spec of o.mem ?? []) parseBankSpec(spec);
  const regs: RegValues = {};
  for (const [key, name] of FLAG_REGS) {
    const v = o[key];
    if (typeof v === "string") regs[name] = parseRegister(name, v);
  }
  const tnsz = (opt: "t0sz" | "t1sz"): number | undefined => {
    const v = o[opt];
    if (v === undefined) return undefined;
    // TnSZ is 12..48 at most on any implementation (ASL AArch64.S1MinTxSZ/MaxTxSZ).
    return parseCount(v, `--${opt}`, 12, 48);
  };
  const t0sz = tnsz("t0sz");
  const t1sz = tnsz("t1sz");
  return {
    ...(t0sz !== undefined ? { t0sz } : {}),
    ...(t1sz !== undefined ? { t1sz } : {}),
    inputs: [...inputs, ...(o.mem ?? [])],
    ...(o.regs !== undefined ? { regsFile: o.regs } : {}),
    ...(o.preset !== undefined ? { preset: o.preset } : {}),
    ...(o.linuxPie !== undefined && o.linuxPie !== false ? { linuxPie: parseLinuxPieEra(o.linuxPie) } : {}),
    regs,
    ...(o.vmcoreinfo === false ? { vmcoreinfo: false as const } : typeof o.vmcoreinfo === "string" ? { vmcoreinfo: o.vmcoreinfo } : {}),
    ...(o.kernelVersion !== undefined ? { kernelVersion: o.kernelVersion } : {}),
    ...(vaBits !== undefined ? { vaBits } : {}),
    ...(fixmapSize !== undefined ? { fixmapSize } : {}),
    ...(pageCache !== undefined ? { pageCacheBytes: Number(pageCache) } : {}),
    ...(o.kernelConfig !== undefined ? { kernelConfigFile: o.kernelConfig } : {}),
    ...(o.systemMap !== undefined ? { systemMap: o.systemMap } : {}),
  };
}
