/**
 * The UI's two-stage example (web/src/lib/twoStage.ts) and PAR_EL1 in words for stage-2 faults
 * (issue 15: the walk view shows both stages; issue 12: PAR_EL1.S/PTW).
 */
import { describe, expect, it } from "vitest";
import { compileStage2 } from "../../src/walk/stage2.js";
import { Walker } from "../../src/walk/walker.js";
import { decodePar } from "../../web/src/lib/format.js";
import { buildTwoStageExample, GUEST_RAM_OFFSET } from "../../web/src/lib/twoStage.js";

describe("the two-stage example the walk view offers", () => {
  const ex = buildTwoStageExample();
  const w = new Walker(ex.mem, ex.regs);
  const s2 = new Walker(
    ex.mem,
    compileStage2({ hcr: ex.regs.hcr ?? 0n, vtcr: ex.regs.vtcr ?? 0n, vttbr: ex.regs.vttbr ?? 0n }, ex.regs.features),
  );

  it("reads every stage-1 table through stage 2: IPA x at host PA x + 512 GiB", () => {
    const lin = ex.tour[0];
    if (!lin) throw new Error("tour empty");
    const r = w.translate(lin.va, { type: "read", el: 1 });
    expect(r.kind).toBe("ok");
    // Arm ARM D8.2: with HCR_EL2.VM=1 the stage-1 table addresses are IPAs, each translated by stage 2.
    for (const t of r.trail) {
      if (t.ipa === undefined) throw new Error("no IPA on a two-stage trail");
      const tw = s2.translateIpa(t.ipa, "ttw");
      expect(tw.kind === "ok" && tw.pa).toBe(t.address);
      expect(t.address - t.ipa).toBe(GUEST_RAM_OFFSET);
    }
    if (r.kind !== "ok" || !r.stage2) throw new Error("no stage-2 outcome");
    expect(r.pa - r.stage2.ipa).toBe(GUEST_RAM_OFFSET);
  });

  it("faults at stage 2 on the UART's IPA (S=1, PTW=0) and on the EL0 level-3 table read (S=1, PTW=1)", () => {
    const uart = ex.tour.find((t) => t.what.startsWith("UART"));
    if (!uart) throw new Error("no UART in the tour");
    const u = w.translate(uart.va, { type: "read", el: 1 });
    expect(u).toMatchObject({ kind: "fault", stage: 2, s1ptw: false, fault: "translation", level: 1 });
    if (u.par === null) throw new Error("no PAR");
    // PAR_EL1.S (bit 9) for a stage-2 fault, PTW (bit 8) only on a stage-1 table read (AArch64.EncodePAR).
    expect(decodePar(u.par)).toBe("F=1 FST=0x05 translation L1 S=1 (stage 2) PTW=0");
    const p = w.translate(ex.ptwFaultVa, { type: "read", el: 0 });
    expect(p).toMatchObject({ kind: "fault", stage: 2, s1ptw: true, fault: "translation", level: 3 });
    if (p.par === null) throw new Error("no PAR");
    expect(decodePar(p.par)).toBe("F=1 FST=0x07 translation L3 S=1 (stage 2) PTW=1 (a stage-1 table read)");
  });

  it("words a stage-1 fault's PAR_EL1 with S=0", () => {
    const hole = ex.tour.find((t) => t.what.startsWith("above the stack"));
    if (!hole) throw new Error("no hole in the tour");
    const r = w.translate(hole.va, { type: "read", el: 0 });
    if (r.par === null) throw new Error("no PAR");
    expect(decodePar(r.par)).toBe("F=1 FST=0x07 translation L3 S=0");
  });
});
