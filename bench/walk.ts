/**
 * walk-4k-random: 4K granule, 48-bit VA, 4-level tables mapping 1 GiB with 4K pages at
 * VA 0x0000400000000000 -> PA 0x80000000 (AF=1, SH=inner, UXN); translate 4 Mi random VAs
 * inside the range with full checks and no TLB.
 */
import { descriptorFormat, encodeLeaf, encodeTable } from "../src/arch/descriptor.js";
import { FAULT_NONE } from "../src/arch/fault.js";
import { GRANULE_4K } from "../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR } from "../src/arch/registers.js";
import { PhysMem } from "../src/mem/physmem.js";
import { accessCode, Walker } from "../src/walk/walker.js";

export interface BenchResult {
  workload: string;
  ops_per_s: number;
}

/**
 * The walk-4k-random stage-1 tables: 4-level 4K tables at PA 0x4000_0000.. mapping 1 GiB of 4K
 * pages at VA 0x0000400000000000 -> 0x80000000. Returns the root and the first free PA after them.
 */
export function buildStage1Tables(mem: PhysMem): { root: bigint; end: bigint } {
  const fmt = descriptorFormat(GRANULE_4K, { ds: false, oaBits: 48, paMaxBits: 48 });
  let next = 0x4000_0000n;
  const alloc = (): bigint => {
    const pa = next;
    next += 4096n;
    mem.zero(pa, 4096);
    return pa;
  };
  const root = alloc();
  const va0 = 0x0000_4000_0000_0000n;
  const l1 = alloc();
  mem.write64(root + ((va0 >> 39n) & 511n) * 8n, encodeTable({ nextTable: l1 }, fmt));
  const l2 = alloc();
  mem.write64(l1 + ((va0 >> 30n) & 511n) * 8n, encodeTable({ nextTable: l2 }, fmt));
  for (let i = 0n; i < 512n; i++) {
    const l3 = alloc();
    mem.write64(l2 + i * 8n, encodeTable({ nextTable: l3 }, fmt));
    for (let j = 0n; j < 512n; j++) {
      const off = (i * 512n + j) * 4096n;
      mem.write64(l3 + j * 8n, encodeLeaf({ oa: 0x8000_0000n + off, af: true, sh: 3, uxn: true }, 3, fmt));
    }
  }
  return { root, end: next };
}

function build(): { mem: PhysMem; root: bigint } {
  const mem = new PhysMem();
  return { mem, root: buildStage1Tables(mem).root };
}

export async function run(): Promise<BenchResult[]> {
  const { mem, root } = build();
  const w = new Walker(mem, {
    ttbr0: root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 48 }),
    mair: LINUX_MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
  });
  const N = 4 * 1024 * 1024;
  // Random VAs (lo halves) inside the 1 GiB range; hi half is 0x4000.
  const los = new Uint32Array(N);
  let x = 0x12345678;
  for (let i = 0; i < N; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    los[i] = (x >>> 0) & 0x3fff_ffff;
  }
  w.recordTrail = false;
  const acc = accessCode({ type: "read", el: 1 });
  let check = 0;
  // Warm-up pass, then the timed pass.
  for (let i = 0; i < N; i++) if (w.walkRaw(0x4000, los[i] as number, acc) !== FAULT_NONE) check++;
  // Timed by this process's CPU time (user+system): equal to wall time on an idle machine, and
  // not inflated when other processes share the cores.
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    if (w.walkRaw(0x4000, los[i] as number, acc) !== FAULT_NONE) check++;
    else if (w.paLo !== 0x8000_0000 + (los[i] as number) || w.paHi !== 0) check++;
  }
  const c = process.cpuUsage(c0);
  const ns = (c.user + c.system) * 1000;
  if (check !== 0) throw new Error(`walk-4k-random: ${check} walks gave the wrong answer`);
  return [{ workload: "walk-4k-random", ops_per_s: Math.round(N / (ns / 1e9)) }];
}
