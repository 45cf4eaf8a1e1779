/**
 * The built-in pKVM examples (`--example pkvm-hyp`, `--example pkvm-host-s2`): not snapshot files
 * but the kernel library's model of pKVM's init (src/kernel/pkvm/setup.ts), built on the fly.
 * pkvm-hyp is the hypervisor's stage 1 (EL2 regime, TTBR0_EL2); pkvm-host-s2 is the host's
 * stage 2 (VTCR_EL2/VTTBR_EL2, IPA = PA), walked and dumped as stage 2.
 */

import type { Regs } from "../arch/registers.js";
import type { Marker } from "../dump/ptdump.js";
import { type PkvmSystem, pkvmInit } from "../kernel/pkvm/setup.js";
import { DirectPort } from "../kernel/port.js";
import { PhysMem } from "../mem/physmem.js";

export const PKVM_EXAMPLES = ["pkvm-hyp", "pkvm-host-s2"] as const;
export type PkvmExampleName = (typeof PKVM_EXAMPLES)[number];

export function isPkvmExample(name: string | undefined): name is PkvmExampleName {
  return name !== undefined && (PKVM_EXAMPLES as readonly string[]).includes(name);
}

/** The example pkvm-host-s2 is a stage-2 input: commands walk its IPAs. */
export function isStage2Example(name: string | undefined): boolean {
  return name === "pkvm-host-s2";
}

let built: PkvmSystem | undefined;

/** The modelled pKVM system (built once per process). */
export function pkvmSystem(): PkvmSystem {
  built ??= pkvmInit({ port: new DirectPort(new PhysMem()) });
  return built;
}

export interface PkvmExampleInputs {
  readonly mem: PhysMem;
  readonly regs: Regs;
  readonly sources: Record<string, string>;
  readonly markers?: readonly Marker[];
}

/** Memory and registers of a pKVM example (the hyp's EL2 registers, or the host's stage-2 ones). */
export function pkvmExampleInputs(name: PkvmExampleName): PkvmExampleInputs {
  const s = pkvmSystem();
  const src = `example ${name} (vmsa's model of pKVM's __pkvm_init)`;
  if (name === "pkvm-hyp") {
    const sources: Record<string, string> = {};
    for (const k of ["TTBR0_EL2", "TCR_EL2", "MAIR_EL2", "SCTLR_EL2"]) sources[k] = src;
    return { mem: s.mem, regs: s.hyp.regs, sources, markers: s.hyp.markers };
  }
  const sources: Record<string, string> = {};
  for (const k of ["VTCR_EL2", "VTTBR_EL2", "HCR_EL2", "ID_AA64MMFR0_EL1"]) sources[k] = src;
  return {
    mem: s.mem,
    // The host's stage 1 is not part of the model: stage 1 off, HCR_EL2.VM set.
    regs: {
      ttbr0: 0n,
      ttbr1: 0n,
      tcr: 0n,
      mair: 0n,
      sctlr: 0n,
      features: s.host.features,
      hcr: s.host.hcr,
      vtcr: s.host.vtcr,
      vttbr: s.host.vttbr,
    },
    sources,
  };
}
