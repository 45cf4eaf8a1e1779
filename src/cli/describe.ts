/** `vmsa describe`: decode one descriptor value, or the registers. */
import type { Command } from "commander";
import { decodeDescriptor, descriptorFormat } from "../arch/descriptor.js";
import { granuleByName } from "../arch/granule.js";
import { decodeMair } from "../arch/mair.js";
import { decodeTcr, featuresFromIdRegs } from "../arch/registers.js";
import { decodeStage2Descriptor } from "../arch/stage2-descriptor.js";
import { parseCount, parseU64 } from "../arch/u64.js";
import { decodeVtcr, decodeVttbr, stage2Config } from "../arch/vtcr.js";
import { emit, toJson, UsageError } from "./common.js";

interface DescribeOptions {
  granule: string;
  level: string;
  ds?: boolean;
  pa52?: boolean;
  tcr?: string;
  mair?: string;
  stage: string;
  fwb?: boolean;
  xnx: boolean;
  vtcr?: string;
  vttbr?: string;
  idAa64mmfr0?: string;
  idAa64mmfr2?: string;
  format: string;
}

/** `--vtcr` (and `--vttbr`): the register fields, then the walk parameters or why every stage-2 walk faults. */
function describeVtcr(vtcrText: string, vttbrText: string | undefined, o: DescribeOptions): Record<string, unknown> {
  const vtcr = decodeVtcr(parseU64(vtcrText, "--vtcr"));
  // Without ID registers: a CPU with every feature vmsa models (QEMU -cpu max): 52-bit PA, FEAT_TTST, FEAT_LPA2.
  const features = featuresFromIdRegs({
    mmfr0: o.idAa64mmfr0 === undefined ? undefined : parseU64(o.idAa64mmfr0, "--id-aa64mmfr0"),
    mmfr2: o.idAa64mmfr2 === undefined ? undefined : parseU64(o.idAa64mmfr2, "--id-aa64mmfr2"),
  });
  const cfg = stage2Config(vtcr, features);
  const out: Record<string, unknown> = {
    vtcr: { ...vtcr, granule: vtcr.granule.name },
    stage2: { ...cfg, granule: cfg.granule.name },
  };
  if (vttbrText !== undefined) {
    const raw = parseU64(vttbrText, "--vttbr");
    if (cfg.kind !== "ok")
      throw new UsageError(`--vttbr: VTCR_EL2 ${vtcrText} is not a usable stage-2 setting (${cfg.detail}), so VTTBR_EL2 has no table base`);
    out.vttbr = decodeVttbr(raw, vtcr, cfg);
  }
  return out;
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
    .description("decode a stage-1 or stage-2 descriptor value (or --tcr / --mair / --vtcr register values) field by field")
    .argument("[value]", "64-bit descriptor value (hex, 0x optional: 0040000040000703 is 0x0040000040000703)")
    .option("-g, --granule <g>", "4K, 16K or 64K", "4K")
    .option("-l, --level <n>", "table level 0..3 (decimal), or -1 with --ds and 4K pages", "3")
    .option("--ds", "TCR.DS=1 (FEAT_LPA2 descriptor format)")
    .option("--pa52", "52-bit output addresses (64K FEAT_LPA or DS)")
    .option("--tcr <hex>", "decode a TCR_EL1 value (hex, 0x optional)")
    .option("--mair <hex>", "decode a MAIR_EL1 value (hex, 0x optional)")
    .option("--stage <n>", "translation stage of the descriptor: 1 (default) or 2 (S2AP, XN[1:0], MemAttr)", "1")
    .option("--fwb", "stage 2: HCR_EL2.FWB=1 (FEAT_S2FWB MemAttr encodings)")
    .option("--no-xnx", "stage 2: CPU without FEAT_XNX (descriptor bit 53 ignored)")
    .option("--vtcr <hex>", "decode a VTCR_EL2 value: fields, stage-2 start level, concatenated tables, legality")
    .option("--vttbr <hex>", "with --vtcr: decode a VTTBR_EL2 value (BADDR, VMID, CnP, start table address)")
    .option("--id-aa64mmfr0 <hex>", "with --vtcr: ID_AA64MMFR0_EL1 (PARange, LPA2) instead of -cpu max")
    .option("--id-aa64mmfr2 <hex>", "with --vtcr: ID_AA64MMFR2_EL1 (TTST) instead of -cpu max")
    .option("-f, --format <fmt>", "json (default) or text", "json")
    .addHelpText(
      "after",
      `
Numbers: descriptor and register values are hex with or without 0x (0040000040000703 is
0x0040000040000703); levels are decimal.

Examples:
  $ vmsa describe -g 4K -l 2 0x0060000040000f41
  $ vmsa describe --tcr 0x014001b5b5503510 -f text
  $ vmsa describe --stage 2 -g 4K -l 2 0x00400000400007fd   # stage-2 block: S2AP RW, WB, XN
  $ vmsa describe --stage 2 --fwb -l 3 0x40000000079b        # FWB MemAttr encodings
  $ vmsa describe --vtcr 0x80023558 -f text                  # 40-bit IPA, 4K: start level 1, 2 tables
  $ vmsa describe --vtcr 0x80023558 --vttbr 0x0001000080000000

Stage 2 decodes with the features of QEMU -cpu max (52-bit PA, FEAT_TTST, FEAT_LPA2, FEAT_XNX)
unless --id-aa64mmfr0/2 (for --vtcr) or --no-xnx say otherwise.`,
    )
    .action((value: string | undefined, o: DescribeOptions) => {
      if (o.format !== "json" && o.format !== "text") throw new UsageError(`--format: "${o.format}" is not json or text`);
      const out: Record<string, unknown> = {};
      if (o.tcr !== undefined) out.tcr = decodeTcr(parseU64(o.tcr, "--tcr"));
      if (o.mair !== undefined) out.mair = decodeMair(parseU64(o.mair, "--mair"));
      if (o.vttbr !== undefined && o.vtcr === undefined)
        throw new UsageError("--vttbr needs --vtcr (BADDR's alignment and VMID width depend on VTCR_EL2)");
      if ((o.idAa64mmfr0 !== undefined || o.idAa64mmfr2 !== undefined) && o.vtcr === undefined) {
        throw new UsageError("--id-aa64mmfr0/--id-aa64mmfr2 apply to --vtcr (stage-2 legality depends on PARange, LPA2 and TTST)");
      }
      if (o.vtcr !== undefined) Object.assign(out, describeVtcr(o.vtcr, o.vttbr, o));
      const stage = parseCount(o.stage, "--stage", 1, 2);
      if (stage === 1 && o.fwb) throw new UsageError("--fwb applies to stage-2 descriptors: add --stage 2");
      if (value !== undefined) {
        const g = granuleByName(o.granule);
        if (!g) throw new UsageError(`--granule: "${o.granule}" is not 4K, 16K or 64K`);
        const level = parseLevel(o.level);
        // Level -1 exists only for the 4KB granule with 52-bit addresses, i.e. TCR.DS=1 (FEAT_LPA2; ASL AArch64_S1StartLevel).
        if (level === -1 && !(o.ds && g.size === 4096)) {
          throw new UsageError(`--level -1 exists only with --ds and a 4K granule (FEAT_LPA2 52-bit tables)`);
        }
        const fmt = descriptorFormat(g, { ds: !!o.ds, oaBits: o.pa52 ? 52 : 48, paMaxBits: o.pa52 ? 52 : 48 });
        const raw = parseU64(value, "descriptor");
        out.descriptor =
          stage === 2 ? decodeStage2Descriptor(fmt, level, raw, { fwb: !!o.fwb, xnx: o.xnx }) : decodeDescriptor(raw, level, fmt);
      }
      if (Object.keys(out).length === 0) throw new UsageError("nothing to describe: give a descriptor value, --tcr, --mair or --vtcr");
      emit(o.format === "text" ? describeText(JSON.parse(toJson(out))) : `${toJson(out)}\n`);
    });
}
