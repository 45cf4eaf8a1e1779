/**
 * KVM's page-table protections and pKVM's page states as descriptor bits (facts from Linux
 * arch/arm64/include/asm/kvm_pgtable.h, arch/arm64/kvm/hyp/pgtable.c and
 * arch/arm64/kvm/hyp/include/nvhe/mem_protect.h; vmsa-regimes.md §2.1, §4.3):
 * - `enum kvm_pgtable_prot`: X, W, R, DEVICE, NC at bits 0..4 and the four software bits SW0..SW3
 *   at the descriptor's own bits 55..58, so they pass into descriptors unchanged;
 * - the hypervisor's stage-1 leaf attributes (hyp_set_prot_attr, nVHE: the EL2 regime, AP[2:1]
 *   01 = RW and 11 = RO, XN bit 54; W and X together are refused: the hypervisor is W^X by
 *   construction);
 * - stage-2 leaf attributes (stage2_set_prot_attr: MemAttr, S2AP, XN[1:0] 10 when not executable,
 *   SH inner, AF, SW bits);
 * - pKVM's page states in SW0/SW1 (owned 0, shared-owned SW0, shared-borrowed SW1) and the owner
 *   annotation of invalid host stage-2 entries (KVM_INVALID_PTE_OWNER_MASK, bits [9:2]).
 */
import { KernelError } from "../errors.js";
import { MT_DEVICE_nGnRnE, MT_NORMAL, MT_NORMAL_NC } from "../prot.js";

const B = (n: number): bigint => 1n << BigInt(n);

/** `enum kvm_pgtable_prot`. */
export const KVM_PGTABLE_PROT_X = B(0);
export const KVM_PGTABLE_PROT_W = B(1);
export const KVM_PGTABLE_PROT_R = B(2);
export const KVM_PGTABLE_PROT_DEVICE = B(3);
export const KVM_PGTABLE_PROT_NC = B(4);
export const KVM_PGTABLE_PROT_SW0 = B(55);
export const KVM_PGTABLE_PROT_SW1 = B(56);
export const KVM_PGTABLE_PROT_SW2 = B(57);
export const KVM_PGTABLE_PROT_SW3 = B(58);
export const KVM_PGTABLE_PROT_RW = KVM_PGTABLE_PROT_R | KVM_PGTABLE_PROT_W;
export const KVM_PGTABLE_PROT_RWX = KVM_PGTABLE_PROT_RW | KVM_PGTABLE_PROT_X;
/** KVM_PTE_LEAF_ATTR_HI_SW: descriptor bits [58:55], copied from the prot into leaves. */
export const KVM_PTE_LEAF_ATTR_HI_SW = 0xfn << 55n;

/** The hypervisor's named protections (kvm_pgtable.h). */
export const PAGE_HYP = KVM_PGTABLE_PROT_RW;
export const PAGE_HYP_EXEC = KVM_PGTABLE_PROT_R | KVM_PGTABLE_PROT_X;
export const PAGE_HYP_RO = KVM_PGTABLE_PROT_R;
export const PAGE_HYP_DEVICE = PAGE_HYP | KVM_PGTABLE_PROT_DEVICE;
/** What the host gets in its stage 2: memory RWX, MMIO RW (not executable, Normal at stage 2). */
export const PKVM_HOST_MEM_PROT = KVM_PGTABLE_PROT_RWX;
export const PKVM_HOST_MMIO_PROT = KVM_PGTABLE_PROT_RW;

/** pKVM page states, as the SW0/SW1 bits of a prot (PKVM_PAGE_STATE_PROT_MASK). */
export type PkvmPageState = "owned" | "shared-owned" | "shared-borrowed";
export const PKVM_PAGE_STATE_PROT_MASK = KVM_PGTABLE_PROT_SW0 | KVM_PGTABLE_PROT_SW1;
const STATE_BITS: Readonly<Record<PkvmPageState, bigint>> = {
  owned: 0n,
  "shared-owned": KVM_PGTABLE_PROT_SW0,
  "shared-borrowed": KVM_PGTABLE_PROT_SW1,
};

/** pkvm_mkstate: `prot` with its page-state bits replaced by `state`. */
export function pkvmMkstate(prot: bigint, state: PkvmPageState): bigint {
  return (prot & ~PKVM_PAGE_STATE_PROT_MASK) | STATE_BITS[state];
}

/** pkvm_getstate of a prot or a leaf descriptor (its bits 55/56); undefined for the reserved value 11. */
export function pkvmGetstate(protOrPte: bigint): PkvmPageState | undefined {
  const s = protOrPte & PKVM_PAGE_STATE_PROT_MASK;
  if (s === 0n) return "owned";
  if (s === KVM_PGTABLE_PROT_SW0) return "shared-owned";
  if (s === KVM_PGTABLE_PROT_SW1) return "shared-borrowed";
  return undefined;
}

/** Owner ids of invalid host stage-2 entries (enum pkvm_component_id). */
export const PKVM_ID_HOST = 0;
export const PKVM_ID_HYP = 1;
export const PKVM_ID_FFA = 2;
/** KVM_INVALID_PTE_OWNER_MASK: bits [9:2] of an invalid entry name its owner. */
export const KVM_INVALID_PTE_OWNER_SHIFT = 2n;

/** kvm_init_invalid_leaf_owner: the invalid descriptor that records `owner`. */
export function invalidOwnerPte(owner: number): bigint {
  return BigInt(owner & 0xff) << KVM_INVALID_PTE_OWNER_SHIFT;
}

/** The owner id an invalid entry records (bits [9:2]); undefined for a valid entry. */
export function ownerOfInvalidPte(pte: bigint): number | undefined {
  if ((pte & 1n) !== 0n) return undefined;
  return Number((pte >> KVM_INVALID_PTE_OWNER_SHIFT) & 0xffn);
}

const RULE_HYP = "arch/arm64/kvm/hyp/pgtable.c hyp_set_prot_attr";

/**
 * hyp_set_prot_attr for the nVHE hypervisor (EL2 regime, AP[1] set in both encodings: RW = 01,
 * RO = 11): the leaf attribute bits of a hyp stage-1 mapping. R is required; W together with X,
 * and X on a device mapping, are refused (-EINVAL), as the kernel refuses them.
 */
export function hypLeafAttr(prot: bigint): bigint {
  const device = (prot & KVM_PGTABLE_PROT_DEVICE) !== 0n;
  const nc = (prot & KVM_PGTABLE_PROT_NC) !== 0n;
  const x = (prot & KVM_PGTABLE_PROT_X) !== 0n;
  const w = (prot & KVM_PGTABLE_PROT_W) !== 0n;
  if ((prot & KVM_PGTABLE_PROT_R) === 0n || (device && nc))
    throw new KernelError("EPKVM_INVAL", `hyp prot 0x${prot.toString(16)}: not readable, or device and NC`, RULE_HYP);
  if (x && (w || device))
    throw new KernelError(
      "EPKVM_INVAL",
      `hyp prot 0x${prot.toString(16)}: ${w ? "writable and executable" : "executable device memory"} (-EINVAL)`,
      RULE_HYP,
    );
  const mtype = device ? MT_DEVICE_nGnRnE : nc ? MT_NORMAL_NC : MT_NORMAL;
  let attr = BigInt(mtype) << 2n;
  if (!x) attr |= B(54); // KVM_PTE_LEAF_ATTR_HI_S1_XN
  attr |= (w ? 1n : 3n) << 6n; // KVM_PTE_LEAF_ATTR_LO_S1_AP: nVHE RW = 01, RO = 11
  attr |= 3n << 8n; // SH inner
  attr |= B(10); // AF
  return attr | (prot & KVM_PTE_LEAF_ATTR_HI_SW);
}

/** Stage-2 MemAttr values without FWB (MT_S2_*): Normal WB 1111, Normal-NC 0101, Device-nGnRE 0001. */
export const MT_S2_NORMAL = 0xf;
export const MT_S2_NORMAL_NC = 0x5;
export const MT_S2_DEVICE_nGnRE = 0x1;

/**
 * stage2_set_prot_attr for a table without FWB (the host stage 2 is KVM_PGTABLE_S2_NOFWB): MemAttr,
 * S2AP from R/W, XN[1:0] = 10 unless executable, SH inner, AF, and the SW bits.
 */
export function stage2LeafAttr(prot: bigint): bigint {
  const device = (prot & KVM_PGTABLE_PROT_DEVICE) !== 0n;
  const nc = (prot & KVM_PGTABLE_PROT_NC) !== 0n;
  let attr = BigInt(device ? MT_S2_DEVICE_nGnRE : nc ? MT_S2_NORMAL_NC : MT_S2_NORMAL) << 2n;
  if ((prot & KVM_PGTABLE_PROT_X) === 0n) attr |= 2n << 53n; // KVM_PTE_LEAF_ATTR_HI_S2_XN = XN
  if ((prot & KVM_PGTABLE_PROT_R) !== 0n) attr |= B(6);
  if ((prot & KVM_PGTABLE_PROT_W) !== 0n) attr |= B(7);
  attr |= 3n << 8n;
  attr |= B(10);
  return attr | (prot & KVM_PTE_LEAF_ATTR_HI_SW);
}
