/**
 * Random jobs for the regimes beyond the EL1&0 stage 1 (issue 12), built on generate.ts's stage-1
 * tables:
 *  - "el2": the EL2 regime (HCR_EL2.E2H=0): TCR_EL2 in its own layout, TTBR0_EL2 only, AT S1E2R/W;
 *  - "el20": the EL2&0 regime (E2H=TGE=1): TCR_EL2 in the TCR_EL1 layout, TTBR0/1_EL2, AT S1E2R/W
 *    and AT S1E0R/W (EL0 of EL2&0);
 *  - "s12": two stages (HCR_EL2.VM=1, random FWB/PTW): the stage-1 tables and leaves become IPAs,
 *    a random VTCR_EL2 geometry (every granule, concatenated start tables, start levels, IPA sizes,
 *    PS, DS, HA/HD) maps them; AT S12E1R/W, S12E0R/W.
 * The EL2-regime jobs map the harness trampoline page VA = PA (generate.ts GenOptions.trampoline).
 *
 * Not generated, beyond what generate.ts leaves out: stage-2 MemAttr 0b0x00 with FWB=0 (reserved
 * inner cacheability: CONSTRAINED UNPREDICTABLE), the FWB encoding 100 (reserved in the Arm ARM),
 * stage-2 descriptors with nT or misprogrammed contiguous groups, VTCR_EL2 T0SZ above the maximum
 * (IMPDEF fault or clamp), stage-1 table IPAs mapped by stage 2 anywhere but VA = PA, the arena
 * or unmapped PA space (a walk reading the harness's own memory would differ from vmsa's model),
 * and the queries QEMU 10.0 aborts on (compare.ts DEVIATIONS_S2.atS2PermAbort).
 */
import { type DescriptorFormat, descriptorFormat } from "../arch/descriptor.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, type Granule, levelShift } from "../arch/granule.js";
import { HCR_CD, HCR_DC, HCR_E2H, HCR_FWB, HCR_PTW, HCR_TGE, HCR_VM } from "../arch/hcr.js";
import { decodeTcr, FEATURES_MAX, PA_SIZE_BITS, type Regs } from "../arch/registers.js";
import { encodeStage2Leaf, encodeStage2Table } from "../arch/stage2-descriptor.js";
import { decodeVtcr, stage2Config } from "../arch/vtcr.js";
import { type TranslationResult, Walker } from "../walk/walker.js";
import { HARNESS_ACCESS } from "./compare.js";
import { chunksOf, type GenCase, type GenOptions, generateCase } from "./generate.js";
import type { HarnessOp, JobRegs, Query } from "./jobfile.js";
import { ARENA_END, TRAMP_BASE, UNMAPPED_BASE } from "./layout.js";
import type { Rng } from "./rng.js";

export type RegimeKind = "el2" | "el20" | "s12";

export interface RegimeGenOptions {
  readonly regime: RegimeKind;
  /** Random paths per TTBR half (each gives 1-4 AT queries). */
  readonly pathsPerHalf?: number;
  /**
   * Permission indirection: EL2/EL2&0 jobs get TCR2_EL2.PIE with PIR_EL2/PIRE0_EL2 (Linux's or
   * random values, GenOptions.pie); two-stage jobs get VTCR_EL2.S2PIE (mostly) with a random
   * S2PIR_EL2 and random DBM bits (PIIndex[1]) on stage-2 leaves.
   */
  readonly pie?: GenOptions["pie"];
  /**
   * Two stages: DBM bits on final-IPA stage-2 leaves without S2PIE too (with VTCR_EL2.HA=HD=1 an
   * AT write there is allowed, ASL AArch64.S2ApplyOutputPerms). Only for QEMU < 10.1, whose AT
   * still prepares the dirty update: 10.1+ answers those writes with a stage-2 Permission fault
   * (compare.ts DEVIATIONS.atDbmNotWritable) and then aborts (DEVIATIONS.atS12PermissionAbort).
   */
  readonly s2DbmWithoutPie?: boolean;
}

/** SCTLR_EL2 RES1 bits with E2H=0 (4, 5, 11, 16, 18, 22, 23, 28, 29) and M=1. */
const SCTLR_EL2_BASE = 0x30c5_0831n;
/** SCTLR_EL2 with E2H=1 takes the SCTLR_EL1 layout: RES1 29, 28, 23, 22, 20, 11 and M=1. */
const SCTLR_EL20_BASE = 0x30d0_0801n;
const WXN = 1n << 19n;

/**
 * A TCR_EL1-layout value's TTBR0 settings in the E2H=0 TCR_EL2 layout (vmsa-regimes.md §2.1):
 * T0SZ/IRGN0/ORGN0/SH0/TG0 stay, IPS -> PS[18:16], TBI0 -> [20], HA -> [21], HD -> [22], HPD0 -> [24],
 * TBID0 -> [29], DS -> [32]; RES1 bits 23 and 31.
 */
export function tcrEl2FromEl1Layout(tcr: bigint): bigint {
  const t = decodeTcr(tcr);
  let v = (tcr & 0xff3fn) | (BigInt(t.ips) << 16n) | (1n << 23n) | (1n << 31n);
  if (t.t0.tbi) v |= 1n << 20n;
  if (t.ha) v |= 1n << 21n;
  if (t.hd) v |= 1n << 22n;
  if (t.t0.hpd) v |= 1n << 24n;
  if (t.t0.tbid) v |= 1n << 29n;
  if (t.ds) v |= 1n << 32n;
  return v;
}

const EL1_TO_EL2_OP: Partial<Record<HarnessOp, HarnessOp>> = { S1E1R: "S1E2R", S1E1W: "S1E2W" };
const EL1_TO_EL20_OP: Partial<Record<HarnessOp, HarnessOp>> = {
  S1E1R: "S1E2R",
  S1E1W: "S1E2W",
  S1E0R: "EL20-S1E0R",
  S1E0W: "EL20-S1E0W",
};
const EL1_TO_S12_OP: Partial<Record<HarnessOp, HarnessOp>> = { S1E1R: "S12E1R", S1E1W: "S12E1W", S1E0R: "S12E0R", S1E0W: "S12E0W" };

function mapQueries(qs: readonly Query[], m: Partial<Record<HarnessOp, HarnessOp>>): Query[] {
  const out: Query[] = [];
  for (const q of qs) {
    const op = m[q.op];
    if (op !== undefined) out.push({ va: q.va, op });
  }
  return out;
}

export function generateRegimeCase(rng: Rng, id: string, o: RegimeGenOptions): GenCase {
  if (o.regime === "s12") return generateTwoStageCase(rng, id, o);
  // No overlays at EL2 (QEMU has no FEAT_S1POE; POR_EL2 is not programmed).
  const pie = o.pie ? { ...o.pie, poe: false } : undefined;
  const base = generateCase(rng, id, { pathsPerHalf: o.pathsPerHalf ?? 10, trampoline: TRAMP_BASE, pie });
  // The trampoline page (PIIndex 0: AP=10, no XN, no DBM) must stay executable at EL2 under PIE:
  // PIR_EL2[0] an R+X value, and PIRE0_EL2[0] without W or GCS (else neither level gets access).
  const r =
    base.regs.tcr2 !== undefined
      ? {
          ...base.regs,
          pir: ((base.regs.pir ?? 0n) & ~0xfn) | BigInt(rng.pick([0b0011, 0b0111, 0b1010, 0b1110])),
          pire0: ((base.regs.pire0 ?? 0n) & ~0xfn) | BigInt(rng.pick([0b0000, 0b0001, 0b0010, 0b0011, 0b1000, 0b1010])),
        }
      : base.regs;
  const vhe = o.regime === "el20";
  const sctlrEl2 = (vhe ? SCTLR_EL20_BASE : SCTLR_EL2_BASE) | (rng.chance(0.2) ? WXN : 0n);
  const tcrEl2 = vhe ? r.tcr : tcrEl2FromEl1Layout(r.tcr);
  const regs: Regs = { ...r, ttbr1: vhe ? r.ttbr1 : 0n, tcr: tcrEl2, sctlr: sctlrEl2, regime: o.regime };
  const jobRegs: JobRegs = {
    ttbr0: 0n,
    ttbr1: 0n,
    tcr: 0n,
    mair: 0n,
    sctlr: 0n,
    hcr: vhe ? HCR_E2H | HCR_TGE : 0n,
    ttbr0El2: r.ttbr0,
    ...(vhe ? { ttbr1El2: r.ttbr1 } : {}),
    tcrEl2,
    mairEl2: r.mair,
    sctlrEl2,
    // TCR2_EL2/PIR_EL2/PIRE0_EL2 (the walker reads Regs.tcr2/pir/pire0 as these in an EL2 regime).
    ...(r.tcr2 !== undefined ? { tcr2El2: r.tcr2, pirEl2: r.pir, pire0El2: r.pire0 } : {}),
  };
  const queries = mapQueries(base.job.queries, vhe ? EL1_TO_EL20_OP : EL1_TO_EL2_OP);
  return { ...base, regs, job: { regs: jobRegs, chunks: base.job.chunks, queries } };
}

const GRANULES: readonly Granule[] = [GRANULE_4K, GRANULE_16K, GRANULE_64K];
/** Stage-2 tables live at the top of the arena, away from generate.ts's stage-1 tables. */
const S2_ARENA = 0x7800_0000n;

interface S2Plan {
  readonly vtcr: bigint;
  readonly granule: Granule;
  readonly ipaBits: number;
  readonly paBits: number;
  readonly startLevel: number;
  readonly ds: boolean;
  readonly valid: boolean;
}

/** A random VTCR_EL2: a legal (T0SZ, SL0) pair for a random granule most of the time. */
function pickVtcr(rng: Rng): S2Plan {
  const granule = rng.pick(GRANULES);
  const tg0 = granule.size === 4096 ? 0n : granule.size === 65536 ? 1n : 2n;
  const ds = granule.size !== 65536 && rng.chance(0.2);
  const ps = rng.chance(0.5) ? 5 : rng.chance(0.3) ? 2 : rng.int(7);
  const ha = rng.chance(0.25);
  const hd = ha && rng.chance(0.5);
  const sh0 = BigInt(rng.pick([0, 2, 3]));
  const make = (t0sz: number, sl0: number, sl2: boolean): bigint => {
    let v = BigInt(t0sz) | (BigInt(sl0) << 6n) | (1n << 8n) | (1n << 10n) | (sh0 << 12n) | (tg0 << 14n) | (BigInt(ps) << 16n) | (1n << 31n);
    if (ha) v |= 1n << 21n;
    if (hd) v |= 1n << 22n;
    if (ds) v |= 1n << 32n;
    if (sl2) v |= 1n << 33n;
    return v;
  };
  const f = FEATURES_MAX;
  // Collect the legal (T0SZ, SL0, SL2) settings; T0SZ above the maximum is left out (IMPDEF).
  const legal: bigint[] = [];
  const belowMin: bigint[] = [];
  for (let t0sz = 8; t0sz <= 48; t0sz++) {
    for (let sl0 = 0; sl0 < 4; sl0++) {
      for (const sl2 of granule.size === 4096 && ds ? [false, true] : [false]) {
        const v = make(t0sz, sl0, sl2);
        const c = stage2Config(decodeVtcr(v), f);
        if (c.kind === "ok") legal.push(v);
        else if (c.reason === "t0sz-below-min" || c.reason === "sl-inconsistent" || c.reason === "sl-invalid") belowMin.push(v);
      }
    }
  }
  // Prefer IPA sizes that reach the arena (31 bits and more) so most walks get somewhere.
  const reaching = legal.filter((v) => 64 - Number(v & 63n) >= 32);
  const vtcr = rng.chance(0.06) ? rng.pick(belowMin) : rng.pick(reaching.length > 0 && rng.chance(0.9) ? reaching : legal);
  const c = stage2Config(decodeVtcr(vtcr), f);
  return {
    vtcr,
    granule,
    ipaBits: 64 - Number(vtcr & 63n),
    paBits: c.kind === "ok" ? c.paBits : 48,
    startLevel: c.kind === "ok" ? c.startLevel : 0,
    ds: c.kind === "ok" ? c.ds : false,
    valid: c.kind === "ok",
  };
}

/** A stage-2 table tree writer over the case's memory (start tables concatenated as VTCR says). */
class S2Tree {
  readonly fmt: DescriptorFormat;
  readonly root: bigint;
  private next: bigint;
  /** Leaf coverage: [base, end) ranges already mapped by a leaf. */
  private readonly leaves: { base: bigint; end: bigint }[] = [];
  constructor(
    private readonly rng: Rng,
    private readonly mem: GenCase["mem"],
    readonly plan: S2Plan,
  ) {
    this.fmt = descriptorFormat(plan.granule, { ds: plan.ds, oaBits: plan.ds ? 52 : plan.paBits, paMaxBits: plan.paBits });
    const startBits = plan.ipaBits - levelShift(plan.granule, plan.startLevel);
    const size = BigInt(Math.max(8 * 2 ** startBits, 64));
    const align = size > 0x1_0000n ? size : 0x1_0000n;
    this.root = (S2_ARENA + align - 1n) & ~(align - 1n);
    this.next = this.root + align;
  }
  private alloc(): bigint {
    const pa = this.next;
    this.next += 0x1_0000n;
    if (this.next > ARENA_END) throw new RangeError("stage-2 arena exhausted");
    return pa;
  }
  private bits(level: number): number {
    const g = this.plan.granule;
    return level === this.plan.startLevel ? this.plan.ipaBits - levelShift(g, level) : g.stride;
  }
  covered(ipa: bigint): boolean {
    return this.leaves.some((l) => ipa >= l.base && ipa < l.end);
  }
  overlaps(base: bigint, end: bigint): boolean {
    return this.leaves.some((l) => base < l.end && l.base < end);
  }
  /** The slot for `ipa` at `level`, creating tables on the way; undefined when a leaf above covers it. */
  slot(ipa: bigint, level: number): bigint | undefined {
    const g = this.plan.granule;
    if (level < this.plan.startLevel || level > 3) return undefined;
    let table = this.root;
    for (let l = this.plan.startLevel; ; l++) {
      const idx = (ipa >> BigInt(levelShift(g, l))) & ((1n << BigInt(this.bits(l))) - 1n);
      const da = table + idx * 8n;
      if (l === level) return da;
      const cur = this.mem.read64(da) ?? 0n;
      if ((cur & 3n) === 3n) {
        table = this.tables.get(da) ?? 0n;
        if (table === 0n) return undefined; // a deliberately bad table pointer
        continue;
      }
      if ((cur & 1n) === 1n) return undefined;
      const t = this.alloc();
      this.mem.zero(t, g.size);
      this.mem.write64(da, encodeStage2Table(t, this.fmt));
      this.tables.set(da, t);
      table = t;
    }
  }
  private readonly tables = new Map<bigint, bigint>();
  /** Levels a leaf may sit at for this granule (blocks where the format allows them, pages at 3). */
  leafLevels(): number[] {
    const g = this.plan.granule;
    const out: number[] = [3];
    for (let l = Math.max(this.plan.startLevel, 1); l < 3; l++) {
      const s = levelShift(g, l);
      // 4K: L1 and L2 blocks; 16K: L2 (L1 with DS); 64K: L2 (L1 with 52-bit PA).
      if (
        g.size === 4096 ||
        (g.size === 16384 && (l === 2 || this.plan.ds)) ||
        (g.size === 65536 && (l === 2 || this.plan.paBits === 52))
      ) {
        if (s < this.plan.ipaBits) out.push(l);
      }
    }
    return out;
  }
  /** Write a leaf for `ipa` at `level` with OA `oa` (aligned down), recording its coverage. */
  leaf(
    ipa: bigint,
    level: number,
    oa: bigint,
    attrs: { s2ap: number; memAttr: number; af: boolean; xn: number; sh: number; dbm?: boolean },
  ): boolean {
    const size = 1n << BigInt(levelShift(this.plan.granule, level));
    const base = ipa & ~(size - 1n);
    if (this.overlaps(base, base + size)) return false;
    const da = this.slot(ipa, level);
    if (da === undefined) return false;
    const cur = this.mem.read64(da) ?? 0n;
    if ((cur & 1n) === 1n) return false;
    this.mem.write64(da, encodeStage2Leaf({ oa: oa & ~(size - 1n), ...attrs, sh: this.plan.ds ? 0 : attrs.sh }, level, this.fmt));
    this.leaves.push({ base, end: base + size });
    return true;
  }
  /** Point the slot for `ipa` at `level` (< 3) at unmapped PA space: the stage-2 walk takes an external abort. */
  badTable(ipa: bigint, level: number): void {
    const da = this.slot(ipa, level);
    if (da === undefined || ((this.mem.read64(da) ?? 0n) & 1n) === 1n) return;
    const g = this.plan.granule;
    this.mem.write64(da, encodeStage2Table(UNMAPPED_BASE + BigInt(this.rng.int(0x1000)) * BigInt(g.size), this.fmt));
  }
}

/** A stage-2 Permission fault on the final IPA of a two-stage walk (not on a stage-1 table read). */
export function isS12FinalPermissionFault(r: TranslationResult): boolean {
  return r.kind === "fault" && r.stage === 2 && r.s1ptw === false && r.fault === "permission";
}

/** Random stage-2 MemAttr without the reserved encodings (FWB=0: inner 00 with outer != 00; FWB=1: 100). */
function randomMemAttr(rng: Rng, fwb: boolean): number {
  if (fwb) return rng.pick([0, 1, 2, 3, 5, 6, 7, 7, 6]);
  const outer = rng.int(4);
  if (outer === 0) return rng.int(4);
  return (outer << 2) | rng.range(1, 3);
}

const VTCR_S2PIE = 1n << 36n;

/**
 * A random S2PIR_EL2. With TCR_EL1.HA=1 QEMU's AT sets stage-1 AF flags, a write to the table page
 * that needs stage-2 write permission (see tableS2ap): the indices table pages can have (DBM clear:
 * PIIndex[1] = 0) then grant read and write together or nothing.
 */
function randomS2pir(rng: Rng, s1Ha: boolean): bigint {
  let v = 0n;
  for (let n = 0; n < 16; n++) {
    const f = s1Ha && (n & 2) === 0 ? rng.pick([0b0000, 0b1100, 0b1101, 0b1110, 0b1111]) : rng.int(16);
    v |= BigInt(f) << BigInt(4 * n);
  }
  return v;
}

function generateTwoStageCase(rng: Rng, id: string, o: RegimeGenOptions): GenCase {
  const plan0 = pickVtcr(rng);
  const s2pie = o.pie !== undefined && rng.chance(0.75);
  const plan = s2pie ? { ...plan0, vtcr: plan0.vtcr | VTCR_S2PIE } : plan0;
  // Stage-1 output sizes mostly within the IPA size, so final IPAs reach stage 2.
  const fits = PA_SIZE_BITS.filter((b) => b <= plan.ipaBits);
  const ips = fits.length > 0 && rng.chance(0.8) ? rng.pick(fits) : rng.pick(PA_SIZE_BITS);
  const base = generateCase(rng, id, { pathsPerHalf: o.pathsPerHalf ?? 10, ipsBits: ips });
  const fwb = rng.chance(0.3);
  const ptw = rng.chance(0.3);
  // HCR_EL2.CD: stage-2 Normal data accesses Non-cacheable (ASL AArch64.S2Translate). HCR_EL2.DC:
  // stage 1 treated as disabled (IPA = VA, Normal WB attributes), with the stage-1-disabled
  // address-size check over VA[AddrTop:PAMax] (TCR_EL1.TBIn applies; ASL AArch64.S1DisabledOutput).
  const cd = rng.chance(0.15);
  const dc = rng.chance(0.1);
  const hcr = HCR_VM | (fwb ? HCR_FWB : 0n) | (ptw ? HCR_PTW : 0n) | (cd ? HCR_CD : 0n) | (dc ? HCR_DC : 0n);
  const mem = base.mem;
  const tree = new S2Tree(rng, mem, plan);
  const s1 = new Walker(mem, base.regs);
  const queries = mapQueries(base.job.queries, EL1_TO_S12_OP);
  // With TCR_EL1.HA=1 QEMU's AT sets a stage-1 AF=0 descriptor's AF (whether AT updates AF is
  // IMPLEMENTATION DEFINED; vmsa models no update), which needs stage-2 write permission on the
  // table page: readable table pages are then writable too, so both choices give the same PAR.
  const s1Ha = decodeTcr(base.regs.tcr).ha;
  const tableS2ap = (): number => {
    const ap = rng.chance(0.85) ? 1 | (rng.chance(0.5) ? 2 : 0) : rng.int(4);
    return s1Ha && (ap & 1) !== 0 ? 3 : ap;
  };
  const goodAttrs = (): { s2ap: number; memAttr: number; af: boolean; xn: number; sh: number } => ({
    s2ap: tableS2ap(),
    memAttr: rng.chance(0.8) ? (fwb ? 7 : 15) : randomMemAttr(rng, fwb),
    af: rng.chance(0.92),
    xn: rng.int(4),
    sh: rng.pick([0, 2, 3]),
  });
  if (plan.valid) {
    // Stage-1 table pages: VA = PA at a random level (or left unmapped / behind a bad table pointer).
    const tablePages = new Set<bigint>();
    for (const q of queries) {
      const r = s1.translate(q.va, HARNESS_ACCESS[q.op]);
      for (const t of r.trail) tablePages.add(t.address & ~0xfffn);
    }
    for (const p of tablePages) {
      if (tree.covered(p) || p >= 1n << BigInt(plan.ipaBits)) continue;
      const k = rng.weighted({ map: 90, none: 6, bad: 4 });
      if (k === "none") continue;
      const levels = tree.leafLevels();
      if (k === "bad") {
        const l = levels.filter((x) => x < 3);
        if (l.length > 0) tree.badTable(p, rng.pick(l));
        continue;
      }
      // A block only where VA = PA keeps every covered table page at its own address.
      if (!tree.leaf(p, rng.pick(levels), p, goodAttrs())) tree.leaf(p, 3, p, goodAttrs());
    }
    // Final IPAs: random PAs (some beyond PS), random permissions and attributes.
    for (const q of queries) {
      const r = s1.translate(q.va, HARNESS_ACCESS[q.op]);
      if (r.kind !== "ok" || tree.covered(r.pa) || r.pa >= 1n << BigInt(plan.ipaBits) || rng.chance(0.05)) continue;
      const level = rng.pick(tree.leafLevels());
      const paTop = Math.min(plan.paBits, plan.ds ? 52 : 48);
      const beyond = rng.chance(0.08) && plan.paBits < 48;
      const oa = beyond ? (1n << BigInt(rng.range(plan.paBits, 47))) | rng.bits(plan.paBits) : rng.bits(paTop);
      const attrs = {
        s2ap: rng.int(4),
        memAttr: randomMemAttr(rng, fwb),
        af: rng.chance(0.85),
        xn: rng.int(4),
        sh: rng.pick([0, 2, 3]),
        // PIIndex[1] under S2PIE; without it, DBM only where QEMU's AT honours it (s2DbmWithoutPie).
        ...(s2pie || o.s2DbmWithoutPie ? { dbm: rng.chance(0.5) } : {}),
      };
      tree.leaf(r.pa, level, oa, attrs);
    }
  }
  const s2pir = o.pie !== undefined ? randomS2pir(rng, s1Ha) : undefined;
  const regs: Regs = {
    ...base.regs,
    hcr,
    vtcr: plan.vtcr,
    vttbr: tree.root | (rng.bits(8) << 48n),
    ...(s2pir !== undefined ? { s2pir } : {}),
  };
  const jobRegs: JobRegs = { ...base.job.regs, hcr, vtcr: regs.vtcr, vttbr: regs.vttbr, ...(s2pir !== undefined ? { s2pir } : {}) };
  // QEMU (10.0 .. at least 2026-01) aborts on an AT S12E* whose final IPA takes a stage-2
  // Permission fault (compare.ts DEVIATIONS.atS12PermissionAbort): those queries are not run.
  const two = new Walker(mem, regs);
  const kept = queries.filter((q) => !isS12FinalPermissionFault(two.translate(q.va, HARNESS_ACCESS[q.op])));
  return { ...base, regs, job: { regs: jobRegs, chunks: chunksOf(mem), queries: kept }, excluded: queries.length - kept.length };
}
