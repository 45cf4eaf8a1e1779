/**
 * Builder-vs-walker agreement: random non-overlapping mappings written as descriptors translate
 * to exactly the requested output address and attributes (Arm ARM D8.2 translation process), and
 * the range walk enumerates exactly the written leaves.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { blockAllowed, GRANULES, type Granule, levelShift, startLevel } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, LINUX_MAIR } from "../../src/arch/registers.js";
import { leafMappings } from "../../src/walk/range.js";
import { AT_OPS, accessCode, Walker } from "../../src/walk/walker.js";
import { propertyRuns } from "../helpers/property.js";
import { TestTables } from "../helpers/tables.js";

interface Mapping {
  slot: number;
  level: number;
  oaSlot: number;
  ap: number;
  attrIndx: number;
  nG: boolean;
}

function setup(g: Granule, tnsz: number) {
  const sl = startLevel(g, tnsz);
  const leafLevels = [1, 2, 3].filter((l) => l > sl && (l === 3 || blockAllowed(g, l, { ds: false, pa52: false })));
  return { sl, leafLevels };
}

describe("walker agrees with written tables", () => {
  for (const g of GRANULES) {
    for (const tnsz of g.size === 65536 ? [22, 25, 35] : g.size === 16384 ? [17, 20, 28] : [16, 25, 34]) {
      const { sl, leafLevels } = setup(g, tnsz);
      if (leafLevels.length === 0) continue;
      it(`${g.name} granule, TnSZ=${tnsz} (start level ${sl})`, () => {
        fc.assert(
          fc.property(
            fc.array(
              fc.record({
                slot: fc.integer({ min: 0, max: 63 }),
                level: fc.constantFrom(...leafLevels),
                oaSlot: fc.integer({ min: 1, max: 255 }),
                ap: fc.integer({ min: 0, max: 3 }),
                attrIndx: fc.integer({ min: 0, max: 4 }),
                nG: fc.boolean(),
              }),
              { minLength: 1, maxLength: 12 },
            ),
            fc.array(fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }), { minLength: 8, maxLength: 8 }),
            (maps: Mapping[], offsets) => {
              const t = new TestTables(g, sl, { allocBase: 0x8_0000_0000n });
              // Each mapping gets its own region of the size of its largest leaf level so none overlap:
              // slot i covers [i * R, (i+1) * R) where R = size of an entry one level above the highest leaf.
              const regionShift = BigInt(levelShift(g, Math.min(...leafLevels) - 1));
              const iaBits = 64 - tnsz;
              const region = 1n << regionShift;
              const maxSlots = Number((1n << BigInt(iaBits)) / region);
              const used = new Map<number, Mapping>();
              for (const m of maps) {
                const slot = m.slot % Math.max(1, maxSlots);
                if (used.has(slot)) continue;
                used.set(slot, m);
                const size = 1n << BigInt(levelShift(g, m.level));
                t.map(BigInt(slot) * region, m.level, {
                  oa: BigInt(m.oaSlot) * size,
                  af: true,
                  sh: 3,
                  ap: m.ap,
                  attrIndx: m.attrIndx,
                  nG: m.nG,
                });
              }
              const tcr = encodeTcr({ t0sz: tnsz, t1sz: tnsz, tg0: g.name, tg1: g.name, ipsBits: 48 });
              const w = new Walker(t.mem, { ttbr0: t.root, ttbr1: 0n, tcr, mair: LINUX_MAIR, sctlr: 1n, features: FEATURES_MAX });
              for (const [slot, m] of used) {
                const size = 1n << BigInt(levelShift(g, m.level));
                for (const o of offsets) {
                  const off = o % size;
                  const va = BigInt(slot) * region + off;
                  const r = w.translate(va, AT_OPS.S1E1R);
                  expect(r.kind).toBe("ok");
                  if (r.kind !== "ok") continue;
                  expect(r.pa).toBe(BigInt(m.oaSlot) * size + off);
                  expect(r.level).toBe(m.level);
                  expect(r.attrIndx).toBe(m.attrIndx);
                  expect(r.nG).toBe(m.nG);
                  expect(r.permissions.pw).toBe((m.ap & 2) === 0);
                  expect(r.permissions.ur).toBe((m.ap & 1) === 1);
                  // An address just past the leaf (inside the same region) is unmapped.
                  if (size < region) {
                    const after = w.translate(BigInt(slot) * region + size, AT_OPS.S1E1R);
                    expect(after.kind).toBe("fault");
                    if (after.kind === "fault") expect(after.fault).toBe("translation");
                  }
                }
              }
              // The walk's other descriptor read (walker.ts readSlow, taken on a frame-cache miss) with
              // the trail off gives the same output addresses: back the frame 8192 frames above each
              // table frame (the same frame-cache slot), which evicts the table frame, and walk again.
              const tableFrames = new Set<bigint>();
              for (const [slot] of used) {
                for (const e of w.translate(BigInt(slot) * region, AT_OPS.S1E1R).trail) tableFrames.add(e.address >> 12n);
              }
              for (const f of tableFrames) t.mem.write64((f + 8192n) << 12n, 0n);
              w.recordTrail = false;
              const read = accessCode(AT_OPS.S1E1R);
              for (const [slot, m] of used) {
                const size = 1n << BigInt(levelShift(g, m.level));
                for (const o of offsets) {
                  const off = o % size;
                  const va = BigInt(slot) * region + off;
                  expect(w.walkRaw(Number(va >> 32n), Number(va & 0xffffffffn), read)).toBe(0);
                  expect(BigInt(w.pa)).toBe(BigInt(m.oaSlot) * size + off);
                  expect(w.level).toBe(m.level);
                  expect(w.trailLen).toBe(0);
                }
              }
              w.recordTrail = true;
              const leaves = leafMappings(t.mem, w.ctx, 0n, 1n << BigInt(iaBits));
              expect(leaves.map((l) => l.va)).toEqual([...used.keys()].sort((a, b) => a - b).map((s) => BigInt(s) * region));
            },
          ),
          { numRuns: propertyRuns(40) },
        );
      });
    }
  }
});
