/**
 * The contiguous-group rule has one home (src/walk/contiguous.ts) that the machine's checker and
 * `audit` both call. Arm ARM DDI0487 K.a D8.6.1 "The Contiguous bit": every entry of the group
 * has the bit, consecutive OAs from an aligned base and identical attributes and permissions;
 * "Misprogramming of the Contiguous bit" (vmsa-rules.md §3.3): otherwise a lookup may give a TLB
 * conflict abort or an amalgamated result. Exempt: AF (hardware may set it in one entry), and
 * AP[2] as the dirty state when TCR.HD=1 and DBM=1 (the PE clears it in the entry it wrote).
 */
import { describe, expect, it } from "vitest";
import { encodeLeaf } from "../../src/arch/descriptor.js";
import { presetByName, type Regs } from "../../src/arch/registers.js";
import { audit } from "../../src/dump/audit.js";
import { compileRegs } from "../../src/walk/context.js";
import { checkContiguousGroup } from "../../src/walk/contiguous.js";
import { KERNEL_RW, KVA, PA_A, setup } from "../machine/helpers.js";

const PAGE = 0x1000n;
const CONT_RW = { ...KERNEL_RW, contiguous: true } as const;

/** A 16-entry level-3 group at KVA (4K granule: 16 × 4 KiB = 64 KiB, vmsa-rules §3.1) whose entry 7 gets `odd`. */
function group(odd: Record<string, unknown>, base: Record<string, unknown> = {}) {
  const s = setup();
  const das: bigint[] = [];
  for (let i = 0n; i < 16n; i++) {
    const f = i === 7n ? { ...CONT_RW, ...base, ...odd } : { ...CONT_RW, ...base };
    das.push(...s.b.map(KVA + i * PAGE, PA_A + i * PAGE, PAGE, 3, f));
  }
  const regs: Regs = { ...presetByName("linux-4k-48").regs, ttbr1: 0x80000n };
  return { ...s, das, regs };
}

function problems(odd: Record<string, unknown>, base: Record<string, unknown> = {}, hd = true) {
  const { mem, das, regs } = group(odd, base);
  const h = compileRegs(regs).halves[1];
  return checkContiguousGroup(mem, h, hd, 3, Number(das[3] as bigint))?.problems ?? [];
}

describe("contiguous groups: the shared rule", () => {
  it("a well-formed group has no problems", () => {
    expect(problems({})).toEqual([]);
  });

  it("one read-only entry (AP[2]=1, DBM=0) is a permission difference", () => {
    expect(problems({ ap: 2 })).toEqual([{ kind: "attributes", entry: 7, reference: 0, fields: ["AP[2]"] }]);
  });

  it("AP[2] differing as the dirty state (DBM=1 on both, TCR.HD=1) is allowed; without HD it is not", () => {
    expect(problems({ ap: 2 }, { dbm: true }, true)).toEqual([]);
    expect(problems({ ap: 2 }, { dbm: true }, false)).toEqual([{ kind: "attributes", entry: 7, reference: 0, fields: ["AP[2]"] }]);
  });

  it("GP (BTI guarded page) must match; AF and the software bits need not", () => {
    expect(problems({ gp: true })).toEqual([{ kind: "attributes", entry: 7, reference: 0, fields: ["GP"] }]);
    expect(problems({ af: false })).toEqual([]);
    expect(problems({ sw: 0xf })).toEqual([]);
  });

  it("a member without the bit, a hole and non-consecutive OAs are each named", () => {
    expect(problems({ contiguous: false })).toEqual([{ kind: "no-contiguous-bit", entry: 7, descAddr: expect.any(Number) }]);
    const { mem, das, regs } = group({});
    mem.write64(das[7] as bigint, 0n);
    mem.write64(das[9] as bigint, encodeLeaf({ ...CONT_RW, oa: PA_A }, 3, compileRegs(regs).halves[1].fmt));
    const h = compileRegs(regs).halves[1];
    const kinds = checkContiguousGroup(mem, h, true, 3, Number(das[0] as bigint))?.problems.map((p) => p.kind);
    expect(kinds).toEqual(["not-leaf", "not-consecutive"]);
  });
});

describe("contiguous groups: the machine and audit give the same verdict", () => {
  // The bug this pins: the machine masked AP[2] always (and ignored GP), so a group with one
  // read-only entry passed the checker while audit flagged it.
  for (const [what, odd] of [
    ["one read-only entry", { ap: 2 }],
    ["one guarded (GP) entry", { gp: true }],
  ] as const) {
    it(`${what}: flagged by the checker and by audit`, () => {
      const s = setup();
      const das: bigint[] = [];
      for (let i = 0n; i < 16n; i++) if (i !== 7n) das.push(...s.b.map(KVA + i * PAGE, PA_A + i * PAGE, PAGE, 3, CONT_RW));
      // The odd entry is written through the machine (invalid → valid needs no break), then published.
      const pte7 = s.b.slot(KVA + 7n * PAGE, 3);
      s.m.store64(0, pte7, encodeLeaf({ ...CONT_RW, ...odd, oa: PA_A + 7n * PAGE }, 3, s.b.fmt));
      s.m.dsb(0, "ISH");
      s.m.finish();
      expect(s.m.reports.map((r) => r.detail)).toEqual(["contiguous.misprogrammed"]);
      const regs: Regs = { ...presetByName("linux-4k-48").regs, ttbr1: 0x80000n };
      const bad = audit(s.mem, regs, { userHalf: false }).findings.filter((f) => f.kind === "bad-contiguous");
      expect(bad).toHaveLength(1);
      expect(bad[0]?.va).toBe(KVA);
    });
  }

  it("a dirty-state difference (DBM=1, TCR.HD=1) is clean for both", () => {
    const s = setup();
    for (let i = 0n; i < 16n; i++) s.b.map(KVA + i * PAGE, PA_A + i * PAGE, PAGE, 3, { ...CONT_RW, dbm: true, ap: i === 7n ? 2 : 0 });
    // Republish entry 7 through the machine so its group is checked.
    const pte7 = s.b.slot(KVA + 7n * PAGE, 3);
    s.m.store64(0, pte7, 0n);
    s.m.store64(0, pte7, encodeLeaf({ ...CONT_RW, dbm: true, ap: 2, oa: PA_A + 7n * PAGE }, 3, s.b.fmt));
    s.m.dsb(0, "ISH");
    s.m.finish();
    expect(s.m.reports.filter((r) => r.rule === "contiguous")).toEqual([]);
    const regs: Regs = { ...presetByName("linux-4k-48").regs, ttbr1: 0x80000n };
    expect(audit(s.mem, regs, { userHalf: false }).findings.filter((f) => f.kind === "bad-contiguous")).toEqual([]);
  });
});
