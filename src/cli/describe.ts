/** `vmsa describe`: decode one descriptor value, or the registers. */
import type { Command } from "commander";
import { decodeDescriptor, descriptorFormat } from "../arch/descriptor.js";
import { granuleByName } from "../arch/granule.js";
import { decodeMair } from "../arch/mair.js";
import { decodeTcr } from "../arch/registers.js";
import { parseU64 } from "../arch/u64.js";
import { emit, toJson, UsageError } from "./common.js";

interface DescribeOptions {
  granule: string;
  level: string;
  ds?: boolean;
  pa52?: boolean;
  tcr?: string;
  mair?: string;
  format: string;
}

export function registerDescribeCommand(program: Command): void {
  program
    .command("describe")
    .description("decode a descriptor value (or --tcr / --mair register values) field by field")
    .argument("[value]", "64-bit descriptor value")
    .option("-g, --granule <g>", "4K, 16K or 64K", "4K")
    .option("-l, --level <n>", "table level -1..3", "3")
    .option("--ds", "TCR.DS=1 (FEAT_LPA2 descriptor format)")
    .option("--pa52", "52-bit output addresses (64K FEAT_LPA or DS)")
    .option("--tcr <hex>", "decode a TCR_EL1 value")
    .option("--mair <hex>", "decode a MAIR_EL1 value")
    .option("-f, --format <fmt>", "json (default) or text", "json")
    .addHelpText("after", "\nExamples:\n  $ vmsa describe -g 4K -l 2 0x0060000040000f41\n  $ vmsa describe --tcr 0x014001b5b5503510")
    .action((value: string | undefined, o: DescribeOptions) => {
      const out: Record<string, unknown> = {};
      if (o.tcr) out.tcr = decodeTcr(parseU64(o.tcr, "--tcr"));
      if (o.mair) out.mair = decodeMair(parseU64(o.mair, "--mair"));
      if (value !== undefined) {
        const g = granuleByName(o.granule);
        if (!g) throw new UsageError(`--granule: "${o.granule}" is not 4K, 16K or 64K`);
        const level = Number(o.level);
        if (!Number.isInteger(level) || level < -1 || level > 3) throw new UsageError(`--level: "${o.level}" is not a level -1..3`);
        out.descriptor = decodeDescriptor(
          parseU64(value, "descriptor"),
          level,
          descriptorFormat(g, { ds: !!o.ds, oaBits: o.pa52 ? 52 : 48, paMaxBits: o.pa52 ? 52 : 48 }),
        );
      }
      if (Object.keys(out).length === 0) throw new UsageError("nothing to describe: give a descriptor value, --tcr or --mair");
      emit(`${toJson(out)}\n`);
    });
}
