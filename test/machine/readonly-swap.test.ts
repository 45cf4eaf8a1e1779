/**
 * Swapping the output address of a live read-only page for another read-only page with identical
 * contents needs no break-before-make: Arm ARM DDI0487 "Using break-before-make when updating
 * translation table entries" (RWHZWS) lists an output-address change as needing BBM only when at
 * least one mapping is writable or the contents at the two addresses differ (vmsa-rules.md §4.1
 * item 4; herd aarch64bbm.cat TTD-update-needsBBM). An access may then use either page: both read
 * the same data, so neither the change nor the old entry is a finding.
 */
import { describe, expect, it } from "vitest";
import { encodeLeaf } from "../../src/arch/descriptor.js";
import { tlbiVa } from "../../src/machine/machine.js";
import { KERNEL_RO, KERNEL_RW, KVA, PA_A, PA_B, setup } from "./helpers.js";

function swap(opts: { oldRw?: boolean; newRw?: boolean; differ?: boolean }) {
  const s = setup({ cpus: 2 });
  const oldF = opts.oldRw ? KERNEL_RW : KERNEL_RO;
  const [pte] = s.b.map(KVA, PA_A, 0x1000n, 3, oldF);
  // Both pages hold the same bytes (a page-cache copy); optionally one word differs.
  s.mem.write64(PA_A + 0x10n, 0x1234n);
  s.mem.write64(PA_B + 0x10n, opts.differ ? 0x9999n : 0x1234n);
  const newF = opts.newRw ? KERNEL_RW : KERNEL_RO;
  const nd = encodeLeaf({ ...newF, oa: PA_B }, 3, s.b.fmt);
  s.m.store64(0, pte as bigint, nd);
  s.m.dsb(0, "ISH");
  s.m.isb(0);
  const r = s.m.load(1, KVA + 0x10n);
  return { ...s, r, pte: pte as bigint };
}

describe("machine: read-only swap of identical pages", () => {
  it("is not break-before-make nor a stale translation when both pages are read-only and equal", () => {
    const { m, r } = swap({});
    expect(m.reports.map((v) => v.rule)).toEqual([]);
    // Either page may still be used: both hold the same data.
    expect(r.outcomes.filter((o) => o.kind === "ok").map((o) => o.pa)).toContain(PA_B + 0x10n);
  });
  it("is break-before-make when the contents differ", () => {
    const { m } = swap({ differ: true });
    expect(m.reports.map((v) => v.rule)).toContain("bbm");
    expect(m.reports.map((v) => v.rule)).toContain("stale-translation");
  });
  it("is break-before-make when the old mapping is writable", () => {
    const { m } = swap({ oldRw: true });
    expect(m.reports.map((v) => v.rule)).toContain("bbm");
  });
  it("is break-before-make when the new mapping is writable", () => {
    const { m } = swap({ newRw: true });
    expect(m.reports.map((v) => v.rule)).toContain("bbm");
  });
  it("a TLBI after an allowed swap leaves nothing to report either", () => {
    const { m } = swap({});
    m.tlbi(0, "VAAE1IS", tlbiVa(KVA));
    m.dsb(0, "ISH");
    m.load(1, KVA);
    expect(m.reports).toEqual([]);
  });
});
