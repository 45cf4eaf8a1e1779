/** TLB, barrier and maintenance semantics of the machine model (vmsa-rules.md §5). */
import { describe, expect, it } from "vitest";
import { descriptorFormat, encodeLeaf } from "../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { presetByName } from "../../src/arch/registers.js";
import { Machine, tlbiRange, tlbiVa } from "../../src/machine/machine.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { TableBuilder as TableBuilderSync } from "../../src/scenario/build.js";
import { compileRegs as compileRegs0 } from "../../src/walk/context.js";
import { KERNEL_RO, KERNEL_RW, KVA, PA_A, PA_B, ROOT, setup } from "./helpers.js";

function rules(m: Machine): string[] {
  return m.reports.map((r) => `${r.rule}@${r.step}/${r.cpu}`);
}

function mapped(opts: { cpus?: number; bbmLevel?: number; tcr?: bigint; fields?: Record<string, unknown> } = {}) {
  const s = setup(opts);
  const [pte] = s.b.map(KVA, PA_A, 0x1000n, 3, { ...KERNEL_RW, ...(opts.fields ?? {}) });
  const pmd = s.b.slot(KVA, 2, false);
  return { ...s, pte: pte as bigint, pmd };
}

/** Unmap the page on CPU 0 with `tlbi`, completing with `dsb`, then read on CPU `reader`. */
function unmapThenRead(op: Parameters<Machine["tlbi"]>[1], operand: bigint, dsb: "ISH" | "ISHST" | "NSH", reader: number) {
  const { m, pte } = mapped();
  m.store64(0, pte, 0n);
  m.dsb(0, "ISHST");
  m.tlbi(0, op, operand);
  m.dsb(0, dsb);
  m.isb(0);
  const r = m.load(reader, KVA);
  return { m, r };
}

describe("machine: TLB maintenance", () => {
  it("TLBI VAE1IS + DSB ISH + ISB removes the old entry on every CPU (shootdown)", () => {
    const { m, r } = unmapThenRead("VAAE1IS", tlbiVa(KVA), "ISH", 1);
    expect(rules(m)).toEqual([]);
    expect(r.outcomes.map((o) => o.kind)).toEqual(["fault"]);
  });
  it("a non-broadcast TLBI leaves other CPUs' entries (rule 4 on CPU 1)", () => {
    // Arm ARM: non-IS TLBIs affect only the executing PE; MP.RT.EL1 with TLBI VAE1 is allowed to see the old mapping.
    const { m, r } = unmapThenRead("VAAE1", tlbiVa(KVA), "ISH", 1);
    expect(rules(m)).toEqual(["stale-translation@6/1"]);
    expect(r.outcomes.some((o) => o.kind === "ok" && o.pa === PA_A)).toBe(true);
  });
  it("DSB ISHST does not complete a TLBI (rule 5)", () => {
    const { m } = unmapThenRead("VAAE1IS", tlbiVa(KVA), "ISHST", 1);
    expect(rules(m)).toEqual(["missing-barrier@6/1"]);
    expect(m.reports[0]?.detail).toBe("barrier.dsb-after-tlbi");
  });
  it("DSB NSH does not complete a broadcast TLBI for other CPUs", () => {
    const { m } = unmapThenRead("VAAE1IS", tlbiVa(KVA), "NSH", 1);
    expect(rules(m)).toEqual(["missing-barrier@6/1"]);
  });
  it("the issuing CPU needs an ISB after the completing DSB (CoWinvT.EL1+dsb-tlbi-dsb allowed)", () => {
    const { m, pte } = mapped();
    m.store64(0, pte, 0n);
    m.dsb(0, "ISHST");
    m.tlbi(0, "VAAE1IS", tlbiVa(KVA));
    m.dsb(0, "ISH");
    m.load(0, KVA);
    expect(m.reports.map((r) => r.detail)).toEqual(["barrier.isb-after-tlbi"]);
  });
  it("VAE1IS with another ASID keeps non-global entries; global ones match any ASID", () => {
    const ng = mapped({ fields: { nG: true } });
    ng.m.store64(0, ng.pte, 0n);
    ng.m.dsb(0, "ISH");
    ng.m.tlbi(0, "VAE1IS", tlbiVa(KVA, 7));
    ng.m.dsb(0, "ISH");
    ng.m.isb(0);
    ng.m.load(1, KVA);
    expect(rules(ng.m)).toEqual(["stale-translation@6/1"]);
    expect(ng.m.reports[0]?.trace.map((t) => t.role).join("\n")).toContain("names ASID 7; the entry is tagged with ASID 0");
    const g = mapped();
    g.m.store64(0, g.pte, 0n);
    g.m.dsb(0, "ISH");
    g.m.tlbi(0, "VAE1IS", tlbiVa(KVA, 7));
    g.m.dsb(0, "ISH");
    g.m.isb(0);
    g.m.load(1, KVA);
    expect(rules(g.m)).toEqual([]);
  });
  it("a range TLBI covering the page removes it; one ending below it does not", () => {
    const hit = unmapThenRead("RVAAE1IS", tlbiRange(KVA - 0x2000n, 4, 4096), "ISH", 1);
    expect(rules(hit.m)).toEqual([]);
    const miss = unmapThenRead("RVAAE1IS", tlbiRange(KVA - 0x4000n, 4, 4096), "ISH", 1);
    expect(rules(miss.m)).toEqual(["stale-translation@6/1"]);
  });
  it("VMALLE1IS removes everything", () => {
    const { m } = unmapThenRead("VMALLE1IS", 0n, "ISH", 1);
    expect(rules(m)).toEqual([]);
  });
  it("a TTL hint naming the wrong level leaves the entry", () => {
    // TTL = 0b01_10: 4K granule, level 2; the entry is level 3.
    const { m } = unmapThenRead("VAAE1IS", tlbiVa(KVA) | (0b0110n << 44n), "ISH", 1);
    expect(rules(m)).toEqual(["stale-translation@6/1"]);
  });
  it("last-level TLBIs leave walk-cache entries: freeing the table afterwards is rule 6", () => {
    for (const [op, expected] of [
      ["VAALE1IS", ["freed-table-reuse@6/0"]],
      ["VAAE1IS", []],
    ] as const) {
      const { m, pmd, pte } = mapped();
      m.store64(0, pmd, 0n);
      m.dsb(0, "ISHST");
      m.tlbi(0, op, tlbiVa(KVA));
      m.dsb(0, "ISH");
      m.isb(0);
      m.store64(0, pte, 0xdeadn << 12n);
      expect(rules(m), op).toEqual(expected);
    }
  });
  /** The PMD entry cleared and only the leaf-level TLBI (VAALE1IS) done: walk caches keep the old table. */
  function pmdClearedLeafInvalidated(): Machine {
    const { m, pmd } = mapped();
    m.store64(0, pmd, 0n);
    m.dsb(0, "ISH");
    m.tlbi(0, "VAALE1IS", tlbiVa(KVA));
    m.dsb(0, "ISH");
    m.isb(0);
    return m;
  }
  it("a walk-cache entry keeps the old subtree reachable: reads through it are stale", () => {
    const m = pmdClearedLeafInvalidated();
    const r = m.load(1, KVA);
    expect(r.outcomes.map((o) => o.source)).toContain("walk-cache");
    expect(m.reports.map((x) => x.detail)).toEqual(["stale.walk-cache"]);
  });
  it("a read through a walk-cache entry walks the old level-3 table and reaches the old page", () => {
    // Arm ARM D8.14 (translation table walk caches): an entry holding the old table descriptor
    // lets a walk continue at the next level in the table it pointed to, so the read reaches the
    // page the old subtree maps (PA_A), not whatever the root table holds at that index.
    const m = pmdClearedLeafInvalidated();
    const r = m.load(1, KVA);
    const viaCache = r.outcomes.filter((o) => o.source === "walk-cache");
    expect(viaCache.map((o) => (o.kind === "ok" ? { pa: o.pa, level: o.level } : o.kind))).toEqual([{ pa: PA_A, level: 3 }]);
  });
  it("entries with AF=0 are never cached: changing them needs no TLBI", () => {
    // TCR.HA=0: without hardware AF management an AF=0 entry faults and is never cached.
    const tcr = presetByName("linux-4k-48").regs.tcr & ~(1n << 39n);
    const { m, pte } = mapped({ tcr, fields: { af: false } });
    m.store64(0, pte, encodeLeaf({ ...KERNEL_RW, oa: PA_B }, 3, descriptorFormat(GRANULE_4K)));
    m.dsb(0, "ISH");
    m.isb(0);
    m.load(1, KVA);
    expect(rules(m)).toEqual([]);
  });
});

describe("machine: FEAT_BBM level 1 nT blocks", () => {
  it("an access through an nT=1 block may fault (IMPDEF, ASL AArch64.BlocknTFaults)", () => {
    for (const [bbmLevel, kinds] of [
      [0, ["ok"]],
      [1, ["ok", "fault"]],
    ] as const) {
      const s = setup({ bbmLevel });
      s.b.map(KVA, PA_A, 0x20_0000n, 2, { ...KERNEL_RW, nT: true });
      expect(s.m.load(0, KVA).outcomes.map((o) => o.kind)).toEqual(kinds);
      expect(s.m.reports).toEqual([]);
    }
  });
});

describe("machine: FEAT_BBM level 1 split protocol", () => {
  it("block → table needs nT=1 on the block first (vmsa-rules.md §4.3); with it the split is not a BBM violation", () => {
    for (const markNt of [false, true]) {
      const { m, b, mem } = setup({ bbmLevel: 1 });
      const [pmd] = b.map(KVA, PA_A, 0x20_0000n, 2, KERNEL_RW);
      const sub = 0x9_0000n;
      for (let i = 0n; i < 512n; i++) mem.write64(sub + i * 8n, encodeLeaf({ ...KERNEL_RW, oa: PA_A + i * 0x1000n }, 3, b.fmt));
      if (markNt) {
        m.store64(0, pmd as bigint, encodeLeaf({ ...KERNEL_RW, oa: PA_A, nT: true }, 2, b.fmt));
        m.dsb(0, "ISHST");
        m.tlbi(0, "VAAE1IS", tlbiVa(KVA));
        m.dsb(0, "ISH");
      }
      m.store64(0, pmd as bigint, sub | 3n);
      m.dsb(0, "ISHST");
      m.tlbi(0, "VAAE1IS", tlbiVa(KVA));
      m.dsb(0, "ISH");
      m.isb(0);
      m.load(1, KVA + 0x3000n);
      expect(
        m.reports.map((r) => r.detail),
        String(markNt),
      ).toEqual(markNt ? [] : ["bbm.size-change-nT"]);
    }
  });
});

describe("machine: ordering of descriptor stores and register writes", () => {
  it("a store is not visible to another CPU's walks until the storing CPU's DSB", () => {
    const { m, b } = mapped();
    const pte2 = b.slot(KVA + 0x1000n, 3, false);
    m.store64(0, pte2, encodeLeaf({ ...KERNEL_RW, oa: PA_B }, 3, b.fmt));
    const before = m.load(1, KVA + 0x1000n);
    expect(before.outcomes.map((o) => o.kind).sort()).toEqual(["fault", "ok"]);
    m.dsb(0, "ISHST");
    const after = m.load(1, KVA + 0x1000n);
    expect(after.outcomes.map((o) => o.kind)).toEqual(["ok"]);
    expect(rules(m)).toEqual(["missing-barrier@2/1"]);
  });
  it("MSR TTBR1 takes effect with certainty only after ISB; old-context entries stay until TLBI", () => {
    const { m, mem } = mapped();
    const empty = 0x9_0000n;
    mem.zero(empty, 4096);
    m.msr(0, "TTBR1_EL1", empty);
    m.load(0, KVA);
    expect(m.reports.map((r) => r.detail)).toEqual(["barrier.isb-after-msr"]);
    m.isb(0);
    m.load(0, KVA + 0x10n);
    expect(m.reports.map((r) => r.detail)).toEqual(["barrier.isb-after-msr", "stale.old-context"]);
    m.tlbi(0, "VMALLE1");
    m.dsb(0, "NSH");
    m.isb(0);
    const r = m.load(0, KVA + 0x20n);
    expect(r.outcomes.map((o) => o.kind)).toEqual(["fault"]);
    expect(m.reports).toHaveLength(2);
    m.msr(0, "TTBR1_EL1", ROOT);
  });
  it("a store made with the MMU off needs DC IVAC when walks are cacheable", () => {
    const { m, b } = mapped({ cpus: 1 });
    const pte2 = b.slot(KVA + 0x1000n, 3, false);
    const sctlr = m.cpu(0).regs.sctlr;
    m.msr(0, "SCTLR_EL1", sctlr & ~1n);
    m.isb(0);
    m.store64(0, pte2, encodeLeaf({ ...KERNEL_RW, oa: PA_B }, 3, b.fmt));
    m.dsb(0, "SY");
    m.msr(0, "SCTLR_EL1", sctlr);
    m.isb(0);
    m.load(0, KVA + 0x1000n);
    expect(m.reports.map((r) => r.detail)).toEqual(["barrier.cache-maintenance"]);
    // With DC IVAC (MMU off: VA = PA) before enabling the MMU the same flow is clean.
    const s2 = mapped({ cpus: 1 });
    const p2 = s2.b.slot(KVA + 0x1000n, 3, false);
    s2.m.msr(0, "SCTLR_EL1", sctlr & ~1n);
    s2.m.isb(0);
    s2.m.store64(0, p2, encodeLeaf({ ...KERNEL_RW, oa: PA_B }, 3, s2.b.fmt));
    s2.m.dc(0, "IVAC", p2);
    s2.m.dsb(0, "SY");
    s2.m.msr(0, "SCTLR_EL1", sctlr);
    s2.m.isb(0);
    s2.m.load(0, KVA + 0x1000n);
    expect(s2.m.reports).toEqual([]);
  });
  it("AT S1E1W sets PAR_EL1 (fault on a read-only page: F=1, permission fault level 3)", () => {
    const { m } = mapped({ fields: { ap: 2 } });
    const r = m.at(0, "S1E1W", KVA);
    expect(r.par).toBe((1n << 11n) | (0b001111n << 1n) | 1n);
    expect(m.cpu(0).regs.par).toBe(r.par);
    const ok = m.at(0, "S1E1R", KVA);
    expect((ok.par ?? 0n) & 0xffff_ffff_f000n).toBe(PA_A);
    void KERNEL_RO;
  });
  it("rejects bad input with named errors", () => {
    const { m } = mapped();
    expect(() => m.store64(0, 0x1001n, 0n)).toThrow(/8-byte aligned/);
    expect(() => m.isb(5)).toThrow(/no CPU 5/);
    expect(() => new Machine({ cpus: 0 })).toThrow(/1\.\.64/);
  });
});

describe("machine: other granules and ASID switches", () => {
  it("64K granule: the BBM recipe is clean, a direct OA change is flagged", () => {
    for (const direct of [false, true]) {
      const mem = new PhysMem();
      mem.addRam(0x4000_0000n, 0x4000_0000n);
      const regs = { ...presetByName("linux-64k-48").regs, ttbr1: 0x10_0000n };
      mem.zero(0x10_0000n, 0x10000);
      const b = new TableBuilderSync({ mem, half: compileRegs0(regs).halves[1], pool: { next: 0x20_0000n } });
      const va = 0xffff_0000_0020_0000n;
      const [pte] = b.map(va, PA_A, 0x10000n, 3, KERNEL_RW);
      const m = new Machine({ cpus: 2, mem, regs });
      const nd = encodeLeaf({ ...KERNEL_RW, oa: PA_B }, 3, b.fmt);
      if (!direct) {
        m.store64(0, pte as bigint, 0n);
        m.dsb(0, "ISHST");
        m.tlbi(0, "VAAE1IS", tlbiVa(va + 0x3000n));
        m.dsb(0, "ISH");
      }
      m.store64(0, pte as bigint, nd);
      m.dsb(0, "ISHST");
      m.isb(0);
      const r = m.load(1, va + 0x8000n);
      if (direct) expect(m.reports.map((x) => x.rule)).toEqual(["bbm", "stale-translation"]);
      else {
        expect(m.reports).toEqual([]);
        expect(r.outcomes.map((o) => o.pa)).toEqual([PA_B + 0x8000n]);
      }
    }
  });
  it("switching TTBR0 between address spaces: different ASIDs need no TLBI, reusing the ASID does", () => {
    for (const [asid2, expected] of [
      [2n, []],
      [1n, ["stale.old-context"]],
    ] as const) {
      const { m, mem } = setup({ cpus: 1 });
      // Two user tables (TTBR0; the preset takes the ASID from TTBR1, TCR.A1=1) mapping VA 0x400000 differently.
      const mk = (root: bigint, pool: bigint, pa: bigint): void => {
        mem.zero(root, 4096);
        const ctx = compileRegs0({ ...presetByName("linux-4k-48").regs, ttbr0: root });
        const b = new TableBuilderSync({ mem, half: ctx.halves[0], pool: { next: pool } });
        b.map(0x40_0000n, pa, 0x1000n, 3, { ...KERNEL_RW, ap: 1, nG: true });
      };
      mk(0xa_0000n, 0xa_1000n, PA_A);
      mk(0xb_0000n, 0xb_1000n, PA_B);
      m.msr(0, "TTBR1_EL1", ROOT | (1n << 48n));
      m.msr(0, "TTBR0_EL1", 0xa_0000n);
      m.isb(0);
      m.tlbi(0, "VMALLE1");
      m.dsb(0, "NSH");
      m.isb(0);
      expect(m.load(0, 0x40_0000n, 0).outcomes.map((o) => o.pa)).toEqual([PA_A]);
      m.msr(0, "TTBR0_EL1", 0xb_0000n);
      m.msr(0, "TTBR1_EL1", ROOT | (asid2 << 48n));
      m.isb(0);
      m.load(0, 0x40_0000n, 0);
      expect(m.reports.map((x) => x.detail)).toEqual(expected);
    }
  });
});
