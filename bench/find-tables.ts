/**
 * find-tables-sparse-512m: a 512 MiB raw RAM image (one bank, every frame indexed like a FILE@PA
 * load, in 64 MiB chunks) holding a modelled 4K/48 Linux kernel's tables (256 MiB linear map, page-granular) and
 * 1/16 of its frames filled with random bytes, the rest zero; scan it for the TTBR1 root.
 * Reports scans per second, milliseconds per scan and per GiB of RAM.
 */

import { findTables } from "../src/dump/find-tables/scan.js";
import { bootKernel } from "../src/kernel/boot.js";
import { PhysMem } from "../src/mem/physmem.js";

const BASE = 0x4000_0000;
const SIZE = 512 * 1024 * 1024;

function build(): { mem: PhysMem; pgd: number } {
  const b = bootKernel({ granule: "4K", vaBits: 48, memory: [{ base: BASE, size: 0x1000_0000 }], rodataFull: true });
  const buf = new Uint8Array(SIZE);
  let x = 7;
  for (let f = 0; f < SIZE / 4096; f += 16) {
    for (let o = 0; o < 4096; o++) {
      x = (x * 1103515245 + 12345) >>> 0;
      buf[f * 4096 + o] = x >>> 24;
    }
  }
  for (const pfn of b.mem.backedFrames()) {
    const pa = pfn * 4096;
    if (pa < BASE || pa >= BASE + SIZE) throw new Error(`find-tables bench: table frame 0x${pa.toString(16)} outside the image`);
    buf.set(b.mem.readBytes(BigInt(pa), 4096), pa - BASE);
  }
  // Added in 64 MiB chunks, as loadBank (FILE@PA) does.
  const mem = new PhysMem();
  const chunk = 64 * 1024 * 1024;
  for (let off = 0; off < SIZE; off += chunk) mem.addBank(BigInt(BASE + off), buf.subarray(off, off + chunk), `bench.bin[${off / chunk}]`);
  return { mem, pgd: b.pgd };
}

export async function run(): Promise<{ workload: string; ops_per_s: number; ms: number; ms_per_gib: number }[]> {
  const { mem, pgd } = build();
  const once = (): void => {
    const top = findTables(mem).candidates[0];
    if (!top?.strong || top.rootPa !== BigInt(pgd)) throw new Error("find-tables bench: the root was not found");
  };
  once();
  const n = 3;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) once();
  const c = process.cpuUsage(c0);
  const s = (c.user + c.system) / 1e6 / n;
  return [
    {
      workload: "find-tables-sparse-512m",
      ops_per_s: Number((1 / s).toFixed(2)),
      ms: Number((s * 1000).toFixed(1)),
      ms_per_gib: Number(((s * 1000 * 1024 * 1024 * 1024) / SIZE).toFixed(1)),
    },
  ];
}
