import { describe, expect, it } from "vitest";
import { descriptorFormat } from "../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../src/arch/granule.js";
import {
  kernelProts,
  PTE_AF,
  PTE_ATTRINDX,
  PTE_CONT,
  PTE_NG,
  PTE_PXN,
  PTE_RDONLY,
  PTE_SWBITS_MASK,
  PTE_UXN,
  PTE_WRITE,
  pgattrChangeIsSafe,
  pgattrVerdict,
} from "../../src/kernel/prot.js";

const P = kernelProts();
/** The 4K, 48-bit-OA descriptor format these pages use. */
const F4 = descriptorFormat(GRANULE_4K);
const page = (pa: bigint, prot: bigint): bigint => pa | prot;

describe("named prots (pgtable-prot.h)", () => {
  it("PAGE_KERNEL is PROT_NORMAL: valid page, AF, SH=inner, WRITE(DBM), PXN, UXN, AttrIndx 0", () => {
    expect(P.PAGE_KERNEL).toBe(0x0068_0000_0000_0703n);
    // RO: WRITE cleared, RDONLY set; ROX: also PXN cleared; EXEC: PXN cleared only.
    expect(P.PAGE_KERNEL_RO).toBe(0x0060_0000_0000_0783n);
    expect(P.PAGE_KERNEL_ROX).toBe(0x0040_0000_0000_0783n);
    expect(P.PAGE_KERNEL_EXEC).toBe(0x0048_0000_0000_0703n);
    expect(P.PROT_DEVICE_nGnRE).toBe(0x0068_0000_0000_0713n);
    expect(P.PROT_NORMAL_NC).toBe(0x0068_0000_0000_070bn);
    // Every kernel prot has UXN.
    for (const [name, v] of Object.entries(P)) if (name !== "PROT_DEFAULT") expect(v & PTE_UXN, name).toBe(PTE_UXN);
  });
  it("nG when KPTI may apply; no SH bits with LPA2", () => {
    expect(kernelProts({ nG: true }).PAGE_KERNEL & PTE_NG).toBe(PTE_NG);
    expect(kernelProts({ lpa2: true }).PAGE_KERNEL & (3n << 8n)).toBe(0n);
  });
});

describe("pgattr_change_is_safe (mmu.c; linux-arm64-mm.md 1.5)", () => {
  const old = page(0x4000_0000n, P.PAGE_KERNEL);
  it("allows permission-only changes: RW→RO, X→NX", () => {
    expect(pgattrChangeIsSafe(old, page(0x4000_0000n, P.PAGE_KERNEL_RO), F4)).toBe(true);
    expect(pgattrChangeIsSafe(page(0x4000_0000n, P.PAGE_KERNEL_EXEC), old, F4)).toBe(true);
  });
  it("creating or removing a mapping is always safe", () => {
    expect(pgattrChangeIsSafe(0n, old, F4)).toBe(true);
    expect(pgattrChangeIsSafe(old, 0n, F4)).toBe(true);
  });
  it("refuses a PFN change, CONT on either side, UXN/AF/AttrIndx changes", () => {
    expect(pgattrVerdict(old, page(0x4000_1000n, P.PAGE_KERNEL), F4)).toMatchObject({ safe: false, code: 1 });
    expect(pgattrVerdict(old, old | PTE_CONT, F4)).toMatchObject({ safe: false, code: 2 });
    expect(pgattrChangeIsSafe(old, old & ~PTE_UXN, F4)).toBe(false);
    expect(pgattrChangeIsSafe(old, old & ~PTE_AF, F4)).toBe(false);
    expect(pgattrChangeIsSafe(old, (old & ~(7n << 2n)) | PTE_ATTRINDX(4), F4)).toBe(false);
  });
  it("G→nG is allowed from v4.15 (KPTI), nG→G never", () => {
    expect(pgattrChangeIsSafe(old, old | PTE_NG, F4, "v4.15")).toBe(true);
    expect(pgattrChangeIsSafe(old, old | PTE_NG, F4, "v4.12")).toBe(false);
    expect(pgattrVerdict(old | PTE_NG, old, F4)).toMatchObject({ safe: false, code: 3 });
  });
  it("Normal↔Normal-Tagged only from v5.10 (MTE)", () => {
    const tagged = (old & ~(7n << 2n)) | PTE_ATTRINDX(1);
    expect(pgattrChangeIsSafe(old, tagged, F4, "v5.10")).toBe(true);
    expect(pgattrChangeIsSafe(old, tagged, F4, "v4.15")).toBe(false);
  });
  it("a non-zero invalid entry counts as live before v5.10 only", () => {
    const inval = old & ~1n;
    const other = page(0x5000_0000n, P.PAGE_KERNEL);
    expect(pgattrChangeIsSafe(inval, other, F4, "v5.10")).toBe(true);
    expect(pgattrChangeIsSafe(inval, other, F4, "v4.15")).toBe(false);
  });
  it("software bits join the mask in v6.16; CONT check arrives in v4.12", () => {
    const sw = old | (1n << 55n);
    expect(pgattrChangeIsSafe(old, sw, F4, "v6.16")).toBe(true);
    expect(pgattrChangeIsSafe(old, sw, F4, "v5.10")).toBe(false);
    expect(PTE_SWBITS_MASK & (1n << 55n)).toBe(1n << 55n);
    const c = old | PTE_CONT;
    expect(pgattrChangeIsSafe(c, (c | PTE_RDONLY) & ~PTE_WRITE, F4, "v4.11")).toBe(true);
    expect(pgattrChangeIsSafe(c, (c | PTE_RDONLY) & ~PTE_WRITE, F4, "v4.12")).toBe(false);
    expect(pgattrChangeIsSafe(old, old & ~PTE_PXN, F4, "v4.11")).toBe(true);
  });
});
