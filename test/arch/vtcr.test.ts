import { describe, expect, it } from "vitest";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, type Granule } from "../../src/arch/granule.js";
import { FEATURES_MAX, FEATURES_V80, type Features } from "../../src/arch/registers.js";
import { decodeVtcr, decodeVttbr, type Stage2Params, stage2Config } from "../../src/arch/vtcr.js";

/** A VTCR_EL2 value from fields (positions: Arm ARM VTCR_EL2 register page; vmsa-regimes.md §1.1). */
function vtcrOf(p: { t0sz: number; sl0: number; tg0: number; ps?: number; ds?: boolean; sl2?: boolean; vs?: boolean }): bigint {
  let v = BigInt(p.t0sz) | (BigInt(p.sl0) << 6n) | (BigInt(p.tg0) << 14n) | (BigInt(p.ps ?? 6) << 16n) | (1n << 31n);
  if (p.vs) v |= 1n << 19n;
  if (p.ds) v |= 1n << 32n;
  if (p.sl2) v |= 1n << 33n;
  return v;
}

const TG0: Record<string, number> = { "4K": 0, "64K": 1, "16K": 2 };

/**
 * The architecture's table of stage-2 start levels and legal T0SZ ranges, written from
 * vmsa-regimes.md §1.2 (Arm ARM D8.2 "stage 2 initial lookup level", VTCR_EL2.SL0; ASL
 * AArch64.S2StartLevel / S2InvalidSL / S2InconsistentSL), NOT computed from the implementation.
 * `base` is legal without options; `ttst`, `ds`, `lpa` list the T0SZ values that become legal only
 * with FEAT_TTST, DS=1 (FEAT_LPA2) or a 52-bit PA (64K, FEAT_LPA). `needs` are conditions on the
 * SL encoding itself (else AArch64.S2InvalidSL). `concat` maps T0SZ → concatenated start tables.
 */
interface Row {
  readonly start: number;
  readonly base: readonly [number, number];
  readonly ttst?: readonly [number, number];
  readonly ds?: readonly [number, number];
  readonly lpa?: readonly [number, number];
  readonly needs?: { readonly ttst?: boolean; readonly ds?: boolean; readonly paMin?: number };
  readonly concat: Readonly<Record<number, number>>;
}

const TABLE: Record<string, Record<string, Row | undefined>> = {
  "4K": {
    "00": { start: 2, base: [30, 39], ttst: [40, 42], concat: { 33: 2, 32: 4, 31: 8, 30: 16 } },
    "01": { start: 1, base: [21, 33], concat: { 24: 2, 23: 4, 22: 8, 21: 16 } },
    "10": { start: 0, base: [16, 24], ds: [12, 15], needs: { paMin: 44 }, concat: { 15: 2, 14: 4, 13: 8, 12: 16 } },
    "11": { start: 3, base: [39, 48], needs: { ttst: true }, concat: { 42: 2, 41: 4, 40: 8, 39: 16 } },
    // SL2=1 (effective only with DS=1): only SL0=00 is defined, start level -1.
    S00: { start: -1, base: [12, 15], needs: { ds: true }, concat: {} },
    S01: undefined,
    S10: undefined,
    S11: undefined,
  },
  "16K": {
    "00": { start: 3, base: [35, 39], ttst: [40, 48], concat: { 38: 2, 37: 4, 36: 8, 35: 16 } },
    "01": { start: 2, base: [24, 38], concat: { 27: 2, 26: 4, 25: 8, 24: 16 } },
    "10": { start: 1, base: [16, 27], ds: [13, 15], needs: { paMin: 42 }, concat: { 16: 2, 15: 4, 14: 8, 13: 16 } },
    "11": { start: 0, base: [12, 16], needs: { ds: true }, concat: {} },
  },
  "64K": {
    "00": { start: 3, base: [31, 39], ttst: [40, 47], concat: { 34: 2, 33: 4, 32: 8, 31: 16 } },
    "01": { start: 2, base: [18, 34], concat: { 21: 2, 20: 4, 19: 8, 18: 16 } },
    "10": { start: 1, base: [16, 21], lpa: [12, 15], needs: { paMin: 44 }, concat: {} },
    "11": undefined,
  },
};

const FEATURE_SETS: readonly [string, Features][] = [
  ["v8.0 48-bit PA", FEATURES_V80],
  ["-cpu max (52-bit PA, TTST, LPA2)", FEATURES_MAX],
  ["40-bit PA", { ...FEATURES_V80, paBits: 40 }],
  ["42-bit PA with TTST", { ...FEATURES_V80, paBits: 42, ttst: true }],
  ["44-bit PA", { ...FEATURES_V80, paBits: 44 }],
  ["52-bit PA without LPA2 or TTST", { ...FEATURES_V80, paBits: 52 }],
];

const within = (r: readonly [number, number] | undefined, t: number): boolean => r !== undefined && t >= r[0] && t <= r[1];

type Expected = { kind: "ok"; start: number; concat: number } | { kind: "invalid"; reason: string };

/** The expected outcome from TABLE and the global limits of §1.2 (S2MinTxSZ / MaxTxSZ). */
function expected(g: Granule, sl0: number, sl2: boolean, ds: boolean, t0sz: number, f: Features): Expected {
  const dsEff = ds && f.lpa2 && g.size !== 65536;
  const wide = g.size === 65536 || dsEff;
  const min = 64 - Math.min(f.paBits, wide ? 52 : 48);
  const max = f.ttst ? (g.size === 65536 ? 47 : 48) : 39;
  if (t0sz < min) return { kind: "invalid", reason: "t0sz-below-min" };
  if (t0sz > max) return { kind: "invalid", reason: "t0sz-above-max" };
  const key = `${g.size === 4096 && sl2 && dsEff ? "S" : ""}${sl0.toString(2).padStart(2, "0")}`;
  const row = TABLE[g.name]?.[key];
  if (!row) return { kind: "invalid", reason: "sl-invalid" };
  const n = row.needs ?? {};
  if ((n.ttst && !f.ttst) || (n.ds && !dsEff) || (n.paMin !== undefined && f.paBits < n.paMin)) {
    return { kind: "invalid", reason: "sl-invalid" };
  }
  const legal =
    within(row.base, t0sz) ||
    (f.ttst && within(row.ttst, t0sz)) ||
    (dsEff && within(row.ds, t0sz)) ||
    (g.size === 65536 && f.paBits >= 52 && within(row.lpa, t0sz));
  if (!legal) return { kind: "invalid", reason: "sl-inconsistent" };
  return { kind: "ok", start: row.start, concat: row.concat[t0sz] ?? 1 };
}

describe("VTCR_EL2: stage-2 start level, concatenation and legality", () => {
  // Arm ARM D8.2 (stage 2 initial lookup level and concatenated tables), ASL AArch64.S2StartLevel,
  // AArch64.S2InvalidSL, AArch64.S2InconsistentSL, AArch64.S2MinTxSZ, AArch64.MaxTxSZ:
  // every SL0 x SL2 x DS x granule x T0SZ against the table of vmsa-regimes.md §1.2.
  for (const [name, f] of FEATURE_SETS) {
    it(`every SL0/SL2/DS/granule/T0SZ combination matches the architecture's table (${name})`, () => {
      const mismatches: string[] = [];
      let ok = 0;
      for (const g of [GRANULE_4K, GRANULE_16K, GRANULE_64K]) {
        for (const sl0 of [0, 1, 2, 3]) {
          for (const sl2 of [false, true]) {
            for (const ds of [false, true]) {
              for (let t0sz = 0; t0sz < 64; t0sz++) {
                const want = expected(g, sl0, sl2, ds, t0sz, f);
                const got = stage2Config(decodeVtcr(vtcrOf({ t0sz, sl0, tg0: TG0[g.name] ?? 0, ds, sl2 })), f);
                const gotShort =
                  got.kind === "ok"
                    ? { kind: "ok", start: got.startLevel, concat: got.concatenated }
                    : { kind: "invalid", reason: got.reason };
                if (want.kind === "ok") ok++;
                if (JSON.stringify(gotShort) !== JSON.stringify(want)) {
                  mismatches.push(
                    `${g.name} SL0=${sl0} SL2=${+sl2} DS=${+ds} T0SZ=${t0sz}: want ${JSON.stringify(want)} got ${JSON.stringify(gotShort)}`,
                  );
                }
              }
            }
          }
        }
      }
      expect(mismatches.slice(0, 20)).toEqual([]);
      expect(ok).toBeGreaterThan(0);
    });
  }

  it("KVM's VTCR_EL2 for a 40-bit IPA with 4K pages starts at level 1 with 2 concatenated tables", () => {
    // KVM (arch/arm64/kvm/pgtable.c, kvm_get_vtcr) prefers concatenation over an extra level
    // (vmsa-regimes.md §1.2): T0SZ=24, SL0=01, IRGN0=ORGN0=WBWA, SH0=ISH, PS=40 bits, RES1 bit 31.
    const vtcr = decodeVtcr(0x8002_3558n);
    expect(vtcr).toMatchObject({ t0sz: 24, sl0: 1, irgn0: 1, orgn0: 1, sh0: 3, tg0: 0, ps: 2 });
    const cfg = stage2Config(vtcr, FEATURES_MAX);
    // KVM's debugfs ipa_range prints 40 and stage2_levels prints 4 - start level = 3 (§4.1).
    expect(cfg).toMatchObject({ kind: "ok", ipaBits: 40, startLevel: 1, levels: 3, concatenated: 2, startEntries: 1024, paBits: 40 });
  });

  it("every VTCR_EL2 KVM builds for a 32..48-bit IPA is legal, with KVM's number of levels", () => {
    // Kernel behaviour (arch/arm64/include/asm/stage2_pgtable.h, kvm_get_vtcr): KVM resolves up to 4
    // extra IPA bits by concatenation, levels = ARM64_HW_PGTABLE_LEVELS(ipa - 4) = (ipa - 8) / (PAGE_SHIFT - 3),
    // at least 2; SL0 = VTCR_EL2_TGRAN_SL0_BASE (4K 2, 16K/64K 3) - (4 - levels). Its debugfs
    // stage2_levels is that number, so our start level must be 4 - levels, with at most 16 tables.
    const base: Record<string, number> = { "4K": 2, "16K": 3, "64K": 3 };
    const seen: string[] = [];
    for (const g of [GRANULE_4K, GRANULE_16K, GRANULE_64K]) {
      for (let ipa = 32; ipa <= 48; ipa++) {
        const levels = Math.max(2, Math.floor((ipa - 8) / (g.shift - 3)));
        const sl0 = (base[g.name] ?? 0) - (4 - levels);
        const c = stage2Config(decodeVtcr(vtcrOf({ t0sz: 64 - ipa, sl0, tg0: TG0[g.name] ?? 0, ps: 5 })), FEATURES_V80);
        const got = c.kind === "ok" ? `L${c.startLevel}x${c.concatenated}` : c.reason;
        seen.push(`${g.name}/${ipa}:${got}`);
        expect(c, `${g.name} ${ipa}-bit IPA`).toMatchObject({ kind: "ok", startLevel: 4 - levels, levels });
      }
    }
    // Spot values: 4K 40-bit → L1 x2 (KVM's default), 4K 44-bit → L0 (32 entries, no concatenation).
    expect(seen).toContain("4K/40:L1x2");
    expect(seen).toContain("4K/44:L0x1");
    expect(seen).toContain("64K/43:L2x2");
  });

  it("TG0 uses TCR_EL1.TG0's encoding; 11 is reserved", () => {
    // Arm ARM VTCR_EL2.TG0: 00 4KB, 01 64KB, 10 16KB (ASL AArch64.S2DecodeTG0).
    expect([0, 1, 2, 3].map((tg0) => decodeVtcr(BigInt(tg0) << 14n).granule.name)).toEqual(["4K", "64K", "16K", "4K"]);
    expect(decodeVtcr(3n << 14n).tgReserved).toBe(true);
    expect(decodeVtcr(2n << 14n).tgReserved).toBe(false);
  });

  it("decodes every single-bit field at its position", () => {
    // Field positions: vmsa-regimes.md §1.1 (ASL VTCR_EL2_Type).
    const at: [number, string][] = [
      [19, "vs"],
      [21, "ha"],
      [22, "hd"],
      [29, "nsw"],
      [30, "nsa"],
      [32, "ds"],
      [33, "sl2"],
      [34, "assuredOnly"],
      [35, "tl1"],
      [36, "s2pie"],
      [37, "s2poe"],
      [38, "d128"],
      [40, "gcsh"],
      [41, "tl0"],
      [44, "haft"],
    ];
    for (const [bitNo, field] of at) {
      const v = decodeVtcr(1n << BigInt(bitNo)) as unknown as Record<string, unknown>;
      const set = Object.entries(v)
        .filter(([k, x]) => x === true && k !== "tgReserved")
        .map(([k]) => k);
      expect(set, `bit ${bitNo}`).toEqual([field]);
    }
    expect(decodeVtcr(0xfn << 25n).hwu).toBe(0xf);
    expect(decodeVtcr(7n << 16n).ps).toBe(7);
  });

  it("effective PS is min(PS, PAMax), 48 for 4K/16K without DS", () => {
    // ASL AArch64.PhysicalAddressSize.
    const p = (v: bigint, f: Features): Stage2Config["kind"] | number => {
      const c = stage2Config(decodeVtcr(v), f);
      return c.kind === "ok" ? c.paBits : c.kind;
    };
    expect(p(vtcrOf({ t0sz: 24, sl0: 1, tg0: 0, ps: 6 }), FEATURES_MAX)).toBe(48);
    expect(p(vtcrOf({ t0sz: 24, sl0: 1, tg0: 0, ps: 6, ds: true }), FEATURES_MAX)).toBe(52);
    expect(p(vtcrOf({ t0sz: 24, sl0: 1, tg0: 0, ps: 6, ds: true }), FEATURES_V80)).toBe(48);
    expect(p(vtcrOf({ t0sz: 30, sl0: 1, tg0: 1, ps: 6 }), FEATURES_MAX)).toBe(52);
    expect(p(vtcrOf({ t0sz: 30, sl0: 1, tg0: 1, ps: 6 }), FEATURES_V80)).toBe(48);
    expect(p(vtcrOf({ t0sz: 24, sl0: 1, tg0: 0, ps: 1 }), FEATURES_MAX)).toBe(36);
  });

  it("an IPA wider than PS is legal but flagged (outputs above PS are Address size faults)", () => {
    const c = stage2Config(decodeVtcr(vtcrOf({ t0sz: 24, sl0: 1, tg0: 0, ps: 0 })), FEATURES_MAX);
    expect(c).toMatchObject({ kind: "ok", ipaBits: 40, paBits: 32, ipaExceedsPs: true });
  });

  it("D128 is reported, not walked", () => {
    const c = stage2Config(decodeVtcr(vtcrOf({ t0sz: 24, sl0: 1, tg0: 0 }) | (1n << 38n)), FEATURES_MAX);
    expect(c).toMatchObject({ kind: "invalid", reason: "d128-unsupported" });
  });

  it("a feature set with an impossible PA size is API misuse (RegisterError), not a register value", () => {
    expect(() => stage2Config(decodeVtcr(0x80023558n), { ...FEATURES_MAX, paBits: 50 })).toThrow(/paBits: 50/);
  });
});

type Stage2Config = ReturnType<typeof stage2Config>;

function okParams(v: bigint, f: Features = FEATURES_MAX): Stage2Params {
  const c = stage2Config(decodeVtcr(v), f);
  if (c.kind !== "ok") throw new Error(`test setup: ${c.detail}`);
  return c;
}

describe("VTTBR_EL2", () => {
  it("VMID is 8 bits with VS=0 and 16 bits with VS=1", () => {
    // Arm ARM VTTBR_EL2.VMID; VTCR_EL2.VS (FEAT_VMID16).
    const v8 = decodeVtcr(vtcrOf({ t0sz: 24, sl0: 1, tg0: 0 }));
    const v16 = decodeVtcr(vtcrOf({ t0sz: 24, sl0: 1, tg0: 0, vs: true }));
    const raw = 0xabcd_0000_8000_0001n;
    expect(decodeVttbr(raw, v8, okParams(v8.raw)).vmid).toBe(0xcd);
    expect(decodeVttbr(raw, v16, okParams(v16.raw)).vmid).toBe(0xabcd);
    expect(decodeVttbr(raw, v8, okParams(v8.raw)).cnp).toBe(true);
  });

  it("the start table base is BADDR aligned down to the concatenated table size", () => {
    // ASL AArch64.S2TTBaseAddress: 2 concatenated 4K tables → 8K-aligned base.
    const v = decodeVtcr(0x8002_3558n);
    const t = decodeVttbr(0x0000_0000_8000_1000n, v, okParams(v.raw));
    expect(t.baddr).toBe(0x8000_1000n);
    expect(t.tableBase).toBe(0x8000_0000n);
  });

  it("52-bit forms take BADDR[51:48] from bits [5:2] (DS=1, or 64K with PS=52)", () => {
    // vmsa-regimes.md §1.3; the same placement as TTBRn_EL1 (ASL AArch64.S2TTBaseAddress).
    const ds = decodeVtcr(vtcrOf({ t0sz: 12, sl0: 0, sl2: true, tg0: 0, ds: true }));
    const a = decodeVttbr(0x0000_1234_5678_0000n | (0xan << 2n), ds, okParams(ds.raw));
    expect(a.baddr).toBe(0x000a_1234_5678_0000n);
    const k64 = decodeVtcr(vtcrOf({ t0sz: 12, sl0: 2, tg0: 1, ps: 6 }));
    expect(decodeVttbr(0x0000_1234_5678_0000n | (0x3n << 2n), k64, okParams(k64.raw)).baddr).toBe(0x0003_1234_5678_0000n);
    // 64K with PS=48: bits [5:2] are not address bits.
    const k48 = decodeVtcr(vtcrOf({ t0sz: 20, sl0: 2, tg0: 1, ps: 5 }));
    expect(decodeVttbr(0x0000_1234_5678_0000n | (0x3n << 2n), k48, okParams(k48.raw)).baddr).toBe(0x0000_1234_5678_000cn);
  });

  it("a start table above the effective PS is a stage-2 Address size fault at level 0", () => {
    // ASL AArch64.S2Walk; vmsa-regimes.md §1.7 item 3.
    const v = decodeVtcr(0x8002_3558n); // PS = 40 bits
    expect(decodeVttbr(0x0000_0100_0000_0000n, v, okParams(v.raw)).addressSizeFault).toBe(true);
    expect(decodeVttbr(0x0000_00ff_ffff_e000n, v, okParams(v.raw)).addressSizeFault).toBe(false);
  });
});
