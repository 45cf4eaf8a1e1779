/**
 * `vmsa audit --stage 2` by leaf runs: the report (text, JSON, every finding: W+X, executable
 * Device memory, output addresses at or above 2^PS, ASL AArch64.S2Walk) is the leaf-by-leaf
 * audit's, with runs that cross the output size.
 *
 * `vmsa dump --stage 2` (KVM's stage2_page_tables text) by leaf runs: the text, the missing,
 * shared and bad tables and the seq_file passes are the leaf-by-leaf walk's, in both eras' columns.
 *
 * `vmsa dump --stage 2 --format json` by leaf runs and templates: stage2Mappings walking runs of
 * leaves (range walk `runs`) reports what the leaf-by-leaf walk reports, and the template writer's
 * bytes are jsonText's of the per-entry report's Stage2Run objects, on random tables read as stage
 * 2 (every granule, FEAT_LPA2 DS with OA[51:50] in bits [9:8], 64K FEAT_LPA with OA[51:48] in
 * [15:12]; Arm ARM D8.3 stage-2 block/page descriptors: S2AP, XN, MemAttr, SH, AF, software bits
 * [58:55]), with runs, holes with software notes (pKVM's owner annotations), flipped bits, FWB and
 * FEAT_XNX on and off, frames stored out of physical order or read from a source.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { FEATURES_MAX } from "../../src/arch/registers.js";
import { auditStage2, formatStage2Audit, stage2AuditToJson } from "../../src/dump/audit-stage2.js";
import { KVM_PTDUMP_ERAS, kvmStage2PageTables } from "../../src/dump/kvm-stage2.js";
import { stage2JsonBytes, stage2JsonValue } from "../../src/dump/stage2-json.js";
import { stage2LeafRuns, stage2Mappings } from "../../src/dump/stage2-mappings.js";
import { jsonText } from "../../src/io/json-text.js";
import { PhysMem as Mem } from "../../src/mem/physmem.js";
import { walkEntries } from "../../src/walk/range.js";
import { compileStage2 } from "../../src/walk/stage2.js";
import { stage2Geometry } from "../../src/walk/stage2-range.js";
import { propertyRuns } from "../helpers/property.js";
import { buildLeafTables, leafTablesSpec, pooledCopy, reversedCopy } from "../helpers/random-leaf-tables.js";
import { Stage2Tables } from "../helpers/stage2-tables.js";

/**
 * VTCR_EL2 for random-leaf-tables' configurations (index = spec.config), the IPA space the size of
 * their VA space, starting at the same level: T0SZ [5:0], SL0 [7:6], IRGN0/ORGN0/SH0 [13:8], TG0
 * [15:14] (00 4K, 01 64K, 10 16K), PS [18:16], DS [32], SL2 [33] (ASL AArch64.S2StartLevel).
 */
const VTCR: readonly bigint[] = [
  16n | (2n << 6n) | (0x35n << 8n) | (0n << 14n) | (5n << 16n), // 4K, 48-bit IPA, start level 0
  12n | (0n << 6n) | (0x35n << 8n) | (0n << 14n) | (6n << 16n) | (1n << 32n) | (1n << 33n), // 4K DS, 52-bit, level -1
  17n | (2n << 6n) | (0x35n << 8n) | (2n << 14n) | (5n << 16n), // 16K, 47-bit, level 1
  12n | (2n << 6n) | (0x35n << 8n) | (1n << 14n) | (6n << 16n), // 64K, 52-bit, level 1
];

const HEAD = { granule: "4K", ipaBits: 48, startLevel: 0, startTableEntries: 512, startTable: "0x0", registers: { note: "ü" } };

const json = (v: unknown): string => jsonText(v);

describe("stage-2 JSON by leaf runs and templates", () => {
  it("gives a 1G and a 2M block with the same attributes each its own level", () => {
    // Their bits outside the address field are equal (bits [29:21] of the 1G block are RES0).
    const t = new Stage2Tables(new Mem(), GRANULE_4K, 1, 40, { concatenated: 2 });
    const f = { memAttr: 0xf, s2ap: 3, sh: 3, af: true };
    t.map(0x4000_0000n, 1, { ...f, oa: 0x8000_0000n });
    t.map(0x8020_0000n, 2, { ...f, oa: 0x1_0000_0000n });
    const vtcr = 24n | (1n << 6n) | (0x35n << 8n) | (2n << 16n); // 40-bit IPA from level 1, PS 40 bits
    const s2 = compileStage2({ vtcr, vttbr: t.root, hcr: 1n }, FEATURES_MAX);
    const ref = stage2Mappings(t.mem, s2, { perEntry: true });
    expect(ref.runs.map((r) => r.level)).toEqual([1, 2]);
    const text = new TextDecoder().decode(stage2JsonBytes(s2, HEAD, stage2LeafRuns(t.mem, s2)));
    expect(text).toBe(`${jsonText(stage2JsonValue(HEAD, ref, ref.runs))}\n`);
  });

  it("is byte for byte jsonText of the leaf-by-leaf report, on random stage-2 tables", () => {
    let listed = 0;
    let invalid = 0;
    fc.assert(
      fc.property(leafTablesSpec, fc.boolean(), fc.boolean(), (spec, fwb, xnx) => {
        const { t } = buildLeafTables(spec);
        const s2 = compileStage2({ vtcr: VTCR[spec.config] as bigint, vttbr: t.root, hcr: 1n | (fwb ? 1n << 46n : 0n) }, FEATURES_MAX, {
          xnx,
        });
        expect(s2.s2?.config.kind).toBe("ok");
        const ref = stage2Mappings(t.mem, s2, { perEntry: true });
        const expected = `${jsonText(stage2JsonValue(HEAD, ref, ref.runs))}\n`;
        const text = (mem: Mem): string => new TextDecoder().decode(stage2JsonBytes(s2, HEAD, stage2LeafRuns(mem, s2)));
        expect(json(stage2Mappings(t.mem, s2))).toBe(json(ref));
        expect(text(t.mem)).toBe(expected);
        expect(text(pooledCopy(t.mem, 3))).toBe(expected);
        expect(text(reversedCopy(t.mem))).toBe(expected);
        listed += ref.runs.length;
        invalid += ref.invalid.length;
      }),
      { numRuns: propertyRuns(60) },
    );
    expect(listed).toBeGreaterThan(0);
    expect(invalid).toBeGreaterThan(0);
  });
});

describe("KVM stage2_page_tables text by leaf runs", () => {
  it("replays every seq_file pass of a long text as the leaf-by-leaf walk does", () => {
    // 1024 pages alternating read-write / read-only: ~70 KB of text, six passes; from the second
    // on each begins in the state the previous one ended in (seq_file.c seq_read_iter retries).
    const t = new Stage2Tables(new Mem(), GRANULE_4K, 1, 40, { concatenated: 2 });
    for (let k = 0n; k < 1024n; k++)
      t.map(0x4000_0000n + k * 0x1000n, 3, {
        memAttr: 0xf,
        s2ap: k % 2n === 0n ? 3 : 1,
        sh: 3,
        af: true,
        xn: 2,
        oa: 0x8000_0000n + k * 0x1000n,
      });
    const vtcr = 24n | (1n << 6n) | (0x35n << 8n) | (2n << 16n);
    const g = stage2Geometry(compileStage2({ vtcr, vttbr: t.root, hcr: 1n }, FEATURES_MAX));
    const ref = kvmStage2PageTables(t.mem, g, { perEntry: true });
    expect(ref.passes).toBeGreaterThan(3);
    expect(ref.text.startsWith("---[")).toBe(false);
    expect(json(kvmStage2PageTables(t.mem, g))).toBe(json(ref));
  });

  it("is the leaf-by-leaf walk's text, in both eras, with and without seq_file passes", () => {
    let lines = 0;
    fc.assert(
      fc.property(leafTablesSpec, fc.constantFrom(...KVM_PTDUMP_ERAS), fc.boolean(), (spec, era, seqFile) => {
        const { t } = buildLeafTables(spec);
        const s2 = compileStage2({ vtcr: VTCR[spec.config] as bigint, vttbr: t.root, hcr: 1n }, FEATURES_MAX);
        const g = stage2Geometry(s2);
        const ref = kvmStage2PageTables(t.mem, g, { era, seqFile, perEntry: true });
        expect(json(kvmStage2PageTables(t.mem, g, { era, seqFile }))).toBe(json(ref));
        expect(json(kvmStage2PageTables(pooledCopy(t.mem, 3), g, { era, seqFile }))).toBe(json(ref));
        expect(json(kvmStage2PageTables(reversedCopy(t.mem), g, { era, seqFile }))).toBe(json(ref));
        lines += ref.text.split("\n").length;
      }),
      { numRuns: propertyRuns(60) },
    );
    expect(lines).toBeGreaterThan(100);
  });
});

/** VTCR_EL2.PS [18:16] = 0b010: a 40-bit output size (output addresses above it fault). */
const ps40 = (vtcr: bigint): bigint => (vtcr & ~(7n << 16n)) | (2n << 16n);

describe("stage-2 audit by leaf runs", () => {
  it("splits a run of W+X pages where its output addresses reach 2^PS", () => {
    // 8 pages, one run, PA 2^40 - 3 pages up; PS = 40 bits: the last 5 give Address size faults.
    const t = new Stage2Tables(new Mem(), GRANULE_4K, 1, 40, { concatenated: 2 });
    const top = 1n << 40n;
    for (let k = 0n; k < 8n; k++)
      t.map(0x4000_0000n + k * 0x1000n, 3, { memAttr: 0xf, s2ap: 3, sh: 3, af: true, xn: 0, oa: top - 0x3000n + k * 0x1000n });
    const vtcr = 24n | (1n << 6n) | (0x35n << 8n) | (2n << 16n);
    const s2 = compileStage2({ vtcr, vttbr: t.root, hcr: 1n }, FEATURES_MAX);
    const fast = auditStage2(t.mem, s2);
    expect(json(fast)).toBe(json(auditStage2(t.mem, s2, { perEntry: true })));
    const fourth = t.mem.read64(t.slot(0x4000_3000n, 3));
    expect(fast.findings.map((f) => [f.kind, f.ipa, f.size, f.pa])).toEqual([
      ["s2-wx", 0x4000_0000n, 0x3000n, top - 0x3000n],
      ["s2-address-size", 0x4000_3000n, 0x5000n, top],
    ]);
    expect(fast.findings[1]?.descriptor).toBe(fourth);
    expect(fast.wxPages).toBe(8n);
  });

  it("reports exactly what the leaf-by-leaf audit reports, on random stage-2 tables", () => {
    const kinds = new Set<string>();
    fc.assert(
      fc.property(leafTablesSpec, fc.boolean(), fc.integer({ min: 0, max: 40 }), (spec, fwb, wxFrom) => {
        const { t } = buildLeafTables(spec);
        const vtcr = VTCR[spec.config] as bigint;
        const s2 = compileStage2({ vtcr: spec.smallPa ? ps40(vtcr) : vtcr, vttbr: t.root, hcr: 1n | (fwb ? 1n << 46n : 0n) }, FEATURES_MAX);
        // From the wxFrom-th leaf on, every leaf writable (S2AP[1], bit 7) and executable (XN[1], bit 54, clear):
        // runs stay runs, and W+X runs start inside them.
        let n = 0;
        const leaves: number[] = [];
        walkEntries(t.mem, stage2Geometry(s2), 0, 2 ** stage2Geometry(s2).iaBits, (e) => {
          if (e.kind === "leaf" && n++ >= wxFrom) leaves.push(e.descAddr);
        });
        for (const da of leaves) t.mem.write64(BigInt(da), ((t.mem.read64(BigInt(da)) ?? 0n) | (1n << 7n)) & ~(1n << 54n));
        const ref = auditStage2(t.mem, s2, { perEntry: true });
        const fast = auditStage2(t.mem, s2);
        expect(formatStage2Audit(fast)).toBe(formatStage2Audit(ref));
        expect(json(stage2AuditToJson(fast))).toBe(json(stage2AuditToJson(ref)));
        expect(json(fast)).toBe(json(ref));
        expect(json(auditStage2(pooledCopy(t.mem, 3), s2))).toBe(json(ref));
        expect(json(auditStage2(reversedCopy(t.mem), s2))).toBe(json(ref));
        for (const f of ref.findings) kinds.add(f.kind);
      }),
      { numRuns: propertyRuns(60) },
    );
    for (const k of ["s2-wx", "s2-exec-device", "s2-address-size"]) expect(kinds).toContain(k);
  });
});
