/** `vmsa describe`: decode one descriptor value, or the registers. */
import type { Command } from "commander";
import { decodeDescriptor, descriptorFormat } from "../arch/descriptor.js";
import { granuleByName } from "../arch/granule.js";
import { LINUX_PI_INDEX } from "../arch/linux-pie.js";
import { decodeMair } from "../arch/mair.js";
import { decodePar } from "../arch/par.js";
import { decodeS1IndirectPerm, decodeS2IndirectPerm, permFields, piIndex } from "../arch/pie.js";
import { decodeOverlayPerm, poIndex } from "../arch/poe.js";
import { decodeIdAa64mmfr3, decodeTcr, decodeTcr2, featuresFromIdRegs } from "../arch/registers.js";
import { decodeStage2Descriptor } from "../arch/stage2-descriptor.js";
import { parseCount, parseU64 } from "../arch/u64.js";
import { decodeVtcr, decodeVttbr, stage2Config } from "../arch/vtcr.js";
import { emit, toJson, UsageError } from "./common.js";

interface DescribeOptions {
  granule: string;
  level: string;
  ds?: boolean;
  pa52?: boolean;
  par?: string;
  tcr?: string;
  mair?: string;
  stage: string;
  fwb?: boolean;
  xnx: boolean;
  vtcr?: string;
  vttbr?: string;
  idAa64mmfr0?: string;
  idAa64mmfr2?: string;
  pir?: string;
  pire0?: string;
  s2pir?: string;
  s2por?: string;
  porEl1?: string;
  porEl0?: string;
  tcr2?: string;
  idAa64mmfr3?: string;
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

/** Linux's page type for each stage-1 PIIndex (pgtable-prot.h), for the decoded tables. */
const LINUX_TYPE_OF_INDEX = new Map<number, string>(Object.entries(LINUX_PI_INDEX).map(([name, i]) => [i, name]));

/** `--pir`, `--pire0`, `--s2pir`, `--s2por`, `--por-el1/0`, `--tcr2`, `--id-aa64mmfr3`: each field decoded. */
function describePermissionRegisters(o: DescribeOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const s1 = (text: string, name: string): unknown =>
    permFields(parseU64(text, name)).map((v, index) => ({
      index,
      ...decodeS1IndirectPerm(v),
      ...(LINUX_TYPE_OF_INDEX.has(index) ? { linux: LINUX_TYPE_OF_INDEX.get(index) } : {}),
    }));
  if (o.pir !== undefined) out.pir = s1(o.pir, "--pir");
  if (o.pire0 !== undefined) out.pire0 = s1(o.pire0, "--pire0");
  if (o.s2pir !== undefined)
    out.s2pir = permFields(parseU64(o.s2pir, "--s2pir")).map((v, index) => ({ index, ...decodeS2IndirectPerm(v) }));
  // S2POR_EL1 (FEAT_S2POE): 16 overlays, one per S2POIndex, in S2PIR_EL2's encoding (ASL AArch64.S2OverlayPermissions).
  if (o.s2por !== undefined)
    out.s2por = permFields(parseU64(o.s2por, "--s2por")).map((v, index) => ({ index, ...decodeS2IndirectPerm(v) }));
  const por = (text: string, name: string): unknown =>
    permFields(parseU64(text, name))
      .slice(0, 8)
      .map((v, index) => ({ index, ...decodeOverlayPerm(v) }));
  if (o.porEl1 !== undefined) out.porEl1 = por(o.porEl1, "--por-el1");
  if (o.porEl0 !== undefined) out.porEl0 = por(o.porEl0, "--por-el0");
  if (o.tcr2 !== undefined) out.tcr2 = decodeTcr2(parseU64(o.tcr2, "--tcr2"));
  if (o.idAa64mmfr3 !== undefined) out.idAa64mmfr3 = decodeIdAa64mmfr3(parseU64(o.idAa64mmfr3, "--id-aa64mmfr3"));
  return out;
}

/** `r w x` letters of a decoded permission (stage-1 PI, POR or S2PIR entry). */
function permLetters(e: Record<string, unknown>): string {
  const f = (k: string, c: string): string => (e[k] === true ? c : "-");
  if ("el1Exec" in e) return `${f("read", "r")}${f("write", "w")}${f("el1Exec", "x")}${f("el0Exec", "x")}`;
  return `${f("read", "r")}${f("write", "w")}${f("exec", "x")}${e.gcs === true ? " gcs" : ""}`;
}

/** For the text format: one line per register field ("Perm4: 0b0010 X_O --x (overlay) PAGE_EXECONLY"). */
function compactPermTables(out: Record<string, unknown>): Record<string, unknown> {
  const res: Record<string, unknown> = { ...out };
  for (const k of ["pir", "pire0", "s2pir", "s2por", "porEl1", "porEl0"]) {
    const rows = out[k];
    if (!Array.isArray(rows)) continue;
    const lines: Record<string, string> = {};
    for (const r of rows as Record<string, unknown>[]) {
      const v = `0b${Number(r.value).toString(2).padStart(4, "0")}`;
      const extra = [r.overlay === true ? "(overlay)" : "", r.wxn === true ? "(WXN)" : "", typeof r.linux === "string" ? r.linux : ""];
      lines[`Perm${String(r.index)}`] = [v, String(r.name), permLetters(r), ...extra].filter((x) => x !== "").join(" ");
    }
    res[k] = lines;
  }
  return res;
}

/** With a descriptor and --pir/--pire0/--s2pir/--s2por/--por-el*: its PIIndex and POIndex and what they select. */
function descriptorIndirection(raw: bigint, stage: number, o: DescribeOptions): Record<string, unknown> | undefined {
  const idx = piIndex(raw);
  if (stage === 2) {
    if (o.s2pir === undefined && o.s2por === undefined) return undefined;
    // S2POIndex: bits [62:59] (FEAT_S2POE, used when VTCR_EL2.S2PIE=S2POE=1).
    const po = Number((raw >> 59n) & 0xfn);
    return {
      piIndex: idx,
      ...(o.s2pir !== undefined ? { s2pir: decodeS2IndirectPerm(permFields(parseU64(o.s2pir, "--s2pir"))[idx] ?? 0) } : {}),
      ...(o.s2por !== undefined ? { s2poIndex: po, s2por: decodeS2IndirectPerm(permFields(parseU64(o.s2por, "--s2por"))[po] ?? 0) } : {}),
    };
  }
  if (o.pir === undefined && o.pire0 === undefined && o.porEl1 === undefined && o.porEl0 === undefined) return undefined;
  const out: Record<string, unknown> = { piIndex: idx, poIndex: poIndex(raw), nDirty: ((raw >> 7n) & 1n) === 1n };
  if (LINUX_TYPE_OF_INDEX.has(idx)) out.linux = LINUX_TYPE_OF_INDEX.get(idx);
  if (o.pir !== undefined) out.el1 = decodeS1IndirectPerm(permFields(parseU64(o.pir, "--pir"))[idx] ?? 0);
  if (o.pire0 !== undefined) out.el0 = decodeS1IndirectPerm(permFields(parseU64(o.pire0, "--pire0"))[idx] ?? 0);
  if (o.porEl1 !== undefined) out.overlayEl1 = decodeOverlayPerm(permFields(parseU64(o.porEl1, "--por-el1"))[poIndex(raw)] ?? 0);
  if (o.porEl0 !== undefined) out.overlayEl0 = decodeOverlayPerm(permFields(parseU64(o.porEl0, "--por-el0"))[poIndex(raw)] ?? 0);
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
    .option("--pir <hex>", "decode a PIR_EL1/PIR_EL2 value: the permission of each PIIndex (FEAT_S1PIE)")
    .option("--pire0 <hex>", "decode a PIRE0_EL1/PIRE0_EL2 value (EL0 permissions); with a descriptor: its PIIndex entry")
    .option("--s2pir <hex>", "decode an S2PIR_EL2 value (FEAT_S2PIE)")
    .option(
      "--s2por <hex>",
      "decode an S2POR_EL1 value: the stage-2 overlay of each S2POIndex (FEAT_S2POE); with a --stage 2 descriptor: its entry",
    )
    .option("--por-el1 <hex>", "decode a POR_EL1/POR_EL2 value: the overlay of each POIndex (FEAT_S1POE)")
    .option("--por-el0 <hex>", "decode a POR_EL0 value")
    .option("--tcr2 <hex>", "decode a TCR2_EL1 value (PIE, E0POE, POE, ...)")
    .option("--id-aa64mmfr3 <hex>", "decode an ID_AA64MMFR3_EL1 value (TCRX, S1PIE, S2PIE, S1POE, S2POE, ...)")
    .option("--par <hex>", "decode a PAR_EL1 value as AT leaves it: PA, ATTR, SH, NS, or FST with S (stage 2) and PTW (on a stage-1 walk)")
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
  $ vmsa describe --par 0xb1d -f text                        # stage-2 Permission fault (S=1) on a stage-1 walk (PTW=1)
  $ vmsa describe --pir 0xcc880e0ac0800000 --pire0 0x5010908070320000 -f text   # Linux's PIE values
  $ vmsa describe --pir cc880e0ac0800000 --pire0 5010908070320000 00e8000040000f43   # which entry a page uses

Stage 2 decodes with the features of QEMU -cpu max (52-bit PA, FEAT_TTST, FEAT_LPA2, FEAT_XNX)
unless --id-aa64mmfr0/2 (for --vtcr) or --no-xnx say otherwise.`,
    )
    .action((value: string | undefined, o: DescribeOptions) => {
      if (o.format !== "json" && o.format !== "text") throw new UsageError(`--format: "${o.format}" is not json or text`);
      const out: Record<string, unknown> = {};
      if (o.tcr !== undefined) out.tcr = decodeTcr(parseU64(o.tcr, "--tcr"));
      if (o.mair !== undefined) out.mair = decodeMair(parseU64(o.mair, "--mair"));
      if (o.par !== undefined) out.par = decodePar(parseU64(o.par, "--par"));
      if (o.vttbr !== undefined && o.vtcr === undefined)
        throw new UsageError("--vttbr needs --vtcr (BADDR's alignment and VMID width depend on VTCR_EL2)");
      if ((o.idAa64mmfr0 !== undefined || o.idAa64mmfr2 !== undefined) && o.vtcr === undefined) {
        throw new UsageError("--id-aa64mmfr0/--id-aa64mmfr2 apply to --vtcr (stage-2 legality depends on PARange, LPA2 and TTST)");
      }
      if (o.vtcr !== undefined) Object.assign(out, describeVtcr(o.vtcr, o.vttbr, o));
      Object.assign(out, describePermissionRegisters(o));
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
        const ind = descriptorIndirection(raw, stage, o);
        if (ind) out.indirection = ind;
      }
      if (Object.keys(out).length === 0)
        throw new UsageError(
          "nothing to describe: give a descriptor value, --tcr, --mair, --par, --vtcr, --pir, --pire0, --s2pir, --s2por, --por-el1/0, --tcr2 or --id-aa64mmfr3",
        );
      emit(o.format === "text" ? describeText(JSON.parse(toJson(compactPermTables(out)))) : `${toJson(out)}\n`);
    });
}
