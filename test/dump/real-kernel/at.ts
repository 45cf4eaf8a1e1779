/**
 * Real kernel tables against QEMU's AT instructions, through the bare-metal AT harness of the QEMU
 * differential test (src/diff-qemu, qemu/harness). The harness only accepts table memory in its
 * arena (0x48000000..0x80000000), so the TTBR1 table pages are moved up by a fixed delta and every
 * table descriptor (and TTBR1) is adjusted by the same delta; leaf descriptors, hence every output
 * address, attribute and permission, stay byte-identical.
 */
import { decodeDescriptor } from "../../../src/arch/descriptor.js";
import type { Regs } from "../../../src/arch/registers.js";
import { classify, HARNESS_ACCESS } from "../../../src/diff-qemu/compare.js";
import { AT_OP_NAMES, type Chunk, type HarnessOp, type Job } from "../../../src/diff-qemu/jobfile.js";
import { ARENA_BASE, ARENA_END, MAX_QUERIES_PER_JOB } from "../../../src/diff-qemu/layout.js";
import { buildHarness, runBatch } from "../../../src/diff-qemu/qemu.js";
import type { OpenedDump } from "../../../src/dump/inputs.js";
import { PhysMem } from "../../../src/mem/physmem.js";
import { compileRegs } from "../../../src/walk/context.js";
import { walkEntries } from "../../../src/walk/range.js";
import { Walker } from "../../../src/walk/walker.js";
import { tablePages } from "./capture.js";

export interface Relocated {
  readonly mem: PhysMem;
  readonly regs: Regs;
  readonly chunks: Chunk[];
}

/** Move the TTBR1 tables of `d` up by `delta` bytes (table pointers and TTBR1 adjusted). */
export function relocateTables(d: OpenedDump, delta: bigint): Relocated {
  const ctx = compileRegs(d.regs);
  const h = ctx.halves[1];
  const g = BigInt(h.granule.size);
  const mem = new PhysMem();
  const pages = tablePages(d);
  for (const p of pages) mem.writeBytes(p + delta, d.mem.readBytes(p, Number(g)));
  const fmt = h.fmt;
  walkEntries(
    d.mem,
    h,
    0,
    2 ** h.iaBits,
    (e) => {
      if (e.kind !== "table") return;
      const raw = (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
      if (decodeDescriptor(raw, e.level, fmt).kind !== "table") return;
      // The next-table address field starts at bit 12 and the arena is far below 2^48: adding the
      // delta to the raw value moves the pointer and nothing else.
      mem.write64(BigInt(e.descAddr) + delta, raw + delta);
    },
    { tables: true },
  );
  const chunks: Chunk[] = [];
  for (const p of pages) {
    const pa = p + delta;
    if (pa < ARENA_BASE || pa + g > ARENA_END) throw new RangeError(`table page 0x${p.toString(16)} + delta is outside the harness arena`);
    const last = chunks[chunks.length - 1];
    const data = mem.readBytes(pa, Number(g));
    if (last && last.pa + BigInt(last.data.length) === pa)
      chunks[chunks.length - 1] = { pa: last.pa, data: Buffer.concat([last.data, data]) };
    else chunks.push({ pa, data });
  }
  return { mem, regs: { ...d.regs, ttbr1: d.regs.ttbr1 + delta }, chunks };
}

export interface AtComparison {
  readonly compared: number;
  readonly agree: number;
  readonly deviations: Map<string, number>;
  readonly mismatches: string[];
}

/** Run S1E1R/S1E1W/S1E0R/S1E0W for every VA in QEMU and compare PAR_EL1 with vmsa's prediction. */
export async function compareWithAt(d: OpenedDump, vas: readonly bigint[], delta = 0x2000_0000n): Promise<AtComparison> {
  const rel = relocateTables(d, delta);
  const queries = vas.flatMap((va) => AT_OP_NAMES.map((op) => ({ va, op })));
  const jobs: Job[] = [];
  const regs = { ttbr0: 0n, ttbr1: rel.regs.ttbr1, tcr: rel.regs.tcr | (1n << 7n), mair: rel.regs.mair, sctlr: rel.regs.sctlr };
  for (let i = 0; i < queries.length; i += MAX_QUERIES_PER_JOB) {
    jobs.push({ regs, chunks: rel.chunks, queries: queries.slice(i, i + MAX_QUERIES_PER_JOB) });
  }
  const out = await runBatch(buildHarness(), jobs);
  // TTBR0 walks disabled (EPD0) in both: the dump holds no user tables.
  const vRegs: Regs = { ...rel.regs, ttbr0: 0n, tcr: regs.tcr };
  const walker = new Walker(rel.mem, vRegs);
  let agree = 0;
  const deviations = new Map<string, number>();
  const mismatches: string[] = [];
  let qi = 0;
  for (const [j, job] of jobs.entries()) {
    for (const [k, q] of job.queries.entries()) {
      const res = out[j]?.[k];
      qi++;
      if (!res) {
        mismatches.push(`0x${q.va.toString(16)} ${q.op}: no result`);
        continue;
      }
      const r = walker.translate(q.va, HARNESS_ACCESS[q.op as HarnessOp]);
      const v = classify(r, res, vRegs, walker);
      if (v.kind === "agree") agree++;
      else if (v.kind === "deviation") deviations.set(v.deviation.id, (deviations.get(v.deviation.id) ?? 0) + 1);
      else {
        const ours = r.par === null ? "exception" : `0x${r.par.toString(16)}`;
        const theirs = res.kind === "par" ? `0x${res.par.toString(16)}` : `exception ESR 0x${res.esr.toString(16)}`;
        mismatches.push(`0x${q.va.toString(16)} ${q.op}: vmsa PAR ${ours}, QEMU ${theirs}`);
      }
    }
  }
  return { compared: qi, agree, deviations, mismatches };
}
