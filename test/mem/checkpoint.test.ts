/** PhysMem checkpoint/rollback: a memory reused for many runs of one scenario (--explore) comes back exactly. */
import { describe, expect, it } from "vitest";
import { PhysMem } from "../../src/mem/physmem.js";

describe("PhysMem checkpoint and rollback", () => {
  it("restores words written since the checkpoint, drops frames created since, and can roll back again", () => {
    const m = new PhysMem();
    m.addRam(0x4000_0000n, 0x10_0000n);
    m.write64(0x4000_0000n, 0x1111n);
    m.write64(0x4000_1008n, 0x2222n);
    m.checkpoint();
    for (let round = 0; round < 3; round++) {
      m.write64(0x4000_0000n, 0xdeadn + BigInt(round));
      m.zero(0x4000_1000n, 4096);
      m.write64(0x4000_5000n, 0x3333n); // a frame created since (RAM reads as zero until written)
      m.writeBytes(0x4000_0010n, new Uint8Array([1, 2, 3]));
      expect(m.read64(0x4000_0000n)).toBe(0xdeadn + BigInt(round));
      expect(m.backedFrames()).toContain(0x40005);
      m.rollback();
      expect(m.read64(0x4000_0000n)).toBe(0x1111n);
      expect(m.read64(0x4000_0010n)).toBe(0n);
      expect(m.read64(0x4000_1008n)).toBe(0x2222n);
      expect(m.read64(0x4000_5000n)).toBe(0n);
      expect(m.backedFrames()).toEqual([0x40000, 0x40001]);
    }
  });
  it("zeroing a new frame after a rollback clears the storage a dropped frame had used", () => {
    // zero() skips frames placed in never-used storage (already zero); a slot handed out since the
    // checkpoint and taken back by rollback still holds the dropped frame's words.
    const m = new PhysMem();
    m.write64(0x1000n, 1n);
    m.checkpoint();
    for (let i = 0; i < 512; i++) m.write64(0x9000n + BigInt(i * 8), 0xffff_ffff_ffff_ffffn);
    m.rollback();
    m.zero(0x7000n, 4096); // the next frame created: the storage 0x9000 had
    for (let i = 0; i < 512; i++) expect(m.read64(0x7000n + BigInt(i * 8))).toBe(0n);
    m.zero(0x8000n, 4096); // storage never used: zero without clearing
    expect(m.read64(0x8ff8n)).toBe(0n);
  });

  it("a frame created since and cached is forgotten by the frame cache too", () => {
    const m = new PhysMem();
    m.checkpoint();
    m.write64(0x9000n, 7n);
    expect(m.load64(0x9000)).toBe(true);
    m.rollback();
    // Not RAM and no longer written: unbacked again.
    expect(m.load64(0x9000)).toBe(false);
    expect(m.read64(0x9000n)).toBeUndefined();
  });
  it("RAM and banks added since the checkpoint are removed", () => {
    const m = new PhysMem();
    m.checkpoint();
    m.addRam(0x8000_0000n, 0x1000n);
    m.addBank(0x1_0000n, new Uint8Array(4096).fill(0xab), "late");
    expect(m.isBacked(0x8000_0000)).toBe(true);
    m.rollback();
    expect(m.isBacked(0x8000_0000)).toBe(false);
    expect(m.read64(0x1_0000n)).toBeUndefined();
    expect(m.bankList()).toEqual([]);
  });
  it("many frames created and dropped run after run do not grow the memory", () => {
    const m = new PhysMem();
    m.addRam(0n, 0x1000_0000n);
    m.checkpoint();
    for (let run = 0; run < 50; run++) {
      for (let f = 0; f < 80; f++) m.write64(BigInt(f) * 4096n, BigInt(run));
      m.rollback();
    }
    expect(m.arenas.length).toBeLessThanOrEqual(1);
  });
  it("rollback without a checkpoint is an error, not a silent no-op", () => {
    expect(() => new PhysMem().rollback()).toThrow(/rollback without a checkpoint/);
  });
});
