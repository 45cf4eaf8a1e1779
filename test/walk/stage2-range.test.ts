/**
 * Range walks over a stage-2 IPA space: walkEntries (the stage-1 range walker) driven by the
 * geometry of a compiled VTCR_EL2/VTTBR_EL2, including concatenated start tables (Arm ARM D8.2:
 * up to 16 start-level tables, contiguous, aligned to their total size, indexed as one table by
 * the extra IPA bits; vmsa-regimes.md §1.2).
 */
import { describe, expect, it } from "vitest";
import { FEATURES_MAX } from "../../src/arch/registers.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { walkEntries } from "../../src/walk/range.js";
import { compileStage2 } from "../../src/walk/stage2.js";
import { stage2Geometry, stage2Unwalkable } from "../../src/walk/stage2-range.js";
import { VTCR_40 } from "../helpers/kvm-stage2-tables.js";

/** Leaves (IPA, level) and holes counted, over the whole IPA space. */
function leaves(mem: PhysMem, g: ReturnType<typeof stage2Geometry>): { ipa: number; level: number }[] {
  const out: { ipa: number; level: number }[] = [];
  walkEntries(mem, g, 0, 2 ** g.iaBits, (e) => {
    if (e.kind === "leaf") out.push({ ipa: e.off, level: e.level });
  });
  return out;
}

describe("stage-2 range walk geometry", () => {
  it("KVM's 40-bit 4K VTCR_EL2: start level 1, 1024 entries over two concatenated tables, no table attributes", () => {
    const s2 = compileStage2({ vtcr: VTCR_40, vttbr: 0x1_0000_4800_0000n, hcr: 1n }, FEATURES_MAX);
    const g = stage2Geometry(s2);
    expect(g).toMatchObject({
      iaBits: 40,
      startLevel: 1,
      base: 0x4800_0000,
      paLimit: 2 ** 40,
      hpd: true,
      tnszFault: false,
      baseFault: false,
    });
    expect(g.bitsAt[2]).toBe(10);
    expect(stage2Unwalkable(s2)).toBeUndefined();
  });

  it("16K pages, 40-bit IPA, SL0=01: sixteen concatenated level-2 tables; the walk reaches the last entry of the last one", () => {
    // T0SZ 24, SL0 01 (16K: start level 2), SH/ORGN/IRGN, TG0 10 (16K), PS 010 (40 bits), RES1 bit 31.
    const vtcr = 0x8002_b558n;
    const base = 0x4000_0000n; // aligned to 16 x 16K
    const s2 = compileStage2({ vtcr, vttbr: base, hcr: 1n }, FEATURES_MAX);
    const g = stage2Geometry(s2);
    expect(g.startLevel).toBe(2);
    expect(g.bitsAt[3]).toBe(15);
    const mem = new PhysMem();
    mem.addRam(base, 0x40000n);
    mem.zero(base, 0x40000);
    // Level-2 blocks of 32M (Arm ARM: 16K level-2 block) at IPA 0 and in the last entry of the 16th table.
    const block = (oa: bigint): bigint => oa | (1n << 10n) | (3n << 6n) | (0xfn << 2n) | 1n;
    mem.write64(base, block(0x8000_0000n));
    mem.write64(base + 0x40000n - 8n, block(0x8200_0000n));
    expect(leaves(mem, g)).toEqual([
      { ipa: 0, level: 2 },
      { ipa: (2 ** 15 - 1) * 2 ** 25, level: 2 },
    ]);
  });

  it("table bits [63:59] are ignored at stage 2 (no APTable/XNTable): a table's subtree is walked the same", () => {
    const s2 = compileStage2({ vtcr: VTCR_40, vttbr: 0x4800_0000n, hcr: 1n }, FEATURES_MAX);
    const g = stage2Geometry(s2);
    const mem = new PhysMem();
    mem.addRam(0x4800_0000n, 0x4000n);
    mem.zero(0x4800_0000n, 0x4000);
    mem.write64(0x4800_0000n, 0x4800_2000n | (0x1fn << 59n) | 3n);
    let apTable = -1;
    walkEntries(mem, g, 0, 2 ** 40, (e) => {
      if (e.kind === "hole" && e.level === 2) apTable = e.apTable | e.uxnTable | e.pxnTable;
    });
    expect(apTable).toBe(0);
  });

  it("an illegal VTCR_EL2 or a start table above PS cannot be walked, and says why", () => {
    // SL0 11 names level 3 for 4K, inconsistent with a 40-bit IPA (ASL AArch64.S2InconsistentSL).
    const bad = compileStage2({ vtcr: 0x8002_35d8n, vttbr: 0n, hcr: 1n }, FEATURES_MAX);
    expect(stage2Unwalkable(bad)?.kind).toBe("invalid-config");
    expect(stage2Geometry(bad).tnszFault).toBe(true);
    const high = compileStage2({ vtcr: VTCR_40, vttbr: 0x100_0000_0000n, hcr: 1n }, FEATURES_MAX);
    expect(stage2Unwalkable(high)).toEqual({ kind: "base-address-size", base: 0x100_0000_0000n, paBits: 40 });
  });
});
