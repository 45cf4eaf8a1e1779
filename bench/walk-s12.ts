/**
 * walk-s12-4k-random: the two-stage walk (HCR_EL2.VM=1) over walk-4k-random's stage-1 tables.
 * Stage 1: 4K granule, 48-bit VA, 1 GiB of 4K pages at VA 0x0000400000000000 -> IPA 0x80000000.
 * Stage 2: KVM's 40-bit IPA layout (VTCR_EL2 0x80023558: 4K, start level 1, two concatenated
 * level-1 tables), 4K pages: the stage-1 table pages identity-mapped, IPA 0x80000000.. ->
 * PA 0x180000000... Every stage-1 descriptor read is translated by stage 2 (up to 24 descriptor
 * reads per translation). 1 Mi random VAs, full checks, no TLB.
 */
import { descriptorFormat } from "../src/arch/descriptor.js";
import { FAULT_NONE } from "../src/arch/fault.js";
import { GRANULE_4K } from "../src/arch/granule.js";
import { HCR_VM } from "../src/arch/hcr.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR } from "../src/arch/registers.js";
import { encodeStage2Leaf, encodeStage2Table } from "../src/arch/stage2-descriptor.js";
import { PhysMem } from "../src/mem/physmem.js";
import { accessCode, Walker } from "../src/walk/walker.js";
import { buildStage1Tables } from "./walk.js";

export interface BenchResult {
  workload: string;
  ops_per_s: number;
}

const KVM_VTCR_4K_40 = 0x8002_3558n;

function build(): { mem: PhysMem; root: bigint; s2root: bigint } {
  const mem = new PhysMem({ reserveBytes: 8 << 20 });
  const s2fmt = descriptorFormat(GRANULE_4K, { ds: false, oaBits: 40, paMaxBits: 48 });
  // Stage 1: walk-4k-random's tables (table pages at IPA = PA 0x4000_0000..).
  const { root, end: s1End } = buildStage1Tables(mem);
  // Stage 2: two concatenated level-1 tables at PA 0x2000_0000, then level-2/3 tables.
  let s2next = 0x2000_0000n;
  const s2alloc = (n = 1n): bigint => {
    const pa = s2next;
    s2next += 4096n * n;
    mem.zero(pa, Number(4096n * n));
    return pa;
  };
  const s2root = s2alloc(2n);
  const page = (ipa: bigint, oa: bigint): void => {
    let table = s2root;
    for (let level = 1; level < 3; level++) {
      const shift = BigInt(39 - 9 * level);
      const idx = level === 1 ? (ipa >> 30n) & 1023n : (ipa >> shift) & 511n;
      const da = table + idx * 8n;
      const cur = mem.read64(da) ?? 0n;
      if ((cur & 3n) === 3n) {
        table = cur & 0x0000_ffff_ffff_f000n;
        continue;
      }
      const t = s2alloc();
      mem.write64(da, encodeStage2Table(t, s2fmt));
      table = t;
    }
    mem.write64(table + ((ipa >> 12n) & 511n) * 8n, encodeStage2Leaf({ oa, s2ap: 3, af: true, memAttr: 0xf, sh: 3 }, 3, s2fmt));
  };
  for (let ipa = 0x4000_0000n; ipa < s1End; ipa += 4096n) page(ipa, ipa);
  for (let off = 0n; off < 0x4000_0000n; off += 4096n) page(0x8000_0000n + off, 0x1_8000_0000n + off);
  return { mem, root, s2root };
}

export async function run(): Promise<BenchResult[]> {
  const { mem, root, s2root } = build();
  const w = new Walker(mem, {
    ttbr0: root,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40 }),
    mair: LINUX_MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
    hcr: HCR_VM,
    vtcr: KVM_VTCR_4K_40,
    vttbr: s2root,
  });
  const N = 1024 * 1024;
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
  for (let i = 0; i < N; i++) if (w.walkRaw(0x4000, los[i] as number, acc) !== FAULT_NONE) check++;
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    if (w.walkRaw(0x4000, los[i] as number, acc) !== FAULT_NONE) check++;
    else if (w.paLo !== 0x8000_0000 + (los[i] as number) || w.paHi !== 1) check++;
  }
  const c = process.cpuUsage(c0);
  const ns = (c.user + c.system) * 1000;
  if (check !== 0) throw new Error(`walk-s12-4k-random: ${check} walks gave the wrong answer`);
  return [{ workload: "walk-s12-4k-random", ops_per_s: Math.round(N / (ns / 1e9)) }];
}
