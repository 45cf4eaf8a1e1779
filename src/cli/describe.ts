/** `vmsa describe`: decode one descriptor value, or the registers. */
import type { Command } from "commander";
import { decodeDescriptor, descriptorFormat } from "../arch/descriptor.js";
import { granuleByName } from "../arch/granule.js";
import { decodeMair } from "../arch/mair.js";
import { decodeTcr } from "../arch/registers.js";
import { parseCount, parseU64 } from "../arch/u64.js";
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

/** `-l`: a translation level, -1..3 (decimal; -1 is the only signed value vmsa accepts). */
function parseLevel(text: string): number {
  const t = text.trim();
  if (t === "-1") return -1;
  return parseCount(t, "--level", 0, 3);
}

/** The text format: one `name: value` line per field, nested objects indented. */
export function describeText(value: unknown, indent = ""): string {
  if (typeof value !== "object" || value === null) return `${String(value)}\n`;
  let out = "";
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === "object" && v !== null) out += `${indent}${k}:\n${describeText(JSON.parse(toJson(v)), `${indent}  `)}`;
    else out += `${indent}${k}: ${String(v)}\n`;
  }
  return out;
}

export function registerDescribeCommand(program: Command): void {
  program
    .command("describe")
    .description("decode a descriptor value (or --tcr / --mair register values) field by field")
    .argument("[value]", "64-bit descriptor value (hex, 0x optional: 0040000040000703 is 0x0040000040000703)")
    .option("-g, --granule <g>", "4K, 16K or 64K", "4K")
    .option("-l, --level <n>", "table level 0..3 (decimal), or -1 with --ds and 4K pages", "3")
    .option("--ds", "TCR.DS=1 (FEAT_LPA2 descriptor format)")
    .option("--pa52", "52-bit output addresses (64K FEAT_LPA or DS)")
    .option("--tcr <hex>", "decode a TCR_EL1 value (hex, 0x optional)")
    .option("--mair <hex>", "decode a MAIR_EL1 value (hex, 0x optional)")
    .option("-f, --format <fmt>", "json (default) or text", "json")
    .addHelpText(
      "after",
      `
Numbers: descriptor and register values are hex with or without 0x (0040000040000703 is
0x0040000040000703); levels are decimal.

Examples:
  $ vmsa describe -g 4K -l 2 0x0060000040000f41
  $ vmsa describe --tcr 0x014001b5b5503510 -f text`,
    )
    .action((value: string | undefined, o: DescribeOptions) => {
      if (o.format !== "json" && o.format !== "text") throw new UsageError(`--format: "${o.format}" is not json or text`);
      const out: Record<string, unknown> = {};
      if (o.tcr !== undefined) out.tcr = decodeTcr(parseU64(o.tcr, "--tcr"));
      if (o.mair !== undefined) out.mair = decodeMair(parseU64(o.mair, "--mair"));
      if (value !== undefined) {
        const g = granuleByName(o.granule);
        if (!g) throw new UsageError(`--granule: "${o.granule}" is not 4K, 16K or 64K`);
        const level = parseLevel(o.level);
        // Level -1 exists only for the 4KB granule with 52-bit addresses, i.e. TCR.DS=1 (FEAT_LPA2; ASL AArch64_S1StartLevel).
        if (level === -1 && !(o.ds && g.size === 4096)) {
          throw new UsageError(`--level -1 exists only with --ds and a 4K granule (FEAT_LPA2 52-bit tables)`);
        }
        out.descriptor = decodeDescriptor(
          parseU64(value, "descriptor"),
          level,
          descriptorFormat(g, { ds: !!o.ds, oaBits: o.pa52 ? 52 : 48, paMaxBits: o.pa52 ? 52 : 48 }),
        );
      }
      if (Object.keys(out).length === 0) throw new UsageError("nothing to describe: give a descriptor value, --tcr or --mair");
      emit(o.format === "text" ? describeText(JSON.parse(toJson(out))) : `${toJson(out)}\n`);
    });
}
