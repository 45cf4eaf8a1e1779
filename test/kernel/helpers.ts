import { MemblockAllocator } from "../../src/kernel/alloc.js";
import { Kernel, type KernelOptions } from "../../src/kernel/context.js";
import { DirectPort, type DsbDomain, type TlbiOp } from "../../src/kernel/port.js";
import { kernelRegs } from "../../src/kernel/regs.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { Walker } from "../../src/walk/walker.js";

export const CONFIGS: readonly KernelOptions[] = [
  { granule: "4K", vaBits: 39 },
  { granule: "4K", vaBits: 48 },
  { granule: "4K", vaBits: 52 },
  { granule: "16K", vaBits: 36 },
  { granule: "16K", vaBits: 47 },
  { granule: "16K", vaBits: 48 },
  { granule: "16K", vaBits: 52 },
  { granule: "64K", vaBits: 42 },
  { granule: "64K", vaBits: 48 },
  { granule: "64K", vaBits: 52 },
];

export interface Rig {
  mem: PhysMem;
  port: DirectPort;
  k: Kernel;
  alloc: MemblockAllocator;
  root: number;
  walker(): Walker;
}

/** An unchecked kernel with a fresh, zeroed pgd; tables come from 0x8_0000_0000 up. */
export function rig(opts: KernelOptions): Rig {
  const mem = new PhysMem();
  const port = new DirectPort(mem);
  const k = new Kernel(port, opts);
  const alloc = new MemblockAllocator(0x8_0000_0000, 0x1_0000_0000, k.geo.PAGE_SIZE);
  const root = alloc.alloc() as number;
  mem.zero(BigInt(root), k.geo.PAGE_SIZE);
  return { mem, port, k, alloc, root, walker: () => new Walker(mem, kernelRegs(k.geo, root)) };
}

/** A DirectPort that records every operation as text, in order. */
export class TracePort extends DirectPort {
  readonly ops: string[] = [];
  override store64(cpu: number, pa: number, hi: number, lo: number): void {
    this.ops.push(`STR ${((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString(16)} -> ${pa.toString(16)}`);
    super.store64(cpu, pa, hi, lo);
  }
  override dsb(cpu: number, d: DsbDomain): void {
    this.ops.push(`DSB ${d}`);
    super.dsb(cpu, d);
  }
  override isb(): void {
    this.ops.push("ISB");
    super.isb();
  }
  override tlbi(cpu: number, op: TlbiOp, va?: bigint, asid?: number): void {
    this.ops.push(`TLBI ${op}${va !== undefined ? ` ${va.toString(16)}` : ""}`);
    super.tlbi(cpu, op, va, asid);
  }
  freed: string[] = [];
}

export function traceRig(opts: KernelOptions): Rig & { trace: TracePort } {
  const mem = new PhysMem();
  const trace = new TracePort(mem);
  const k = new Kernel(trace, opts);
  const alloc = new MemblockAllocator(0x8_0000_0000, 0x1_0000_0000, k.geo.PAGE_SIZE);
  const root = alloc.alloc() as number;
  mem.zero(BigInt(root), k.geo.PAGE_SIZE);
  return { mem, port: trace, trace, k, alloc, root, walker: () => new Walker(mem, kernelRegs(k.geo, root)) };
}
