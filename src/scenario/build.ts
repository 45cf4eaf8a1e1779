/**
 * Initial-memory helpers for scenarios and tests: build translation tables directly in PhysMem
 * (before the machine runs, so no step is recorded), allocating table pages from a pool.
 */
import { type DescriptorFormat, encodeLeaf, encodeTable, type LeafFields } from "../arch/descriptor.js";
import { VmsaError } from "../arch/errors.js";
import type { Granule } from "../arch/granule.js";
import { levelShift } from "../arch/granule.js";
import type { PhysMem } from "../mem/physmem.js";
import type { HalfContext } from "../walk/context.js";

/** Bad scenario input; the message names file:line: field. */
export class ScenarioError extends VmsaError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = "ScenarioError";
  }
}

export interface TableBuilderOptions {
  readonly mem: PhysMem;
  readonly half: HalfContext;
  /** Next free table page (bumped by granule size); share the object between builders. */
  readonly pool: { next: bigint };
}

/** Writes table and leaf descriptors into memory, creating intermediate tables as needed. */
export class TableBuilder {
  private readonly mem: PhysMem;
  private readonly half: HalfContext;
  private readonly pool: { next: bigint };
  readonly fmt: DescriptorFormat;
  constructor(o: TableBuilderOptions) {
    this.mem = o.mem;
    this.half = o.half;
    this.pool = o.pool;
    this.fmt = o.half.fmt;
  }

  get granule(): Granule {
    return this.half.granule;
  }

  /** Allocate and zero a table page. */
  alloc(): bigint {
    const g = BigInt(this.half.granule.size);
    const pa = (this.pool.next + g - 1n) & ~(g - 1n);
    this.mem.zero(pa, this.half.granule.size);
    this.pool.next = pa + g;
    return pa;
  }

  /** VA offset within the half. */
  private off(va: bigint): bigint {
    return va & ((1n << BigInt(this.half.iaBits)) - 1n);
  }

  /** Address of the descriptor for `va` at `level`, creating tables down to it. */
  slot(va: bigint, level: number, create = true): bigint {
    const h = this.half;
    let table = BigInt(h.base);
    const off = this.off(va);
    for (let l = h.startLevel; ; l++) {
      const sh = BigInt(levelShift(h.granule, l));
      const bits = BigInt(h.bitsAt[l + 1] as number);
      const idx = (off >> sh) & ((1n << bits) - 1n);
      const da = table + idx * 8n;
      if (l === level) return da;
      const cur = this.mem.read64(da) ?? 0n;
      if ((cur & 3n) === 3n) {
        table = cur & 0x0000_ffff_ffff_f000n & ~BigInt(h.granule.size - 1);
        continue;
      }
      if (!create) throw new ScenarioError("ESCENARIO_MAP", `no table for VA 0x${va.toString(16)} at level ${l + 1}`);
      if ((cur & 1n) === 1n) {
        throw new ScenarioError("ESCENARIO_MAP", `VA 0x${va.toString(16)}: level ${l} already holds a block; cannot map at level ${level}`);
      }
      const t = this.alloc();
      this.mem.write64(da, encodeTable({ nextTable: t }, this.fmt));
      table = t;
    }
  }

  /** Map [va, va+size) to pa with leaves at `level`. Returns the descriptor addresses. */
  map(va: bigint, pa: bigint, size: bigint, level: number, fields: Omit<LeafFields, "oa">): bigint[] {
    const sz = 1n << BigInt(levelShift(this.half.granule, level));
    if (va % sz !== 0n || pa % sz !== 0n || size % sz !== 0n) {
      throw new ScenarioError(
        "ESCENARIO_MAP",
        `map: VA 0x${va.toString(16)}, PA 0x${pa.toString(16)} and size 0x${size.toString(16)} must be aligned to the level-${level} size 0x${sz.toString(16)}`,
      );
    }
    const out: bigint[] = [];
    for (let o = 0n; o < size; o += sz) {
      const da = this.slot(va + o, level);
      this.mem.write64(da, encodeLeaf({ ...fields, oa: pa + o }, level, this.fmt));
      out.push(da);
    }
    return out;
  }
}
