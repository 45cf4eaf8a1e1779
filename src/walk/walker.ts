/**
 * The stage-1 EL1&0 translation walk, as the hardware performs it (Arm ARM D8.2-D8.4; ASL
 * AArch64.S1Translate / AArch64.S1Walk / AArch64.S1CheckPermissions), and the PAR_EL1 an AT
 * instruction would return (ASL AArch64.EncodePAR).
 *
 * `walkRaw` is the allocation-free hot path over 32-bit halves; `translate` wraps it into a
 * typed result for the API.
 */
import { type Descriptor, decodeDescriptor, SH_NAMES, type Shareability } from "../arch/descriptor.js";

export type { Shareability };

import {
  FAULT_ACCESS_FLAG,
  FAULT_ADDRESS_SIZE,
  FAULT_EXTERNAL_ABORT,
  FAULT_KINDS,
  FAULT_NONE,
  FAULT_PERMISSION,
  FAULT_TRANSLATION,
  type FaultKind,
  faultStatusCode,
} from "../arch/fault.js";
import { decodeMairAttr, type MemAttr, parAttrByte, parForcesOuterShareable } from "../arch/mair.js";
import type { Regs } from "../arch/registers.js";
import { U64_MASK } from "../arch/u64.js";
import { FRAME_CACHE_MASK, type PhysMem } from "../mem/physmem.js";

// Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: a load-time guard on another module's constant, not a rule
if (FRAME_CACHE_MASK !== 8191) throw new Error("walker.ts assumes an 8192-slot frame cache");

import { compileRegs, type HalfContext, TWO32, type WalkContext } from "./context.js";
import { nextTablePfn } from "./fields.js";
import { leafPermissions, PERM_DIRTY, PERM_OVERLAY_SHIFT } from "./permissions.js";

/** PAR_EL1 bits of a Permission fault (FEAT_S1POE Overlay[14], FEAT_S1PIE DirtyBit[15]). */
export const PAR_OVERLAY = 1 << 14;
export const PAR_DIRTY = 1 << 15;

export type AccessType = "read" | "write" | "exec";

export interface Access {
  readonly type: AccessType;
  readonly el: 0 | 1;
  /** PSTATE.PAN is set and applies (ordinary EL1 loads/stores, AT S1E1RP/WP); not AT S1E1R/W. */
  readonly pan?: boolean;
}

/** The four AT operations vmsa models, as accesses. */
export const AT_OPS = {
  S1E1R: { type: "read", el: 1 },
  S1E1W: { type: "write", el: 1 },
  S1E0R: { type: "read", el: 0 },
  S1E0W: { type: "write", el: 0 },
  S1E1RP: { type: "read", el: 1, pan: true },
  S1E1WP: { type: "write", el: 1, pan: true },
} as const satisfies Record<string, Access>;

export type AtOp = keyof typeof AT_OPS;

const ACC_READ = 0;
const ACC_WRITE = 1;
const ACC_EXEC = 2;

export function accessCode(a: Access): number {
  return (a.type === "read" ? ACC_READ : a.type === "write" ? ACC_WRITE : ACC_EXEC) | (a.el === 0 ? 4 : 0) | (a.pan ? 8 : 0);
}

export interface TrailEntry {
  readonly level: number;
  /** Physical address of the descriptor. */
  readonly address: bigint;
  /** Descriptor value (undefined when the address was unbacked). */
  readonly value: bigint | undefined;
  readonly descriptor: Descriptor | undefined;
}

export interface Permissions {
  /** EL1 (privileged) read / write / execute. */
  readonly pr: boolean;
  readonly pw: boolean;
  readonly px: boolean;
  /** EL0 (unprivileged) read / write / execute. */
  readonly ur: boolean;
  readonly uw: boolean;
  readonly ux: boolean;
  /** Guarded Control Stack accesses allowed (PIE value 0b1001; FEAT_GCS), EL1 / EL0. */
  readonly pgcs: boolean;
  readonly ugcs: boolean;
}

interface ResultCommon {
  readonly va: bigint;
  readonly access: Access;
  /** TTBR half used: 0 or 1 (undefined when the MMU is off). */
  readonly half: 0 | 1 | undefined;
  readonly trail: readonly TrailEntry[];
  /** PAR_EL1 an AT instruction with this access would return (null: AT takes an exception, or
   * the access is an instruction fetch, which has no AT form). */
  readonly par: bigint | null;
}

export interface TranslationOk extends ResultCommon {
  readonly kind: "ok";
  readonly pa: bigint;
  readonly level: number;
  /** Bytes mapped by the leaf entry. */
  readonly blockSize: number;
  readonly leafKind: "block" | "page" | "flat";
  readonly descriptor: Descriptor | undefined;
  readonly attrIndx: number;
  readonly mairByte: number;
  readonly memAttr: MemAttr;
  readonly shareability: Shareability;
  readonly permissions: Permissions;
  readonly contiguous: boolean;
  readonly nG: boolean;
  readonly af: boolean;
  readonly dbm: boolean;
  /** Hierarchical table restrictions accumulated on the way down. */
  readonly apTable: number;
  readonly uxnTable: boolean;
  readonly pxnTable: boolean;
}

export interface TranslationFault extends ResultCommon {
  readonly kind: "fault";
  readonly fault: FaultKind;
  readonly level: number;
  /** 6-bit fault status code (PAR_EL1.FST / ESR.DFSC). */
  readonly fsc: number;
  /** Why, in words. */
  readonly reason: string;
}

export type TranslationResult = TranslationOk | TranslationFault;

/** Reasons a walk stopped, for `Walker.reason`. */
export const R_OK = 0;
export const R_TNSZ = 1;
export const R_NONCANONICAL = 2;
export const R_E0PD = 3;
export const R_EPD = 4;
export const R_BASE_SIZE = 5;
export const R_INVALID = 6;
export const R_RESERVED_L3 = 7;
export const R_BLOCK_LEVEL = 8;
export const R_TABLE_SIZE = 9;
export const R_OA_SIZE = 10;
export const R_AF = 11;
export const R_PERM = 12;
export const R_UNBACKED = 13;
export const R_MMU_OFF_SIZE = 14;
export const R_DIRTY = 15;

const REASONS = [
  "ok",
  "TnSZ is outside the supported range",
  "VA is not canonical for its TTBR half (upper bits must all equal bit 55)",
  "EL0 access to a half with TCR.E0PDn=1",
  "walks are disabled for this half (TCR.EPDn=1)",
  "the TTBR base address exceeds the output address size",
  "descriptor is invalid (bit 0 clear)",
  "descriptor bits[1:0]=0b01 at level 3 are reserved (invalid)",
  "block descriptor at a level where this granule allows no blocks",
  "next-level table address exceeds the output address size",
  "output address exceeds the output address size",
  "access flag is 0 and hardware AF update is off (TCR.HA=0)",
  "access not permitted",
  "descriptor address is not backed by memory (synchronous external abort on walk)",
  "address exceeds the physical address size with the MMU off",
  "write to a clean page (PIE: nDirty=1) without hardware dirty-state update (TCR.HA/HD)",
];

/**
 * A walker over one memory and register set. Construct once, translate many times.
 * After `walkRaw`, the public fields describe the outcome (no allocation).
 */
export class Walker {
  readonly ctx: WalkContext;
  readonly mem: PhysMem;

  /** Outcome of the last walkRaw: FAULT_* kind (0 = success), level, reason code. */
  fault = 0;
  level = 0;
  reason = 0;
  half: HalfContext | undefined = undefined;
  /** Output PA of a successful walk as 32-bit halves. */
  paHi = 0;
  paLo = 0;
  /** Output PA of a successful walk, as a number (< 2^53). */
  get pa(): number {
    return this.paHi * TWO32 + this.paLo;
  }
  /** Leaf descriptor halves. */
  descHi = 0;
  descLo = 0;
  /** Accumulated table attributes: APTable bits, UXNTable, PXNTable. */
  apTable = 0;
  uxnTable = 0;
  pxnTable = 0;
  /** Effective permissions as a bitmask: 1 pr, 2 pw, 4 px, 8 ur, 16 uw, 32 ux, 64 privileged GCS, 128 EL0 GCS. */
  perms = 0;
  /** PAR_EL1 Overlay/DirtyBit flags of the last Permission fault (0 otherwise). */
  permFlags = 0;
  /** Record each level's descriptor address and value (the trail); hot loops may turn it off. */
  recordTrail = true;
  /** Number of trail entries and their contents. */
  trailLen = 0;
  readonly trailAddr = new Float64Array(6);
  readonly trailHi = new Uint32Array(6);
  readonly trailLo = new Uint32Array(6);
  readonly trailLevel = new Int8Array(6);
  readonly trailBacked = new Uint8Array(6);

  constructor(mem: PhysMem, regs: Regs | WalkContext) {
    this.mem = mem;
    this.ctx = "halves" in regs ? regs : compileRegs(regs);
  }

  /**
   * Walk the VA given as 32-bit halves for an access code (see accessCode). Returns the fault
   * kind (FAULT_NONE on success). Checks run in the Arm ARM's priority order.
   */
  walkRaw(vaHi: number, vaLo: number, acc: number): number {
    const ctx = this.ctx;
    this.trailLen = 0;
    this.permFlags = 0;
    this.apTable = 0;
    this.uxnTable = 0;
    this.pxnTable = 0;
    if (!ctx.mmuOn) return this.flat(vaHi, vaLo);
    const sel = (vaHi >>> 23) & 1;
    const h = ctx.halves[sel] as HalfContext;
    this.half = h;
    // 1. TnSZ out of range: Translation fault, level 0 (ASL AArch64.S1TxSZFaults).
    if (h.tnszFault) return this.fail(FAULT_TRANSLATION, 0, R_TNSZ);
    // 2. Non-canonical VA for the selected range (ASL AArch64.VAIsOutOfRange): level 0.
    const isExec = (acc & 3) === ACC_EXEC;
    const mh = isExec ? h.canonInstHi : h.canonDataHi;
    const ml = isExec ? h.canonInstLo : h.canonDataLo;
    if (sel === 1) {
      if ((vaHi & mh) >>> 0 !== mh || (vaLo & ml) >>> 0 !== ml) return this.fail(FAULT_TRANSLATION, 0, R_NONCANONICAL);
    } else if ((vaHi & mh) !== 0 || (vaLo & ml) !== 0) {
      return this.fail(FAULT_TRANSLATION, 0, R_NONCANONICAL);
    }
    // 3. E0PD: EL0 accesses to this half fault at level 0 (FEAT_E0PD).
    if (h.e0pd && (acc & 4) !== 0) return this.fail(FAULT_TRANSLATION, 0, R_E0PD);
    // 5. EPDn: no walk on a TLB miss, Translation fault level 0.
    if (h.epd) return this.fail(FAULT_TRANSLATION, 0, R_EPD);
    // 6. TTBR base beyond the output address size: Address size fault, level 0.
    if (h.baseFault) return this.fail(FAULT_ADDRESS_SIZE, 0, R_BASE_SIZE);

    const mem = this.mem;
    const tags = mem.cacheTag;
    const arenas = mem.arenas;
    const cArena = mem.cacheArena;
    const cWord = mem.cacheWord;
    const rec = this.recordTrail;
    // The current table as a 4 KiB frame number and a byte offset into it (the start table may be
    // as small as 64 bytes); integer arithmetic, no division, in the loop.
    let pfn = h.basePfn;
    let off = h.baseOff;
    let depth = 0;
    let level = h.startLevel;
    // Hierarchical attributes, bits [62:59] of every table descriptor on the way down, OR-ed
    // (APTable[62:61], UXNTable[60], PXNTable[59]); none when TCR.HPDn=1.
    const tableAttrMask = h.hpd ? 0 : 0x78000000;
    let tableAttrs = 0;
    // Next-table addresses in the plain format (no DS, no 52-bit OA) take the inline path.
    // Stryker disable next-line ConditionalExpression,LogicalOperator,BooleanLiteral: equivalent, both paths compute the same address (hot-path.test.ts checks them against arch addressOf)
    const plainTables = !h.ds && !h.oa52;
    const granuleMask = ~((1 << h.gShift) - 1);
    const paLimitPfn = h.paLimitPfn;
    for (;;) {
      const li = level + 1;
      const sh = h.shiftAt[li] as number;
      const nb = h.bitsAt[li] as number;
      let idx: number;
      // Stryker disable next-line EqualityOperator,ArithmeticOperator: equivalent, no level shift is exactly 32 and JS shift counts are taken mod 32
      if (sh >= 32) idx = (vaHi >>> (sh - 32)) & ((1 << nb) - 1);
      // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, the third form masks off the high-word bits when the index lies in the low word, and no level ends at bit 32
      else if (sh + nb <= 32) idx = (vaLo >>> sh) & ((1 << nb) - 1);
      else idx = ((vaLo >>> sh) | (vaHi << (32 - sh))) & ((1 << nb) - 1);
      const b = off + idx * 8;
      const p = pfn + (b >>> 12);
      const inFrame = b & 4095;
      const t = depth++;
      if (rec) {
        this.trailLen = depth;
        this.trailAddr[t] = p * 4096 + inFrame;
        this.trailLevel[t] = level;
      }
      // Descriptor load, through the memory's direct-mapped frame cache.
      const slot = p & 8191; // FRAME_CACHE_MASK, as a literal for the JIT
      let hi: number;
      let lo: number;
      // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, a frame-cache miss falls back to mem.load64, which reads the same word
      if (tags[slot] === p || mem.fill(p)) {
        const arena = arenas[cArena[slot] as number] as Uint32Array;
        const wi = (cWord[slot] as number) + (inFrame >>> 2);
        lo = arena[wi] as number;
        hi = arena[wi + 1] as number;
      } else if (mem.load64(p * 4096 + inFrame)) {
        hi = mem.hi;
        lo = mem.lo;
      } else {
        if (rec) {
          this.trailBacked[t] = 0;
          this.trailHi[t] = 0;
          this.trailLo[t] = 0;
        }
        return this.fail(FAULT_EXTERNAL_ABORT, level, R_UNBACKED);
      }
      if (rec) {
        this.trailBacked[t] = 1;
        this.trailHi[t] = hi;
        this.trailLo[t] = lo;
      }
      if ((lo & 1) === 0) return this.fail(FAULT_TRANSLATION, level, R_INVALID);
      if ((lo & 2) !== 0 && level < 3) {
        // Table descriptor: next-level table address (ASL AArch64.NextTableBase).
        const next = plainTables ? (hi & 0xffff) * 1048576 + ((lo & granuleMask) >>> 12) : nextTablePfn(h, hi, lo);
        if (next >= paLimitPfn) return this.fail(FAULT_ADDRESS_SIZE, level, R_TABLE_SIZE);
        tableAttrs |= hi & tableAttrMask;
        pfn = next;
        off = 0;
        level++;
        continue;
      }
      if ((lo & 2) === 0) {
        if (level === 3) return this.fail(FAULT_TRANSLATION, level, R_RESERVED_L3);
        if (h.blockAt[li] === 0) return this.fail(FAULT_TRANSLATION, level, R_BLOCK_LEVEL);
      }
      // Leaf (block or page) at `level`.
      const apT = (tableAttrs >>> 29) & 3;
      const uxnT = (tableAttrs >>> 28) & 1;
      const pxnT = (tableAttrs >>> 27) & 1;
      this.level = level;
      this.descHi = hi;
      this.descLo = lo;
      this.apTable = apT;
      this.uxnTable = uxnT;
      this.pxnTable = pxnT;
      // Output address (ASL AArch64.LeafBase) as 32-bit halves.
      let oaHi: number;
      if (h.ds) {
        oaHi = hi & 0x3ffff;
        if (h.oa52) oaHi |= ((lo >>> 8) & 3) << 18;
      } else {
        oaHi = hi & 0xffff;
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, without DS only the 64K granule has a 52-bit OA
        if (h.oa52 && h.gShift === 16) oaHi |= ((lo >>> 12) & 0xf) << 16;
      }
      // With the contiguous bit, the entry is taken to cover the whole aligned group: the OA bits
      // below the group size come from the IA (ASL StageOA with ContiguousSize).
      let span = sh;
      if ((hi & 0x100000) !== 0) span += h.contAt[li] as number;
      let paLo: number;
      let paHi: number;
      // Stryker disable next-line EqualityOperator: equivalent, no leaf or contiguous span is exactly 32 bits
      if (span < 32) {
        const m = 0xffffffff >>> (32 - span);
        paLo = ((lo & ~m) | (vaLo & m)) >>> 0;
        paHi = oaHi;
      } else {
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, span is never 32 here (see above)
        const mh = span === 32 ? 0 : 0xffffffff >>> (64 - span);
        paLo = vaLo >>> 0;
        paHi = ((oaHi & ~mh) | (vaHi & mh)) >>> 0;
      }
      // The size check is on the descriptor's own OA (ASL AArch64.S1Walk: AArch64.OAOutOfRange of
      // LeafBase, the OA bits at and above the entry size), not on the contiguous-group base: an
      // entry of a group that crosses the PA size faults even when the group base is below it.
      if ((oaHi & ~(sh < 32 ? 0 : 0xffffffff >>> (64 - sh))) >>> 0 >= h.paLimitHi) return this.fail(FAULT_ADDRESS_SIZE, level, R_OA_SIZE);
      // Access flag (ASL AArch64.S1CheckAccessFlag... the AF check precedes permissions).
      if ((lo & 0x400) === 0 && !ctx.ha) return this.fail(FAULT_ACCESS_FLAG, level, R_AF);
      // Permissions (walk/permissions.ts: direct or indirect, PAN, overlays, dirty state).
      const word = leafPermissions(ctx, hi, lo, apT, uxnT, pxnT, (acc & 12) === 8);
      this.perms = word & 0xff;
      const want = (acc & 3) + ((acc & 4) !== 0 ? 3 : 0);
      if (((word >>> want) & 1) === 0) {
        // Overlay=1 when the base permission granted the access and the overlay removed it.
        this.permFlags = ((word >>> (want + PERM_OVERLAY_SHIFT)) & 1) !== 0 ? PAR_OVERLAY : 0;
        return this.fail(FAULT_PERMISSION, level, R_PERM);
      }
      // PIE nDirty: a permitted write to a clean page without hardware dirty-state update.
      if ((acc & 3) === ACC_WRITE && (word & PERM_DIRTY) !== 0) {
        this.permFlags = PAR_DIRTY;
        return this.fail(FAULT_PERMISSION, level, R_DIRTY);
      }
      this.paHi = paHi;
      this.paLo = paLo;
      this.fault = FAULT_NONE;
      this.reason = R_OK;
      return FAULT_NONE;
    }
  }

  private flat(vaHi: number, vaLo: number): number {
    this.half = undefined;
    const pa = (vaHi >>> 0) * TWO32 + (vaLo >>> 0);
    const lim = 2 ** this.ctx.features.paBits;
    if (vaHi >>> 0 >= 0x100000 || pa >= lim) return this.fail(FAULT_ADDRESS_SIZE, 0, R_MMU_OFF_SIZE);
    this.paHi = vaHi >>> 0;
    this.paLo = vaLo >>> 0;
    this.level = 0;
    this.perms = 0x3f;
    this.fault = FAULT_NONE;
    this.reason = R_OK;
    return FAULT_NONE;
  }

  private fail(kind: number, level: number, reason: number): number {
    this.fault = kind;
    this.level = level;
    this.reason = reason;
    return kind;
  }

  /** Translate a VA for an access and describe the outcome. */
  translate(va: bigint, access: Access): TranslationResult {
    const v = va & U64_MASK;
    if (va !== v) throw new RangeError(`VA ${va} is not a 64-bit value`);
    const hi = Number(v >> 32n);
    const lo = Number(v & 0xffffffffn);
    const fault = this.walkRaw(hi, lo, accessCode(access));
    return this.describe(v, access, fault);
  }

  /** Build the typed result for the last walkRaw. */
  describe(va: bigint, access: Access, fault: number): TranslationResult {
    const h = this.half;
    const fmt = h?.fmt;
    const trail: TrailEntry[] = [];
    for (let i = 0; i < this.trailLen; i++) {
      const level = this.trailLevel[i] as number;
      const backed = this.trailBacked[i] === 1;
      const value = backed ? (BigInt(this.trailHi[i] as number) << 32n) | BigInt(this.trailLo[i] as number) : undefined;
      trail.push({
        level,
        address: BigInt(this.trailAddr[i] as number),
        value,
        descriptor: value !== undefined && fmt ? decodeDescriptor(value, level, fmt) : undefined,
      });
    }
    const halfIdx = h ? h.index : undefined;
    if (fault !== FAULT_NONE) {
      const kind = FAULT_KINDS[fault] as FaultKind;
      const fsc = faultStatusCode(kind, this.level);
      return {
        kind: "fault",
        va,
        access,
        half: halfIdx,
        trail,
        fault: kind,
        level: this.level,
        fsc,
        reason: REASONS[this.reason] ?? "fault",
        // AT reports faults in PAR: F=1, FST, bit 11 RES1. External aborts on the walk are taken
        // as exceptions instead (Arm ARM PAR_EL1; QEMU do_ats_write).
        par: kind === "external-abort" || access.type === "exec" ? null : BigInt(this.permFlags) | (1n << 11n) | (BigInt(fsc) << 1n) | 1n,
      };
    }
    const p = this.perms;
    const permissions: Permissions = {
      pr: (p & 1) !== 0,
      pw: (p & 2) !== 0,
      px: (p & 4) !== 0,
      ur: (p & 8) !== 0,
      uw: (p & 16) !== 0,
      ux: (p & 32) !== 0,
      pgcs: (p & 64) !== 0,
      ugcs: (p & 128) !== 0,
    };
    const pa = BigInt(this.pa);
    if (!h) {
      // MMU off: flat mapping, Device-nGnRnE for data (Arm ARM D8.2.11 "The effects of disabling
      // a stage of address translation").
      const memAttr = decodeMairAttr(0);
      return {
        kind: "ok",
        va,
        access,
        half: undefined,
        trail,
        pa,
        level: 0,
        blockSize: 0,
        leafKind: "flat",
        descriptor: undefined,
        attrIndx: 0,
        mairByte: 0,
        memAttr,
        shareability: "outer",
        permissions,
        contiguous: false,
        nG: false,
        af: true,
        dbm: false,
        apTable: 0,
        uxnTable: false,
        pxnTable: false,
        par: access.type === "exec" ? null : (pa & 0x000f_ffff_ffff_f000n) | (1n << 9n) | (2n << 7n) | (1n << 11n),
      };
    }
    const hi = this.descHi;
    const lo = this.descLo;
    const raw = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    const level = this.level;
    const descriptor = fmt ? decodeDescriptor(raw, level, fmt) : undefined;
    const attrIndx = (lo >>> 2) & 7;
    const byte = this.ctx.mair[attrIndx] as number;
    const shBits = h.ds ? h.walkSh : (lo >>> 8) & 3;
    const parSh = parForcesOuterShareable(byte) ? 2 : shBits;
    // PAR_EL1.NS reports the output physical address space: this model walks the Non-secure
    // EL1&0 regime, whose output is always Non-secure (descriptor NS is RES0/ignored there).
    const ns = 1;
    const par =
      access.type === "exec"
        ? null
        : (BigInt(parAttrByte(byte)) << 56n) | (pa & 0x000f_ffff_ffff_f000n) | (1n << 11n) | (BigInt(ns) << 9n) | (BigInt(parSh) << 7n);
    return {
      kind: "ok",
      va,
      access,
      half: h.index,
      trail,
      pa,
      level,
      blockSize: 2 ** (h.shiftAt[level + 1] as number),
      leafKind: level === 3 ? "page" : "block",
      descriptor,
      attrIndx,
      mairByte: byte,
      memAttr: decodeMairAttr(byte),
      shareability: SH_NAMES[shBits] as Shareability,
      permissions,
      contiguous: (hi & 0x100000) !== 0,
      nG: (lo & 0x800) !== 0,
      af: (lo & 0x400) !== 0,
      dbm: (hi & 0x80000) !== 0,
      apTable: this.apTable,
      uxnTable: this.uxnTable !== 0,
      pxnTable: this.pxnTable !== 0,
      par,
    };
  }
}

/** One-shot translation (compiles the registers each call; use Walker for many addresses). */
export function translate(mem: PhysMem, regs: Regs, va: bigint, access: Access): TranslationResult {
  return new Walker(mem, regs).translate(va, access);
}
