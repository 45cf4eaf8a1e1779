/**
 * `vmsa find-tables`: propose TTBR1_EL1/TCR_EL1 for a dump that has neither registers nor
 * VMCOREINFO, by scanning RAM for the kernel's root table. Exit 0 when a candidate has strong
 * evidence, 3 when inconclusive, 2 on bad input.
 */
import type { Command } from "commander";
import { type GranuleName, granuleByName } from "../arch/granule.js";
import { parseCount } from "../arch/u64.js";
import { findResultToJson, formatFindResult, verdict } from "../dump/find-tables/report.js";
import { findTables } from "../dump/find-tables/scan.js";
import { loadInputs } from "../dump/inputs.js";
import { stderrProgress } from "../dump/progress.js";
import { emit, NUMBERS_HELP, toJson, UsageError } from "./common.js";
import { EXIT_INCONCLUSIVE } from "./missing.js";

interface FindTablesOptions {
  format: string;
  top: string;
  granule?: string;
  output?: string;
}

function parseGranules(spec: string): GranuleName[] {
  return spec.split(",").map((s) => {
    const g = granuleByName(s.trim());
    if (!g) throw new UsageError(`--granule: "${s}" is not 4K, 16K or 64K`);
    return g.name;
  });
}

export function registerFindTablesCommand(program: Command): void {
  program
    .command("find-tables")
    .description("find the kernel's TTBR1 root table in a dump without registers: ranked TTBR1/TCR candidates with their evidence")
    .argument("<input...>", "ELF core (QEMU dump-guest-memory, kdump vmcore), snapshot .json, or FILE@PA")
    .option("-f, --format <fmt>", "text or json", "text")
    .option("--top <n>", "candidates to show (decimal)", "5")
    .option("--granule <list>", "only these granules, e.g. 4K or 16K,64K (default: all)")
    .option("-o, --output <file>", "write the report to a file (atomically) instead of stdout")
    .addHelpText("after", NUMBERS_HELP)
    .addHelpText(
      "after",
      `
Every non-zero page is tried as the root of each Linux regime (4K 39/48/52-bit, 16K 36/47/52-bit,
64K 42/48/52-bit; DS=1 for 52-bit 4K/16K) and scored by the tree below it: tables into RAM, the
descriptor format kept, a linear map at the start of the half, kernel text (EL1 RX), no EL0 access.

Exit status:
  0  found: a candidate with strong evidence (the best is listed first)
  2  bad input (one "vmsa: error: …" line)
  3  inconclusive: no candidate, or only weak ones (listed, not a conclusion)

Examples:
  $ vmsa find-tables ram.bin@0x40000000
  $ vmsa dump ram.bin@0x40000000 --ttbr1 0x41858000 --tcr 0x1b5b5503510  # with the flags it printed
  $ vmsa find-tables guest.core --granule 4K -f json`,
    )
    .action((inputs: string[], o: FindTablesOptions) => {
      if (o.format !== "text" && o.format !== "json") throw new UsageError(`--format: "${o.format}" is not text or json`);
      const top = parseCount(o.top, "--top", 1, 1_000_000);
      const granules = o.granule === undefined ? undefined : parseGranules(o.granule);
      const showProgress = process.stderr.isTTY === true;
      const { mem } = loadInputs(inputs, showProgress);
      const p = stderrProgress("scanning RAM for translation tables", showProgress);
      const t0 = process.hrtime.bigint();
      const r = findTables(mem, { ...(granules ? { granules } : {}), progress: p.update });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      p.done();
      const v = verdict(r);
      if (o.format === "json") emit(`${toJson(findResultToJson(r, top, seconds))}\n`, o.output);
      else emit(formatFindResult(r, top, seconds), o.output);
      if (!v.found) {
        process.stderr.write(`vmsa: ${v.message}\n`);
        process.exitCode = EXIT_INCONCLUSIVE;
      }
    });
}
