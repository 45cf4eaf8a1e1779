import { describe, expect, it } from "vitest";
import { MemblockAllocator } from "../../src/kernel/alloc.js";
import { Kernel } from "../../src/kernel/context.js";
import { createMapping } from "../../src/kernel/mmu.js";
import { DirectPort } from "../../src/kernel/port.js";
import { kernelRegs } from "../../src/kernel/regs.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { Walker } from "../../src/walk/walker.js";

describe("createMapping smoke", () => {
  it("maps 4K linear", () => {
    const mem = new PhysMem();
    const k = new Kernel(new DirectPort(mem), { granule: "4K", vaBits: 48 });
    const alloc = new MemblockAllocator(0x8000_0000, 0x100_0000, 4096);
    const root = alloc.alloc()!;
    mem.zero(BigInt(root), 4096);
    const st = createMapping(k, root, 0x4000_0000n, 0xffff_0000_0000_0000n, 0x4000_0000n + 0x21_0000n, k.prots.PAGE_KERNEL, { alloc });
    expect(st.blocks).toBeGreaterThan(0);
    const w = new Walker(mem, kernelRegs(k.geo, root));
    const r = w.translate(0xffff_0000_4020_1234n, { type: "read", el: 1 });
    expect(r.kind).toBe("ok");
    if (r.kind === "ok") expect(r.pa).toBe(0x8020_1234n);
  });
});
