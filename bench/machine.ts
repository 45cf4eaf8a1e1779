/**
 * Machine benchmark (issue 4, `check-throughput`): a 2-CPU scenario of 1 Mi steps over a
 * 1 GiB page-mapped kernel range. CPU 0 remaps random pages with the full break-before-make
 * recipe (invalid, DSB ISHST, TLBI VAAE1IS, DSB ISH, new, DSB ISHST, ISB); both CPUs load
 * random pages in between. Every step runs through the checker.
 */
import { encodeLeaf } from "../src/arch/descriptor.js";
import { presetByName } from "../src/arch/registers.js";
import { Machine } from "../src/machine/machine.js";
import { PhysMem } from "../src/mem/physmem.js";
import { TableBuilder } from "../src/scenario/build.js";
import { compileRegs } from "../src/walk/context.js";
import { accessCode } from "../src/walk/walker.js";

const KVA = 0xffff_0000_0000_0000n;
const SPACE = 1 << 30;
const PAGES = SPACE / 4096;
const RAM = 0x4000_0000;

function build(): { m: Machine; pteOf: (page: number) => number; vaHi: number; vaLoOf: (page: number) => number } {
  const mem = new PhysMem();
  mem.addRam(BigInt(RAM), BigInt(SPACE));
  const regs = { ...presetByName("linux-4k-48").regs, ttbr1: 0x8_0000n };
  mem.zero(0x8_0000n, 4096);
  const b = new TableBuilder({ mem, half: compileRegs(regs).halves[1], pool: { next: 0x10_0000n } });
  const l3: number[] = [];
  for (let i = 0; i < SPACE / (2 << 20); i++) {
    const t = b.slot(KVA + BigInt(i) * (2n << 20n), 3);
    l3.push(Number(t));
  }
  const d = encodeLeaf({ oa: 0n, attrIndx: 0, sh: 3, af: true, pxn: true, uxn: true }, 3, b.fmt);
  const hi = Number(d >> 32n);
  const lo = Number(d & 0xffffffffn);
  const pteOf = (p: number): number => (l3[p >>> 9] as number) + (p & 511) * 8;
  for (let p = 0; p < PAGES; p++) mem.store64(pteOf(p), hi, (lo | (RAM + p * 4096)) >>> 0);
  const m = new Machine({ cpus: 2, mem, bbmLevel: 0, regs, recordSteps: false });
  const vaHi = Number(KVA >> 32n);
  return { m, pteOf, vaHi, vaLoOf: (p) => p * 4096 };
}

/** xorshift32 */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

export function checkThroughput(steps = 1 << 20): { steps: number; seconds: number; reports: number } {
  const { m, pteOf, vaHi, vaLoOf } = build();
  const r = rng(12345);
  const read = accessCode({ type: "read", el: 1 });
  const t0 = performance.now();
  let n = 0;
  const newLo = (p: number): number => (0x703 | (RAM + ((p * 7919) % PAGES) * 4096)) >>> 0;
  const newHi = 0x0060_0000;
  while (n < steps) {
    const p = r() % PAGES;
    const pte = pteOf(p);
    // CPU 0: break-before-make remap of page p (7 steps).
    m.storeRaw(0, pte, 0, 0);
    m.dsb(0, "ISHST");
    m.tlbiRaw(0, "VAAE1IS", (vaHi >>> 12) & 0xfff, ((vaLoOf(p) >>> 12) | (vaHi << 20)) >>> 0);
    m.dsb(0, "ISH");
    m.storeRaw(0, pte, newHi, newLo(p));
    m.dsb(0, "ISHST");
    m.isb(0);
    // Loads on both CPUs (9 steps).
    for (let i = 0; i < 9; i++) m.accessRaw(i & 1, vaHi, vaLoOf(r() % PAGES), read);
    n += 16;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { steps: n, seconds, reports: m.reports.length };
}

export async function run(): Promise<{ workload: string; ops_per_s: number }[]> {
  checkThroughput(1 << 16); // warm-up
  const res = checkThroughput(1 << 20);
  if (res.reports !== 0) throw new Error(`check-throughput: the correct workload produced ${res.reports} reports`);
  return [{ workload: "check-throughput", ops_per_s: Math.round(res.steps / res.seconds) }];
}
