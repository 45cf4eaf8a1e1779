/**
 * The built-in example: a small Linux-like address space built into PhysMem with the descriptor
 * encoders (no shadow tree: the tables are bytes in memory, as everywhere else). It has blocks,
 * contiguous groups, pages, device memory, an AF=0 page, a non-zero invalid entry and holes in
 * TTBR1, and a tiny EL0 process (ASID 1) in TTBR0, for any of the Linux register presets.
 */
import { type DescriptorFormat, encodeLeaf, encodeTable, type LeafFields } from "../../../src/arch/descriptor.js";
import { contiguousEntries, levelSize } from "../../../src/arch/granule.js";
import { presetByName, type Regs } from "../../../src/arch/registers.js";
import { PhysMem } from "../../../src/mem/physmem.js";
import { compileRegs, type HalfContext } from "../../../src/walk/context.js";
import { halfBase } from "../../../src/walk/range.js";

export interface Example {
  readonly name: string;
  readonly mem: PhysMem;
  readonly regs: Regs;
  /** Interesting addresses to try in the walk view. */
  readonly tour: readonly { readonly va: bigint; readonly what: string }[];
}

const TABLE_POOL = 0x4000_0000n;
const ASID_USER = 1n;

// Linux memory types (MAIR index order of v5.11+).
const NORMAL = 0;
const TAGGED = 1;
const DEVICE_nGnRE = 4;
const SH_INNER = 3;

class Builder {
  private next = TABLE_POOL;
  constructor(
    readonly mem: PhysMem,
    readonly tableBytes: number,
  ) {}
  table(bytes = this.tableBytes): bigint {
    const a = this.next;
    this.mem.zero(a, Math.max(bytes, 4096));
    this.next += BigInt(Math.max(bytes, this.tableBytes, 4096));
    return a;
  }
}

function fmtOf(h: HalfContext): DescriptorFormat {
  return h.fmt;
}

/** Store a leaf for `va` at `level`, creating the tables on the way. */
function mapLeaf(b: Builder, h: HalfContext, va: bigint, level: number, fields: LeafFields): void {
  const off = va - halfBase(h);
  const fmt = fmtOf(h);
  let table = BigInt(h.base);
  for (let l = h.startLevel; ; l++) {
    const shift = BigInt(h.shiftAt[l + 1] as number);
    const n = BigInt(2 ** (h.bitsAt[l + 1] as number));
    const da = table + ((off >> shift) & (n - 1n)) * 8n;
    if (l === level) {
      b.mem.write64(da, encodeLeaf(fields, level, fmt));
      return;
    }
    const cur = b.mem.read64(da) ?? 0n;
    if ((cur & 3n) === 3n) {
      table = cur & ((1n << 48n) - 1n) & ~BigInt(h.granule.size - 1);
      continue;
    }
    const t = b.table();
    b.mem.write64(da, encodeTable({ nextTable: t }, fmt));
    table = t;
  }
}

/** Write a raw value into the level-`level` entry for `va` (tables must exist). */
function pokeEntry(b: Builder, h: HalfContext, va: bigint, level: number, raw: bigint): void {
  const off = va - halfBase(h);
  let table = BigInt(h.base);
  for (let l = h.startLevel; ; l++) {
    const shift = BigInt(h.shiftAt[l + 1] as number);
    const n = BigInt(2 ** (h.bitsAt[l + 1] as number));
    const da = table + ((off >> shift) & (n - 1n)) * 8n;
    if (l === level) {
      b.mem.write64(da, raw);
      return;
    }
    const cur = b.mem.read64(da) ?? 0n;
    table = cur & ((1n << 48n) - 1n) & ~BigInt(h.granule.size - 1);
  }
}

export const EXAMPLE_PRESETS = ["linux-4k-48", "linux-4k-39", "linux-16k-47", "linux-64k-48", "linux-64k-42"] as const;

export function buildExample(presetName = "linux-4k-48"): Example {
  const preset = presetByName(presetName);
  const mem = new PhysMem();
  const probe = compileRegs(preset.regs);
  const g = probe.halves[1].granule;
  const rootBytes = Math.max(8 * 2 ** (probe.halves[1].bitsAt[probe.halves[1].startLevel + 1] as number), 64);
  const b = new Builder(mem, g.size);
  const root1 = b.table(rootBytes);
  const root0 = b.table(rootBytes);
  const regs: Regs = { ...preset.regs, ttbr1: root1, ttbr0: root0 | (ASID_USER << 48n) };
  const ctx = compileRegs(regs);
  const k = ctx.halves[1];
  const u = ctx.halves[0];
  const P = BigInt(g.size);
  const B2 = BigInt(levelSize(g, 2));
  const cont3 = BigInt(contiguousEntries(g, 3));
  const K = halfBase(k);
  const tour: { va: bigint; what: string }[] = [];
  const kern = (attrIndx: number, ro: boolean, exec: boolean): Omit<LeafFields, "oa"> => ({
    attrIndx,
    ap: ro ? 2 : 0,
    sh: SH_INNER,
    af: true,
    uxn: true,
    pxn: !exec,
  });

  // Linear map: two level-2 blocks, then a region of pages.
  const linPa = 0x8000_0000n;
  for (let i = 0n; i < 2n; i++) mapLeaf(b, k, K + i * B2, 2, { oa: linPa + i * B2, ...kern(TAGGED, false, false) });
  tour.push({ va: K + 0x1234n, what: `linear map, level-2 block` });
  const pages = K + 2n * B2;
  for (let i = 0n; i < cont3; i++) {
    mapLeaf(b, k, pages + i * P, 3, { oa: linPa + 2n * B2 + i * P, contiguous: true, ...kern(NORMAL, true, false) });
  }
  tour.push({ va: pages + P + 0x10n, what: "contiguous read-only pages" });
  for (let i = cont3; i < cont3 + 8n; i++) mapLeaf(b, k, pages + i * P, 3, { oa: linPa + 2n * B2 + i * P, ...kern(TAGGED, false, false) });
  const noAf = pages + (cont3 + 8n) * P;
  mapLeaf(b, k, noAf, 3, { oa: linPa + 0x10_0000_0000n, ...kern(NORMAL, false, false), af: false });
  tour.push({ va: noAf, what: "AF=0 page (Access flag fault with TCR.HA=0; this preset sets HA)" });
  // A non-zero invalid entry (Linux swap / PROT_NONE style) leaves a hole.
  pokeEntry(b, k, noAf + P, 3, 0x0000_0000_dead_0000n);
  tour.push({ va: noAf + P, what: "invalid entry with bits set (Translation fault, level 3)" });

  // "Kernel image" in the vmalloc area: text (RO, executable, contiguous), rodata, data.
  const img = K + (1n << BigInt(k.iaBits - 1)) + 64n * B2;
  const imgPa = 0x4100_0000n & ~(P * cont3 - 1n);
  for (let i = 0n; i < cont3; i++) mapLeaf(b, k, img + i * P, 3, { oa: imgPa + i * P, contiguous: true, ...kern(NORMAL, true, true) });
  tour.push({ va: img + 0x40n, what: "kernel text: read-only, executable at EL1" });
  for (let i = cont3; i < cont3 + 4n; i++) mapLeaf(b, k, img + i * P, 3, { oa: imgPa + i * P, ...kern(NORMAL, true, false) });
  for (let i = cont3 + 4n; i < cont3 + 8n; i++) mapLeaf(b, k, img + i * P, 3, { oa: imgPa + i * P, ...kern(NORMAL, false, false) });
  tour.push({ va: img + (cont3 + 5n) * P, what: "kernel data: read-write, never executable" });
  // A device page (an ioremap) further up.
  const io = img + 4n * B2;
  mapLeaf(b, k, io, 3, { oa: 0x0900_0000n, ...kern(DEVICE_nGnRE, false, false) });
  tour.push({ va: io + 0x18n, what: "ioremap'd UART: Device-nGnRE" });

  // EL0 process in TTBR0 (ASID 1): text, data, a guard hole, a stack page.
  const user = (ro: boolean, exec: boolean): Omit<LeafFields, "oa"> => ({
    attrIndx: NORMAL,
    ap: ro ? 3 : 1,
    sh: SH_INNER,
    af: true,
    nG: true,
    pxn: true,
    uxn: !exec,
  });
  const text = 0x40_0000n - (0x40_0000n % B2) + B2;
  for (let i = 0n; i < 4n; i++) mapLeaf(b, u, text + i * P, 3, { oa: 0x6000_0000n + i * P, ...user(true, true) });
  tour.push({ va: text, what: "EL0 text (try an EL0 write: Permission fault)" });
  for (let i = 4n; i < 6n; i++) mapLeaf(b, u, text + i * P, 3, { oa: 0x6000_0000n + i * P, ...user(false, false) });
  const stack = (1n << BigInt(u.iaBits)) - 2n * P;
  mapLeaf(b, u, stack, 3, { oa: 0x6100_0000n, ...user(false, false) });
  tour.push({ va: stack + P, what: "above the stack: hole (Translation fault)" });
  return { name: `example:${presetName}`, mem, regs, tour };
}
