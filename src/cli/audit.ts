/**
 * `vmsa audit`: security audit of real page tables (W^X with the kernel's own summary line,
 * non-UXN and EL0-accessible kernel memory, attribute aliases, contiguous misprogramming, RES0 bits,
 * protected PA ranges, global user mappings). Exit status 1 when there are findings, 3 when none
 * was found but a reachable table is missing from the input (inconclusive, never "passed").
 */
import type { Command } from "commander";
import { HCR_E2H, HCR_TGE } from "../arch/hcr.js";
import { parseRegister } from "../arch/registers.js";
import { parseSize, parseU64 } from "../arch/u64.js";
import { audit, auditToJson, formatAudit, type PaRange } from "../dump/audit.js";
import { auditStage2, formatStage2Audit, stage2AuditToJson } from "../dump/audit-stage2.js";
import { readTextFile } from "../io/files.js";
import { collect, emit, parseRegime, REGIME_HELP, regimeOpenOptions, toJson, UsageError } from "./common.js";
import { addDumpInputOptions, type DumpInputOptions } from "./inputs.js";
import { EXIT_FINDINGS, EXIT_INCONCLUSIVE, exitStatusHelp, warnMissing } from "./missing.js";
import { openInputs } from "./open-inputs.js";
import { addStage2Options, openStage2FromOptions, type Stage2CliOptions, stageOf } from "./stage2.js";

/** `START-END` (end exclusive) or `START+SIZE`. */
export function parsePaRange(spec: string): PaRange {
  const m = /^([^-+]+)([-+])(.+)$/.exec(spec.trim());
  if (!m) throw new UsageError(`--protected "${spec}": expected START-END or START+SIZE, e.g. 0x48000000-0x48200000`);
  const start = parseU64(m[1] as string, "--protected start");
  const second = m[2] === "-" ? parseU64(m[3] as string, "--protected end") : parseSize(m[3] as string, "--protected size");
  const end = m[2] === "-" ? second : start + second;
  if (end <= start) throw new UsageError(`--protected "${spec}": the end must be above the start`);
  return { start, end };
}

interface AuditCliOptions extends DumpInputOptions, Stage2CliOptions {
  format: string;
  protected: string[];
  userHalf: boolean;
  regime?: string;
  output?: string;
}

export function registerAuditCommand(program: Command): void {
  const cmd = program
    .command("audit")
    .description(
      "security audit of a real kernel's page tables: W^X (with the kernel's verdict line), UXN, EL0 access, aliases, contiguous groups, RES0 bits",
    )
    .argument("[input...]", "ELF core (QEMU dump-guest-memory, kdump vmcore), snapshot .json, or FILE@PA")
    .option("-f, --format <fmt>", "text or json", "text")
    .option("--protected <START-END>", "a PA range that must not be mapped (repeatable; START+SIZE also accepted)", collect, [])
    .option("--no-user-half", "skip the TTBR0 (user) half (not a user half in the el2 regime, nor in el20 unless HCR_EL2.TGE=1)")
    .option(
      "--regime <regime>",
      `the regime of the tables (el2: a hypervisor's TTBR0_EL2, W+X by AP[2] and XN; el20: TTBR0_EL2 a user range only if HCR_EL2.TGE=1, see below): ${REGIME_HELP}`,
    )
    .option("-o, --output <file>", "write the report to a file (atomically) instead of stdout");
  addStage2Options(cmd, "a hypervisor's IPA space from VTCR_EL2/VTTBR_EL2: stage-2 W+X, executable Device memory, output sizes");
  addDumpInputOptions(cmd);
  cmd.addHelpText(
    "after",
    `
A table the walk reaches that the input does not contain is a "missing-table" finding: the
verdict line then says INCONCLUSIVE instead of the kernel's "passed". Table descriptors naming a
table already audited at another VA are a "shared-table" warning (walked once, counted per VA).

${exitStatusHelp("findings (warnings alone do not fail)")}

Examples:
  $ vmsa audit guest.core                                  # QEMU dump-guest-memory: registers from VMCOREINFO
  $ vmsa audit ram.bin@0x40000000 --regs gdb-registers.txt  # raw RAM + gdb "info registers" output
  $ vmsa audit --example linux-6.1-4k48 --protected 0x48000000-0x48200000 --format json
  $ vmsa audit --gdb 127.0.0.1:1234 --kernel-version 6.1    # a running QEMU: stopped while read, then detached
  $ vmsa audit --stage 2 host.core --regs el2-registers.txt # a VM's stage-2 tables (VTCR_EL2, VTTBR_EL2)
  $ vmsa audit --example pkvm-hyp                          # EL2 regime: W+X by AP[2] and XN (bit 54)
  $ vmsa audit hyp.core --regime el2 --ttbr0 0x4f841001 --tcr 0x80853510 --mair 0x40044ffff --sctlr 0xf8ed383d
  $ vmsa audit hyp.core --regime el20 --hcr 0x30480080001 --ttbr1 0 --ttbr0 0x4f841001 --tcr 0x95001f7b5ce350c --mair 0x40044ffff --sctlr 0xf8ed383d

EL2&0 (--regime el20): EL0 uses this regime only when HCR_EL2.TGE=1 (a VHE host: TTBR0_EL2 is its
user range). With TGE=0 (pKVM's hVHE hypervisor) both ranges are judged as hypervisor mappings:
wx on the effective EL2 permissions (PXN, bit 53, and SCTLR_EL2.WXN), wxn-only (warning: writable,
PXN clear, non-executable by WXN alone), el0-unused (warning: EL0 bits that never apply). Give
HCR_EL2 with --hcr; without it TGE is assumed 0 and the report says so.

Stage 2 (--stage 2): s2-wx (the guest may write and execute), s2-exec-device (executable Device
memory), s2-address-size (output beyond VTCR_EL2.PS), missing-table (inconclusive), shared-table
(warning); the summary line is "Checked stage-2 W+X mappings: …".`,
  );
  cmd.action(async (inputs: string[], o: AuditCliOptions) => {
    if (o.format !== "text" && o.format !== "json") throw new UsageError(`--format: "${o.format}" is not text or json`);
    // --regime el20 at stage 1: --hcr gives HCR_EL2.TGE, which decides whether TTBR0_EL2 is a
    // user range (Arm ARM D8.1); it is not a stage-2 flag there.
    const el20Hcr = o.stage !== "2" && o.regime !== undefined && parseRegime(o.regime) === "el20" ? o.hcr : undefined;
    if (stageOf(el20Hcr === undefined ? o : { ...o, hcr: undefined }) === 2) {
      await auditStage2Command(inputs, o);
      return;
    }
    const opened = await openInputs(inputs, regimeOpenOptions(o), { halves: o.userHalf ? [1, 0] : [1] });
    const regime = o.regime === undefined ? undefined : parseRegime(o.regime);
    if (regime !== undefined && opened.regs.regime !== undefined && opened.regs.regime !== regime)
      throw new UsageError(`--regime ${regime}: the input's registers are of the ${opened.regs.regime} regime`);
    const withRegime = regime === undefined ? opened : { ...opened, regs: { ...opened.regs, regime } };
    const hcr =
      el20Hcr !== undefined
        ? parseRegister("--hcr (HCR_EL2)", el20Hcr)
        : withRegime.regs.regime === "el20" && o.regs !== undefined
          ? await hcrFromRegsFile(o.regs)
          : undefined;
    if (hcr !== undefined && (hcr & HCR_E2H) === 0n)
      throw new UsageError(`--regime el20: HCR_EL2 0x${hcr.toString(16)} has E2H=0, which is the el2 regime (expected E2H, bit 34, set)`);
    const d = hcr === undefined ? withRegime : { ...withRegime, regs: { ...withRegime.regs, hcr } };
    const protectedRanges = o.protected.map(parsePaRange);
    // The EL2 regime's one range is TTBR0_EL2, the hypervisor's own: always audited; so is
    // TTBR0_EL2 of EL2&0 unless HCR_EL2.TGE=1 makes it a user range (unknown TGE: assumed 0).
    const hypTtbr0 = d.regs.regime === "el2" || (d.regs.regime === "el20" && ((d.regs.hcr ?? 0n) & HCR_TGE) === 0n);
    const userHalf = hypTtbr0 || (o.userHalf && d.regs.ttbr0 !== 0n);
    const r = audit(d.mem, d.regs, { protectedRanges, userHalf });
    for (const n of d.notes) process.stderr.write(`vmsa: note: ${n}\n`);
    if (r.el20?.tgeSource === "assumed")
      process.stderr.write("vmsa: note: --regime el20 without HCR_EL2 (--hcr): TGE assumed 0, TTBR0_EL2 judged as hypervisor mappings\n");
    if (o.format === "json") {
      emit(`${toJson({ layout: d.layout?.description ?? null, sources: d.sources, ...(auditToJson(r) as object) })}\n`, o.output);
    } else {
      emit(formatAudit(r, d.layout ? `audit of ${d.layout.description}` : undefined), o.output);
    }
    warnMissing(r.missing, "those ranges were not audited");
    if (r.findings.some((f) => f.severity === "error" && f.kind !== "missing-table")) process.exitCode = EXIT_FINDINGS;
    else if (r.missing.length > 0) process.exitCode = EXIT_INCONCLUSIVE;
  });
}

/** HCR_EL2 from a --regs file (it names the EL1 registers otherwise): undefined when absent. */
async function hcrFromRegsFile(file: string): Promise<bigint | undefined> {
  // Loaded only for this input (issue 14: startup), as common.ts does.
  const { parseRegisterFile } = await import("../dump/regfile.js");
  return parseRegisterFile(readTextFile(file, "--regs"), `--regs ${file}`).values.HCR_EL2;
}

async function auditStage2Command(inputs: readonly string[], o: AuditCliOptions): Promise<void> {
  if (o.protected.length > 0) throw new UsageError("--protected applies to stage 1 only");
  const { dump } = await openStage2FromOptions(inputs, o);
  const r = auditStage2(dump.mem, dump.stage2);
  if (o.format === "json") emit(`${toJson({ sources: dump.sources, ...(stage2AuditToJson(r) as object) })}\n`, o.output);
  else emit(formatStage2Audit(r, "stage-2 audit (IPA space of VTTBR_EL2)"), o.output);
  const missing = r.missing.map((m) => ({ va: m.ipa, size: m.size, level: m.level, table: m.table }));
  warnMissing(missing, "those IPA ranges were not audited", "IPA");
  if (r.findings.some((f) => f.severity === "error" && f.kind !== "missing-table")) process.exitCode = EXIT_FINDINGS;
  else if (r.missing.length > 0) process.exitCode = EXIT_INCONCLUSIVE;
}
