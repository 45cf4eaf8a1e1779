/**
 * KVM's stage2_page_tables in the Linux 6.19+ format (commit "KVM: arm64: Teach ptdump about
 * FEAT_XNX permissions", KVM/arm64 pull for 6.19, arch/arm64/kvm/ptdump.c stage2_pte_bits[]):
 * masks without the valid bit, XN[1:0] (bits 54:53) printed as exactly one of "px ux ", "PXNux ",
 * "PXNUXN", "px UXN" with no clear string. Expected lines typed in from those rules.
 */
import { describe, expect, it } from "vitest";
import { descriptorFormat } from "../../src/arch/descriptor.js";
import { GRANULE_4K, levelShift } from "../../src/arch/granule.js";
import { kvmStage2PageTables } from "../../src/dump/kvm-stage2.js";
import type { RangeGeometry } from "../../src/walk/range.js";
import { AF, L2, L3, NORMAL_WB, put, R, ROOT, SH_IS, tableMemory, W, XN, XN0 } from "../helpers/kvm-stage2-tables.js";

function geometry40(): RangeGeometry {
  return {
    fmt: descriptorFormat(GRANULE_4K, { oaBits: 48 }),
    gShift: 12,
    iaBits: 40,
    startLevel: 1,
    shiftAt: [-1, 0, 1, 2, 3].map((l) => levelShift(GRANULE_4K, l)),
    bitsAt: [0, 0, 10, 9, 9],
    base: Number(ROOT),
    paLimit: 2 ** 48,
    hpd: true,
    tnszFault: false,
    baseFault: false,
  };
}

/** Pages with each XN[1:0] value, an invalid entry with bits, a 2M RWX block. */
function xnxTables(): ReturnType<typeof tableMemory> {
  const mem = tableMemory();
  put(mem, ROOT, 1, L2 | 3n);
  put(mem, L2, 0, L3 | 3n);
  put(mem, L3, 0, 0x6000_0000n | AF | SH_IS | R | W | NORMAL_WB | 3n | XN); // XN 10
  put(mem, L3, 1, 0x6000_1000n | AF | SH_IS | R | NORMAL_WB | 3n); // XN 00
  put(mem, L3, 2, 0x6000_2000n | AF | SH_IS | R | NORMAL_WB | 3n | XN0); // XN 01: EL0 only
  put(mem, L3, 3, 0x6000_3000n | AF | SH_IS | R | NORMAL_WB | 3n | XN | XN0); // XN 11: EL1 only
  put(mem, L3, 4, AF | R); // invalid (bit 0 clear) with bits the 6.19 masks see
  put(mem, L2, 1, 0x6020_0000n | AF | SH_IS | R | W | NORMAL_WB | 1n);
  return mem;
}

describe("KVM stage2_page_tables, FEAT_XNX columns (Linux 6.19+)", () => {
  it("prints XN[1:0] as px/PXN ux/UXN and notes R/W/AF of invalid entries (masks without the valid bit)", () => {
    const r = kvmStage2PageTables(xnxTables(), geometry40(), { era: "linux-6.19" });
    expect(r.text).toBe(
      [
        "---[ Guest IPA ]---",
        "0x0000000000000000-0x0000000040000000           1G 1",
        "0x0000000040000000-0x0000000040001000           4K 3   R W PXNUXN AF    ",
        "0x0000000040001000-0x0000000040002000           4K 3   R   px ux  AF    ",
        "0x0000000040002000-0x0000000040003000           4K 3   R   PXNux  AF    ",
        "0x0000000040003000-0x0000000040004000           4K 3   R   px UXN AF    ",
        "0x0000000040004000-0x0000000040005000           4K 3 F R   px ux  AF    ",
        "0x0000000040005000-0x0000000040200000        2028K 3",
        "0x0000000040200000-0x0000000040400000           2M 2   R W px ux  AF BLK",
        "0x0000000040400000-0x0000000080000000        1020M 2",
        "",
      ].join("\n"),
    );
  });

  it("the 6.12 format (the default) does not see XN[0]: the XN 00 and 01 pages are one run, and invalid entries print X", () => {
    const r = kvmStage2PageTables(xnxTables(), geometry40());
    expect(r.text).toBe(
      [
        "---[ Guest IPA ]---",
        "0x0000000000000000-0x0000000040000000           1G 1",
        "0x0000000040000000-0x0000000040001000           4K 3   R W X AF    ",
        "0x0000000040001000-0x0000000040003000           8K 3   R     AF    ",
        "0x0000000040003000-0x0000000040004000           4K 3   R   X AF    ",
        "0x0000000040004000-0x0000000040005000           4K 3 F     X       ",
        "0x0000000040005000-0x0000000040200000        2028K 3",
        "0x0000000040200000-0x0000000040400000           2M 2   R W   AF BLK",
        "0x0000000040400000-0x0000000080000000        1020M 2",
        "",
      ].join("\n"),
    );
  });
});
