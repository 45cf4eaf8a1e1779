/**
 * What pKVM (kvm-arm.mode=protected, nVHE) builds at init, on a modelled QEMU-virt-like machine:
 * the hypervisor's own stage-1 tables in the EL2 regime and the host's stage 2. Facts from Linux
 * arch/arm64/kvm/hyp/nvhe/setup.c (__pkvm_init, recreate_hyp_mappings, fix_host_ownership),
 * nvhe/mm.c (hyp_create_idmap, pkvm_create_stack, hyp_create_fixmap, __pkvm_create_private_mapping,
 * hyp_back_vmemmap), nvhe/mem_protect.c (kvm_host_prepare_stage2, host_stage2_idmap,
 * host_stage2_adjust_range), arch/arm64/kvm/va_layout.c (the hyp VA of the linear map),
 * arch/arm64/kvm/arm.c (TCR_EL2, MAIR_EL2, SCTLR_EL2, HCR_EL2 for a protected host); written
 * from those facts, not copied.
 *
 * Hypervisor VA layout (hyp_va_bits = 48, nokaslr, one TTBR0_EL2 range):
 * - the half without the idmap (bit 47 set: 0x8000_0000_0000 up) maps memory at its linear
 *   alias, hyp VA = (linear VA & va_mask) | BIT(47) (kern_hyp_va), so PA 0x4000_0000 is at
 *   0x8000_0000_0000: hyp text (PAGE_HYP_EXEC), data and bss (PAGE_HYP), rodata (PAGE_HYP_RO),
 *   the donated pool (PAGE_HYP), the per-CPU areas (PAGE_HYP), the vGIC state shared read-only;
 * - the idmap of __hyp_idmap_text at VA = PA (PAGE_HYP_EXEC);
 * - the quarter of the other half without the idmap (bit 46 set): private VAs from __io_map_base
 *   (0x4000_0000_0000): per-CPU stacks with their guard pages (2 pages, the lower one unmapped),
 *   per-CPU fixmap slots (mapped, then their valid bit cleared; newer kernels add a 2 MiB
 *   "fixblock" there, 6.12 does not), the GICv2
 *   hypervisor control interface (PAGE_HYP_DEVICE); the vmemmap from __hyp_vmemmap
 *   (0x6000_0000_0000), backed by the pool's first pages.
 * Host stage 2: an identity map (IPA = PA) filled on host faults (host_stage2_idmap: the largest
 * block around the address within its memory or MMIO region and the empty entry found there);
 * memory RWX, MMIO RW (not executable, Normal at stage 2: the host's stage-1 Device type wins);
 * every page the hypervisor owns is an invalid entry with owner id PKVM_ID_HYP in bits [9:2]
 * (fix_host_ownership, __pkvm_host_donate_hyp), shared pages carry the page state in SW bits
 * 55/56 on both sides (the scheme before Linux 6.14, which moved the host's state to the hyp
 * vmemmap). After init the host shares one page and donates two (PKVM_DEFAULT_HOST_CALLS).
 */
import { HCR_VM } from "../../arch/hcr.js";
import { FEATURES_MAX, type Features, LINUX_MAIR, type Regs } from "../../arch/registers.js";
import type { Marker } from "../../dump/ptdump.js";
import { PhysMem } from "../../mem/physmem.js";
import { KernelError } from "../errors.js";
import { DirectPort, type MachinePort } from "../port.js";
import { KvmEarlyAllocator, KvmPgtable, kvmGranuleSize, kvmLevelSupportsBlock } from "./pgtable.js";
import {
  hypLeafAttr,
  invalidOwnerPte,
  PAGE_HYP,
  PAGE_HYP_DEVICE,
  PAGE_HYP_EXEC,
  PAGE_HYP_RO,
  PKVM_HOST_MEM_PROT,
  PKVM_HOST_MMIO_PROT,
  PKVM_ID_HYP,
  pkvmGetstate,
  pkvmMkstate,
  stage2LeafAttr,
} from "./prot.js";

const PAGE = 0x1000;
const B = (n: number): bigint => 1n << BigInt(n);

/** A physical range. */
export interface PaRegion {
  readonly base: number;
  readonly size: number;
}

/** A named range of the modelled kernel image or of memory the host allocated for the hypervisor. */
export interface PkvmSection extends PaRegion {
  readonly name: string;
}

/**
 * The modelled machine: the one the captured fixture ran on (test/fixtures/pkvm: QEMU virt,
 * -cpu max,lpa2=off, 256 MiB of RAM, a 48-bit PA, pKVM's pool where that kernel reserved it), with
 * 2 CPUs and GICv2; the hypervisor's sections are model addresses inside a kernel image at 0x4020_0000.
 */
export const PKVM_MACHINE = {
  ram: [{ base: 0x4000_0000, size: 0x1000_0000 }] as readonly PaRegion[],
  cpus: 2,
  /** ID_AA64MMFR0_EL1.PARange = 0b0101 (48 bits), 16-bit VMIDs, CnP, pointer authentication. */
  paBits: 48,
  /** hyp_va_bits: 64 - T0SZ of the idmap (IDMAP_VA_BITS = 48). */
  hypVaBits: 48,
  /** QEMU virt MMIO used below: GICv2 distributor, GICv2 hypervisor control interface (GICH), PL011 UART. */
  gicd: 0x0800_0000,
  gich: { base: 0x0803_0000, size: 0x1_0000 },
  uart: 0x0900_0000,
  /** Kernel image sections holding the hypervisor (model addresses inside an image at 0x4020_0000). */
  hypIdmapText: { name: "__hyp_idmap_text", base: 0x4020_1000, size: 0x1000 },
  hypText: { name: "__hyp_text", base: 0x4021_0000, size: 0x1_6000 },
  hypRodata: { name: "__hyp_rodata", base: 0x40e1_0000, size: 0x5000 },
  /** kvm_vgic_global_state (host data the hypervisor maps read-only, shared-owned). */
  vgicGlobalState: { name: "kvm_vgic_global_state", base: 0x4149_0000, size: 0x1000 },
  hypData: { name: "__hyp_data", base: 0x4158_0000, size: 0x2000 },
  hypBss: { name: "__hyp_bss", base: 0x4170_0000, size: 0x9000 },
  /** kvm_arm_hyp_percpu_base[cpu]: the host's allocation of each CPU's hyp per-CPU area (3 pages). */
  perCpu: [0x4300_0000, 0x4300_4000] as readonly number[],
  perCpuSize: 0x3000,
  /** Each CPU's hyp stack page (NVHE_STACK_SIZE = PAGE_SIZE), allocated by the host. */
  stacks: [0x4310_0000, 0x4310_1000] as readonly number[],
  /** hyp_mem_base / hyp_mem_size: the pool the host reserved at boot ("kvm [0]: Reserved 6 MiB at 0x4f800000"). */
  pool: { name: "hyp pool", base: 0x4f80_0000, size: 0x60_0000 },
  /** sizeof(struct hyp_page) up to 6.13: u16 refcount, u8 order, u8 host_state. */
  hypPageSize: 4,
} as const;

/**
 * __hyp_pgtable_max_pages: table pages to map `nrPages` pages in the worst case, one count per
 * level from KVM_PGTABLE_FIRST_LEVEL (-1, kernels that support LPA2) to 3.
 */
export function hypPgtableMaxPages(nrPages: number): number {
  let total = 0;
  let n = nrPages;
  for (let level = -1; level <= 3; level++) {
    n = Math.ceil(n / 512);
    total += n;
  }
  return total;
}

/** The pool's shares (divide_memory_pool, kvm_pkvm.h): vmemmap, VM table, hyp stage-1 and host stage-2 pages. */
export function pkvmPoolPages(
  ram: readonly PaRegion[],
  hypPageSize: number,
): { vmemmap: number; vmTable: number; hypS1: number; hostS2: number } {
  const total = ram.reduce((t, r) => t + hypPgtableMaxPages(r.size / PAGE), 0);
  let vmemmap = 0;
  for (const r of ram) {
    const start = Math.floor(((r.base / PAGE) * hypPageSize) / PAGE) * PAGE;
    const end = Math.ceil((((r.base + r.size) / PAGE) * hypPageSize) / PAGE) * PAGE;
    vmemmap += (end - start) / PAGE;
  }
  return {
    vmemmap,
    // KVM_MAX_PVMS (255) pointers.
    vmTable: Math.ceil((255 * 8) / PAGE),
    // hyp_s1_pgtable_pages: the memory, plus 1 GiB of private mappings.
    hypS1: total + hypPgtableMaxPages(0x4000_0000 / PAGE),
    // host_s2_pgtable_pages: the memory, plus 16 pages for a concatenated pgd.
    hostS2: total + 16,
  };
}

/**
 * HCR_EL2 of the host under pKVM: HCR_HOST_NVHE_PROTECTED_FLAGS (RW, API, APK, TSC) | VM, as
 * captured (HCR_ATA only with MTE, which the captured CPU did not enable).
 */
export const PKVM_HOST_HCR = B(31) | B(41) | B(40) | B(19) | HCR_VM;

/**
 * SCTLR_EL2 as captured: INIT_SCTLR_EL2_MMU_ON (M, C, SA, I, IESB, WXN and the RES1 bits 4, 5, 11,
 * 16, 18, 22, 23, 28, 29) and the pointer-authentication enables EnIA, EnIB, EnDA, EnDB (bits 31,
 * 30, 27, 13) the hypervisor sets on a CPU with address authentication.
 */
export const PKVM_SCTLR_EL2 = [0, 2, 3, 12, 21, 19, 4, 5, 11, 16, 18, 22, 23, 28, 29, 31, 30, 27, 13].reduce((v, n) => v | B(n), 0n);

/** The features of the modelled CPU: QEMU -cpu max,lpa2=off (a 48-bit PA, no LPA2). */
export const PKVM_FEATURES: Features = Object.freeze({ ...FEATURES_MAX, paBits: 48, lpa2: false });

/** TTBR.CnP / VTTBR.CnP (bit 0): set by KVM when the CPU has FEAT_TTCNP (ARM64_HAS_CNP). */
const CNP = 1n;

/** PARange encoding of a PA size (TCR/VTCR PS). */
function psOf(bits: number): bigint {
  return BigInt([32, 36, 40, 42, 44, 48, 52].indexOf(bits));
}

/**
 * TCR_EL2 (non-VHE layout) as cpu_prepare_hyp_mode computes it: TG0, SH0, ORGN0, IRGN0 from
 * TCR_EL1 (4K, inner shareable, WBWA), RES1 bits 31 and 23, PS from TCR_EL1.IPS, T0SZ from hyp_va_bits.
 */
export function pkvmTcrEl2(hypVaBits: number, paBits: number): bigint {
  return B(31) | B(23) | (psOf(paBits) << 16n) | (3n << 12n) | (1n << 10n) | (1n << 8n) | BigInt(64 - hypVaBits);
}

/**
 * VTCR_EL2 for the host (kvm_get_vtcr with phys_shift = the PA size): RES1 bit 31, HA, VS (16-bit
 * VMID), PS, SH0 inner, ORGN0/IRGN0 WBWA, TG0 4K, SL0 from the number of levels, T0SZ.
 */
export function pkvmHostVtcr(paBits: number): { vtcr: bigint; startLevel: number } {
  // stage2_pgtable_levels: ARM64_HW_PGTABLE_LEVELS(ipa - 4), at least 2; SL0 (4K) = levels - 2.
  const levels = Math.max(2, Math.floor((paBits - 4 - 4) / 9));
  const vtcr =
    B(31) |
    B(21) |
    B(19) |
    (psOf(paBits) << 16n) |
    (3n << 12n) |
    (1n << 10n) |
    (1n << 8n) |
    (BigInt(levels - 2) << 6n) |
    BigInt(64 - paBits);
  return { vtcr, startLevel: 4 - levels };
}

/** A host hypercall after init: share a page with the hypervisor, or donate it. */
export interface PkvmHostCall {
  /** __pkvm_host_share_hyp or __pkvm_host_donate_hyp. */
  readonly kind: "share" | "donate";
  readonly pa: bigint;
  readonly pages: number;
  /** What the host uses it for (reports only). */
  readonly what: string;
}

/**
 * The default example's host calls, as when the host creates a VM: kvm_share_hyp of its struct kvm
 * page (the hypervisor reads it), then pkvm_create_hyp_vm donating the pages of the hyp's VM and vCPU.
 */
export const PKVM_DEFAULT_HOST_CALLS: readonly PkvmHostCall[] = [
  { kind: "share", pa: 0x4400_0000n, pages: 1, what: "struct kvm (kvm_share_hyp)" },
  { kind: "donate", pa: 0x4400_2000n, pages: 2, what: "hyp VM and vCPU state (pkvm_create_hyp_vm)" },
];

export interface PkvmOptions {
  /** Port the tables are written through (default: an unchecked DirectPort over a new PhysMem). */
  readonly port?: MachinePort;
  /**
   * Physical addresses the host touches after init (each a host stage-2 fault handled by
   * host_stage2_idmap). Default PKVM_DEFAULT_HOST_FAULTS.
   */
  readonly hostFaults?: readonly bigint[];
  /** Host hypercalls after the faults. Default PKVM_DEFAULT_HOST_CALLS. */
  readonly hostCalls?: readonly PkvmHostCall[];
}

/** The host accesses of the default example: its image, RAM, a page just below the pool, the UART and the GIC. */
export const PKVM_DEFAULT_HOST_FAULTS: readonly bigint[] = [
  0x4020_0000n, // kernel text (a page: the hypervisor's idmap page is next to it)
  0x4000_0000n, // start of RAM
  0x4140_0000n, // kernel data
  0x4800_0000n, // the host's RAM (a 2 MiB block)
  0x4f60_0000n, // the 2 MiB below the pool
  0x0900_0000n, // PL011 UART (the MMIO gap below RAM: one 1 GiB block)
  0x0800_0000n, // GIC distributor (already mapped by the previous fault)
];

/** One host stage-2 fault and what host_stage2_idmap did. */
export interface HostFaultResult {
  readonly addr: bigint;
  readonly outcome: "mapped" | "already-mapped" | "refused";
  readonly start?: bigint;
  readonly end?: bigint;
  readonly level?: number;
  readonly memory: boolean;
  readonly reason?: string;
}

export interface PkvmSystem {
  readonly mem: PhysMem;
  readonly port: MachinePort;
  /** Hyp VA of a PA in the linear range (__hyp_va). */
  hypVa(pa: number | bigint): bigint;
  readonly hyp: {
    readonly pgt: KvmPgtable;
    /** EL2-regime registers (regime el2: ttbr0 = TTBR0_EL2, tcr = TCR_EL2 in its own layout). */
    readonly regs: Regs;
    readonly ioMapBase: bigint;
    readonly vmemmap: bigint;
    readonly markers: readonly Marker[];
    /** Named hyp VAs (start, size) for reports and tests. */
    readonly symbols: readonly { readonly name: string; readonly va: bigint; readonly size: number; readonly pa?: number }[];
  };
  readonly host: {
    readonly pgt: KvmPgtable;
    readonly vtcr: bigint;
    readonly vttbr: bigint;
    readonly hcr: bigint;
    readonly features: Features;
    readonly faults: readonly HostFaultResult[];
    /** host_stage2_idmap for one more host fault. */
    fault(addr: bigint): HostFaultResult;
    /** __pkvm_host_share_hyp / __pkvm_host_donate_hyp; throws KernelError (-EPERM) when the host does not own the pages. */
    call(c: PkvmHostCall): void;
  };
}

/** Run __pkvm_init and the host's first faults on the modelled machine (see the module comment). */
export function pkvmInit(o: PkvmOptions = {}): PkvmSystem {
  const M = PKVM_MACHINE;
  const port = o.port ?? new DirectPort(new PhysMem());
  const mem = port.mem;
  for (const r of M.ram) mem.addRam(BigInt(r.base), BigInt(r.size));
  const cpu = 0;
  const ramBase = M.ram[0]?.base ?? 0;
  const ramEnd = Math.max(...M.ram.map((r) => r.base + r.size));

  // va_layout.c: tag_lsb from the linear map's span, the tag BIT(hyp_va_bits - 1) (idmap low).
  const PAGE_OFFSET = 0xffff_0000_0000_0000n;
  const memstart = BigInt(ramBase);
  const linear = (pa: bigint): bigint => PAGE_OFFSET + (pa - memstart);
  const span = linear(BigInt(ramBase)) ^ linear(BigInt(ramEnd - 1));
  const tagLsb = span.toString(2).length;
  const vaMask = B(tagLsb) - 1n;
  const tag = B(M.hypVaBits - 1);
  const hypVa = (pa: number | bigint): bigint => (linear(BigInt(pa)) & vaMask) | tag;

  // divide_memory_pool: vmemmap first, then the VM table, the hyp stage-1 pages, the host stage-2 pages.
  // (hyp_early_alloc_contig hands out consecutive pages; the host's pgd comes first from its share.)
  const shares = pkvmPoolPages(M.ram, M.hypPageSize);
  const vmemmapBase = M.pool.base;
  const hypPgtBase = vmemmapBase + (shares.vmemmap + shares.vmTable) * PAGE;
  const hostS2Base = hypPgtBase + shares.hypS1 * PAGE;
  if (hostS2Base + shares.hostS2 * PAGE > M.pool.base + M.pool.size)
    throw new KernelError("ENOMEM", "divide_memory_pool: the pool is too small", "divide_memory_pool");

  // recreate_hyp_mappings, with the early allocator over the hyp stage-1 pages.
  const hypAlloc = new KvmEarlyAllocator(hypPgtBase, shares.hypS1 * PAGE);
  const hyp = KvmPgtable.hyp(port, hypAlloc, M.hypVaBits, cpu);
  const symbols: { name: string; va: bigint; size: number; pa?: number }[] = [];
  const mapLinear = (s: PkvmSection, prot: bigint): void => {
    // pkvm_create_mappings: one kvm_pgtable_hyp_map per page, at the linear hyp VA.
    const attr = hypLeafAttr(prot);
    for (let off = 0; off < s.size; off += PAGE) hyp.map(hypVa(s.base + off), BigInt(PAGE), BigInt(s.base + off), attr);
    symbols.push({ name: s.name, va: hypVa(s.base), size: s.size, pa: s.base });
  };

  // hyp_create_idmap: VA = PA, and the private quarter opposite the idmap.
  const idmap = M.hypIdmapText;
  hyp.map(BigInt(idmap.base), BigInt(idmap.size), BigInt(idmap.base), hypLeafAttr(PAGE_HYP_EXEC));
  symbols.push({ name: "__hyp_idmap_text (idmap, VA = PA)", va: BigInt(idmap.base), size: idmap.size, pa: idmap.base });
  let ioMapBase = (BigInt(idmap.base) & B(M.hypVaBits - 2)) ^ B(M.hypVaBits - 2);
  const vmemmap = ioMapBase | B(M.hypVaBits - 3);
  // hyp_back_vmemmap: the vmemmap entries of each memory region, backed by the pool's first pages.
  {
    const start = vmemmap + (((BigInt(ramBase) >> 12n) * BigInt(M.hypPageSize)) & ~BigInt(PAGE - 1));
    const end = (vmemmap + (BigInt(ramEnd) >> 12n) * BigInt(M.hypPageSize) + BigInt(PAGE - 1)) & ~BigInt(PAGE - 1);
    hyp.map(start, end - start, BigInt(vmemmapBase), hypLeafAttr(PAGE_HYP));
    symbols.push({ name: "hyp_vmemmap", va: start, size: Number(end - start), pa: vmemmapBase });
  }
  mapLinear(M.hypText, PAGE_HYP_EXEC);
  mapLinear(M.hypData, PAGE_HYP);
  mapLinear(M.hypRodata, PAGE_HYP_RO);
  mapLinear(M.hypBss, PAGE_HYP);
  mapLinear(M.pool, PAGE_HYP);
  for (let c = 0; c < M.cpus; c++) {
    mapLinear({ name: `hyp per-CPU area, CPU${c}`, base: M.perCpu[c] ?? 0, size: M.perCpuSize }, PAGE_HYP);
    // pkvm_create_stack: two pages of private VA aligned to their size, the upper one mapped. The
    // stack page is the host's allocation and fix_host_ownership (linear range only) leaves it to the
    // host: the captured 6.12 host stage 2 maps it RWX (test/kernel/pkvm-real.test.ts).
    const addr = (ioMapBase + 2n * BigInt(PAGE) - 1n) & ~(2n * BigInt(PAGE) - 1n);
    ioMapBase = addr + 2n * BigInt(PAGE);
    hyp.map(addr + BigInt(PAGE), BigInt(PAGE), BigInt(M.stacks[c] ?? 0), hypLeafAttr(PAGE_HYP));
    symbols.push({ name: `stack guard page, CPU${c} (unmapped)`, va: addr, size: PAGE });
    symbols.push({ name: `hyp stack, CPU${c}`, va: addr + BigInt(PAGE), size: PAGE, pa: M.stacks[c] ?? 0 });
  }
  // The host's vGIC state, read-only to the hypervisor and owned by it, shared with the host.
  mapLinear(M.vgicGlobalState, pkvmMkstate(PAGE_HYP_RO, "shared-owned"));

  // __pkvm_init_finalise: the host stage 2 (kvm_host_prepare_stage2) from its own pool pages.
  const { vtcr, startLevel } = pkvmHostVtcr(M.paBits);
  const hostAlloc = new KvmEarlyAllocator(hostS2Base, shares.hostS2 * PAGE);
  const host = KvmPgtable.stage2(port, hostAlloc, M.paBits, startLevel, cpu);
  const isMemory = (pa: bigint): PaRegion | undefined => M.ram.find((r) => pa >= BigInt(r.base) && pa < BigInt(r.base + r.size));

  // fix_host_ownership: every page leaf of the hypervisor's linear range sets the host's view.
  for (const r of M.ram) {
    hyp.leaves(hypVa(r.base), BigInt(r.size), (va, level, pte) => {
      if ((pte & 1n) === 0n) return;
      if (level !== 3)
        throw new KernelError(
          "EPKVM_INVAL",
          `fix_host_ownership: a level-${level} block at hyp VA 0x${va.toString(16)}`,
          "fix_host_ownership_walker",
        );
      const pa = pte & 0x0000_ffff_ffff_f000n;
      const state = pkvmGetstate(pte);
      if (state === "owned") host.annotate(pa, BigInt(PAGE), invalidOwnerPte(PKVM_ID_HYP));
      else if (state === "shared-owned")
        host.map(pa, BigInt(PAGE), pa, stage2LeafAttr(pkvmMkstate(PKVM_HOST_MEM_PROT, "shared-borrowed")), { forcePte: true });
      else if (state === "shared-borrowed")
        host.map(pa, BigInt(PAGE), pa, stage2LeafAttr(pkvmMkstate(PKVM_HOST_MEM_PROT, "shared-owned")), { forcePte: true });
    });
  }

  // hyp_create_fixmap: one private page per CPU mapped to __hyp_bss_start, then its valid bit cleared.
  for (let c = 0; c < M.cpus; c++) {
    const addr = ioMapBase;
    ioMapBase += BigInt(PAGE);
    hyp.map(addr, BigInt(PAGE), BigInt(M.hypBss.base), hypLeafAttr(PAGE_HYP));
    hyp.clearValid(addr);
    symbols.push({ name: `fixmap slot, CPU${c} (valid bit clear)`, va: addr, size: PAGE });
  }
  // vgic-v2: create_hyp_io_mappings of GICH → __pkvm_create_private_mapping(PAGE_HYP_DEVICE).
  {
    const addr = ioMapBase;
    ioMapBase += BigInt(M.gich.size);
    hyp.map(addr, BigInt(M.gich.size), BigInt(M.gich.base), hypLeafAttr(PAGE_HYP_DEVICE));
    symbols.push({ name: "GICH (vgic-v2 hypervisor control interface)", va: addr, size: M.gich.size, pa: M.gich.base });
  }

  // handle_host_mem_abort → host_stage2_idmap.
  const fault = (addr: bigint): HostFaultResult => {
    const region = isMemory(addr);
    let range: { start: bigint; end: bigint };
    if (region) range = { start: BigInt(region.base), end: BigInt(region.base + region.size) };
    else {
      // find_mem_range: the gap between the memory regions around addr.
      let start = 0n;
      let end = 1n << BigInt(M.paBits);
      for (const r of M.ram) {
        if (BigInt(r.base + r.size) <= addr && BigInt(r.base + r.size) > start) start = BigInt(r.base + r.size);
        if (BigInt(r.base) > addr && BigInt(r.base) < end) end = BigInt(r.base);
      }
      range = { start, end };
    }
    const memory = region !== undefined;
    const leaf = host.getLeaf(addr);
    if ((leaf.pte & 1n) !== 0n) return { addr, outcome: "already-mapped", memory };
    if (leaf.pte !== 0n)
      return { addr, outcome: "refused", memory, reason: `owned by component ${Number((leaf.pte >> 2n) & 0xffn)} (-EPERM)` };
    for (let level = leaf.level; level <= 3; level++) {
      if (!kvmLevelSupportsBlock(level)) continue;
      const g = kvmGranuleSize(level);
      const start = addr & ~(g - 1n);
      const end = start + g;
      if (start < range.start || end > range.end) continue;
      host.map(start, g, start, stage2LeafAttr(memory ? PKVM_HOST_MEM_PROT : PKVM_HOST_MMIO_PROT));
      return { addr, outcome: "mapped", start, end, level, memory };
    }
    return { addr, outcome: "refused", memory, reason: "no block fits (-EINVAL)" };
  };
  const faults = (o.hostFaults ?? PKVM_DEFAULT_HOST_FAULTS).map(fault);

  // mem_protect.c __pkvm_host_share_hyp / __pkvm_host_donate_hyp: the host must own every page
  // (an empty host entry, or a valid one in state owned); the hypervisor must have nothing there.
  const call = (c: PkvmHostCall): void => {
    const size = BigInt(c.pages * PAGE);
    for (let a = c.pa; a < c.pa + size; a += BigInt(PAGE)) {
      const h = host.getLeaf(a).pte;
      const hostOwns = (h & 1n) === 0n ? h === 0n : pkvmGetstate(h) === "owned";
      if (!hostOwns || !isMemory(a))
        throw new KernelError(
          "EPKVM_PERM",
          `${c.kind} of PA 0x${a.toString(16)}: the host does not own it (-EPERM)`,
          "__host_check_page_state_range",
        );
      if ((hyp.getLeaf(hypVa(a)).pte & 1n) !== 0n)
        throw new KernelError(
          "EPKVM_PERM",
          `${c.kind} of PA 0x${a.toString(16)}: the hypervisor maps it already (-EPERM)`,
          "__hyp_check_page_state_range",
        );
    }
    if (c.kind === "share") {
      host.map(c.pa, size, c.pa, stage2LeafAttr(pkvmMkstate(PKVM_HOST_MEM_PROT, "shared-owned")), { forcePte: true });
      const attr = hypLeafAttr(pkvmMkstate(PAGE_HYP, "shared-borrowed"));
      for (let a = c.pa; a < c.pa + size; a += BigInt(PAGE)) hyp.map(hypVa(a), BigInt(PAGE), a, attr);
    } else {
      host.annotate(c.pa, size, invalidOwnerPte(PKVM_ID_HYP));
      const attr = hypLeafAttr(PAGE_HYP);
      for (let a = c.pa; a < c.pa + size; a += BigInt(PAGE)) hyp.map(hypVa(a), BigInt(PAGE), a, attr);
    }
    symbols.push({
      name: `${c.kind === "share" ? "shared by the host" : "donated by the host"}: ${c.what}`,
      va: hypVa(c.pa),
      size: c.pages * PAGE,
      pa: Number(c.pa),
    });
  };
  for (const c of o.hostCalls ?? PKVM_DEFAULT_HOST_CALLS) call(c);

  const regs: Regs = {
    regime: "el2",
    ttbr0: BigInt(hyp.pgd) | CNP,
    ttbr1: 0n,
    tcr: pkvmTcrEl2(M.hypVaBits, M.paBits),
    mair: LINUX_MAIR,
    sctlr: PKVM_SCTLR_EL2,
    features: PKVM_FEATURES,
  };
  const markers: Marker[] = [
    { address: 0n, name: "Hyp idmap" },
    { address: (BigInt(idmap.base) & B(M.hypVaBits - 2)) ^ B(M.hypVaBits - 2), name: "Hyp private VA (stacks, fixmap, I/O)" },
    { address: vmemmap, name: "Hyp vmemmap" },
    { address: tag, name: "Hyp linear map" },
  ];
  return {
    mem,
    port,
    hypVa,
    hyp: { pgt: hyp, regs, ioMapBase, vmemmap, markers, symbols },
    host: {
      pgt: host,
      vtcr,
      // VTTBR_EL2 of the host: its pgd, VMID 0.
      vttbr: BigInt(host.pgd) | CNP,
      hcr: PKVM_HOST_HCR,
      features: PKVM_FEATURES,
      faults,
      fault,
      call,
    },
  };
}
