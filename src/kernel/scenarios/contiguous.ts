/**
 * Thread 001 (Jeremy Linton / Mark Rutland, Feb 2016, "arm64: Mark kernel page ranges
 * contiguous"): splitting a live contiguous range in place (rewriting each PTE without PTE_CONT,
 * then flush_tlb_all) has the same problem as splitting a section — conflicting TLB entries —
 * whereas mapping segment-aligned chunks (no CONT where permissions change later) and then only
 * changing permissions on those same chunks never splits anything.
 */
import { hex64 } from "../../arch/u64.js";
import { KernelError } from "../errors.js";
import { kernelImage, mapKernel, markRodataRo, segment } from "../image.js";
import { createMapping, splitContiguous, updateMappingProt } from "../mmu.js";
import { NO_BLOCK_MAPPINGS } from "../prot.js";
import { buildWorld, finish, IMAGE_PA, type ScenarioRun, type ThreadScenario, type Variant } from "./world.js";

function run(variant: Variant): ScenarioRun {
  const w = buildWorld();
  const { k, port } = w;
  const narrative: string[] = [];
  const errors: string[] = [];
  // Work at the linear alias of the image (unmapped so far in init_pg_dir).
  const physOffset = 0x4000_0000;
  const img = kernelImage(k, w.layout.PAGE_OFFSET + BigInt(IMAGE_PA - physOffset), IMAGE_PA);
  const text = segment(img, "text");
  const ro = segment(img, "rodata");
  if (variant === "bad") {
    const all = img.size;
    createMapping(k, w.initPgd, img.pa, img.va, all, k.prots.PAGE_KERNEL, {
      alloc: w.alloc,
      flags: NO_BLOCK_MAPPINGS,
      fn: "map_kernel_chunk (contiguous patch)",
    });
    narrative.push(
      `the image [${hex64(img.va)}, +0x${all.toString(16)}) mapped as one chunk, pages with PTE_CONT wherever 64 KiB aligned (the 2016 patch)`,
    );
    // A CPU runs there: its TLB may hold the contiguous entries.
    port.access(1, text.va + 0x2000n, "read");
    narrative.push("CPU1 reads the alias of .text: its TLB may hold the 64 KiB contiguous entries");
    try {
      updateMappingProt(k, w.initPgd, ro.pa, ro.va, ro.size, k.prots.PAGE_KERNEL_RO);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      narrative.push(`update_mapping_prot(rodata, RO) is refused: ${e.message.split(" [rule")[0]}`);
    }
    // The patch's answer: clear_cont_pte_range on each group, in place, then flush_tlb_all.
    const groups = ro.size / k.geo.CONT_PTE_SIZE;
    for (let i = 0; i < groups; i++) splitContiguous(k, w.initPgd, ro.va + BigInt(i * k.geo.CONT_PTE_SIZE), { bbm: false });
    narrative.push(`clear_cont_pte_range on ${groups} groups of rodata: set_pte(pte_mknoncont()) on live entries, then flush_tlb_all`);
    updateMappingProt(k, w.initPgd, ro.pa, ro.va, ro.size, k.prots.PAGE_KERNEL_RO);
    narrative.push("then update_mapping_prot(rodata, PAGE_KERNEL_RO) + flush_tlb_kernel_range");
  } else {
    mapKernel(k, w.initPgd, img, w.alloc);
    narrative.push(
      "map_kernel: text, rodata, init text, init data, data each mapped by their own call at SEGMENT_ALIGN; rodata without PTE_CONT",
    );
    port.access(1, text.va + 0x2000n, "exec");
    narrative.push("CPU1 executes in .text");
    markRodataRo(k, w.initPgd, img);
    narrative.push(
      "mark_rodata_ro: update_mapping_prot(rodata, PAGE_KERNEL_RO) — permission bits only, same chunk, then flush_tlb_kernel_range",
    );
  }
  const r = port.access(1, ro.va + 0x100n, "read");
  narrative.push(`CPU1 reads rodata: ${r.ok ? `PA 0x${r.pa.toString(16)}` : `${r.fault} fault`}`);
  return finish(w, "contiguous-split", variant, narrative, errors);
}

export const CONTIGUOUS_SPLIT: ThreadScenario = {
  id: "contiguous-split",
  thread: "001_c6d965e76cad00c3.txt",
  title: "contiguous kernel ranges: splitting in place vs permission changes on aligned chunks",
  bad: "PTE_CONT cleared entry by entry on live mappings (no break-before-make): conflicting TLB entries for the group",
  good: "segment-aligned chunks, rodata without PTE_CONT, later only permission changes on the same chunks",
  run,
};
