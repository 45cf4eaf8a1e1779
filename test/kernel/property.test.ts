/**
 * Builder-vs-walker agreement: for random legal requests, createMapping's tables walk (with the
 * hardware walker) to exactly the requested PA and attributes, at the largest granularity the
 * kernel's rules allow (linux-arm64-mm.md 9, rules 2-3), for every granule and VA size.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kernelBlockLevel, kernelContEntries } from "../../src/kernel/geometry.js";
import { createMapping } from "../../src/kernel/mmu.js";
import { NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS, type ProtName } from "../../src/kernel/prot.js";
import { propertyRuns } from "../helpers/property.js";
import { CONFIGS, rig } from "./helpers.js";

const PROTS: ProtName[] = ["PAGE_KERNEL", "PAGE_KERNEL_RO", "PAGE_KERNEL_ROX", "PAGE_KERNEL_EXEC", "PROT_DEVICE_nGnRE", "PROT_NORMAL_NC"];

/** Expected level and contiguous bit for the entry mapping `off` (oracle of the kernel's chunking). */
function expected(
  k: ReturnType<typeof rig>["k"],
  off: number,
  start: number,
  end: number,
  delta: number,
  flags: number,
): { level: number; cont: boolean } {
  const fits = (size: number): boolean => {
    const w = off - (off % size);
    return w >= start && w + size <= end && ((delta % size) + size) % size === 0;
  };
  let level = 3;
  if ((flags & NO_BLOCK_MAPPINGS) === 0) {
    for (let l = k.geo.pgdLevel; l < 3; l++) {
      if (kernelBlockLevel(k.geo, l) && fits(2 ** k.shiftOf(l))) {
        level = l;
        break;
      }
    }
  }
  const n = kernelContEntries(k.geo, level);
  const cont = (flags & NO_CONT_MAPPINGS) === 0 && n > 0 && fits(n * 2 ** k.shiftOf(level));
  return { level, cont };
}

describe("createMapping agrees with the hardware walk", () => {
  for (const cfg of CONFIGS) {
    it(`${cfg.granule}/${cfg.vaBits}`, () => {
      const probe = rig(cfg).k;
      const g = probe.geo;
      const shifts = [
        g.PAGE_SHIFT,
        g.CONT_PTE_SHIFT,
        g.PMD_SHIFT,
        ...(g.contPmdSupported ? [g.CONT_PMD_SHIFT] : []),
        ...(g.pudSectSupported ? [g.PUD_SHIFT] : []),
      ];
      const paLimit = g.pa52 ? 2 ** 52 : 2 ** 48;
      fc.assert(
        fc.property(
          fc.constantFrom(...shifts),
          fc.constantFrom(...shifts),
          // Jitter 0 (aligned) is the interesting case for blocks and contiguous groups.
          fc.constantFrom(0, 0, 0, 1, 2, 5),
          fc.constantFrom(0, 0, 0, 1, 3, 4),
          fc.integer({ min: 1, max: 24 }),
          fc.constantFrom(0, NO_BLOCK_MAPPINGS, NO_CONT_MAPPINGS, NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS),
          fc.constantFrom(...PROTS),
          fc.boolean(),
          (vaShift, sizeShift, vaJitter, paJitter, mult, flags, protName, highPa) => {
            const r = rig(cfg);
            const k = r.k;
            const ps = g.PAGE_SIZE;
            const noBlock = (flags & NO_BLOCK_MAPPINGS) !== 0;
            // Keep page-granular requests small enough for a unit test.
            const unit = noBlock ? Math.min(2 ** sizeShift, 2 ** 23) : 2 ** sizeShift;
            const size = Math.min(unit * mult + (vaJitter % 2) * ps, 2 ** (g.vaBits - 2));
            const start = Math.min(2 ** vaShift * (3 + vaJitter) + vaJitter * ps, 2 ** (g.vaBits - 2));
            let pa = 2 ** vaShift * (5 + paJitter) + (paJitter % 3) * ps + (start % ps);
            if (highPa && g.pa52) pa += 2 ** 49 + 2 ** 48;
            if (pa + size >= paLimit) pa = 2 ** 30;
            const prot = k.prots[protName];
            const va = k.kva(start);
            createMapping(k, r.root, pa, va, size, prot, { flags, alloc: r.alloc });
            const w = r.walker();
            const probes = [start, start + size - 1, start + Math.floor(size / 2), start + Math.floor(size / 3)];
            for (const off of probes) {
              const t = w.translate(k.kva(off), { type: "read", el: 1 });
              expect(t.kind, `read at +0x${off.toString(16)}`).toBe("ok");
              if (t.kind !== "ok") continue;
              expect(t.pa).toBe(BigInt(pa + (off - start)));
              const e = expected(k, off, start, start + size, pa - start, flags);
              expect(t.level).toBe(e.level);
              expect(t.contiguous).toBe(e.cont);
              expect(t.attrIndx).toBe(Number((prot >> 2n) & 7n));
              expect(t.permissions.pw).toBe((prot & (1n << 7n)) === 0n);
              expect(t.permissions.px).toBe((prot & (1n << 53n)) === 0n);
              expect(t.permissions.ux).toBe(false);
              expect(t.permissions.ur).toBe(false);
            }
            for (const off of [start - ps, start + size]) {
              if (off < 0 || off >= 2 ** g.vaBits) continue;
              // Only whole pages are mapped: the neighbours outside the page-aligned range stay unmapped.
              const t = w.translate(k.kva(off), { type: "read", el: 1 });
              expect(t.kind).toBe("fault");
            }
          },
        ),
        { numRuns: propertyRuns(40) },
      );
    });
  }
});
