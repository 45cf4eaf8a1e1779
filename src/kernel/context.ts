/**
 * A kernel instance: the machine port it runs on, its page-table geometry, its prots and the
 * era of its live-change rule, plus named accessors for descriptors in memory (the kernel's
 * p?d_* helpers over 32-bit halves).
 */
import { HI_CONT } from "../arch/bits.js";
import { addressFieldHi, addressFieldLo, addressOf } from "../arch/descriptor.js";
import { hex64 } from "../arch/u64.js";
import { type KernelConfigInput, type KernelGeometry, kernelGeometry, kernelLevelName } from "./geometry.js";
import type { MachinePort } from "./port.js";
import { type KernelProts, kernelProts, type PgattrEra, type PgattrRule, pgattrRule } from "./prot.js";

export interface KernelOptions extends KernelConfigInput {
  /** Era of pgattr_change_is_safe (default v6.16). */
  readonly era?: PgattrEra;
  /** arm64_use_ng_mappings: kernel mappings are created nG (KASLR with possible KPTI). */
  readonly nG?: boolean;
  /** The CPU running kernel code (default 0). */
  readonly cpu?: number;
  /** CONFIG_DEBUG_ALIGN_RODATA (SEGMENT_ALIGN = 2 MiB). */
  readonly debugAlignRodata?: boolean;
}

/**
 * How the mapping code reaches table pages: by physical address (through the linear map), or
 * through the fixmap's FIX_PGD/PUD/PMD/PTE slots while building new tables (see fixmap.ts).
 */
export interface TableAccess {
  /** A table at `level` (physical address `pa`) is about to be read and written. */
  enter(k: Kernel, level: number, pa: number): void;
  /** Done with the table at `level`. */
  leave(k: Kernel, level: number): void;
  /** Zero a freshly allocated table page; return false to let the caller zero it by PA. */
  zeroNew?(k: Kernel, pa: number, size: number): boolean;
}

export class Kernel {
  readonly port: MachinePort;
  readonly geo: KernelGeometry;
  readonly rule: PgattrRule;
  readonly prots: KernelProts;
  readonly nG: boolean;
  /** CPU running kernel code. */
  cpu: number;
  /** Table access strategy (undefined: by physical address). */
  tableAccess: TableAccess | undefined = undefined;
  /** Base VA of the TTBR1 half: 2^64 - 2^vaBits (PAGE_OFFSET). */
  readonly halfBase: bigint;
  /** Per level (index level + 1, levels -1..3): bytes an entry maps, and entries in a table there. */
  private readonly entrySpan: number[] = [];
  private readonly tableEntries: number[] = [];

  constructor(port: MachinePort, opts: KernelOptions) {
    this.port = port;
    this.geo = kernelGeometry(opts, { debugAlignRodata: opts.debugAlignRodata });
    this.rule = pgattrRule(opts.era ?? "v6.16");
    this.nG = opts.nG ?? false;
    this.prots = kernelProts({ nG: this.nG, lpa2: this.geo.ds });
    this.cpu = opts.cpu ?? 0;
    this.halfBase = (1n << 64n) - (1n << BigInt(this.geo.vaBits));
    for (let level = -1; level <= 3; level++) {
      this.entrySpan.push(2 ** this.shiftOf(level));
      this.tableEntries.push(level === this.geo.pgdLevel ? this.geo.PTRS_PER_PGD : this.geo.PTRS_PER_PTE);
    }
  }

  /** Offset of a VA within its half (exact number; VA bits above vaBits are dropped). */
  offOf(va: bigint): number {
    return Number(va & ((1n << BigInt(this.geo.vaBits)) - 1n));
  }

  /** A TTBR1 (kernel) VA from an offset within the half. */
  kva(off: number): bigint {
    return this.halfBase + BigInt(off);
  }

  /** VA from an offset in the same half as `like`. */
  vaLike(like: bigint, off: number): bigint {
    return like >= 1n << 63n ? this.kva(off) : BigInt(off);
  }

  levelName(level: number): string {
    return kernelLevelName(this.geo, level);
  }

  // ---- descriptor accessors (halves) --------------------------------------------------------

  /** Last loaded entry. */
  hi = 0;
  lo = 0;

  /** READ_ONCE of the entry at `pa` into this.hi/this.lo. */
  readEntry(pa: number): void {
    const m = this.port.mem;
    if (m.load64(pa)) {
      this.hi = m.hi;
      this.lo = m.lo;
    } else {
      this.hi = 0;
      this.lo = 0;
    }
  }

  readEntryBig(pa: number): bigint {
    this.readEntry(pa);
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }

  /** WRITE_ONCE by the kernel CPU, through the machine. */
  writeEntry(pa: number, hi: number, lo: number): void {
    this.port.store64(this.cpu, pa, hi >>> 0, lo >>> 0);
  }

  writeEntryBig(pa: number, v: bigint): void {
    this.writeEntry(pa, Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn));
  }

  /** Output-address bits of a descriptor for physical address `pa`, as halves (placed per format). */
  oaHi = 0;
  oaLo = 0;
  placeOa(pa: number): void {
    this.oaHi = addressFieldHi(this.geo.fmt, pa);
    this.oaLo = addressFieldLo(this.geo.fmt, pa);
  }

  /** A descriptor for output address `pa` with the bits of `prot` (pfn_pte), in this.eHi/this.eLo. */
  eHi = 0;
  eLo = 0;
  makeEntry(pa: number, prot: bigint): void {
    this.placeOa(pa);
    this.eHi = (Number((prot >> 32n) & 0xffffffffn) | this.oaHi) >>> 0;
    this.eLo = (Number(prot & 0xffffffffn) | this.oaLo) >>> 0;
  }

  /** p?d_populate: store a table descriptor for `table` at `ea` (upper attributes `attrHi`). */
  writeTableEntry(ea: number, table: number, attrHi = 0): void {
    this.placeOa(table);
    this.writeEntry(ea, (attrHi | this.oaHi) >>> 0, (3 | this.oaLo) >>> 0);
  }

  /** Address held in a table or leaf descriptor (aligned down to `alignShift` >= PAGE_SHIFT). */
  addrOf(hi: number, lo: number, alignShift: number): number {
    return addressOf(this.geo.fmt, hi, lo, Math.max(alignShift, this.geo.PAGE_SHIFT));
  }

  /** Next-level table address of a table descriptor. */
  tableAddr(hi: number, lo: number): number {
    return this.addrOf(hi, lo, this.geo.PAGE_SHIFT);
  }

  /** PA of the entry for VA offset `off` in the table at `table` (level `level`). */
  entryAddr(table: number, level: number, off: number): number {
    const q = Math.floor(off / (this.entrySpan[level + 1] as number));
    const n = this.tableEntries[level + 1] as number;
    // n is a power of two: a mask while q fits 31 bits, never `%` on a large double (slow).
    return table + (q < 2147483648 ? q & (n - 1) : q - Math.floor(q / n) * n) * 8;
  }

  shiftOf(level: number): number {
    return this.geo.PAGE_SHIFT + (this.geo.PAGE_SHIFT - 3) * (3 - level);
  }

  describeEntry(hi: number, lo: number): string {
    return hex64((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
  }
}

export function isNone(hi: number, lo: number): boolean {
  return hi === 0 && lo === 0;
}
export function isValid(lo: number): boolean {
  return (lo & 1) !== 0;
}
/** p?d_table: valid with bit 1 set at a level above 3. */
export function isTable(lo: number, level: number): boolean {
  return level < 3 && (lo & 3) === 3;
}
/** p?d_sect: a block descriptor (bits[1:0] = 0b01) above level 3. */
export function isSect(lo: number, level: number): boolean {
  return level < 3 && (lo & 3) === 1;
}
export function isCont(hi: number): boolean {
  return (hi & HI_CONT) !== 0;
}
