/** Shared setup for machine tests: a 4K/48-bit Linux register set with TTBR1 tables in memory. */
import { presetByName } from "../../src/arch/registers.js";
import { Machine } from "../../src/machine/machine.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { TableBuilder } from "../../src/scenario/build.js";
import { compileRegs } from "../../src/walk/context.js";

export const ROOT = 0x80000n;
export const POOL = 0x81000n;
export const KVA = 0xffff_0000_0020_0000n;
export const PA_A = 0x4000_0000n;
export const PA_B = 0x4010_0000n;
/** Normal memory, inner shareable, AF, kernel RW, PXN/UXN: Linux PAGE_KERNEL (without nG). */
export const KERNEL_RW = { attrIndx: 0, sh: 3, af: true, ap: 0, pxn: true, uxn: true } as const;
export const KERNEL_RO = { ...KERNEL_RW, ap: 2 } as const;

export function setup(opts: { cpus?: number; bbmLevel?: number; tcr?: bigint } = {}): { m: Machine; b: TableBuilder; mem: PhysMem } {
  const mem = new PhysMem();
  mem.addRam(0x4000_0000n, 0x4000_0000n);
  const base = presetByName("linux-4k-48").regs;
  const regs = { ...base, ttbr1: ROOT, ...(opts.tcr !== undefined ? { tcr: opts.tcr } : {}) };
  mem.zero(ROOT, 4096);
  const b = new TableBuilder({ mem, half: compileRegs(regs).halves[1], pool: { next: POOL } });
  const m = new Machine({ cpus: opts.cpus ?? 2, mem, bbmLevel: opts.bbmLevel ?? 0, regs });
  return { m, b, mem };
}
