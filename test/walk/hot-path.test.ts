/**
 * walkRaw keeps its own inlined half-word maths for next-table and output addresses (the hot
 * path: no BigInt, no allocation). This property test checks it against the one home of the
 * address-field rule, arch/descriptor.ts addressOf (ASL AArch64.NextTableBase /
 * AArch64.LeafBase; Arm ARM D8.3 descriptor formats: OA[49:48] in bits [49:48] and OA[51:50] in
 * bits [9:8] with TCR.DS=1, OA[51:48] in bits [15:12] for 64K with a 52-bit OA), for every
 * granule and descriptor format: tables placed above 2^48 are followed, IGNORED table bits are
 * ignored, and a random leaf translates to the home's OA (contiguous: the OA bits below the
 * group size come from the VA, ASL StageOA) or gives an Address size fault when that OA is at or
 * above the PA size (ASL AArch64.OAOutOfRange).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressOf, blockAllowedIn, ENTRY_INVALID, ENTRY_TABLE, entryKindOf } from "../../src/arch/descriptor.js";
import { FAULT_ADDRESS_SIZE, FAULT_NONE, FAULT_TRANSLATION } from "../../src/arch/fault.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, levelShift } from "../../src/arch/granule.js";
import { compileRegs } from "../../src/walk/context.js";
import { AT_OPS, accessCode, Walker } from "../../src/walk/walker.js";
import { propertyRuns } from "../helpers/property.js";
import { type FormatConfig, formatRegs, TestTables, ttbrFor } from "../helpers/tables.js";

const CONFIGS: readonly FormatConfig[] = [
  { g: GRANULE_4K, ds: false, ips: 48, tnsz: 16 },
  { g: GRANULE_4K, ds: true, ips: 52, tnsz: 12 },
  { g: GRANULE_4K, ds: true, ips: 48, tnsz: 16 },
  { g: GRANULE_16K, ds: false, ips: 48, tnsz: 16 },
  { g: GRANULE_16K, ds: true, ips: 52, tnsz: 12 },
  { g: GRANULE_16K, ds: true, ips: 48, tnsz: 16 },
  { g: GRANULE_64K, ds: false, ips: 48, tnsz: 16 },
  { g: GRANULE_64K, ds: false, ips: 52, tnsz: 12 },
];

describe("walkRaw's inlined address maths agree with arch addressOf", () => {
  for (const c of CONFIGS) {
    const probe = compileRegs(formatRegs(c, 0n)).halves[0];
    const fmt = probe.fmt;
    const sl = probe.startLevel;
    const levels = [-1, 0, 1, 2, 3].filter((l) => l >= sl && (l === 3 || blockAllowedIn(fmt, l)));
    // Table pages below 2^32, at bit 47, and (52-bit formats) with OA bits in each moved field.
    const bases = [
      0x4000_0000n,
      0x8000_0000_0000n,
      ...(fmt.oa52 ? (fmt.ds ? [0x3_0000_0000_0000n, 0xc_0000_0000_0000n] : [0xf_0000_0000_0000n]) : []),
    ];
    // Bits a table descriptor's walk ignores: [11:2] (but [9:8] are NLTA[51:50] with DS) and [58:51].
    const ignoredLo = fmt.ds ? 0xcfc : 0xffc;
    const ignoredHi = 0x07f80000;
    const name = `${c.g.name}${c.ds ? " DS" : ""} IPS=${c.ips} (oa52=${fmt.oa52}, start level ${sl})`;
    it(name, () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...levels),
          fc.constantFrom(...bases),
          fc.bigInt({ min: 0n, max: (1n << BigInt(64 - c.tnsz)) - 1n }),
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.integer({ min: 0, max: 0xffffffff }),
          (level, base, va, leafHi, leafLo, tLo, tHi) => {
            const t = new TestTables(c.g, sl, { ds: c.ds, oa52: fmt.oa52, allocBase: base });
            const tableBits = (BigInt((tHi & ignoredHi) >>> 0) << 32n) | BigInt((tLo & ignoredLo) >>> 0);
            // A random leaf: valid, block/page type, AF=1, AP=00 (EL1 read/write); every other bit random.
            const lo = ((leafLo & ~0xc3) | (level === 3 ? 3 : 1) | 0x400) >>> 0;
            const hi = leafHi >>> 0;
            // The table chain carries random IGNORED bits; then the leaf goes below it.
            t.tableFor(va, level, tableBits);
            t.raw(va, level, (BigInt(hi) << 32n) | BigInt(lo));
            check(t);

            function check(tt: TestTables): void {
              const w = new Walker(tt.mem, formatRegs(c, ttbrFor(tt.root, fmt.oa52)));
              const f = w.walkRaw(Number(va >> 32n), Number(va & 0xffffffffn), accessCode(AT_OPS.S1E1R));
              const shift = levelShift(c.g, level);
              const own = addressOf(fmt, hi, lo, shift);
              if (own >= 2 ** probe.paBits) {
                expect([f, w.level]).toEqual([FAULT_ADDRESS_SIZE, level]);
                return;
              }
              const cont = (hi & 0x100000) !== 0 ? (probe.contAt[level + 1] as number) : 0;
              const span = shift + cont;
              const expected = addressOf(fmt, hi, lo, span) + Number(va % (1n << BigInt(span)));
              expect([f, w.level, w.pa]).toEqual([FAULT_NONE, level, expected]);
            }
          },
        ),
        { numRuns: propertyRuns(30) },
      );
    });
  }
});

/**
 * walkRaw also inlines the entry-kind rule (ASL AArch64.DecodeDescriptorType, with
 * AArch64.BlockDescSupported per format): an entry the home calls invalid stops the walk with a
 * Translation fault at its level; a table continues below it (or faults on its address size); a
 * leaf ends the walk at its level without a Translation fault.
 */
describe("walkRaw's inlined entry-kind decoding agrees with arch entryKindOf", () => {
  for (const c of CONFIGS) {
    const probe = compileRegs(formatRegs(c, 0n)).halves[0];
    const fmt = probe.fmt;
    const sl = probe.startLevel;
    const levels = [-1, 0, 1, 2, 3].filter((l) => l >= sl);
    it(`${c.g.name}${c.ds ? " DS" : ""} IPS=${c.ips}`, () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...levels),
          fc.integer({ min: 0, max: 3 }),
          fc.bigInt({ min: 0n, max: (1n << BigInt(64 - c.tnsz)) - 1n }),
          (level, type, va) => {
            const t = new TestTables(c.g, sl, { ds: c.ds, oa52: fmt.oa52 });
            // OA/next table 0x4000_0000 (aligned for every level used here), AF=1, AP=00.
            const lo = (0x4000_0000 | 0x400 | type) >>> 0;
            t.raw(va, level, BigInt(lo));
            const w = new Walker(t.mem, formatRegs(c, ttbrFor(t.root, fmt.oa52)));
            const f = w.walkRaw(Number(va >> 32n), Number(va & 0xffffffffn), accessCode(AT_OPS.S1E1R));
            const kind = entryKindOf(fmt, lo, level);
            if (kind === ENTRY_INVALID) expect([f, w.level]).toEqual([FAULT_TRANSLATION, level]);
            else if (kind === ENTRY_TABLE) expect(w.level > level || (f === FAULT_ADDRESS_SIZE && w.level === level)).toBe(true);
            else expect(w.level === level && f !== FAULT_TRANSLATION).toBe(true);
          },
        ),
        { numRuns: propertyRuns(40) },
      );
    });
  }
});
