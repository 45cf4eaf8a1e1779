/**
 * The break-before-make rule table as a pure function (reference vmsa-rules.md §4.1 and §4.3;
 * Arm ARM DDI0487 "Using break-before-make when updating translation table entries", rules
 * RWHZWS/RPVTFW/RKHRBC as quoted there; Linux pgattr_change_is_safe for the practitioner view).
 *
 * `bbmRequirement(old, new, level, granule, bbmLevel)` answers: may this live descriptor be
 * overwritten directly, or must it be broken (invalid, DSB, TLBI, DSB) first? Shared by the
 * machine checker and the dump-diff feature.
 */
import { type Granule, type GranuleName, granuleByName, levelShift } from "../arch/granule.js";
import { decodeMairAttr } from "../arch/mair.js";

export type BbmRuleId =
  | "bbm.not-live"
  | "bbm.same"
  | "bbm.permissions"
  | "bbm.output-address"
  | "bbm.memory-type"
  | "bbm.shareability"
  | "bbm.non-global-to-global"
  | "bbm.ns"
  | "bbm.table-address"
  | "bbm.size-change"
  | "bbm.size-change-nT"
  | "bbm.size-change-allowed"
  | "bbm.contiguous"
  | "bbm.contiguous-allowed";

export interface BbmRequirement {
  /** Break-before-make is required: a direct valid→valid write is a violation. */
  readonly required: boolean;
  /** Which line of the rule table decided. */
  readonly rule: BbmRuleId;
  readonly reason: string;
  /** After a permitted direct change, TLB invalidation is still needed before relying on it. */
  readonly tlbiNeeded: boolean;
  /** The hardware may raise a TLB conflict abort until the old entry is invalidated. */
  readonly conflictPossible: boolean;
}

export interface BbmOptions {
  /** MAIR_EL1 value: lets AttrIndx changes that keep the same memory type pass. */
  readonly mair?: bigint;
  /** Hardware AF management (TCR.HA): entries with AF=0 may then be cached too. */
  readonly ha?: boolean;
  /** Both OAs hold identical contents (read-only remap exemption, §4.1 item 4). */
  readonly contentsEqual?: boolean;
  /** TCR.DS=1 descriptor format (bits [9:8] are OA bits, not SH). */
  readonly ds?: boolean;
}

const BIT_VALID = 1n;
const BIT_TABLE = 2n;
const AF = 1n << 10n;
const NG = 1n << 11n;
const NT = 1n << 16n;
const CONT = 1n << 52n;
const NS = 1n << 5n;
const AP2 = 1n << 7n;
/** Output / next-table address bits: [47:12], plus [49:48] and [9:8] with DS (FEAT_LPA2). */
function addrMask(ds: boolean): bigint {
  return ds ? 0x0003_ffff_ffff_f000n | (3n << 8n) : 0x0000_ffff_ffff_f000n;
}

function kindOf(d: bigint, level: number): "invalid" | "table" | "leaf" {
  if ((d & BIT_VALID) === 0n) return "invalid";
  if ((d & BIT_TABLE) !== 0n) return level === 3 ? "leaf" : "table";
  return level === 3 ? "invalid" : "leaf";
}

function mk(required: boolean, rule: BbmRuleId, reason: string, tlbiNeeded = true, conflictPossible = false): BbmRequirement {
  return { required, rule, reason, tlbiNeeded, conflictPossible };
}

/** Memory type comparison: same MAIR byte, or Normal with the same cacheability (Normal ↔ Normal-Tagged). */
function sameMemType(oldIdx: number, newIdx: number, mair: bigint | undefined): boolean {
  if (oldIdx === newIdx) return true;
  if (mair === undefined) return false;
  const a = decodeMairAttr(Number((mair >> BigInt(oldIdx * 8)) & 0xffn));
  const b = decodeMairAttr(Number((mair >> BigInt(newIdx * 8)) & 0xffn));
  if (a.kind === "normal" && b.kind === "normal") {
    return a.inner.policy === b.inner.policy && a.outer.policy === b.outer.policy;
  }
  return a.byte === b.byte;
}

/**
 * Whether replacing the live descriptor `oldDesc` by `newDesc` at `level` needs
 * break-before-make, at FEAT_BBM level `bbmLevel` (ID_AA64MMFR2_EL1.BBM: 0, 1, 2; 3 = no-abort).
 * For table↔block changes only the pair is judged: the caller checks that the new subtable
 * maps the same OA and attributes (otherwise it is not a pure size change).
 */
export function bbmRequirement(
  oldDesc: bigint,
  newDesc: bigint,
  level: number,
  granule: Granule | GranuleName,
  bbmLevel: number,
  opts: BbmOptions = {},
): BbmRequirement {
  const g = typeof granule === "string" ? granuleByName(granule) : granule;
  if (!g) throw new RangeError(`bbmRequirement: unknown granule ${String(granule)}`);
  // Leaf OA bits below the entry size are RES0 / other fields (nT is bit 16 of a block); with
  // 64K pages bits [15:12] carry OA[51:48].
  const hiOa = g.size === 65536 ? 0xf000n : 0n;
  const OA_MASK = (addrMask(opts.ds ?? false) & ~((1n << BigInt(levelShift(g, Math.min(level, 3)))) - 1n)) | hiOa;
  const TABLE_MASK = (addrMask(opts.ds ?? false) & ~BigInt(g.size - 1)) | hiOa;
  const ok = kindOf(oldDesc, level);
  const nk = kindOf(newDesc, level);
  if (ok === "invalid" || nk === "invalid") {
    return mk(false, "bbm.not-live", "an invalid entry is never cached: valid↔invalid writes need no break", ok !== "invalid");
  }
  if (oldDesc === newDesc) return mk(false, "bbm.same", "descriptor unchanged", false);
  if (ok === "leaf" && (oldDesc & AF) === 0n && !opts.ha) {
    return mk(false, "bbm.not-live", "old entry has AF=0 and cannot be held in a TLB", false);
  }
  if (ok === "table" && nk === "table") {
    if (((oldDesc ^ newDesc) & TABLE_MASK) !== 0n) {
      return mk(true, "bbm.table-address", "a live table descriptor is re-pointed: walk caches may hold the old next-level table");
    }
    return mk(false, "bbm.permissions", "only hierarchical attributes change: TLBI afterwards (make-then-flush)");
  }
  if (ok !== nk) {
    // Block ↔ table: the leaf size covering the range changes.
    const what = ok === "leaf" ? "a live block is split into a table" : "a live table is replaced by a block";
    if (bbmLevel >= 2) {
      return mk(false, "bbm.size-change-allowed", `${what}: allowed without break at FEAT_BBM level ${bbmLevel}`, true, bbmLevel < 3);
    }
    if (bbmLevel === 1) {
      const blk = ok === "leaf" ? oldDesc : newDesc;
      if ((blk & NT) !== 0n) {
        return mk(false, "bbm.size-change-allowed", `${what} with nT=1 on the block: allowed at FEAT_BBM level 1`, true, true);
      }
      return mk(true, "bbm.size-change-nT", `${what}: FEAT_BBM level 1 needs the block marked nT=1 (and invalidated) first`);
    }
    return mk(true, "bbm.size-change", `${what}: block size changes need break-before-make without FEAT_BBM`);
  }
  // leaf → leaf at the same level.
  const diff = oldDesc ^ newDesc;
  if ((diff & OA_MASK) !== 0n) {
    const bothRo = (oldDesc & AP2) !== 0n && (newDesc & AP2) !== 0n;
    if (!(bothRo && opts.contentsEqual)) {
      return mk(true, "bbm.output-address", "the output address changes");
    }
  }
  const oldIdx = Number((oldDesc >> 2n) & 7n);
  const newIdx = Number((newDesc >> 2n) & 7n);
  if (!sameMemType(oldIdx, newIdx, opts.mair)) {
    return mk(true, "bbm.memory-type", `memory type / cacheability changes (AttrIndx ${oldIdx} → ${newIdx})`);
  }
  if (!opts.ds && (diff & (3n << 8n)) !== 0n) return mk(true, "bbm.shareability", "shareability (SH) changes");
  if ((diff & NS) !== 0n) return mk(true, "bbm.ns", "the NS bit (output address space) changes");
  if ((oldDesc & NG) !== 0n && (newDesc & NG) === 0n) {
    return mk(true, "bbm.non-global-to-global", "non-global → global: the new global entry may overlap ASID-tagged entries");
  }
  if ((diff & CONT) !== 0n) {
    if (bbmLevel >= 1) {
      return mk(
        false,
        "bbm.contiguous-allowed",
        `only the Contiguous bit changes: allowed at FEAT_BBM level ${bbmLevel}`,
        true,
        bbmLevel < 3,
      );
    }
    return mk(true, "bbm.contiguous", "the Contiguous bit changes (the TLB entry size changes)");
  }
  return mk(false, "bbm.permissions", "only permission / AF / DBM / software bits change: TLBI afterwards (make-then-flush)");
}
