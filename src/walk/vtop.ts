/**
 * A crash-`vtop`-style text trace of one translation: each level's descriptor address and value,
 * then the page (or the fault) and its flags.
 */
import type { Descriptor } from "../arch/descriptor.js";
import { formatSize } from "../arch/granule.js";
import { decodeMairAttr } from "../arch/mair.js";
import type { Regime } from "../arch/registers.js";
import type { Stage2Descriptor } from "../arch/stage2-descriptor.js";
import { hex64 } from "../arch/u64.js";
import type { HalfContext, WalkContext } from "./context.js";
import type { TranslationResult } from "./walker.js";

/** Linux's name for a table level given the number of levels in use (top level is always PGD). */
export function linuxLevelName(level: number, startLevel: number): string {
  if (level === startLevel) return "PGD";
  return ["P4D", "PUD", "PMD", "PTE"][level] ?? "PGD";
}

function hx(v: bigint): string {
  return v.toString(16);
}

/** Flag words for a block/page descriptor, in the order crash prints them. */
export function leafFlags(d: Descriptor): string[] {
  if (d.kind === "invalid" || d.kind === "table") return [];
  const f: string[] = ["VALID", d.kind === "block" ? "BLOCK" : "PAGE"];
  if (d.ap & 1) f.push("USER");
  f.push(d.ap & 2 ? "RDONLY" : "RW");
  f.push(d.sh === 3 ? "SHARED" : d.sh === 2 ? "OUTER-SHARED" : d.sh === 0 ? "NON-SHARED" : "SH-RESERVED");
  if (d.af) f.push("AF");
  if (d.nG) f.push("NG");
  if (d.dbm) f.push("DBM");
  if (d.contiguous) f.push("CONT");
  if (d.pxn) f.push("PXN");
  if (d.uxn) f.push("UXN");
  if (d.gp) f.push("GP");
  if (d.nT) f.push("NT");
  if (d.sw) f.push(`SW=${d.sw.toString(2).padStart(4, "0")}`);
  return f;
}

function tableFlags(d: Descriptor): string {
  if (d.kind !== "table") return "";
  const f: string[] = [];
  if (d.nsTable) f.push("NSTable");
  if (d.apTable) f.push(`APTable=${d.apTable.toString(2).padStart(2, "0")}`);
  if (d.uxnTable) f.push("UXNTable");
  if (d.pxnTable) f.push("PXNTable");
  return f.length ? `  (${f.join(" ")})` : "";
}

function describeDescriptor(d: Descriptor | undefined): string {
  if (!d) return "not backed by memory";
  switch (d.kind) {
    case "invalid":
      return d.reason === "invalid"
        ? "invalid"
        : d.reason === "reserved-level3"
          ? "reserved (0b01 at level 3): invalid"
          : "block not allowed at this level: invalid";
    case "table":
      return `table -> ${hx(d.nextTable)}${tableFlags(d)}`;
    default:
      return `${d.kind} -> ${hx(d.oa)}`;
  }
}

export function halfSummary(h: HalfContext, regime: Regime = "el10"): string {
  const reg = `TTBR${h.index}_EL${regime === "el10" ? 1 : 2}`;
  return `${reg}: ${hex64(h.ttbr.raw)} (ASID ${h.ttbr.asid}, table ${hx(BigInt(h.base))}), ${h.granule.name} granule, ${h.iaBits}-bit VA, start level ${h.startLevel}, ${h.paBits}-bit PA${h.ds ? ", DS=1" : ""}`;
}

/**
 * The table a walk could not read because the input's memory does not hold it: data missing from
 * a dump, not a property of the tables (a CPU would read that memory). Undefined when the walk read
 * every descriptor it needed.
 */
export function missingTable(r: TranslationResult, ctx: WalkContext): { level: number; table: bigint } | undefined {
  if (r.kind !== "fault" || r.fault !== "external-abort") return undefined;
  const last = r.trail[r.trail.length - 1];
  if (!last || last.value !== undefined || r.half === undefined) return undefined;
  const above = r.trail[r.trail.length - 2]?.descriptor;
  const table = above?.kind === "table" ? above.nextTable : BigInt(ctx.halves[r.half].base);
  return { level: last.level, table };
}

export function formatVtop(r: TranslationResult, ctx: WalkContext): string {
  const lines: string[] = [];
  const va = r.va.toString(16).padStart(16, "0");
  const missing = missingTable(r, ctx);
  lines.push("VIRTUAL           PHYSICAL");
  lines.push(`${va}  ${r.kind === "ok" ? hx(r.pa) : missing ? "(missing)" : "(fault)"}`);
  lines.push("");
  const h = r.half === undefined ? undefined : ctx.halves[r.half];
  if (!h) {
    lines.push("MMU off (SCTLR_EL1.M=0): flat mapping");
  } else {
    lines.push(halfSummary(h, ctx.regime));
    for (const t of r.trail) {
      const name = linuxLevelName(t.level, h.startLevel);
      const value = t.value === undefined ? "<unbacked>" : hex64(t.value);
      // Two stages: the descriptor's IPA, when stage 2 put it elsewhere.
      const ipa = t.ipa !== undefined && t.ipa !== t.address ? ` (IPA ${hx(t.ipa)})` : "";
      lines.push(`  L${t.level} ${name}: ${hx(t.address).padStart(12, " ")}${ipa} => ${value}  ${describeDescriptor(t.descriptor)}`);
    }
  }
  const s2 = r.kind === "ok" ? r.stage2?.result : r.stage2;
  if (s2) {
    lines.push(`  STAGE 2 of IPA ${hx(s2.ipa)}${r.kind === "fault" && r.s1ptw ? " (a stage-1 table read)" : ""}:`);
    for (const t of s2.trail) {
      const value = t.value === undefined ? "<unbacked>" : hex64(t.value);
      lines.push(`    S2 L${t.level}: ${hx(t.address).padStart(12, " ")} => ${value}  ${describeStage2(t.descriptor)}`);
    }
  }
  if (r.kind === "ok") {
    if (r.descriptor) {
      lines.push(
        `  ${r.leafKind === "block" ? "BLOCK" : "PAGE"}: ${hx(r.pa - (r.pa % BigInt(r.blockSize)))}  (${formatSize(r.blockSize)})`,
      );
      lines.push(`  FLAGS: ${leafFlags(r.descriptor).join(" ")}`);
    }
    if (r.stage2) {
      const o = r.stage2;
      const sp = o.result.permissions;
      lines.push(
        `  STAGE 2: ${o.result.descriptor.kind === "block" ? "BLOCK" : "PAGE"} ${formatSize(o.result.blockSize)}, S2AP ${sp.r ? "r" : "-"}${sp.w ? "w" : "-"}, exec EL1 ${sp.x1 ? "x" : "-"} EL0 ${sp.x0 ? "x" : "-"}, ${o.memType.name}`,
      );
      lines.push(
        `  COMBINED: ${o.attr === undefined ? "unpredictable (a reserved encoding)" : `0x${o.attr.toString(16).padStart(2, "0")} ${decodeMairAttr(o.attr).name}, ${o.sh}`}`,
      );
    }
    const p = r.permissions;
    const perm = (r: boolean, w: boolean, x: boolean): string => `${r ? "r" : "-"}${w ? "w" : "-"}${x ? "x" : "-"}`;
    lines.push(
      `  MEMORY: AttrIndx ${r.attrIndx} = MAIR 0x${r.mairByte.toString(16).padStart(2, "0")} ${r.memAttr.name}, ${r.shareability}`,
    );
    const gcs = (on: boolean): string => (on ? "+gcs" : "");
    const ind = r.indirection;
    // With permission indirection the permissions come from PIR_EL1/PIRE0_EL1[PIIndex], not AP/XN.
    const via = ind
      ? `  (PIE: PIIndex ${ind.piIndex}, PIR_EL1 0b${ind.pir.toString(2).padStart(4, "0")}, PIRE0_EL1 0b${ind.pire0.toString(2).padStart(4, "0")})`
      : "";
    // The EL2 regime (E2H=0) has one privilege level and no EL0.
    if (ctx.el2) lines.push(`  ACCESS: EL2 ${perm(p.pr, p.pw, p.px)}${gcs(p.pgcs)}${via}`);
    else lines.push(`  ACCESS: EL1 ${perm(p.pr, p.pw, p.px)}${gcs(p.pgcs)}  EL0 ${perm(p.ur, p.uw, p.ux)}${gcs(p.ugcs)}${via}`);
  } else if (missing) {
    lines.push(
      `  MISSING DATA: the level-${missing.level} table at PA ${hx(missing.table)} is not in the input: the translation is unknown (not a fault)`,
    );
    lines.push("  PAR_EL1: unknown (data missing)");
    return `${lines.join("\n")}\n`;
  } else {
    const stage = r.stage === 2 ? `stage-2 ${r.s1ptw ? "(on a stage-1 table read, PAR.S=1 PTW=1) " : "(PAR.S=1) "}` : "";
    lines.push(`  FAULT: ${stage}${r.fault} fault, level ${r.level} (FSC 0x${r.fsc.toString(16).padStart(2, "0")}): ${r.reason}`);
  }
  if (r.access.type === "exec") lines.push("  PAR_EL1: n/a (AT has no instruction-fetch form)");
  else if (r.access.gcs) lines.push("  PAR_EL1: n/a (AT has no GCS form)");
  else lines.push(`  PAR_EL1 (AT ${atName(r, ctx)}): ${r.par === null ? "none (AT takes a synchronous external abort)" : hex64(r.par)}`);
  return `${lines.join("\n")}\n`;
}

function atName(r: TranslationResult, ctx: WalkContext): string {
  const a = r.access;
  const rw = a.type === "read" ? "R" : "W";
  if (ctx.regime !== "el10") return a.el === 1 ? `S1E2${rw}` : `S1E0${rw} (E2H=TGE=1)`;
  return `S1${ctx.twoStage ? "2" : ""}E${a.el}${rw}${a.pan ? "P" : ""}`;
}

function describeStage2(d: Stage2Descriptor | undefined): string {
  if (!d) return "not backed by memory";
  if (d.kind === "invalid") return d.reason === "invalid" ? "invalid" : "invalid (no block/page here)";
  if (d.kind === "table") return `table -> ${hx(d.nextTable)}`;
  return `${d.kind} -> ${hx(d.oa)}  S2AP=${d.s2ap.toString(2).padStart(2, "0")} XN=${d.xn.toString(2).padStart(2, "0")} MemAttr=${d.memAttr.toString(2).padStart(4, "0")}${d.af ? " AF" : ""}${d.contiguous ? " CONT" : ""}`;
}
