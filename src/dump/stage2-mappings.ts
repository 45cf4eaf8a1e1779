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

export function stage2Mappings(mem: PhysMem, s2: WalkContext): Stage2MappingReport {
  const g = stage2Geometry(s2);
  const opts = { fwb: s2.s2?.fwb ?? false, xnx: s2.s2?.xnx ?? true };
  const runs: Stage2Run[] = [];
  const missing: { ipa: bigint; size: bigint; level: number; table: bigint }[] = [];
  const shared: { ipa: bigint; size: bigint; table: bigint; sameAsIpa: bigint }[] = [];
  const invalid: { ipa: bigint; size: bigint; level: number; descriptor: bigint }[] = [];
  let open: { ipa: number; pa: number; end: number; level: number; hi: number; lo: number } | undefined;
  const close = (): void => {
    if (!open) return;
    const raw = (BigInt(open.hi >>> 0) << 32n) | BigInt(open.lo >>> 0);
    const d = decodeStage2Descriptor(g.fmt, open.level, raw, opts);
    if (d.kind === "block" || d.kind === "page") {
      // Permissions through the walk's permission stage (direct, or S2PIR_EL2 under S2PIE).
      const p = leafPermissions(s2, open.hi, open.lo, 0, 0, 0, false);
      runs.push({
        ipa: BigInt(open.ipa),
        pa: BigInt(open.pa),
        size: BigInt(open.end - open.ipa),
        level: open.level,
        read: (p & PERM_PR) !== 0,
        write: (p & PERM_PW) !== 0,
        el1Exec: (p & PERM_PX) !== 0,
        el0Exec: (p & PERM_UX) !== 0,
        af: d.af,
        memType: d.memType.name,
        sh: d.sh,
        sw: d.sw,
        descriptor: raw,
      });
    }
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
          open.end = e.off + e.size;
          return;
        }
        close();
        open = { ipa: e.off, pa, end: e.off + e.size, level: e.level, hi: e.hi, lo: e.lo };
        return;
      }
      close();
      if (e.kind === "hole" && (e.lo !== 0 || e.hi !== 0)) {
        const raw = (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
        const last = invalid[invalid.length - 1];
        if (last && last.descriptor === raw && last.level === e.level && last.ipa + last.size === BigInt(e.off))
          last.size += BigInt(e.size);
        else invalid.push({ ipa: BigInt(e.off), size: BigInt(e.size), level: e.level, descriptor: raw });
      } else if (e.kind === "unbacked") {
        const last = missing[missing.length - 1];
        if (last && last.table === BigInt(e.table) && last.ipa + last.size === BigInt(e.off)) last.size += BigInt(e.size);
        else missing.push({ ipa: BigInt(e.off), size: BigInt(e.size), level: e.level, table: BigInt(e.table) });
      } else if (e.kind === "shared") {
        shared.push({ ipa: BigInt(e.off), size: BigInt(e.size), table: BigInt(e.next), sameAsIpa: BigInt(e.firstOff) });
      }
    },
    { shared: true },
  );
  close();
  return { runs, invalid, missing, shared };
}
