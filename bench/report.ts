/**
 * Reports over 4K-mapped kernel tables (issue 14): how the audit and the JSON output cost against
 * the ptdump text of the same tables, and the ptdump of 1 TiB.
 * - dump-4k / audit-4k / json-4k: 8 GiB of the linear map at 4K pages (PAGE_KERNEL, 2 Mi PTEs),
 *   as `vmsa dump`, `vmsa audit` and `vmsa dump --format json` compute and render them (the JSON
 *   as the UTF-8 bytes the CLI writes);
 * - dump-frag / audit-frag / json-frag: 1 GiB whose protections alternate every 64 KiB
 *   (PAGE_KERNEL / PAGE_KERNEL_RO: 16 Ki runs, so the outputs are long);
 * - ptdump-1tib: the ptdump text of 64 GiB at 4K pages (VMSA_BENCH_PTDUMP_GIB to change), with
 *   `s_per_tib` = CPU seconds scaled to 1 TiB (2^28 PTEs).
 * ops_per_s = PTEs per CPU second; ms = CPU milliseconds per report (median of runs).
 */
import { audit, formatAudit } from "../src/dump/audit.js";
import { dumpJsonBytes } from "../src/dump/dump-json.js";
import { ptdumpReport } from "../src/dump/ptdump.js";
import { MemblockAllocator } from "../src/kernel/alloc.js";
import { Kernel } from "../src/kernel/context.js";
import { createMapping } from "../src/kernel/mmu.js";
import { DirectPort } from "../src/kernel/port.js";
import { NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS } from "../src/kernel/prot.js";
import { kernelRegs } from "../src/kernel/regs.js";
import { PhysMem } from "../src/mem/physmem.js";
import { compileRegs, type WalkContext } from "../src/walk/context.js";
import { halfBase, leafRunReport } from "../src/walk/range.js";

export interface ReportBenchResult {
  workload: string;
  ops_per_s: number;
  ms: number;
  min_ms: number;
  max_ms: number;
  ptes: number;
  s_per_tib?: number;
}

const GiB = 2 ** 30;
const PO = 0xffff_0000_0000_0000n;

export interface Tables {
  mem: PhysMem;
  ctx: WalkContext;
  ptes: number;
}

/** `size` bytes of the linear map at 4K pages; `chunk` > 0 alternates PAGE_KERNEL / PAGE_KERNEL_RO every chunk bytes. */
export function build(size: number, chunk: number): Tables {
  const mem = new PhysMem({ reserveBytes: 16 * 1024 * 1024 });
  const port = new DirectPort(mem);
  const k = new Kernel(port, { granule: "4K", vaBits: 48 });
  const alloc = new MemblockAllocator(0x100_0000_0000, 0x10_0000_0000, 4096);
  const root = alloc.alloc() as number;
  port.zero(0, root, 4096);
  const flags = NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS;
  const step = chunk > 0 ? chunk : size;
  for (let off = 0, i = 0; off < size; off += step, i++) {
    const prot = chunk > 0 && i % 2 === 1 ? k.prots.PAGE_KERNEL_RO : k.prots.PAGE_KERNEL;
    createMapping(k, root, 0x8000_0000 + off, PO + BigInt(off), step, prot, { flags, alloc });
  }
  return { mem, ctx: compileRegs(kernelRegs(k.geo, root)), ptes: size / 4096 };
}

export function timed(runs: number, f: () => number): { ms: number; min: number; max: number } {
  f(); // warm-up
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    if (f() <= 0) throw new Error("report bench: empty output");
    const c = process.cpuUsage(c0);
    xs.push((c.user + c.system) / 1000);
  }
  xs.sort((a, b) => a - b);
  return { ms: xs[runs >> 1] as number, min: xs[0] as number, max: xs[runs - 1] as number };
}

export function result(workload: string, t: Tables, r: { ms: number; min: number; max: number }): ReportBenchResult {
  return {
    workload,
    ops_per_s: Math.round(t.ptes / (r.ms / 1000)),
    ms: Number(r.ms.toFixed(2)),
    min_ms: Number(r.min.toFixed(2)),
    max_ms: Number(r.max.toFixed(2)),
    ptes: t.ptes,
  };
}

/** The three reports of one table set, as the CLI renders them (text ptdump, audit text, dump JSON). */
function reports(t: Tables, runs: number, suffix: string): ReportBenchResult[] {
  const h = t.ctx.halves[1];
  const start = halfBase(h);
  const dump = (): number => ptdumpReport(t.mem, t.ctx, { start, markers: [{ address: start, name: "Linear Mapping" }] }).text.length;
  const aud = (): number => formatAudit(audit(t.mem, t.ctx, { userHalf: false })).length;
  const json = (): number => {
    const r = leafRunReport(t.mem, t.ctx, start, 0n);
    return dumpJsonBytes(
      {
        half: "TTBR1",
        granule: "4K",
        vaBits: 48,
        startLevel: 0,
        start,
        end: 0n,
        registers: {},
        layoutSource: { kind: "none", detail: "bench", exact: true },
        markers: [],
      },
      r,
    ).length;
  };
  return [
    result(`dump-${suffix}`, t, timed(runs, dump)),
    result(`audit-${suffix}`, t, timed(runs, aud)),
    result(`json-${suffix}`, t, timed(runs, json)),
  ];
}

export async function run(): Promise<ReportBenchResult[]> {
  const out: ReportBenchResult[] = [];
  const only = process.env.VMSA_BENCH_REPORT_ONLY; // profiling one table set: 4k, frag or 1tib
  if (only === undefined || only === "4k") out.push(...reports(build(8 * GiB, 0), 5, "4k"));
  if (only === undefined || only === "frag") out.push(...reports(build(GiB, 64 * 1024), 5, "frag"));
  if (only !== undefined && only !== "1tib") return out;
  const gib = Number(process.env.VMSA_BENCH_PTDUMP_GIB ?? 64);
  const big = build(gib * GiB, 0);
  const start = halfBase(big.ctx.halves[1]);
  const r = timed(3, () => ptdumpReport(big.mem, big.ctx, { start }).text.length);
  out.push({ ...result("ptdump-1tib", big, r), s_per_tib: Number(((r.ms / 1000) * (1024 / gib)).toFixed(2)) });
  return out;
}
