/**
 * `vmsa dump --format json` writes its "mappings" from the range walk's numeric runs through
 * per-kind templates (src/dump/mappings-json.ts) instead of JSON.stringify of MappingRun objects.
 * The document must stay byte for byte what the reference path gives: jsonText (bigints as 0x-hex,
 * one space per level) of the header, mappingReport's runs, missing and shared ranges.
 *
 * Random tables for every granule and descriptor format (Arm ARM D8.3: the output-address field
 * is bits [47:g], plus OA[51:48] in bits [15:12] for 64K with a 52-bit OA, or OA[49:48] in place
 * and OA[51:50] in bits [9:8] with TCR.DS=1), in either TTBR half (the TTBR1 half starts at
 * 2^64 - 2^(64-T1SZ), D8.1.4, so its VAs need the high half), with random attribute bits in every
 * bit outside the address field, random hierarchical table bits (APTable, UXNTable, PXNTable,
 * NSTable: D8.4.2), a table missing from memory and a table shared by two descriptors.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressFieldMask, blockAllowedIn, encodeTable, placeAddress } from "../../src/arch/descriptor.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, levelShift } from "../../src/arch/granule.js";
import { type DumpJsonHeader, dumpJsonBytes, dumpJsonValue } from "../../src/dump/dump-json.js";
import { JsonSizeError } from "../../src/dump/mappings-json.js";
import { jsonText } from "../../src/io/json-text.js";
import { compileRegs } from "../../src/walk/context.js";
import { halfBase, leafRunReport, type MappingReport, mappingReport } from "../../src/walk/range.js";
import { propertyRuns } from "../helpers/property.js";
import { type FormatConfig, formatRegs, TestTables, ttbrFor } from "../helpers/tables.js";

const CONFIGS: readonly FormatConfig[] = [
  { g: GRANULE_4K, ds: false, ips: 48, tnsz: 16 },
  { g: GRANULE_4K, ds: false, ips: 48, tnsz: 39 },
  { g: GRANULE_4K, ds: true, ips: 52, tnsz: 12 },
  { g: GRANULE_16K, ds: false, ips: 48, tnsz: 17 },
  { g: GRANULE_16K, ds: true, ips: 52, tnsz: 12 },
  { g: GRANULE_64K, ds: false, ips: 48, tnsz: 22 },
  { g: GRANULE_64K, ds: false, ips: 52, tnsz: 12 },
];

/** The reference: the whole document through jsonText, runs as mappingReport's MappingRun objects. */
function referenceText(head: DumpJsonHeader, r: MappingReport): string {
  return `${jsonText(dumpJsonValue(head, r, r.runs))}\n`;
}

/** A run of `count` leaves at one level: consecutive slots, consecutive OAs, the same other bits. */
const arbRun = fc.record({
  level: fc.integer({ min: -1, max: 3 }),
  slot: fc.integer({ min: 0, max: 24 }),
  count: fc.integer({ min: 1, max: 5 }),
  oaUnits: fc.integer({ min: 0, max: 64 }),
  oaHigh: fc.boolean(),
  attr: fc.nat(),
  /** The last block of the run is replaced by the first leaf of a next-level table (a run of mixed levels). */
  split: fc.boolean(),
  tableBits: fc.constantFrom(0n, 1n << 59n, 1n << 60n, 1n << 61n, 3n << 61n, 1n << 63n, 0xfn << 59n),
});

describe("dump --format json: the template writer's document is the reference jsonText document", () => {
  for (const c of CONFIGS) {
    for (const half of [0, 1] as const) {
      const probe = compileRegs(formatRegs(c, 0n, half)).halves[half];
      const fmt = probe.fmt;
      const sl = probe.startLevel;
      const levels = [-1, 0, 1, 2, 3].filter((l) => l >= sl && (l === 3 || blockAllowedIn(fmt, l)));
      const name = `${c.g.name}${c.ds ? " DS" : ""} IPS=${c.ips} T${half}SZ=${c.tnsz}, TTBR${half} half`;
      it(name, () => {
        fc.assert(
          fc.property(
            // Attribute bits from a small pool, so that runs share templates with other fields differing.
            fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })), {
              minLength: 1,
              maxLength: 3,
            }),
            fc.array(arbRun, { minLength: 0, maxLength: 8 }),
            fc.option(fc.integer({ min: 0, max: 24 }), { nil: undefined }),
            fc.option(fc.tuple(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 24 })), { nil: undefined }),
            fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 })),
            (pool, runs, missingSlot, sharedSlots, cut) => {
              const t = new TestTables(c.g, sl, { ds: c.ds, oa52: fmt.oa52 });
              // Slots at the level below the start level: every run lives in the first start-level entry's region.
              const window = sl + 1;
              const limit = 2n ** BigInt(probe.iaBits);
              for (const r of runs) {
                const level = levels[Math.abs(r.level) % levels.length] as number;
                const size = 2n ** BigInt(levelShift(c.g, level));
                const shift = levelShift(c.g, level);
                const mask = addressFieldMask(fmt, shift);
                const [attrHi, attrLo] = pool[r.attr % pool.length] as [number, number];
                const attrs = ((BigInt(attrHi >>> 0) << 32n) | BigInt(attrLo >>> 0)) & ~mask & ~3n;
                // Output addresses low, or near the top of the OA size (52-bit fields in the moved bits).
                const oaBase = r.oaHigh ? (1n << BigInt(fmt.oa52 ? 52 : 48)) - 128n * size : 0n;
                const first = BigInt(r.slot) * 2n ** BigInt(levelShift(c.g, window));
                for (let j = 0; j < r.count; j++) {
                  const oa = oaBase + BigInt(r.oaUnits + j) * size;
                  const raw = attrs | placeAddress(oa, fmt, shift, "oa") | (level === 3 ? 3n : 1n);
                  // A start-level block takes start-level slots; lower levels go below the window's slot.
                  const va = level < window ? BigInt(r.slot + j) * size : first + BigInt(j) * size;
                  if (va >= limit) break;
                  if (r.split && j === r.count - 1 && j > 0 && level < 3) {
                    const sub = level + 1;
                    const subRaw = attrs & ~addressFieldMask(fmt, levelShift(c.g, sub));
                    t.tableFor(va, sub, r.tableBits);
                    t.raw(va, sub, subRaw | placeAddress(oa, fmt, levelShift(c.g, sub), "oa") | (sub === 3 ? 3n : 1n));
                    break;
                  }
                  t.tableFor(va, level, r.tableBits);
                  t.raw(va, level, raw);
                }
              }
              const slotVa = (s: number): bigint => BigInt(s) * 2n ** BigInt(levelShift(c.g, window));
              // A table descriptor naming a table that is not in memory (reported in "missing").
              if (missingSlot !== undefined && slotVa(missingSlot) < limit) {
                t.raw(slotVa(missingSlot), window, encodeTable({ nextTable: 0x7654_0000n & ~BigInt(c.g.size - 1) }, fmt));
              }
              // Two descriptors naming one table (the second reported in "shared").
              if (sharedSlots !== undefined) {
                const next = t.alloc();
                t.mem.write64(next + 8n, placeAddress(0x4000_0000n, fmt, c.g.shift, "oa") | 0x403n);
                for (const s of sharedSlots) if (slotVa(s) < limit) t.raw(slotVa(s), window, encodeTable({ nextTable: next }, fmt));
              }
              const regs = formatRegs(c, ttbrFor(t.root, fmt.oa52), half);
              const ctx = compileRegs(regs);
              const h = ctx.halves[half];
              const base = halfBase(h);
              const unit = 2n ** BigInt(levelShift(c.g, window));
              const lo = Math.min(cut[0], cut[1]);
              const hi = Math.max(cut[0], cut[1]);
              const start = base + BigInt(lo) * unit;
              const end = hi === lo ? 0n : base + BigInt(hi) * unit;
              const head: DumpJsonHeader = {
                half: `TTBR${half}`,
                granule: c.g.name,
                vaBits: h.iaBits,
                startLevel: sl,
                start,
                end,
                // A string that looks like the line the writer splices at (JSON escapes its newlines).
                registers: { TTBR1_EL1: '\n "mappings": [],\n' },
                layoutSource: { kind: "none", detail: "a file named café-✓.core (UTF-8 in the header)", exact: true },
                markers: [{ address: start, name: "start" }],
              };
              const fast = new TextDecoder().decode(dumpJsonBytes(head, leafRunReport(t.mem, ctx, start, end)));
              const ref = referenceText(head, mappingReport(t.mem, ctx, start, end));
              expect(JSON.parse(fast)).toEqual(JSON.parse(ref));
              expect(fast).toBe(ref);
            },
          ),
          { numRuns: propertyRuns(25) },
        );
      });
    }
  }
});

describe("dump --format json: a document over the byte limit", () => {
  // 4K granule, 48-bit VA: level-3 pages with alternating AP[2] (EL1 RW / RO), so no two coalesce.
  const c: FormatConfig = { g: GRANULE_4K, ds: false, ips: 48, tnsz: 16 };
  const t = new TestTables(c.g, 0);
  for (let i = 0; i < 64; i++) t.raw(BigInt(i) * 4096n, 3, 0x4000_0000n + BigInt(i) * 4096n + 0x403n + (i % 2 === 1 ? 0x80n : 0n));
  const ctx = compileRegs(formatRegs(c, t.root, 0));
  const head: DumpJsonHeader = {
    half: "TTBR0",
    granule: "4K",
    vaBits: 48,
    startLevel: 0,
    start: 0n,
    end: 1n << 48n,
    registers: {},
    layoutSource: { kind: "none", detail: "test", exact: true },
    markers: [],
  };
  const r = leafRunReport(t.mem, ctx, 0n, 1n << 48n);
  const full = dumpJsonBytes(head, r).length;

  it("is written whole under a limit with room to spare", () => {
    expect(r.runs.length).toBe(64);
    expect(dumpJsonBytes(head, r, 2 * full).length).toBe(full);
  });

  it("is refused as a limit reached (JsonSizeError, inconclusive: exit 3), not cut short", () => {
    let err: unknown;
    try {
      dumpJsonBytes(head, r, full - 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonSizeError);
    expect(err).toMatchObject({ code: "EJSON_SIZE", inconclusive: true });
    expect((err as Error).message).toMatch(/--start\/--end/);
  });
});
