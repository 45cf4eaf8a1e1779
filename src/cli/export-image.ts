/**
 * `--export-image DIR`: write the frames vmsa built as loadable tables (see dump/table-image.ts):
 * one raw image per run of frames, `tables.json` (a snapshot vmsa loads back), `tables.elf`,
 * `tables.h`, and `tables.markers` (the ptdump markers, for `vmsa dump --markers`). Every file is
 * written atomically.
 */
import { join } from "node:path";
import type { Regs } from "../arch/registers.js";
import { hex64 } from "../arch/u64.js";
import type { Marker } from "../dump/ptdump.js";
import { backedRuns, buildTablesElf, buildTablesHeader, buildTablesSnapshot, type ImageRegs, runFileName } from "../dump/table-image.js";
import { writeFileAtomic } from "../io/files.js";
import type { PhysMem } from "../mem/physmem.js";

export function imageRegs(r: Regs): ImageRegs {
  return { TTBR0_EL1: r.ttbr0, TTBR1_EL1: r.ttbr1, TCR_EL1: r.tcr, MAIR_EL1: r.mair, SCTLR_EL1: r.sctlr };
}

/** Write the export into `dir` (created if missing); returns the file names written. */
export function exportTablesImage(dir: string, mem: PhysMem, regs: Regs, title: string, markers?: readonly Marker[]): string[] {
  const runs = backedRuns(mem);
  const ir = imageRegs(regs);
  const what = "--export-image";
  const files: string[] = [];
  const put = (name: string, data: string | Uint8Array): void => {
    writeFileAtomic(join(dir, name), data, what, { mkdir: true });
    files.push(name);
  };
  for (const r of runs) put(runFileName(r), r.data);
  put("tables.elf", buildTablesElf(runs));
  put("tables.h", buildTablesHeader(runs, ir, title));
  if (markers) put("tables.markers", markers.map((m) => `${hex64(m.address)} ${m.name}\n`).join(""));
  put("tables.json", buildTablesSnapshot(runs, ir, title));
  return files;
}
