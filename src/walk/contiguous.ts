/**
 * The contiguous-group rule (Arm ARM DDI0487 K.a D8.6.1 "The Contiguous bit" and the
 * "Misprogramming of the Contiguous bit" rules, quoted in vmsa-rules.md §3.2/§3.3; ASL
 * ContiguousSize): the one check used by the machine's checker and by `audit`.
 *
 * A contiguous group is the naturally aligned run of N entries in one table (N = 16, 32 or 128
 * by granule and level) that the TLB may cache as one entry. It is well formed when every entry
 * is a valid leaf with the Contiguous bit, the output addresses are consecutive from a base
 * aligned to N × entry size, and the entries agree in every attribute and permission, except:
 *
 * - the output address (checked for consecutiveness instead);
 * - AF (bit 10): the hardware Access-flag update may set it in only the entry it used, and an
 *   AF=0 entry is never cached, so differing AF is not a conflict (Linux gathers AF from every
 *   entry of a group for that reason, arch/arm64/mm/hugetlbpage.c);
 * - AP[2] (bit 7) when hardware dirty-state management is on (TCR.HD=1 with FEAT_HAFDBS) and both
 *   entries have DBM=1: AP[2] is then the per-entry dirty state the PE clears on the entry it
 *   wrote. Without HD, or with DBM=0, AP[2] is a permission and must match;
 * - bits that the hardware ignores: software bits [58:55] and bit 63 (IGNORED in stage-1 leaf
 *   descriptors of the EL1&0 regime), and RES0 bits inside the address field (audit reports
 *   those separately).
 *
 * Everything else (AttrIndx, NS, AP[1], AP[2] as above, SH, nG, nT on blocks, GP, DBM, PXN, UXN,
 * PBHA[62:59]) must be identical: a difference is misprogramming, after which a lookup may give
 * a TLB conflict abort or (without FEAT_BBM) an amalgamation of the entries.
 */
import { HI_CONT, HI_DBM, HI_GP, HI_PBHA, HI_PXN, HI_UXN, LO_AP1, LO_AP2, LO_ATTRINDX, LO_NG, LO_NS, LO_NT, LO_SH } from "../arch/bits.js";
import { ENTRY_LEAF, entryKindOf } from "../arch/descriptor.js";
import { formatSize } from "../arch/granule.js";
import type { PhysMem } from "../mem/physmem.js";
import type { HalfContext } from "./context.js";
import { leafOutputAddress } from "./fields.js";

/** Named attribute fields compared across a group, as (half, mask) pairs. */
const FIELDS: readonly { readonly name: string; readonly hi: boolean; readonly mask: number }[] = [
  { name: "AttrIndx", hi: false, mask: LO_ATTRINDX },
  { name: "NS", hi: false, mask: LO_NS },
  { name: "AP[1]", hi: false, mask: LO_AP1 },
  { name: "AP[2]", hi: false, mask: LO_AP2 },
  { name: "SH", hi: false, mask: LO_SH },
  { name: "nG", hi: false, mask: LO_NG },
  { name: "nT", hi: false, mask: LO_NT },
  { name: "GP", hi: true, mask: HI_GP },
  { name: "DBM", hi: true, mask: HI_DBM },
  { name: "PXN", hi: true, mask: HI_PXN },
  { name: "UXN", hi: true, mask: HI_UXN },
  { name: "PBHA", hi: true, mask: HI_PBHA },
];

export type ContiguousProblem =
  | { readonly kind: "missing"; readonly entry: number; readonly descAddr: number }
  | { readonly kind: "not-leaf"; readonly entry: number; readonly descAddr: number }
  | { readonly kind: "no-contiguous-bit"; readonly entry: number; readonly descAddr: number }
  | { readonly kind: "misaligned"; readonly oa: number; readonly groupBytes: number }
  | { readonly kind: "not-consecutive"; readonly entry: number; readonly oa: number; readonly expected: number }
  | { readonly kind: "attributes"; readonly entry: number; readonly reference: number; readonly fields: readonly string[] };

export interface ContiguousGroup {
  /** Entries in the group (N). */
  readonly entries: number;
  /** Physical address of the group's first descriptor. */
  readonly groupAddr: number;
  /** Bytes one entry maps, and the whole group. */
  readonly entrySize: number;
  readonly groupBytes: number;
  /** Output address the group's base maps (from the first valid leaf), if any. */
  readonly oaBase: number | undefined;
  /** Some valid leaf of the group carries the Contiguous bit (else the group is not one). */
  readonly anyContiguous: boolean;
  /** Descriptor values read, as text: tells one state of the group from another. */
  readonly signature: string;
  readonly problems: readonly ContiguousProblem[];
}

/** Entries at `level` of this half that the Contiguous bit groups (0: the bit is ignored there). */
export function contiguousGroupEntries(h: HalfContext, level: number): number {
  const s = h.contAt[level + 1] as number;
  return s === 0 ? 0 : 2 ** s;
}

/** Attribute fields in which two leaves of a group differ (see the header for what is exempt). */
export function contiguousAttributeDiff(
  h: HalfContext,
  hd: boolean,
  level: number,
  hiA: number,
  loA: number,
  hiB: number,
  loB: number,
): string[] {
  const out: string[] = [];
  const dirtyManaged = hd && (hiA & HI_DBM) !== 0 && (hiB & HI_DBM) !== 0;
  for (const f of FIELDS) {
    if (f.mask === LO_AP2 && dirtyManaged) continue;
    if (f.mask === LO_SH && h.ds) continue; // DS=1: bits [9:8] are OA[51:50]
    if (f.mask === LO_NT && level === 3) continue; // bit 16 is an OA bit of a page
    const a = f.hi ? hiA : loA;
    const b = f.hi ? hiB : loB;
    if (((a ^ b) & f.mask) !== 0) out.push(f.name);
  }
  return out;
}

/**
 * Check the contiguous group that holds the descriptor at `descAddr` (a leaf at `level` of half
 * `h`), reading its N descriptors from memory. `hd`: hardware dirty-state management is on
 * (WalkContext.hd). Undefined where the Contiguous bit is ignored at this level.
 */
export function checkContiguousGroup(
  mem: PhysMem,
  h: HalfContext,
  hd: boolean,
  level: number,
  descAddr: number,
): ContiguousGroup | undefined {
  const n = contiguousGroupEntries(h, level);
  if (n === 0) return undefined;
  const entrySize = 2 ** (h.shiftAt[level + 1] as number);
  const groupBytes = n * entrySize;
  const groupAddr = descAddr - (descAddr % (n * 8));
  const problems: ContiguousProblem[] = [];
  let signature = "";
  let any = false;
  let oaBase: number | undefined;
  let ref = -1;
  let refHi = 0;
  let refLo = 0;
  for (let i = 0; i < n; i++) {
    const da = groupAddr + i * 8;
    if (!mem.load64(da)) {
      signature += "-,";
      problems.push({ kind: "missing", entry: i, descAddr: da });
      continue;
    }
    const hi = mem.hi;
    const lo = mem.lo;
    signature += `${hi.toString(16)}:${lo.toString(16)},`;
    if (entryKindOf(h.fmt, lo, level) !== ENTRY_LEAF) {
      problems.push({ kind: "not-leaf", entry: i, descAddr: da });
      continue;
    }
    if ((hi & HI_CONT) === 0) {
      problems.push({ kind: "no-contiguous-bit", entry: i, descAddr: da });
      continue;
    }
    any = true;
    const oa = leafOutputAddress(h, hi, lo, level);
    if (oaBase === undefined) {
      oaBase = oa - i * entrySize;
      if (oaBase % groupBytes !== 0) problems.push({ kind: "misaligned", oa: oaBase, groupBytes });
    } else if (oa !== oaBase + i * entrySize) {
      problems.push({ kind: "not-consecutive", entry: i, oa, expected: oaBase + i * entrySize });
    }
    if (ref < 0) {
      ref = i;
      refHi = hi;
      refLo = lo;
      continue;
    }
    const fields = contiguousAttributeDiff(h, hd, level, refHi, refLo, hi, lo);
    if (fields.length > 0) problems.push({ kind: "attributes", entry: i, reference: ref, fields });
  }
  return { entries: n, groupAddr, entrySize, groupBytes, oaBase, anyContiguous: any, signature, problems };
}

/** One problem in words. */
export function describeContiguousProblem(p: ContiguousProblem, level: number): string {
  const hx = (v: number): string => `0x${v.toString(16)}`;
  switch (p.kind) {
    case "missing":
      return `entry ${p.entry} (${hx(p.descAddr)}) is not in memory`;
    case "not-leaf":
      return `entry ${p.entry} (${hx(p.descAddr)}) is not a valid ${level === 3 ? "page" : "block"}`;
    case "no-contiguous-bit":
      return `entry ${p.entry} lacks the contiguous bit`;
    case "misaligned":
      return `OA ${hx(p.oa)} not aligned to the ${formatSize(p.groupBytes)} group`;
    case "not-consecutive":
      return `entry ${p.entry} maps ${hx(p.oa)}, not ${hx(p.expected)}`;
    case "attributes":
      return `entry ${p.entry} differs from entry ${p.reference} in ${p.fields.join(", ")}`;
  }
}
