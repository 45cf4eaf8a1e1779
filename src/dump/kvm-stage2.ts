/**
 * KVM's stage-2 debugfs files (CONFIG_PTDUMP_STAGE2_DEBUGFS, arch/arm64/kvm/ptdump.c, Linux 6.10+),
 * byte for byte: /sys/kernel/debug/kvm/<pid>-<fd>/stage2_page_tables, ipa_range and stage2_levels.
 *
 * What the kernel does, and we replay over the tables in memory:
 * - kvm_pgtable_walk() over [0, 2^ia_bits) with KVM_PGTABLE_WALK_LEAF calls the visitor for every
 *   entry that is not a table (invalid ones too, at their own level, whatever bits they hold; at the
 *   last level every entry is a leaf), in IPA order, across the concatenated start tables;
 * - each visit goes to arm64 ptdump's note_page() with the KVM level number (0..3) as the level,
 *   whose names are the level numbers themselves ("1", "2", "3"), and masked attribute bits: valid
 *   (bit 0), table/page (bit 1), S2AP[0] read (bit 6), S2AP[1] write (bit 7), AF (bit 10) and
 *   XN[1] (bit 54; XN[0], bit 53, is not looked at);
 * - a line is printed when the masked bits or the level change; holes (no masked bit set) print
 *   the range, size and level only; the one marker is "Guest IPA", printed before the first line;
 * - there is no final flush (the stage-2 show never calls note_page with level -1): the run still
 *   open when the walk ends is never printed, e.g. the last hole up to 2^ia_bits;
 * - the parser state lives from open() to release(), not per show call, so when the text does not
 *   fit in seq_file's first page and show runs again (seq_read_iter doubles the buffer and
 *   retries), that pass starts from the state the previous pass ended in (KvmTextOptions.seqFile).
 * Columns of a line with bits set, each preceded by a space (set/clear per (bits & mask) == val),
 * Linux 6.12 to 6.18 (KvmTextOptions.era "linux-6.12", the default):
 *   " "/"F" valid; "R"/" " read; "W"/" " write; " "/"X" executable (X: XN[1] set, or invalid);
 *   "AF"/"  "; "BLK"/"   " (a block: valid with bit 1 clear).
 * Linux 6.19+ ("linux-6.19", FEAT_XNX): masks without the valid bit, and XN[1:0] as one of
 *   "px ux ", "PXNux ", "PXNUXN", "px UXN" (see COLUMNS_6_19).
 * ipa_range is `%2u\n` of the IPA size; stage2_levels is `%1d\n` of the number of levels walked.
 *
 * Lines of our own (never in the kernel's output): MISSING (a table the input does not hold),
 * SHARED (a table already shown at another IPA), BAD-TABLE (a table descriptor whose next-level
 * address is beyond the output size; the hardware faults, KVM never writes one).
 */
import type { PhysMem } from "../mem/physmem.js";
import { type RangeGeometry, walkEntries } from "../walk/range.js";
import { addr16, ptdumpRangeText } from "./ptdump.js";

/**
 * One column of a stage-2 line (kernel stage2_pte_bits[]): mask, value and the two strings, on
 * 32-bit halves. A column without `clear` prints nothing (not even its space) when it does not match.
 */
interface S2Column {
  readonly maskLo: number;
  readonly maskHi: number;
  readonly valLo: number;
  readonly valHi: number;
  readonly set: string;
  readonly clear?: string;
}

const VALID = 1;
const TABLE = 2;
const S2AP_R = 1 << 6;
const S2AP_W = 1 << 7;
const AF = 1 << 10;
/** XN[1], descriptor bit 54, in the high half. */
const XN_HI = 1 << 22;
/** XN[0], descriptor bit 53 (FEAT_XNX), in the high half. */
const XN0_HI = 1 << 21;

/** Linux 6.12 to 6.18: every mask includes the valid bit; one XN column from bit 54. */
const COLUMNS_6_12: readonly S2Column[] = [
  { maskLo: VALID, maskHi: 0, valLo: VALID, valHi: 0, set: " ", clear: "F" },
  { maskLo: S2AP_R | VALID, maskHi: 0, valLo: S2AP_R | VALID, valHi: 0, set: "R", clear: " " },
  { maskLo: S2AP_W | VALID, maskHi: 0, valLo: S2AP_W | VALID, valHi: 0, set: "W", clear: " " },
  { maskLo: VALID, maskHi: XN_HI, valLo: VALID, valHi: 0, set: " ", clear: "X" },
  { maskLo: AF | VALID, maskHi: 0, valLo: AF | VALID, valHi: 0, set: "AF", clear: "  " },
  { maskLo: TABLE | VALID, maskHi: 0, valLo: VALID, valHi: 0, set: "BLK", clear: "   " },
];

/**
 * Linux 6.19+ (commit "KVM: arm64: Teach ptdump about FEAT_XNX permissions", in the KVM/arm64
 * pull for 6.19): the masks no longer include the valid bit, and XN[1:0] (bits 54:53) prints as
 * exactly one of four tokens, privileged then unprivileged execute: "px ux " (00), "PXNux " (01),
 * "PXNUXN" (10), "px UXN" (11), with no "clear" string; BLK is bits[1:0] == 01.
 */
const COLUMNS_6_19: readonly S2Column[] = [
  { maskLo: VALID, maskHi: 0, valLo: VALID, valHi: 0, set: " ", clear: "F" },
  { maskLo: S2AP_R, maskHi: 0, valLo: S2AP_R, valHi: 0, set: "R", clear: " " },
  { maskLo: S2AP_W, maskHi: 0, valLo: S2AP_W, valHi: 0, set: "W", clear: " " },
  { maskLo: 0, maskHi: XN_HI | XN0_HI, valLo: 0, valHi: 0, set: "px ux " },
  { maskLo: 0, maskHi: XN_HI | XN0_HI, valLo: 0, valHi: XN0_HI, set: "PXNux " },
  { maskLo: 0, maskHi: XN_HI | XN0_HI, valLo: 0, valHi: XN_HI, set: "PXNUXN" },
  { maskLo: 0, maskHi: XN_HI | XN0_HI, valLo: 0, valHi: XN_HI | XN0_HI, set: "px UXN" },
  { maskLo: AF, maskHi: 0, valLo: AF, valHi: 0, set: "AF", clear: "  " },
  { maskLo: TABLE | VALID, maskHi: 0, valLo: VALID, valHi: 0, set: "BLK", clear: "   " },
];

/** Which kernel's stage2_page_tables columns to print (see COLUMNS_6_12 / COLUMNS_6_19). */
export type KvmPtdumpEra = "linux-6.12" | "linux-6.19";
export const KVM_PTDUMP_ERAS: readonly KvmPtdumpEra[] = ["linux-6.12", "linux-6.19"];

interface EraColumns {
  readonly columns: readonly S2Column[];
  /** The bits note_page() keeps of an entry (the union of the column masks). */
  readonly protLo: number;
  readonly protHi: number;
}

function eraColumns(columns: readonly S2Column[]): EraColumns {
  let protLo = 0;
  let protHi = 0;
  for (const c of columns) {
    protLo |= c.maskLo;
    protHi |= c.maskHi;
  }
  return { columns, protLo, protHi };
}

const ERAS: Readonly<Record<KvmPtdumpEra, EraColumns>> = {
  "linux-6.12": eraColumns(COLUMNS_6_12),
  "linux-6.19": eraColumns(COLUMNS_6_19),
};

/** The bits note_page() keeps of a stage-2 entry in the 6.12 format (the union of the column masks). */
export const KVM_S2_PROT_LO = VALID | TABLE | S2AP_R | S2AP_W | AF;
export const KVM_S2_PROT_HI = XN_HI;

function columns(era: EraColumns, lo: number, hi: number): string {
  let s = "";
  for (const c of era.columns) {
    const t = (lo & c.maskLo) === c.valLo && (hi & c.maskHi) === c.valHi ? c.set : c.clear;
    if (t !== undefined) s += ` ${t}`;
  }
  return s;
}

/** A stage-2 table the walk reached that the input does not hold. */
export interface KvmMissing {
  readonly ipa: bigint;
  readonly size: bigint;
  /** Level of the missing table. */
  readonly level: number;
  readonly table: bigint;
}

export interface KvmStage2Report {
  /** The stage2_page_tables text. */
  readonly text: string;
  readonly missing: readonly KvmMissing[];
  /** Table descriptors naming a table already shown (IPA of the descriptor's range). */
  readonly shared: readonly { readonly ipa: bigint; readonly size: bigint; readonly table: bigint; readonly sameAsIpa: bigint }[];
  /** Table descriptors with a next-level address beyond the output size (not walked). */
  readonly badTables: readonly { readonly ipa: bigint; readonly size: bigint; readonly level: number; readonly table: bigint }[];
}

/** `ipa_range`: the IPA size in bits, `%2u\n`. */
export function kvmIpaRangeText(g: Pick<RangeGeometry, "iaBits">): string {
  return `${String(g.iaBits).padStart(2, " ")}\n`;
}

/** `stage2_levels`: the number of levels from the start level to level 3, `%1d\n`. */
export function kvmStage2LevelsText(g: Pick<RangeGeometry, "startLevel">): string {
  return `${4 - g.startLevel}\n`;
}

/** note_page()'s state between calls: the open run. */
interface NoteState {
  readonly level: number;
  readonly protLo: number;
  readonly protHi: number;
  readonly start: number;
}

function sameState(a: NoteState, b: NoteState): boolean {
  return a.level === b.level && a.protLo === b.protLo && a.protHi === b.protHi && a.start === b.start;
}

/** The first buffer seq_file gives a show function (PAGE_SIZE; doubled on every retry). */
const SEQ_FIRST_BUFFER = 4096;

export interface KvmTextOptions {
  /**
   * Replay seq_file's retries (default true): a text that does not fit in one page is produced
   * again by a second call of the show function into a buffer twice as large (and so on), and
   * KVM's parser state is not reset between calls, so the file the kernel hands out is the last
   * pass, begun with the state the previous pass ended in: no `---[ Guest IPA ]---` header, and
   * its first line runs from the start of the previous pass's last (unprinted) run. False gives
   * one clean pass, what the kernel prints when the text fits in a page.
   */
  readonly seqFile?: boolean;
  /** The kernel whose columns to print (default linux-6.12: 6.12 to 6.18; linux-6.19: FEAT_XNX columns). */
  readonly era?: KvmPtdumpEra;
  /** The one address marker (default "Guest IPA", the kernel's). */
  readonly marker?: string;
  /** Walk leaf by leaf instead of by runs of leaves (the same text; the reference the runs are tested against). */
  readonly perEntry?: boolean;
}

/**
 * The stage2_page_tables text of the stage-2 tables in `mem` (see the module comment), as the
 * kernel's file reads (seq_file retries included unless `seqFile: false`).
 */
export function kvmStage2PageTables(
  mem: PhysMem,
  g: RangeGeometry,
  opts: KvmTextOptions = {},
): KvmStage2Report & { readonly passes: number } {
  const era = ERAS[opts.era ?? "linux-6.12"];
  const marker = opts.marker ?? "Guest IPA";
  const runs = opts.perEntry !== true;
  let r = kvmPass(mem, g, undefined, era, marker, runs);
  let passes = 1;
  if (opts.seqFile === false) return { ...r, passes };
  // seq_printf() only stores what leaves the total below the buffer size (seq_file.c seq_vprintf).
  // A pass is a function of the state it starts in: once a pass ends in the state it began in,
  // every later pass is the same pass again (not walked again, except leaf by leaf: the reference).
  let start: NoteState | undefined;
  for (let size = SEQ_FIRST_BUFFER; r.text.length >= size; size *= 2) {
    if (runs && start !== undefined && sameState(start, r.end)) {
      passes++;
      continue;
    }
    start = r.end;
    r = kvmPass(mem, g, r.end, era, marker, runs);
    passes++;
  }
  return { ...r, passes };
}

/** One call of KVM's show function: one walk, starting from `from` (undefined: a fresh parser). */
function kvmPass(
  mem: PhysMem,
  g: RangeGeometry,
  from: NoteState | undefined,
  era: EraColumns,
  marker: string,
  runs: boolean,
): KvmStage2Report & { readonly end: NoteState } {
  const out: string[] = [];
  const missing: KvmMissing[] = [];
  const shared: { ipa: bigint; size: bigint; table: bigint; sameAsIpa: bigint }[] = [];
  const badTables: { ipa: bigint; size: bigint; level: number; table: bigint }[] = [];
  // note_page state
  let stLevel = from?.level ?? -1;
  let protLo = from?.protLo ?? 0;
  let protHi = from?.protHi ?? 0;
  let stStart = from?.start ?? 0;
  let headed = from !== undefined;
  const header = (): void => {
    if (!headed) out.push(`---[ ${marker} ]---\n`);
    headed = true;
  };
  const line = (end: number): void => {
    let s = `${ptdumpRangeText(BigInt(stStart), BigInt(end))} ${stLevel}`;
    if (protLo !== 0 || protHi !== 0) s += columns(era, protLo, protHi);
    out.push(`${s}\n`);
  };
  const note = (off: number, level: number, lo: number, hi: number): void => {
    const pl = lo & era.protLo;
    const ph = hi & era.protHi;
    if (stLevel === -1) {
      header();
    } else if (pl !== protLo || ph !== protHi || level !== stLevel) {
      line(off);
    } else return;
    stLevel = level;
    protLo = pl;
    protHi = ph;
    stStart = off;
  };
  /** A line of our own for [off, end): ends the open run first. */
  const special = (off: number, end: number, level: number, text: string): void => {
    if (stLevel !== -1) line(off);
    header();
    out.push(`${ptdumpRangeText(BigInt(off), BigInt(end))} ${level} ${text}\n`);
    stLevel = -1;
  };
  // Runs of unreadable entries of one table print as one MISSING line.
  let missTable = -1;
  let missStart = 0;
  let missEnd = 0;
  let missLevel = 0;
  const flushMissing = (): void => {
    if (missTable < 0) return;
    special(missStart, missEnd, missLevel, `MISSING table at PA 0x${missTable.toString(16)} (not in the input)`);
    missing.push({ ipa: BigInt(missStart), size: BigInt(missEnd - missStart), level: missLevel, table: BigInt(missTable) });
    missTable = -1;
  };
  walkEntries(
    mem,
    g,
    0,
    2 ** g.iaBits,
    (e) => {
      if (e.kind === "unbacked") {
        if (missTable === e.table && missEnd === e.off) {
          missEnd = e.off + e.size;
          return;
        }
        flushMissing();
        missTable = e.table;
        missStart = e.off;
        missEnd = e.off + e.size;
        missLevel = e.level;
        return;
      }
      flushMissing();
      switch (e.kind) {
        case "leaf":
        case "hole":
          note(e.off, e.level, e.lo, e.hi);
          // Level -1 (FEAT_LPA2's start level) is also note_page's "no run open": there each entry
          // starts the state again, so the last entry of a run leaves it as the walk entry by entry does.
          if (e.count > 1 && e.level === -1) note(e.off + (e.count - 1) * e.size, e.level, e.lo, e.hi);
          return;
        case "shared":
          special(
            e.off,
            e.off + e.size,
            e.level,
            `SHARED table at PA 0x${e.next.toString(16)} (same as ${addr16(BigInt(e.firstOff))}-${addr16(BigInt(e.firstOff + e.size))}, shown above)`,
          );
          shared.push({ ipa: BigInt(e.off), size: BigInt(e.size), table: BigInt(e.next), sameAsIpa: BigInt(e.firstOff) });
          return;
        case "bad-table": {
          const next = e.hi * 4294967296 + (e.lo >>> 0);
          special(
            e.off,
            e.off + e.size,
            e.level,
            `BAD-TABLE descriptor 0x${next.toString(16)}: next-level table beyond the output size (not walked)`,
          );
          badTables.push({ ipa: BigInt(e.off), size: BigInt(e.size), level: e.level, table: BigInt(next) });
          return;
        }
        default:
          return;
      }
    },
    // A run of leaves (or of equal invalid entries) has one level and one set of the bits the
    // columns read (none in the output address): its first entry's note stands for all of them.
    { shared: true, runs },
  );
  flushMissing();
  // No final flush: KVM's show never notes the end, so the open run is not printed.
  return { text: out.join(""), missing, shared, badTables, end: { level: stLevel, protLo, protHi, start: stStart } };
}
