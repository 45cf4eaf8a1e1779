/**
 * A small booted arm64 system for the thread scenarios: 1 GiB of RAM at 0x4000_0000, a kernel
 * image at 0x4020_0000, boot tables (init_pg_dir: the image mapped coarse RWX, plus the fixmap),
 * an idmap of the image text, and a reserved (zeroed) table — built unchecked, as head.S would
 * before the model starts — then a checked Machine whose CPUs run with TTBR1 = init_pg_dir.
 */

import type { Regs } from "../../arch/registers.js";
import { Machine } from "../../machine/machine.js";
import type { Violation } from "../../machine/types.js";
import { PhysMem } from "../../mem/physmem.js";
import { MemblockAllocator, SafePageAllocator } from "../alloc.js";
import { Kernel, type KernelOptions } from "../context.js";
import { Fixmap, type FixmapConfig } from "../fixmap.js";
import { type KernelImage, kernelImage, type LinearMap, mapMem, markLinearTextAliasRo, type SegmentName, segment } from "../image.js";
import { type KernelLayout, kernelLayout } from "../layout.js";
import { CheckedPort, type RecordedStep } from "../machine-port.js";
import { createMapping } from "../mmu.js";
import { DirectPort } from "../port.js";
import { kernelRegs } from "../regs.js";

export const RAM_BASE = 0x4000_0000;
export const RAM_SIZE = 0x4000_0000;
export const IMAGE_PA = 0x4020_0000;
/** memblock pool for page tables. */
export const TABLE_POOL = 0x7000_0000;
/** Safe pages (hibernate / kexec control pages). */
export const SAFE_POOL = 0x7800_0000;

let recordWorlds = false;

/** Run `f` with every world it builds recording its machine steps in scenario-file syntax. */
export function withRecording<T>(f: () => T): T {
  const prev = recordWorlds;
  recordWorlds = true;
  try {
    return f();
  } finally {
    recordWorlds = prev;
  }
}

/** What a recorded run needs to be replayed from a scenario file. */
export interface Recording {
  readonly cpus: number;
  readonly regs: Regs;
  readonly ram: readonly { base: number; size: number }[];
  /** Non-zero 64-bit words of memory when the checked machine started. */
  readonly words: readonly (readonly [number, bigint])[];
  readonly steps: readonly RecordedStep[];
}

export interface WorldOptions {
  readonly kernel?: Partial<KernelOptions>;
  readonly cpus?: number;
  readonly fixmap?: FixmapConfig;
  /** Fill the zero page with junk before the model starts (its .bss is not yet cleared). */
  readonly junkZeroPage?: boolean;
  /** TTBR0 at start: the reserved table (default) or the idmap. */
  readonly ttbr0?: "reserved" | "idmap";
  /** Start with the MMU and caches off (SCTLR_EL1.M = C = 0), as head.S runs. */
  readonly mmuOff?: boolean;
  /** Boot with the linear map of RAM already in init_pg_dir (and the text alias read-only). */
  readonly linearMap?: boolean;
}

export interface World {
  readonly mem: PhysMem;
  readonly machine: Machine;
  readonly port: CheckedPort;
  readonly k: Kernel;
  readonly layout: KernelLayout;
  readonly fixmap: Fixmap;
  readonly alloc: MemblockAllocator;
  readonly safe: SafePageAllocator;
  readonly image: KernelImage;
  /** init_pg_dir: the live boot tables (TTBR1). */
  readonly initPgd: number;
  /** idmap_pg_dir (TTBR0 while switching). */
  readonly idmap: number;
  /** PA (= idmap VA) of idmap_cpu_replace_ttbr1 in .idmap.text. */
  readonly idmapText: bigint;
  /** reserved_pg_dir / empty_zero_page: an all-zero table in the image's .bss. */
  readonly reserved: number;
  /** Initial state, when recording (withRecording). */
  readonly initial: Omit<Recording, "steps"> | undefined;
  /** The linear map, when built at boot. */
  readonly lm: LinearMap | undefined;
  /** Kernel VA of a segment's first byte plus `off`. */
  va(seg: SegmentName, off?: number): bigint;
}

export function buildWorld(o: WorldOptions = {}): World {
  const mem = new PhysMem();
  mem.addRam(BigInt(RAM_BASE), BigInt(RAM_SIZE));
  const kopts: KernelOptions = { granule: "4K", vaBits: 48, ...o.kernel };
  // Boot stage: unchecked stores (head.S with the MMU off builds these and cleans them to PoC).
  const boot = new Kernel(new DirectPort(mem, o.cpus ?? 2), kopts);
  const layout = kernelLayout(boot.geo);
  const image = kernelImage(boot, layout.KIMAGE_VADDR + BigInt(IMAGE_PA % boot.geo.MIN_KIMG_ALIGN), IMAGE_PA);
  const alloc = new MemblockAllocator(TABLE_POOL, 0x0800_0000, boot.geo.PAGE_SIZE);
  const safe = SafePageAllocator.range(SAFE_POOL, 256, boot.geo.PAGE_SIZE);
  const data = segment(image, "data");
  const ps = boot.geo.PAGE_SIZE;
  // .bss pages at the end of the data segment: reserved_pg_dir, then bm_* fixmap tables below it.
  const reserved = data.pa + data.size - ps;
  const bss = new MemblockAllocator(data.pa + data.size - 16 * ps, 15 * ps, ps);
  const initPgd = alloc.alloc() as number;
  mem.zero(BigInt(initPgd), ps);
  // The image, coarse and RWX (what head.S maps before paging_init).
  createMapping(boot, initPgd, image.pa, image.va, image.size, boot.prots.PAGE_KERNEL_EXEC, { alloc, fn: "head.S map_kernel" });
  const fixmap = new Fixmap(boot, layout, o.fixmap);
  fixmap.earlyInit(initPgd, bss);
  // idmap_pg_dir: the image text identity mapped (TTBR0 half).
  const idmap = alloc.alloc() as number;
  mem.zero(BigInt(idmap), ps);
  const text = segment(image, "text");
  createMapping(boot, idmap, text.pa, BigInt(text.pa), text.size, boot.prots.PAGE_KERNEL_ROX, { alloc, fn: "head.S idmap" });
  let lm: LinearMap | undefined;
  if (o.linearMap) {
    lm = mapMem(boot, initPgd, layout, [{ base: RAM_BASE, size: RAM_SIZE }], image, alloc);
    markLinearTextAliasRo(boot, initPgd, lm, image);
  }
  mem.zero(BigInt(reserved), ps);
  if (o.junkZeroPage) {
    // .bss before it is cleared: leftovers that look like descriptors (an old copy of the idmap's pgd).
    mem.writeBytes(BigInt(reserved), mem.readBytes(BigInt(idmap), ps));
  }
  let regs = kernelRegs(boot.geo, initPgd, o.ttbr0 === "idmap" ? idmap : reserved);
  if (o.mmuOff) regs = { ...regs, sctlr: regs.sctlr & ~0x5n };
  const machine = new Machine({ cpus: o.cpus ?? 2, mem, regs, bbmLevel: 0 });
  const port = new CheckedPort(machine);
  let initial: Omit<Recording, "steps"> | undefined;
  if (recordWorlds) {
    port.recorded = [];
    const words: [number, bigint][] = [];
    for (const pfn of mem.backedFrames()) {
      for (let a = pfn * 4096; a < pfn * 4096 + 4096; a += 8) {
        const v = mem.read64(BigInt(a)) ?? 0n;
        if (v !== 0n) words.push([a, v]);
      }
    }
    initial = { cpus: o.cpus ?? 2, regs, ram: [{ base: RAM_BASE, size: RAM_SIZE }], words };
  }
  const k = new Kernel(port, kopts);
  const fm = new Fixmap(k, layout, o.fixmap);
  fm.pgd = initPgd;
  fm.bmPtes = fixmap.bmPtes;
  return {
    mem,
    machine,
    port,
    k,
    layout,
    fixmap: fm,
    alloc,
    safe,
    image,
    initPgd,
    idmap,
    idmapText: BigInt(text.pa + 0x1000),
    reserved,
    initial,
    lm,
    va: (seg: SegmentName, off = 0) => segment(image, seg).va + BigInt(off),
  };
}

// ---------------------------------------------------------------------------------------------
// Scenario results

export type Variant = "bad" | "good";

export interface ScenarioRun {
  readonly id: string;
  readonly variant: Variant;
  /** What the flow did, in order. */
  readonly narrative: readonly string[];
  /** Checker reports. */
  readonly violations: readonly Violation[];
  /** Kernel-library refusals and faults the flow met (the kernel's BUG/-Exxx, or a fault at an access). */
  readonly errors: readonly string[];
  /** Machine steps executed. */
  readonly steps: number;
  /** The run as replayable steps (when recorded with withRecording). */
  readonly recording?: Recording;
}

export interface ThreadScenario {
  readonly id: string;
  /** Source thread file in shared/context. */
  readonly thread: string;
  readonly title: string;
  /** What the bad variant gets wrong and what the checker (or the kernel) says, per the thread. */
  readonly bad: string;
  readonly good: string;
  run(variant: Variant): ScenarioRun;
}

/** Whether a run was flagged (any checker report or kernel refusal/fault). */
export function flagged(r: ScenarioRun): boolean {
  return r.violations.length > 0 || r.errors.length > 0;
}

export function finish(w: World, id: string, variant: Variant, narrative: string[], errors: string[]): ScenarioRun {
  w.machine.finish();
  const base = { id, variant, narrative, violations: [...w.machine.reports], errors, steps: w.machine.steps.length };
  if (w.initial && w.port.recorded) return { ...base, recording: { ...w.initial, steps: w.port.recorded } };
  return base;
}
