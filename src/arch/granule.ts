/**
 * Translation granule geometry for VMSAv8-64 stage 1 (Arm ARM D8.2, "Translation granule";
 * ASL AArch64.S1StartLevel / TranslationSize / AArch64.BlockDescSupported).
 */

export type GranuleSize = 4096 | 16384 | 65536;
export type GranuleName = "4K" | "16K" | "64K";
/** Translation table level. -1 only exists for 4K with FEAT_LPA2 (TCR.DS=1). */
export type Level = -1 | 0 | 1 | 2 | 3;

export interface Granule {
  readonly name: GranuleName;
  readonly size: GranuleSize;
  /** log2(granule size): 12, 14, 16. */
  readonly shift: number;
  /** Index bits resolved per full level: shift - 3 (9, 11, 13). */
  readonly stride: number;
}

export const GRANULE_4K: Granule = Object.freeze({ name: "4K", size: 4096, shift: 12, stride: 9 });
export const GRANULE_16K: Granule = Object.freeze({ name: "16K", size: 16384, shift: 14, stride: 11 });
export const GRANULE_64K: Granule = Object.freeze({ name: "64K", size: 65536, shift: 16, stride: 13 });

export const GRANULES: readonly Granule[] = [GRANULE_4K, GRANULE_16K, GRANULE_64K];

export function granuleBySize(size: number): Granule | undefined {
  return GRANULES.find((g) => g.size === size);
}

export function granuleByName(name: string): Granule | undefined {
  const n = name.toUpperCase().replace(/B$/, "").replace(/I$/, "");
  return GRANULES.find((g) => g.name === n || String(g.size) === name);
}

/** log2 of the bytes one entry at `level` maps: shift + stride*(3-level). */
export function levelShift(g: Granule, level: number): number {
  return g.shift + g.stride * (3 - level);
}

/** Bytes mapped by one entry at `level` (as a number; exact up to 2^53). */
export function levelSize(g: Granule, level: number): number {
  return 2 ** levelShift(g, level);
}

/**
 * Initial lookup level for an input-address size of 64-TnSZ bits
 * (ASL AArch64.S1StartLevel: 3 - floor((IAsize - 1 - g) / stride)).
 */
export function startLevel(g: Granule, tnsz: number): number {
  const iaBits = 64 - tnsz;
  return 3 - Math.floor((iaBits - 1 - g.shift) / g.stride);
}

/** Number of VA bits resolved at `level` for the given IA size (the start level may be partial). */
export function indexBitsAt(g: Granule, level: number, iaBits: number): number {
  const sh = levelShift(g, level);
  return Math.min(g.stride, iaBits - sh);
}

/** Entries in the table at `level` (the start-level table may be smaller than a granule). */
export function entriesAt(g: Granule, level: number, iaBits: number): number {
  return 2 ** indexBitsAt(g, level, iaBits);
}

export interface BlockSupportParams {
  /** TCR_ELx.DS (FEAT_LPA2 52-bit descriptors for 4K/16K). */
  ds: boolean;
  /** Implemented PA size is 52 bits (FEAT_LPA), enables 64K level-1 blocks. */
  pa52: boolean;
}

/**
 * Whether a descriptor with bits[1:0]=0b01 at this level is a block
 * (ASL AArch64.BlockDescSupported): 4K L0 only with DS, L1/L2; 16K L1 only with DS, L2;
 * 64K L1 only with 52-bit PA, L2. Level 3 and the levels above never hold blocks.
 */
export function blockAllowed(g: Granule, level: number, p: BlockSupportParams): boolean {
  switch (g.size) {
    case 4096:
      return level === 1 || level === 2 || (level === 0 && p.ds);
    case 16384:
      return level === 2 || (level === 1 && p.ds);
    case 65536:
      return level === 2 || (level === 1 && p.pa52);
  }
}

/**
 * Entries in a contiguous group at `level` (ASL ContiguousSize, 64-bit descriptors):
 * 4K: 16 at L1-L3; 16K: 32 at L2, 128 at L3; 64K: 32 at L2 and L3. 0 where the bit is ignored.
 */
export function contiguousEntries(g: Granule, level: number): number {
  switch (g.size) {
    case 4096:
      // Stryker disable next-line ConditionalExpression: equivalent, no level is above 3 (Level type)
      return level >= 1 && level <= 3 ? 16 : 0;
    case 16384:
      return level === 3 ? 128 : level === 2 ? 32 : 0;
    case 65536:
      return level === 3 || level === 2 ? 32 : 0;
  }
}

/** log2 of the contiguous group's entry count (0 when the bit is ignored). */
export function contiguousShift(g: Granule, level: number): number {
  const n = contiguousEntries(g, level);
  return n === 0 ? 0 : Math.log2(n);
}

/** Human size like the kernel prints it: 4K, 2M, 1G, 512G, 128T. */
export function formatSize(bytes: number): string {
  const units = ["", "K", "M", "G", "T", "P", "E"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && v % 1024 === 0 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v}${units[u]}`;
}
