/**
 * Replaying `vmsa record` traces on the machine model: synthetic traces of the sequences the
 * Arm ARM allows and forbids for changing a live leaf (D8.17.1 break-before-make, RWHZWS), in
 * the byte layout the plugin writes (docs/trace-format.md).
 */
import { describe, expect, it } from "vitest";
import { presetByName } from "../../src/arch/registers.js";
import { tlbiVa } from "../../src/machine/machine.js";
import { renderTraceText, traceVerdict } from "../../src/trace/render.js";
import { replayTrace } from "../../src/trace/replay.js";
import { TraceWriter } from "./trace-writer.js";

const regs = presetByName("linux-4k-48").regs;
const VA = 0xffff000000000000n;
const LEAF_PA = 0x40004000n;
const leaf = (oa: bigint): bigint => oa | (3n << 53n) | 0x400n | 0x300n | 0x3n; // UXN+PXN, AF, inner shareable, AttrIndx 0, page
const TLBI_VAE1IS = (3 << 3) | 1;
const TLBI_VAE1 = (7 << 3) | 1;

/** CPU 0 and CPU 1 both on a 4-level kernel table mapping VA → 0x40100000, MMU on. */
function booted(): TraceWriter {
  const w = new TraceWriter(2);
  for (const cpu of [0, 1]) w.msr(cpu, 2, regs.tcr).msr(cpu, 3, regs.mair);
  w.page(0, 0x40001000n, 0, new Map([[0, 0x40002003n]]))
    .page(0, 0x40002000n, 1, new Map([[0, 0x40003003n]]))
    .page(0, 0x40003000n, 2, new Map([[0, 0x40004003n]]))
    .page(0, 0x40004000n, 3, new Map([[0, leaf(0x40100000n)]]));
  for (const cpu of [0, 1]) w.msr(cpu, 1, 0x40001000n).msr(cpu, 4, regs.sctlr).isb(cpu);
  return w;
}

/**
 * Mm A (ASID 1) on CPU 1 has X as the level-3 table of VA [0, 2M); CPU 1 switches to mm C the
 * way cpu_do_switch_mm does (reserved TTBR0, TTBR1 with the new ASID, new TTBR0); X is reused as
 * mm B's (ASID 2, CPU 0) level-2 table of VA [0, 1G), holding a table descriptor at entry 0; B
 * frees that table (break, DSB, TLBI ASIDE1IS 2, DSB, ISB) and installs another (invalid →
 * valid). X[0] is written either as a PAGE record after the switch or by CPU 1 before it.
 * Linux sets TCR_EL1.A1 = 1 (the ASID is TTBR1's) and HA = 1.
 */
function reusedTablePage(x0: "page after the switch" | "stored before the switch"): Buffer {
  const tcr = regs.tcr | (1n << 22n) | (1n << 39n);
  const K = 0x40008000n;
  const X = 0x40020000n;
  const asid = (n: bigint): bigint => n << 48n;
  const w = new TraceWriter(2);
  for (const cpu of [0, 1]) w.msr(cpu, 2, tcr).msr(cpu, 3, regs.mair);
  w.page(1, K, 0, new Map())
    .page(1, 0x40010000n, 0, new Map([[0, 0x40011003n]]))
    .page(1, 0x40011000n, 1, new Map([[0, 0x40012003n]]))
    .page(1, 0x40012000n, 2, new Map([[0, X | 3n]]))
    .page(1, X, 3, new Map());
  w.msr(1, 1, K | asid(1n))
    .msr(1, 0, 0x40010000n)
    .msr(1, 4, regs.sctlr)
    .isb(1);
  // A global page of A, stored while A is current on CPU 1 (the control).
  if (x0 === "stored before the switch")
    w.store(1, X, 0x40050003n | (3n << 53n))
      .dsb(1)
      .isb(1);
  w.msr(1, 0, 0x40009000n)
    .msr(1, 1, K | asid(3n))
    .page(1, 0x40030000n, 0, new Map())
    .msr(1, 0, 0x40030000n)
    .isb(1);
  w.page(0, 0x40040000n, 0, new Map([[0, 0x40041003n]])).page(0, 0x40041000n, 1, new Map());
  w.msr(0, 1, K | asid(2n))
    .msr(0, 0, 0x40040000n)
    .msr(0, 4, regs.sctlr)
    .isb(0);
  // Linking X: the plugin writes X's content (PAGE) before the store that links it.
  if (x0 === "page after the switch") w.page(0, X, 2, new Map([[0, 0x40050003n]]));
  w.store(0, 0x40041000n, X | 3n)
    .dsb(0)
    .isb(0);
  w.store(0, X, 0n)
    .dsb(0)
    .tlbi(0, (3 << 3) | 2, asid(2n))
    .dsb(0)
    .isb(0);
  w.store(0, X, 0x40060003n, 0xffffc00080378130n);
  return w.end();
}

describe("trace replay", () => {
  it("reports a live leaf whose output address changes without break-before-make (D8.17.1)", () => {
    const data = booted().store(0, LEAF_PA, leaf(0x40200000n), 0xffff800008123450n).end();
    const res = replayTrace(data, "t");
    expect(traceVerdict(res)).toBe("violations");
    expect(res.violations.map((v) => v.rule)).toContain("bbm");
    // The report names the guest PC of the offending store.
    expect(renderTraceText("t", res, data.length)).toContain("PC 0xffff800008123450");
  });

  it("accepts break, DSB, TLBI VAE1IS, DSB, ISB, make (the sequence D8.17.1 requires)", () => {
    const w = booted().store(0, LEAF_PA, 0n).dsb(0).tlbi(0, TLBI_VAE1IS, tlbiVa(VA)).dsb(0).isb(0).store(0, LEAF_PA, leaf(0x40200000n));
    const res = replayTrace(w.end(), "t");
    expect(res.violations).toEqual([]);
    expect(traceVerdict(res)).toBe("clean");
    expect(res.steps).toBeGreaterThan(10);
  });

  it("reports a make after a break whose TLBI is local (VAE1) while another CPU may still hold the old entry", () => {
    // A non-broadcast TLBI leaves CPU 1's TLB entry for the old output address (D8.16 TLB
    // maintenance scope): the new mapping then conflicts with it.
    const w = booted().store(0, LEAF_PA, 0n).dsb(0).tlbi(0, TLBI_VAE1, tlbiVa(VA)).dsb(0).isb(0).store(0, LEAF_PA, leaf(0x40200000n));
    const res = replayTrace(w.end(), "t");
    expect(res.violations.length).toBeGreaterThan(0);
  });

  it("judges stores into a table that an earlier store linked (the table index follows new table descriptors)", () => {
    // A second L3 table at 0x40005000, linked by a store into the live L2 table: its leaf is
    // live from then on, so changing its output address without break-before-make is reported.
    const w = booted()
      .page(0, 0x40005000n, 3, new Map([[0, leaf(0x40300000n)]]))
      .store(0, 0x40003008n, 0x40005003n)
      .dsb(0)
      .isb(0)
      .store(0, 0x40005000n, leaf(0x40400000n), 0xffff800008777770n);
    const res = replayTrace(w.end(), "t");
    expect(res.violations.map((v) => v.rule)).toContain("bbm");
    expect(renderTraceText("t", res, 0)).toContain("PC 0xffff800008777770");
  });

  it("does not let a switched-out context hold a descriptor written after the switch (its table page reused)", () => {
    // Seen replaying Debian kernels: an mm's table page X is freed and reused as another mm's
    // level-2 table. CPU 1 switched away from the old mm earlier; its old context (ASID 1) reaches
    // X at level 3, where a table descriptor stored after the switch reads as a global page. CPU 1
    // cannot have cached it: walks use the registers in effect (Arm ARM D8.2), so nothing is
    // cached through a context once it is switched out.
    // A1 = 0: the ASID is TTBR0's; HA = 1 (as Linux sets it): entries with AF = 0 may be cached.
    const tcr = (regs.tcr & ~(1n << 22n)) | (1n << 39n);
    const X = 0x40020000n;
    const w = new TraceWriter(2);
    for (const cpu of [0, 1]) w.msr(cpu, 2, tcr).msr(cpu, 3, regs.mair);
    // A: X is the level-3 table of VA [2M, 4M). B: X is the level-2 table of VA [0, 1G).
    w.page(0, 0x40010000n, 0, new Map([[0, 0x40011003n]]))
      .page(0, 0x40011000n, 1, new Map([[0, 0x40012003n]]))
      .page(0, 0x40012000n, 2, new Map([[1, X | 3n]]))
      .page(0, X, 3, new Map())
      .page(0, 0x40030000n, 0, new Map([[0, 0x40031003n]]))
      .page(0, 0x40031000n, 1, new Map([[0, X | 3n]]));
    w.msr(1, 0, 0x40010000n | (1n << 48n))
      .msr(1, 4, regs.sctlr)
      .isb(1);
    w.msr(0, 0, 0x40030000n | (2n << 48n))
      .msr(0, 4, regs.sctlr)
      .isb(0);
    w.msr(1, 0, 0x40030000n | (2n << 48n)).isb(1); // CPU 1 switches from A to B
    w.store(0, X, 0x40040003n).dsb(0).isb(0); // B's level-2 table descriptor for VA [0, 2M)
    w.store(0, X, 0n) // break it
      .dsb(0)
      .tlbi(0, (3 << 3) | 2, 2n << 48n) // TLBI ASIDE1IS, ASID 2
      .dsb(0)
      .isb(0)
      .store(0, X + 8n, 0x40050003n); // B's level-2 table descriptor for VA [2M, 4M)
    const res = replayTrace(w.end(), "t");
    expect(res.violations).toEqual([]);
  });

  it("does not let a switched-out context follow content a reused table page got while no CPU's current tables reached it (PAGE record)", () => {
    // The Debian 6.12 report at pmd_install+0xb0 / __pmd_alloc+0x170 (docs/trace-format.md):
    // mm A (ASID 1) exits on CPU 1 and CPU 1 switches away; A's teardown is not recorded (its
    // tables are reachable from no current TTBR), and its page X is reused as mm B's level-2
    // table. The plugin gives X's new content as a PAGE record when B links it. CPU 1 cannot
    // have cached that content through A's context: walks use the translation registers in
    // effect (Arm ARM D8.2), and the content was written after the switch. Before the fix the
    // model took it as written before the switch, read B's table descriptor at level 3 as a
    // global page (bits[1:0] = 0b11, nG = 0) that no TLBI by ASID removes, and reported B's own
    // break, TLBI ASIDE1IS, make (pmd_install: invalid → valid needs no TLBI) as a missing TLBI.
    expect(replayTrace(reusedTablePage("page after the switch"), "t").violations).toEqual([]);
    // Control: the same descriptor stored while A was current on CPU 1 may be cached there.
    const early = replayTrace(reusedTablePage("stored before the switch"), "t");
    expect(early.violations.map((v) => v.detail)).toContain("bbm.make-before-tlbi");
  });

  it("judges recorded accesses: a load through a leaf broken without a TLBI may use the old entry (stale translation)", () => {
    // ACCESS records (plugin access=N): CPU 1 reads VA after CPU 0 made its leaf invalid with no
    // TLBI: CPU 1 may still translate it with the old entry (Arm ARM D8.16: an entry stays
    // cached until invalidated). With the TLBI completed (DSB) and an ISB, the read is clean.
    const broken = booted().store(0, LEAF_PA, 0n).dsb(0).isb(1).access(1, 0, VA, 0xffff800008555550n);
    const res = replayTrace(broken.end(), "t");
    expect(res.violations.map((v) => v.detail)).toEqual(["stale.tlb"]);
    expect(renderTraceText("t", res, 0)).toMatch(/CPU 1, PC 0xffff800008555550: LDR \[VA 0xffff000000000000\]/);
    const fixed = booted().store(0, LEAF_PA, 0n).dsb(0).tlbi(0, TLBI_VAE1IS, tlbiVa(VA)).dsb(0).isb(0).isb(1).access(1, 0, VA);
    expect(replayTrace(fixed.end(), "t").violations).toEqual([]);
  });

  it("forgets a switched-out context once a TLBI ASIDE1 by its ASID completes, unless it holds global leaves", () => {
    // TLBI ASIDE1 invalidates every non-global entry of the ASID at every level (Arm ARM D8.16):
    // of an old context only global leaves (nG = 0) can remain. Linux's user pages are nG = 1, so
    // an exited process's context is gone (the replay no longer walks it on every index rebuild).
    const held = (nG: bigint): number => {
      const tcr = regs.tcr | (1n << 22n);
      const w = new TraceWriter(2);
      for (const cpu of [0, 1]) w.msr(cpu, 2, tcr).msr(cpu, 3, regs.mair);
      w.page(1, 0x40008000n, 0, new Map())
        .page(1, 0x40010000n, 0, new Map([[0, 0x40011003n]]))
        .page(1, 0x40011000n, 1, new Map([[0, 0x40012003n]]))
        .page(1, 0x40012000n, 2, new Map([[0, 0x40013003n]]))
        .page(1, 0x40013000n, 3, new Map([[0, 0x40050403n | (3n << 53n) | nG]]));
      w.msr(1, 1, 0x40008000n | (1n << 48n))
        .msr(1, 0, 0x40010000n)
        .msr(1, 4, regs.sctlr)
        .isb(1);
      w.msr(1, 0, 0x40009000n)
        .msr(1, 1, 0x40008000n | (3n << 48n))
        .msr(1, 0, 0x40009000n)
        .isb(1);
      w.dsb(0)
        .tlbi(0, (3 << 3) | 2, 1n << 48n)
        .dsb(0)
        .isb(1); // TLBI ASIDE1IS, ASID 1
      return replayTrace(w.end(), "t").machine.staleEntries(1);
    };
    expect(held(1n << 11n)).toBe(0);
    expect(held(0n)).toBeGreaterThan(0);
  });

  it("forgets what a CPU powered off by PSCI CPU_OFF held: another CPU may then rewrite its tables", () => {
    // Hibernate's restore rewrites the resuming kernel's tables after the other CPUs went
    // offline (PSCI CPU_OFF): a powered-off PE walks nothing and keeps no TLB state (it comes
    // back through reset, Arm ARM D8.16). CPU 0 has left the tables (TTBR1 = 0x40006000, empty)
    // when it overwrites a leaf without break-before-make: clean once CPU 1 is off, reported
    // while CPU 1 may still walk them.
    const rewrite = (off: boolean): TraceWriter => {
      const w = booted().page(0, 0x40006000n, 0, new Map()).msr(0, 1, 0x40006000n).isb(0);
      if (off) w.cpuOff(1);
      return w.store(0, LEAF_PA, leaf(0x40200000n));
    };
    expect(replayTrace(rewrite(true).end(), "t").violations).toEqual([]);
    expect(replayTrace(rewrite(false).end(), "t").violations.map((v) => v.rule)).toContain("bbm");
  });

  it("counts an EL1 TLBI the model does not know as inconclusive, never clean", () => {
    const w = booted().tlbi(0, (3 << 3) | 4, 0n); // SYS #0, C8, C3, #4: not an EL1&0 TLBI the model knows
    const res = replayTrace(w.end(), "t");
    expect(res.violations).toEqual([]);
    expect(traceVerdict(res)).toBe("inconclusive");
    expect(renderTraceText("t", res, 0)).toContain("SYS #0, C8, C3, #4");
  });

  it("treats exception entry and ERET as context synchronization (SCTLR_EL1.EIS/EOS set)", () => {
    const withIsb = booted().exception(0, 5, 0xffff800008010280n, 0xffff800008001234n).eret(0);
    const res = replayTrace(withIsb.end(), "t");
    // Every CPU: 2 MSRs + TTBR1 + SCTLR + ISB = 5 steps, then the exception entry and the ERET.
    expect(res.steps).toBe(12);
  });
});
