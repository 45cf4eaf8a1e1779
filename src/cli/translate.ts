/** `vmsa translate`: walk many VAs in one process, text (vtop-style) or JSON. */
import type { Command } from "commander";
import { ParseError } from "../arch/errors.js";
import { decodeHcr, HCR_VM } from "../arch/hcr.js";
import { decodeS1IndirectPerm } from "../arch/pie.js";
import { parseRegister, type Regs } from "../arch/registers.js";
import { hex64, parseU64 } from "../arch/u64.js";
import { readTextFile } from "../io/files.js";
import { compileStage2, type Stage2Result } from "../walk/stage2.js";
import { formatVtop, missingTable } from "../walk/vtop.js";
import { type Access, AT_OPS, GCS_ACCESSES, type TranslationResult, Walker } from "../walk/walker.js";
import { collect, emit, machineFromOptions, parseRegime, REGIME_HELP, regimeOpenOptions, toJson, UsageError } from "./common.js";
import { addDumpInputOptions, type DumpInputOptions } from "./inputs.js";
import { EXIT_INCONCLUSIVE, exitStatusHelp, warnMissing } from "./missing.js";
import { isStage2Example } from "./pkvm-example.js";

/**
 * The access tokens translate accepts: the help, the error message and the parser all read this
 * one table. `+pan` / the AT `…P` forms set PSTATE.PAN (FEAT_PAN: PAN makes EL1 data
 * accesses to EL0-accessible memory fault; AT S1E1RP/S1E1WP check with PAN set).
 */
export const ACCESS_TOKENS: Readonly<Record<string, Access>> = {
  r: { type: "read", el: 1 },
  w: { type: "write", el: 1 },
  x: { type: "exec", el: 1 },
  "r+pan": { type: "read", el: 1, pan: true },
  "w+pan": { type: "write", el: 1, pan: true },
  "el0:r": { type: "read", el: 0 },
  "el0:w": { type: "write", el: 0 },
  "el0:x": { type: "exec", el: 0 },
  // FEAT_GCS: Guarded Control Stack data accesses (checked against the PIE GCS permission).
  "gcs:r": GCS_ACCESSES.EL1_READ,
  "gcs:w": GCS_ACCESSES.EL1_WRITE,
  "el0:gcs:r": GCS_ACCESSES.EL0_READ,
  "el0:gcs:w": GCS_ACCESSES.EL0_WRITE,
  ...AT_OPS,
};

export const ACCESS_LIST = Object.keys(ACCESS_TOKENS).join(", ");

/** Parse an access token (case-insensitive): one of ACCESS_TOKENS. */
export function parseAccess(token: string, where: string): Access {
  const t = token.trim().toLowerCase();
  for (const [name, a] of Object.entries(ACCESS_TOKENS)) if (name.toLowerCase() === t) return a;
  throw new ParseError(`${where}: access "${token}" is not one of ${ACCESS_LIST}`);
}

function parseVa(text: string, where: string): bigint {
  return parseU64(text, `${where}: VA`);
}

interface Query {
  va: bigint;
  access: Access;
}

function readQueries(file: string, dflt: Access): Query[] {
  const text = readTextFile(file, "--input");
  const out: Query[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const where = `${file === "-" ? "stdin" : file}:${i + 1}`;
    const [vaText, acc, extra] = line.split(/\s+/);
    if (extra !== undefined) throw new ParseError(`${where}: expected "VA [access]", got "${line}"`);
    out.push({ va: parseVa(vaText ?? "", where), access: acc ? parseAccess(acc, where) : dflt });
  });
  return out;
}

/** --regime, --hcr, --vtcr, --vttbr over the registers the input gave. */
function withRegimeOptions(regs: Regs, o: TranslateOptions): Regs {
  const out: { -readonly [K in keyof Regs]: Regs[K] } = { ...regs };
  if (o.regime !== undefined) out.regime = parseRegime(o.regime);
  if (o.hcr !== undefined) out.hcr = parseRegister("--hcr (HCR_EL2)", o.hcr);
  if (o.vtcr !== undefined) out.vtcr = parseRegister("--vtcr (VTCR_EL2)", o.vtcr);
  if (o.vttbr !== undefined) out.vttbr = parseRegister("--vttbr (VTTBR_EL2)", o.vttbr);
  const hcr = decodeHcr(out.hcr ?? 0n);
  if ((out.regime ?? "el10") === "el10" && hcr.stage2 && out.vtcr === undefined) {
    throw new UsageError("--hcr: HCR_EL2.VM (or DC) asks for two stages: give --vtcr and --vttbr too");
  }
  return out;
}

function stage2Json(r: Stage2Result): Record<string, unknown> {
  const trail = r.trail.map((t) => ({
    level: t.level,
    address: `0x${t.address.toString(16)}`,
    value: t.value === undefined ? null : hex64(t.value),
    descriptor: t.descriptor ?? null,
  }));
  if (r.kind === "fault") {
    return {
      ipa: hex64(r.ipa),
      kind: "fault",
      fault: r.fault,
      level: r.level,
      fsc: `0x${r.fsc.toString(16).padStart(2, "0")}`,
      reason: r.reason,
      trail,
    };
  }
  return {
    ipa: hex64(r.ipa),
    kind: "ok",
    pa: `0x${r.pa.toString(16)}`,
    level: r.level,
    blockSize: r.blockSize,
    permissions: r.permissions,
    trail,
  };
}

function formatStage2(r: Stage2Result): string {
  const lines = [
    "IPA               PHYSICAL",
    `${r.ipa.toString(16).padStart(16, "0")}  ${r.kind === "ok" ? r.pa.toString(16) : "(fault)"}`,
    "",
  ];
  for (const t of r.trail) {
    const d = t.descriptor;
    const what = !d
      ? "not backed by memory"
      : d.kind === "table"
        ? `table -> ${d.nextTable.toString(16)}`
        : d.kind === "invalid"
          ? "invalid"
          : `${d.kind} -> ${d.oa.toString(16)}`;
    lines.push(
      `  S2 L${t.level}: ${t.address.toString(16).padStart(12, " ")} => ${t.value === undefined ? "<unbacked>" : hex64(t.value)}  ${what}`,
    );
  }
  if (r.kind === "ok") {
    const p = r.permissions;
    lines.push(`  ACCESS: S2AP ${p.r ? "r" : "-"}${p.w ? "w" : "-"}, exec EL1 ${p.x1 ? "x" : "-"} EL0 ${p.x0 ? "x" : "-"}`);
  } else {
    lines.push(`  FAULT: stage-2 ${r.fault} fault, level ${r.level} (FSC 0x${r.fsc.toString(16).padStart(2, "0")}): ${r.reason}`);
  }
  return `${lines.join("\n")}\n`;
}

export function resultJson(r: TranslationResult): Record<string, unknown> {
  const common = {
    va: hex64(r.va),
    access: r.access,
    half: r.half === undefined ? null : `TTBR${r.half}`,
    par: r.par === null ? null : hex64(r.par),
    trail: r.trail.map((t) => ({
      level: t.level,
      address: `0x${t.address.toString(16)}`,
      value: t.value === undefined ? null : hex64(t.value),
      descriptor: t.descriptor ?? null,
    })),
  };
  if (r.kind === "fault") {
    const s2 =
      r.stage === 2
        ? {
            stage: 2,
            s1ptw: r.s1ptw ?? false,
            ipa: r.ipa === undefined ? null : hex64(r.ipa),
            stage2: r.stage2 ? stage2Json(r.stage2) : null,
          }
        : {};
    return {
      ...common,
      kind: "fault",
      fault: r.fault,
      level: r.level,
      fsc: `0x${r.fsc.toString(16).padStart(2, "0")}`,
      reason: r.reason,
      ...s2,
    };
  }
  return {
    ...common,
    kind: "ok",
    pa: `0x${r.pa.toString(16)}`,
    level: r.level,
    blockSize: r.blockSize,
    leafKind: r.leafKind,
    descriptor: r.descriptor ?? null,
    attrIndx: r.attrIndx,
    mair: `0x${r.mairByte.toString(16).padStart(2, "0")}`,
    memoryType: r.memAttr.name,
    shareability: r.shareability,
    permissions: r.permissions,
    contiguous: r.contiguous,
    nG: r.nG,
    af: r.af,
    apTable: r.apTable,
    uxnTable: r.uxnTable,
    pxnTable: r.pxnTable,
    ...(r.stage2
      ? {
          ipa: hex64(r.stage2.ipa),
          stage2: stage2Json(r.stage2.result),
          combined:
            r.stage2.attr === undefined ? null : { attr: `0x${r.stage2.attr.toString(16).padStart(2, "0")}`, shareability: r.stage2.sh },
        }
      : {}),
    ...(r.indirection
      ? {
          indirection: {
            piIndex: r.indirection.piIndex,
            pir: decodeS1IndirectPerm(r.indirection.pir).name,
            pire0: decodeS1IndirectPerm(r.indirection.pire0).name,
          },
        }
      : {}),
  };
}

interface TranslateOptions extends DumpInputOptions {
  dump: string[];
  regime?: string;
  hcr?: string;
  vtcr?: string;
  vttbr?: string;
  stage?: string;
  access: string;
  input?: string;
  format: string;
  output?: string;
}

export function registerTranslateCommand(program: Command): void {
  const cmd = program
    .command("translate")
    .description("translate virtual addresses through the stage-1 tables in memory (hardware-exact walk, PAR_EL1)")
    .argument("[va...]", "virtual addresses (hex, 0x optional); each may be followed by :ACCESS, e.g. 0xffff000000210000:w")
    .option("-a, --access <access>", `default access: ${ACCESS_LIST}`, "r")
    .option("-i, --input <file>", "read `VA [access]` lines from a file (- for stdin)")
    .option("-f, --format <fmt>", "text (vtop-style trace) or json", "text")
    .option(
      "--dump <input>",
      "read memory from a dump: ELF core (QEMU dump-guest-memory, kdump vmcore), snapshot .json, or FILE@PA (repeatable)",
      collect,
      [],
    )
    .option("-o, --output <file>", "write to a file (atomically) instead of stdout")
    .option("--regime <regime>", REGIME_HELP)
    .option("--hcr <hex>", "HCR_EL2: with VM (or DC) set the EL1&0 walk has two stages (--vtcr, --vttbr); FWB, PTW, CD, ID, TGE, E2H apply")
    .option("--vtcr <hex>", "VTCR_EL2 (stage 2: IPA size, granule, start level, PS)")
    .option("--vttbr <hex>", "VTTBR_EL2 (stage-2 start table, VMID)")
    .option("--stage <n>", "2: the arguments are IPAs, translated by stage 2 alone (--vtcr, --vttbr; HCR_EL2.VM implied)");
  addDumpInputOptions(cmd);
  cmd.addHelpText(
    "after",
    `
Examples:
  $ vmsa translate --example linux-6.1-4k48 0xffff000000210000 0xffff800008010000:x
  $ vmsa translate --mem ram.bin@0x40000000 --preset linux-4k-48 --ttbr1 0x40530000 -f json -i vas.txt
  $ vmsa translate --dump guest.core 0xffff800008010000      # registers from the core's VMCOREINFO
  $ vmsa translate --gdb 127.0.0.1:1234 0xffff800008010000   # a running QEMU: reads only the walk's tables,
                                                           # the guest is stopped meanwhile, then left running
  $ printf '0xffff000000000000 w\\n0xffff800008010000 el0:r\\n' | vmsa translate --example linux-6.1-4k48 -i -
  $ vmsa translate --mem guest.bin@0x40000000 --preset linux-4k-48 --ttbr1 0x41000000 \\
      --hcr 0x80000001 --vtcr 0x80023558 --vttbr 0x48000000 0xffff000000210000   # AT S12E1R
  $ vmsa translate --mem host.bin@0x40000000 --stage 2 --vtcr 0x80023558 --vttbr 0x48000000 0x40210000
  $ vmsa translate --mem hyp.bin@0x40000000 --regime el2 --ttbr0 0x41000000 --tcr 0x80803520 \\
      --mair 0xff --sctlr 0x30c50831 0x40200000                                   # AT S1E2R
  $ vmsa translate --example pkvm-hyp 0x800000210000:x 0x800000210000:w     # pKVM hyp text at EL2
  $ vmsa translate --example pkvm-host-s2 0x40210000                         # a hyp page, from the host (IPA)

A walk that needs a table the input does not contain is reported as missing data ("(missing)",
JSON "kind": "missing"), not as a fault: a CPU would read that memory.

${exitStatusHelp("not used (a fault is a result, not a finding)")}`,
  );
  cmd.action(async (vas: string[], o: TranslateOptions) => {
    if (o.format !== "text" && o.format !== "json") throw new UsageError(`--format: "${o.format}" is not text or json`);
    const dflt = parseAccess(o.access, "--access");
    const queries: Query[] = vas.map((arg) => {
      const colon = arg.indexOf(":");
      const v = colon < 0 ? arg : arg.slice(0, colon);
      const a = colon < 0 ? undefined : arg.slice(colon + 1);
      return { va: parseVa(v ?? "", `argument "${arg}"`), access: a ? parseAccess(a, `argument "${arg}"`) : dflt };
    });
    if (o.input) queries.push(...readQueries(o.input, dflt));
    if (queries.length === 0) throw new UsageError("no virtual address given (arguments or --input FILE)");
    // --mem without --example names memory exactly like --dump FILE@PA (same layout and register handling).
    const oo = regimeOpenOptions(o);
    // The dump readers (./open-inputs.ts) are loaded only for a dump, not for --example or --mem
    // with registers (issue 14: startup).
    const m =
      o.gdb !== undefined
        ? await (await import("./open-inputs.js")).openInputs(o.dump, oo, { vas: queries.map((q) => q.va) })
        : o.dump.length > 0 || ((o.mem ?? []).length > 0 && !o.example)
          ? await (await import("./open-inputs.js")).openDumpFromOptions(o.dump, oo)
          : { ...(await machineFromOptions(o, { markers: false })), notes: [] };
    for (const n of m.notes) process.stderr.write(`vmsa: note: ${n}\n`);
    const regs = withRegimeOptions(m.regs, o);
    // --example pkvm-host-s2 is the host's stage 2 alone: its arguments are IPAs.
    const stage = o.stage ?? (isStage2Example(o.example) ? "2" : undefined);
    if (isStage2Example(o.example) && stage !== "2") throw new UsageError(`--stage: --example ${o.example} is a stage-2 input (IPAs)`);
    if (stage !== undefined) {
      if (stage !== "2") throw new UsageError(`--stage: "${o.stage}" is not 2 (stage 1 is the default walk)`);
      if (regs.vtcr === undefined) throw new UsageError("--stage 2 needs --vtcr (and --vttbr)");
      const s2 = new Walker(m.mem, compileStage2({ hcr: regs.hcr ?? HCR_VM, vtcr: regs.vtcr, vttbr: regs.vttbr ?? 0n }, regs.features));
      const results = queries.map((q) => s2.translateIpa(q.va, q.access));
      // A stage-2 table the input does not hold: the translation is unknown, not a fault.
      if (results.some((r) => r.kind === "fault" && r.fault === "external-abort" && r.trail[r.trail.length - 1]?.value === undefined)) {
        process.stderr.write("vmsa: warning: a stage-2 table is not in the input: those translations are unknown, not faults\n");
        process.exitCode = EXIT_INCONCLUSIVE;
      }
      if (o.format === "json")
        emit(`${toJson({ registers: m.sources, results: results.map(stage2Json) }, results.length > 100 ? 0 : 1)}\n`, o.output);
      else emit(results.map(formatStage2).join("\n"), o.output);
      return;
    }
    const walker = new Walker(m.mem, regs);
    const missing: { va: bigint; size: bigint; level: number; table: bigint }[] = [];
    const translate = (q: Query): TranslationResult => {
      const r = walker.translate(q.va, q.access);
      const mt = missingTable(r, walker.ctx);
      if (mt) missing.push({ va: q.va, size: 1n, ...mt });
      return r;
    };
    if (o.format === "json") {
      const results = queries.map((q) => {
        const r = translate(q);
        const mt = missingTable(r, walker.ctx);
        if (!mt) return resultJson(r);
        // Not a fault: the walk stopped where the input has no data.
        const j = resultJson(r);
        for (const k of ["fault", "fsc", "reason", "par"]) delete j[k];
        return { ...j, kind: "missing", par: null, level: mt.level, missing: { level: mt.level, table: `0x${mt.table.toString(16)}` } };
      });
      // Indented for a handful of addresses, compact for bulk runs (100k addresses stay ~40 MB).
      emit(`${toJson({ registers: m.sources, results }, results.length > 100 ? 0 : 1)}\n`, o.output);
    } else {
      emit(queries.map((q) => formatVtop(translate(q), walker.ctx)).join("\n"), o.output);
    }
    warnMissing(missing, "those translations are unknown, not faults");
    if (missing.length > 0) process.exitCode = EXIT_INCONCLUSIVE;
  });
}
