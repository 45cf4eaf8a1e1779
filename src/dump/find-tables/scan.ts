/**
 * `vmsa find-tables`: find the kernel's TTBR1 root table in RAM without registers.
 *
 * Every page holding data is tried as the root of each Linux translation regime (the register
 * presets: 4K 39/48/52-bit, 16K 36/47/52-bit, 64K 42/48/52-bit, with DS=1 for 52-bit 4K/16K). A
 * cheap filter reads the root's entries and drops the page at the first one that is not empty, a
 * table into RAM, or a block the format allows (Linux writes 0 for empty root entries). Survivors
 * are scored by the tree below them (evidence.ts, memoised per descriptor format), and ranked.
 *
 * A candidate is strong when its tree looks like a running Linux kernel's swapper_pg_dir: no
 * format errors, no table outside RAM, no EL0-accessible mapping, a linear map (one VA→PA run of
 * at least 8 MiB in the lower half of the range: PAGE_OFFSET starts the TTBR1 half, linear map
 * randomisation only moves it up a little) and kernel text (privileged-executable read-only
 * mappings). Anything less is weak: reported, never a conclusion.
 */
import type { GranuleName } from "../../arch/granule.js";
import { decodeTcr, FEATURES_MAX, PRESETS, type Preset } from "../../arch/registers.js";
import type { PhysMem } from "../../mem/physmem.js";
import { compileRegs, type HalfContext, type WalkContext } from "../../walk/context.js";
import { CHECK_EMPTY, CHECK_LEAF, CHECK_TABLE, type Summary, TreeEvidence } from "./evidence.js";

/** A translation regime to try: one Linux preset, and where in a granule its root may sit. */
interface Shape {
  readonly preset: Preset;
  readonly ctx: WalkContext;
  readonly h: HalfContext;
  readonly rootEntries: number;
  /** Byte offsets of the root inside a granule-aligned page. */
  readonly offsets: readonly number[];
  readonly formatKey: string;
}

export interface FindOptions {
  /** Only these granules (default: all three). */
  readonly granules?: readonly GranuleName[];
  /** Progress callback (frames done, frames total). */
  readonly progress?: (done: number, total: number) => void;
}

export interface Evidence {
  readonly tables: number;
  readonly emptyTables: number;
  readonly leaves: number;
  readonly oddLeaves: number;
  readonly mappedBytes: number;
  readonly leavesOutsideRam: number;
  readonly formatErrors: number;
  readonly tablesOutsideRam: number;
  readonly invalidNonZero: number;
  readonly aliases: number;
  /** Longest linear run: VA, PA, size. */
  readonly linearMap: { readonly va: bigint; readonly pa: bigint; readonly size: number };
  readonly kernelTextBytes: number;
  readonly readOnlyBytes: number;
  readonly readWriteBytes: number;
  readonly wxBytes: number;
  readonly userBytes: number;
}

export interface Candidate {
  readonly rootPa: bigint;
  readonly preset: string;
  readonly granule: GranuleName;
  readonly vaBits: number;
  readonly t1sz: number;
  readonly ds: boolean;
  readonly startLevel: number;
  readonly ttbr1: bigint;
  readonly tcr: bigint;
  readonly strong: boolean;
  /** Why a candidate is not strong (empty when it is). */
  readonly missing: readonly string[];
  readonly score: number;
  readonly evidence: Evidence;
}

export interface FindResult {
  readonly candidates: readonly Candidate[];
  readonly framesScanned: number;
  readonly dataBytes: number;
  readonly rootsTried: number;
  readonly rootsPassed: number;
  /** Distinct (table, level, attributes) nodes read while scoring. */
  readonly nodesRead: number;
  readonly formats: readonly string[];
}

/** A linear map shorter than this is no evidence of one (the smallest useful guest has more RAM). */
export const MIN_LINEAR_MAP = 8 * 1024 * 1024;
/** Kernel text is at least this big (a tinyconfig kernel has about 1 MiB). */
export const MIN_KERNEL_TEXT = 64 * 1024;

function shapes(granules: readonly GranuleName[] | undefined): Shape[] {
  const out: Shape[] = [];
  for (const preset of PRESETS) {
    // PIE presets share their TCR with the plain ones: one shape per translation geometry.
    if (!preset.name.startsWith("linux-") || preset.regs.tcr2 !== undefined) continue;
    const ctx = compileRegs({ ...preset.regs, ttbr1: 0n, features: FEATURES_MAX });
    const h = ctx.halves[1];
    if (granules && !granules.includes(h.granule.name)) continue;
    const rootEntries = 2 ** (h.bitsAt[h.startLevel + 1] as number);
    const offsets = [0];
    // 64K pages, 48-bit VA on a kernel built for 52 bits: TTBR1 points at the last 64 entries of
    // the 1024-entry 52-bit root (Linux TTBR1_BADDR_4852_OFFSET, arch/arm64 asm/memory.h).
    if (h.granule.size === 65536 && h.iaBits === 48) offsets.push((1024 - 64) * 8);
    const formatKey = `${h.granule.name}${h.ds ? "-ds" : ""}${h.oa52 && !h.ds ? "-oa52" : ""}`;
    out.push({ preset, ctx, h, rootEntries, offsets, formatKey });
  }
  return out;
}

/** Non-zero 4 KiB frames of memory, ascending (frames that read as zero hold no table). */
function dataFrames(mem: PhysMem, progress?: (done: number, total: number) => void): number[] {
  // By runs of frames: a dump read on demand is not listed frame by frame.
  const runs = mem.backedRuns();
  const total = runs.reduce((a, r) => a + r.count, 0);
  const out: number[] = [];
  let i = 0;
  for (const r of runs) {
    for (let pfn = r.first; pfn < r.first + r.count; pfn++, i++) {
      if (progress && (i & 0xffff) === 0) progress(i, total);
      const fr = mem.frame(pfn);
      if (fr === undefined) continue;
      for (let w = 0; w < fr.length; w++) {
        if (fr[w] !== 0) {
          out.push(pfn);
          break;
        }
      }
    }
  }
  return out;
}

/** Cheap filter: every root entry is empty, a table into RAM, or an allowed block; at least one is valid. */
function rootPasses(mem: PhysMem, ev: TreeEvidence, pa: number, level: number, count: number): boolean {
  let valid = 0;
  for (let i = 0; i < count; i++) {
    if (!mem.load64(pa + i * 8)) return false;
    const c = ev.checkEntry(mem.hi, mem.lo, level);
    if (c === CHECK_EMPTY) continue;
    if (c !== CHECK_TABLE && c !== CHECK_LEAF) return false;
    valid++;
  }
  return valid > 0;
}

function log2p(n: number): number {
  return Math.log2(1 + n);
}

function judge(s: Summary, h: HalfContext): { strong: boolean; missing: string[]; score: number } {
  const missing: string[] = [];
  const span = 2 ** h.iaBits;
  const leaves = s.goodLeaves + s.oddLeaves;
  if (s.formatErrors > 0) missing.push(`${s.formatErrors} entries break the descriptor format`);
  if (s.tablesOutsideRam > 0) missing.push(`${s.tablesOutsideRam} table descriptors point outside RAM`);
  if (s.user > 0) missing.push("EL0-accessible mappings (Linux maps none in TTBR1)");
  if (s.bestLen < MIN_LINEAR_MAP || s.bestOff >= span / 2) missing.push("no linear map (8 MiB+ VA→PA run in the lower half of the range)");
  if (s.execRo < MIN_KERNEL_TEXT) missing.push("no kernel text (privileged-executable read-only mappings)");
  if (s.oddLeaves > leaves / 100) missing.push(`${s.oddLeaves} of ${leaves} leaves lack Linux's attributes (AF=1, inner shareable)`);
  // Evidence first (tables with entries, leaves with Linux's attributes, the linear map and the
  // image), then the signs of a wrong format or level, weighted so one broken entry outweighs a table.
  const score =
    s.tables +
    s.goodLeaves / 8 +
    2 * log2p(s.bestLen) +
    log2p(s.execRo) +
    log2p(s.ro) +
    log2p(s.rw) -
    s.oddLeaves -
    s.emptyTables / 2 -
    16 * (s.formatErrors + s.tablesOutsideRam) -
    s.invalidNonZero / 4 -
    s.aliases -
    (s.user > 0 ? 32 : 0);
  return { strong: missing.length === 0, missing, score: Math.round(score * 100) / 100 };
}

function ttbrFor(pa: number, h: HalfContext): bigint {
  const b = BigInt(pa);
  // 52-bit table addresses keep bits [51:48] in TTBR bits [5:2] (Arm ARM D19.2 TTBR1_EL1.BADDR).
  return h.oa52 ? (b & 0x0000_ffff_ffff_ffc0n) | (((b >> 48n) & 0xfn) << 2n) : b;
}

/** The report of one root that passed the filter. */
function candidate(s: Shape, pa: number, sum: Summary): Candidate {
  const level = s.h.startLevel;
  const j = judge(sum, s.h);
  const tcr = decodeTcr(s.preset.regs.tcr);
  const halfBase = (1n << 64n) - (1n << BigInt(s.h.iaBits));
  return {
    rootPa: BigInt(pa),
    preset: s.preset.name,
    granule: s.h.granule.name,
    vaBits: s.h.iaBits,
    t1sz: s.h.tnsz,
    ds: tcr.ds,
    startLevel: level,
    ttbr1: ttbrFor(pa, s.h),
    tcr: s.preset.regs.tcr,
    strong: j.strong,
    missing: j.missing,
    score: j.score,
    evidence: {
      tables: sum.tables,
      emptyTables: sum.emptyTables,
      leaves: sum.goodLeaves + sum.oddLeaves,
      oddLeaves: sum.oddLeaves,
      mappedBytes: sum.mappedBytes,
      leavesOutsideRam: sum.leavesOutsideRam,
      formatErrors: sum.formatErrors,
      tablesOutsideRam: sum.tablesOutsideRam,
      invalidNonZero: sum.invalidNonZero,
      aliases: sum.aliases,
      linearMap: { va: halfBase + BigInt(sum.bestOff), pa: BigInt(sum.bestPa), size: sum.bestLen },
      kernelTextBytes: sum.execRo,
      readOnlyBytes: sum.ro,
      readWriteBytes: sum.rw,
      wxBytes: sum.wx,
      userBytes: sum.user,
    },
  };
}

/** Scan memory for candidate TTBR1 roots, best first. */
export function findTables(mem: PhysMem, opts: FindOptions = {}): FindResult {
  const sh = shapes(opts.granules);
  const frames = dataFrames(mem, opts.progress);
  const evidence = new Map<string, TreeEvidence>();
  const roots: { shape: Shape; pa: number; sum: Summary }[] = [];
  let tried = 0;
  let passed = 0;
  for (const s of sh) {
    let ev = evidence.get(s.formatKey);
    if (!ev) {
      ev = new TreeEvidence(mem, s.ctx, s.h);
      evidence.set(s.formatKey, ev);
    }
    const framesPerGranule = s.h.granule.size / 4096;
    const level = s.h.startLevel;
    const rootBytes = s.rootEntries * 8;
    const last = s.offsets.map(() => -1);
    for (const pfn of frames) {
      const page = (pfn - (pfn % framesPerGranule)) * 4096;
      const inPage = (pfn % framesPerGranule) * 4096;
      for (let k = 0; k < s.offsets.length; k++) {
        // Try each root once, from the first data frame it overlaps.
        const off = s.offsets[k] as number;
        if (inPage + 4096 <= off || inPage >= off + rootBytes) continue;
        const pa = page + off;
        if (last[k] === pa) continue;
        last[k] = pa;
        tried++;
        if (!rootPasses(mem, ev, pa, level, s.rootEntries)) continue;
        passed++;
        const sum = ev.node(pa, level, 0, s.rootEntries, Math.max(1, s.rootEntries / 2));
        roots.push({ shape: s, pa, sum });
      }
    }
  }
  // Candidates (bigints for the report) only for the roots that passed, after the scan loop.
  const found = roots.map((r) => candidate(r.shape, r.pa, r.sum));
  const byRank = (a: Candidate, b: Candidate): number =>
    Number(b.strong) - Number(a.strong) || b.score - a.score || (a.rootPa < b.rootPa ? -1 : a.rootPa > b.rootPa ? 1 : 0);
  found.sort(byRank);
  // A table inside a better strong candidate's tree is a part of that tree, not a second root.
  const inTree = new Set<number>();
  for (let i = 0; i < found.length; i++) {
    const c = found[i] as Candidate;
    if (!c.strong) break;
    const pa = Number(c.rootPa);
    if (inTree.has(pa - (pa % 4096))) {
      found[i] = { ...c, strong: false, missing: ["a table inside the tree of a better candidate"] };
      continue;
    }
    const s = sh.find((x) => x.preset.name === c.preset) as Shape;
    const ev = evidence.get(s.formatKey) as TreeEvidence;
    ev.collectTables(pa, c.startLevel, s.rootEntries, inTree);
  }
  found.sort(byRank);
  let nodes = 0;
  for (const ev of evidence.values()) nodes += ev.distinctNodes;
  return {
    candidates: found,
    framesScanned: frames.length,
    dataBytes: frames.length * 4096,
    rootsTried: tried,
    rootsPassed: passed,
    nodesRead: nodes,
    formats: sh.map((s) => s.preset.name),
  };
}
