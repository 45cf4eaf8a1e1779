/**
 * `vmsa scenario`, `vmsa demo`, `vmsa layout`: the kernel library's thread scenarios and the
 * arm64 kernel address-space layout.
 */
import { join } from "node:path";
import type { Command } from "commander";
import { hex64, parseCount, parseU64 } from "../arch/u64.js";
import { bootKernel } from "../kernel/boot.js";
import { Kernel } from "../kernel/context.js";
import { Fixmap } from "../kernel/fixmap.js";
import { kernelGeometry, SUPPORTED_VA_BITS } from "../kernel/geometry.js";
import { kaslrPlacement, kernelLayout, layoutMarkers } from "../kernel/layout.js";
import { DirectPort } from "../kernel/port.js";
import { demo, flagged, recordRun, renderRun, SCENARIOS, scenarioById, scenarioYaml, type Variant } from "../kernel/scenarios/index.js";
import { PhysMem } from "../mem/physmem.js";
import { emit, NUMBERS_HELP, toJson, UsageError } from "./common.js";
import { exportTablesImage } from "./export-image.js";

interface ScenarioOptions {
  export?: string;
  variant: string;
  format: string;
  all?: boolean;
  trace?: boolean;
}

function listScenarios(): string {
  const lines = SCENARIOS.map((s) => `${s.id.padEnd(20)} ${s.title}  [${s.thread}]`);
  return `${lines.join("\n")}\n`;
}

function parseGeometry(o: { granule: string; vaBits: string }): { g: "4K" | "16K" | "64K"; vaBits: number } {
  const g = o.granule.toUpperCase();
  if (g !== "4K" && g !== "16K" && g !== "64K") throw new UsageError(`--granule: "${o.granule}" is not 4K, 16K or 64K`);
  const vaBits = parseCount(o.vaBits, "--va-bits", 36, 52);
  if (!SUPPORTED_VA_BITS[g].includes(vaBits)) {
    throw new UsageError(`--va-bits: ${o.vaBits} is not supported with ${g} pages (expected ${SUPPORTED_VA_BITS[g].join(", ")})`);
  }
  return { g, vaBits };
}

/** `--ram BASE:SIZE`: one RAM bank, both hex, page aligned, below 2^48. */
function parseRam(text: string): { base: number; size: number } {
  const m = /^([^:]+):([^:]+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--ram: "${text}" is not BASE:SIZE (hex, e.g. 40000000:40000000)`);
  const base = parseU64(m[1] ?? "", "--ram base");
  const size = parseU64(m[2] ?? "", "--ram size");
  if (base % 0x1000n !== 0n || size % 0x1000n !== 0n || size === 0n || base + size > 1n << 48n) {
    throw new UsageError(`--ram: "${text}": base and size must be 4 KiB aligned, size non-zero, and the bank below 2^48`);
  }
  return { base: Number(base), size: Number(size) };
}

/** A KASLR seed is a 64-bit value: hex, 0x optional, like every value vmsa reads. */
function parseSeed(text: string): bigint {
  return parseU64(text, "--kaslr-seed");
}

export function registerKernelCommands(program: Command): void {
  program
    .command("scenario")
    .argument("[name]", "scenario id (omit to list them)")
    .description("run one of the five source threads as a scenario on the checked machine (bad and/or good variant)")
    .option("--variant <v>", "bad, good or both", "both")
    .option("--format <f>", "text or json", "text")
    .option("--all", "print every checker report, not one per rule")
    .option("--trace", "print the machine steps behind each report")
    .option("--export <dir>", "also write each run as a scenario file DIR/<name>-<variant>.yaml (replay with vmsa check)")
    .addHelpText(
      "after",
      `
Exit status:
  0  as expected: with --variant both, the bad variant flagged and the good one clean;
     with a single variant, clean (no checker report, no kernel refusal)
  1  findings: with --variant both, a variant judged otherwise; with one variant, it is flagged
  2  bad input (unknown scenario, variant or format)
  3  (not used: each run is one complete interleaving, checked to its end)

Examples:
  $ vmsa scenario                       # list the scenarios
  $ vmsa scenario contiguous-split
  $ vmsa scenario kmap-atomic --variant bad --trace
  $ vmsa scenario zero-page --export examples/kernel && vmsa check examples/kernel/zero-page-bad.yaml`,
    )
    .action((name: string | undefined, o: ScenarioOptions) => {
      if (name === undefined) {
        emit(listScenarios());
        return;
      }
      const s = scenarioById(name);
      if (!s) throw new UsageError(`scenario: unknown scenario "${name}" (expected one of: ${SCENARIOS.map((x) => x.id).join(", ")})`);
      if (!["bad", "good", "both"].includes(o.variant)) throw new UsageError(`--variant: "${o.variant}" is not bad, good or both`);
      if (!["text", "json"].includes(o.format)) throw new UsageError(`--format: "${o.format}" is not text or json`);
      const variants: Variant[] = o.variant === "both" ? ["bad", "good"] : [o.variant as Variant];
      const runs = variants.map((v) => (o.export !== undefined ? recordRun(s, v) : s.run(v)));
      if (o.export !== undefined) {
        for (const r of runs) emit(scenarioYaml(s, r), join(o.export, `${s.id}-${r.variant}.yaml`), { what: "--export", mkdir: true });
      }
      if (o.format === "json") {
        emit(`${toJson(runs.map((r) => ({ ...r, flagged: flagged(r) })))}\n`);
      } else {
        emit(`${runs.map((r) => renderRun(s, r, { all: o.all, trace: o.trace })).join("\n")}\n`);
      }
      if (o.variant === "both") {
        const bad = runs[0];
        const good = runs[1];
        process.exitCode = bad && good && flagged(bad) && !flagged(good) ? 0 : 1;
      } else {
        process.exitCode = runs.some(flagged) ? 1 : 0;
      }
    });

  program
    .command("demo")
    .description("run every thread scenario, bad and good, and print a short report per thread")
    .option("--trace", "print the machine steps behind each report")
    .addHelpText(
      "after",
      `
Exit status:
  0  every bad variant flagged and every good one clean
  1  some variant judged otherwise
  2  bad input
  3  (not used: each run is one complete interleaving, checked to its end)

Example:
  $ vmsa demo`,
    )
    .action((o: { trace?: boolean }) => {
      const d = demo(undefined, { trace: o.trace });
      emit(`${d.text}\n`);
      process.exitCode = d.ok ? 0 : 1;
    });

  program
    .command("boot")
    .description("build a modelled kernel's tables (map_kernel, map_mem, fixmap, mark_rodata_ro) and print its ptdump")
    .option("--granule <g>", "4K, 16K or 64K", "4K")
    .option("--va-bits <n>", "VA_BITS, decimal", "48")
    .option("--kaslr-seed <seed>", "KASLR seed, hex (0: nokaslr)", "0")
    .option("--rodata-full", "rodata=full: page-granular linear map")
    .option("--debug-pagealloc", "debug_pagealloc: page-granular linear map")
    .option("--early", "stop before mark_rodata_ro / mark_linear_text_alias_ro")
    .option("--ram <base:size>", "the RAM bank, hex (tables are allocated just above it)", "40000000:40000000")
    .option(
      "--export-image <dir>",
      "also write the tables for firmware/QEMU: tables-0xPA.bin per run, tables.elf, tables.h, tables.json (snapshot), tables.markers",
    )
    .addHelpText("after", NUMBERS_HELP)
    .addHelpText(
      "after",
      "\nExamples:\n  $ vmsa boot\n  $ vmsa boot --granule 16K --va-bits 47 --rodata-full --kaslr-seed 0x5eed\n  $ vmsa boot --ram 40000000:30000000 --export-image out && vmsa dump out/tables.json --markers out/tables.markers",
    )
    .action(
      (o: {
        granule: string;
        vaBits: string;
        kaslrSeed: string;
        rodataFull?: boolean;
        debugPagealloc?: boolean;
        early?: boolean;
        ram: string;
        exportImage?: string;
      }) => {
        const { g, vaBits } = parseGeometry(o);
        const seed = parseSeed(o.kaslrSeed);
        const b = bootKernel({
          granule: g,
          vaBits,
          kaslrSeed: seed,
          rodataFull: o.rodataFull,
          debugPagealloc: o.debugPagealloc,
          early: o.early,
          memory: [parseRam(o.ram)],
        });
        if (o.exportImage !== undefined) {
          const title = `vmsa boot --granule ${g} --va-bits ${vaBits} --kaslr-seed 0x${seed.toString(16)}${o.rodataFull ? " --rodata-full" : ""}${o.debugPagealloc ? " --debug-pagealloc" : ""}${o.early ? " --early" : ""} --ram ${o.ram}`;
          exportTablesImage(o.exportImage, b.mem, b.regs, title, b.markers);
        }
        emit(b.ptdump());
      },
    );

  program
    .command("layout")
    .description("the arm64 kernel's address-space layout, geometry and fixmap slots for a page size / VA size")
    .option("--granule <g>", "4K, 16K or 64K", "4K")
    .option("--va-bits <n>", "VA_BITS, decimal", "48")
    .option("--kaslr-seed <seed>", "place the image with this KASLR seed (hex, 0x optional)")
    .option("--format <f>", "text or json", "text")
    .addHelpText("after", NUMBERS_HELP)
    .addHelpText("after", "\nExamples:\n  $ vmsa layout\n  $ vmsa layout --granule 64K --va-bits 52 --kaslr-seed 0x1234567890abcdef")
    .action((o: { granule: string; vaBits: string; kaslrSeed?: string; format: string }) => {
      const { g, vaBits } = parseGeometry(o);
      const geo = kernelGeometry({ granule: g, vaBits });
      const layout = kernelLayout(geo);
      const k = new Kernel(new DirectPort(new PhysMem()), { granule: g, vaBits });
      const fm = new Fixmap(k, layout);
      const markers = layoutMarkers(layout, fm.FIXADDR_START);
      const seed = o.kaslrSeed === undefined ? undefined : parseSeed(o.kaslrSeed);
      const kaslr = seed !== undefined ? kaslrPlacement(geo, layout, seed, 0x4020_0000n) : undefined;
      if (o.format === "json") {
        emit(`${toJson({ geometry: { ...geo, granule: geo.granule.name }, layout, fixmap: fm.slots, markers, kaslr })}\n`);
        return;
      }
      const out: string[] = [];
      out.push(
        `${g} pages, ${vaBits}-bit VA: ${geo.levels} levels (PGD at level ${geo.pgdLevel}), PTRS_PER_PTE ${geo.PTRS_PER_PTE}, PTRS_PER_PGD ${geo.PTRS_PER_PGD}`,
      );
      out.push(
        `PMD_SIZE 0x${geo.PMD_SIZE.toString(16)}, CONT_PTES ${geo.CONT_PTES} (0x${geo.CONT_PTE_SIZE.toString(16)}), CONT_PMDS ${geo.CONT_PMDS} (0x${geo.CONT_PMD_SIZE.toString(16)})${geo.pudSectSupported ? `, PUD blocks 0x${geo.PUD_SIZE.toString(16)}` : ""}, SEGMENT_ALIGN 0x${geo.SEGMENT_ALIGN.toString(16)}`,
      );
      for (const m of markers) out.push(`${hex64(m.address)}  ${m.name}`);
      out.push(
        `fixmap: FIXADDR_TOP ${hex64(layout.FIXADDR_TOP)}, ${fm.slots.__end_of_permanent_fixed_addresses} permanent slots, FIX_PGD=${fm.slots.FIX_PGD} at ${hex64(fm.virt(fm.slots.FIX_PGD))}`,
      );
      if (kaslr)
        out.push(`KASLR: offset 0x${kaslr.offset.toString(16)}, _text at ${hex64(kaslr.imageVa)}${kaslr.nG ? ", mappings nG" : ""}`);
      emit(`${out.join("\n")}\n`);
    });
}
