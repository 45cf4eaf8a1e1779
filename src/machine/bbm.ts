/**
 * The break-before-make rule table as a pure function (reference vmsa-rules.md §4.1 and §4.3;
 * Arm ARM DDI0487 "Using break-before-make when updating translation table entries", rules
 * RWHZWS/RPVTFW/RKHRBC as quoted there; Linux pgattr_change_is_safe for the practitioner view).
 *
 * `bbmRequirement(old, new, level, fmt, bbmLevel)` answers: may this live descriptor be
 * overwritten directly, or must it be broken (invalid, DSB, TLBI, DSB) first? Shared by the
 * machine checker and the dump-diff feature.
 */
import { addressFieldMask, type DescriptorFormat, ENTRY_INVALID, ENTRY_TABLE, entryKindOf } from "../arch/descriptor.js";
import { levelShift } from "../arch/granule.js";
import { mairByte, memoryClass } from "../arch/mair.js";

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
}

const AF = 1n << 10n;
const NG = 1n << 11n;
const NT = 1n << 16n;
const CONT = 1n << 52n;
const NS = 1n << 5n;
const AP2 = 1n << 7n;
/** Entry kind as the hardware decodes it for this format (arch entryKindOf). */
function kindOf(d: bigint, level: number, fmt: DescriptorFormat): "invalid" | "table" | "leaf" {
  const k = entryKindOf(fmt, Number(d & 0xffffffffn), level);
  return k === ENTRY_INVALID ? "invalid" : k === ENTRY_TABLE ? "table" : "leaf";
}

function mk(required: boolean, rule: BbmRuleId, reason: string, tlbiNeeded = true, conflictPossible = false): BbmRequirement {
  return { required, rule, reason, tlbiNeeded, conflictPossible };
}

/** Memory type comparison: same MAIR byte, or Normal with the same cacheability (Normal ↔ Normal-Tagged). */
function sameMemType(oldIdx: number, newIdx: number, mair: bigint | undefined): boolean {
  if (oldIdx === newIdx) return true;
  if (mair === undefined) return false;
  return memoryClass(mairByte(mair, oldIdx)) === memoryClass(mairByte(mair, newIdx));
}

/**
 * Whether replacing the live descriptor `oldDesc` by `newDesc` at `level` needs
 * break-before-make, at FEAT_BBM level `bbmLevel` (ID_AA64MMFR2_EL1.BBM: 0, 1, 2; 3 = no-abort).
 * `fmt` is the descriptor format of the tables (which bits hold the output address: with
 * FEAT_LPA2 OA[49:48] and OA[51:50] sit in bits [49:48] and [9:8], and [9:8] are no longer SH).
 * For table↔block changes only the pair is judged: the caller checks that the new subtable
 * maps the same OA and attributes (otherwise it is not a pure size change).
 */
export function bbmRequirement(
  oldDesc: bigint,
  newDesc: bigint,
  level: number,
  fmt: DescriptorFormat,
  bbmLevel: number,
  opts: BbmOptions = {},
): BbmRequirement {
  // Leaf OA bits below the entry size are RES0 / other fields (nT is bit 16 of a block).
  const OA_MASK = addressFieldMask(fmt, levelShift(fmt.granule, Math.min(level, 3)));
  const TABLE_MASK = addressFieldMask(fmt, fmt.granule.shift);
  const ok = kindOf(oldDesc, level, fmt);
  const nk = kindOf(newDesc, level, fmt);
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
  if (!fmt.ds && (diff & (3n << 8n)) !== 0n) return mk(true, "bbm.shareability", "shareability (SH) changes");
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
