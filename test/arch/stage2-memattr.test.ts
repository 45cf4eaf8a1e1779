import { describe, expect, it } from "vitest";
import { decodeMairAttr } from "../../src/arch/mair.js";
import { combineS1S2, combineShareability, decodeS2MemAttr, type ShareDomain, weakerCache } from "../../src/arch/stage2-memattr.js";

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, "0")}`;

function attrOf(s1: number, s2MemAttr: number, fwb: boolean, s1Sh: ShareDomain = "ISH", s2Sh: ShareDomain = "ISH"): string {
  const r = combineS1S2(s1, s1Sh, decodeS2MemAttr(s2MemAttr, fwb), s2Sh);
  return r.kind === "ok" ? hex2(r.attr) : r.kind;
}

describe("combining stage-1 and stage-2 attributes (FWB=0)", () => {
  // Worked PAR.ATTR values of vmsa-regimes.md §1.9, derived from ASL S2CombineS1MemAttrs /
  // S2CombineS1Device / S2CombineS1AttrHints (Arm ARM D8.5 "Combining the stage 1 and stage 2
  // attributes"). Rows 4-6 are where QEMU deviates (§5 #2, #3): the ASL answer is pinned.
  const WORKED: [s1: number, s2: number, want: number][] = [
    [0xff, 0b1111, 0xff],
    [0xff, 0b1010, 0xbb], // WT/WT with stage-1 RWA hints
    [0xff, 0b0101, 0x44],
    [0x77, 0b0110, 0x43], // inner WT keeps stage 1's transient flag and hints (QEMU: 0x4b)
    [0x0c, 0b0101, 0x0c], // stage-1 Device stays Device (QEMU: 0x04)
    [0x44, 0b0011, 0x0c], // stage-2 Device wins over stage-1 Normal (QEMU: 0x04)
    [0x0c, 0b0001, 0x04], // Device + Device: the more restrictive
    [0xff, 0b0000, 0x00],
  ];
  it.each(WORKED)("S1 MAIR %i + S2 MemAttr %i → PAR.ATTR %i", (s1, s2, want) => {
    expect(attrOf(s1, s2, false)).toBe(hex2(want));
  });

  it("Device + Device is the more restrictive type for every pair", () => {
    // nGnRnE > nGnRE > nGRE > GRE (ASL S2CombineS1Device).
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) expect(attrOf(a << 2, b, false)).toBe(hex2(Math.min(a, b) << 2));
  });

  it("the weaker cacheability wins at each level", () => {
    expect(weakerCache("WB", "WT")).toBe("WT");
    expect(weakerCache("WT", "NC")).toBe("NC");
    expect(weakerCache("WB", "WB")).toBe("WB");
    expect(weakerCache("NC", "WB")).toBe("NC");
  });

  it("MTE Tagged survives only a Normal WB/WB stage 2", () => {
    // vmsa-regimes.md §1.9: tagged only if stage 1 is tagged and the result is WB RWA non-transient.
    expect(attrOf(0xf0, 0b1111, false)).toBe("0xf0");
    expect(attrOf(0xf0, 0b1110, false)).toBe("0xfb");
  });

  it("a reserved stage-2 MemAttr or stage-1 byte is CONSTRAINED UNPREDICTABLE, not guessed", () => {
    expect(attrOf(0xff, 0b1000, false)).toBe("unpredictable");
    expect(attrOf(0x01, 0b1111, false)).toBe("unpredictable");
  });
});

describe("combining, exhaustively over every MAIR byte and MemAttr (FWB=0)", () => {
  // Arm ARM D8.5 "Combining the stage 1 and stage 2 attributes": the result is never less
  // restrictive than either stage: Device if either is Device, and at each level no more
  // cacheable than either stage (NC < WT < WB).
  const RANK = { NC: 0, WT: 1, WB: 2 } as const;
  it("the result is Device iff either stage is Device, and never more cacheable than either stage", () => {
    const bad: string[] = [];
    for (let s1 = 0; s1 < 256; s1++) {
      const a1 = decodeMairAttr(s1);
      if (a1.kind === "reserved") continue;
      for (let m = 0; m < 16; m++) {
        const s2 = decodeS2MemAttr(m, false);
        const r = combineS1S2(s1, "ISH", s2, "ISH");
        if (s2.kind === "reserved") {
          if (r.kind !== "unpredictable") bad.push(`${hex2(s1)}/${m}: reserved stage 2 combined`);
          continue;
        }
        if (r.kind !== "ok") {
          bad.push(`${hex2(s1)}/${m}: ${r.reason}`);
          continue;
        }
        const out = decodeMairAttr(r.attr);
        const eitherDevice = a1.kind === "device" || s2.kind === "device";
        if ((out.kind === "device") !== eitherDevice) bad.push(`${hex2(s1)}/${m}: ${out.name}`);
        if (out.kind === "normal" && a1.kind === "normal" && s2.kind === "normal") {
          if (RANK[out.inner.policy] > Math.min(RANK[a1.inner.policy], RANK[s2.inner])) bad.push(`${hex2(s1)}/${m}: inner ${out.name}`);
          if (RANK[out.outer.policy] > Math.min(RANK[a1.outer.policy], RANK[s2.outer])) bad.push(`${hex2(s1)}/${m}: outer ${out.name}`);
          if (out.inner.policy !== weakerCache(a1.inner.policy, s2.inner)) bad.push(`${hex2(s1)}/${m}: inner not the weaker`);
        }
      }
    }
    expect(bad.slice(0, 10)).toEqual([]);
  });
});

describe("combining with HCR_EL2.FWB=1", () => {
  // ASL AArch64.S2ApplyFWBMemAttrs; vmsa-regimes.md §1.6 FWB table.
  it("111 keeps the stage-1 attributes", () => {
    for (const s1 of [0xff, 0x44, 0x04, 0xf0, 0x77]) expect(attrOf(s1, 0b0111, true)).toBe(hex2(s1));
  });
  it("110 forces Write-Back, keeping stage-1 hints where stage 1 is cacheable Normal", () => {
    expect(attrOf(0x44, 0b0110, true)).toBe("0xff"); // NC levels → RWA non-transient
    expect(attrOf(0x0c, 0b0110, true)).toBe("0xff"); // Device → WB RWA
    expect(attrOf(0xbb, 0b0110, true)).toBe("0xff"); // WT RWA → WB RWA
    expect(attrOf(0x77, 0b0110, true)).toBe("0x77"); // WB transient keeps its hints
    expect(attrOf(0xaa, 0b0110, true)).toBe("0xee"); // WT R-allocate → WB R-allocate
  });
  it("101 gives Normal NC unless stage 1 is Device", () => {
    expect(attrOf(0xff, 0b0101, true)).toBe("0x44");
    expect(attrOf(0x08, 0b0101, true)).toBe("0x08");
  });
  it("0dd with a stage-1 Device is the more restrictive Device; with stage-1 Normal the stage-2 Device", () => {
    expect(attrOf(0x00, 0b0011, true)).toBe("0x00");
    expect(attrOf(0xff, 0b0001, true)).toBe("0x04");
  });
  it("MemAttr[3] does not change the FWB result", () => {
    for (let m = 0; m < 8; m++) expect(attrOf(0xbb, m | 8, true)).toBe(attrOf(0xbb, m, true));
  });
});

describe("combined shareability", () => {
  // ASL S2CombineS1Shareability and EffectiveShareability (vmsa-regimes.md §1.9).
  it("OSH if either is OSH, else ISH if either is ISH, else NSH", () => {
    const d: ShareDomain[] = ["NSH", "ISH", "OSH"];
    const got = d.flatMap((a) => d.map((b) => combineShareability(a, b)));
    expect(got).toEqual(["NSH", "ISH", "OSH", "ISH", "ISH", "OSH", "OSH", "OSH", "OSH"]);
  });
  it("Device and Normal inner+outer NC results are Outer Shareable", () => {
    const sh = (s1: number, s2: number): string | undefined => {
      const r = combineS1S2(s1, "NSH", decodeS2MemAttr(s2, false), "NSH");
      return r.kind === "ok" ? r.sh : undefined;
    };
    expect(sh(0xff, 0b0000)).toBe("OSH");
    expect(sh(0xff, 0b0101)).toBe("OSH");
    expect(sh(0xff, 0b1111)).toBe("NSH");
  });
});
