/**
 * Boot a modelled arm64 kernel's page tables in one call: swapper_pg_dir with the image segments
 * (map_kernel), the linear map (map_mem), the fixmap, then mark_rodata_ro and
 * mark_linear_text_alias_ro — the tables `/sys/kernel/debug/kernel_page_tables` would show.
 */
import type { Regs } from "../arch/registers.js";
import { type Marker, ptdump } from "../dump/ptdump.js";
import { PhysMem } from "../mem/physmem.js";
import { MemblockAllocator } from "./alloc.js";
import { Kernel, type KernelOptions } from "./context.js";
import { Fixmap, type FixmapConfig } from "./fixmap.js";
import {
  type KernelImage,
  kernelImage,
  type LinearMap,
  type MapMemOptions,
  type MemBlock,
  mapKernel,
  mapMem,
  markLinearTextAliasRo,
  markRodataRo,
  type SegmentSizes,
} from "./image.js";
import { type KaslrPlacement, type KernelLayout, kaslrPlacement, kernelLayout, layoutMarkers } from "./layout.js";
import { DirectPort, type MachinePort } from "./port.js";
import { kernelRegs } from "./regs.js";

export interface BootOptions extends Partial<KernelOptions>, MapMemOptions {
  /** RAM banks (default 1 GiB at 0x4000_0000). */
  readonly memory?: readonly MemBlock[];
  /** Physical address of _text (default 0x4020_0000). */
  readonly imagePa?: number;
  readonly segments?: SegmentSizes;
  /** KASLR seed (0 or undefined: nokaslr). */
  readonly kaslrSeed?: bigint;
  /** Skip mark_rodata_ro / mark_linear_text_alias_ro (the state before late init). */
  readonly early?: boolean;
  readonly fixmap?: FixmapConfig;
  /** Port to build through (default: an unchecked DirectPort over a new PhysMem). */
  readonly port?: MachinePort;
}

export interface BootedKernel {
  readonly mem: PhysMem;
  readonly k: Kernel;
  readonly layout: KernelLayout;
  readonly fixmap: Fixmap;
  readonly image: KernelImage;
  readonly lm: LinearMap;
  readonly kaslr: KaslrPlacement;
  readonly pgd: number;
  readonly regs: Regs;
  readonly markers: readonly Marker[];
  /** The ptdump text of the booted tables. */
  ptdump(): string;
}

export function bootKernel(o: BootOptions = {}): BootedKernel {
  const port = o.port ?? new DirectPort(new PhysMem());
  const mem = port.mem;
  const probe = new Kernel(new DirectPort(mem), { granule: o.granule ?? "4K", vaBits: o.vaBits ?? 48 });
  const layout = kernelLayout(probe.geo);
  const imagePa = o.imagePa ?? 0x4020_0000;
  const kaslr = kaslrPlacement(probe.geo, layout, o.kaslrSeed ?? 0n, BigInt(imagePa));
  const k = new Kernel(port, { granule: o.granule ?? "4K", vaBits: o.vaBits ?? 48, era: o.era, nG: o.nG ?? kaslr.nG });
  const memory = o.memory ?? [{ base: 0x4000_0000, size: 0x4000_0000 }];
  for (const b of memory) mem.addRam(BigInt(b.base), BigInt(b.size));
  const top = Math.max(...memory.map((b) => b.base + b.size));
  // Tables come from above RAM, like memblock allocations from the top of memory.
  const alloc = new MemblockAllocator(Math.ceil(top / 0x10_0000) * 0x10_0000, 0x1000_0000, k.geo.PAGE_SIZE);
  const image = kernelImage(k, kaslr.imageVa - (kaslr.imageVa % BigInt(k.geo.PAGE_SIZE)), imagePa, o.segments);
  const pgd = alloc.alloc() as number;
  port.zero(k.cpu, pgd, k.geo.PAGE_SIZE);
  const fixmap = new Fixmap(k, layout, o.fixmap);
  const bss = new MemblockAllocator(alloc.cursor + 0x800_0000, 0x100_0000, k.geo.PAGE_SIZE);
  mapKernel(k, pgd, image, alloc);
  fixmap.earlyInit(pgd, bss);
  const lm = mapMem(k, pgd, layout, memory, image, alloc, o);
  if (!o.early) {
    markRodataRo(k, pgd, image);
    markLinearTextAliasRo(k, pgd, lm, image);
  }
  const regs = kernelRegs(k.geo, pgd);
  const markers = layoutMarkers(layout, fixmap.FIXADDR_START);
  return { mem, k, layout, fixmap, image, lm, kaslr, pgd, regs, markers, ptdump: () => ptdump(mem, regs, { markers }) };
}
