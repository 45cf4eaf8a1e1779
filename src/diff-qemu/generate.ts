/**
 * Random stage-1 translation-table sets for the QEMU differential test, written with vmsa's
 * own descriptor encoders into a PhysMem, plus the AT queries to run over them.
 *
 * Deliberately NOT generated, because the Arm ARM leaves the outcome CONSTRAINED UNPREDICTABLE
 * (or IMPLEMENTATION DEFINED) and QEMU may legitimately differ from vmsa's choice:
 *  - TTBR base addresses not aligned to the start-table size (and below 64 bytes with 52-bit OAs);
 *  - RES0 bits set: descriptor OA bits below the block/page size, 4K/16K OA[51:48] without DS,
 *    64K descriptor bits[15:12] when the OA size is not 52, DS-format OA[51:50] (bits[9:8]) when
 *    the OA size is not 52, TTBR BADDR[51:48] without a 52-bit OA, NS/NSTable in Non-secure state;
 *  - reserved encodings: TGx reserved values, IPS 0b111, SH=0b01 (descriptor, or TCR.SHn with DS=1),
 *    MAIR attributes that are UNPREDICTABLE (0b0000ddxx with xx != 00, Normal with a 0b0000 nibble)
 *    or need FEAT_MTE (0xf0);
 *  - a misprogrammed Contiguous bit (only well-formed groups are written: every entry of the
 *    aligned group, consecutive OAs from a group-aligned base, identical attributes; QEMU ignores
 *    the bit, which gives the architected result for such groups), a group larger than the IA
 *    space (an IMPDEF Translation fault), and nT=1 (an IMPDEF fault with BBM);
 *  - IPS larger than PARange cannot happen (QEMU -cpu max has PARange = 52);
 *  - TnSZ above the maximum (IMPDEF: fault or clamp), while TnSZ below the minimum is generated
 *    (a Translation fault is mandatory once FEAT_LVA is implemented, ASL AArch64.S1TxSZFaults);
 *  - table descriptors that reach the same table at a different level (a page read as a table
 *    could make the walk fetch from RAM the harness owns).
 */
import { type DescriptorFormat, descriptorFormat, encodeLeaf, encodeTable, type LeafFields } from "../arch/descriptor.js";
import { contiguousShift, GRANULE_4K, GRANULE_16K, GRANULE_64K, type Granule, levelShift, startLevel } from "../arch/granule.js";
import { LINUX_TCR2_PIE, type LinuxPieEra, linuxPirE1, linuxPireE0 } from "../arch/linux-pie.js";
import { encodeTcr, FEATURES_MAX, type Regs } from "../arch/registers.js";
import { PhysMem } from "../mem/physmem.js";
import { AT_EL1_OPS, AT_OP_NAMES, type Chunk, type Job, type Query } from "./jobfile.js";
import { ARENA_BASE, ARENA_END, UNMAPPED_BASE, UNMAPPED_END } from "./layout.js";
import type { Rng } from "./rng.js";

export interface HalfPlan {
  readonly index: 0 | 1;
  readonly granule: Granule;
  readonly tnsz: number;
  /** TnSZ inside [min, max]: a tree is built. */
  readonly tnszOk: boolean;
  readonly iaBits: number;
  readonly startLevel: number;
  /** Effective output address size (bits). */
  readonly paBits: number;
  readonly ds: boolean;
  readonly base: bigint;
  readonly baseKind: "arena" | "beyond-pa" | "unmapped";
  readonly tbi: boolean;
}

export interface GenCase {
  readonly id: string;
  readonly regs: Regs;
  readonly mem: PhysMem;
  readonly job: Job;
  readonly halves: readonly [HalfPlan, HalfPlan];
  /** Queries generated but left out of the job (outcomes a QEMU deviation makes it abort on). */
  readonly excluded?: number;
}

const PA_SIZES = [32, 36, 40, 42, 44, 48, 52] as const;
const DEVICE_BYTES = [0x00, 0x04, 0x08, 0x0c];
/** SCTLR_EL1 RES1 bits (29, 28, 23, 22, 20, 11) with M=1; EE=0 (little-endian walks). */
const SCTLR_BASE = 0x30d0_0801n;
const GRANULES: readonly Granule[] = [GRANULE_4K, GRANULE_16K, GRANULE_64K];

interface Table {
  readonly pa: bigint;
  readonly level: number;
  /** index → next table (valid table descriptor into the arena) or null (anything else). */
  readonly entries: Map<number, Table | null>;
}

class Arena {
  private next: bigint;
  constructor(rng: Rng) {
    // A random 64 KiB-aligned start inside the first half of the arena.
    this.next = ARENA_BASE + BigInt(rng.int(4096)) * 0x1_0000n;
  }
  /** A fresh zeroed table page (64 KiB aligned, so it suits every granule). */
  alloc(): bigint {
    const pa = this.next;
    this.next += 0x1_0000n;
    if (this.next > ARENA_END) throw new RangeError("table arena exhausted");
    return pa;
  }
}

/** Mix of memory attributes: Device types, Normal NC (0x44), and random valid Normal encodings. */
function randomMair(rng: Rng): bigint {
  let mair = 0n;
  for (let i = 0; i < 8; i++) {
    const kind = rng.weighted({ device: 3, nc: 1, wb: 2, random: 2 });
    let b: number;
    if (kind === "device") b = rng.pick(DEVICE_BYTES);
    else if (kind === "nc") b = 0x44;
    else if (kind === "wb") b = 0xff;
    else b = (rng.range(1, 15) << 4) | rng.range(1, 15);
    mair |= BigInt(b) << BigInt(8 * i);
  }
  return mair;
}

function tnszBounds(g: Granule, ds: boolean): { min: number; max: number } {
  // ASL AArch64.S1MinTxSZ / AArch64.MaxTxSZ with FEAT_LVA, FEAT_LPA2 and FEAT_TTST.
  const min = g.size === 65536 || ds ? 12 : 16;
  return { min, max: g.size === 65536 ? 47 : 48 };
}

function effectivePa(ips: number, g: Granule, ds: boolean): number {
  // ASL AArch64.PhysicalAddressSize: 4K/16K without DS are limited to 48 bits.
  return g.size !== 65536 && !ds ? Math.min(ips, 48) : ips;
}

/** Largest OA/NLTA bit (exclusive) that the encoding can hold without setting RES0 bits. */
function encodableBits(h: HalfPlan): number {
  if (h.paBits === 52) return 52;
  if (h.ds) return 50; // OA[49:48] in bits[49:48]; OA[51:50] (bits[9:8]) left 0, see the header
  return 48;
}

function encodingFormat(h: HalfPlan): DescriptorFormat {
  // With DS the encoder may place OA[51:50] in bits [9:8] (left 0 below 52 bits, see the header).
  return descriptorFormat(h.granule, { ds: h.ds, oaBits: h.ds ? 52 : h.paBits, paMaxBits: h.paBits });
}

class TreeGen {
  private readonly fmt: DescriptorFormat;
  private readonly byLevel = new Map<number, Table[]>();
  readonly root: Table | undefined;

  constructor(
    private readonly rng: Rng,
    private readonly mem: PhysMem,
    private readonly arena: Arena,
    readonly half: HalfPlan,
    /** Chance that a new leaf-capable entry becomes a whole contiguous group. */
    private readonly contiguousChance: number,
  ) {
    this.fmt = encodingFormat(half);
    this.root = half.tnszOk && half.baseKind === "arena" ? this.table(half.base, half.startLevel) : undefined;
  }

  private table(pa: bigint, level: number): Table {
    const t: Table = { pa, level, entries: new Map() };
    const list = this.byLevel.get(level) ?? [];
    list.push(t);
    this.byLevel.set(level, list);
    return t;
  }

  private indexBits(level: number): number {
    const h = this.half;
    return Math.min(h.granule.stride, h.iaBits - levelShift(h.granule, level));
  }

  /** Random address aligned to 2^align below 2^bits (0 when align >= bits). */
  private addrBelow(bits: number, align: number): bigint {
    if (align >= bits) return 0n;
    return this.rng.bits(bits - align) << BigInt(align);
  }

  /** An address at or above the OA size that the descriptor can still hold, or undefined. */
  private beyondPa(align: number): bigint | undefined {
    const top = encodableBits(this.half);
    const pa = this.half.paBits;
    if (pa >= top) return undefined;
    const bit = BigInt(this.rng.range(Math.max(pa, align), top - 1));
    return ((1n << bit) | this.addrBelow(Number(bit), align)) & ~((1n << BigInt(align)) - 1n);
  }

  private unmapped(align: number): bigint {
    const span = (UNMAPPED_END - UNMAPPED_BASE) >> BigInt(align);
    return UNMAPPED_BASE + ((this.rng.bits(40) % span) << BigInt(align));
  }

  /** A random OA aligned to 2^align: beyond the OA size with probability `beyond`, else below it. */
  private outputAddress(align: number, beyond: number): bigint {
    const h = this.half;
    const oa = this.rng.chance(beyond) ? this.beyondPa(align) : undefined;
    return oa ?? this.addrBelow(Math.min(h.paBits, encodableBits(h)), align);
  }

  private leaf(level: number): bigint {
    const oa = this.outputAddress(levelShift(this.half.granule, level), 0.12);
    const { sw63, ...attrs } = this.leafAttrs();
    const v = encodeLeaf({ oa, ...attrs }, level, this.fmt);
    return sw63 ? v | (1n << 63n) : v;
  }

  /** Random leaf attributes (the OA is chosen by the caller); IGNORED bit 63 set as `sw63`. */
  private leafAttrs(): Omit<LeafFields, "oa"> & { sw63: boolean } {
    const rng = this.rng;
    const h = this.half;
    return {
      attrIndx: rng.int(8),
      ap: rng.int(4),
      sh: h.ds ? 0 : rng.pick([0, 2, 3]),
      af: rng.chance(0.85),
      nG: rng.chance(0.5),
      gp: rng.chance(0.1),
      dbm: rng.chance(0.25),
      pxn: rng.chance(0.3),
      uxn: rng.chance(0.3),
      sw: rng.chance(0.3) ? rng.int(16) : 0,
      pbha: rng.chance(0.1) ? rng.int(16) : 0,
      sw63: rng.chance(0.1), // IGNORED bit 63
    };
  }

  /**
   * Maybe fill the whole aligned contiguous group around `idx` of table `t` (ASL ContiguousSize):
   * every entry with the Contiguous bit, OA base + i x entry size from a base aligned to the group
   * size, identical attributes. The base is beyond the OA size in some groups; a group larger than
   * the PA space (4K level 1 or 64K level 2 under a 32-bit IPS: 16 GiB) crosses it, so its entries
   * above 2^IPS must give an Address size fault at their level (ASL AArch64.OAOutOfRange on the
   * descriptor's own OA) while the ones below translate. Returns whether the group was written.
   */
  private contiguousGroup(t: Table, idx: number): boolean {
    const rng = this.rng;
    const g = this.half.granule;
    const cs = contiguousShift(g, t.level);
    if (cs === 0 || this.indexBits(t.level) < cs || !rng.chance(this.contiguousChance)) return false;
    const n = 2 ** cs;
    const first = idx - (idx % n);
    for (let i = first; i < first + n; i++) if (t.entries.has(i)) return false;
    const shift = levelShift(g, t.level);
    const base = this.outputAddress(shift + cs, 0.25);
    const { sw63, ...attrs } = this.leafAttrs();
    for (let i = 0; i < n; i++) {
      let v = encodeLeaf({ ...attrs, oa: base + (BigInt(i) << BigInt(shift)), contiguous: true }, t.level, this.fmt);
      if (t.level < 3) v &= ~2n; // block descriptor
      if (sw63) v |= 1n << 63n;
      this.mem.write64(t.pa + BigInt(first + i) * 8n, v);
      t.entries.set(first + i, null);
    }
    return true;
  }

  private tableDesc(next: bigint): bigint {
    const rng = this.rng;
    let v = encodeTable(
      {
        nextTable: next,
        apTable: rng.chance(0.5) ? 0 : rng.int(4),
        uxnTable: rng.chance(0.2),
        pxnTable: rng.chance(0.2),
      },
      this.fmt,
    );
    // IGNORED bits of a table descriptor: [11:2] and [58:52].
    if (rng.chance(0.3)) v |= rng.bits(10) << 2n;
    if (rng.chance(0.2)) v |= rng.bits(7) << 52n;
    return v;
  }

  /** Make a random entry at `level`; returns the raw descriptor and the next table if any. */
  private makeEntry(level: number): { raw: bigint; next: Table | null } {
    const rng = this.rng;
    const g = this.half.granule;
    if (level === 3) {
      const k = rng.weighted({ page: 75, reserved: 12, invalid: 13 });
      if (k === "page") return { raw: this.leaf(3), next: null };
      if (k === "reserved") return { raw: this.leaf(3) & ~2n, next: null }; // 0b01 at level 3
      return { raw: rng.bits(63) << 1n, next: null };
    }
    const shared = this.byLevel.get(level + 1) ?? [];
    const k = rng.weighted({
      table: 50,
      shared: shared.length > 0 ? 6 : 0,
      block: 22,
      invalid: 8,
      beyond: 6,
      unmapped: 3,
    });
    switch (k) {
      case "table": {
        const t = this.table(this.arena.alloc(), level + 1);
        return { raw: this.tableDesc(t.pa), next: t };
      }
      case "shared": {
        const t = rng.pick(shared);
        return { raw: this.tableDesc(t.pa), next: t };
      }
      case "block":
        // Also at levels where the granule allows no block: then it is invalid (Translation fault).
        return { raw: this.leaf(Math.max(level, 0)) & ~2n, next: null };
      case "invalid":
        return { raw: rng.bits(63) << 1n, next: null };
      case "beyond": {
        const a = this.beyondPa(g.shift);
        if (a !== undefined) return { raw: this.tableDesc(a), next: null };
        const t = this.table(this.arena.alloc(), level + 1);
        return { raw: this.tableDesc(t.pa), next: t };
      }
      default:
        return { raw: this.tableDesc(this.unmapped(g.shift)), next: null };
    }
  }

  /**
   * Map the 4 KiB-aligned page `va` VA = PA, read-only (AP[2]=1, no EL0 access), executable, AF=1,
   * through table descriptors without hierarchical restrictions (the EL2-regime trampoline the
   * harness executes with the EL2 MMU on). Called before any random path, so no contiguous group
   * or leaf is there yet; tables made here are shared by the later paths.
   */
  forceExecPage(va: bigint): void {
    const h = this.half;
    let t = this.root;
    if (!t) throw new RangeError("forceExecPage needs a walkable half");
    for (;;) {
      const sh = levelShift(h.granule, t.level);
      const idx = Number((va >> BigInt(sh)) & ((1n << BigInt(this.indexBits(t.level))) - 1n));
      if (t.level === 3) {
        const oa = va & ~(BigInt(h.granule.size) - 1n);
        this.mem.write64(t.pa + BigInt(idx) * 8n, encodeLeaf({ oa, ap: 2, af: true, sh: h.ds ? 0 : 3, attrIndx: 0 }, 3, this.fmt));
        t.entries.set(idx, null);
        return;
      }
      let next = t.entries.get(idx);
      if (!next) {
        next = this.table(this.arena.alloc(), t.level + 1);
        t.entries.set(idx, next);
      }
      this.mem.write64(t.pa + BigInt(idx) * 8n, encodeTable({ nextTable: next.pa }, this.fmt));
      t = next;
    }
  }

  /** Walk down from the root choosing (and creating) entries; returns the VA's index bits. */
  path(): bigint {
    const rng = this.rng;
    const h = this.half;
    let va = 0n;
    let t = this.root;
    while (t) {
      const nb = this.indexBits(t.level);
      const used = [...t.entries.keys()];
      const idx = used.length > 0 && rng.chance(0.6) ? rng.pick(used) : rng.int(2 ** nb);
      va |= BigInt(idx) << BigInt(levelShift(h.granule, t.level));
      let next = t.entries.get(idx);
      if (next === undefined) {
        if (rng.chance(0.08)) {
          next = null; // leave the entry empty: a Translation fault at this level
        } else if (this.contiguousGroup(t, idx)) {
          next = null;
        } else {
          const e = this.makeEntry(t.level);
          this.mem.write64(t.pa + BigInt(idx) * 8n, e.raw);
          next = e.next;
        }
        t.entries.set(idx, next);
      }
      t = next ?? undefined;
    }
    // Low bits below the leaf: anything.
    return va | rng.bits(h.granule.shift);
  }
}

/** Put the half's range bits on an index-only VA: canonical, or deliberately not. */
function finishVa(rng: Rng, h: HalfPlan, low: bigint): bigint {
  const ia = BigInt(h.iaBits);
  let va = low & ((1n << ia) - 1n);
  if (h.index === 1) va |= ((1n << 64n) - 1n) ^ ((1n << ia) - 1n);
  if (h.tbi && rng.chance(0.3)) va = (va & ((1n << 56n) - 1n)) | (rng.bits(8) << 56n);
  if (rng.chance(0.05) && h.iaBits < 55) {
    // Not canonical: flip one bit in [54:IA] (bit 55 selects the half; above it TBI may apply).
    va ^= 1n << BigInt(rng.range(h.iaBits, 54));
  }
  return va;
}

function pickHalf(rng: Rng, index: 0 | 1, ds: boolean, ips: number, arena: Arena, noLevelMinus1: boolean, walkable = false): HalfPlan {
  const granule = rng.pick(GRANULES);
  const dsHere = ds && granule.size !== 65536;
  const b = tnszBounds(granule, dsHere);
  // QEMU 7.2 aborts (assertion in arm_fi_to_lfsc) on any level -1 fault: no 4K level -1 start there.
  const lo = noLevelMinus1 && granule.size === 4096 ? 16 : b.min;
  // `walkable`: a valid TnSZ whose range reaches the trampoline (VA 0x4020_0000 needs 31 bits) and an arena base.
  const tnszOk = walkable || !rng.chance(0.06);
  const tnsz = tnszOk ? rng.range(lo, walkable ? Math.min(b.max, 33) : b.max) : rng.range(0, b.min - 1);
  const iaBits = 64 - tnsz;
  const paBits = effectivePa(ips, granule, dsHere);
  const sl = startLevel(granule, Math.max(tnsz, b.min));
  const where = walkable ? "arena" : rng.weighted({ arena: 90, beyond: 5, unmapped: 5 });
  let baseKind: HalfPlan["baseKind"];
  let base: bigint;
  if (where === "beyond" && paBits < 48) {
    // BADDR[47:paBits] non-zero: Address size fault, level 0. (BADDR[51:48] is RES0 here.)
    base = (1n << BigInt(rng.range(paBits, 47))) | ARENA_BASE;
    baseKind = "beyond-pa";
  } else if (where === "unmapped") {
    base = UNMAPPED_BASE + BigInt(rng.int(0x1000)) * 0x1_0000n;
    baseKind = "unmapped";
  } else {
    base = arena.alloc();
    baseKind = "arena";
  }
  return { index, granule, tnsz, tnszOk, iaBits, startLevel: sl, paBits, ds: dsHere, base, baseKind, tbi: rng.chance(0.3) };
}

function tgName(g: Granule): "4K" | "16K" | "64K" {
  return g.name;
}

/** Generate one job: registers, tables in a PhysMem, and queries. */
export interface GenOptions {
  /** Random paths per TTBR half (each gives 1-4 AT queries). */
  readonly pathsPerHalf?: number;
  /** Never start a 4K walk at level -1 (for QEMU before 8.x, which crashes on level -1 faults). */
  readonly noLevelMinus1?: boolean;
  /** TCR_EL1.IPS in bits for every job (default: random, weighted towards 48 and 52). */
  readonly ipsBits?: number;
  /** Chance that a new entry at a level with a Contiguous bit becomes a whole group (default 0.1). */
  readonly contiguousChance?: number;
  /**
   * Permission indirection (FEAT_S1PIE): TCR2_EL1.PIE=1 with Linux's PIR_EL1/PIRE0_EL1 values
   * ("linux"), random ones ("random") or either per job ("mixed"); queries then include AT
   * S1E1RP/S1E1WP (PAN). `poe` also programs POR_EL1/POR_EL0 and TCR2_EL1.POE/E0POE (only for a
   * CPU with FEAT_S1POE: without it those bits are RES0 and the walker is told so).
   */
  readonly pie?: { readonly mode: "linux" | "random" | "mixed"; readonly poe: boolean };
  /**
   * A page (VA = PA) the TTBR0 half must map read-only and executable before anything else: the
   * harness's EL2-regime trampoline. TTBR0's half is then always walkable (valid T0SZ reaching the
   * page, arena base, EPD0=0).
   */
  readonly trampoline?: bigint;
}

const LINUX_ERAS: readonly LinuxPieEra[] = ["pie", "poe", "gcs"];

/** A PIR-format value with each 4-bit field drawn at random (all 16 values, reserved ones included). */
function randomPermRegister(rng: Rng): bigint {
  let v = 0n;
  for (let n = 0; n < 16; n++) v |= BigInt(rng.int(16)) << BigInt(4 * n);
  return v;
}

/** The PIE/POE registers of one job (ASL TCR2_EL1: PIE[1], E0POE[2], POE[3]). */
function pieRegs(rng: Rng, pie: NonNullable<GenOptions["pie"]>): Pick<Regs, "tcr2" | "pir" | "pire0" | "por1" | "por0" | "features"> {
  const linux = pie.mode === "linux" || (pie.mode === "mixed" && rng.chance(0.5));
  const pir = linux ? linuxPirE1() : randomPermRegister(rng);
  const pire0 = linux ? linuxPireE0(rng.pick(LINUX_ERAS)) : randomPermRegister(rng);
  let tcr2 = LINUX_TCR2_PIE;
  const features = { ...FEATURES_MAX, s1poe: pie.poe };
  if (!pie.poe) return { tcr2, pir, pire0, features };
  if (rng.chance(0.5)) tcr2 |= 8n; // POE
  if (rng.chance(0.5)) tcr2 |= 4n; // E0POE
  if (rng.chance(0.15)) tcr2 &= ~2n; // overlays under direct permissions
  return { tcr2, pir, pire0, por1: randomPermRegister(rng), por0: randomPermRegister(rng), features };
}

export function generateCase(rng: Rng, id: string, opts: GenOptions = {}): GenCase {
  const pathsPerHalf = opts.pathsPerHalf ?? 14;
  const noLm1 = opts.noLevelMinus1 ?? false;
  const arena = new Arena(rng);
  const randomIps = rng.chance(0.3) ? 48 : rng.chance(0.35) ? 52 : rng.pick(PA_SIZES);
  const ips = opts.ipsBits ?? randomIps;
  const ds = rng.chance(0.4);
  const h0 = pickHalf(rng, 0, ds, ips, arena, noLm1, opts.trampoline !== undefined);
  const h1 = pickHalf(rng, 1, ds, ips, arena, noLm1);
  const ha = rng.chance(0.25);
  let tcr = encodeTcr({
    t0sz: h0.tnsz,
    t1sz: h1.tnsz,
    tg0: tgName(h0.granule),
    tg1: tgName(h1.granule),
    ipsBits: ips,
    epd0: opts.trampoline === undefined && rng.chance(0.06),
    epd1: rng.chance(0.06),
    a1: rng.chance(0.5),
    as: rng.chance(0.5),
    tbi0: h0.tbi,
    tbi1: h1.tbi,
    ha,
    hd: ha && rng.chance(0.5),
    ds,
    hpd0: rng.chance(0.2),
    hpd1: rng.chance(0.2),
  });
  // TCR.SHn are the leaf shareability with DS=1; 0b01 is reserved.
  tcr = (tcr & ~((3n << 12n) | (3n << 28n))) | (BigInt(rng.pick([0, 2, 3])) << 12n) | (BigInt(rng.pick([0, 2, 3])) << 28n);
  if (rng.chance(0.05)) tcr |= 1n << 55n; // E0PD0
  if (rng.chance(0.05)) tcr |= 1n << 56n; // E0PD1
  const ttbr0 = h0.base | (rng.bits(16) << 48n);
  const ttbr1 = h1.base | (rng.bits(16) << 48n);
  const regs: Regs = {
    ttbr0,
    ttbr1,
    tcr,
    // The trampoline page uses AttrIndx 0: make it Normal WB (instruction fetches).
    mair: opts.trampoline === undefined ? randomMair(rng) : randomMair(rng) | 0xffn,
    sctlr: SCTLR_BASE | (rng.chance(0.2) ? 1n << 19n : 0n),
    features: FEATURES_MAX,
    ...(opts.pie ? pieRegs(rng, opts.pie) : {}),
  };
  const opNames = opts.pie ? AT_EL1_OPS : AT_OP_NAMES;
  const mem = new PhysMem();
  mem.addRam(ARENA_BASE, ARENA_END - ARENA_BASE);
  const queries: Query[] = [];
  for (const h of [h0, h1]) {
    const tree = new TreeGen(rng, mem, arena, h, opts.contiguousChance ?? 0.1);
    if (h.index === 0 && opts.trampoline !== undefined) tree.forceExecPage(opts.trampoline);
    for (let p = 0; p < pathsPerHalf; p++) {
      const va = rng.chance(0.03) ? rng.bits(64) : finishVa(rng, h, tree.path());
      const ops = opNames.filter(() => rng.chance(0.7));
      if (ops.length === 0) ops.push(rng.pick(opNames));
      for (const op of ops) queries.push({ va, op });
    }
  }
  return { id, regs, mem, job: { regs, chunks: chunksOf(mem), queries }, halves: [h0, h1] };
}

/** Non-zero 4 KiB frames of the memory, merged into runs. */
export function chunksOf(mem: PhysMem): Chunk[] {
  const chunks: Chunk[] = [];
  let runStart = -1;
  let runFrames: Uint8Array[] = [];
  const flush = (): void => {
    if (runFrames.length === 0) return;
    const data = new Uint8Array(runFrames.length * 4096);
    for (const [i, f] of runFrames.entries()) data.set(f, i * 4096);
    chunks.push({ pa: BigInt(runStart) * 4096n, data });
    runFrames = [];
  };
  let prev = -2;
  for (const pfn of mem.backedFrames()) {
    const bytes = mem.readBytes(BigInt(pfn) * 4096n, 4096);
    if (bytes.every((x) => x === 0)) continue;
    if (pfn !== prev + 1) {
      flush();
      runStart = pfn;
    }
    runFrames.push(bytes);
    prev = pfn;
  }
  flush();
  return chunks;
}
