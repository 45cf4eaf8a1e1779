/**
 * The two-stage example (`?preset=two-stage`): the synthetic linux-4k-48 guest run under a
 * KVM-like stage 2 (HCR_EL2.VM=1), so the walk view shows every stage-1 table read translated by
 * stage 2 (Arm ARM D8.2 "Stage 2 translation", vmsa-regimes.md §1). Built with the library's
 * stage-2 encoders into the host's PhysMem:
 * - VTCR_EL2 0x80023558: 40-bit IPA, 4K, start level 1 with two concatenated tables, PS 40 bits
 *   (KVM's default layout); VTTBR_EL2 = the root at host PA 0x4000_0000, VMID 1.
 * - guest IPA x is host PA x + 512 GiB for IPA < 512 GiB (1 GiB blocks), except
 *   - IPA GiB 0 (the guest's UART at 0x0900_0000) is unmapped: a stage-2 fault on the final IPA;
 *   - IPA GiB 1 (the guest's tables and kernel) goes through a level-2 table (2 MiB blocks) and
 *     its first 2 MiB through level-3 pages, so table reads have three-level stage-2 walks;
 *   - the page holding the guest's EL0 level-3 table is unmapped: a stage-2 fault on a stage-1
 *     table read (PAR_EL1.S=1, PTW=1).
 */
import { descriptorFormat } from "../../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../../src/arch/granule.js";
import { HCR_VM } from "../../../src/arch/hcr.js";
import type { Regs } from "../../../src/arch/registers.js";
import { encodeStage2Leaf, encodeStage2Table, type Stage2LeafFields } from "../../../src/arch/stage2-descriptor.js";
import { PhysMem } from "../../../src/mem/physmem.js";
import { Walker } from "../../../src/walk/walker.js";
import { buildExample, type Example } from "./demo.js";

export const TWO_STAGE_EXAMPLE = "two-stage";

export const TWO_STAGE_VTCR = 0x8002_3558n;
/** Host PA of guest IPA 0 (the stage-2 output offset). */
export const GUEST_RAM_OFFSET = 0x80_0000_0000n;
const S2_ROOT = 0x4000_0000n;
const VMID = 1n;
const GIB = 1n << 30n;
const MIB2 = 1n << 21n;
const PAGE = 4096n;

/** Stage-2 leaf attributes of guest RAM: Normal WB (MemAttr 0b1111), RW, inner shareable. */
const RAM: Omit<Stage2LeafFields, "oa"> = { memAttr: 0xf, s2ap: 3, sh: 3, af: true };

export interface TwoStageExample extends Example {
  /** The EL0 VA whose level-3 table read faults at stage 2. */
  readonly ptwFaultVa: bigint;
}

export function buildTwoStageExample(): TwoStageExample {
  const guest = buildExample("linux-4k-48");
  const mem = new PhysMem();
  for (const run of guest.mem.backedRuns()) {
    const ipa = BigInt(run.first) * PAGE;
    mem.writeBytes(ipa + GUEST_RAM_OFFSET, guest.mem.readBytes(ipa, run.count * Number(PAGE)));
  }
  // The EL0 text's walk: its last table read is the page stage 2 leaves out.
  const user = guest.tour.find((t) => t.va >> 63n === 0n && t.what.startsWith("EL0 text"));
  if (!user) throw new Error("two-stage example: the guest has no EL0 text to walk");
  const s1 = new Walker(guest.mem, guest.regs).translate(user.va, { type: "read", el: 0 });
  const lastTable = s1.trail[s1.trail.length - 1];
  if (!lastTable) throw new Error("two-stage example: the EL0 walk read no table");
  const holePage = lastTable.address & ~(PAGE - 1n);

  const fmt = descriptorFormat(GRANULE_4K, { oaBits: 40 });
  let next = S2_ROOT + 2n * PAGE; // two concatenated level-1 tables (1024 entries)
  const table = (): bigint => {
    const t = next;
    next += PAGE;
    mem.zero(t, Number(PAGE));
    return t;
  };
  mem.zero(S2_ROOT, Number(2n * PAGE));
  const put = (at: bigint, v: bigint): void => mem.write64(at, v);
  for (let g = 2n; g < 512n; g++) put(S2_ROOT + g * 8n, encodeStage2Leaf({ oa: g * GIB + GUEST_RAM_OFFSET, ...RAM }, 1, fmt));
  const l2 = table();
  put(S2_ROOT + 8n, encodeStage2Table(l2, fmt));
  for (let m = 1n; m < 512n; m++) put(l2 + m * 8n, encodeStage2Leaf({ oa: GIB + m * MIB2 + GUEST_RAM_OFFSET, ...RAM }, 2, fmt));
  const l3 = table();
  put(l2, encodeStage2Table(l3, fmt));
  for (let p = 0n; p < 512n; p++) {
    const ipa = GIB + p * PAGE;
    if (ipa !== holePage) put(l3 + p * 8n, encodeStage2Leaf({ oa: ipa + GUEST_RAM_OFFSET, ...RAM }, 3, fmt));
  }
  const regs: Regs = { ...guest.regs, hcr: HCR_VM, vtcr: TWO_STAGE_VTCR, vttbr: S2_ROOT | (VMID << 48n) };
  const uart = guest.tour.find((t) => t.what.includes("UART"));
  return {
    name: `example:${TWO_STAGE_EXAMPLE}`,
    mem,
    regs,
    tour: [
      ...guest.tour.filter((t) => t !== user && t !== uart),
      ...(uart ? [{ va: uart.va, what: "UART: its IPA has no stage-2 mapping (stage-2 fault, S=1)" }] : []),
      { va: user.va, what: "EL0 text: its level-3 table's IPA is unmapped at stage 2 (PTW=1)" },
    ],
    ptwFaultVa: user.va,
  };
}
