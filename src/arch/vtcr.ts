/**
 * Stage-2 translation control for the Non-secure EL1&0 regime: VTCR_EL2 and VTTBR_EL2
 * (Arm ARM D8.2 "Translation table walk" stage-2 start level and concatenation, register pages
 * VTCR_EL2 / VTTBR_EL2; ASL AArch64.S2StartLevel, AArch64.S2InvalidSL, AArch64.S2InconsistentSL,
 * AArch64.S2MinTxSZ, AArch64.MaxTxSZ, AArch64.S2TTBaseAddress; vmsa-regimes.md §1.1–§1.3).
 *
 * Every architecturally possible register value decodes: an illegal combination is reported as
 * `{ kind: "invalid", reason }` (what a walk makes of it: a stage-2 level-0 Translation fault),
 * never thrown. Only API misuse (a feature set that cannot exist) throws a RegisterError.
 */
import { RegisterError } from "./errors.js";
import { GRANULE_4K, GRANULE_16K, GRANULE_64K, type Granule } from "./granule.js";
import { type Features, PA_SIZE_BITS } from "./registers.js";
import { bit, bits } from "./u64.js";

/** The fields of VTCR_EL2 (positions per the 2023-03 layout, vmsa-regimes.md §1.1). */
export interface Vtcr {
  readonly raw: bigint;
  /** [5:0]: IPA size = 64 - T0SZ. */
  readonly t0sz: number;
  /** [7:6]: start level, meaning depends on TG0 (and SL2/DS for 4K). */
  readonly sl0: number;
  /** [9:8], [11:10], [13:12]: attributes of the stage-2 walk's own table reads (TCR encodings). */
  readonly irgn0: number;
  readonly orgn0: number;
  readonly sh0: number;
  /** [15:14]: same encoding as TCR_EL1.TG0 (00 4K, 01 64K, 10 16K, 11 reserved). */
  readonly tg0: number;
  /** TG0 = 11: reserved, an IMPDEF granule is used (we take 4K, as decodeTcr does). */
  readonly tgReserved: boolean;
  readonly granule: Granule;
  /** [18:16]: output (PA) size, TCR.IPS encoding. */
  readonly ps: number;
  /** [19]: 16-bit VMID (FEAT_VMID16). */
  readonly vs: boolean;
  /** [21], [22]: hardware Access flag / dirty state (S2AP[1]) update at stage 2. */
  readonly ha: boolean;
  readonly hd: boolean;
  /** [28:25]: HWU59..HWU62, PBHA use of descriptor bits 59..62 (bit i = HWU(59+i)). */
  readonly hwu: number;
  /** [29], [30]: Secure EL2 only (walk / output PA space for the NS IPA space). */
  readonly nsw: boolean;
  readonly nsa: boolean;
  /** [32]: FEAT_LPA2 52-bit format for 4K/16K. */
  readonly ds: boolean;
  /** [33]: with DS=1, 4K and SL0=00, start level -1. */
  readonly sl2: boolean;
  /** [34]: FEAT_THE AssuredOnly (descriptor bit 58). */
  readonly assuredOnly: boolean;
  /** [35], [41]: FEAT_THE TopLevel1 / TopLevel0 checks. */
  readonly tl1: boolean;
  readonly tl0: boolean;
  /** [36], [37]: FEAT_S2PIE / FEAT_S2POE. */
  readonly s2pie: boolean;
  readonly s2poe: boolean;
  /** [38]: 128-bit stage-2 descriptors (FEAT_D128, not modelled: a walk with it is refused). */
  readonly d128: boolean;
  /** [40]: privileged GCS accesses need AssuredOnly at stage 2. */
  readonly gcsh: boolean;
  /** [44]: hardware AF on table descriptors (only with HA=1). */
  readonly haft: boolean;
}

function tg0Granule(tg: number): Granule {
  // Same encoding as TCR_EL1.TG0 (ASL AArch64.S2DecodeTG0): 00 4K, 01 64K, 10 16K.
  return tg === 1 ? GRANULE_64K : tg === 2 ? GRANULE_16K : GRANULE_4K;
}

export function decodeVtcr(raw: bigint): Vtcr {
  const tg0 = bits(raw, 15, 14);
  return {
    raw,
    t0sz: bits(raw, 5, 0),
    sl0: bits(raw, 7, 6),
    irgn0: bits(raw, 9, 8),
    orgn0: bits(raw, 11, 10),
    sh0: bits(raw, 13, 12),
    tg0,
    tgReserved: tg0 === 3,
    granule: tg0Granule(tg0),
    ps: bits(raw, 18, 16),
    vs: bit(raw, 19),
    ha: bit(raw, 21),
    hd: bit(raw, 22),
    hwu: bits(raw, 28, 25),
    nsw: bit(raw, 29),
    nsa: bit(raw, 30),
    ds: bit(raw, 32),
    sl2: bit(raw, 33),
    assuredOnly: bit(raw, 34),
    tl1: bit(raw, 35),
    s2pie: bit(raw, 36),
    s2poe: bit(raw, 37),
    d128: bit(raw, 38),
    gcsh: bit(raw, 40),
    tl0: bit(raw, 41),
    haft: bit(raw, 44),
  };
}

/** Why a VTCR_EL2 setting makes every stage-2 translation fault (Translation fault, level 0). */
export type Stage2InvalidReason =
  /** T0SZ below AArch64.S2MinTxSZ: the IPA space would exceed the implemented PA size. Mandatory fault
   * with FEAT_LPA, IMPDEF fault-or-clamp otherwise (QEMU faults). */
  | "t0sz-below-min"
  /** T0SZ above AArch64.MaxTxSZ (39, or 48/47 with FEAT_TTST): IMPDEF fault or clamp (QEMU faults). */
  | "t0sz-above-max"
  /** AArch64.S2InvalidSL: a reserved or unsupported SL0/SL2 encoding. */
  | "sl-invalid"
  /** AArch64.S2InconsistentSL: the start level cannot resolve this IPA size with at most 16 concatenated tables. */
  | "sl-inconsistent"
  /** VTCR_EL2.D128=1: 128-bit descriptors are not modelled. */
  | "d128-unsupported";

/** What a walk uses from VTCR_EL2 once the register is legal. */
export interface Stage2Params {
  readonly granule: Granule;
  /** IPA size in bits (64 - T0SZ). */
  readonly ipaBits: number;
  /** -1..3. */
  readonly startLevel: number;
  /** Levels walked: 4 - startLevel (KVM's stage2_levels). */
  readonly levels: number;
  /** Concatenated start-level tables, 1 or 2..16 (each a full granule). */
  readonly concatenated: number;
  /** Entries of the start-level table(s) together (2..16 for a partial single table). */
  readonly startEntries: number;
  /** log2 of the start table's size in bytes: VTTBR.BADDR is aligned down to it (AArch64.S2TTBaseAddress). */
  readonly startTableShift: number;
  /** DS effective (FEAT_LPA2 implemented, 4K/16K). */
  readonly ds: boolean;
  /** Effective output size: min(PS, PAMax), 48 for 4K/16K without DS. */
  readonly paBits: number;
  /** IPA bits above the effective PS: legal, but any IPA mapped to a PA >= 2^paBits is an Address size fault. */
  readonly ipaExceedsPs: boolean;
}

export type Stage2Config =
  | ({ readonly kind: "ok" } & Stage2Params)
  | {
      readonly kind: "invalid";
      readonly reason: Stage2InvalidReason;
      /** One line naming the rule. */
      readonly detail: string;
      readonly granule: Granule;
      readonly ipaBits: number;
      /** The start level the SL encoding names, when it names one. */
      readonly startLevel: number | undefined;
    };

/** Start level named by SL0 (and SL2 & DS for 4K), or undefined for a reserved encoding (ASL AArch64.S2StartLevel). */
export function s2StartLevelOf(g: Granule, sl0: number, sl2ds: boolean): number | undefined {
  switch (g.size) {
    case 4096:
      if (sl2ds) return sl0 === 0 ? -1 : undefined;
      return [2, 1, 0, 3][sl0 & 3];
    case 16384:
      return [3, 2, 1, 0][sl0 & 3];
    case 65536:
      return [3, 2, 1, undefined][sl0 & 3];
  }
}

/** Stage-2 T0SZ limits (ASL AArch64.S2MinTxSZ for an AArch64 EL1, AArch64.MaxTxSZ). */
export function s2T0szLimits(g: Granule, ds: boolean, f: Features): { min: number; max: number } {
  const wide = g.size === 65536 || ds;
  const ipaMax = wide ? Math.min(f.paBits, 52) : Math.min(f.paBits, 48);
  const max = f.ttst ? (g.size === 65536 ? 47 : 48) : 39;
  return { min: 64 - ipaMax, max };
}

/** Effective stage-2 output size (ASL AArch64.PhysicalAddressSize with VTCR_EL2.PS). */
export function s2PaBits(vtcr: Vtcr, ds: boolean, f: Features): number {
  let pa = Math.min(PA_SIZE_BITS[vtcr.ps] ?? f.paBits, f.paBits);
  if (vtcr.granule.size !== 65536 && !ds) pa = Math.min(pa, 48);
  return pa;
}

function checkFeatures(f: Features): void {
  if (!PA_SIZE_BITS.includes(f.paBits)) {
    throw new RegisterError(`features.paBits: ${f.paBits} is not a PARange size (expected one of ${PA_SIZE_BITS.join(", ")})`);
  }
}

/**
 * The stage-2 walk parameters of a VTCR_EL2 value on a CPU with features `f`, or why every
 * stage-2 translation faults at level 0 (ASL AArch64.S2Translate checks, in this order: T0SZ
 * range, then AArch64.S2InvalidSL, then AArch64.S2InconsistentSL).
 */
export function stage2Config(vtcr: Vtcr, f: Features): Stage2Config {
  checkFeatures(f);
  const g = vtcr.granule;
  const ds = vtcr.ds && f.lpa2 && g.size !== 65536;
  const ipaBits = 64 - vtcr.t0sz;
  const start = s2StartLevelOf(g, vtcr.sl0, vtcr.sl2 && ds);
  const invalid = (reason: Stage2InvalidReason, detail: string): Stage2Config => ({
    kind: "invalid",
    reason,
    detail,
    granule: g,
    ipaBits,
    startLevel: start,
  });
  if (vtcr.d128) return invalid("d128-unsupported", "VTCR_EL2.D128=1 (128-bit descriptors) is not modelled");
  const lim = s2T0szLimits(g, ds, f);
  if (vtcr.t0sz < lim.min) {
    return invalid("t0sz-below-min", `T0SZ ${vtcr.t0sz} is below the stage-2 minimum ${lim.min} (IPA wider than the ${f.paBits}-bit PA)`);
  }
  if (vtcr.t0sz > lim.max)
    return invalid("t0sz-above-max", `T0SZ ${vtcr.t0sz} is above the maximum ${lim.max}${f.ttst ? "" : " (no FEAT_TTST)"}`);
  const sl = `SL0=${vtcr.sl0.toString(2).padStart(2, "0")}${g.size === 4096 && vtcr.sl2 && ds ? " SL2=1" : ""}`;
  // ASL AArch64.S2InvalidSL.
  let bad: string | undefined;
  if (start === undefined) bad = `${sl} is reserved for the ${g.name} granule`;
  else if (g.size === 4096 && vtcr.sl0 === 3 && !f.ttst) bad = `${sl} (start level 3) needs FEAT_TTST`;
  else if (g.size === 16384 && vtcr.sl0 === 3 && !ds) bad = `${sl} (start level 0) needs DS=1 with the 16K granule`;
  else if (g.size === 16384 && vtcr.sl0 === 2 && f.paBits < 42) bad = `${sl} (start level 1) needs a PA size of at least 42 bits`;
  else if (g.size !== 16384 && vtcr.sl0 === 2 && !(vtcr.sl2 && ds) && f.paBits < 44) bad = `${sl} needs a PA size of at least 44 bits`;
  if (bad !== undefined || start === undefined) return invalid("sl-invalid", bad ?? `${sl} is reserved`);
  // ASL AArch64.S2InconsistentSL: the start table resolves 1 .. stride+4 bits.
  const levels = 3 - start;
  const lo = levels * g.stride + g.shift + 1;
  const hi = levels * g.stride + g.shift + g.stride + 4;
  if (ipaBits < lo || ipaBits > hi) {
    return invalid(
      "sl-inconsistent",
      `start level ${start} (${sl}) with a ${g.name} granule resolves ${lo}..${hi}-bit IPAs, not ${ipaBits}`,
    );
  }
  const startBits = ipaBits - levels * g.stride - g.shift;
  const concatenated = startBits > g.stride ? 2 ** (startBits - g.stride) : 1;
  const paBits = s2PaBits(vtcr, ds, f);
  return {
    kind: "ok",
    granule: g,
    ipaBits,
    startLevel: start,
    levels: 4 - start,
    concatenated,
    startEntries: 2 ** startBits,
    startTableShift: startBits + 3,
    ds,
    paBits,
    ipaExceedsPs: ipaBits > paBits,
  };
}

/** VTTBR_EL2 (vmsa-regimes.md §1.3). */
export interface Vttbr {
  readonly raw: bigint;
  /** [0]: common-not-private (FEAT_TTCNP). */
  readonly cnp: boolean;
  /** Base address as written: [47:1], plus BADDR[51:48] from [5:2] in the 52-bit forms (then [47:6]). */
  readonly baddr: bigint;
  /** VMID: [55:48] with VTCR_EL2.VS=0, [63:48] with VS=1. */
  readonly vmid: number;
  /** The start table's address: BADDR aligned down to the start table size (ASL AArch64.S2TTBaseAddress). */
  readonly tableBase: bigint;
  /** The start table lies beyond the effective PS: every walk takes a stage-2 Address size fault at level 0. */
  readonly addressSizeFault: boolean;
}

/**
 * Decode VTTBR_EL2 against the VTCR_EL2 it is used with. BADDR[51:48] lives in bits [5:2] with
 * DS=1, or with the 64K granule and PS = 52 bits (0b110).
 */
export function decodeVttbr(raw: bigint, vtcr: Vtcr, cfg: Stage2Params): Vttbr {
  const wide = cfg.ds || (vtcr.granule.size === 65536 && vtcr.ps === 6);
  const baddr = wide ? (raw & 0x0000_ffff_ffff_ffc0n) | (((raw >> 2n) & 0xfn) << 48n) : raw & 0x0000_ffff_ffff_fffen;
  const align = Math.max(cfg.startTableShift, wide ? 6 : 1);
  const tableBase = baddr & ~((1n << BigInt(align)) - 1n);
  return {
    raw,
    cnp: bit(raw, 0),
    baddr,
    vmid: vtcr.vs ? bits(raw, 63, 48) : bits(raw, 55, 48),
    tableBase,
    addressSizeFault: tableBase >> BigInt(cfg.paBits) !== 0n,
  };
}
