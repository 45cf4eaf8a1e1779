/**
 * The machine-wide table of descriptor stores walkers may not observe yet (ordering.ts
 * PendingByPa): an open-addressing table must answer exactly as a Map would, whatever the mix of
 * stores, removals (ISB retiring, a newer store replacing) and PAs (up to 2^52, colliding slots).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PendingByPa, type PendingStore } from "../../src/machine/ordering.js";

const rec = (pa: number, id: number): PendingStore => ({ id, pa, oldHi: 0, oldLo: 0, step: id, cpu: 0, completeStep: 0, needsDc: 0 });

describe("pending stores by PA", () => {
  it("answers like a Map over any sequence of sets and removals", () => {
    // PAs drawn from a few frames (many share a probe chain) and from high addresses (above 2^32).
    const near = (i: number): number => 0x4000_0000 + i * 8;
    const high = (i: number): number => (2 ** 49 - 1 - i) * 8;
    const pa = fc.oneof(fc.integer({ min: 0, max: 39 }).map(near), fc.integer({ min: 0, max: 9 }).map(high));
    const every = [...Array.from({ length: 40 }, (_, i) => near(i)), ...Array.from({ length: 10 }, (_, i) => high(i))];
    const op = fc.record({ set: fc.boolean(), pa, stale: fc.boolean() });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const t = new PendingByPa();
        const m = new Map<number, PendingStore>();
        let id = 0;
        for (const o of ops) {
          if (o.set) {
            const r = rec(o.pa, ++id);
            t.set(o.pa, r);
            m.set(o.pa, r);
          } else {
            // Removing a record that is no longer the latest at its PA leaves the latest in place.
            const cur = m.get(o.pa);
            const r = o.stale || cur === undefined ? rec(o.pa, -1) : cur;
            t.remove(o.pa, r);
            if (cur === r) m.delete(o.pa);
          }
          expect(t.size).toBe(m.size);
          for (const a of every) expect(t.get(a)).toBe(m.get(a));
        }
      }),
      { numRuns: 100 },
    );
  });
});
