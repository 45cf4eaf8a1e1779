/**
 * Random leaf tables for the run-aware range walk and audit (range.ts `runs`, dump/audit.ts):
 * windows of consecutive level-3 pages and level-2 blocks written as segments of one attribute set
 * with consecutive output addresses (runs), next to holes (zero and non-zero invalid entries),
 * contiguous groups (aligned, misaligned, cut short, with a member changed), output addresses at
 * the top of the address field (where adding one entry size would carry out of it) and above the
 * PA size, and single bits flipped anywhere. Windows start at random table indices so runs cross
 * 4 KiB frames (16K/64K tables span several) and tables.
 */
import fc from "fast-check";
import { encodeLeaf, type LeafFields } from "../../src/arch/descriptor.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, type Granule, levelShift, startLevel } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR, LINUX_SCTLR, presetByName, type Regs } from "../../src/arch/registers.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { TestTables } from "./tables.js";

/** A translation configuration the tables are written for. */
interface Config {
  readonly granule: Granule;
  readonly vaBits: number;
  readonly ds: boolean;
  readonly oa52: boolean;
}

const CONFIGS: readonly Config[] = [
  { granule: GRANULE_4K, vaBits: 48, ds: false, oa52: false },
  // FEAT_LPA2 (TCR.DS=1): OA[49:48] in bits [49:48], OA[51:50] in [9:8].
  { granule: GRANULE_4K, vaBits: 52, ds: true, oa52: true },
  { granule: GRANULE_16K, vaBits: 47, ds: false, oa52: false },
  // FEAT_LPA with 64K pages: OA[51:48] in bits [15:12].
  { granule: GRANULE_64K, vaBits: 52, ds: false, oa52: true },
];

/** Leaf attribute sets (Linux-like prots and a few that trip each audit rule). */
const ATTRS: readonly Omit<LeafFields, "oa">[] = [
  { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 }, // PAGE_KERNEL
  { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0, ap: 2 }, // PAGE_KERNEL_RO
  { af: true, sh: 3, pxn: false, uxn: true, attrIndx: 0, ap: 2 }, // PAGE_KERNEL_ROX
  { af: true, sh: 3, pxn: false, uxn: true, attrIndx: 0 }, // W+X
  { af: true, pxn: true, uxn: true, attrIndx: 4 }, // Device-nGnRE (aliases)
  { af: true, sh: 3, pxn: true, uxn: false, attrIndx: 0, ap: 1, nG: true }, // user RW, nG
  { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 2, ns: true }, // Normal-NC with NS (RES0)
  { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 1, dbm: true, sw: 5 }, // Tagged, DBM, software bits
];

export interface Segment {
  /** Entries in the segment. */
  readonly len: number;
  /** pages-sum: entry k is the first descriptor + k·size as a 64-bit sum (past the top of the address field, a carry into the bits above it). */
  readonly type: "pages" | "pages-sum" | "zero" | "invalid-same" | "invalid-advancing";
  readonly attr: number;
  /** Output address of the first entry: the previous segment's end, a group-aligned one, any entry-aligned one, or the top of the address field. */
  readonly oa: "continue" | "aligned" | "random" | "top";
  /** A random number for the OA (aligned, random) or the distance from the top (in entries). */
  readonly oaPick: number;
  readonly cont: boolean;
}

export interface Flip {
  readonly window: number;
  readonly slot: number;
  readonly bit: number;
}

export interface LeafTablesSpec {
  readonly config: number;
  /** TCR.IPS 40 bits instead of the configuration's own (output addresses above it fault). */
  readonly smallPa: boolean;
  /** TTBR0 names the same tables (the user half audited too). */
  readonly userHalf: boolean;
  /** TCR2_EL1.PIE=1 with Linux's PIR_EL1/PIRE0_EL1 (permission indirection). */
  readonly pie: boolean;
  /** Two windows: level-3 pages, level-2 blocks. */
  readonly windows: readonly { readonly startIndex: number; readonly segments: readonly Segment[] }[];
  readonly flips: readonly Flip[];
  /** Protected PA ranges: (segment of window 0, entry offset, entries), in entries of window 0. */
  readonly protect: readonly { readonly segment: number; readonly from: number; readonly entries: number }[];
}

const FLIP_BITS = [0, 1, 5, 6, 7, 10, 11, 12, 13, 16, 20, 21, 48, 49, 50, 51, 52, 53, 54, 55, 63];

const segment: fc.Arbitrary<Segment> = fc.record({
  len: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 160 })),
  type: fc.constantFrom("pages", "pages", "pages", "pages-sum", "zero", "invalid-same", "invalid-advancing"),
  attr: fc.integer({ min: 0, max: ATTRS.length - 1 }),
  oa: fc.constantFrom("continue", "continue", "aligned", "random", "top"),
  oaPick: fc.integer({ min: 0, max: 2 ** 30 }),
  cont: fc.boolean(),
});

export const leafTablesSpec: fc.Arbitrary<LeafTablesSpec> = fc.record({
  config: fc.integer({ min: 0, max: CONFIGS.length - 1 }),
  smallPa: fc.boolean(),
  userHalf: fc.boolean(),
  pie: fc.boolean(),
  windows: fc.tuple(
    fc.record({ startIndex: fc.integer({ min: 0, max: 8191 }), segments: fc.array(segment, { minLength: 1, maxLength: 12 }) }),
    fc.record({ startIndex: fc.integer({ min: 0, max: 511 }), segments: fc.array(segment, { minLength: 0, maxLength: 4 }) }),
  ),
  flips: fc.array(
    fc.record({ window: fc.integer({ min: 0, max: 1 }), slot: fc.integer({ min: 0, max: 2000 }), bit: fc.constantFrom(...FLIP_BITS) }),
    { maxLength: 6 },
  ),
  protect: fc.array(
    fc.record({
      segment: fc.integer({ min: 0, max: 11 }),
      from: fc.integer({ min: -4, max: 100 }),
      entries: fc.integer({ min: 1, max: 40 }),
    }),
    { maxLength: 2 },
  ),
});

export interface LeafTables {
  readonly t: TestTables;
  readonly regs: Regs;
  readonly protectedRanges: { start: bigint; end: bigint }[];
  readonly userHalf: boolean;
}

const M64 = (1n << 64n) - 1n;

/** Write the tables a spec describes. */
export function buildLeafTables(spec: LeafTablesSpec): LeafTables {
  const cfg = CONFIGS[spec.config] as Config;
  const g = cfg.granule;
  const tnsz = 64 - cfg.vaBits;
  const sl = startLevel(g, tnsz);
  const t = new TestTables(g, sl, { ds: cfg.ds, oa52: cfg.oa52, allocBase: 0x8000_0000n });
  const entriesPerTable = g.size / 8;
  // Output addresses the descriptor can hold (written modulo this: the top of the field wraps).
  const oaSpace = 1n << (cfg.oa52 ? 52n : 48n);
  const protectedRanges: { start: bigint; end: bigint }[] = [];
  const segmentOas: bigint[] = [];
  const slotsOf: bigint[][] = [[], []];
  spec.windows.forEach((w, wi) => {
    const level = wi === 0 ? 3 : 2;
    const shift = levelShift(g, level);
    const size = 1n << BigInt(shift);
    const groupEntries = level === 3 ? (g.size === 16384 ? 128n : 16n) : g.size === 16384 ? 32n : g.size === 65536 ? 32n : 16n;
    // Window 0 at a quarter of the half, window 1 at half of it: each in its own tables.
    const windowBase = 1n << BigInt(cfg.vaBits - (wi === 0 ? 2 : 1));
    const first = BigInt(w.startIndex % entriesPerTable);
    let slot = 0n;
    let oaEnd = 0x4000_0000n;
    for (const s of w.segments) {
      let oa: bigint;
      switch (s.oa) {
        case "continue":
          oa = oaEnd;
          break;
        case "aligned":
          oa = BigInt(s.oaPick) * size * groupEntries;
          break;
        case "random":
          oa = BigInt(s.oaPick) * size;
          break;
        case "top":
          oa = oaSpace - BigInt(1 + (s.oaPick % 20)) * size;
          break;
      }
      oa %= oaSpace;
      if (wi === 0) segmentOas.push(oa);
      const attrs = ATTRS[s.attr] as Omit<LeafFields, "oa">;
      const v0 = encodeLeaf({ ...attrs, oa, contiguous: s.cont }, level, t.fmt);
      for (let k = 0n; k < BigInt(s.len); k++) {
        const va = windowBase + (first + slot) * size;
        const leafOa = (oa + (s.type === "invalid-same" ? 0n : k * size)) % oaSpace;
        let v = encodeLeaf({ ...attrs, oa: leafOa, contiguous: s.cont }, level, t.fmt);
        if (s.type === "pages-sum") v = (v0 + k * size) & M64;
        else if (s.type === "zero") v = 0n;
        else if (s.type !== "pages") v &= ~1n;
        const da = t.raw(va, level, v);
        slotsOf[wi]?.push(da);
        slot++;
      }
      oaEnd = (oa + BigInt(s.len) * size) % oaSpace;
    }
  });
  for (const f of spec.flips) {
    const slots = slotsOf[f.window] as bigint[];
    if (slots.length === 0) continue;
    const da = slots[f.slot % slots.length] as bigint;
    t.mem.write64(da, ((t.mem.read64(da) ?? 0n) ^ (1n << BigInt(f.bit))) & M64);
  }
  const pageSize = 1n << BigInt(levelShift(g, 3));
  for (const p of spec.protect) {
    const base = segmentOas[p.segment % Math.max(1, segmentOas.length)];
    if (base === undefined) continue;
    const start = base + BigInt(p.from) * pageSize;
    if (start < 0n) continue;
    protectedRanges.push({ start, end: start + BigInt(p.entries) * pageSize });
  }
  const ips = spec.smallPa ? 40 : cfg.oa52 ? 52 : 48;
  const tcr = encodeTcr({
    t0sz: tnsz,
    t1sz: tnsz,
    tg0: g.name as "4K" | "16K" | "64K",
    tg1: g.name as "4K" | "16K" | "64K",
    ipsBits: ips,
    a1: true,
    as: true,
    tbi0: true,
    ha: true,
    hd: true,
    ds: cfg.ds,
  });
  let regs: Regs = {
    ttbr0: spec.userHalf ? t.root : 0n,
    ttbr1: t.root,
    tcr,
    mair: LINUX_MAIR,
    sctlr: LINUX_SCTLR,
    features: FEATURES_MAX,
  };
  if (spec.pie) {
    const pie = presetByName("linux-4k-48-pie").regs;
    regs = { ...regs, tcr2: pie.tcr2, pir: pie.pir, pire0: pie.pire0 };
  }
  return { t, regs, protectedRanges, userHalf: spec.userHalf };
}

/**
 * The same memory behind a frame source with a pool of `frames` frames: its frames move (are
 * not stable), so range walks read them through load64, and a later read may evict them.
 */
export function pooledCopy(mem: PhysMem, frames: number): PhysMem {
  const out = new PhysMem({ sourceCacheBytes: frames * 4096 });
  out.addSource({
    has: (pfn) => mem.frame(pfn) !== undefined,
    read: (pfn, buf) => {
      const f = mem.frame(pfn);
      if (f === undefined) return false;
      buf.set(new Uint8Array(f.buffer, f.byteOffset, 4096));
      return true;
    },
    runs: () => mem.backedRuns(),
  });
  return out;
}

/**
 * The same memory with its frames stored in reverse order of their physical addresses: frames
 * adjacent in physical memory are not adjacent in the store, so a read that runs past the end of
 * a frame's words reads another frame.
 */
export function reversedCopy(mem: PhysMem): PhysMem {
  const out = new PhysMem();
  for (const pfn of mem.backedFrames().reverse()) {
    const f = mem.frame(pfn);
    if (f !== undefined) out.writeBytes(BigInt(pfn) * 4096n, new Uint8Array(f.buffer, f.byteOffset, 4096).slice());
  }
  return out;
}
