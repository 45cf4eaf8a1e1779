/**
 * Stage-1 fault kinds and their status codes (Arm ARM ESR_ELx.DFSC / PAR_EL1.FST encoding;
 * ASL EncodeLDFSC).
 */

export type FaultKind = "translation" | "address-size" | "access-flag" | "permission" | "external-abort";

/** Fault kinds in the numeric form the walker's hot path uses. */
export const FAULT_NONE = 0;
export const FAULT_TRANSLATION = 1;
export const FAULT_ADDRESS_SIZE = 2;
export const FAULT_ACCESS_FLAG = 3;
export const FAULT_PERMISSION = 4;
export const FAULT_EXTERNAL_ABORT = 5;

export const FAULT_KINDS: readonly (FaultKind | undefined)[] = [
  undefined,
  "translation",
  "address-size",
  "access-flag",
  "permission",
  "external-abort",
];

/**
 * 6-bit fault status code for a fault kind at a level: 0b0000LL address size, 0b0001LL
 * translation, 0b0010LL access flag, 0b0011LL permission, 0b0101LL synchronous external abort
 * on a walk; level -1 (FEAT_LPA2): 0b101001 address size, 0b101011 translation, 0b010011 external abort.
 */
export function faultStatusCode(kind: FaultKind, level: number): number {
  if (level === -1) {
    switch (kind) {
      case "address-size":
        return 0b101001;
      case "translation":
        return 0b101011;
      case "external-abort":
        return 0b010011;
      default:
        throw new RangeError(`no ${kind} fault is defined at level -1`);
    }
  }
  const ll = level & 3;
  switch (kind) {
    case "address-size":
      return 0b000000 | ll;
    case "translation":
      return 0b000100 | ll;
    case "access-flag":
      return 0b001000 | ll;
    case "permission":
      return 0b001100 | ll;
    case "external-abort":
      return 0b010100 | ll;
  }
}

/** Decode a stage-1 fault status code back to kind and level (undefined for other codes). */
export function decodeFaultStatusCode(fsc: number): { kind: FaultKind; level: number } | undefined {
  switch (fsc) {
    case 0b101001:
      return { kind: "address-size", level: -1 };
    case 0b101011:
      return { kind: "translation", level: -1 };
    case 0b010011:
      return { kind: "external-abort", level: -1 };
  }
  const ll = fsc & 3;
  switch (fsc >> 2) {
    case 0:
      return { kind: "address-size", level: ll };
    case 1:
      return { kind: "translation", level: ll };
    case 2:
      return { kind: "access-flag", level: ll };
    case 3:
      return { kind: "permission", level: ll };
    case 5:
      return { kind: "external-abort", level: ll };
  }
  return undefined;
}

/** TLB conflict abort status code (Arm ARM: FSC 0b110000). */
export const FSC_TLB_CONFLICT = 0b110000;
