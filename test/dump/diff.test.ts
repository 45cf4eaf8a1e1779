/**
 * `diffTables` classification on crafted before/after tables, judged with the machine checker's
 * BBM rule table (vmsa-rules.md §4.1/§4.3).
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { presetByName } from "../../src/arch/registers.js";
import { diffTables, formatDiff } from "../../src/dump/diff.js";
import { TestTables } from "../helpers/tables.js";

const KBASE = 0xffff_0000_0000_0000n;
const PAGE = 0x1000n;
const RW = { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 } as const;
const base = presetByName("linux-4k-48").regs;

function pair(build: (t: TestTables, after: boolean) => void, bbmLevel = 0) {
  const a = new TestTables(GRANULE_4K, 0);
  const b = new TestTables(GRANULE_4K, 0);
  build(a, false);
  build(b, true);
  return diffTables(a.mem, { ...base, ttbr1: a.root }, b.mem, { ...base, ttbr1: b.root }, { bbmLevel, halves: [1] });
}

describe("diffTables", () => {
  it("identical snapshots have no changes", () => {
    const r = pair((t) => t.map(0n, 3, { ...RW, oa: 0x5000_0000n }));
    expect(r.changes).toEqual([]);
  });

  it("mark_rodata_ro-style RW→RO is permission-only and needs a TLBI", () => {
    const r = pair((t, after) => {
      for (let i = 0n; i < 4n; i++) t.map(i * PAGE, 3, { ...RW, ap: after ? 2 : 0, oa: 0x5000_0000n + i * PAGE });
    });
    expect(r.changes).toHaveLength(1);
    expect(r.changes[0]).toMatchObject({ kind: "permission-only", va: KBASE, size: 4n * PAGE, rule: "bbm.permissions", tlbi: true });
  });

  it("output-address and memory-type changes need break-before-make", () => {
    const r = pair((t, after) => {
      t.map(0n, 3, { ...RW, oa: after ? 0x5100_0000n : 0x5000_0000n });
      t.map(PAGE, 3, { ...RW, attrIndx: after ? 4 : 0, oa: 0x5000_1000n });
    });
    expect(r.changes.map((c) => [c.kind, c.rule])).toEqual([
      ["break-before-make", "bbm.output-address"],
      ["break-before-make", "bbm.memory-type"],
    ]);
  });

  it("new and removed ranges", () => {
    const r = pair((t, after) => {
      if (after) t.map(0n, 3, { ...RW, oa: 0x5000_0000n });
      else t.map(PAGE, 3, { ...RW, oa: 0x5000_1000n });
    });
    expect(r.changes.map((c) => [c.kind, c.va])).toEqual([
      ["new", KBASE],
      ["removed", KBASE + PAGE],
    ]);
    expect(r.changes[0]?.tlbi).toBe(false);
  });

  it("splitting a 2M block into pages: BBM at FEAT_BBM level 0, allowed at level 2", () => {
    const build = (t: TestTables, after: boolean): void => {
      if (!after) t.map(0x200000n, 2, { ...RW, oa: 0x5020_0000n });
      else for (let i = 0n; i < 512n; i++) t.map(0x200000n + i * PAGE, 3, { ...RW, oa: 0x5020_0000n + i * PAGE });
    };
    const r0 = pair(build, 0);
    expect(r0.changes).toHaveLength(1);
    expect(r0.changes[0]).toMatchObject({ kind: "break-before-make", rule: "bbm.size-change", size: 0x200000n });
    const r2 = pair(build, 2);
    expect(r2.changes[0]).toMatchObject({ kind: "permission-only", rule: "bbm.size-change-allowed" });
    expect(formatDiff(r0)).toContain("1 need break-before-make");
  });

  it("a split that also changes permissions is judged on the attributes first", () => {
    const r = pair((t, after) => {
      if (!after) t.map(0x200000n, 2, { ...RW, oa: 0x5020_0000n });
      else for (let i = 0n; i < 512n; i++) t.map(0x200000n + i * PAGE, 3, { ...RW, uxn: i !== 0n, oa: 0x5020_0000n + i * PAGE });
    }, 2);
    // UXN is a permission bit; the rule table allows it live, then the size change at BBM level 2.
    expect(r.changes.every((c) => c.kind === "permission-only")).toBe(true);
  });
});
