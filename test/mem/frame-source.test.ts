/**
 * PhysMem's on-demand frame sources (FrameSource): a frame is read from its source on the first
 * miss only and then cached like a loaded frame; a source that throws leaves nothing behind; an
 * all-zero frame is not stored and reads as zero only where RAM was declared; writes to a
 * source's frame see its data first.
 */
import { describe, expect, it } from "vitest";
import { FRAME_SIZE, type FrameSource, PhysMem } from "../../src/mem/physmem.js";

function source(frames: Map<number, number>, log: number[], failOn?: number): FrameSource {
  return {
    has: (pfn) => frames.has(pfn),
    read: (pfn, out) => {
      log.push(pfn);
      if (pfn === failOn) throw new Error(`frame 0x${pfn.toString(16)} unreadable`);
      const v = frames.get(pfn) ?? 0;
      if (v === 0) return false;
      new DataView(out.buffer, out.byteOffset).setUint32(8, v, true);
      return true;
    },
    runs: () => [...frames.keys()].sort((a, b) => a - b).map((first) => ({ first, count: 1 })),
  };
}

describe("PhysMem frame sources", () => {
  it("reads a frame on its first miss only, then serves it from memory", () => {
    const m = new PhysMem();
    const log: number[] = [];
    m.addSource(source(new Map([[0x40000, 0x1234]]), log));
    expect(m.read64(0x40000008n)).toBe(0x1234n);
    expect(m.read64(0x40000008n)).toBe(0x1234n);
    // Evict it from the direct-mapped cache (same slot) and read again: still no second source read.
    m.writeBytes(BigInt((0x40000 + 8192) * FRAME_SIZE), new Uint8Array(8).fill(1));
    expect(m.read64(0x40000008n)).toBe(0x1234n);
    expect(log).toEqual([0x40000]);
    expect(m.read64(0x50000000n)).toBeUndefined();
    expect(m.backedFrames()).toEqual([0x40000, 0x40000 + 8192]);
  });
  it("a source that throws leaves the frame unread (the error reaches the caller each time)", () => {
    const m = new PhysMem();
    const log: number[] = [];
    m.addSource(source(new Map([[0x40001, 7]]), log, 0x40001));
    expect(() => m.read64(0x40001000n)).toThrow(/unreadable/);
    expect(() => m.read64(0x40001000n)).toThrow(/unreadable/);
    expect(log).toEqual([0x40001, 0x40001]);
  });
  it("an all-zero frame is not stored: unbacked unless declared RAM", () => {
    const m = new PhysMem();
    m.addSource(source(new Map([[0x40002, 0]]), []));
    expect(m.read64(0x40002000n)).toBeUndefined();
    m.addRam(0x40002000n, 0x1000n);
    expect(m.read64(0x40002000n)).toBe(0n);
    expect(m.frame(0x40002)).toBeUndefined();
  });
  it("a store into a source's frame keeps the rest of its data", () => {
    const m = new PhysMem();
    m.addSource(source(new Map([[0x40003, 0xabcd]]), []));
    m.write64(0x40003010n, 5n);
    expect(m.read64(0x40003008n)).toBe(0xabcdn);
    expect(m.read64(0x40003010n)).toBe(5n);
  });
});
