import { describe, expect, it } from "vitest";
import { blockAllowed, contiguousEntries, GRANULE_4K, GRANULE_16K, GRANULE_64K, levelSize, startLevel } from "../../src/arch/granule.js";
import { decodeMair, decodeMairAttr } from "../../src/arch/mair.js";
import {
  decodeTcr,
  effectivePaBits,
  encodeTcr,
  FEATURES_MAX,
  FEATURES_V80,
  featuresFromIdRegs,
  LINUX_MAIR,
  tnszLimits,
} from "../../src/arch/registers.js";

describe("granule geometry", () => {
  // Start levels from the Arm ARM's TnSZ tables (vmsa-rules.md §1.1, ASL AArch64.S1StartLevel).
  it.each([
    [GRANULE_4K, 12, -1],
    [GRANULE_4K, 15, -1],
    [GRANULE_4K, 16, 0],
    [GRANULE_4K, 24, 0],
    [GRANULE_4K, 25, 1],
    [GRANULE_4K, 33, 1],
    [GRANULE_4K, 34, 2],
    [GRANULE_4K, 42, 2],
    [GRANULE_4K, 43, 3],
    [GRANULE_4K, 48, 3],
    [GRANULE_16K, 12, 0],
    [GRANULE_16K, 16, 0],
    [GRANULE_16K, 17, 1],
    [GRANULE_16K, 27, 1],
    [GRANULE_16K, 28, 2],
    [GRANULE_16K, 38, 2],
    [GRANULE_16K, 39, 3],
    [GRANULE_16K, 48, 3],
    [GRANULE_64K, 12, 1],
    [GRANULE_64K, 21, 1],
    [GRANULE_64K, 22, 2],
    [GRANULE_64K, 34, 2],
    [GRANULE_64K, 35, 3],
    [GRANULE_64K, 47, 3],
  ])("%s granule with TnSZ=%i starts at level %i", (g, tnsz, level) => {
    expect(startLevel(g, tnsz)).toBe(level);
  });

  it("gives entry sizes per level", () => {
    expect(levelSize(GRANULE_4K, 1)).toBe(2 ** 30);
    expect(levelSize(GRANULE_4K, 0)).toBe(2 ** 39);
    expect(levelSize(GRANULE_16K, 2)).toBe(32 * 2 ** 20);
    expect(levelSize(GRANULE_64K, 2)).toBe(512 * 2 ** 20);
    expect(levelSize(GRANULE_64K, 1)).toBe(4 * 2 ** 40);
  });

  it("allows blocks only where the architecture does (ASL AArch64.BlockDescSupported)", () => {
    const no = { ds: false, pa52: false };
    expect([0, 1, 2, 3].map((l) => blockAllowed(GRANULE_4K, l, no))).toEqual([false, true, true, false]);
    expect(blockAllowed(GRANULE_4K, 0, { ds: true, pa52: true })).toBe(true);
    expect(blockAllowed(GRANULE_4K, -1, { ds: true, pa52: true })).toBe(false);
    expect([0, 1, 2, 3].map((l) => blockAllowed(GRANULE_16K, l, no))).toEqual([false, false, true, false]);
    expect(blockAllowed(GRANULE_16K, 1, { ds: true, pa52: true })).toBe(true);
    expect([1, 2, 3].map((l) => blockAllowed(GRANULE_64K, l, no))).toEqual([false, true, false]);
    expect(blockAllowed(GRANULE_64K, 1, { ds: false, pa52: true })).toBe(true);
  });

  it("knows contiguous group sizes (ASL ContiguousSize)", () => {
    expect([0, 1, 2, 3].map((l) => contiguousEntries(GRANULE_4K, l))).toEqual([0, 16, 16, 16]);
    expect([1, 2, 3].map((l) => contiguousEntries(GRANULE_16K, l))).toEqual([0, 32, 128]);
    expect([1, 2, 3].map((l) => contiguousEntries(GRANULE_64K, l))).toEqual([0, 32, 32]);
  });
});

describe("registers", () => {
  it("decodes the TCR_EL1 of a real Linux 6.1 4K/48-bit kernel", () => {
    const t = decodeTcr(0x014001b5b5503510n);
    expect(t.t0.tnsz).toBe(16);
    expect(t.t1.tnsz).toBe(16);
    expect(t.t0.granule).toBe(GRANULE_4K);
    // TG1 uses its own encoding: 0b10 = 4K.
    expect(t.t1.tg).toBe(2);
    expect(t.t1.granule).toBe(GRANULE_4K);
    expect(t.a1).toBe(true);
    expect(t.ips).toBe(5);
    expect(t.as).toBe(true);
    expect(t.t0.tbi).toBe(true);
    expect(t.t1.tbi).toBe(false);
    expect(t.ha).toBe(true);
    expect(t.hd).toBe(true);
    expect(t.t1.e0pd).toBe(true);
  });

  it("encodes TG0 and TG1 with their different encodings", () => {
    const t = decodeTcr(encodeTcr({ t0sz: 17, t1sz: 17, tg0: "16K", tg1: "16K", ipsBits: 48 }));
    expect(t.t0.tg).toBe(2);
    expect(t.t1.tg).toBe(1);
    expect(t.t0.granule).toBe(GRANULE_16K);
    expect(t.t1.granule).toBe(GRANULE_16K);
    const r = decodeTcr(0n);
    // TG1=0b00 is reserved.
    expect(r.t1.tgReserved).toBe(true);
  });

  it("caps the output size at 48 bits for 4K/16K without DS and at PARange", () => {
    const t = decodeTcr(encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 52 }));
    expect(effectivePaBits(t, t.t1, FEATURES_MAX)).toBe(48);
    const t64 = decodeTcr(encodeTcr({ t0sz: 16, t1sz: 16, tg0: "64K", tg1: "64K", ipsBits: 52 }));
    expect(effectivePaBits(t64, t64.t1, FEATURES_MAX)).toBe(52);
    expect(effectivePaBits(t64, t64.t1, { ...FEATURES_MAX, paBits: 44 })).toBe(44);
  });

  it("limits TnSZ per feature set (ASL AArch64.S1MinTxSZ / MaxTxSZ)", () => {
    const t = decodeTcr(encodeTcr({ t0sz: 16, t1sz: 16, tg0: "64K", tg1: "4K", ipsBits: 48 }));
    expect(tnszLimits(t.t0, false, FEATURES_MAX)).toEqual({ min: 12, max: 47 });
    expect(tnszLimits(t.t1, false, FEATURES_MAX)).toEqual({ min: 16, max: 48 });
    expect(tnszLimits(t.t1, true, FEATURES_MAX)).toEqual({ min: 12, max: 48 });
    expect(tnszLimits(t.t1, false, FEATURES_V80)).toEqual({ min: 16, max: 39 });
  });

  it("derives features from ID registers", () => {
    const f = featuresFromIdRegs({ mmfr0: 0x0000032310201126n, mmfr1: 0x0000011010211122n, mmfr2: 0x1021011010011011n });
    expect(f.paBits).toBe(52);
    expect(f.lva).toBe(true);
    expect(f.ttst).toBe(true);
    expect(f.bbm).toBe(2);
    expect(f.hafdbs).toBe(2);
  });

  it("decodes Linux's MAIR_EL1 attribute names", () => {
    expect(
      decodeMair(LINUX_MAIR)
        .slice(0, 5)
        .map((a) => a.name),
    ).toEqual(["Normal-WB-RWA", "Normal-WB-RWA", "Normal-NC", "Device-nGnRnE", "Device-nGnRE"]);
    expect(decodeMairAttr(0xf0).name).toBe("Normal-Tagged");
    expect(decodeMairAttr(0x0c).name).toBe("Device-GRE");
    expect(decodeMairAttr(0xbb).name).toBe("Normal-WT-RWA");
    expect(decodeMairAttr(0x40).kind).toBe("reserved");
  });
});
