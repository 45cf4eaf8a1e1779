/**
 * The built-in pKVM examples (`--example pkvm-hyp`, `--example pkvm-host-s2`): not snapshot files
 * but the kernel library's model of pKVM's init (src/kernel/pkvm/setup.ts), built on the fly.
 * pkvm-hyp is the hypervisor's stage 1 (EL2 regime, TTBR0_EL2); pkvm-host-s2 is the host's
 * stage 2 (VTCR_EL2/VTTBR_EL2, IPA = PA), walked and dumped as stage 2. This module only names
 * them; ./pkvm-model.ts builds them (it imports the kernel library: loaded only when asked for).
 */

export const PKVM_EXAMPLES = ["pkvm-hyp", "pkvm-host-s2"] as const;
export type PkvmExampleName = (typeof PKVM_EXAMPLES)[number];

export function isPkvmExample(name: string | undefined): name is PkvmExampleName {
  return name !== undefined && (PKVM_EXAMPLES as readonly string[]).includes(name);
}

/** The example pkvm-host-s2 is a stage-2 input: commands walk its IPAs. */
export function isStage2Example(name: string | undefined): boolean {
  return name === "pkvm-host-s2";
}
