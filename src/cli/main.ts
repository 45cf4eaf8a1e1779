#!/usr/bin/env node
/** The `vmsa` command line. */
import type { Command } from "commander";

/** The version `vmsa --version` prints (package.json's). */
export const VERSION = "0.1.0";

type Register = (program: Command) => void;

/**
 * Every subcommand with the module that registers it, in help order. Modules are imported only
 * when asked for, so `vmsa --version` or `vmsa describe …` does not load the dump readers, the
 * machine model or the scenario checker (issue 14: startup).
 */
const COMMANDS: readonly { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ["translate"], load: async () => (await import("./translate.js")).registerTranslateCommand },
  { names: ["dump"], load: async () => (await import("./dump.js")).registerDumpCommand },
  { names: ["describe"], load: async () => (await import("./describe.js")).registerDescribeCommand },
  { names: ["serve"], load: async () => (await import("./serve.js")).registerServeCommand },
  { names: ["audit"], load: async () => (await import("./audit.js")).registerAuditCommand },
  { names: ["diff"], load: async () => (await import("./diff.js")).registerDiffCommand },
  { names: ["find-tables"], load: async () => (await import("./find-tables.js")).registerFindTablesCommand },
  { names: ["check"], load: async () => (await import("./check.js")).registerCheckCommand },
  { names: ["scenario", "demo", "boot", "layout"], load: async () => (await import("./kernel.js")).registerKernelCommands },
  { names: ["presets"], load: async () => registerPresetsCommand },
];

function registerPresetsCommand(program: Command): void {
  program
    .command("presets")
    .description("list register presets (Linux boot-time TCR/MAIR/SCTLR per page size and VA size)")
    .addHelpText("after", "\nExample:\n  $ vmsa presets")
    .action(async () => {
      const { PRESETS } = await import("../arch/registers.js");
      const { hex64 } = await import("../arch/u64.js");
      const w = Math.max(...PRESETS.map((p) => p.name.length));
      for (const p of PRESETS) process.stdout.write(`${p.name.padEnd(w)} TCR_EL1=${hex64(p.regs.tcr)}  ${p.description}\n`);
    });
}

/**
 * Which subcommands a command line needs: the one it names (the top-level program has no option
 * taking a value, so that is the first word not starting with `-`); none for a bare
 * `--version`; every one otherwise (top-level help, `help CMD`, an unknown command, whose error
 * suggests the nearest names).
 */
export function commandsFor(args: readonly string[]): "all" | readonly string[] {
  const word = args.find((a) => !a.startsWith("-"));
  if (word !== undefined) {
    const hit = COMMANDS.find((c) => c.names.includes(word));
    return hit ? [word] : "all";
  }
  const help = args.some((a) => a === "-h" || a === "--help");
  return !help && args.some((a) => a === "-V" || a === "--version") ? [] : "all";
}

/** The program with every subcommand, or only those named (help and errors are the same for them). */
export async function buildProgram(only: "all" | readonly string[] = "all"): Promise<Command> {
  const { Command } = await import("commander");
  const program = new Command();
  program
    .name("vmsa")
    .description("AArch64 VMSAv8-64 toolkit: hardware-exact stage-1 walks, PAR_EL1, Linux ptdump, page-table checking")
    .version(VERSION)
    .addHelpText(
      "after",
      `
Examples:
  $ vmsa dump --example linux-6.1-4k48                      # the kernel's own ptdump, from its tables
  $ vmsa translate --example linux-6.1-4k48 0xffff000000210000
  $ vmsa describe --granule 4K --level 3 0x00e8000040210f43  # decode one descriptor
  $ vmsa presets`,
    );
  const wanted = COMMANDS.filter((c) => only === "all" || c.names.some((n) => only.includes(n)));
  for (const register of await Promise.all(wanted.map((c) => c.load()))) register(program);
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
  const args = argv.slice(2);
  // A bare `--version` needs neither commander nor any subcommand (issue 14: startup).
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const program = await buildProgram(commandsFor(args));
  const { CommanderError } = await import("commander");
  const { VmsaError } = await import("../arch/errors.js");
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
