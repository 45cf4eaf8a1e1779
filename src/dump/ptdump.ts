/**
 * Linux arm64 ptdump (`/sys/kernel/debug/kernel_page_tables`) text, byte for byte.
 *
 * The kernel's generic page walker (mm/pagewalk.c) reports every leaf and hole to ptdump's
 * note_page() (arch/arm64/mm/ptdump.c), which prints a line whenever the masked attribute bits,
 * the level, or the address marker change. We replay the same sequence of note_page() calls over
 * the tables in memory, including its quirks: holes at folded levels report at the depth of the
 * top level, a hole at the top covers non-table entries, non-present non-zero entries above the
 * PTE level are skipped silently, and every PTE (even a zero one) is noted.
 */
import type { Regs } from "../arch/registers.js";
import { FRAME_SIZE, type PhysMem } from "../mem/physmem.js";
import { compileRegs, type HalfContext, type WalkContext } from "../walk/context.js";
import { nextTableAddress } from "../walk/fields.js";
import { halfBase, halfRange } from "../walk/range.js";

export interface Marker {
  readonly address: bigint;
  readonly name: string;
}

export interface PtdumpFormat {
  /** Print the GP (BTI guarded page) column: v5.10+. */
  readonly gp: boolean;
  /** Print non-present ranges (holes): v5.5+. */
  readonly holes: boolean;
  /** AttrIndx value → printed memory-type name (the kernel's MT_* indices of that era). */
  readonly attrNames: Readonly<Record<number, string>>;
}

/** Linux v5.11+ (MT_NORMAL 0, MT_NORMAL_TAGGED 1, MT_NORMAL_NC 2, MT_DEVICE_nGnRnE 3, MT_DEVICE_nGnRE 4). */
export const PTDUMP_LINUX_6: PtdumpFormat = {
  gp: true,
  holes: true,
  attrNames: { 0: "MEM/NORMAL", 1: "MEM/NORMAL-TAGGED", 2: "MEM/NORMAL-NC", 3: "DEVICE/nGnRnE", 4: "DEVICE/nGnRE" },
};

/** Linux v4.x (MT_DEVICE_nGnRnE 0, nGnRE 1, GRE 2, NORMAL_NC 3, NORMAL 4): no GP column, no holes. */
export const PTDUMP_LINUX_4: PtdumpFormat = {
  gp: false,
  holes: false,
  attrNames: { 0: "DEVICE/nGnRnE", 1: "DEVICE/nGnRE", 2: "DEVICE/GRE", 3: "MEM/NORMAL-NC", 4: "MEM/NORMAL" },
};

export interface PtdumpOptions {
  /** First VA to dump (default: the first VA of the TTBR1 half, the kernel's PAGE_OFFSET). */
  readonly start?: bigint;
  /** End VA, exclusive (default, or 0: the end of the half). */
  readonly end?: bigint;
  /**
   * Address markers, ascending. The last marker at or below `start` heads the output (the region
   * the range starts in; the half's name when there is none); later ones print where the walk
   * crosses them, as the kernel does. Markers outside the range are not printed.
   */
  readonly markers?: readonly Marker[];
  readonly format?: PtdumpFormat;
}

/** A table the walk reached whose entries are not in memory: data missing from the input. */
export interface PtdumpMissing {
  readonly va: bigint;
  readonly size: bigint;
  /** Level of the missing table. */
  readonly level: number;
  readonly table: bigint;
}

/** A subtree already walked at another VA (same table PA and level), printed as one SHARED line. */
export interface PtdumpShared {
  readonly va: bigint;
  readonly size: bigint;
  /** Level of the table descriptors that point at the shared table. */
  readonly level: number;
  readonly table: bigint;
  readonly sameAsVa: bigint;
  /** True when the subtree maps one uniform run: replayed as the kernel prints it, no SHARED line. */
  readonly merged: boolean;
}

export interface PtdumpReport {
  readonly text: string;
  readonly missing: readonly PtdumpMissing[];
  readonly shared: readonly PtdumpShared[];
}

/**
 * The prot bits note_page() masks (arm64 ptdump prot_bits[]): VALID(0) TABLE(1) ATTRINDX(4:2)
 * USER(6) RDONLY(7) SHARED(9:8) AF(10) NG(11) in the low half; GP(50, v5.10+) CONT(52) PXN(53)
 * UXN(54) in the high half. ptdump prints a line when they change; audit's W+X check
 * (ptdump_check_wx) counts by them.
 */
export const PTDUMP_PROT_LO = 0xfdf;
const MASK_HI_NOGP = (1 << 20) | (1 << 21) | (1 << 22);
const MASK_HI_GP = (1 << 18) | MASK_HI_NOGP;

export function ptdumpProtHi(fmt: PtdumpFormat): number {
  return fmt.gp ? MASK_HI_GP : MASK_HI_NOGP;
}

const UNITS = ["K", "M", "G", "T", "P", "E"];
const TWO32 = 4294967296;

function levelNames(nLevels: number): string[] {
  return ["PGD", "P4D", nLevels > 3 ? "PUD" : "PGD", nLevels > 2 ? "PMD" : "PGD", "PTE"];
}

function protTokens(lo: number, hi: number, fmt: PtdumpFormat): string {
  let s = "";
  s += ` ${lo & 1 ? " " : "F"}`;
  s += ` ${lo & 0x40 ? "USR" : "   "}`;
  s += ` ${lo & 0x80 ? "ro" : "RW"}`;
  s += ` ${hi & (1 << 21) ? "NX" : "x "}`;
  s += ` ${(lo & 0x300) === 0x300 ? "SHD" : "   "}`;
  s += ` ${lo & 0x400 ? "AF" : "  "}`;
  s += ` ${lo & 0x800 ? "NG" : "  "}`;
  s += ` ${hi & (1 << 20) ? "CON" : "   "}`;
  s += ` ${lo & 2 ? "   " : "BLK"}`;
  s += ` ${hi & (1 << 22) ? "UXN" : "   "}`;
  if (fmt.gp) s += ` ${hi & (1 << 18) ? "GP" : "  "}`;
  const name = fmt.attrNames[(lo >>> 2) & 7];
  if (name !== undefined) s += ` ${name}`;
  return s;
}

const MASK64 = (1n << 64n) - 1n;

export function addr16(v: bigint): string {
  return `0x${(v & MASK64).toString(16).padStart(16, "0")}`;
}

/**
 * The start of a note_page() line (arch/arm64/mm/ptdump.c, shared by KVM's stage-2 dump):
 * `0x%016lx-0x%016lx   ` and the size in the largest unit it is a whole multiple of, `%9lu%c`.
 */
export function ptdumpRangeText(a: bigint, b: bigint): string {
  let delta = (b - a) & MASK64;
  delta >>= 10n;
  let u = 0;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent, a range is below 2^64 bytes, so it never reaches past "E"
  while ((delta & 1023n) === 0n && u < UNITS.length - 1) {
    delta >>= 10n;
    u++;
  }
  return `${addr16(a)}-${addr16(b)}   ${delta.toString().padStart(9, " ")}${UNITS[u]}`;
}

/** Render the ptdump text of the TTBR1 half (or the half of `start`). */
export function ptdump(mem: PhysMem, regs: Regs | WalkContext, opts: PtdumpOptions = {}): string {
  return ptdumpReport(mem, regs, opts).text;
}

/**
 * What a subtree did to note_page(), for replay at another VA: nothing ("none"), one run of equal
 * masked prot bits and depth starting `rel` bytes into it ("uniform"), or more ("complex").
 */
type SubtreeNotes = { kind: "none" } | { kind: "uniform"; rel: number; depth: number; lo: number; hi: number } | { kind: "complex" };

interface Recorder {
  readonly regionOff: number;
  notes: SubtreeNotes;
}

/**
 * The ptdump text of [start, end), with what the kernel's format cannot say marked on lines of our
 * own (never `---[ … ]---`, which is the kernel's marker syntax):
 * - `<range> <size> <LEVEL> MISSING table at PA 0x… (not in the input)`: a table the walk reached
 *   that memory does not back, so the range is unknown (not a hole);
 * - `<range> <size> <LEVEL> SHARED table at PA 0x… (same as 0x…, shown above)`: table descriptors
 *   pointing at a subtree already printed at another VA. A shared subtree that maps one uniform
 *   run is replayed instead (the kernel's own output; e.g. KASAN's early shadow), so complete
 *   inputs keep the kernel's bytes. The work is bounded by the distinct (table, level) pairs plus
 *   the output, not by the VA paths through shared tables.
 */
export function ptdumpReport(mem: PhysMem, regs: Regs | WalkContext, opts: PtdumpOptions = {}): PtdumpReport {
  const ctx = "halves" in regs ? regs : compileRegs(regs);
  const start = opts.start ?? halfBase(ctx.halves[1]);
  const h = ctx.halves[Number((start >> 55n) & 1n)] as HalfContext;
  const fmt = opts.format ?? PTDUMP_LINUX_6;
  const maskHi = ptdumpProtHi(fmt);
  const base = halfBase(h);
  const { startOff, endOff } = halfRange(h, start, opts.end ?? 0n);
  const nLevels = 4 - h.startLevel;
  const names = levelNames(nLevels);
  // Markers of this half inside the range: the region marker at or below the start heads the output.
  const all = (opts.markers ?? [{ address: start, name: "Kernel" }])
    .filter((m) => ((m.address >> 55n) & 1n) === BigInt(h.index))
    .map((m) => ({ off: m.address >= base ? Number(m.address - base) : -1, name: m.name }));
  let head: { off: number; name: string } | undefined;
  for (const m of all) if (m.off <= startOff) head = m;
  const markers = [
    head ?? { off: startOff, name: h.index === 1 ? "TTBR1" : "TTBR0" },
    ...all.filter((m) => m.off > startOff && m.off < endOff),
  ];
  // The sentinel is never printed and every lookup past it already yields +Infinity:
  // Stryker disable next-line ObjectLiteral,StringLiteral: equivalent, see above
  markers.push({ off: Number.POSITIVE_INFINITY, name: "" });
  const out: string[] = [];
  const missing: PtdumpMissing[] = [];
  const shared: PtdumpShared[] = [];
  // note_page state
  let stLevel = -1;
  let protLo = 0;
  let protHi = 0;
  let stStart = 0;
  let mi = 0;
  let started = false;
  const header = (): void => {
    // Stryker disable next-line OptionalChaining,StringLiteral: equivalent, markers[mi] always exists (mi stops before the sentinel)
    out.push(`---[ ${markers[mi]?.name ?? ""} ]---\n`);
  };
  // ptdumpRangeText of two VA offsets in numbers (no bigint per line): base + off as 32-bit halves.
  const baseHi = Number(base >> 32n);
  const baseLo = Number(base & 0xffffffffn);
  const vaHex = (off: number): string => {
    let lo = baseLo + (off % TWO32);
    let hi = baseHi + Math.floor(off / TWO32);
    if (lo >= TWO32) {
      lo -= TWO32;
      hi += 1;
    }
    return `0x${(hi % TWO32).toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")}`;
  };
  const rangeText = (a: number, b: number): string => {
    let delta = Math.floor((b - a) / 1024);
    let u = 0;
    while (delta % 1024 === 0 && u < UNITS.length - 1) {
      delta = Math.floor(delta / 1024);
      u++;
    }
    return `${vaHex(a)}-${vaHex(b)}   ${String(delta).padStart(9, " ")}${UNITS[u]}`;
  };
  // The prot columns of each (masked) prot seen, rendered once.
  const tokens = new Map<number, string>();
  const dumpLine = (endOff: number): void => {
    if (!fmt.holes && protLo === 0 && protHi === 0) return;
    let t = "";
    if (protLo !== 0 || protHi !== 0) {
      const key = protLo + protHi * 4096;
      t = tokens.get(key) ?? "";
      if (t === "") {
        t = protTokens(protLo, protHi, fmt);
        tokens.set(key, t);
      }
    }
    out.push(`${rangeText(stStart, endOff)} ${names[stLevel] ?? "PGD"}${t}\n`);
  };
  // Open subtree recordings (innermost last), for replaying shared subtrees.
  const recorders: Recorder[] = [];
  const record = (off: number, depth: number, pl: number, ph: number): void => {
    for (const r of recorders) {
      const n = r.notes;
      if (n.kind === "none") r.notes = { kind: "uniform", rel: off - r.regionOff, depth, lo: pl, hi: ph };
      else if (n.kind === "uniform" && (n.depth !== depth || n.lo !== pl || n.hi !== ph)) r.notes = { kind: "complex" };
    }
  };
  const note = (off: number, depth: number, lo: number, hi: number): void => {
    const pl = lo & PTDUMP_PROT_LO;
    const ph = (hi & maskHi) >>> 0;
    if (recorders.length > 0) record(off, depth, pl, ph);
    // Stryker disable next-line OptionalChaining,LogicalOperator: equivalent, markers[mi + 1] always exists (the sentinel)
    const next = markers[mi + 1]?.off ?? Number.POSITIVE_INFINITY;
    if (stLevel === -1) {
      stLevel = depth;
      protLo = pl;
      protHi = ph;
      stStart = off;
      if (!started) header();
      started = true;
    } else if (pl !== protLo || ph !== protHi || depth !== stLevel || off >= next) {
      dumpLine(off);
      if (off >= next) {
        mi++;
        header();
      }
      stStart = off;
      protLo = pl;
      protHi = ph;
      stLevel = depth;
    }
    // Stryker disable next-line OptionalChaining,LogicalOperator: equivalent, markers[mi + 1] always exists (the sentinel)
    if (off >= (markers[mi + 1]?.off ?? Number.POSITIVE_INFINITY)) {
      mi++;
      header();
    }
  };
  /** A line of our own for [off, endOff): ends the current run, prints the markers up to `off`. */
  const special = (off: number, endOff: number, level: number, text: string): void => {
    for (const r of recorders) r.notes = { kind: "complex" };
    if (stLevel !== -1) dumpLine(off);
    else if (!started) header();
    started = true;
    while (off >= (markers[mi + 1]?.off ?? Number.POSITIVE_INFINITY)) {
      mi++;
      header();
    }
    // Named like the kernel names entries of that level (top-level entries print as PGD).
    const name = level === h.startLevel ? "PGD" : (names[level + 1] ?? "PGD");
    out.push(`${rangeText(off, endOff)} ${name} ${text}\n`);
    stLevel = -1;
  };
  // Subtrees printed in full (fully inside the range): table PA and level → VA offset and notes.
  const seen = new Map<number, { off: number; notes: SubtreeNotes }>();
  const markerInside = (a: number, b: number): boolean => {
    for (let k = mi + 1; k < markers.length; k++) {
      const m = (markers[k] as { off: number }).off;
      if (m > a && m < b) return true;
      if (m >= b) break;
    }
    return false;
  };

  /**
   * Level-3 entries first..(at most) last of `table`, entry `first` readable: those in its 4 KiB
   * frame, read from the frame's words. An entry that would extend the current run (same masked
   * prot bits at depth 4, no marker reached) once this table has noted something changes nothing
   * in note() (every open recorder has seen a note, so is uniform with these bits or complex) and
   * is skipped. Returns the last entry done.
   */
  const pageRun = (table: number, first: number, last: number, regionOff: number, size: number): number => {
    const da = table + first * 8;
    const pfn = Math.floor(da / FRAME_SIZE);
    const inFrame = Math.min(last, first + (FRAME_SIZE - (da - pfn * FRAME_SIZE)) / 8 - 1);
    const fr = mem.frameArena(pfn);
    if (fr === undefined) {
      // RAM never written: entries read as zeros through load64.
      for (let i = first; i <= inFrame; i++) {
        mem.load64(table + i * 8);
        note(Math.max(regionOff + i * size, startOff), 4, mem.lo, mem.hi);
      }
      return inFrame;
    }
    let w = mem.frameWord + ((da - pfn * FRAME_SIZE) >>> 2);
    let noted = false;
    let nextOff = (markers[mi + 1] as { off: number }).off;
    for (let i = first; i <= inFrame; i++, w += 2) {
      const lo = fr[w] as number;
      const hi = fr[w + 1] as number;
      const off = Math.max(regionOff + i * size, startOff);
      if (noted && stLevel === 4 && (lo & PTDUMP_PROT_LO) === protLo && (hi & maskHi) >>> 0 === protHi && off < nextOff) continue;
      note(off, 4, lo, hi);
      noted = true;
      nextOff = (markers[mi + 1] as { off: number }).off;
    }
    return inFrame;
  };

  const rec = (table: number, level: number, regionOff: number): void => {
    const li = level + 1;
    const size = 2 ** (h.shiftAt[li] as number);
    const n = 2 ** (h.bitsAt[li] as number);
    const first = Math.max(0, Math.floor((startOff - regionOff) / size));
    const last = Math.min(n - 1, Math.ceil((endOff - regionOff) / size) - 1);
    const isTop = level === h.startLevel;
    const holeDepth = isTop ? 0 : level + 1;
    const leafDepth = level + 1;
    for (let i = first; i <= last; i++) {
      const off = Math.max(regionOff + i * size, startOff);
      const da = table + i * 8;
      if (!mem.load64(da)) {
        // The table page is not in the input: one MISSING line for the run of unreadable entries.
        let j = i + 1;
        while (j <= last && !mem.load64(table + j * 8)) j++;
        const endRun = Math.min(regionOff + j * size, endOff);
        special(off, endRun, level, `MISSING table at PA 0x${table.toString(16)} (not in the input)`);
        missing.push({ va: base + BigInt(off), size: BigInt(endRun - off), level, table: BigInt(table) });
        i = j - 1;
        continue;
      }
      if (level === 3) {
        i = pageRun(table, i, last, regionOff, size);
        continue;
      }
      const lo = mem.lo;
      const hi = mem.hi;
      if (lo === 0 && hi === 0) {
        note(off, holeDepth, 0, 0);
        continue;
      }
      if (isTop && nLevels >= 4 && (lo & 2) === 0) {
        // pgd/p4d_none_or_clear_bad(): a non-table top entry is a hole.
        note(off, holeDepth, 0, 0);
        continue;
      }
      if ((lo & 3) === 1) {
        note(off, leafDepth, lo, hi);
        continue;
      }
      if ((lo & 1) === 0) continue; // not present: the walker skips it without a note
      const nextTable = nextTableAddress(h, hi, lo);
      const sub = regionOff + i * size;
      const whole = sub >= startOff && sub + size <= endOff && !markerInside(sub, sub + size);
      // Next-level tables are granule aligned (>= 4K): the key stays an exact number.
      const key = (nextTable / 4096) * 4 + level;
      const prev = whole ? seen.get(key) : undefined;
      if (prev !== undefined) {
        const sameAsVa = base + BigInt(prev.off);
        const pn = prev.notes;
        if (pn.kind !== "complex") {
          // One uniform run (or nothing): exactly what the kernel's walk would note here.
          if (pn.kind === "uniform") note(sub + pn.rel, pn.depth, pn.lo, pn.hi);
          shared.push({ va: base + BigInt(sub), size: BigInt(size), level, table: BigInt(nextTable), sameAsVa, merged: true });
          continue;
        }
        // Later entries pointing at the same table extend one SHARED line.
        let j = i + 1;
        while (j <= last && regionOff + (j + 1) * size <= endOff && mem.load64(table + j * 8) && (mem.lo & 3) === 3) {
          if (nextTableAddress(h, mem.hi, mem.lo) !== nextTable || markerInside(regionOff + j * size, regionOff + (j + 1) * size)) break;
          j++;
        }
        const endRun = regionOff + j * size;
        special(
          sub,
          endRun,
          level,
          `SHARED table at PA 0x${nextTable.toString(16)} (same as ${addr16(sameAsVa)}-${addr16(sameAsVa + BigInt(size))}, shown above)`,
        );
        shared.push({ va: base + BigInt(sub), size: BigInt(endRun - sub), level, table: BigInt(nextTable), sameAsVa, merged: false });
        i = j - 1;
        continue;
      }
      if (!whole) {
        rec(nextTable, level + 1, sub);
        continue;
      }
      const r: Recorder = { regionOff: sub, notes: { kind: "none" } };
      recorders.push(r);
      rec(nextTable, level + 1, sub);
      recorders.pop();
      seen.set(key, { off: sub, notes: r.notes });
    }
  };
  // TCR_EL1.EPDn=1: the half is never walked, so there is no table to read (nothing is missing).
  if (!h.tnszFault && !h.baseFault && !h.epd) rec(h.base, h.startLevel, 0);
  // Final flush: note_page(0, -1, 0); the end address prints as it wraps (0 for the top of TTBR1).
  if (stLevel !== -1) dumpLine(endOff);
  return { text: out.join(""), missing, shared };
}
