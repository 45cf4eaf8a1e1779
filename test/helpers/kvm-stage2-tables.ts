/**
 * Hand-written stage-2 tables shaped like a KVM VM's (40-bit IPA, 4K granule, start level 1 with
 * two concatenated level-1 tables at ROOT), shared by the stage-2 dump and audit tests. Descriptor
 * bits (Arm ARM stage-2 block/page descriptors): AF 10, SH 9:8, S2AP 7:6 (R 6, W 7), MemAttr 5:2,
 * XN[1] 54, XN[0] 53 (FEAT_XNX).
 */
import { PhysMem } from "../../src/mem/physmem.js";

export const ROOT = 0x4800_0000n;
export const L2 = 0x4800_2000n;
export const L3 = 0x4800_3000n;
/** The RAM the tables live in: 64 KiB at ROOT. */
export const TABLE_RAM = 0x10000;

export const NORMAL_WB = 0xfn << 2n;
export const DEVICE_NGNRE = 0x1n << 2n;
export const AF = 1n << 10n;
export const SH_IS = 3n << 8n;
export const R = 1n << 6n;
export const W = 1n << 7n;
export const XN = 1n << 54n;
export const XN0 = 1n << 53n;

/**
 * KVM's VTCR_EL2 for a 40-bit IPA with 4K pages on a 40-bit-PA host: T0SZ 24, SL0 01 (start level
 * 1), inner/outer WB, inner shareable, TG0 4K, PS 010 (40 bits), RES1 bit 31.
 */
export const VTCR_40 = 0x8002_3558n;

export function tableMemory(): PhysMem {
  const mem = new PhysMem();
  mem.addRam(ROOT, BigInt(TABLE_RAM));
  mem.zero(ROOT, TABLE_RAM);
  return mem;
}

export function put(mem: PhysMem, table: bigint, index: number, v: bigint): void {
  mem.write64(table + BigInt(index) * 8n, v);
}

/**
 * The tables of the KVM text tests: a table at IPA 1G, 4K pages (RW non-executable x2, RO
 * executable, zero, invalid-with-bits), a 2M RWX block, 1G RWX blocks at IPA 512G and at the last
 * level-1 entry (IPA 1023G).
 */
export function kvmTables(): PhysMem {
  const mem = tableMemory();
  put(mem, ROOT, 1, L2 | 3n);
  put(mem, L2, 0, L3 | 3n);
  put(mem, L3, 0, 0x6000_0000n | AF | SH_IS | R | W | NORMAL_WB | 3n | XN);
  put(mem, L3, 1, 0x6000_1000n | AF | SH_IS | R | W | NORMAL_WB | 3n | XN);
  put(mem, L3, 2, 0x6000_2000n | AF | SH_IS | R | NORMAL_WB | 3n);
  put(mem, L3, 4, AF | R); // invalid (bit 0 clear) with masked bits set
  put(mem, L2, 1, 0x6020_0000n | AF | SH_IS | R | W | NORMAL_WB | 1n);
  put(mem, ROOT, 512, 0xc000_0000n | AF | SH_IS | R | W | NORMAL_WB | 1n);
  put(mem, ROOT, 1023, 0xc000_0000n | AF | SH_IS | R | W | NORMAL_WB | 1n);
  return mem;
}

/** The stage2_page_tables text KVM prints for kvmTables() (typed in from the kernel's rules). */
export const KVM_TABLES_TEXT = [
  "---[ Guest IPA ]---",
  "0x0000000000000000-0x0000000040000000           1G 1",
  "0x0000000040000000-0x0000000040002000           8K 3   R W X AF    ",
  "0x0000000040002000-0x0000000040003000           4K 3   R     AF    ",
  "0x0000000040003000-0x0000000040004000           4K 3",
  "0x0000000040004000-0x0000000040005000           4K 3 F     X       ",
  "0x0000000040005000-0x0000000040200000        2028K 3",
  "0x0000000040200000-0x0000000040400000           2M 2   R W   AF BLK",
  "0x0000000040400000-0x0000000080000000        1020M 2",
  "0x0000000080000000-0x0000008000000000         510G 1",
  "0x0000008000000000-0x0000008040000000           1G 1   R W   AF BLK",
  "0x0000008040000000-0x000000ffc0000000         510G 1",
  // The 1G block at 0xffc0000000 is the run still open when the walk ends: KVM's show has no
  // final note_page(), so it is never printed.
  "",
].join("\n");
