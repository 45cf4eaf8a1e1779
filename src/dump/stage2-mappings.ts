/**
 * The mappings of a stage-2 IPA space as runs (for `vmsa dump --stage 2 --format json`): leaves
 * coalesced while the IPA and the output address continue and every attribute bit is equal, from
 * the one range walker (walkEntries over the stage-2 geometry), plus the tables the input lacks
 * and the shared subtrees (walked once: the work is bounded by the distinct tables).
 */
import { decodeStage2Descriptor } from "../arch/stage2-descriptor.js";
import type { PhysMem } from "../mem/physmem.js";
import type { WalkContext } from "../walk/context.js";
import { leafOutputAddress } from "../walk/fields.js";
import { leafPermissions, PERM_PR, PERM_PW, PERM_PX, PERM_UX } from "../walk/permissions.js";
import { walkEntries } from "../walk/range.js";
import { stage2Geometry } from "../walk/stage2-range.js";

export interface Stage2Run {
  readonly ipa: bigint;
  readonly pa: bigint;
  readonly size: bigint;
  readonly level: number;
  readonly read: boolean;
  readonly write: boolean;
  readonly el1Exec: boolean;
  readonly el0Exec: boolean;
  readonly af: boolean;
  /** Stage-2 MemAttr decoded (with or without HCR_EL2.FWB). */
  readonly memType: string;
  /** SH[1:0] (undefined under DS, where the bits are OA[51:50]). */
  readonly sh: number | undefined;
  /** Bits [58:55], ignored by the hardware: software bits (pKVM keeps its page state in 55/56). */
  readonly sw: number;
  /** The first descriptor of the run. */
  readonly descriptor: bigint;
}

/**
 * A run of equal invalid entries that are not zero: the hardware ignores them, software keeps
 * notes there (pKVM's host stage 2 records the owner of a page in bits [9:2]).
 */
export interface Stage2InvalidRun {
  readonly ipa: bigint;
  readonly size: bigint;
  readonly level: number;
  readonly descriptor: bigint;
}

/** A run of coalesced leaves in numeric form: IPA, output address, size, level, the first descriptor's halves. */
export interface Stage2LeafRun {
  ipa: number;
  pa: number;
  end: number;
  level: number;
  hi: number;
  lo: number;
}

/** stage2Mappings with its runs in numeric form (listed or not: see stage2RunOf). */
export interface Stage2LeafRunReport extends Omit<Stage2MappingReport, "runs"> {
  readonly runs: readonly Stage2LeafRun[];
}

/** perEntry: visit leaf by leaf, not by leaf runs (the same report; the reference the runs are tested against). */
export interface Stage2MappingOptions {
  readonly perEntry?: boolean;
}

export interface Stage2MappingReport {
  readonly runs: readonly Stage2Run[];
  readonly invalid: readonly Stage2InvalidRun[];
  readonly missing: readonly { readonly ipa: bigint; readonly size: bigint; readonly level: number; readonly table: bigint }[];
  /** Table descriptors naming a table already walked at another IPA (its runs are listed there only). */
  readonly shared: readonly { readonly ipa: bigint; readonly size: bigint; readonly table: bigint; readonly sameAsIpa: bigint }[];
}

/** Attribute bits compared when coalescing: everything but the output address (lo [11:0], hi [63:50]). */
const ATTR_LO = 0xfff;
const ATTR_HI = 0xfffc0000;

/** The run as listed, or undefined when its descriptor does not decode to a block or page. */
export function stage2RunOf(s2: WalkContext, r: Stage2LeafRun): Stage2Run | undefined {
  const g = stage2Geometry(s2);
  const opts = { fwb: s2.s2?.fwb ?? false, xnx: s2.s2?.xnx ?? true };
  const raw = (BigInt(r.hi >>> 0) << 32n) | BigInt(r.lo >>> 0);
  const d = decodeStage2Descriptor(g.fmt, r.level, raw, opts);
  if (d.kind !== "block" && d.kind !== "page") return undefined;
  // Permissions through the walk's permission stage (direct, or S2PIR_EL2 under S2PIE).
  const p = leafPermissions(s2, r.hi, r.lo, 0, 0, 0, false);
  return {
    ipa: BigInt(r.ipa),
    pa: BigInt(r.pa),
    size: BigInt(r.end - r.ipa),
    level: r.level,
    read: (p & PERM_PR) !== 0,
    write: (p & PERM_PW) !== 0,
    el1Exec: (p & PERM_PX) !== 0,
    el0Exec: (p & PERM_UX) !== 0,
    af: d.af,
    memType: d.memType.name,
    sh: d.sh,
    sw: d.sw,
    descriptor: raw,
  };
}

/** The runs of the IPA space, the invalid runs with notes, the missing tables and the shared subtrees. */
export function stage2Mappings(mem: PhysMem, s2: WalkContext, o: Stage2MappingOptions = {}): Stage2MappingReport {
  const r = stage2LeafRuns(mem, s2, o);
  const runs: Stage2Run[] = [];
  for (const x of r.runs) {
    const run = stage2RunOf(s2, x);
    if (run !== undefined) runs.push(run);
  }
  return { runs, invalid: r.invalid, missing: r.missing, shared: r.shared };
}

/**
 * stage2Mappings' walk, its runs left numeric (no bigint, decoded descriptor or object per run).
 * The walk goes by runs of leaves (range walk `runs`): a run keeps every attribute bit and advances
 * its output address with its IPA, so it always coalesces whole.
 */
export function stage2LeafRuns(mem: PhysMem, s2: WalkContext, o: Stage2MappingOptions = {}): Stage2LeafRunReport {
  const g = stage2Geometry(s2);
  const runs: Stage2LeafRun[] = [];
  const missing: { ipa: bigint; size: bigint; level: number; table: bigint }[] = [];
  const shared: { ipa: bigint; size: bigint; table: bigint; sameAsIpa: bigint }[] = [];
  const invalid: { ipa: bigint; size: bigint; level: number; descriptor: bigint }[] = [];
  let open: Stage2LeafRun | undefined;
  const close = (): void => {
    if (!open) return;
    runs.push(open);
    open = undefined;
  };
  walkEntries(
    mem,
    g,
    0,
    2 ** g.iaBits,
    (e) => {
      if (e.kind === "leaf") {
        const pa = leafOutputAddress(g, e.hi, e.lo, e.level);
        if (
          open &&
          open.end === e.off &&
          open.pa + (open.end - open.ipa) === pa &&
          open.level === e.level &&
          (open.lo & ATTR_LO) === (e.lo & ATTR_LO) &&
          (open.hi & ATTR_HI) === (e.hi & ATTR_HI)
        ) {
          open.end = e.off + e.size * e.count;
          return;
        }
        close();
        open = { ipa: e.off, pa, end: e.off + e.size * e.count, level: e.level, hi: e.hi, lo: e.lo };
        return;
      }
      close();
      if (e.kind === "hole" && (e.lo !== 0 || e.hi !== 0)) {
        const raw = (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
        const last = invalid[invalid.length - 1];
        if (last && last.descriptor === raw && last.level === e.level && last.ipa + last.size === BigInt(e.off))
          last.size += BigInt(e.size * e.count);
        else invalid.push({ ipa: BigInt(e.off), size: BigInt(e.size * e.count), level: e.level, descriptor: raw });
      } else if (e.kind === "unbacked") {
        const last = missing[missing.length - 1];
        if (last && last.table === BigInt(e.table) && last.ipa + last.size === BigInt(e.off)) last.size += BigInt(e.size);
        else missing.push({ ipa: BigInt(e.off), size: BigInt(e.size), level: e.level, table: BigInt(e.table) });
      } else if (e.kind === "shared") {
        shared.push({ ipa: BigInt(e.off), size: BigInt(e.size), table: BigInt(e.next), sameAsIpa: BigInt(e.firstOff) });
      }
    },
    { shared: true, runs: o.perEntry !== true },
  );
  close();
  return { runs, invalid, missing, shared };
}
