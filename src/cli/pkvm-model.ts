/** The built-in pKVM examples' memory and registers (names in ./pkvm-example.ts), built by the kernel library. */
import type { Regs } from "../arch/registers.js";
import type { Marker } from "../dump/ptdump.js";
import { type PkvmSystem, pkvmInit } from "../kernel/pkvm/setup.js";
import { DirectPort } from "../kernel/port.js";
import { PhysMem } from "../mem/physmem.js";
import type { PkvmExampleName } from "./pkvm-example.js";

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
