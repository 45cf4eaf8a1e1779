/**
 * dump-linux: the range walk (coalesced mappings of the whole TTBR1 half) plus the ptdump of a
 * real Linux 6.1 kernel (1 GiB guest, 4K pages; examples/linux-6.1-4k48): dumps per second, and
 * milliseconds per dump.
 * dump-aliased: the same (range walk, ptdump, audit) over a fully aliased 4-level 4K tree (every
 * entry at every level names one next table: 512^3 VA paths, 4 distinct tables), which must cost
 * about as much as 4 tables, not 2^36 pages.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { descriptorFormat, encodeLeaf, encodeTable } from "../src/arch/descriptor.js";
import { GRANULE_4K } from "../src/arch/granule.js";
import { presetByName } from "../src/arch/registers.js";
import { machineFromOptions } from "../src/cli/common.js";
import { audit } from "../src/dump/audit.js";
import { linuxLayout } from "../src/dump/layout.js";
import { ptdump, ptdumpReport } from "../src/dump/ptdump.js";
import { PhysMem } from "../src/mem/physmem.js";
import { compileRegs } from "../src/walk/context.js";
import { halfBase, mappingReport, mappingRuns } from "../src/walk/range.js";

const EX = join(dirname(fileURLToPath(import.meta.url)), "../../examples/linux-6.1-4k48");

export async function run(): Promise<{ workload: string; ops_per_s: number; ms: number }[]> {
  const { mem, regs } = await machineFromOptions({ example: "linux-6.1-4k48" });
  const ctx = compileRegs(regs);
  const markers = linuxLayout({ version: [6, 1], pageShift: 12, vaBits: 48, fixmapSize: 0x407000n }).markers;
  const expected = readFileSync(join(EX, "kernel_page_tables.txt"), "utf8");
  const start = halfBase(ctx.halves[1]);
  const once = (): void => {
    if (mappingRuns(mem, ctx, start, 0n).length === 0) throw new Error("dump-linux: no mappings");
    if (ptdump(mem, ctx, { markers }) !== expected) throw new Error("dump-linux: output differs from the kernel's");
  };
  for (let i = 0; i < 20; i++) once();
  const n = 200;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) once();
  const c = process.cpuUsage(c0);
  const s = (c.user + c.system) / 1e6;
  return [{ workload: "dump-linux", ops_per_s: Math.round(n / s), ms: Number(((s * 1000) / n).toFixed(3)) }, aliased()];
}

function aliased(): { workload: string; ops_per_s: number; ms: number } {
  const mem = new PhysMem();
  const fmt = descriptorFormat(GRANULE_4K);
  const tables = [0x4000_0000, 0x4000_1000, 0x4000_2000, 0x4000_3000];
  for (const t of tables) mem.zero(BigInt(t), 4096);
  for (let k = 0; k < 3; k++) {
    const next = encodeTable({ nextTable: BigInt(tables[k + 1] as number) }, fmt);
    for (let i = 0; i < 512; i++) mem.write64(BigInt((tables[k] as number) + i * 8), next);
  }
  // Alternating mapped and invalid pages: no uniform run, so ptdump prints SHARED lines.
  for (let i = 0; i < 512; i += 2)
    mem.write64(BigInt((tables[3] as number) + i * 8), encodeLeaf({ oa: 0x8000_0000n + BigInt(i) * 0x1000n, af: true, sh: 3 }, 3, fmt));
  const ctx = compileRegs({ ...presetByName("linux-4k-48").regs, ttbr1: BigInt(tables[0] as number) });
  const start = halfBase(ctx.halves[1]);
  const once = (): void => {
    if (mappingReport(mem, ctx, start, 0n).shared.length !== 3) throw new Error("dump-aliased: sharing not reported");
    if (ptdumpReport(mem, ctx).text.split("\n").length > 600) throw new Error("dump-aliased: ptdump not bounded");
    if (audit(mem, ctx, { userHalf: false }).wx.wxPages !== 1n << 35n) throw new Error("dump-aliased: W+X pages miscounted");
  };
  for (let i = 0; i < 5; i++) once();
  const n = 50;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) once();
  const c = process.cpuUsage(c0);
  const s = (c.user + c.system) / 1e6;
  return { workload: "dump-aliased", ops_per_s: Math.round(n / s), ms: Number(((s * 1000) / n).toFixed(3)) };
}
