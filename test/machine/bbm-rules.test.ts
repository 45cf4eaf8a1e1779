/**
 * Every line of the break-before-make rule table, with its secondary outputs (tlbiNeeded,
 * conflictPossible, reason), pinned by the rule it encodes (mutation testing:
 * `npm run test:mutation -- bbm`). Sources: reference vmsa-rules.md §4.1 (Arm ARM DDI0487
 * D8.17.1 "Using break-before-make when updating translation table entries", RWHZWS), §4.3
 * (FEAT_BBM levels, RPVTFW) and §4.4 (TLB conflict aborts); Linux pgattr_change_is_safe().
 * Descriptors are built bit by bit here so these tests do not depend on the encoder.
 */
import { describe, expect, it } from "vitest";
import { descriptorFormat } from "../../src/arch/descriptor.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, type Granule } from "../../src/arch/granule.js";
import { type BbmOptions, bbmRequirement } from "../../src/machine/bbm.js";

const AF = 1n << 10n;
const SH_INNER = 3n << 8n;
const NS = 1n << 5n;
const AP2 = 1n << 7n;
const NG = 1n << 11n;
const NT = 1n << 16n;
const CONT = 1n << 52n;
const PXN = 1n << 53n;
const attr = (i: number) => BigInt(i) << 2n;

/** A live page (level 3) or block (levels 0-2) at `oa`, Inner Shareable, AF=1. */
const page = (oa: bigint, bits = 0n) => oa | 3n | AF | SH_INNER | bits;
const block = (oa: bigint, bits = 0n) => oa | 1n | AF | SH_INNER | bits;
const table = (next: bigint, bits = 0n) => next | 3n | bits;

/** BbmOptions plus the format flags these tests vary (TCR.DS; output-address size in bits). */
type ReqOptions = BbmOptions & { readonly ds?: boolean; readonly oaBits?: number };

/** The one call of bbmRequirement here (adapt this when its signature changes). */
function req(oldDesc: bigint, newDesc: bigint, level: number, bbmLevel: number, opts: ReqOptions = {}, g: Granule = GRANULE_4K) {
  const { ds = false, oaBits = 52, ...bbm } = opts;
  return bbmRequirement(oldDesc, newDesc, level, descriptorFormat(g, { ds, oaBits, paMaxBits: 52 }), bbmLevel, bbm);
}

describe("entries that are not live need no break", () => {
  // §4.1: invalid entries are never cached, so valid→invalid and invalid→valid never need BBM;
  // the old valid entry still has to be invalidated from the TLB (tlbiNeeded), a new one from an
  // invalid entry does not.
  it("valid → invalid needs a TLBI afterwards, invalid → valid does not", () => {
    const off = req(page(0x4000_0000n), 0n, 3, 0);
    expect(off).toMatchObject({ required: false, rule: "bbm.not-live", tlbiNeeded: true, conflictPossible: false });
    expect(off.reason).toMatch(/invalid entry is never cached/);
    expect(req(0n, page(0x4000_0000n), 3, 0)).toMatchObject({ required: false, rule: "bbm.not-live", tlbiNeeded: false });
    expect(req(0n, 0x8000_0000n, 3, 0)).toMatchObject({ rule: "bbm.not-live", tlbiNeeded: false });
  });

  // ASL AArch64.DecodeDescriptorType: bits[1:0]=0b01 at level 3 is reserved and behaves as invalid,
  // while 0b11 at level 3 is a page (a leaf), not a table.
  it("a reserved 0b01 entry at level 3 is not live; 0b11 at level 3 is a page", () => {
    expect(req(0x4000_0401n, page(0x4001_0000n), 3, 0)).toMatchObject({ rule: "bbm.not-live", tlbiNeeded: false });
    expect(req(page(0x4000_0000n), 0x4001_0401n, 3, 0)).toMatchObject({ rule: "bbm.not-live", tlbiNeeded: true });
    expect(req(page(0x4000_0000n), page(0x4001_0000n), 3, 0).rule).toBe("bbm.output-address");
  });

  it("an unchanged descriptor needs neither a break nor a TLBI", () => {
    const r = req(page(0x4000_0000n), page(0x4000_0000n), 3, 0);
    expect(r).toMatchObject({ required: false, rule: "bbm.same", tlbiNeeded: false, conflictPossible: false });
    expect(r.reason).toMatch(/unchanged/);
  });

  // An entry with AF=0 cannot be held in a TLB unless hardware manages AF (TCR.HA): D8.5.
  it("an old leaf with AF=0 is not cached (no TLBI) unless TCR.HA is set", () => {
    const r = req(page(0x4000_0000n) & ~AF, page(0x4001_0000n), 3, 0);
    expect(r).toMatchObject({ required: false, rule: "bbm.not-live", tlbiNeeded: false });
    expect(r.reason).toMatch(/AF=0/);
    expect(req(page(0x4000_0000n) & ~AF, page(0x4001_0000n), 3, 0, { ha: true }).rule).toBe("bbm.output-address");
  });

  // AF exists only in leaf descriptors; bit 10 of a table descriptor is IGNORED (D8.3.1), so a
  // table is live whatever bit 10 says.
  it("a table descriptor is live whatever its bit 10", () => {
    expect(req(table(0x9_0000n), table(0x9_1000n), 1, 0).rule).toBe("bbm.table-address");
  });
});

describe("table descriptors", () => {
  // vmsa-rules.md §4.1 open point (SEC IHYQMB): walk caches may hold the old next-level table.
  it("re-pointing needs BBM; only hierarchical attributes changing needs a TLBI only", () => {
    const moved = req(table(0x9_0000n), table(0x9_1000n), 1, 3);
    expect(moved).toMatchObject({ required: true, tlbiNeeded: true, conflictPossible: false });
    expect(moved.reason).toMatch(/re-pointed/);
    const attrs = req(table(0x9_0000n), table(0x9_0000n, 1n << 61n), 1, 0);
    expect(attrs).toMatchObject({ required: false, rule: "bbm.permissions", tlbiNeeded: true, conflictPossible: false });
    expect(attrs.reason).toMatch(/hierarchical attributes/);
  });

  // D8.3.1: the next-level table address is [47:g] (g = granule shift), plus OA[51:48] in bits
  // [15:12] for 64K and OA[49:48] in place / OA[51:50] in bits [9:8] with TCR.DS.
  it("reads the next-level address field the granule and DS define", () => {
    // 64K: bits [15:12] are address bits (OA[51:48]).
    expect(req(table(0x1_0000n), table(0x1_0000n | 0x1000n), 1, 0, {}, GRANULE_64K).rule).toBe("bbm.table-address");
    // 16K: bits [13:12] are below the granule, not address bits.
    expect(req(table(0x4000n), table(0x4000n | 0x1000n), 1, 0, {}, GRANULE_16K).rule).toBe("bbm.permissions");
    // DS: bits [49:48] and [9:8] are address bits; without DS they are not.
    expect(req(table(0x9_0000n), table(0x9_0000n | (1n << 48n)), 1, 0, { ds: true }).rule).toBe("bbm.table-address");
    expect(req(table(0x9_0000n), table(0x9_0000n | (1n << 8n)), 1, 0, { ds: true }).rule).toBe("bbm.table-address");
    expect(req(table(0x9_0000n), table(0x9_0000n | (1n << 48n)), 1, 0).rule).toBe("bbm.permissions");
  });
});

describe("block size changes (block ↔ table)", () => {
  // §4.1 item 5 and §4.3: full BBM without FEAT_BBM; at level 1 the block must carry nT=1; at
  // level 2 a direct change is allowed but TLB conflict aborts stay possible; BBM level 3
  // ("no abort") removes the conflicts.
  const blk = block(0x4000_0000n);
  const tbl = table(0x9_0000n);
  it.each([
    ["split", blk, tbl, /a live block is split into a table/],
    ["merge", tbl, blk, /a live table is replaced by a block/],
  ])("%s: BBM without FEAT_BBM", (_what, o, n, text) => {
    const r = req(o, n, 2, 0);
    expect(r).toMatchObject({ required: true, rule: "bbm.size-change", tlbiNeeded: true, conflictPossible: false });
    expect(r.reason).toMatch(text);
    expect(r.reason).toMatch(/without FEAT_BBM/);
  });

  it("FEAT_BBM level 1: needs nT=1 on the block, old or new", () => {
    const noNt = req(blk, tbl, 2, 1);
    expect(noNt).toMatchObject({ required: true, rule: "bbm.size-change-nT", tlbiNeeded: true, conflictPossible: false });
    expect(noNt.reason).toMatch(/a live block is split into a table: FEAT_BBM level 1 needs the block marked nT=1/);
    const split = req(blk | NT, tbl, 2, 1);
    expect(split).toMatchObject({ required: false, rule: "bbm.size-change-allowed", tlbiNeeded: true, conflictPossible: true });
    expect(split.reason).toMatch(/a live block is split into a table with nT=1 on the block: allowed at FEAT_BBM level 1/);
    // Merging: it is the new block that carries nT.
    expect(req(tbl, blk | NT, 2, 1)).toMatchObject({ required: false, rule: "bbm.size-change-allowed" });
    expect(req(tbl | NT, blk, 2, 1)).toMatchObject({ required: true, rule: "bbm.size-change-nT" });
  });

  it("FEAT_BBM level 2 allows it directly with conflicts possible; level 3 without conflicts", () => {
    const l2 = req(blk, tbl, 2, 2);
    expect(l2).toMatchObject({ required: false, rule: "bbm.size-change-allowed", tlbiNeeded: true, conflictPossible: true });
    expect(l2.reason).toMatch(/a live block is split into a table: allowed without break at FEAT_BBM level 2/);
    const l3 = req(tbl, blk, 2, 3);
    expect(l3).toMatchObject({ required: false, rule: "bbm.size-change-allowed", tlbiNeeded: true, conflictPossible: false });
    expect(l3.reason).toMatch(/FEAT_BBM level 3/);
  });
});

describe("leaf → leaf changes that need BBM", () => {
  // §4.1 item 4: the output address, unless both mappings are read-only and the contents equal.
  it("an output-address change, unless a read-only remap of identical contents", () => {
    const o = page(0x4000_0000n, AP2);
    const n = page(0x4001_0000n, AP2);
    const r = req(o, n, 3, 0);
    expect(r).toMatchObject({ required: true, rule: "bbm.output-address", tlbiNeeded: true, conflictPossible: false });
    expect(r.reason).toMatch(/output address changes/);
    expect(req(o, n, 3, 0, { contentsEqual: true }).required).toBe(false);
    // Either side writable: the exemption does not apply.
    expect(req(page(0x4000_0000n), n, 3, 0, { contentsEqual: true }).rule).toBe("bbm.output-address");
    expect(req(o, page(0x4001_0000n), 3, 0, { contentsEqual: true }).rule).toBe("bbm.output-address");
  });

  // D8.3.2: a block's OA is aligned to the block size; the bits below it are RES0 (bit 16 is nT).
  // So they are not part of the output address, whereas in a page every bit from 12 up is.
  it("reads the OA field at the entry's own size", () => {
    expect(req(block(0x4000_0000n), block(0x4000_0000n | 0x1000n), 2, 0).rule).toBe("bbm.permissions");
    expect(req(block(0x4000_0000n), block(0x4020_0000n), 2, 0).rule).toBe("bbm.output-address");
    expect(req(page(0x4000_0000n), page(0x4000_1000n), 3, 0).rule).toBe("bbm.output-address");
  });

  // D8.3 (FEAT_LPA): with the 64K granule OA[51:48] are bits [15:12]; with TCR.DS (FEAT_LPA2)
  // OA[49:48] are in place and OA[51:50] are bits [9:8] (not SH).
  it("counts the 52-bit OA bits of 64K and DS descriptors as output address", () => {
    expect(req(page(0x1_0000n), page(0x1_0000n | 0x1000n), 3, 0, {}, GRANULE_64K).rule).toBe("bbm.output-address");
    expect(req(block(0x2000_0000n), block(0x2000_0000n | 0x1000n), 2, 0, {}, GRANULE_64K).rule).toBe("bbm.output-address");
    expect(req(page(0x4000_0000n), page(0x4000_0000n | (1n << 48n)), 3, 0, { ds: true }).rule).toBe("bbm.output-address");
    expect(req(page(0x4000_0000n), page(0x4000_0000n) ^ (1n << 8n), 3, 0, { ds: true }).rule).toBe("bbm.output-address");
    // Without DS, bits [49:48] of a page are not address bits, and bits [9:8] are SH.
    expect(req(page(0x4000_0000n), page(0x4000_0000n | (1n << 48n)), 3, 0).rule).toBe("bbm.permissions");
    expect(req(page(0x4000_0000n), page(0x4000_0000n) ^ (1n << 8n), 3, 0).rule).toBe("bbm.shareability");
  });

  it("DS: a read-only remap of identical contents differing in OA[51:50] is not a shareability change", () => {
    const o = page(0x4000_0000n, AP2);
    expect(req(o, o ^ (1n << 8n), 3, 0, { ds: true, contentsEqual: true }).rule).toBe("bbm.permissions");
  });

  // §4.1 items 1-3: memory type, Device sub-type, inner or outer cacheability. Linux
  // pgattr_change_is_safe() allows only Normal ↔ Normal-Tagged (same WB cacheability).
  // MAIR slots: 0 Normal WB, 1 Normal-Tagged, 2 Normal NC, 3 Device-nGnRnE, 4 and 5 Device-nGnRE,
  // 6 inner WT / outer WB, 7 inner WB / outer WT.
  const mair = 0xbf_fb_04_04_00_44_f0_ffn;
  it.each([
    [0, 2, true, "Normal write-back ↔ non-cacheable"],
    [2, 0, true, "Normal non-cacheable ↔ write-back"],
    [0, 3, true, "Normal ↔ Device"],
    [3, 4, true, "Device-nGnRnE ↔ Device-nGnRE"],
    [0, 6, true, "inner cacheability only"],
    [0, 7, true, "outer cacheability only"],
    [1, 2, true, "Normal-Tagged ↔ non-cacheable"],
    [0, 1, false, "Normal ↔ Normal-Tagged"],
    [4, 5, false, "the same Device type in two slots"],
  ])("AttrIndx %i → %i needs BBM: %s (%s)", (a, b, needed) => {
    const r = req(page(0x4000_0000n, attr(a)), page(0x4000_0000n, attr(b)), 3, 3, { mair });
    expect(r.required).toBe(needed);
    expect(r.rule).toBe(needed ? "bbm.memory-type" : "bbm.permissions");
    if (needed) expect(r.reason).toBe(`memory type / cacheability changes (AttrIndx ${a} → ${b})`);
  });

  it("without MAIR any AttrIndx change counts as a memory-type change", () => {
    expect(req(page(0x4000_0000n, attr(0)), page(0x4000_0000n, attr(1)), 3, 0).rule).toBe("bbm.memory-type");
  });

  it("shareability, NS and non-global → global", () => {
    const sh = req(page(0x4000_0000n), page(0x4000_0000n) ^ (1n << 9n), 3, 3);
    expect(sh).toMatchObject({ required: true, rule: "bbm.shareability", tlbiNeeded: true, conflictPossible: false });
    expect(sh.reason).toMatch(/shareability/);
    const ns = req(page(0x4000_0000n), page(0x4000_0000n, NS), 3, 3);
    expect(ns).toMatchObject({ required: true, rule: "bbm.ns", tlbiNeeded: true });
    expect(ns.reason).toMatch(/NS bit/);
    const g = req(page(0x4000_0000n, NG), page(0x4000_0000n), 3, 3);
    expect(g).toMatchObject({ required: true, rule: "bbm.non-global-to-global", tlbiNeeded: true });
    expect(g.reason).toMatch(/non-global → global/);
    // Global → non-global is safe (Linux pgattr_change_is_safe allows setting nG).
    expect(req(page(0x4000_0000n), page(0x4000_0000n, NG), 3, 0).rule).toBe("bbm.permissions");
  });
});

describe("leaf → leaf changes that need only a TLBI", () => {
  // §4.1 "Not requiring BBM": permissions, PXN/UXN, DBM, AF, software bits, nG 0→1.
  it("permission bits: make, then flush", () => {
    const r = req(page(0x4000_0000n), page(0x4000_0000n, AP2 | PXN), 3, 0);
    expect(r).toMatchObject({ required: false, rule: "bbm.permissions", tlbiNeeded: true, conflictPossible: false });
    expect(r.reason).toMatch(/only permission/);
  });

  // §4.3: a Contiguous-bit-only change needs BBM without FEAT_BBM; from level 1 it is allowed,
  // with TLB conflict aborts possible (§4.4) except at level 3 ("no abort").
  it.each([
    [0, true, false],
    [1, false, true],
    [2, false, true],
    [3, false, false],
  ])("Contiguous bit only at FEAT_BBM level %i: BBM %s, conflicts possible %s", (lvl, required, conflict) => {
    const r = req(page(0x4000_0000n), page(0x4000_0000n, CONT), 3, lvl);
    expect(r).toMatchObject({ required, tlbiNeeded: true, conflictPossible: conflict });
    expect(r.rule).toBe(required ? "bbm.contiguous" : "bbm.contiguous-allowed");
    expect(r.reason).toMatch(required ? /the Contiguous bit changes/ : new RegExp(`allowed at FEAT_BBM level ${lvl}`));
  });
});
