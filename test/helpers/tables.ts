/**
 * A minimal test-only table writer: allocates zeroed table pages from a bump pointer and writes
 * descriptors with the arch encoders, so walker tests do not depend on the kernel library.
 */
import {
  type DescriptorFormat,
  descriptorAddress,
  descriptorFormat,
  encodeLeaf,
  encodeTable,
  type LeafFields,
} from "../../src/arch/descriptor.js";
import { type Granule, levelShift } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR, type Regs } from "../../src/arch/registers.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { compileRegs, type HalfContext } from "../../src/walk/context.js";

export class TestTables {
  readonly mem = new PhysMem();
  private next: bigint;
  readonly fmt: DescriptorFormat;
  readonly root: bigint;
  constructor(
    readonly granule: Granule,
    readonly startLevel: number,
    opts: { ds?: boolean; oa52?: boolean; allocBase?: bigint } = {},
  ) {
    this.fmt = descriptorFormat(granule, { ds: !!opts.ds, oaBits: opts.oa52 ? 52 : 48 });
    this.next = opts.allocBase ?? 0x4000_0000n;
    this.root = this.alloc();
  }
  alloc(): bigint {
    const pa = this.next;
    this.next += BigInt(this.granule.size);
    this.mem.zero(pa, this.granule.size);
    return pa;
  }
  /** Index of `vaOff` (offset within the half) at a level. */
  index(vaOff: bigint, level: number): bigint {
    const sh = BigInt(levelShift(this.granule, level));
    const mask = level === this.startLevel ? (1n << 64n) - 1n : (1n << BigInt(this.granule.stride)) - 1n;
    return (vaOff >> sh) & mask;
  }
  /** Descend to `level` for `vaOff`, creating tables; table descriptors get `tableBits` ORed in. */
  tableFor(vaOff: bigint, level: number, tableBits = 0n): bigint {
    let table = this.root;
    for (let l = this.startLevel; l < level; l++) {
      const da = table + this.index(vaOff, l) * 8n;
      const cur = this.mem.read64(da) ?? 0n;
      if ((cur & 3n) === 3n) {
        table = descriptorAddress(cur, this.fmt, this.granule.shift);
        continue;
      }
      const t = this.alloc();
      this.mem.write64(da, encodeTable({ nextTable: t }, this.fmt) | tableBits);
      table = t;
    }
    return table;
  }
  /** Write a leaf (block at level < 3, page at level 3). */
  map(vaOff: bigint, level: number, fields: LeafFields, tableBits = 0n): bigint {
    const t = this.tableFor(vaOff, level, tableBits);
    const da = t + this.index(vaOff, level) * 8n;
    this.mem.write64(da, encodeLeaf(fields, level, this.fmt));
    return da;
  }
  /** Write a raw descriptor value at the slot for vaOff/level. */
  raw(vaOff: bigint, level: number, value: bigint): bigint {
    const t = this.tableFor(vaOff, level);
    const da = t + this.index(vaOff, level) * 8n;
    this.mem.write64(da, value);
    return da;
  }
  entrySize(level: number): bigint {
    return 1n << BigInt(levelShift(this.granule, level));
  }
}

export function halfOf(regs: Regs, index: 0 | 1): HalfContext {
  return compileRegs(regs).halves[index];
}

/**
 * A fully aliased table tree: one table per level, every entry of each table pointing at the next
 * level's single table (512-way fan-in at every level, legal for hardware: Arm ARM D8.2 puts no
 * limit on how many descriptors name one table), and a last-level table filled by `leaf(i)`
 * (a descriptor value, or 0n for an invalid entry). Returns the tables, root first.
 */
export function aliasedTables(t: TestTables, leaf: (i: number) => bigint): bigint[] {
  const tables = [t.root];
  for (let l = t.startLevel + 1; l <= 3; l++) tables.push(t.alloc());
  const n = t.granule.size / 8;
  for (let k = 0; k + 1 < tables.length; k++) {
    const next = encodeTable({ nextTable: tables[k + 1] as bigint }, t.fmt);
    for (let i = 0; i < n; i++) t.mem.write64((tables[k] as bigint) + BigInt(i * 8), next);
  }
  const last = tables[tables.length - 1] as bigint;
  for (let i = 0; i < n; i++) t.mem.write64(last + BigInt(i * 8), leaf(i));
  return tables;
}

/** A granule, descriptor format (TCR.DS, PA size) and VA size, as the format-sweeping property tests list them. */
export interface FormatConfig {
  readonly g: Granule;
  readonly ds: boolean;
  readonly ips: number;
  /** T0SZ and T1SZ. */
  readonly tnsz: number;
}

/** EL1&0 registers of a format with `ttbr` in TTBR<half> (the other TTBR zero). */
export function formatRegs(c: FormatConfig, ttbr: bigint, half: 0 | 1 = 0): Regs {
  const tg = c.g.name;
  return {
    ttbr0: half === 0 ? ttbr : 0n,
    ttbr1: half === 1 ? ttbr : 0n,
    tcr: encodeTcr({ t0sz: c.tnsz, t1sz: c.tnsz, tg0: tg, tg1: tg, ipsBits: c.ips, ds: c.ds }),
    mair: LINUX_MAIR,
    sctlr: 1n,
    features: FEATURES_MAX,
  };
}

/** TTBR value for a table at `root` (BADDR[51:48] in bits [5:2] with a 52-bit OA, ASL AArch64.S1TTBaseAddress). */
export function ttbrFor(root: bigint, oa52: boolean): bigint {
  return oa52 ? (root & 0x0000_ffff_ffff_ffc0n) | (((root >> 48n) & 0xfn) << 2n) : root;
}
