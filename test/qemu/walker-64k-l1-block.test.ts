/**
 * Found by the QEMU differential test: a 64K-granule level-1 block descriptor is valid whenever
 * the *implemented* PA size is 52 bits (FEAT_LPA), whatever TCR_EL1.IPS says. ASL
 * AArch64.BlockDescSupported: for TGx_64KB, `level == 2 || (level == 1 && AArch64.PAMax() == 52)`;
 * the OA is then checked against the IPS-limited output size (Address size fault if beyond).
 * QEMU (lpae_block_desc_valid, arm_pamax) agrees; so does vmsa-rules.md §1.1.
 */
import { describe, expect, it } from "vitest";
import { descriptorFormat, encodeLeaf } from "../../src/arch/descriptor.js";
import { GRANULE_64K } from "../../src/arch/granule.js";
import { encodeTcr, FEATURES_MAX, FEATURES_V80, type Regs } from "../../src/arch/registers.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { AT_OPS, Walker } from "../../src/walk/walker.js";

const ROOT = 0x4800_0000n;

function setup(ipsBits: number, paBits: number): { mem: PhysMem; regs: Regs } {
  const mem = new PhysMem();
  mem.addRam(ROOT, 0x10_0000n);
  // 64K granule, T0SZ=16: 48-bit VA, start level 1 (64 entries of 4 TB).
  const fmt = descriptorFormat(GRANULE_64K);
  mem.write64(ROOT + 8n, encodeLeaf({ oa: 0x0400_0000_0000n, af: true, sh: 3, attrIndx: 0 }, 1, fmt) & ~2n);
  const regs: Regs = {
    ttbr0: ROOT,
    ttbr1: 0n,
    tcr: encodeTcr({ t0sz: 16, t1sz: 16, tg0: "64K", tg1: "64K", ipsBits }),
    mair: 0xffn,
    sctlr: 1n,
    features: { ...FEATURES_MAX, paBits },
  };
  return { mem, regs };
}

describe("64K level-1 blocks follow the implemented PA size (ASL AArch64.BlockDescSupported)", () => {
  it("is a block with PARange=52 even when TCR_EL1.IPS=48", () => {
    const { mem, regs } = setup(48, 52);
    const r = new Walker(mem, regs).translate(0x0400_0000_1234n + 0x0000_0000_5000n, AT_OPS.S1E1R);
    expect(r.kind).toBe("ok");
    // Same bits as QEMU 10.0 gives: ATTR 0xff, PA, RES1 bit 11, NS, SH=0b11.
    expect(r.par).toBe(0xff00_0400_0000_6b80n);
  });

  it("is invalid (Translation fault, level 1) when the implemented PA size is 48", () => {
    const { mem, regs } = setup(48, 48);
    const r = new Walker(mem, { ...regs, features: { ...FEATURES_V80, paBits: 48 } }).translate(0x0400_0000_1234n, AT_OPS.S1E1R);
    expect(r.kind === "fault" && r.fault === "translation" && r.level === 1).toBe(true);
  });
});
