/**
 * System registers of the EL1&0 translation regime (Arm ARM D19 / DDI0601 register pages):
 * TCR_EL1, TTBR0/1_EL1, MAIR_EL1, SCTLR_EL1, and the ID_AA64MMFRn_EL1 feature fields that
 * change the walk.
 */
import { type DescriptorFormat, descriptorFormat } from "./descriptor.js";
import { RegisterError } from "./errors.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, type Granule } from "./granule.js";
import { LINUX_TCR2_PIE, linuxPirE1, linuxPireE0 } from "./linux-pie.js";
import { bit, bits, parseU64 } from "./u64.js";

/** IPS / PARange encodings → bits (0b111 is 56 bits with FEAT_D128, not modelled: treated as reserved). */
export const PA_SIZE_BITS: readonly number[] = [32, 36, 40, 42, 44, 48, 52];

export interface TcrHalf {
  readonly tnsz: number;
  /** Walks disabled for this half (TCR.EPDn): a TLB miss gives a level-0 Translation fault. */
  readonly epd: boolean;
  readonly granule: Granule;
  /** Raw TGn field; `tgReserved` when it is the reserved encoding (an IMPDEF granule is used: we take 4K). */
  readonly tg: number;
  readonly tgReserved: boolean;
  readonly irgn: number;
  readonly orgn: number;
  readonly sh: number;
  readonly tbi: boolean;
  readonly tbid: boolean;
  readonly hpd: boolean;
  readonly e0pd: boolean;
}

export interface Tcr {
  readonly raw: bigint;
  readonly t0: TcrHalf;
  readonly t1: TcrHalf;
  /** ASID comes from TTBR1 when set, TTBR0 otherwise. */
  readonly a1: boolean;
  readonly ips: number;
  /** 16-bit ASIDs. */
  readonly as: boolean;
  readonly ha: boolean;
  readonly hd: boolean;
  /** FEAT_LPA2 52-bit descriptor format for 4K/16K. */
  readonly ds: boolean;
}

function tg0Granule(tg: number): { g: Granule; reserved: boolean } {
  // TG0: 00 4K, 01 64K, 10 16K, 11 reserved.
  switch (tg) {
    case 0:
      return { g: GRANULE_4K, reserved: false };
    case 1:
      return { g: GRANULE_64K, reserved: false };
    case 2:
      return { g: GRANULE_16K, reserved: false };
    default:
      return { g: GRANULE_4K, reserved: true };
  }
}

function tg1Granule(tg: number): { g: Granule; reserved: boolean } {
  // TG1 uses a different encoding: 01 16K, 10 4K, 11 64K, 00 reserved.
  switch (tg) {
    case 1:
      return { g: GRANULE_16K, reserved: false };
    case 2:
      return { g: GRANULE_4K, reserved: false };
    case 3:
      return { g: GRANULE_64K, reserved: false };
    default:
      return { g: GRANULE_4K, reserved: true };
  }
}

export function decodeTcr(raw: bigint): Tcr {
  const tg0 = bits(raw, 15, 14);
  const tg1 = bits(raw, 31, 30);
  const g0 = tg0Granule(tg0);
  const g1 = tg1Granule(tg1);
  return {
    raw,
    t0: {
      tnsz: bits(raw, 5, 0),
      epd: bit(raw, 7),
      granule: g0.g,
      tg: tg0,
      tgReserved: g0.reserved,
      irgn: bits(raw, 9, 8),
      orgn: bits(raw, 11, 10),
      sh: bits(raw, 13, 12),
      tbi: bit(raw, 37),
      tbid: bit(raw, 51),
      hpd: bit(raw, 41),
      e0pd: bit(raw, 55),
    },
    t1: {
      tnsz: bits(raw, 21, 16),
      epd: bit(raw, 23),
      granule: g1.g,
      tg: tg1,
      tgReserved: g1.reserved,
      irgn: bits(raw, 25, 24),
      orgn: bits(raw, 27, 26),
      sh: bits(raw, 29, 28),
      tbi: bit(raw, 38),
      tbid: bit(raw, 52),
      hpd: bit(raw, 42),
      e0pd: bit(raw, 56),
    },
    a1: bit(raw, 22),
    ips: bits(raw, 34, 32),
    as: bit(raw, 36),
    ha: bit(raw, 39),
    hd: bit(raw, 40),
    ds: bit(raw, 59),
  };
}

export interface TcrFields {
  t0sz: number;
  t1sz: number;
  tg0: "4K" | "16K" | "64K";
  tg1: "4K" | "16K" | "64K";
  ipsBits: number;
  epd0?: boolean;
  epd1?: boolean;
  a1?: boolean;
  as?: boolean;
  tbi0?: boolean;
  tbi1?: boolean;
  ha?: boolean;
  hd?: boolean;
  ds?: boolean;
  hpd0?: boolean;
  hpd1?: boolean;
  /** Inner-shareable, write-back RW-allocate table walks (the Linux default). */
  wbwaWalks?: boolean;
}

/** Build a TCR_EL1 value from named fields. */
export function encodeTcr(f: TcrFields): bigint {
  const tg0 = { "4K": 0n, "64K": 1n, "16K": 2n }[f.tg0];
  const tg1 = { "16K": 1n, "4K": 2n, "64K": 3n }[f.tg1];
  const ips = PA_SIZE_BITS.indexOf(f.ipsBits);
  if (ips < 0) throw new RegisterError(`TCR_EL1.IPS: ${f.ipsBits} bits is not an IPS size (expected one of ${PA_SIZE_BITS.join(", ")})`);
  let v = BigInt(f.t0sz) | (BigInt(f.t1sz) << 16n) | (tg0 << 14n) | (tg1 << 30n) | (BigInt(ips) << 32n);
  if (f.wbwaWalks !== false) v |= (1n << 8n) | (1n << 10n) | (3n << 12n) | (1n << 24n) | (1n << 26n) | (3n << 28n);
  if (f.epd0) v |= 1n << 7n;
  if (f.epd1) v |= 1n << 23n;
  if (f.a1) v |= 1n << 22n;
  if (f.as) v |= 1n << 36n;
  if (f.tbi0) v |= 1n << 37n;
  if (f.tbi1) v |= 1n << 38n;
  if (f.ha) v |= 1n << 39n;
  if (f.hd) v |= 1n << 40n;
  if (f.hpd0) v |= 1n << 41n;
  if (f.hpd1) v |= 1n << 42n;
  if (f.ds) v |= 1n << 59n;
  return v;
}

export interface Sctlr {
  readonly raw: bigint;
  /** Stage-1 MMU enable. */
  readonly m: boolean;
  /** Write permission implies XN. */
  readonly wxn: boolean;
  /** Set PAN on exception entry is *disabled* when SPAN=1. */
  readonly span: boolean;
  /** FEAT_PAN3: PAN also covers EL0-executable memory. */
  readonly epan: boolean;
}

export function decodeSctlr(raw: bigint): Sctlr {
  return { raw, m: bit(raw, 0), wxn: bit(raw, 19), span: bit(raw, 23), epan: bit(raw, 57) };
}

export interface Ttbr {
  readonly raw: bigint;
  readonly asid: number;
  readonly cnp: boolean;
  /** Table base address as written (bits [47:1], plus [51:48] from [5:2] in 52-bit forms). */
  readonly baddr: bigint;
}

/**
 * TTBRn_EL1: ASID[63:48], BADDR[47:1], CnP[0]. With a 52-bit OA (64K+LPA, or DS=1), BADDR[51:48]
 * lives in bits [5:2] (ASL AArch64.S1TTBaseAddress).
 */
export function decodeTtbr(raw: bigint, oa52: boolean): Ttbr {
  let baddr = raw & 0x0000_ffff_ffff_fffen;
  if (oa52) {
    baddr = (raw & 0x0000_ffff_ffff_ffc0n) | (((raw >> 2n) & 0xfn) << 48n);
  }
  return { raw, asid: bits(raw, 63, 48), cnp: bit(raw, 0), baddr };
}

/** CPU features that change the walk (from ID_AA64MMFR0/1/2_EL1, or a preset). */
export interface Features {
  /** Implemented physical address size (ID_AA64MMFR0_EL1.PARange), bits. */
  readonly paBits: number;
  /** FEAT_TTST: TnSZ up to 48 (4K/16K) / 47 (64K). */
  readonly ttst: boolean;
  /** FEAT_LVA: 52-bit VA with the 64K granule. */
  readonly lva: boolean;
  /** FEAT_LPA2 for 4K and 16K granules (TCR.DS may be set). */
  readonly lpa2: boolean;
  /**
   * PAN level (ID_AA64MMFR1_EL1.PAN): 0 no PAN, 1 FEAT_PAN, 2 FEAT_PAN2 (AT S1E1RP/WP), 3 FEAT_PAN3
   * (SCTLR_ELx.EPAN: PAN also covers EL0-executable memory).
   */
  readonly pan: number;
  /** FEAT_E0PD. */
  readonly e0pd: boolean;
  /** FEAT_BBM level (ID_AA64MMFR2_EL1.BBM). */
  readonly bbm: number;
  /** FEAT_HAFDBS: 0 none, 1 AF only, 2 AF and dirty. */
  readonly hafdbs: number;
  /** FEAT_TCR2 (ID_AA64MMFR3_EL1.TCRX): TCR2_EL1 exists. Absent: as FEATURES_MAX (implemented). */
  readonly tcrx?: boolean;
  /** FEAT_S1PIE (ID_AA64MMFR3_EL1.S1PIE): TCR2_EL1.PIE can select permission indirection. */
  readonly s1pie?: boolean;
  /** FEAT_S2PIE (ID_AA64MMFR3_EL1.S2PIE). */
  readonly s2pie?: boolean;
  /** FEAT_S1POE (ID_AA64MMFR3_EL1.S1POE): TCR2_EL1.POE/E0POE enable permission overlays. */
  readonly s1poe?: boolean;
  /** FEAT_S2POE (ID_AA64MMFR3_EL1.S2POE). */
  readonly s2poe?: boolean;
}

/** The features of QEMU's `-cpu max` / a recent Armv9 core: everything the walker models. */
export const FEATURES_MAX: Features = Object.freeze({
  paBits: 52,
  ttst: true,
  lva: true,
  lpa2: true,
  pan: 3,
  e0pd: true,
  bbm: 2,
  hafdbs: 2,
  tcrx: true,
  s1pie: true,
  s2pie: true,
  s1poe: true,
  s2poe: true,
});

/** A plain Armv8.0 CPU with a 48-bit PA. */
export const FEATURES_V80: Features = Object.freeze({
  paBits: 48,
  ttst: false,
  lva: false,
  lpa2: false,
  pan: 0,
  e0pd: false,
  bbm: 0,
  hafdbs: 0,
  tcrx: false,
  s1pie: false,
  s2pie: false,
  s1poe: false,
  s2poe: false,
});

/** Derive features from ID register values (any may be omitted; missing ones keep `base`). */
export function featuresFromIdRegs(
  ids: { mmfr0?: bigint; mmfr1?: bigint; mmfr2?: bigint; mmfr3?: bigint },
  base: Features = FEATURES_MAX,
): Features {
  let f: Features = { ...base };
  if (ids.mmfr0 !== undefined) {
    const parange = bits(ids.mmfr0, 3, 0);
    const tgran4 = bits(ids.mmfr0, 31, 28);
    const tgran16 = bits(ids.mmfr0, 23, 20);
    f = {
      ...f,
      paBits: PA_SIZE_BITS[parange] ?? 52,
      // TGran4 0b0001 / TGran16 0b0010: 52-bit (LPA2) support.
      lpa2: tgran4 === 1 || tgran16 === 2,
    };
  }
  if (ids.mmfr1 !== undefined) {
    f = { ...f, hafdbs: bits(ids.mmfr1, 3, 0), pan: bits(ids.mmfr1, 23, 20) };
  }
  if (ids.mmfr2 !== undefined) {
    f = {
      ...f,
      ttst: bits(ids.mmfr2, 31, 28) !== 0,
      lva: bits(ids.mmfr2, 19, 16) !== 0,
      bbm: bits(ids.mmfr2, 55, 52),
      e0pd: bits(ids.mmfr2, 63, 60) !== 0,
    };
  }
  if (ids.mmfr3 !== undefined) {
    const m3 = decodeIdAa64mmfr3(ids.mmfr3);
    f = { ...f, tcrx: m3.tcrx >= 1, s1pie: m3.s1pie >= 1, s2pie: m3.s2pie >= 1, s1poe: m3.s1poe >= 1, s2poe: m3.s2poe >= 1 };
  }
  return f;
}

/**
 * ID_AA64MMFR3_EL1 fields (Arm ARM D19.2; DDI0601 ID_AA64MMFR3_EL1), each a 4-bit value:
 * TCRX[3:0], SCTLRX[7:4], S1PIE[11:8], S2PIE[15:12], S1POE[19:16], S2POE[23:20], AIE[27:24],
 * MEC[31:28], D128[35:32], D128_2[39:36], SNERR[43:40], ANERR[47:44], [51:48] RES0,
 * SDERR[55:52], ADERR[59:56], Spec_FPACC[63:60] (Linux arch/arm64/tools/sysreg has the same layout).
 */
export interface IdAa64mmfr3 {
  readonly tcrx: number;
  readonly sctlrx: number;
  readonly s1pie: number;
  readonly s2pie: number;
  readonly s1poe: number;
  readonly s2poe: number;
  readonly aie: number;
  readonly mec: number;
  readonly d128: number;
  readonly d128_2: number;
  readonly snerr: number;
  readonly anerr: number;
  readonly aderr: number;
  readonly sderr: number;
  readonly specFpacc: number;
}

export function decodeIdAa64mmfr3(raw: bigint): IdAa64mmfr3 {
  const f = (lo: number): number => bits(raw, lo + 3, lo);
  return {
    tcrx: f(0),
    sctlrx: f(4),
    s1pie: f(8),
    s2pie: f(12),
    s1poe: f(16),
    s2poe: f(20),
    aie: f(24),
    mec: f(28),
    d128: f(32),
    d128_2: f(36),
    snerr: f(40),
    anerr: f(44),
    aderr: f(56),
    sderr: f(52),
    specFpacc: f(60),
  };
}

/**
 * The translation regime a register set belongs to: EL1&0 (the default), EL2 with HCR_EL2.E2H=0
 * (TCR_EL2 in its own layout, TTBR0_EL2 only, no EL0), or EL2&0 with E2H=1 (VHE: TCR_EL2 in the
 * TCR_EL1 layout, TTBR0/1_EL2). vmsa-regimes.md §2.
 */
export type Regime = "el10" | "el2" | "el20";

/**
 * Everything a walk reads. `ttbr0`/`ttbr1`/`tcr`/`mair`/`sctlr` are the stage-1 registers of
 * `regime` (the _EL1 ones for EL1&0, the _EL2 ones otherwise). `hcr`, `vtcr`, `vttbr`
 * (HCR_EL2, VTCR_EL2, VTTBR_EL2) add stage 2 to an EL1&0 walk when HCR_EL2.VM or DC is set.
 */
export interface Regs {
  readonly ttbr0: bigint;
  readonly ttbr1: bigint;
  readonly tcr: bigint;
  readonly mair: bigint;
  readonly sctlr: bigint;
  readonly features: Features;
  /**
   * TCR2_EL1 (FEAT_TCR2): PIE[1], E0POE[2], POE[3]. Absent = 0 (no indirection, no overlays).
   * In the EL2 and EL2&0 regimes (`regime`) this and the four below are TCR2_EL2, PIR_EL2,
   * PIRE0_EL2 (EL2&0 only), POR_EL2 and POR_EL0, as `tcr`/`ttbr*` are the _EL2 registers there.
   */
  readonly tcr2?: bigint;
  /** PIR_EL1: privileged permissions for the 16 PIIndex values (FEAT_S1PIE). */
  readonly pir?: bigint;
  /** PIRE0_EL1: unprivileged (EL0) permissions for the 16 PIIndex values. */
  readonly pire0?: bigint;
  /** POR_EL1: privileged overlay permissions for the 8 POIndex values (FEAT_S1POE). */
  readonly por1?: bigint;
  /** POR_EL0: unprivileged overlay permissions. */
  readonly por0?: bigint;
  readonly regime?: Regime;
  readonly hcr?: bigint;
  readonly vtcr?: bigint;
  readonly vttbr?: bigint;
  /** S2PIR_EL2 (FEAT_S2PIE): stage-2 permissions per PIIndex when VTCR_EL2.S2PIE=1. */
  readonly s2pir?: bigint;
  /** S2POR_EL1 (FEAT_S2POE): stage-2 overlay permissions per S2POIndex when VTCR_EL2.S2PIE=S2POE=1. */
  readonly s2por?: bigint;
}

/** TCR2_EL1 fields the walk uses (ASL TCR2_EL1_Type): PnCH[0], PIE[1], E0POE[2], POE[3], AIE[4], D128[5], HAFT[11]. */
export interface Tcr2 {
  readonly raw: bigint;
  readonly pnch: boolean;
  readonly pie: boolean;
  readonly e0poe: boolean;
  readonly poe: boolean;
  readonly aie: boolean;
  readonly d128: boolean;
  readonly haft: boolean;
}

export function decodeTcr2(raw: bigint): Tcr2 {
  return {
    raw,
    pnch: bit(raw, 0),
    pie: bit(raw, 1),
    e0poe: bit(raw, 2),
    poe: bit(raw, 3),
    aie: bit(raw, 4),
    d128: bit(raw, 5),
    haft: bit(raw, 11),
  };
}

/**
 * Linux's MAIR_EL1 (arch/arm64/include/asm/memory.h, v5.11+ index order): 0 NORMAL (0xff),
 * 1 NORMAL_TAGGED (0xf0 with MTE, 0xff until then), 2 NORMAL_NC (0x44), 3 DEVICE_nGnRnE (0x00),
 * 4 DEVICE_nGnRE (0x04).
 */
export const LINUX_MAIR = 0x0000_0004_0044_ffffn;
/** SCTLR_EL1 with M, C, I and the Linux RES1/feature bits; WXN clear. */
export const LINUX_SCTLR = 0x0000_0000_30d4_d91dn;

export interface Preset {
  readonly name: string;
  readonly description: string;
  readonly regs: Regs;
}

function linuxPreset(
  name: string,
  description: string,
  g: "4K" | "16K" | "64K",
  vaBits: number,
  opts: { ds?: boolean; ipsBits?: number; features?: Features; pie?: boolean } = {},
): Preset {
  const tnsz = 64 - vaBits;
  const tcr = encodeTcr({
    t0sz: tnsz,
    t1sz: tnsz,
    tg0: g,
    tg1: g,
    ipsBits: opts.ipsBits ?? 48,
    a1: true,
    as: true,
    tbi0: true,
    ha: true,
    hd: true,
    ds: opts.ds,
  });
  return {
    name,
    description,
    regs: {
      ttbr0: 0n,
      ttbr1: 0n,
      tcr,
      mair: LINUX_MAIR,
      sctlr: LINUX_SCTLR,
      features: opts.features ?? FEATURES_MAX,
      // __cpu_setup on a CPU with FEAT_S1PIE: PIRE0_EL1 = PIE_E0, PIR_EL1 = PIE_E1, TCR2_EL1.PIE = 1.
      ...(opts.pie ? { tcr2: LINUX_TCR2_PIE, pir: linuxPirE1(), pire0: linuxPireE0("gcs") } : {}),
    },
  };
}

/** Register presets: Linux's boot-time TCR/MAIR/SCTLR for its supported page-size/VA combinations. */
export const PRESETS: readonly Preset[] = [
  linuxPreset("linux-4k-39", "Linux, 4K pages, 39-bit VA (3 levels)", "4K", 39),
  linuxPreset("linux-4k-48", "Linux, 4K pages, 48-bit VA (4 levels)", "4K", 48),
  linuxPreset(
    "linux-4k-48-pie",
    "Linux on a CPU with FEAT_S1PIE (QEMU -cpu max >= 10.2): 4K pages, 48-bit VA, TCR2_EL1.PIE=1, PIR_EL1/PIRE0_EL1 as __cpu_setup writes them",
    "4K",
    48,
    { pie: true },
  ),
  linuxPreset("linux-4k-52", "Linux, 4K pages, 52-bit VA/PA with FEAT_LPA2 (TCR.DS=1, 5 levels)", "4K", 52, { ds: true, ipsBits: 52 }),
  linuxPreset("linux-16k-36", "Linux, 16K pages, 36-bit VA (3 levels)", "16K", 36),
  linuxPreset("linux-16k-47", "Linux, 16K pages, 47-bit VA (4 levels)", "16K", 47),
  linuxPreset("linux-16k-52", "Linux, 16K pages, 52-bit VA/PA with FEAT_LPA2 (TCR.DS=1)", "16K", 52, { ds: true, ipsBits: 52 }),
  linuxPreset("linux-64k-42", "Linux, 64K pages, 42-bit VA (2 levels)", "64K", 42),
  linuxPreset("linux-64k-48", "Linux, 64K pages, 48-bit VA (3 levels)", "64K", 48),
  linuxPreset("linux-64k-52", "Linux, 64K pages, 52-bit VA/PA (FEAT_LVA + FEAT_LPA)", "64K", 52, { ipsBits: 52 }),
];

export function presetByName(name: string): Preset {
  const p = PRESETS.find((x) => x.name === name);
  if (!p) {
    throw new RegisterError(`unknown preset "${name}" (expected one of: ${PRESETS.map((x) => x.name).join(", ")})`);
  }
  return p;
}

/** Parse a register given as hex/decimal, naming the register in errors. */
export function parseRegister(name: string, text: string): bigint {
  return parseU64(text, name);
}

/** Effective output-address size in bits for a half: min(IPS, PARange), 48 for 4K/16K without DS. */
export function effectivePaBits(tcr: Tcr, half: TcrHalf, f: Features): number {
  const ips = PA_SIZE_BITS[tcr.ips] ?? f.paBits;
  let pa = Math.min(ips, f.paBits);
  if (half.granule.size !== 65536 && !(tcr.ds && f.lpa2)) pa = Math.min(pa, 48);
  return pa;
}

/**
 * The descriptor format a TTBR half's walks use, from the registers: TCR.DS (with FEAT_LPA2),
 * the effective output size and the implemented PA size. Every layer takes its format from here
 * (through the compiled walk context) rather than assembling flags.
 */
export function halfDescriptorFormat(tcr: Tcr, half: TcrHalf, f: Features): DescriptorFormat {
  return descriptorFormat(half.granule, { ds: tcr.ds && f.lpa2, oaBits: effectivePaBits(tcr, half, f), paMaxBits: f.paBits });
}

/** TnSZ limits (ASL AArch64.S1MinTxSZ / AArch64.MaxTxSZ). */
export function tnszLimits(half: TcrHalf, ds: boolean, f: Features): { min: number; max: number } {
  const g = half.granule.size;
  const min = (g === 65536 && f.lva) || (ds && g !== 65536) ? 12 : 16;
  const max = f.ttst ? (g === 65536 ? 47 : 48) : 39;
  return { min, max };
}
