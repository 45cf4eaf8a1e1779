/**
 * The read-only swap exemption: changing the output address of a live leaf needs
 * break-before-make only when at least one of the two mappings is writable or the memory at the
 * old and new output addresses differs (Arm ARM DDI0487 "Using break-before-make when updating
 * translation table entries", RWHZWS; vmsa-rules.md §4.1 item 4; herd aarch64bbm.cat
 * TTD-update-needsBBM: "OA change where one is writable or contents differ"). Such a swap (KSM
 * merging identical pages, a page-cache copy) is neither a BBM violation nor does the old entry
 * make a stale translation: both pages read the same.
 */
import { HI_DBM, LO_AP2 } from "../../arch/bits.js";
import type { PhysMem } from "../../mem/physmem.js";
import type { HalfContext } from "../../walk/context.js";
import { entryKind, leafOutputAddress } from "../../walk/fields.js";

/** Largest leaf whose contents are compared (a 2 MiB block); larger leaves count as differing. */
const MAX_COMPARE = 2 * 1024 * 1024;

/** Read-only: AP[2]=1, and not writable-clean (DBM=1 under TCR.HD, which hardware may make writable). */
function readOnly(hi: number, lo: number, hd: boolean): boolean {
  return (lo & LO_AP2) !== 0 && !(hd && (hi & HI_DBM) !== 0);
}

/**
 * Whether leaf ohi:olo → hi:lo at `level` is a swap between two read-only mappings of identical
 * contents (the output address may differ; every other field is judged by the BBM rule table).
 */
export function readOnlySwapOfEqualPages(
  mem: PhysMem,
  h: HalfContext,
  hd: boolean,
  ohi: number,
  olo: number,
  hi: number,
  lo: number,
  level: number,
): boolean {
  if (entryKind(h, olo, level) !== 2 || entryKind(h, lo, level) !== 2) return false;
  if (!readOnly(ohi, olo, hd) || !readOnly(hi, lo, hd)) return false;
  const size = 2 ** (h.shiftAt[level + 1] as number);
  if (size > MAX_COMPARE) return false;
  const a = leafOutputAddress(h, ohi, olo, level);
  const b = leafOutputAddress(h, hi, lo, level);
  if (a === b) return true;
  const x = mem.readBytes(BigInt(a), size);
  const y = mem.readBytes(BigInt(b), size);
  for (let i = 0; i < size; i++) if (x[i] !== y[i]) return false;
  return true;
}
