/**
 * `vmsa translate` with two stages (--hcr/--vtcr/--vttbr: AT S12E*), stage 2 alone (--stage 2)
 * and the EL2 regime (--regime el2: AT S1E2R) over a memory image (issue 12; vmsa-regimes.md
 * §1.8 PAR_EL1 S/PTW, §2.1 the EL2 regime).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { encodeTcr } from "../../src/arch/registers.js";
import { Stage2Tables } from "../helpers/stage2-tables.js";
import { TestTables } from "../helpers/tables.js";
import { vmsa } from "./run.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-s12-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Stage-1 tables at IPA = PA 0x4000_0000.., stage-2 tables at 0x4010_0000 (KVM's 40-bit 4K layout),
// stage 2 maps 0x4000_0000 (2 MiB) VA = PA and IPA 0x8000_0000 -> PA 0x1_2300_0000 (WT, RW).
const s1 = new TestTables(GRANULE_4K, 0);
const s2 = new Stage2Tables(s1.mem, GRANULE_4K, 1, 40, { concatenated: 2, allocBase: 0x4010_0000n });
s2.map(0x4000_0000n, 2, { oa: 0x4000_0000n, s2ap: 1, af: true, memAttr: 0xf, sh: 3 });
s2.map(0x8000_0000n, 2, { oa: 0x1_2300_0000n, s2ap: 1, af: true, memAttr: 0b1010, sh: 3 });
s1.map(0x1000n, 3, { oa: 0x8000_3000n, af: true, sh: 3, attrIndx: 0, ap: 0 });
s1.map(0x3000n, 3, { oa: 0x9000_0000n, af: true, sh: 3, attrIndx: 0, ap: 0 });
const image = join(dir, "mem.bin");
writeFileSync(image, s1.mem.readBytes(0x4000_0000n, 0x20_0000));
const hex = (v: bigint): string => `0x${v.toString(16)}`;
const base = [
  "--mem",
  `${image}@0x40000000`,
  "--ttbr0",
  hex(s1.root),
  "--ttbr1",
  hex(s1.root),
  "--tcr",
  hex(encodeTcr({ t0sz: 16, t1sz: 16, tg0: "4K", tg1: "4K", ipsBits: 40 })),
  "--mair",
  "0xff",
  "--sctlr",
  "1",
];
const stage2 = ["--vtcr", "0x80023558", "--vttbr", hex(s2.root)];

async function json(...args: string[]): Promise<Record<string, unknown>[]> {
  const r = await vmsa("translate", ...args, "-f", "json");
  // Only notes (no VMCOREINFO in a raw image), no warning or error.
  expect(r.err.split("\n").filter((l) => l !== "" && !l.startsWith("vmsa: note: "))).toEqual([]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.out) as { results: Record<string, unknown>[] }).results;
}

describe("vmsa translate: two stages, stage 2 alone, EL2", () => {
  it("--hcr with VM walks both stages and prints the AT S12E1R PAR_EL1 with the combined attributes", async () => {
    const [ok, fault] = await json(...base, "--hcr", "1", ...stage2, "0x1234", "0x3000:w");
    // S1 0xff + S2 WT/WT -> PAR.ATTR 0xbb, ISH; NS=1, bit 11 RES1 (vmsa-regimes.md §1.9).
    expect(ok).toMatchObject({ kind: "ok", pa: "0x123003234", ipa: "0x0000000080003234", par: "0xbb00000123003b80" });
    expect(ok?.combined).toEqual({ attr: "0xbb", shareability: "ISH" });
    // No stage-2 mapping of IPA 0x9000_0000: stage-2 Translation fault at level 2, PAR.S=1, PTW=0.
    expect(fault).toMatchObject({ kind: "fault", stage: 2, s1ptw: false, fault: "translation", level: 2, par: "0x0000000000000a0d" });
  });

  it("prints both stages in the text trace", async () => {
    const r = await vmsa("translate", ...base, "--hcr", "1", ...stage2, "0x1234", "0x3000");
    expect(r.code).toBe(0);
    expect(r.out).toContain("STAGE 2 of IPA 80003234");
    expect(r.out).toContain("PAR_EL1 (AT S12E1R): 0xbb00000123003b80");
    expect(r.out).toContain("FAULT: stage-2 (PAR.S=1) translation fault, level 2");
  });

  it("--stage 2 translates IPAs through stage 2 alone", async () => {
    const [r] = await json(...base, "--stage", "2", ...stage2, "0x80001234");
    expect(r).toMatchObject({ kind: "ok", pa: "0x123001234", level: 2 });
  });

  it("--regime el2 reads TCR_EL2 in its own layout and reports AT S1E2R", async () => {
    // TCR_EL2 (E2H=0): T0SZ=16, 4K, PS=48 bits at [18:16], RES1 bits 23 and 31.
    const el2 = [...base.slice(0, 6), "--tcr", "0x80850010", "--mair", "0xff", "--sctlr", "0x30c50831", "--regime", "el2"];
    const [r] = await json(...el2, "0x1234");
    expect(r).toMatchObject({ kind: "ok", pa: "0x80003234", half: "TTBR0" });
    const t = await vmsa("translate", ...el2, "0x1234");
    expect(t.out).toContain("TTBR0_EL2");
    expect(t.out).toContain("PAR_EL1 (AT S1E2R)");
  });

  it("refuses a two-stage HCR_EL2 without VTCR_EL2, and a bad --regime, with one error line (exit 2)", async () => {
    for (const args of [
      [...base, "--hcr", "1", "0x1000"],
      [...base, "--regime", "el3", "0x1000"],
      [...base, "--stage", "1", ...stage2, "0x1000"],
    ]) {
      const r = await vmsa("translate", ...args);
      const errors = r.err.split("\n").filter((l) => l.startsWith("vmsa: error: "));
      expect(r.code).toBe(2);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/--hcr|--regime|--stage/);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
});

describe("vmsa describe --par", () => {
  it("decodes a stage-2 fault on a stage-1 walk (S=1, PTW=1) and a two-stage success", async () => {
    // PAR_EL1 F=1, FST=0b001110 (Permission, level 2), PTW [8], S [9], bit 11 RES1 (Arm ARM PAR_EL1).
    const f = await vmsa("describe", "--par", "0xb1d");
    expect(f.code).toBe(0);
    expect(JSON.parse(f.out).par).toMatchObject({ kind: "fault", fault: "permission", level: 2, stage: 2, s1ptw: true, fst: 14 });
    const s1 = await vmsa("describe", "--par", "0x81f");
    expect(JSON.parse(s1.out).par).toMatchObject({ kind: "fault", fault: "permission", level: 3, stage: 1, s1ptw: false });
    const ok = await vmsa("describe", "--par", "0xbb00000123003b80", "-f", "text");
    expect(ok.out).toContain("pa: 0x123003000");
    expect(ok.out).toContain("attr: 187");
    expect(ok.out).toContain("sh: inner");
    expect(ok.out).toContain("ns: true");
  });
});
