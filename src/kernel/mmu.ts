/**
 * Building and changing kernel mappings with the arm64 kernel's rules (arch/arm64/mm/mmu.c;
 * linux-arm64-mm.md sections 1 and 9): __create_pgd_mapping (largest granularity first, blocks
 * and contiguous groups only for chunks a call covers completely), update_mapping_prot, unmap
 * with the table-freeing order, and explicit break-before-make splits.
 *
 * Every call first checks the whole request against the existing tables (a dry run) and refuses
 * before storing anything, where the kernel would BUG part-way; then it stores through the
 * machine port.
 */
import { plainAddressField } from "../arch/descriptor.js";
import { hex64 } from "../arch/u64.js";
import type { TableAllocator } from "./alloc.js";
import { isCont, isNone, isSect, isTable, type Kernel } from "./context.js";
import { KernelError, OutOfMemoryError } from "./errors.js";
import { kernelBlockLevel, kernelContEntries } from "./geometry.js";
import { NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS, NO_EXEC_MAPPINGS, PGATTR_REASONS, PGATTR_SAFE, pgattrCheck } from "./prot.js";
import { flushTlbAll, flushTlbKernelPgtable, flushTlbKernelRange, kernelEntryBarrier } from "./tlb.js";

const TWO32 = 4294967296;
/** UXNTable (bit 60) in the upper half of a table descriptor. */
export const TABLE_UXN_HI = 1 << 28;

export interface MapStats {
  /** Level-3 entries written. */
  ptes: number;
  /** Block entries written. */
  blocks: number;
  /** Tables allocated and linked. */
  tables: number;
  /** Entries written with PTE_CONT. */
  cont: number;
}

function num(v: bigint | number, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new KernelError(
      "EKERN_RANGE",
      `${what}: ${v} is not a non-negative address below 2^53`,
      "physical addresses are at most 52 bits",
    );
  return n;
}

/**
 * Whether `x` (a non-negative integer below 2^53) is a multiple of `size`, a power of two: masks
 * on the two 32-bit halves, never `%` on a double (slow above 2^32).
 */
export function isAligned(x: number, size: number): boolean {
  if (size <= TWO32) return ((x >>> 0) & (size - 1)) === 0;
  return x >>> 0 === 0 && (Math.floor(x / TWO32) & (size / TWO32 - 1)) === 0;
}

function aligned(a: number, b: number, c: number, size: number): boolean {
  return isAligned(a, size) && isAligned(b, size) && isAligned(c, size);
}

/**
 * Whether a VA offset and a PA that advance together can ever both sit on a `size` boundary
 * (their difference is a multiple of `size`); when not, no contiguous group of that span fits
 * anywhere in the range.
 */
function congruent(off: number, pa: number, size: number): boolean {
  return isAligned(Math.abs(off - pa), size);
}

function nextBoundary(off: number, size: number): number {
  return (Math.floor(off / size) + 1) * size;
}

/** Allocate, zero and publish a table page (early_pgtable_alloc / __pgd_pgtable_alloc). */
export function pgtableAlloc(k: Kernel, alloc: TableAllocator, level: number, what: string): number {
  const pa = alloc.alloc(k.port, k.cpu, level);
  if (pa === undefined) throw new OutOfMemoryError(`${what}: ${k.levelName(level)} table`, `${alloc.name} allocator failed → -ENOMEM`);
  if (!alloc.returnsZeroed) {
    const viaFixmap = k.tableAccess?.zeroNew?.(k, pa, k.geo.PAGE_SIZE) ?? false;
    if (!viaFixmap) k.port.zero(k.cpu, pa, k.geo.PAGE_SIZE);
    // dsb(ishst): the zeroed page must be visible to the walker before it is linked.
    k.port.dsb(k.cpu, "ISHST");
  }
  return pa;
}

class Mapper {
  readonly k: Kernel;
  readonly alloc: TableAllocator | undefined;
  readonly flags: number;
  readonly fn: string;
  write = false;
  protHi: number;
  protLo: number;
  readonly stats: MapStats = { ptes: 0, blocks: 0, tables: 0, cont: 0 };
  /** Table descriptor halves for new tables: TYPE_TABLE | UXNTable (| PXNTable). */
  readonly tblHi: number;
  /** Output addresses sit in place (no LPA2 / 64K-52-bit relocation of OA[51:48]). */
  readonly simpleOa: boolean;
  /** Per level (index level + 1, levels -1..3): bytes an entry maps, whether it may be a block, CONT group entries. */
  readonly entrySize: number[] = [];
  readonly blockOk: boolean[] = [];
  readonly contEntries: number[] = [];

  constructor(k: Kernel, prot: bigint, flags: number, alloc: TableAllocator | undefined, fn: string) {
    this.k = k;
    this.alloc = alloc;
    this.flags = flags;
    this.fn = fn;
    this.protHi = Number((prot >> 32n) & 0xffffffffn) & ~0x100000; // PTE_CONT is decided per chunk
    this.protLo = Number(prot & 0xffffffffn);
    this.tblHi = TABLE_UXN_HI | ((flags & NO_EXEC_MAPPINGS) !== 0 ? 1 << 27 : 0);
    this.simpleOa = plainAddressField(k.geo.fmt);
    for (let level = -1; level <= 3; level++) {
      this.entrySize.push(2 ** k.shiftOf(level));
      this.blockOk.push(level < 3 && kernelBlockLevel(k.geo, level) && (flags & NO_BLOCK_MAPPINGS) === 0);
      this.contEntries.push(kernelContEntries(k.geo, level));
    }
  }

  where(level: number, off: number, ea: number): string {
    return `${this.fn}: VA ${hex64(this.k.kva(off))} ${this.k.levelName(level)} entry at PA 0x${ea.toString(16)}`;
  }

  /**
   * Map [off, end) through the table at `table` (a `level` table). `fresh`: the write pass
   * allocated and zeroed this table itself, so every entry is empty and none is read (a CPU
   * observes its own stores; the walker writes no invalid entry), as the kernel's loops never
   * find anything in a new table.
   */
  mapLevel(table: number, level: number, off: number, end: number, pa: number, contIn: boolean, fresh = false): void {
    const k = this.k;
    if (level === 3) {
      this.mapPte(table, off, end, pa, contIn);
      return;
    }
    const size = this.entrySize[level + 1] as number;
    const blockOk = this.blockOk[level + 1] as boolean;
    const contN = this.contEntries[level + 1] as number;
    const contSize = contN * size;
    // Chunks at contiguous-group boundaries only matter where a group may be written: cont
    // allowed and VA, PA congruent modulo the group span (they advance together).
    const contChunks = contN > 0 && !contIn && (this.flags & NO_CONT_MAPPINGS) === 0 && congruent(off, pa, contSize);
    k.tableAccess?.enter(k, level, table);
    while (off < end) {
      let chunkEnd = end;
      let cont = contIn;
      if (contChunks) {
        chunkEnd = Math.min(nextBoundary(off, contSize), end);
        cont = aligned(off, chunkEnd, pa, contSize);
      }
      while (off < chunkEnd) {
        if (
          this.write &&
          blockOk &&
          this.simpleOa &&
          isAligned(off, size) &&
          isAligned(pa, size) &&
          chunkEnd - off >= size &&
          k.port.storeRun !== undefined
        ) {
          // A run of whole blocks: the preflight found no table in their slots, and consecutive
          // block descriptors differ by the block size as 64-bit values.
          const n = Math.floor((chunkEnd - off) / size);
          const ea0 = k.entryAddr(table, level, off);
          const hi0 = (this.protHi | ((pa / TWO32) | 0) | (cont ? 0x100000 : 0)) >>> 0;
          const lo0 = ((this.protLo & ~2) | pa) >>> 0;
          k.port.storeRun(k.cpu, ea0, n, hi0, lo0, size);
          kernelEntryBarrier(k);
          this.stats.blocks += n;
          if (cont) this.stats.cont += n;
          off += n * size;
          pa += n * size;
          continue;
        }
        const next = Math.min(nextBoundary(off, size), chunkEnd);
        const ea = k.entryAddr(table, level, off);
        let oHi = 0;
        let oLo = 0;
        if (!fresh) {
          k.readEntry(ea);
          oHi = k.hi;
          oLo = k.lo;
        }
        if (blockOk && aligned(off, next, pa, size)) {
          k.placeOa(pa);
          const nHi = (this.protHi | k.oaHi | (cont ? 0x100000 : 0)) >>> 0;
          const nLo = ((this.protLo & ~2) | k.oaLo) >>> 0;
          if (!this.write) {
            if (isTable(oLo, level)) {
              throw new KernelError(
                "EKERN_TABLE_REPOINT",
                `${this.where(level, off, ea)} is a table; a block may not replace it`,
                "mmu.c p?d_set_huge: a table is never replaced by a block (leaks the table, TLB conflicts: 15122ee2c515)",
              );
            }
            this.checkLeaf(level, off, ea, oHi, oLo, nHi, nLo);
          } else {
            k.writeEntry(ea, nHi, nLo);
            kernelEntryBarrier(k);
            this.stats.blocks++;
            if (cont) this.stats.cont++;
          }
        } else {
          if (isSect(oLo, level)) {
            throw new KernelError(
              "EKERN_LIVE_BLOCK",
              `${this.where(level, off, ea)} is a block (${k.describeEntry(oHi, oLo)}); mapping [${hex64(k.kva(off))}, ${hex64(k.kva(next))}) would split it`,
              "mmu.c alloc_init_cont_p?d: BUG_ON(p?d_sect()) — the kernel never splits a live block",
            );
          }
          let child: number;
          let childFresh = false;
          if (isNone(oHi, oLo)) {
            if (this.alloc === undefined) {
              throw new KernelError(
                "EKERN_NO_ALLOC",
                `${this.where(level, off, ea)} is empty and this call may not allocate tables`,
                "mmu.c: BUG_ON(!pgtable_alloc) — update_mapping_prot / create_mapping_noalloc never create tables",
              );
            }
            if (!this.write) {
              // A new table will be empty: nothing below can conflict.
              pa += next - off;
              off = next;
              continue;
            }
            child = pgtableAlloc(k, this.alloc, level + 1, this.fn);
            childFresh = true;
            k.writeTableEntry(ea, child, this.tblHi);
            kernelEntryBarrier(k);
            this.stats.tables++;
          } else if (!isTable(oLo, level)) {
            throw new KernelError(
              "EKERN_BAD_ENTRY",
              `${this.where(level, off, ea)} holds ${k.describeEntry(oHi, oLo)}, which is neither empty nor a table`,
              "mmu.c: BUG_ON(p?d_bad()) — a non-table entry is never reused",
            );
          } else {
            child = k.tableAddr(oHi, oLo);
          }
          this.mapLevel(child, level + 1, off, next, pa, cont && level === 2, childFresh);
        }
        pa += next - off;
        off = next;
      }
    }
    k.tableAccess?.leave(k, level);
  }

  checkLeaf(level: number, off: number, ea: number, oHi: number, oLo: number, nHi: number, nLo: number): void {
    if (oHi === 0 && oLo === 0) return;
    const r = pgattrCheck(this.k.rule, this.k.geo.fmt, oHi, oLo, nHi, nLo);
    if (r !== PGATTR_SAFE) {
      throw new KernelError(
        "EKERN_UNSAFE_CHANGE",
        `${this.where(level, off, ea)}: changing live ${this.k.describeEntry(oHi, oLo)} to ${this.k.describeEntry(nHi, nLo)} is unsafe: ${PGATTR_REASONS[r]}`,
        `pgattr_change_is_safe (${this.k.rule.era}) — anything beyond a permission change needs break-before-make`,
      );
    }
  }

  mapPte(table: number, off: number, end: number, pa: number, contIn: boolean): void {
    const k = this.k;
    const ps = k.geo.PAGE_SIZE;
    const contSize = k.geo.CONT_PTE_SIZE;
    const noCont = (this.flags & NO_CONT_MAPPINGS) !== 0;
    const pgd = k.geo.pgdLevel === 3;
    const nEntries = pgd ? k.geo.PTRS_PER_PGD : k.geo.PTRS_PER_PTE;
    const port = k.port;
    const cpu = k.cpu;
    const mem = port.mem;
    const simpleOa = plainAddressField(k.geo.fmt);
    // Chunking at CONT_PTE boundaries changes nothing when every chunk is contiguous (contIn) or
    // none can be (NO_CONT_MAPPINGS, or VA and PA not congruent modulo the group): one chunk then.
    const contChunks = !contIn && !noCont && congruent(off, pa, contSize);
    k.tableAccess?.enter(k, 3, table);
    while (off < end) {
      const chunkEnd = contChunks ? Math.min(nextBoundary(off, contSize), end) : end;
      const cont = contIn || (contChunks && aligned(off, chunkEnd, pa, contSize));
      const hiBase = (this.protHi | (cont ? 0x100000 : 0)) >>> 0;
      const loBase = this.protLo;
      let idx = Math.floor(off / ps) % nEntries;
      const n = (chunkEnd - off) / ps;
      if (!this.write) {
        for (let i = 0; i < n; i++) {
          const ea = table + (idx + i) * 8;
          if (!mem.load64(ea)) continue;
          const oHi = mem.hi;
          const oLo = mem.lo;
          if (oHi === 0 && oLo === 0) continue;
          const p = pa + i * ps;
          k.placeOa(p);
          this.checkLeaf(3, off + i * ps, ea, oHi, oLo, (hiBase | k.oaHi) >>> 0, (loBase | k.oaLo) >>> 0);
        }
      } else if (simpleOa && port.storeRun !== undefined) {
        // OA bits sit above the attribute bits, so consecutive PTEs differ by PAGE_SIZE as 64-bit values.
        port.storeRun(cpu, table + idx * 8, n, (hiBase | ((pa / TWO32) | 0)) >>> 0, (loBase | pa) >>> 0, ps);
      } else if (simpleOa) {
        let p = pa;
        for (let i = 0; i < n; i++, idx++, p += ps) {
          const pHi = (p / TWO32) | 0;
          port.store64(cpu, table + idx * 8, (hiBase | pHi) >>> 0, (loBase | p) >>> 0);
        }
      } else {
        let p = pa;
        for (let i = 0; i < n; i++, idx++, p += ps) {
          k.placeOa(p);
          port.store64(cpu, table + idx * 8, (hiBase | k.oaHi) >>> 0, (loBase | k.oaLo) >>> 0);
        }
      }
      if (this.write) {
        this.stats.ptes += n;
        if (cont) this.stats.cont += n;
        // Newer kernels defer the per-PTE barriers to the end of the chunk (__set_pte_nosync).
        kernelEntryBarrier(k);
      }
      pa += chunkEnd - off;
      off = chunkEnd;
    }
    k.tableAccess?.leave(k, 3);
  }
}

export interface CreateMappingOptions {
  /** NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS | NO_EXEC_MAPPINGS. */
  readonly flags?: number;
  /** Table allocator; undefined means "may not allocate" (pgtable_alloc == NULL). */
  readonly alloc?: TableAllocator;
  /** Name used in refusals (default "__create_pgd_mapping"). */
  readonly fn?: string;
}

/**
 * __create_pgd_mapping(pgdir, phys, virt, size, prot, alloc, flags): map [virt, virt+size) to
 * phys with the largest granularity the alignment of VA, PA and the chunk end allows.
 * Refuses (KernelError) before writing anything when the request would split a live block,
 * replace a table, change a live entry unsafely or needs a table it may not allocate.
 */
export function createMapping(
  k: Kernel,
  root: bigint | number,
  pa: bigint | number,
  va: bigint,
  size: bigint | number,
  prot: bigint,
  opts: CreateMappingOptions = {},
): MapStats {
  const fn = opts.fn ?? "__create_pgd_mapping";
  const ps = k.geo.PAGE_SIZE;
  const phys = num(pa, `${fn}: phys`);
  const sz = num(size, `${fn}: size`);
  const off0 = k.offOf(va);
  if (phys % ps !== off0 % ps) {
    throw new KernelError(
      "EKERN_ALIGN",
      `${fn}: phys 0x${phys.toString(16)} and virt ${hex64(va)} have different offsets within a ${ps}-byte page; nothing mapped`,
      "mmu.c __create_pgd_mapping_locked: WARN_ON((phys ^ virt) & ~PAGE_MASK)",
    );
  }
  const off = off0 - (off0 % ps);
  const end = Math.ceil((off0 + sz) / ps) * ps;
  if (end > 2 ** k.geo.vaBits) {
    throw new KernelError(
      "EKERN_RANGE",
      `${fn}: [${hex64(va)}, +0x${sz.toString(16)}) runs past the ${k.geo.vaBits}-bit VA space`,
      "VA_BITS",
    );
  }
  const m = new Mapper(k, prot, opts.flags ?? 0, opts.alloc, fn);
  const r = num(root, `${fn}: pgdir`);
  if (end === off) return m.stats;
  k.port.note(k.cpu, `${fn}(${hex64(va)}, size 0x${sz.toString(16)}, phys 0x${phys.toString(16)})`);
  m.mapLevel(r, k.geo.pgdLevel, off, end, phys - (phys % ps), false);
  m.write = true;
  m.mapLevel(r, k.geo.pgdLevel, off, end, phys - (phys % ps), false);
  return m.stats;
}

/**
 * update_mapping_prot (create_mapping_late): rewrite the permissions of an existing mapping in
 * place with NO_CONT_MAPPINGS and no allocator, each entry judged by pgattr_change_is_safe, then
 * flush_tlb_kernel_range over the range.
 */
export function updateMappingProt(
  k: Kernel,
  root: bigint | number,
  pa: bigint | number,
  va: bigint,
  size: bigint | number,
  prot: bigint,
): MapStats {
  const stats = createMapping(k, root, pa, va, size, prot, { flags: NO_CONT_MAPPINGS, fn: "update_mapping_prot" });
  flushTlbKernelRange(k, va, va + BigInt(size));
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Walking existing tables

export interface LeafVisit {
  level: number;
  /** PA of the descriptor. */
  ea: number;
  /** VA offset (in the half) of the first byte the entry maps. */
  off: number;
  size: number;
  hi: number;
  lo: number;
}

/** Tables met on the way, for freeing: parent entry address, table PA, level of the table, VA offset. */
interface TableVisit {
  parentEa: number;
  table: number;
  level: number;
  off: number;
}

/** Visit valid leaves (and, bottom-up, tables) intersecting [off, end). */
function walkExisting(
  k: Kernel,
  table: number,
  level: number,
  off: number,
  end: number,
  leaf: (v: LeafVisit) => void,
  tableDone?: (t: TableVisit) => void,
  parentEa = -1,
  tableOff = 0,
): void {
  const size = 2 ** k.shiftOf(level);
  let o = off - (off % size);
  while (o < end) {
    const ea = k.entryAddr(table, level, o);
    k.readEntry(ea);
    const hi = k.hi;
    const lo = k.lo;
    if ((lo & 1) !== 0) {
      if (isTable(lo, level))
        walkExisting(k, k.tableAddr(hi, lo), level + 1, Math.max(o, off), Math.min(o + size, end), leaf, tableDone, ea, o);
      else leaf({ level, ea, off: o, size, hi, lo });
    }
    o += size;
  }
  if (tableDone && parentEa >= 0) tableDone({ parentEa, table, level, off: tableOff });
}

/** Every valid leaf of `root` intersecting [va, va+size). */
export function leavesIn(k: Kernel, root: bigint | number, va: bigint, size: bigint | number): LeafVisit[] {
  const out: LeafVisit[] = [];
  const off = k.offOf(va);
  walkExisting(k, Number(root), k.geo.pgdLevel, off, off + Number(size), (v) => out.push({ ...v }));
  return out;
}

/** The entry mapping `va` in `root`: its level, descriptor address and value (undefined when none). */
export function findEntry(
  k: Kernel,
  root: bigint | number,
  va: bigint,
): { level: number; ea: number; value: bigint; kind: "table" | "leaf" | "invalid" } | undefined {
  let table = Number(root);
  const off = k.offOf(va);
  for (let level = k.geo.pgdLevel; level <= 3; level++) {
    const ea = k.entryAddr(table, level, off);
    const value = k.readEntryBig(ea);
    const lo = k.lo;
    if ((lo & 1) === 0) return { level, ea, value, kind: "invalid" };
    if (!isTable(lo, level)) return { level, ea, value, kind: "leaf" };
    table = k.tableAddr(k.hi, lo);
  }
  return undefined;
}

export interface UnmapOptions {
  /** Free tables left empty (clear parent, __flush_tlb_kernel_pgtable, then free). */
  readonly freeTables?: TableAllocator;
  /** Bad variant for scenarios: free before the walk-cache invalidation. */
  readonly freeBeforeTlbi?: boolean;
}

export interface UnmapStats {
  leaves: number;
  tablesFreed: number;
}

/**
 * Remove the mappings of [va, va+size): clear each leaf, flush_tlb_kernel_range, then free
 * intermediate tables that became empty — parent entry cleared, walk caches invalidated
 * (__flush_tlb_kernel_pgtable), only then the page freed (linux-arm64-mm.md 9, rule 9).
 * Refuses to cut a block or a contiguous group in part.
 */
export function unmap(k: Kernel, root: bigint | number, va: bigint, size: bigint | number, opts: UnmapOptions = {}): UnmapStats {
  const off = k.offOf(va);
  const end = off + Number(size);
  const r = Number(root);
  const leaves: LeafVisit[] = [];
  walkExisting(k, r, k.geo.pgdLevel, off, end, (v) => leaves.push({ ...v }));
  for (const v of leaves) {
    if (v.off < off || v.off + v.size > end) {
      throw new KernelError(
        "EKERN_LIVE_BLOCK",
        `unmap: VA ${hex64(k.kva(v.off))} ${k.levelName(v.level)} entry at PA 0x${v.ea.toString(16)} maps ${v.size} bytes, only part of which is in the range`,
        "the kernel never splits a live block in place (split first, offline)",
      );
    }
    if (isCont(v.hi)) {
      const n = kernelContEntries(k.geo, v.level);
      const gs = n * v.size;
      const gOff = v.off - (v.off % gs);
      if (gOff < off || gOff + gs > end) {
        throw new KernelError(
          "EKERN_CONT_PARTIAL",
          `unmap: VA ${hex64(k.kva(v.off))} is in a contiguous group [${hex64(k.kva(gOff))}, +0x${gs.toString(16)}) the range covers only partly`,
          "Arm ARM contiguous bit: every entry of the group must agree; partial removal misprograms it",
        );
      }
    }
  }
  k.port.note(k.cpu, `unmap(${hex64(va)}, size 0x${Number(size).toString(16)})`);
  for (const v of leaves) k.writeEntry(v.ea, 0, 0);
  flushTlbKernelRange(k, k.vaLike(va, off), k.vaLike(va, end));
  let tablesFreed = 0;
  const alloc = opts.freeTables;
  if (alloc) {
    const fullyInside: TableVisit[] = [];
    walkExisting(
      k,
      r,
      k.geo.pgdLevel,
      off,
      end,
      () => {},
      (t) => fullyInside.push(t),
    );
    for (const t of fullyInside) {
      const span = 2 ** k.shiftOf(t.level - 1);
      if (t.off < off || t.off + span > end) continue;
      let empty = true;
      for (let i = 0; i < k.geo.PTRS_PER_PTE && empty; i++) {
        k.readEntry(t.table + i * 8);
        if (k.hi !== 0 || k.lo !== 0) empty = false;
      }
      if (!empty) continue;
      k.writeEntry(t.parentEa, 0, 0);
      if (opts.freeBeforeTlbi) {
        alloc.free(t.table);
        flushTlbKernelPgtable(k, k.vaLike(va, t.off));
      } else {
        flushTlbKernelPgtable(k, k.vaLike(va, t.off));
        alloc.free(t.table);
      }
      tablesFreed++;
    }
  }
  return { leaves: leaves.length, tablesFreed };
}

// ---------------------------------------------------------------------------------------------
// Splits

export interface SplitOptions {
  /** Break-before-make (default true). false: write the table over the live block directly. */
  readonly bbm?: boolean;
  /** Give the new entries PTE_CONT where a whole group fits (default false). */
  readonly cont?: boolean;
  /** VA the splitting code runs from: fetched after every step to show whether it stays mapped. */
  readonly executingFrom?: bigint;
}

export interface SplitResult {
  /** Table that replaced the block. */
  readonly table: number;
  /** Steps performed, in order. */
  readonly steps: readonly string[];
  /** First step after which the code doing the split could no longer fetch its own instructions. */
  readonly selfUnmapped?: { readonly afterStep: string; readonly fault: string };
}

function fetchCheck(k: Kernel, opts: SplitOptions, step: string, state: { selfUnmapped?: { afterStep: string; fault: string } }): void {
  if (opts.executingFrom === undefined || state.selfUnmapped) return;
  const r = k.port.access(k.cpu, opts.executingFrom, "exec");
  if (!r.ok) state.selfUnmapped = { afterStep: step, fault: `${r.fault} fault at level ${r.level}: ${r.reason}` };
}

/**
 * Replace the block mapping `va` at `level` by a next-level table of equivalent entries.
 * With bbm (default): build the table off-line, publish it, write the block invalid, DSB,
 * TLBI VAAE1IS, DSB, link the table, DSB, ISB. Correct for tables that are not live or for
 * mappings no CPU executes from; for the kernel's own text the break unmaps the code doing it.
 */
export function splitBlock(k: Kernel, root: bigint | number, va: bigint, alloc: TableAllocator, opts: SplitOptions = {}): SplitResult {
  const e = findEntry(k, root, va);
  if (!e || e.kind !== "leaf" || e.level === 3) {
    throw new KernelError("EKERN_NOT_MAPPED", `splitBlock: VA ${hex64(va)} is not mapped by a block`, "splitBlock needs a block entry");
  }
  const level = e.level;
  const hi = Number((e.value >> 32n) & 0xffffffffn);
  const lo = Number(e.value & 0xffffffffn);
  if (isCont(hi)) {
    throw new KernelError(
      "EKERN_CONT_PARTIAL",
      `splitBlock: the block mapping ${hex64(va)} is part of a contiguous group; split the group first`,
      "contiguous groups change as a whole",
    );
  }
  const steps: string[] = [];
  const state: { selfUnmapped?: { afterStep: string; fault: string } } = {};
  const size = 2 ** k.shiftOf(level);
  const childSize = 2 ** k.shiftOf(level + 1);
  const off = k.offOf(va) - (k.offOf(va) % size);
  const blockVa = k.vaLike(va, off);
  const oa = k.addrOf(hi, lo, k.shiftOf(level));
  const table = pgtableAlloc(k, alloc, level + 1, "splitBlock");
  const childLevel = level + 1;
  const contN = opts.cont ? kernelContEntries(k.geo, childLevel) : 0;
  // Upper attributes without the OA bits and PTE_CONT; lower attributes in bits 11:2 (minus
  // OA[51:50] in bits 9:8 with LPA2).
  const attrHi = hi & ~k.geo.fmt.addrHi & ~0x100000;
  const attrLo = lo & 0xffc & ~k.geo.fmt.addrLo;
  const n = size / childSize;
  for (let i = 0; i < n; i++) {
    k.placeOa(oa + i * childSize);
    const cont = contN > 0 && n % contN === 0;
    const typ = childLevel === 3 ? 3 : 1;
    k.writeEntry(table + i * 8, (attrHi | k.oaHi | (cont ? 0x100000 : 0)) >>> 0, (attrLo | typ | k.oaLo) >>> 0);
  }
  k.port.dsb(k.cpu, "ISHST");
  steps.push(`build ${k.levelName(childLevel)} table at 0x${table.toString(16)} (${n} entries), DSB ISHST`);
  if (opts.bbm !== false) {
    k.writeEntry(e.ea, 0, 0);
    k.port.dsb(k.cpu, "ISHST");
    steps.push(`break: ${k.levelName(level)} entry 0x${e.ea.toString(16)} := 0, DSB ISHST`);
    fetchCheck(k, opts, steps[steps.length - 1] as string, state);
    k.port.tlbi(k.cpu, "VAAE1IS", blockVa);
    k.port.dsb(k.cpu, "ISH");
    steps.push(`TLBI VAAE1IS ${hex64(blockVa)}, DSB ISH`);
    fetchCheck(k, opts, steps[steps.length - 1] as string, state);
  }
  k.writeTableEntry(e.ea, table, TABLE_UXN_HI); // PMD_TYPE_TABLE | PMD_TABLE_UXN
  kernelEntryBarrier(k);
  steps.push(`make: ${k.levelName(level)} entry 0x${e.ea.toString(16)} := table 0x${table.toString(16)}, DSB ISHST, ISB`);
  fetchCheck(k, opts, steps[steps.length - 1] as string, state);
  return { table, steps, ...(state.selfUnmapped ? { selfUnmapped: state.selfUnmapped } : {}) };
}

/**
 * Clear PTE_CONT on the whole contiguous group containing `va`. With bbm (default): every entry
 * of the group invalid, DSB, TLBI each, DSB, rewrite them without CONT, DSB, ISB. Without: the
 * in-place rewrite of the 2016 patch (set_pte(pte_mknoncont) per entry, then flush_tlb_all).
 */
export function splitContiguous(k: Kernel, root: bigint | number, va: bigint, opts: SplitOptions = {}): { steps: string[] } {
  const e = findEntry(k, root, va);
  if (!e || e.kind !== "leaf")
    throw new KernelError("EKERN_NOT_MAPPED", `splitContiguous: VA ${hex64(va)} is not mapped`, "a mapped contiguous group");
  const hi0 = Number((e.value >> 32n) & 0xffffffffn);
  if (!isCont(hi0))
    throw new KernelError("EKERN_CONT_PARTIAL", `splitContiguous: VA ${hex64(va)} is not in a contiguous group`, "PTE_CONT set");
  const n = kernelContEntries(k.geo, e.level);
  const esize = 2 ** k.shiftOf(e.level);
  const first = e.ea - (((e.ea % (n * 8)) + n * 8) % (n * 8));
  const gOff = k.offOf(va) - (k.offOf(va) % (n * esize));
  const steps: string[] = [];
  const vals: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    k.readEntry(first + i * 8);
    vals.push([k.hi, k.lo]);
  }
  if (opts.bbm === false) {
    for (let i = 0; i < n; i++) {
      const [h, l] = vals[i] as [number, number];
      k.writeEntry(first + i * 8, (h & ~0x100000) >>> 0, l);
      kernelEntryBarrier(k);
    }
    steps.push(`in place: ${n} entries rewritten without PTE_CONT (set_pte each)`);
    flushTlbAll(k);
    steps.push("flush_tlb_all");
    return { steps };
  }
  for (let i = 0; i < n; i++) k.writeEntry(first + i * 8, 0, 0);
  steps.push(`break: ${n} entries := 0`);
  flushTlbKernelRange(k, k.vaLike(va, gOff), k.vaLike(va, gOff + n * esize));
  steps.push("flush_tlb_kernel_range over the group");
  for (let i = 0; i < n; i++) {
    const [h, l] = vals[i] as [number, number];
    k.writeEntry(first + i * 8, (h & ~0x100000) >>> 0, l);
  }
  kernelEntryBarrier(k);
  steps.push(`make: ${n} entries without PTE_CONT, DSB ISHST, ISB`);
  return { steps };
}
