/**
 * Thread 002 (Mark Rutland / Ard Biesheuvel, Dec 2015, early mapping and FIX_{PGD,PUD,PMD,PTE}):
 * turning the coarse boot mapping of the kernel into fine-grained mappings. Splitting the live
 * block in place either breaks break-before-make (TLB conflicts) or, done with BBM, unmaps the
 * very code doing it; the answer is a whole new set of tables built through the fixmap slots
 * and switched to through the reserved table from the idmap (cpu_replace_ttbr1).
 */
import { hex64 } from "../../arch/u64.js";
import { mapKernel, mapMem, markRodataRo, segment } from "../image.js";
import { splitBlock } from "../mmu.js";
import { cpuReplaceTtbr1 } from "../ttbr.js";
import { buildWorld, finish, RAM_BASE, RAM_SIZE, type ScenarioRun, type ThreadScenario, type Variant } from "./world.js";

function run(variant: Variant): ScenarioRun {
  const w = buildWorld();
  const { k, port } = w;
  const narrative: string[] = [];
  const errors: string[] = [];
  const text = segment(w.image, "text");
  // The code doing the work runs in .text, mapped by the boot tables' 2 MiB RWX block.
  const pc = text.va + 0x1_0000n;
  narrative.push(
    `boot tables (init_pg_dir at 0x${w.initPgd.toString(16)}) map the image with 2 MiB RWX blocks; the code runs at ${hex64(pc)}`,
  );
  port.access(1, pc, "exec");
  if (variant === "bad") {
    // First, what break-before-make would do to the running kernel (on a copy of the system).
    const probe = buildWorld();
    const r = splitBlock(probe.k, probe.initPgd, pc, probe.alloc, { bbm: true, executingFrom: pc });
    if (r.selfUnmapped) {
      errors.push(
        `splitting the live text block with break-before-make unmaps the code doing it: after "${r.selfUnmapped.afterStep}" its next instruction fetch takes a ${r.selfUnmapped.fault}`,
      );
      narrative.push("with break-before-make (invalid, DSB, TLBI, DSB, new table) the running code loses its own mapping after the break");
    }
    // So the old code split in place, without the break.
    const s = splitBlock(k, w.initPgd, pc, w.alloc, { bbm: false, executingFrom: pc });
    narrative.push(...s.steps.map((x) => `in place: ${x}`));
    port.access(1, pc, "exec");
    narrative.push("CPU1 keeps executing in .text");
  } else {
    const ps = k.geo.PAGE_SIZE;
    const swapper = w.alloc.alloc() as number;
    const fa = w.fixmap.tableAccess();
    fa.zeroNew?.(k, swapper, ps);
    port.dsb(k.cpu, "ISHST");
    narrative.push(`new swapper pgd at 0x${swapper.toString(16)}: zeroed through FIX_PTE (early_pgtable_alloc)`);
    k.tableAccess = fa;
    mapKernel(k, swapper, w.image, w.alloc);
    narrative.push(
      "map_kernel into the new tables: every table page reached through FIX_PGD/PUD/PMD/PTE, one slot per level, each set and cleared (TLBI) in turn",
    );
    mapMem(k, swapper, w.layout, [{ base: RAM_BASE, size: RAM_SIZE }], w.image, w.alloc);
    narrative.push("map_mem: the linear map of RAM (NO_EXEC_MAPPINGS; the image alias without PTE_CONT)");
    k.tableAccess = undefined;
    w.fixmap.copyTo(swapper);
    narrative.push("fixmap_copy: the fixmap's PGD entry copied into the new pgd");
    if (w.fixmap.anomalies.length > 0) errors.push(...w.fixmap.anomalies);
    for (const cpu of [0, 1]) {
      const r = cpuReplaceTtbr1(k, cpu, swapper, { idmap: w.idmap, reserved: w.reserved, idmapText: w.idmapText });
      narrative.push(`CPU${cpu}: cpu_replace_ttbr1 — ${r.steps.slice(2, 5).join("; ")}`);
      errors.push(...r.fetchFaults);
    }
    w.fixmap.pgd = swapper;
    markRodataRo(k, swapper, w.image);
    narrative.push("mark_rodata_ro on the new tables: permission change only");
    const f = port.access(1, pc, "exec");
    narrative.push(`CPU1 fetches ${hex64(pc)}: ${f.ok ? `PA 0x${f.pa.toString(16)}` : `${f.fault} fault`}`);
    if (!f.ok) errors.push(`kernel text not executable after the switch: ${f.fault}`);
  }
  return finish(w, "replace-tables", variant, narrative, errors);
}

export const REPLACE_TABLES: ThreadScenario = {
  id: "replace-tables",
  thread: "002_74e04ddab0540a2f.txt",
  title: "fine-grained kernel tables: in-place split vs new tables via the fixmap and a TTBR1 switch",
  bad: "the live 2 MiB block mapping kernel text is replaced by a table in place (no BBM: TLB conflict); with BBM the running code unmaps itself",
  good: "a complete new set of tables built through FIX_PGD/PUD/PMD/PTE, then TTBR1 switched via the reserved table from the idmap",
  run,
};
