/**
 * Missing data is never a clean verdict: a table the walk reaches that the input does not contain
 * makes dump mark it (text and JSON) and warn, audit report a missing-table finding and exit 3
 * (inconclusive) without the kernel's "passed" line, diff refuse to say "no changes", translate say
 * "missing" instead of a fault. Exit statuses: 0 clean, 1 findings, 2 bad input, 3 inconclusive.
 * Also `dump --start/--end`: the range is honoured in both formats and markers print only inside.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeLeaf, encodeTable } from "../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { presetByName } from "../../src/arch/registers.js";
import { writeSnapshot } from "../helpers/snapshot.js";
import { aliasedTables, TestTables } from "../helpers/tables.js";
import { vmsa } from "./run.js";

const EX = ["--example", "linux-6.1-4k48"];
// A TTBR1 root outside every memory bank of the example.
const ABSENT = ["--ttbr1", "0x12345000"];

describe("audit with a reachable table missing from the input", () => {
  it("a TTBR1 root that is not in the dump: no 'passed' line, a missing-table finding, exit 3", async () => {
    const r = await vmsa("audit", ...EX, ...ABSENT, "--no-user-half");
    expect(r.code).toBe(3);
    expect(r.out).not.toContain("passed");
    expect(r.out).not.toContain("no findings");
    expect(r.out).toContain("Checked W+X mappings: INCONCLUSIVE, 1 reachable table is not in the input");
    expect(r.out).toMatch(
      /missing-table +0xffff000000000000-0x0000000000000000 +256T: the level-0 table at PA 0x12345000 is not in the input/,
    );
    expect(r.err).toBe(
      "vmsa: warning: 1 table reached by the walk is not in the input: PA 0x12345000 (level 0, for VA 0xffff000000000000); those ranges were not audited\n",
    );
    const j = await vmsa("audit", ...EX, ...ABSENT, "--no-user-half", "-f", "json");
    expect(j.code).toBe(3);
    expect(JSON.parse(j.out)).toMatchObject({ passed: false, inconclusive: true, missingTables: 1 });
  });

  it("the example's user half (TTBR0 names a table the example does not ship) is inconclusive too", async () => {
    const r = await vmsa("audit", ...EX);
    expect(r.code).toBe(3);
    expect(r.out).toContain("the level-0 table at PA 0x41199000 is not in the input");
    // With the user half left out every reachable table is there: the kernel's own verdict, exit 0.
    const k = await vmsa("audit", ...EX, "--no-user-half");
    expect(k.code).toBe(0);
    expect(k.out).toMatch(/^Checked W\+X mappings: passed, no W\+X pages found\n0 findings, 3 warnings:/);
  });

  it("a real finding beside missing data still exits 1 (findings take precedence)", async () => {
    const r = await vmsa("audit", ...EX, "--protected", "0x40210000+0x1000");
    expect(r.code).toBe(1);
    expect(r.out).toContain("missing-table");
    expect(r.out).toContain("Checked W+X mappings: INCONCLUSIVE");
  });
});

describe("dump with a reachable table missing from the input", () => {
  it("ptdump text: a MISSING line instead of an empty half, a warning, exit 3", async () => {
    const r = await vmsa("dump", ...EX, "--half", "0");
    expect(r.code).toBe(3);
    expect(r.out).toBe(
      "---[ TTBR0 ]---\n0x0000000000000000-0x0001000000000000         256T PGD MISSING table at PA 0x41199000 (not in the input)\n",
    );
    expect(r.err).toMatch(/^vmsa: warning: 1 table reached by the walk is not in the input: PA 0x41199000 \(level 0/);
  });

  it("JSON: the range is listed in missing and complete is false, exit 3", async () => {
    const r = await vmsa("dump", ...EX, ...ABSENT, "-f", "json");
    expect(r.code).toBe(3);
    const j = JSON.parse(r.out) as { complete: boolean; mappings: unknown[]; missing: unknown[] };
    expect(j.complete).toBe(false);
    expect(j.mappings).toEqual([]);
    expect(j.missing).toEqual([{ va: "0xffff000000000000", size: "0x1000000000000", level: 0, table: "0x12345000" }]);
  });

  it("a half whose walks are disabled (TCR_EL1.EPD0=1) is empty, not missing: exit 0 and a note", async () => {
    // The example's TCR_EL1 with EPD0 (bit 7) set: TTBR0 is never read (Arm ARM D8.2, TCR_EL1.EPD0).
    const r = await vmsa("dump", ...EX, "--half", "0", "--tcr", "0x014001b5b5503590");
    expect(r.code).toBe(0);
    expect(r.out).toBe("");
    expect(r.err).toBe("vmsa: note: TCR_EL1.EPD0=1: walks of the TTBR0 half are disabled, it translates nothing (its table is not read)\n");
  });

  it("a complete input stays exit 0 with no warning", async () => {
    const r = await vmsa("dump", ...EX, "-f", "json", "--start", "0xffff800008000000", "--end", "0xffff800009000000");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect((JSON.parse(r.out) as { complete: boolean }).complete).toBe(true);
  });
});

describe("dump --start/--end", () => {
  const S = "0xffff800008000000";
  const E = "0xffff800009000000";

  it("ptdump stops at --end, heads the output with the region's marker and prints no marker outside", async () => {
    const full = await vmsa("dump", ...EX);
    const r = await vmsa("dump", ...EX, "--start", S, "--end", E);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    // The range starts inside the kernel's "vmalloc() area" region (linux-6.1 markers).
    expect(lines[0]).toBe("---[ vmalloc() area ]---");
    expect(lines.filter((l) => l.startsWith("---["))).toEqual(["---[ vmalloc() area ]---"]);
    expect(lines.at(-1)).toMatch(/^0xffff800008600000-0xffff800009000000 /);
    // Between the ends, the lines are the full dump's lines (the last one clipped at --end).
    const inner = lines.slice(1, -1);
    const fullLines = full.out.split("\n");
    const at = fullLines.indexOf(inner[0] as string);
    expect(at).toBeGreaterThan(0);
    expect(fullLines.slice(at, at + inner.length)).toEqual(inner);
  });

  it("markers inside the range print where the walk crosses them", async () => {
    const r = await vmsa("dump", ...EX, "--start", "0xffff7fffffe00000", "--end", "0xffff800008200000");
    expect(r.code).toBe(0);
    expect(r.out.split("\n").filter((l) => l.startsWith("---["))).toEqual([
      "---[ Linear Mapping start ]---",
      "---[ Linear Mapping end ]---",
      "---[ Modules start ]---",
      "---[ Modules end ]---",
      "---[ vmalloc() area ]---",
    ]);
    expect(r.out.trimEnd().split("\n").at(-1)).toMatch(/-0xffff800008200000 /);
  });

  it("JSON honours the range and lists only the markers inside it", async () => {
    const r = await vmsa("dump", ...EX, "-f", "json", "--start", S, "--end", E);
    const j = JSON.parse(r.out) as { markers: { address: string; name: string }[]; mappings: { va: string; size: string }[] };
    // Both markers at the start address are inside [start, end); Linear/Modules start are not.
    expect(j.markers.map((m) => m.name)).toEqual(["Modules end", "vmalloc() area"]);
    const last = j.mappings.at(-1) as { va: string; size: string };
    expect(BigInt(last.va) + BigInt(last.size)).toBeLessThanOrEqual(BigInt(E));
    expect(BigInt(j.mappings[0]?.va ?? "0")).toBeGreaterThanOrEqual(BigInt(S));
  });

  it("a reversed or empty range is one error line, exit 2", async () => {
    for (const [s, e] of [
      [E, S],
      [S, S],
    ]) {
      const r = await vmsa("dump", ...EX, "--start", s as string, "--end", e as string);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toMatch(
        /^vmsa: error: --end 0x[0-9a-f]{16} is not above --start 0x[0-9a-f]{16} \(the range is \[start, end\), end exclusive\)\n$/,
      );
    }
    const other = await vmsa("dump", ...EX, "--end", "0x1000");
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/^vmsa: error: --end 0x0000000000001000 is not in the TTBR1 half\n$/);
  });
});

describe("translate through a table missing from the input", () => {
  it("reports missing data, not a translation fault, exit 3", async () => {
    const r = await vmsa("translate", ...EX, ...ABSENT, "0xffff000000210000");
    expect(r.code).toBe(3);
    expect(r.out).toContain("ffff000000210000  (missing)");
    expect(r.out).toContain("MISSING DATA: the level-0 table at PA 12345000 is not in the input");
    expect(r.out).not.toContain("FAULT");
    const j = await vmsa("translate", ...EX, ...ABSENT, "-f", "json", "0xffff000000210000");
    const res = (JSON.parse(j.out) as { results: Record<string, unknown>[] }).results[0];
    expect(res).toMatchObject({ kind: "missing", missing: { level: 0, table: "0x12345000" } });
    expect(res?.fault).toBeUndefined();
  });
});

describe("diff with a table missing from one input", () => {
  it("never says 'no changes': the range is 'not compared' and the status is 3", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-missing-"));
    const RW = { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 } as const;
    const build = (lose: boolean): TestTables => {
      const t = new TestTables(GRANULE_4K, 0);
      t.map(0n, 3, { ...RW, oa: 0x4800_0000n });
      // B's PMD entry 1 names a PTE table that is not in its snapshot.
      if (lose) t.mem.write64(t.tableFor(0n, 2) + 8n, encodeTable({ nextTable: 0x7777_0000n }, t.fmt));
      return t;
    };
    const a = writeSnapshot(dir, "a", build(false));
    const b = writeSnapshot(dir, "b", build(true));
    const r = await vmsa("diff", a, b, "--no-vmcoreinfo");
    expect(r.code).toBe(3);
    expect(r.out).toContain(
      "not compared      0xffff000000200000-0xffff000000400000  the level-3 table at PA 0x77770000 is not in input B",
    );
    expect(r.out).toContain("inconclusive: not compared: 1 range (tables missing from the input); no change found in the rest");
    expect(r.err).toContain("vmsa: warning: 1 table reached by the walk is not in the input: PA 0x77770000");
    const j = await vmsa("diff", a, b, "--no-vmcoreinfo", "-f", "json");
    expect(JSON.parse(j.out)).toMatchObject({ inconclusive: true, missing: [{ side: "B", table: "0x77770000" }] });
  });
});

describe("diff of halves that cannot be compared", () => {
  it("a 4K and a 16K snapshot are not 'equal': the half is not compared, exit 3", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-uncomparable-"));
    const t = new TestTables(GRANULE_4K, 0);
    const a = writeSnapshot(dir, "a", t);
    const tcr16 = presetByName("linux-16k-47").regs.tcr;
    const b = join(dir, "b.json");
    writeFileSync(
      b,
      JSON.stringify({
        kernel: "Linux 6.1.0 test",
        registers: { TTBR1_EL1: `0x${t.root.toString(16)}`, TCR_EL1: `0x${tcr16.toString(16)}`, MAIR_EL1: "0xff" },
        memory: { file: "a.bin", load_at: "0x40000000" },
      }),
    );
    const r = await vmsa("diff", a, b, "--no-vmcoreinfo");
    expect(r.code).toBe(3);
    expect(r.out).toContain("not comparable entry by entry");
    expect(r.out).toContain("inconclusive: not compared: the TTBR1 half (not comparable)");
  });
});

describe("every command's help documents the exit statuses", () => {
  for (const cmd of ["dump", "audit", "diff", "translate"]) {
    it(cmd, async () => {
      const r = await vmsa(cmd, "--help");
      expect(r.code).toBe(0);
      expect(r.out.replace(/\s+/g, " ")).toContain("Exit status: 0 clean 1 ");
      expect(r.out.replace(/\s+/g, " ")).toContain("3 inconclusive: data missing from the input");
    });
  }
});

describe("dump of a fully aliased table tree (512-way fan-in at every level)", () => {
  it("prints the shared subtree once and SHARED lines after it, bounded, with a note", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-aliased-"));
    const t = new TestTables(GRANULE_4K, 0);
    const page = (i: number): bigint =>
      encodeLeaf({ oa: 0x8000_0000n + BigInt(i) * 0x1000n, af: true, sh: 3, pxn: true, uxn: true }, 3, t.fmt);
    aliasedTables(t, (i) => (i % 2 === 0 ? page(i) : 0n));
    const f = writeSnapshot(dir, "aliased", t);
    const r = await vmsa("dump", f, "--no-vmcoreinfo", "--markers", "none");
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    // Header, 512 PTE lines of the first 2M, one SHARED line per table level above it.
    expect(lines).toHaveLength(1 + 512 + 3);
    expect(lines.filter((l) => l.includes(" SHARED table at PA "))).toHaveLength(3);
    expect(r.err).toMatch(/^vmsa: note: 3 table descriptor ranges name a table already shown at another VA/);
    // The case: 2 MiB of VA with --end is 512 lines, not the rest of the half.
    const two = await vmsa(
      "dump",
      f,
      "--no-vmcoreinfo",
      "--markers",
      "none",
      "--start",
      "0xffff000000200000",
      "--end",
      "0xffff000000400000",
    );
    expect(two.code).toBe(0);
    expect(two.out.trimEnd().split("\n")).toHaveLength(1 + 512);
    const j = await vmsa("dump", f, "--no-vmcoreinfo", "-f", "json");
    expect((JSON.parse(j.out) as { shared: unknown[] }).shared).toHaveLength(3);
  });
});
