#!/usr/bin/env node
/** The `vmsa` command line. */
import { Command, CommanderError } from "commander";
import { VmsaError } from "../arch/errors.js";
import { PRESETS } from "../arch/registers.js";
import { hex64 } from "../arch/u64.js";
import { registerAuditCommand } from "./audit.js";
import { registerCheckCommand } from "./check.js";
import { registerDescribeCommand } from "./describe.js";
import { registerDiffCommand } from "./diff.js";
import { registerDumpCommand } from "./dump.js";
import { registerFindTablesCommand } from "./find-tables.js";
import { registerKernelCommands } from "./kernel.js";
import { registerServeCommand } from "./serve.js";
import { registerTranslateCommand } from "./translate.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("vmsa")
    .description("AArch64 VMSAv8-64 toolkit: hardware-exact stage-1 walks, PAR_EL1, Linux ptdump, page-table checking")
    .version("0.1.0")
    .addHelpText(
      "after",
      `
Examples:
  $ vmsa dump --example linux-6.1-4k48                      # the kernel's own ptdump, from its tables
  $ vmsa translate --example linux-6.1-4k48 0xffff000000210000
  $ vmsa describe --granule 4K --level 3 0x00e8000040210f43  # decode one descriptor
  $ vmsa presets`,
    );
  registerTranslateCommand(program);
  registerDumpCommand(program);
  registerDescribeCommand(program);
  registerServeCommand(program);
  registerAuditCommand(program);
  registerDiffCommand(program);
  registerFindTablesCommand(program);
  registerCheckCommand(program);
  registerKernelCommands(program);
  program
    .command("presets")
    .description("list register presets (Linux boot-time TCR/MAIR/SCTLR per page size and VA size)")
    .addHelpText("after", "\nExample:\n  $ vmsa presets")
    .action(() => {
      const w = Math.max(...PRESETS.map((p) => p.name.length));
      for (const p of PRESETS) process.stdout.write(`${p.name.padEnd(w)} TCR_EL1=${hex64(p.regs.tcr)}  ${p.description}\n`);
    });
  return program;
}

/**
 * Commander's own errors (unknown option or command, missing argument, bad choice) become one line
 * `vmsa: error: … (see \`vmsa CMD --help\`)`, exit status 2, like every other bad input.
 */
function configureErrors(cmd: Command, path: string): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
    outputError: (s, write) => {
      const msg = s
        .trim()
        .replace(/^error:\s*/i, "")
        .replace(/\s*\n\s*/g, " ");
      write(`vmsa: error: ${msg} (see \`${path} --help\`)\n`);
    },
  });
  for (const c of cmd.commands) configureErrors(c, `${path} ${c.name()}`);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  configureErrors(program, "vmsa");
  try {
    await program.parseAsync(argv);
    // Commands that report findings (audit, diff) set process.exitCode; hand it back as the status.
    const code = process.exitCode;
    process.exitCode = undefined;
    return typeof code === "number" ? code : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      return 2;
    }
    if (e instanceof VmsaError || e instanceof RangeError) {
      process.stderr.write(`vmsa: error: ${e.message}\n`);
      // A limit reached (e.g. a gdbstub that does not answer in time) is inconclusive, not bad input.
      return "inconclusive" in e && e.inconclusive === true ? 3 : 2;
    }
    if (e instanceof Error && (e as NodeJS.ErrnoException).code === "EPIPE") return 0;
    process.stderr.write(`vmsa: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 70;
  }
}
