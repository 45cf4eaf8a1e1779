/**
 * A test-only stage-2 table writer over an existing PhysMem (so stage-1 and stage-2 tables can
 * share one memory): start-level tables may be concatenated (`concatenated` granules, aligned to
 * their total size, as VTTBR_EL2.BADDR must be).
 */
import { type DescriptorFormat, descriptorAddress, descriptorFormat } from "../../src/arch/descriptor.js";
import { type Granule, levelShift } from "../../src/arch/granule.js";
import { encodeStage2Leaf, encodeStage2Table, type Stage2LeafFields } from "../../src/arch/stage2-descriptor.js";
import type { PhysMem } from "../../src/mem/physmem.js";

export class Stage2Tables {
  readonly fmt: DescriptorFormat;
  readonly root: bigint;
  private next: bigint;
  constructor(
    readonly mem: PhysMem,
    readonly granule: Granule,
    readonly startLevel: number,
    readonly ipaBits: number,
    opts: { allocBase?: bigint; concatenated?: number; ds?: boolean; oaBits?: number } = {},
  ) {
    this.fmt = descriptorFormat(granule, { ds: !!opts.ds, oaBits: opts.oaBits ?? 48 });
    const n = BigInt(opts.concatenated ?? 1);
    const size = BigInt(granule.size) * n;
    let base = opts.allocBase ?? 0x5000_0000n;
    base = (base + size - 1n) & ~(size - 1n);
    this.root = base;
    this.mem.zero(base, Number(size));
    this.next = base + size;
  }
  alloc(): bigint {
    const pa = this.next;
    this.next += BigInt(this.granule.size);
    this.mem.zero(pa, this.granule.size);
    return pa;
  }
  index(ipa: bigint, level: number): bigint {
    const sh = BigInt(levelShift(this.granule, level));
    const bits = level === this.startLevel ? BigInt(this.ipaBits) - sh : BigInt(this.granule.stride);
    return (ipa >> sh) & ((1n << bits) - 1n);
  }
  /** Address of the descriptor for `ipa` at `level`, creating tables above it. */
  slot(ipa: bigint, level: number): bigint {
    let table = this.root;
    for (let l = this.startLevel; l < level; l++) {
      const da = table + this.index(ipa, l) * 8n;
      const cur = this.mem.read64(da) ?? 0n;
      if ((cur & 3n) === 3n) {
        table = descriptorAddress(cur, this.fmt, this.granule.shift);
        continue;
      }
      const t = this.alloc();
      this.mem.write64(da, encodeStage2Table(t, this.fmt));
      table = t;
    }
    return table + this.index(ipa, level) * 8n;
  }
  map(ipa: bigint, level: number, fields: Stage2LeafFields): bigint {
    const da = this.slot(ipa, level);
    this.mem.write64(da, encodeStage2Leaf(fields, level, this.fmt));
    return da;
  }
  raw(ipa: bigint, level: number, value: bigint): bigint {
    const da = this.slot(ipa, level);
    this.mem.write64(da, value);
    return da;
  }
}
