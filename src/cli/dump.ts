/**
 * `vmsa dump`: the Linux ptdump text of a TTBR half, or its mappings as JSON; with --stage 2 a
 * hypervisor's stage-2 tables as KVM's debugfs files print them.
 */
import type { Command } from "commander";
import { ParseError } from "../arch/errors.js";
import { hex64, parseU64 } from "../arch/u64.js";
import { dumpJsonBytes } from "../dump/dump-json.js";
import { checkKernelVersion } from "../dump/inputs.js";
import { kvmIpaRangeText, kvmStage2LevelsText, kvmStage2PageTables } from "../dump/kvm-stage2.js";
import type { LayoutSource } from "../dump/layout-source.js";
import { type Marker, PTDUMP_LINUX_4, PTDUMP_LINUX_6, ptdumpReport } from "../dump/ptdump.js";
import { stage2JsonBytes } from "../dump/stage2-json.js";
import { stage2LeafRuns } from "../dump/stage2-mappings.js";
import { readTextFile } from "../io/files.js";
import { compileRegs } from "../walk/context.js";
import { halfBase, leafRunReport } from "../walk/range.js";
import { emit, parseRegime, REGIME_HELP, regimeOpenOptions, UsageError } from "./common.js";
import { addDumpInputOptions, type DumpInputOptions } from "./inputs.js";
import { EXIT_INCONCLUSIVE, exitStatusHelp, warnMissing } from "./missing.js";
import { openInputs } from "./open-inputs.js";
import { isStage2Example } from "./pkvm-example.js";
import { addStage2Options, openStage2FromOptions, type Stage2CliOptions, stageOf } from "./stage2.js";

const KVM_FILES = ["stage2_page_tables", "ipa_range", "stage2_levels"] as const;

interface DumpOptions extends DumpInputOptions, Stage2CliOptions {
  regime?: string;
  kvmFile: string;
  kvmSinglePass?: boolean;
  format: string;
  half?: string;
  start?: string;
  end?: string;
  markers?: string;
  ptdumpEra: string;
  output?: string;
}

/** Markers file: one `ADDRESS NAME...` per line, # comments allowed. */
export function readMarkers(file: string): Marker[] {
  const text = readTextFile(file, "--markers");
  const out: Marker[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (!m) throw new ParseError(`--markers ${file}:${i + 1}: expected "ADDRESS NAME", got "${line}"`);
    out.push({ address: parseU64(m[1] ?? "", `--markers ${file}:${i + 1}: address`), name: (m[2] ?? "").trim() });
  });
  for (let i = 1; i < out.length; i++) {
    if ((out[i]?.address ?? 0n) < (out[i - 1]?.address ?? 0n))
      throw new ParseError(`--markers ${file}: addresses must be ascending (line with "${out[i]?.name}")`);
  }
  return out;
}

export function registerDumpCommand(program: Command): void {
  const cmd = program
    .command("dump")
    .description("dump the translation tables of a TTBR half: Linux ptdump text (kernel_page_tables format) or JSON")
    .argument("[input...]", "ELF core (QEMU dump-guest-memory, kdump vmcore), snapshot .json, or FILE@PA")
    .option("-f, --format <fmt>", "ptdump (Linux /sys/kernel/debug/kernel_page_tables text) or json (coalesced mappings)", "ptdump")
    .option("--regime <regime>", `the regime of the tables: ${REGIME_HELP}`)
    .option("--half <n>", "TTBR half to dump: 1 (kernel, the default) or 0 (user); the EL2 regime (--example pkvm-hyp) has only 0")
    .option("--start <va>", "first VA (default: start of the half)")
    .option("--end <va>", "end VA, exclusive (default: end of the half)")
    .option(
      "--markers <spec>",
      "address markers: auto (the kernel layout from IKCONFIG, --kernel-config, --system-map, else a guess), linux-X.Y (that kernel version, e.g. linux-6.1), none, or a file of `ADDRESS NAME` lines",
      "auto",
    )
    .option(
      "--ptdump-era <era>",
      "ptdump columns: linux-6 (GP column, holes, v5.11+ MT indices) or linux-4; with --stage 2 the stage2_page_tables columns: linux-6.12 (6.12 to 6.18) or linux-6.19 (FEAT_XNX execute columns px/PXN ux/UXN)",
      "linux-6",
    )
    .option("-o, --output <file>", "write to a file (atomically) instead of stdout")
    .option("--kvm-file <name>", `with --stage 2: which of KVM's debugfs files to print (${KVM_FILES.join(", ")})`, "stage2_page_tables");
  addStage2Options(cmd, "a hypervisor's IPA space from VTCR_EL2/VTTBR_EL2, printed as KVM's debugfs stage2_page_tables");
  addDumpInputOptions(cmd);
  cmd.addHelpText(
    "after",
    `
Examples:
  $ vmsa dump --example linux-6.1-4k48
  $ vmsa dump guest.core                                   # QEMU dump-guest-memory; registers from VMCOREINFO
  $ vmsa dump ram.bin@0x40000000 --regs gdb-registers.txt --markers linux-6.1 -o kernel_page_tables.txt
  $ vmsa dump --example linux-6.1-4k48 --format json --start 0xffff000000000000 --end 0xffff000040000000
  $ vmsa dump --gdb 127.0.0.1:1234 --kernel-version 6.1   # a running QEMU (-gdb tcp::1234): only its tables are read
  $ vmsa dump --stage 2 host.core --regs el2-registers.txt  # KVM's stage2_page_tables of the VM whose VTTBR_EL2 is given
  $ vmsa dump --stage 2 host.core --vtcr 0x80023558 --vttbr 0x1000041a6e000 --kvm-file ipa_range
  $ vmsa dump --example pkvm-hyp                            # pKVM's hypervisor stage 1 (EL2 regime, TTBR0_EL2)
  $ vmsa dump --example pkvm-host-s2 --ptdump-era linux-6.19  # pKVM's host stage 2, 6.19's FEAT_XNX columns
  $ vmsa dump hyp.core --regime el2 --ttbr0 0x4f841001 --tcr 0x80853510 --mair 0x40044ffff  # a hypervisor's TTBR0_EL2

Stage 2 (--stage 2): the host's memory and VTCR_EL2/VTTBR_EL2 (--vtcr/--vttbr, or VTCR_EL2 and
VTTBR_EL2 lines in --regs or a snapshot's registers; ID_AA64MMFR0_EL1 for the PA size), or --gdb
HOST:PORT for a live KVM host in QEMU (-M virt,virtualization=on: the EL2 registers and only the
stage-2 tables are read through the gdbstub). The text is
/sys/kernel/debug/kvm/<pid>-<fd>/stage2_page_tables of CONFIG_PTDUMP_STAGE2_DEBUGFS (Linux 6.10+),
byte for byte, including its quirks: the last run is never printed (KVM's walk has no final flush),
and a text longer than one page is what seq_file's retry prints (the show function runs again with
the parser state of the previous pass; --kvm-single-pass prints one clean pass instead).
--kvm-file ipa_range and stage2_levels print the companion files. --ptdump-era linux-6.19 prints
the columns of Linux 6.19+ (FEAT_XNX: "px ux ", "PXNux ", "PXNUXN", "px UXN" for XN[1:0]; masks
without the valid bit); the default is the 6.12-6.18 format.

pKVM (--example pkvm-hyp, --example pkvm-host-s2): vmsa's model of what pKVM's __pkvm_init builds
(src/kernel/pkvm). Mainline Linux has no debugfs file for either: the hypervisor's tables print in
the kernel_page_tables format (its raw-bit columns: "USR" is AP[1], which KVM's nVHE encodings
set and EL2 ignores; "UXN" is bit 54, XN at EL2), the host's in the stage2_page_tables format
headed "Host IPA". Pages the hypervisor owns are invalid host entries with the owner in bits
[9:2]; -f json lists them under "invalid" (owner 1 = hyp: descriptor 0x4).

Live guests (--gdb): QEMU stops the guest while vmsa reads its registers and tables through the
gdbstub (physical memory), then vmsa detaches and the guest runs on; nothing is saved to disk.

Lines that are not the kernel's (the kernel's own lines stay byte-exact):
  0x…-0x…  <size> <LEVEL> MISSING table at PA 0x… (not in the input)
      the walk reached a table that the input does not contain: that range is unknown, not empty
      (JSON: "missing"); a warning on stderr gives the count and the first tables.
  0x…-0x…  <size> <LEVEL> SHARED table at PA 0x… (same as 0x…-0x…, shown above)
      table descriptors pointing at a table already printed at another VA: the same mappings
      repeat here (JSON: "shared"). A shared table that maps one uniform run is printed as the
      kernel prints it. The work is bounded by the distinct tables, not by the paths through them.

${exitStatusHelp("not used (dump reports no findings)")}`,
  );
  cmd.action(async (inputs: string[], o: DumpOptions) => {
    if (o.format !== "ptdump" && o.format !== "json" && o.format !== "text") {
      throw new UsageError(`--format: "${o.format}" is not ptdump or json`);
    }
    if (stageOf(o) === 2) {
      await dumpStage2(inputs, o);
      return;
    }
    if (o.kvmFile !== "stage2_page_tables" || o.kvmSinglePass)
      throw new UsageError("--kvm-file and --kvm-single-pass apply to --stage 2 only");
    if (o.half !== undefined && o.half !== "0" && o.half !== "1") throw new UsageError(`--half: "${o.half}" is not 0 or 1`);
    // `--markers linux-X` names the kernel version: the same layout model as `--kernel-version X`.
    const named = /^linux-(.+)$/.exec(o.markers ?? "")?.[1];
    if (named !== undefined) {
      checkKernelVersion(named);
      if (o.kernelVersion !== undefined && o.kernelVersion !== named) {
        throw new UsageError(`--markers linux-${named} and --kernel-version ${o.kernelVersion} name different kernels`);
      }
    }
    const opened = await openInputs(inputs, regimeOpenOptions(named !== undefined ? { ...o, kernelVersion: named } : o), {
      halves: [o.half === "0" ? 0 : 1],
    });
    const regime = o.regime === undefined ? undefined : parseRegime(o.regime);
    // A hypervisor's tables: the kernel's layout markers do not apply.
    const m =
      regime === undefined || regime === "el10" || opened.regs.regime === regime
        ? opened
        : { ...opened, regs: { ...opened.regs, regime }, markers: undefined };
    if (regime !== undefined && opened.regs.regime !== undefined && opened.regs.regime !== regime)
      throw new UsageError(`--regime ${regime}: the input's registers are of the ${opened.regs.regime} regime`);
    // The EL2 regime (E2H=0) has one VA range, TTBR0_EL2: its half is 0.
    const el2 = m.regs.regime === "el2";
    if (el2 && o.half === "1") throw new UsageError("--half 1: the EL2 regime has one VA range (TTBR0_EL2), half 0");
    const halfIndex = o.half === "0" || (o.half === undefined && el2) ? 0 : 1;
    for (const n of m.notes) process.stderr.write(`vmsa: note: ${n}\n`);
    const ctx = compileRegs(m.regs);
    const h = ctx.halves[halfIndex];
    const halfStart = halfBase(h);
    const halfEnd = (halfStart + (1n << BigInt(h.iaBits))) & ((1n << 64n) - 1n);
    const start = o.start ? parseU64(o.start, "--start") : halfStart;
    const end = o.end ? parseU64(o.end, "--end") : halfEnd;
    const inHalf = (va: bigint): boolean => va >= halfStart && va - halfStart < 1n << BigInt(h.iaBits);
    if (!inHalf(start)) throw new UsageError(`--start ${hex64(start)} is not in the TTBR${h.index} half`);
    // The end is exclusive: the top of the half is allowed (0 for the top of TTBR1, where it wraps).
    if (!(inHalf(end) || end === halfEnd)) throw new UsageError(`--end ${hex64(end)} is not in the TTBR${h.index} half`);
    if (end !== halfEnd && end <= start)
      throw new UsageError(`--end ${hex64(end)} is not above --start ${hex64(start)} (the range is [start, end), end exclusive)`);
    if (h.epd)
      process.stderr.write(
        `vmsa: note: TCR_EL1.EPD${h.index}=1: walks of the TTBR${h.index} half are disabled, it translates nothing (its table is not read)\n`,
      );
    let markers: readonly Marker[] | undefined = m.markers;
    let layoutSource: LayoutSource =
      m === opened ? m.layoutSource : { kind: "none", detail: `--regime ${regime}: no kernel layout markers`, exact: true };
    if (o.markers === "none") {
      markers = undefined;
      layoutSource = { kind: "none", detail: "--markers none", exact: true };
    } else if (named === undefined && o.markers !== undefined && o.markers !== "auto") {
      markers = readMarkers(o.markers);
      layoutSource = { kind: "markers-file", detail: `--markers ${o.markers}`, exact: true };
    }
    // Say where the layout came from, unless the user named the markers or ran the built-in example.
    if (layoutSource.kind !== "example" && layoutSource.kind !== "markers-file" && o.markers !== "none") {
      process.stderr.write(`vmsa: note: layout and markers: ${layoutSource.detail}\n`);
    }
    if (o.format === "json") {
      const r = leafRunReport(m.mem, ctx, start, end);
      const endIn = end === halfEnd ? halfStart + (1n << BigInt(h.iaBits)) : end;
      emit(
        dumpJsonBytes(
          {
            half: `TTBR${h.index}`,
            granule: h.granule.name,
            vaBits: h.iaBits,
            startLevel: h.startLevel,
            start,
            end,
            registers: m.sources,
            layoutSource,
            markers: (markers ?? []).filter((k) => k.address >= start && k.address < endIn),
          },
          r,
        ),
        o.output,
      );
      warnMissing(r.missing, 'their ranges are marked in "missing" and are not known to be unmapped');
      if (r.missing.length > 0) process.exitCode = EXIT_INCONCLUSIVE;
      return;
    }
    if (o.ptdumpEra !== "linux-6" && o.ptdumpEra !== "linux-4")
      throw new UsageError(`--ptdump-era: "${o.ptdumpEra}" is not linux-6 or linux-4`);
    const r = ptdumpReport(m.mem, ctx, {
      start,
      end,
      format: o.ptdumpEra === "linux-4" ? PTDUMP_LINUX_4 : PTDUMP_LINUX_6,
      ...(markers
        ? { markers }
        : { markers: [{ address: start, name: `TTBR${h.index}${m.regs.regime === "el2" || m.regs.regime === "el20" ? "_EL2" : ""}` }] }),
    });
    emit(r.text, o.output);
    if (r.shared.length > 0) {
      const lines = r.shared.filter((x) => !x.merged).length;
      process.stderr.write(
        `vmsa: note: ${r.shared.length} table descriptor range${r.shared.length === 1 ? "" : "s"} name a table already shown at another VA (shared subtrees, walked once): ${lines} printed as SHARED lines, ${r.shared.length - lines} (one uniform run each) merged as the kernel prints them\n`,
      );
    }
    warnMissing(r.missing, "their ranges are printed as MISSING lines and are not known to be unmapped");
    if (r.missing.length > 0) process.exitCode = EXIT_INCONCLUSIVE;
  });
}

/** `dump --stage 2`: KVM's debugfs text of the stage-2 tables. */
async function dumpStage2(inputs: readonly string[], o: DumpOptions): Promise<void> {
  if (o.start !== undefined || o.end !== undefined) {
    throw new UsageError("--start/--end do not apply to --stage 2 (KVM's stage2_page_tables covers the whole IPA space)");
  }
  if (o.half !== undefined) throw new UsageError("--half does not apply to --stage 2 (one IPA space)");
  const file = KVM_FILES.find((f) => f === o.kvmFile);
  if (file === undefined) throw new UsageError(`--kvm-file: "${o.kvmFile}" is not one of ${KVM_FILES.join(", ")}`);
  const { dump, geometry } = await openStage2FromOptions(inputs, o);
  if (o.format === "json") {
    if (o.kvmFile !== "stage2_page_tables") throw new UsageError("--kvm-file applies to the text output, not --format json");
    const r = stage2LeafRuns(dump.mem, dump.stage2);
    const head = {
      granule: `${2 ** geometry.gShift / 1024}K`,
      ipaBits: geometry.iaBits,
      startLevel: geometry.startLevel,
      startTableEntries: 2 ** (geometry.bitsAt[geometry.startLevel + 1] ?? 0),
      startTable: `0x${geometry.base.toString(16)}`,
      registers: dump.sources,
    };
    emit(stage2JsonBytes(dump.stage2, head, r), o.output);
    const missing = r.missing.map((m) => ({ va: m.ipa, size: m.size, level: m.level, table: m.table }));
    warnMissing(missing, 'their IPA ranges are listed in "missing" and are not known to be unmapped', "IPA");
    if (r.missing.length > 0) process.exitCode = EXIT_INCONCLUSIVE;
    return;
  }
  if (file === "ipa_range") {
    emit(kvmIpaRangeText(geometry), o.output);
    return;
  }
  if (file === "stage2_levels") {
    emit(kvmStage2LevelsText(geometry), o.output);
    return;
  }
  const era =
    o.ptdumpEra === "linux-6" || o.ptdumpEra === "linux-6.12" ? "linux-6.12" : o.ptdumpEra === "linux-6.19" ? "linux-6.19" : undefined;
  if (era === undefined)
    throw new UsageError(
      `--ptdump-era: "${o.ptdumpEra}" is not a stage2_page_tables format: linux-6.12 (the default, 6.12 to 6.18) or linux-6.19 (6.19+, FEAT_XNX columns)`,
    );
  const r = kvmStage2PageTables(dump.mem, geometry, {
    seqFile: o.kvmSinglePass !== true,
    era,
    // Mainline has no host stage-2 file; the pKVM host dumps (Android, early ptdump series) head it "Host IPA".
    ...(isStage2Example(o.example) ? { marker: "Host IPA" } : {}),
  });
  emit(r.text, o.output);
  if (r.passes > 1) {
    process.stderr.write(
      `vmsa: note: the text exceeds seq_file's first page, so (as the kernel's file does) it is show pass ${r.passes}, begun in the state the previous pass ended in: no header, a stale first line; --kvm-single-pass prints one clean pass\n`,
    );
  }
  const missing = r.missing.map((m) => ({ va: m.ipa, size: m.size, level: m.level, table: m.table }));
  warnMissing(missing, "their IPA ranges are printed as MISSING lines and are not known to be unmapped", "IPA");
  if (r.missing.length > 0) process.exitCode = EXIT_INCONCLUSIVE;
}
