/**
 * dump-linux: the range walk (coalesced mappings of the whole TTBR1 half) plus the ptdump of a
 * real Linux 6.1 kernel (1 GiB guest, 4K pages; examples/linux-6.1-4k48): dumps per second, and
 * milliseconds per dump.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { machineFromOptions } from "../src/cli/common.js";
import { linux61Markers, ptdump } from "../src/dump/ptdump.js";
import { compileRegs } from "../src/walk/context.js";
import { halfBase, mappingRuns } from "../src/walk/range.js";

const EX = join(dirname(fileURLToPath(import.meta.url)), "../../examples/linux-6.1-4k48");

export async function run(): Promise<{ workload: string; ops_per_s: number; ms: number }[]> {
  const { mem, regs } = machineFromOptions({ example: "linux-6.1-4k48" });
  const ctx = compileRegs(regs);
  const markers = linux61Markers(48, 12, 0x407000n);
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
  return [{ workload: "dump-linux", ops_per_s: Math.round(n / s), ms: Number(((s * 1000) / n).toFixed(3)) }];
}
