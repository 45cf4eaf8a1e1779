/**
 * `audit` over crafted tables: one test per finding kind, each built so the check must fire, plus
 * a clean baseline that must stay clean.
 */
import { describe, expect, it } from "vitest";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { presetByName, type Regs } from "../../src/arch/registers.js";
import { audit, auditToJson, formatAudit } from "../../src/dump/audit.js";
import { TestTables } from "../helpers/tables.js";

const KBASE = 0xffff_0000_0000_0000n; // TTBR1 half base for 48-bit VA
const PAGE = 0x1000n;
// Linux PAGE_KERNEL: AF, SH inner, PXN, UXN, AttrIndx 0 (Normal); RO adds AP[2].
const KERNEL_RW = { af: true, sh: 3, pxn: true, uxn: true, attrIndx: 0 } as const;

function setup(): { t: TestTables; regs: (ttbr0?: bigint) => Regs } {
  const t = new TestTables(GRANULE_4K, 0);
  const base = presetByName("linux-4k-48").regs;
  return { t, regs: (ttbr0 = 0n) => ({ ...base, ttbr1: t.root, ttbr0 }) };
}

describe("audit", () => {
  it("clean kernel tables pass with the kernel's own summary line", () => {
    const { t, regs } = setup();
    t.map(0n, 3, { ...KERNEL_RW, oa: 0x5000_0000n });
    t.map(PAGE, 3, { ...KERNEL_RW, ap: 2, pxn: false, oa: 0x5000_1000n }); // ROX text
    const r = audit(t.mem, regs(), { userHalf: false });
    expect(r.findings).toEqual([]);
    // arch/arm64/mm/ptdump.c ptdump_check_wx pass message.
    expect(r.wx.summary).toBe("Checked W+X mappings: passed, no W+X pages found");
  });

  it("W+X and non-UXN pages are counted like ptdump_check_wx (leaf bits, pages of PAGE_SIZE)", () => {
    const { t, regs } = setup();
    for (let i = 0n; i < 3n; i++) t.map(i * PAGE, 3, { ...KERNEL_RW, pxn: false, oa: 0x5000_0000n + i * PAGE }); // RWX
    t.map(0x200000n, 2, { ...KERNEL_RW, uxn: false, oa: 0x5020_0000n }); // 2M block without UXN = 512 pages
    const r = audit(t.mem, regs(), { userHalf: false });
    expect(r.wx.wxPages).toBe(3n);
    expect(r.wx.nonUxnPages).toBe(512n);
    expect(r.wx.summary).toBe("Checked W+X mappings: FAILED, 3 W+X pages found, 512 non-UXN pages found");
    const wx = r.findings.filter((f) => f.kind === "wx");
    expect(wx).toHaveLength(1); // merged: VA-contiguous, same message
    expect(wx[0]?.va).toBe(KBASE);
    expect(wx[0]?.size).toBe(3n * PAGE);
    expect(r.findings.some((f) => f.kind === "non-uxn" && f.va === KBASE + 0x200000n)).toBe(true);
  });

  it("a non-zero invalid PTE (debug_pagealloc style) still counts for the kernel check", () => {
    const { t, regs } = setup();
    // Valid bit clear, AF set, UXN clear: ptdump notes it ("F"), ptdump_check_wx counts it.
    t.raw(0n, 3, 0x400n | 0x5000_0000n);
    const r = audit(t.mem, regs(), { userHalf: false });
    expect(r.wx.nonUxnPages).toBe(1n);
    expect(r.wx.wxPages).toBe(1n);
  });

  it("EL0-accessible kernel memory, unless APTable[0] blocks it", () => {
    const { t, regs } = setup();
    t.map(0n, 3, { ...KERNEL_RW, ap: 1, oa: 0x5000_0000n }); // AP=01: EL0 RW
    const r = audit(t.mem, regs(), { userHalf: false });
    expect(r.findings.map((f) => f.kind)).toContain("user-kernel");
    const t2 = new TestTables(GRANULE_4K, 0);
    // APTable=01 (bit 61) on every table descriptor: no EL0 access below (Arm ARM hierarchical permissions).
    t2.map(0n, 3, { ...KERNEL_RW, ap: 1, oa: 0x5000_0000n }, 1n << 61n);
    const r2 = audit(t2.mem, { ...presetByName("linux-4k-48").regs, ttbr1: t2.root }, { userHalf: false });
    expect(r2.findings.map((f) => f.kind)).not.toContain("user-kernel");
  });

  it("attribute aliases: Device vs Normal is an error, NC vs WB Normal a warning", () => {
    const { t, regs } = setup();
    t.map(0n, 3, { ...KERNEL_RW, oa: 0x5000_0000n }); // Normal WB (MAIR idx 0 = 0xff)
    t.map(PAGE, 3, { ...KERNEL_RW, attrIndx: 4, oa: 0x5000_0000n }); // Device-nGnRE (idx 4)
    t.map(2n * PAGE, 3, { ...KERNEL_RW, attrIndx: 2, oa: 0x5000_0000n }); // Normal-NC (idx 2)
    t.map(3n * PAGE, 3, { ...KERNEL_RW, attrIndx: 1, oa: 0x5000_0000n }); // Normal-Tagged (same type as Normal)
    const r = audit(t.mem, regs(), { userHalf: false });
    const al = r.findings.filter((f) => f.kind === "attr-alias");
    expect(al.some((f) => f.severity === "error" && f.message.includes("Device-nGnRE"))).toBe(true);
    expect(al.some((f) => f.severity === "warning" && f.message.includes("inner NC"))).toBe(true);
    expect(al.every((f) => !(f.message.includes("Normal(inner WB") && f.message.split("Normal(inner WB").length > 2))).toBe(true);
  });

  it("misprogrammed contiguous groups: a member without CONT, and a misaligned OA", () => {
    const { t, regs } = setup();
    // 4K level 3: 16 entries per group (vmsa-rules 3.1). Entry 5 lacks the bit.
    for (let i = 0n; i < 16n; i++) t.map(i * PAGE, 3, { ...KERNEL_RW, contiguous: i !== 5n, oa: 0x5000_0000n + i * PAGE });
    // Second group: all CONT, OA not 64K aligned.
    for (let i = 0n; i < 16n; i++) t.map(0x10000n + i * PAGE, 3, { ...KERNEL_RW, contiguous: true, oa: 0x5000_1000n + i * PAGE });
    // Third group: well formed.
    for (let i = 0n; i < 16n; i++) t.map(0x20000n + i * PAGE, 3, { ...KERNEL_RW, contiguous: true, oa: 0x5010_0000n + i * PAGE });
    const r = audit(t.mem, regs(), { userHalf: false });
    const bad = r.findings.filter((f) => f.kind === "bad-contiguous");
    expect(bad.map((f) => f.va)).toEqual([KBASE, KBASE + 0x10000n]);
    expect(bad[0]?.message).toContain("entry 5 lacks the contiguous bit");
    expect(bad[1]?.message).toContain("not aligned to the 64K group");
  });

  it("RES0 bits in a block's OA field and NS are reported", () => {
    const { t, regs } = setup();
    const da = t.map(0x200000n, 2, { ...KERNEL_RW, oa: 0x5020_0000n });
    const v = t.mem.read64(da) ?? 0n;
    t.mem.write64(da, v | (1n << 13n)); // bit 13 is inside OA[20:12] of a 2M block: RES0
    t.map(0n, 3, { ...KERNEL_RW, ns: true, oa: 0x5000_0000n });
    const r = audit(t.mem, regs(), { userHalf: false });
    const res = r.findings.filter((f) => f.kind === "reserved-bits");
    expect(res.some((f) => f.message.includes("OA bits [20:12]"))).toBe(true);
    expect(res.some((f) => f.message.includes("bit 5 (NS"))).toBe(true);
  });

  it("protected PA ranges and global user mappings", () => {
    const { t, regs } = setup();
    t.map(0n, 3, { ...KERNEL_RW, oa: 0x4800_0000n });
    const user = new TestTables(GRANULE_4K, 0, { allocBase: 0x6000_0000n });
    user.map(0x40_0000n, 3, { af: true, sh: 3, ap: 1, pxn: true, nG: false, oa: 0x5100_0000n });
    // Merge the user tables' memory: copy its pages into t.mem.
    for (const pfn of user.mem.backedFrames()) t.mem.writeBytes(BigInt(pfn) * PAGE, user.mem.readBytes(BigInt(pfn) * PAGE, 4096));
    const r = audit(t.mem, regs(user.root), { protectedRanges: [{ start: 0x4800_0000n, end: 0x4800_1000n }] });
    expect(r.findings.find((f) => f.kind === "protected")?.va).toBe(KBASE);
    const g = r.findings.find((f) => f.kind === "global-user");
    expect(g?.va).toBe(0x40_0000n);
    expect(formatAudit(r)).toContain("global (nG=0) mapping in the user half");
    expect((auditToJson(r) as { errors: number }).errors).toBe(2);
  });
});
