/**
 * The kernel's descriptor constants and every branch of pgattr_change_is_safe per era, with the
 * reason each refusal gives (mutation testing: `npm run test:mutation -- prot`). Sources: Linux
 * arch/arm64/include/asm/pgtable-hwdef.h (bit names), arch/arm64/mm/mmu.c
 * pgattr_change_is_safe() and its history (reference linux-arm64-mm.md §1.5).
 */
import { describe, expect, it } from "vitest";
import { descriptorFormat } from "../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../src/arch/granule.js";
import {
  kernelProts,
  MT_DEVICE_nGnRE,
  MT_DEVICE_nGnRnE,
  MT_NORMAL,
  MT_NORMAL_NC,
  MT_NORMAL_TAGGED,
  PGATTR_BITS,
  PGATTR_CONT,
  PGATTR_ERAS,
  PGATTR_NG_TO_G,
  PGATTR_PFN,
  type PgattrEra,
  PMD_TYPE_SECT,
  PMD_TYPE_TABLE,
  PTE_AF,
  PTE_ATTRINDX,
  PTE_ATTRINDX_MASK,
  PTE_CONT,
  PTE_DBM,
  PTE_GP,
  PTE_NG,
  PTE_PXN,
  PTE_RDONLY,
  PTE_SHARED,
  PTE_SWBITS_MASK,
  PTE_TABLE_BIT,
  PTE_TYPE_PAGE,
  PTE_USER,
  PTE_UXN,
  PTE_VALID,
  PTE_WRITE,
  pgattrChangeIsSafe,
  pgattrRule,
  pgattrVerdict,
  pgprotTagged,
  pteMkwrite,
  TABLE_PXN,
  TABLE_UXN,
} from "../../src/kernel/prot.js";

describe("descriptor bits as pgtable-hwdef.h names them", () => {
  // The kernel's names for the Arm ARM DDI0487 D8.3 descriptor fields.
  it("places each named bit where the architecture has the field", () => {
    expect({
      PTE_VALID,
      PTE_TABLE_BIT,
      PTE_TYPE_PAGE,
      PMD_TYPE_SECT,
      PMD_TYPE_TABLE,
      PTE_ATTRINDX_MASK,
      PTE_USER,
      PTE_RDONLY,
      PTE_SHARED,
      PTE_AF,
      PTE_NG,
      PTE_GP,
      PTE_DBM,
      PTE_WRITE,
      PTE_CONT,
      PTE_PXN,
      PTE_UXN,
      PTE_SWBITS_MASK,
      TABLE_PXN,
      TABLE_UXN,
    }).toEqual({
      PTE_VALID: 1n,
      PTE_TABLE_BIT: 2n,
      PTE_TYPE_PAGE: 3n,
      PMD_TYPE_SECT: 1n,
      PMD_TYPE_TABLE: 3n,
      PTE_ATTRINDX_MASK: 0x1cn,
      PTE_USER: 0x40n, // AP[1]
      PTE_RDONLY: 0x80n, // AP[2]
      PTE_SHARED: 0x300n, // SH = Inner Shareable
      PTE_AF: 0x400n,
      PTE_NG: 0x800n,
      PTE_GP: 1n << 50n,
      PTE_DBM: 1n << 51n,
      PTE_WRITE: 1n << 51n, // PTE_WRITE is the DBM bit
      PTE_CONT: 1n << 52n,
      PTE_PXN: 1n << 53n,
      PTE_UXN: 1n << 54n,
      PTE_SWBITS_MASK: (1n << 63n) | (0xfn << 55n),
      TABLE_PXN: 1n << 59n,
      TABLE_UXN: 1n << 60n,
    });
  });

  // Current kernels' MAIR layout (v5.11+): Normal, Normal-Tagged, Normal-NC, nGnRnE, nGnRE.
  it("numbers the memory types as MAIR_EL1 slots", () => {
    expect([MT_NORMAL, MT_NORMAL_TAGGED, MT_NORMAL_NC, MT_DEVICE_nGnRnE, MT_DEVICE_nGnRE]).toEqual([0, 1, 2, 3, 4]);
    expect(PTE_ATTRINDX(MT_DEVICE_nGnRE)).toBe(0x10n);
    expect(PTE_ATTRINDX(9)).toBe(0x4n);
  });

  // pgprot_tagged(): only MT_NORMAL becomes MT_NORMAL_TAGGED (asm/pgtable.h).
  it("pgprot_tagged retags Normal memory only", () => {
    const p = kernelProts();
    expect(pgprotTagged(p.PAGE_KERNEL)).toBe(p.PROT_NORMAL_TAGGED);
    expect(pgprotTagged(p.PROT_NORMAL_NC)).toBe(p.PROT_NORMAL_NC);
    expect(pgprotTagged(p.PROT_DEVICE_nGnRE)).toBe(p.PROT_DEVICE_nGnRE);
    expect(pgprotTagged(p.PROT_NORMAL_TAGGED)).toBe(p.PROT_NORMAL_TAGGED);
  });

  // pte_mkwrite: set PTE_WRITE (DBM) and clear PTE_RDONLY.
  it("pte_mkwrite turns PAGE_KERNEL_RO into PAGE_KERNEL", () => {
    const p = kernelProts();
    expect(pteMkwrite(p.PAGE_KERNEL_RO)).toBe(p.PAGE_KERNEL);
    expect(pteMkwrite(p.PAGE_KERNEL)).toBe(p.PAGE_KERNEL);
  });
});

describe("pgattr_change_is_safe eras", () => {
  const p = kernelProts();
  const page = p.PAGE_KERNEL | 0x4000_0000n;
  // 4K tables, 48-bit OAs; with FEAT_LPA2 (TCR.DS=1) and 52-bit OAs.
  const F4 = descriptorFormat(GRANULE_4K);
  const F4_DS = descriptorFormat(GRANULE_4K, { ds: true, oaBits: 52 });
  const code = (o: bigint, n: bigint, era: PgattrEra, ds = false) => {
    const v = pgattrVerdict(o, n, ds ? F4_DS : F4, era);
    return v.safe ? 0 : v.code;
  };
  const eras = (o: bigint, n: bigint) => PGATTR_ERAS.map((e) => code(o, n, e));

  it("knows the five eras and refuses any other", () => {
    expect(PGATTR_ERAS).toEqual(["v4.11", "v4.12", "v4.15", "v5.10", "v6.16"]);
    expect(() => pgattrRule("v5.4" as PgattrEra)).toThrow(/era: "v5.4" is not one of v4.11, v4.12, v4.15, v5.10, v6.16/);
    expect(() => pgattrVerdict(page, page, F4, "v3" as PgattrEra)).toThrow(expect.objectContaining({ code: "EKERN_CONFIG" }));
  });

  // The rule for an era is compiled once (the hot path allocates nothing).
  it("compiles each era once; v6.16 is the default", () => {
    expect(pgattrRule("v4.15")).toBe(pgattrRule("v4.15"));
    expect(pgattrRule()).toBe(pgattrRule("v6.16"));
  });

  // v5.10: "A live entry's pfn should not change" (PFN check). Before it, the PFN bits were
  // simply outside the permission mask.
  it("an output-address change: PFN from v5.10, outside the mask before", () => {
    expect(eras(page, page ^ 0x1000n)).toEqual([PGATTR_BITS, PGATTR_BITS, PGATTR_BITS, PGATTR_PFN, PGATTR_PFN]);
    // OA bits above bit 31 are checked too.
    expect(eras(page, page ^ (1n << 40n))).toEqual([PGATTR_BITS, PGATTR_BITS, PGATTR_BITS, PGATTR_PFN, PGATTR_PFN]);
  });

  // With LPA2 (TCR.DS=1) OA[51:50] are bits [9:8] and OA[49:48] bits [49:48].
  it("with LPA2, bits [9:8] and [49:48] are PFN bits; without, [9:8] is SH", () => {
    expect(code(page, page ^ (1n << 8n), "v6.16", true)).toBe(PGATTR_PFN);
    expect(code(page, page ^ (1n << 48n), "v6.16", true)).toBe(PGATTR_PFN);
    expect(code(page, page ^ (1n << 8n), "v6.16")).toBe(PGATTR_BITS);
    expect(code(page, page ^ (1n << 48n), "v6.16")).toBe(PGATTR_BITS);
    expect(pgattrVerdict(page, page ^ (1n << 8n), F4)).toEqual({
      safe: false,
      code: PGATTR_BITS,
      reason: "bits outside the permission mask change",
    });
  });

  // d27cfa1fc823 (v4.12): a live contiguous entry may not change at all, even its permissions.
  it("a PTE_CONT entry on either side: refused from v4.12", () => {
    expect(eras(page | PTE_CONT, (page | PTE_CONT) ^ PTE_RDONLY)).toEqual([0, PGATTR_CONT, PGATTR_CONT, PGATTR_CONT, PGATTR_CONT]);
    expect(eras(page, page | PTE_CONT | PTE_RDONLY)).toEqual([PGATTR_BITS, PGATTR_CONT, PGATTR_CONT, PGATTR_CONT, PGATTR_CONT]);
  });

  // KPTI (v4.15): nG joins the mask; only nG→G is refused. Before, any nG change is outside it.
  it("nG: G→nG and nG→nG changes are safe from v4.15, nG→G never", () => {
    expect(eras(page, page | PTE_NG)).toEqual([PGATTR_BITS, PGATTR_BITS, 0, 0, 0]);
    expect(eras(page | PTE_NG, page)).toEqual([PGATTR_BITS, PGATTR_BITS, PGATTR_NG_TO_G, PGATTR_NG_TO_G, PGATTR_NG_TO_G]);
    expect(eras(page | PTE_NG, page | PTE_NG | PTE_RDONLY)).toEqual([0, 0, 0, 0, 0]);
  });

  // v5.10 (MTE): AttrIndx may change between MT_NORMAL and MT_NORMAL_TAGGED, in both directions,
  // and no other AttrIndx change is allowed.
  it("Normal ↔ Normal-Tagged only from v5.10; no other memory-type change", () => {
    const tagged = p.PROT_NORMAL_TAGGED | 0x4000_0000n;
    const nc = p.PROT_NORMAL_NC | 0x4000_0000n;
    const dev = p.PROT_DEVICE_nGnRE | 0x4000_0000n;
    expect(eras(page, tagged)).toEqual([PGATTR_BITS, PGATTR_BITS, PGATTR_BITS, 0, 0]);
    expect(eras(tagged, page)).toEqual([PGATTR_BITS, PGATTR_BITS, PGATTR_BITS, 0, 0]);
    expect(code(page, nc, "v6.16")).toBe(PGATTR_BITS);
    expect(code(nc, page, "v6.16")).toBe(PGATTR_BITS);
    expect(code(dev, page, "v6.16")).toBe(PGATTR_BITS);
    expect(code(tagged, dev, "v6.16")).toBe(PGATTR_BITS);
  });

  // e98216b52176 (v4.11): only a zero old or new value is exempt, so a non-zero entry counts as
  // live even when its only set bits are in the upper half. v5.10: the valid bit decides.
  it("before v5.10 only an all-zero entry is exempt, in either half", () => {
    const hiOnly = PTE_UXN;
    const loOnly = 0x4000_0000n;
    for (const era of ["v4.11", "v4.12", "v4.15"] as const) {
      expect(code(0n, page, era)).toBe(0);
      expect(code(page, 0n, era)).toBe(0);
      expect(code(hiOnly, page, era), `old high half only, ${era}`).toBe(PGATTR_BITS);
      expect(code(page, hiOnly, era), `new high half only, ${era}`).toBe(PGATTR_BITS);
      expect(code(loOnly, page, era), `old low half only, ${era}`).toBe(PGATTR_BITS);
      expect(code(page, loOnly, era), `new low half only, ${era}`).toBe(PGATTR_BITS);
    }
    expect(code(hiOnly, page, "v5.10")).toBe(0);
    expect(code(page, loOnly, "v6.16")).toBe(0);
  });

  it("gives the kernel's reason for each refusal", () => {
    const reason = (o: bigint, n: bigint, era: PgattrEra = "v6.16") => {
      const v = pgattrVerdict(o, n, F4, era);
      return v.safe ? "safe" : v.reason;
    };
    expect(reason(page, page ^ 0x1000n)).toBe("the output address (PFN) of a live entry changes");
    expect(reason(page | PTE_CONT, page | PTE_CONT | PTE_RDONLY)).toBe("a live contiguous (PTE_CONT) entry changes");
    expect(reason(page | PTE_NG, page)).toBe("a live entry changes from non-global to global (nG→G)");
    expect(reason(page, page ^ PTE_AF)).toBe("bits outside the permission mask change");
    expect(reason(page, page | PTE_RDONLY)).toBe("safe");
    expect(pgattrChangeIsSafe(page, page | PTE_RDONLY, F4)).toBe(true);
    expect(pgattrChangeIsSafe(page, page ^ PTE_AF, F4)).toBe(false);
    expect(pgattrChangeIsSafe(page, page ^ (1n << 8n), F4_DS)).toBe(false);
  });
});
