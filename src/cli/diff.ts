/**
 * `vmsa diff A B`: compare two page-table snapshots and classify every changed VA range as new,
 * removed, permission-only (safe live, needs TLBI) or needing break-before-make (with the rule).
 * Exit status: 0 no changes, 1 changes, 2 bad input (like diff(1)), 3 no change found but a table
 * is missing from an input (inconclusive: never "equal" on data it could not read).
 */
import type { Command } from "commander";
import { parseCount } from "../arch/u64.js";
import { diffTables, diffToJson, formatDiff } from "../dump/diff.js";
import type { OpenedDump } from "../dump/inputs.js";
import { emit, toJson, UsageError } from "./common.js";
import { addDumpInputOptions, type DumpInputOptions } from "./inputs.js";
import { EXIT_FINDINGS, EXIT_INCONCLUSIVE, exitStatusHelp, warnMissing } from "./missing.js";
import { openDumpFromOptions, openInputs } from "./open-inputs.js";

interface DiffCliOptions extends DumpInputOptions {
  format: string;
  bbmLevel?: string;
  regsA?: string;
  regsB?: string;
  half: string;
  output?: string;
}

export function registerDiffCommand(program: Command): void {
  const cmd = program
    .command("diff")
    .description("diff two page-table snapshots: new / removed / permission-only (TLBI) / needs break-before-make, with the rule")
    .argument("<a>", "the earlier snapshot: ELF core, snapshot .json, or FILE@PA")
    .argument("[b]", "the later snapshot (omitted with --gdb: the live guest is B)")
    .option("-f, --format <fmt>", "text or json", "text")
    .option("--regs-a <file>", "register file for A only (overrides --regs)")
    .option("--regs-b <file>", "register file for B only (overrides --regs)")
    .option("--bbm-level <n>", "FEAT_BBM level 0..2, decimal (default: from B's ID_AA64MMFR2_EL1, else 2 as on -cpu max)")
    .option("--half <h>", "0, 1 or both", "both")
    .option("-o, --output <file>", "write the report to a file (atomically) instead of stdout");
  addDumpInputOptions(cmd);
  cmd.addHelpText(
    "after",
    `
Examples:
  $ vmsa diff before.core after.core                      # e.g. around mark_rodata_ro
  $ vmsa diff a.bin@0x40000000 b.bin@0x40000000 --regs regs.txt --bbm-level 0 --format json
  $ vmsa diff saved.core --gdb 127.0.0.1:1234             # a saved snapshot against the running guest now
                                                          # (stopped while its tables are read, then left running)

Ranges whose table is missing from A or B are listed as "not compared" (JSON: "missing").
Where both sides name, at several VAs, the tables they name at an earlier VA (shared subtrees),
the range is one change "the same N changes as at VA …".

${exitStatusHelp("changes (like diff(1))")}`,
  );
  cmd.action(async (a: string, b: string | undefined, o: DiffCliOptions) => {
    if (o.format !== "text" && o.format !== "json") throw new UsageError(`--format: "${o.format}" is not text or json`);
    if (o.half !== "0" && o.half !== "1" && o.half !== "both") throw new UsageError(`--half: "${o.half}" is not 0, 1 or both`);
    let bbmLevel: number | undefined;
    if (o.bbmLevel !== undefined) {
      // FEAT_BBM levels 0, 1 and 2 (ID_AA64MMFR2_EL1.BBM, bits [55:52]; SYSREG ID_AA64MMFR2_EL1).
      bbmLevel = parseCount(o.bbmLevel, "--bbm-level", 0, 2);
    }
    if ((b === undefined) === (o.gdb === undefined)) {
      throw new UsageError(
        o.gdb === undefined
          ? "missing required argument 'b' (see `vmsa diff --help`): snapshot B, or --gdb HOST:PORT for the live guest"
          : "--gdb is snapshot B: give only A",
      );
    }
    const { gdb, ...dumpOpts } = o;
    const da = await openDumpFromOptions([a], { ...dumpOpts, ...(o.regsA ? { regs: o.regsA } : {}) });
    let db: OpenedDump;
    let halves: (0 | 1)[];
    if (b === undefined && gdb !== undefined) {
      // The live B: its own registers (only --regs-b overrides them); A without TTBR0 compares the kernel half.
      const { regs: _shared, ...live } = dumpOpts;
      halves = o.half === "both" ? (da.regs.ttbr0 === 0n ? [1] : [0, 1]) : [o.half === "0" ? 0 : 1];
      db = await openInputs([], { ...live, gdb, ...(o.regsB ? { regs: o.regsB } : {}) }, { halves });
    } else {
      db = await openDumpFromOptions([b ?? ""], { ...dumpOpts, ...(o.regsB ? { regs: o.regsB } : {}) });
      // TTBR0 = 0 on both sides means no user half was given (as in audit): compare the kernel half.
      halves = o.half === "both" ? (da.regs.ttbr0 === 0n && db.regs.ttbr0 === 0n ? [1] : [0, 1]) : [o.half === "0" ? 0 : 1];
    }
    const r = diffTables(da.mem, da.regs, db.mem, db.regs, { ...(bbmLevel !== undefined ? { bbmLevel } : {}), halves });
    if (o.format === "json") emit(`${toJson(diffToJson(r))}\n`, o.output);
    else emit(formatDiff(r), o.output);
    for (const side of ["A", "B"] as const)
      warnMissing(
        r.missing.filter((m) => m.side === side),
        `those ranges of ${side} (${side === "A" ? a : (b ?? `live guest ${gdb ?? ""}`)}) were not compared`,
      );
    if (r.changes.length > 0) process.exitCode = EXIT_FINDINGS;
    else if (r.inconclusive) process.exitCode = EXIT_INCONCLUSIVE;
  });
}
