/**
 * The QEMU differential generator's contiguous groups (src/diff-qemu/generate.ts), checked without
 * QEMU: every group it writes is well-formed (Arm ARM D8 "The Contiguous bit": all entries of the
 * aligned group have the bit, consecutive OAs from a base aligned to the group size, identical
 * attributes), and under a 32-bit IPS it produces groups that cross the PA size, whose entries
 * above 4 GiB the walker must fault at their own level (ASL AArch64.S1Walk, AArch64.OAOutOfRange on
 * LeafBase).
 */
import { describe, expect, it } from "vitest";
import { contiguousEntries, levelShift } from "../../src/arch/granule.js";
import { generateCases } from "../../src/diff-qemu/campaign.js";
import { HARNESS_ACCESS } from "../../src/diff-qemu/compare.js";
import { Walker } from "../../src/walk/walker.js";

describe("QEMU differential generator: contiguous groups", () => {
  const cases = generateCases({ seeds: [1, 2], jobsPerSeed: 10, pathsPerHalf: 14, ipsBits: 32, contiguousChance: 0.3 });

  it("writes only whole, aligned groups with consecutive OAs and identical attributes", () => {
    let groups = 0;
    let crossingFaults = 0;
    for (const c of cases) {
      const w = new Walker(c.mem, c.regs);
      for (const q of c.job.queries) {
        const r = w.translate(q.va, HARNESS_ACCESS[q.op]);
        const last = r.trail[r.trail.length - 1];
        const d = last?.descriptor;
        const h = w.half;
        if (!last || !d || !h || (d.kind !== "block" && d.kind !== "page") || !d.contiguous) continue;
        groups++;
        const n = contiguousEntries(h.granule, d.level);
        const size = 1n << BigInt(levelShift(h.granule, d.level));
        const first = last.address & ~BigInt(n * 8 - 1);
        const i0 = (last.address - first) / 8n;
        const base = d.oa - i0 * size;
        expect(base % (size * BigInt(n))).toBe(0n);
        // Everything but the OA field is the same in every entry of the group.
        const oaMask = ((1n << 48n) - 1n) & ~(size - 1n);
        for (let i = 0; i < n; i++) {
          const v = c.mem.read64(first + BigInt(i) * 8n);
          expect(v).toBeDefined();
          if (v === undefined || last.value === undefined) continue;
          expect(v & ~oaMask).toBe(last.value & ~oaMask);
          expect(v & oaMask).toBe((base + BigInt(i) * size) & oaMask);
        }
        if (base < 1n << 32n && d.oa >= 1n << 32n) {
          expect(r).toMatchObject({ kind: "fault", fault: "address-size", level: d.level });
          crossingFaults++;
        }
      }
    }
    expect(groups).toBeGreaterThan(100);
    expect(crossingFaults).toBeGreaterThan(10);
  });
});
