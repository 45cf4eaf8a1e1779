/** `vmsa describe --stage 2` and `--vtcr/--vttbr` (issue 12, stage-2 architecture facts). */
import { describe, expect, it } from "vitest";
import { vmsa } from "./run.js";

async function json(...args: string[]): Promise<Record<string, Record<string, unknown>>> {
  const r = await vmsa("describe", ...args);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as Record<string, Record<string, unknown>>;
}

async function expectUsageError(args: string[], pattern: RegExp): Promise<void> {
  const r = await vmsa("describe", ...args);
  expect(r.code).toBe(2);
  expect(r.err.trimEnd().split("\n")).toHaveLength(1);
  expect(r.err).toMatch(/^vmsa: error: /);
  expect(r.err).toMatch(pattern);
}

describe("vmsa describe --stage 2", () => {
  it("decodes a stage-2 block: S2AP, MemAttr, XN[1:0] (hex value, 0x optional)", async () => {
    // Block at level 2, OA 0x40000000, MemAttr 1111 (Normal WB), S2AP 11, SH 11, AF, XN[1:0]=10.
    const o = await json("--stage", "2", "-g", "4K", "-l", "2", "00400000400007fd");
    expect(o.descriptor).toMatchObject({ stage: 2, kind: "block", oa: "0x40000000", s2ap: 3, read: true, write: true, xn: 2 });
    expect(o.descriptor).toMatchObject({ el1Exec: false, el0Exec: false, memType: { kind: "normal", name: "Normal-WB" } });
    // Stage-1 decoding of the same value has AttrIndx/AP instead.
    const s1 = await json("-g", "4K", "-l", "2", "00400000400007fd");
    expect(s1.descriptor).toHaveProperty("attrIndx");
    expect(s1.descriptor).not.toHaveProperty("s2ap");
  });

  it("--fwb switches MemAttr to the FEAT_S2FWB encodings; --no-xnx ignores bit 53", async () => {
    const fwb = await json("--stage", "2", "--fwb", "-l", "3", "0x0020_40000000079b");
    expect(fwb.descriptor).toMatchObject({ memType: { kind: "fwb-wb" }, el1Exec: false, el0Exec: true });
    const noXnx = await json("--stage", "2", "--fwb", "--no-xnx", "-l", "3", "0x0020_40000000079b");
    expect(noXnx.descriptor).toMatchObject({ xn: 0, el1Exec: true, el0Exec: true });
  });

  it("prints text with -f text", async () => {
    const r = await vmsa("describe", "--stage", "2", "-l", "3", "-f", "text", "0x40000000075f");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^descriptor:\n {2}stage: 2\n {2}kind: page\n/);
    expect(r.out).toMatch(/\n {4}name: Normal-iWB-oNC\n/);
  });

  it("rejects --stage other than 1 or 2 and --fwb without --stage 2", async () => {
    await expectUsageError(["--stage", "3", "0x3"], /--stage: "3" is out of range \(expected 1\.\.2\)/);
    await expectUsageError(["--fwb", "0x3"], /--fwb applies to stage-2 descriptors/);
  });
});

describe("vmsa describe --vtcr / --vttbr", () => {
  it("decodes KVM's 40-bit IPA, 4K VTCR_EL2: start level 1, two concatenated tables", async () => {
    // vmsa-regimes.md §1.2: 4K SL0=01 T0SZ=24 → 2 concatenated level-1 tables.
    const o = await json("--vtcr", "80023558");
    expect(o.vtcr).toMatchObject({ t0sz: 24, sl0: 1, granule: "4K", ps: 2 });
    expect(o.stage2).toMatchObject({ kind: "ok", granule: "4K", ipaBits: 40, startLevel: 1, levels: 3, concatenated: 2 });
  });

  it("reports an illegal SL0/T0SZ pair as invalid with its reason (exit 0: the register is decoded)", async () => {
    // 4K SL0=00 (start level 2) cannot resolve a 40-bit IPA (AArch64.S2InconsistentSL).
    const o = await json("--vtcr", "80023518");
    expect(o.stage2).toMatchObject({ kind: "invalid", reason: "sl-inconsistent", startLevel: 2 });
  });

  it("decodes VTTBR_EL2 against the VTCR_EL2 given", async () => {
    const o = await json("--vtcr", "0x80023558", "--vttbr", "0x0005000080001000");
    expect(o.vttbr).toMatchObject({ vmid: 5, baddr: "0x80001000", tableBase: "0x80000000", addressSizeFault: false });
  });

  it("--vttbr needs a usable --vtcr", async () => {
    await expectUsageError(["--vttbr", "0x1000"], /--vttbr needs --vtcr/);
    await expectUsageError(["--vtcr", "80023518", "--vttbr", "0x1000"], /not a usable stage-2 setting/);
    await expectUsageError(["--vtcr", "0x1g"], /--vtcr: "0x1g" is not a 64-bit number/);
  });
});

describe("vmsa describe --vtcr with ID registers", () => {
  it("a 40-bit PARange makes 4K SL0=10 (start level 0) invalid", async () => {
    // ASL AArch64.S2InvalidSL: 4K SL0=10 needs PAMax >= 44 (vmsa-regimes.md §1.2). T0SZ=24, SL0=10, PS=40.
    const max = await json("--vtcr", "80023598");
    expect(max.stage2).toMatchObject({ kind: "ok", startLevel: 0, concatenated: 1 });
    const pa40 = await json("--vtcr", "80023598", "--id-aa64mmfr0", "2");
    expect(pa40.stage2).toMatchObject({ kind: "invalid", reason: "sl-invalid" });
  });

  it("ID registers without --vtcr are a usage error", async () => {
    await expectUsageError(["--id-aa64mmfr0", "2", "0x3"], /apply to --vtcr/);
  });
});
