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
import { permField, piIndexOf } from "../arch/pie.js";
import type { Regs } from "../arch/registers.js";
import { U64_MASK } from "../arch/u64.js";
import { FRAME_CACHE_MASK, type PhysMem } from "../mem/physmem.js";

// Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: a load-time guard on another module's constant, not a rule
if (FRAME_CACHE_MASK !== 8191) throw new Error("walker.ts assumes an 8192-slot frame cache");

import { combineS1S2, decodeS2MemAttr, type S2MemAttr, type ShareDomain, shareDomainOf } from "../arch/stage2-memattr.js";
import {
  compileRegs,
  type HalfContext,
  PLAN_BITS_SHIFT,
  PLAN_BLOCK,
  PLAN_CONT_SHIFT,
  TWO32,
  W_BASE_OFF,
  W_CANON_DATA,
  W_CANON_INST,
  W_FLAGS,
  W_GRANULE_MASK,
  W_LEVELS,
  W_PA_LIMIT_HI,
  W_START,
  type WalkContext,
  WF_BASE,
  WF_DS,
  WF_E0PD,
  WF_EPD,
  WF_HPD,
  WF_OA52,
  WF_OA52_64K,
  WF_TNSZ,
} from "./context.js";
import { directPermissions, nextTablePfn } from "./fields.js";
import { leafPermissions, PERM_DIRTY, PERM_OVERLAY_SHIFT, panDirect } from "./permissions.js";

/** PAR_EL1 bits of a Permission fault (FEAT_S1POE Overlay[14], FEAT_S1PIE DirtyBit[15]). */
export const PAR_OVERLAY = 1 << 14;
export const PAR_DIRTY = 1 << 15;

import { compileStage2, describeStage2, S2_TTW, type Stage2Access, type Stage2Result, stage2AccessCode } from "./stage2.js";

export type AccessType = "read" | "write" | "exec";

interface AccessCommon {
  readonly el: 0 | 1;
  /** PSTATE.PAN is set and applies (ordinary EL1 loads/stores, AT S1E1RP/WP); not AT S1E1R/W. */
  readonly pan?: boolean;
}

/**
 * An access to translate: an ordinary data read/write or instruction fetch, or (FEAT_GCS) a
 * Guarded Control Stack data access, AccessType_GCS: a GCS push/pop/load/store, or the implicit
 * GCS accesses of BL/RET with GCS enabled. A GCS access is checked against the page's GCS
 * permission only (PIR value 0b1001, which grants no ordinary write), not against R/W nor the
 * permission overlay, and a GCS write to a clean page (PIE nDirty=1) without hardware dirty-state
 * update is a dirty-state Permission fault (ASL AArch64.S1CheckPermissions). Without PIE no page
 * grants GCS access. Stage 2 sees it as the read or write it is (ASL AArch64.S2CheckPermissions).
 * AT has no GCS form: the result's PAR is null.
 */
export type Access =
  | (AccessCommon & { readonly type: AccessType; readonly gcs?: false })
  | (AccessCommon & { readonly type: "read" | "write"; readonly gcs: true });

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

/** Guarded Control Stack data accesses (FEAT_GCS), as accesses. */
export const GCS_ACCESSES = {
  EL1_READ: { type: "read", el: 1, gcs: true },
  EL1_WRITE: { type: "write", el: 1, gcs: true },
  EL0_READ: { type: "read", el: 0, gcs: true },
  EL0_WRITE: { type: "write", el: 0, gcs: true },
} as const satisfies Record<string, Access>;

// walkRaw reads these module constants instead of the imported bindings: an import is a live
// binding the JIT loads and checks for initialisation at every use, a module constant is folded.
const K_FAULT_NONE = FAULT_NONE;
const K_FAULT_TRANSLATION = FAULT_TRANSLATION;
const K_FAULT_ADDRESS_SIZE = FAULT_ADDRESS_SIZE;
const K_FAULT_ACCESS_FLAG = FAULT_ACCESS_FLAG;
const K_FAULT_PERMISSION = FAULT_PERMISSION;
const K_S2_TTW = S2_TTW;
const K_PERM_DIRTY = PERM_DIRTY;
const K_PERM_OVERLAY_SHIFT = PERM_OVERLAY_SHIFT;
const K_PLAN_BITS_SHIFT = PLAN_BITS_SHIFT;
const K_PLAN_BLOCK = PLAN_BLOCK;
const K_PLAN_CONT_SHIFT = PLAN_CONT_SHIFT;
// Module-local copies of the imported rule functions the hot path calls: a call through a
// constant needs no check that the import binding still holds the function it was inlined from.
const K_directPermissions = directPermissions;
const K_panDirect = panDirect;
/** A frame-cache tag array no frame number matches: walkRaw's tags for two-stage walks. */
const NEVER_CACHED = new Float64Array(FRAME_CACHE_MASK + 1).fill(-1);
const K_W_FLAGS = W_FLAGS;
const K_W_CANON_DATA = W_CANON_DATA;
const K_W_CANON_INST = W_CANON_INST;
const K_W_BASE_OFF = W_BASE_OFF;
const K_W_START = W_START;
const K_W_GRANULE_MASK = W_GRANULE_MASK;
const K_W_PA_LIMIT_HI = W_PA_LIMIT_HI;
const K_W_LEVELS = W_LEVELS;
const K_WF_TNSZ = WF_TNSZ;
const K_WF_E0PD = WF_E0PD;
const K_WF_EPD = WF_EPD;
const K_WF_BASE = WF_BASE;
const K_WF_HPD = WF_HPD;
const K_WF_DS = WF_DS;
const K_WF_OA52 = WF_OA52;
const K_WF_OA52_64K = WF_OA52_64K;

const ACC_READ = 0;
const ACC_WRITE = 1;
const ACC_EXEC = 2;
/** Access-code bit of a GCS access (bits 0-1 still say read or write, bit 2 EL0, bit 3 PAN). */
export const ACC_GCS = 32;

export function accessCode(a: Access): number {
  return (
    (a.type === "read" ? ACC_READ : a.type === "write" ? ACC_WRITE : ACC_EXEC) |
    (a.el === 0 ? 4 : 0) |
    (a.pan ? 8 : 0) |
    (a.gcs ? ACC_GCS : 0)
  );
}

/**
 * The permission-word bit (permissions.ts) an access code needs, indexed by the code's type, EL0
 * and GCS bits (acc & 0x27): pr/pw/px or ur/uw/ux, privileged or unprivileged GCS.
 */
const WANT_BIT = Uint8Array.from(
  { length: 0x28 },
  (_, a) => ((a & ACC_GCS) !== 0 ? 6 : a & 3) + ((a & 4) !== 0 ? ((a & ACC_GCS) !== 0 ? 1 : 3) : 0),
);

/** The permission-word bit an access code needs (see WANT_BIT). */
export function wantedPermBit(acc: number): number {
  return WANT_BIT[acc & 0x27] as number;
}

export interface TrailEntry {
  readonly level: number;
  /** Physical address of the descriptor. */
  readonly address: bigint;
  /** Descriptor value (undefined when the address was unbacked). */
  readonly value: bigint | undefined;
  readonly descriptor: Descriptor | undefined;
  /** Two-stage walks: the IPA the descriptor address had before stage 2 translated it. */
  readonly ipa?: bigint;
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
  /** With permission indirection (TCR2_EL1.PIE): the leaf's PIIndex and the PIR_EL1 / PIRE0_EL1 values it selects. */
  readonly indirection?: { readonly piIndex: number; readonly pir: number; readonly pire0: number };
  /** Two-stage walks: the stage-1 output (IPA), stage 2's translation of it and the combined attributes. */
  readonly stage2?: Stage2Outcome;
}

/** What stage 2 made of the final IPA of a successful two-stage walk. */
export interface Stage2Outcome {
  readonly ipa: bigint;
  readonly result: Extract<Stage2Result, { kind: "ok" }>;
  /** Stage-2 memory type after HCR_EL2.CD/ID overrides. */
  readonly memType: S2MemAttr;
  /** Stage-1 attributes fed to the combination (MAIR byte; Device-nGnRnE or, with HCR_EL2.DC, Normal WB when stage 1 is off). */
  readonly s1Attr: number;
  readonly s1Sh: ShareDomain;
  /** Combined attributes (MAIR/PAR.ATTR encoding) and shareability; undefined when an input is a reserved encoding. */
  readonly attr: number | undefined;
  readonly sh: ShareDomain | undefined;
}

export interface TranslationFault extends ResultCommon {
  readonly kind: "fault";
  readonly fault: FaultKind;
  readonly level: number;
  /** 6-bit fault status code (PAR_EL1.FST / ESR.DFSC). */
  readonly fsc: number;
  /** Why, in words. */
  readonly reason: string;
  /** Two-stage walks: the stage that faulted (PAR_EL1.S), and whether stage 2 faulted on a stage-1 table read (PAR_EL1.PTW). */
  readonly stage?: 1 | 2;
  readonly s1ptw?: boolean;
  /** The IPA stage 2 was translating when it faulted. */
  readonly ipa?: bigint;
  readonly stage2?: Stage2Result;
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
export const R_STAGE2 = 16;
export const R_PTW_DEVICE = 17;
export const R_GCS = 18;

// walkRaw reads module-local copies (exported bindings are cells the JIT must load and check).
const K_R_AF = R_AF;
const K_R_BLOCK_LEVEL = R_BLOCK_LEVEL;
const K_R_DIRTY = R_DIRTY;
const K_R_INVALID = R_INVALID;
const K_R_NONCANONICAL = R_NONCANONICAL;
const K_R_OA_SIZE = R_OA_SIZE;
const K_R_OK = R_OK;
const K_R_PERM = R_PERM;
const K_R_PTW_DEVICE = R_PTW_DEVICE;
const K_R_RESERVED_L3 = R_RESERVED_L3;
const K_R_TABLE_SIZE = R_TABLE_SIZE;
const K_R_TNSZ = R_TNSZ;
const K_R_GCS = R_GCS;

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
  "stage-2 fault",
  "stage-1 table read from stage-2 Device memory with HCR_EL2.PTW=1",
  "GCS access to a page without GCS permission (PIR/PIRE0 value 0b1001 under PIE only)",
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
  /** TTBR half the last walk used (an index into ctx.halves; -1 when the MMU is off). */
  halfIndex = -1;
  /** The HalfContext of that half (undefined when the MMU is off). */
  get half(): HalfContext | undefined {
    return this.halfIndex < 0 ? undefined : this.ctx.halves[this.halfIndex];
  }
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
  /**
   * Accumulated table attributes as table descriptor bits [62:59] of the high half (APTable[62:61],
   * UXNTable[60], PXNTable[59]), OR-ed on the way down; read them as apTable/uxnTable/pxnTable.
   */
  tableAttrs = 0;
  /** APTable bits of the last leaf's tables. */
  get apTable(): number {
    return (this.tableAttrs >>> 29) & 3;
  }
  /** UXNTable (1) of the last leaf's tables. */
  get uxnTable(): number {
    return (this.tableAttrs >>> 28) & 1;
  }
  /** PXNTable (1) of the last leaf's tables. */
  get pxnTable(): number {
    return (this.tableAttrs >>> 27) & 1;
  }
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
  /** Two-stage walks: each trail entry's descriptor address as an IPA (before stage 2). */
  readonly trailIpa = new Float64Array(6);
  /** Stage 2 of a two-stage walk (HCR_EL2.VM or DC), else null. */
  readonly s2: Walker | null;
  /** Where stage 2 stopped the last walk: 0 it did not, 1 on a stage-1 table read, 2 on the final IPA. */
  s2Fault = 0;
  /** Two-stage walks: the IPA stage 2 translated last (the final IPA, or the faulting table address). */
  ipaHi = 0;
  ipaLo = 0;
  /** The descriptor readSlow read. */
  private readHi = 0;
  private readLo = 0;

  constructor(mem: PhysMem, regs: Regs | WalkContext) {
    this.mem = mem;
    this.ctx = "halves" in regs ? regs : compileRegs(regs);
    const c = this.ctx;
    this.s2 = c.twoStage
      ? new Walker(
          mem,
          compileStage2(
            { hcr: c.hcr.raw, vtcr: c.regs.vtcr ?? 0n, vttbr: c.regs.vttbr ?? 0n, s2pir: c.regs.s2pir, s2por: c.regs.s2por },
            c.features,
          ),
        )
      : null;
  }

  /**
   * Walk the VA given as 32-bit halves for an access code (see accessCode). Returns the fault
   * kind (FAULT_NONE on success). Checks run in the Arm ARM's priority order.
   */
  walkRaw(vaHi: number, vaLo: number, acc: number): number {
    const ctx = this.ctx;
    this.trailLen = 0;
    this.permFlags = 0;
    this.tableAttrs = 0;
    this.s2Fault = 0;
    const s2 = this.s2;
    // Context flags are compared with `true`: the JIT does not know a field holds a boolean, and a
    // bare `if (flag)` compiles to a full truthiness test (walk-4k-random: ~2% of the walk).
    if (ctx.mmuOn !== true) {
      const f = this.flat(vaHi, vaLo, (acc & 3) === ACC_EXEC);
      return f !== K_FAULT_NONE || s2 === null ? f : this.finalStage2(s2, acc);
    }
    // The VA halves as int32 (the walk extracts bits; no tagged or double values).
    const vHi = vaHi | 0;
    const vLo = vaLo | 0;
    const sel = (vHi >>> 23) & 1;
    const h = ctx.halves[sel] as HalfContext;
    this.halfIndex = sel;
    // What the walk reads of the half, as int32 words (context.ts walkPlanOf).
    const plan = h.walkPlan;
    const flags = plan[K_W_FLAGS] as number;
    // 1. TnSZ out of range: Translation fault, level 0 (ASL AArch64.S1TxSZFaults).
    if ((flags & K_WF_TNSZ) !== 0) return this.fail(K_FAULT_TRANSLATION, 0, K_R_TNSZ);
    // 2. Non-canonical VA for the selected range (ASL AArch64.VAIsOutOfRange): level 0. The bits
    // under the mask must all equal the range select bit: VA ^ -sel clears them when they do.
    const cw = (acc & 3) === ACC_EXEC ? K_W_CANON_INST : K_W_CANON_DATA;
    const ones = -sel;
    if (((vHi ^ ones) & (plan[cw] as number)) !== 0 || ((vLo ^ ones) & (plan[cw + 1] as number)) !== 0) {
      return this.fail(K_FAULT_TRANSLATION, 0, K_R_NONCANONICAL);
    }
    // 3-6. E0PD (EL0 accesses), EPDn, the TTBR base beyond the output address size.
    if ((flags & (K_WF_E0PD | K_WF_EPD | K_WF_BASE)) !== 0 && this.levelZeroFault(flags, acc) !== K_FAULT_NONE) return this.fault;

    const mem = this.mem;
    // Two-stage walks translate each descriptor address through stage 2 first: their tags never
    // match, every descriptor is read by readSlow.
    const tags = s2 === null ? mem.cacheTag : NEVER_CACHED;
    const rec = this.recordTrail;
    const cFrame = mem.cacheFrame;
    const cWord = mem.cacheWord;
    // The current table as a 4 KiB frame number and a byte offset into it (the start table may be
    // as small as 64 bytes); integer arithmetic, no division, in the loop.
    let pfn = h.basePfn;
    let off = plan[K_W_BASE_OFF] as number;
    let level = plan[K_W_START] as number;
    const start = level;
    // Hierarchical attributes, bits [62:59] of every table descriptor on the way down, OR-ed
    // (APTable[62:61], UXNTable[60], PXNTable[59]); none when TCR.HPDn=1. The loop ORs whole
    // high halves; the leaf keeps bits [30:27] unless HPD.
    let tableAttrs = 0;
    // Next-table addresses in the plain format (no DS, no 52-bit OA) take the inline path.
    // Stryker disable next-line ConditionalExpression,LogicalOperator,BooleanLiteral: equivalent, both paths compute the same address (hot-path.test.ts checks them against arch addressOf)
    const plainTables = (flags & (K_WF_DS | K_WF_OA52)) === 0;
    const granuleMask = plan[K_W_GRANULE_MASK] as number;
    // 2^(paBits-32): PA sizes are 32 bits or more, so an address is beyond the PA size exactly
    // when its high half is at or above this.
    const paLimitHi = plan[K_W_PA_LIMIT_HI] as number;
    for (;;) {
      // This level's geometry, packed (context.ts walkPlanOf).
      const lp = plan[(K_W_LEVELS + 1 + level) | 0] as number;
      const sh = lp & 63;
      const nb = (lp >>> K_PLAN_BITS_SHIFT) & 63;
      let idx: number;
      // Stryker disable next-line EqualityOperator,ArithmeticOperator: equivalent, no level shift is exactly 32 and JS shift counts are taken mod 32
      if (sh >= 32) idx = (vHi >>> (sh - 32)) & ((1 << nb) - 1);
      // Bits [sh+nb-1:sh] of the VA, across the halves when they straddle bit 32 (the mask drops
      // the high half's bits when they do not; sh is at least 12, so 32 - sh is a real shift).
      else idx = ((vLo >>> sh) | (vHi << (32 - sh))) & ((1 << nb) - 1);
      const b = off + idx * 8;
      const p = pfn + (b >>> 12);
      const inFrame = b & 4095;
      // Descriptor load, through the memory's direct-mapped frame cache. Everything else (stage 2
      // translating the descriptor address, a frame-cache miss, unbacked memory) is readSlow, one
      // out-of-line call: each call site in this loop costs the hit path spills.
      const slot = p & 8191; // FRAME_CACHE_MASK, as a literal for the JIT
      let hi: number;
      let lo: number;
      // Stryker disable next-line ConditionalExpression: equivalent, a frame-cache miss is read by readSlow, which reads the same word
      if (tags[slot] === p) {
        const arena = cFrame[slot] as Uint32Array;
        const wi = (cWord[slot] as number) + (inFrame >>> 2);
        lo = arena[wi] as number;
        hi = arena[wi + 1] as number;
        if (rec === true) this.recordLevel(level - start, level, p * 4096 + inFrame, hi, lo);
      } else {
        const f = this.readSlow(s2, p, inFrame, level - start, level);
        if (f !== K_FAULT_NONE) return f;
        hi = this.readHi;
        lo = this.readLo;
      }
      if ((lo & 1) === 0) return this.fail(K_FAULT_TRANSLATION, level, K_R_INVALID);
      if ((lo & 2) !== 0 && level < 3) {
        // Table descriptor: next-level table address (ASL AArch64.NextTableBase).
        let next: number;
        if (plainTables) {
          // OA[47:12] is the high half's bits [15:0] and the low half's bits [31:12].
          if ((hi & 0xffff) >= paLimitHi) return this.fail(K_FAULT_ADDRESS_SIZE, level, K_R_TABLE_SIZE);
          next = (hi & 0xffff) * 1048576 + ((lo & granuleMask) >>> 12);
        } else {
          next = nextTablePfn(h, hi, lo);
          if (next >= h.paLimitPfn) return this.fail(K_FAULT_ADDRESS_SIZE, level, K_R_TABLE_SIZE);
        }
        tableAttrs |= hi;
        pfn = next;
        off = 0;
        level = (level + 1) | 0;
        continue;
      }
      if ((lo & 2) === 0) {
        if (level === 3) return this.fail(K_FAULT_TRANSLATION, level, K_R_RESERVED_L3);
        if ((lp & K_PLAN_BLOCK) === 0) return this.fail(K_FAULT_TRANSLATION, level, K_R_BLOCK_LEVEL);
      }
      // Leaf (block or page) at `level`.
      tableAttrs &= (flags & K_WF_HPD) !== 0 ? 0 : 0x78000000;
      const apT = (tableAttrs >>> 29) & 3;
      const uxnT = (tableAttrs >>> 28) & 1;
      const pxnT = (tableAttrs >>> 27) & 1;
      this.level = level;
      this.descHi = hi;
      this.descLo = lo;
      this.tableAttrs = tableAttrs;
      // Output address (ASL AArch64.LeafBase) as 32-bit halves.
      let oaHi: number;
      if ((flags & K_WF_DS) !== 0) {
        oaHi = hi & 0x3ffff;
        if ((flags & K_WF_OA52) !== 0) oaHi |= ((lo >>> 8) & 3) << 18;
      } else {
        oaHi = hi & 0xffff;
        // Without DS only the 64K granule has a 52-bit OA.
        if ((flags & K_WF_OA52_64K) !== 0) oaHi |= ((lo >>> 12) & 0xf) << 16;
      }
      // With the contiguous bit, the entry is taken to cover the whole aligned group: the OA bits
      // below the group size come from the IA (ASL StageOA with ContiguousSize).
      let span = sh;
      if ((hi & 0x100000) !== 0) span += (lp >>> K_PLAN_CONT_SHIFT) & 15;
      let paLo: number;
      let paHi: number;
      // Stryker disable next-line EqualityOperator: equivalent, no leaf or contiguous span is exactly 32 bits
      if (span < 32) {
        const m = 0xffffffff >>> (32 - span);
        paLo = ((lo & ~m) | (vLo & m)) >>> 0;
        paHi = oaHi;
      } else {
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, span is never 32 here (see above)
        const mh = span === 32 ? 0 : 0xffffffff >>> (64 - span);
        paLo = vLo >>> 0;
        paHi = ((oaHi & ~mh) | (vHi & mh)) >>> 0;
      }
      // The size check is on the descriptor's own OA (ASL AArch64.S1Walk: AArch64.OAOutOfRange of
      // LeafBase, the OA bits at and above the entry size), not on the contiguous-group base: an
      // entry of a group that crosses the PA size faults even when the group base is below it.
      if ((oaHi & ~(sh < 32 ? 0 : 0xffffffff >>> (64 - sh))) >>> 0 >= paLimitHi) return this.fail(K_FAULT_ADDRESS_SIZE, level, K_R_OA_SIZE);
      // Access flag (ASL AArch64.S1CheckAccessFlag... the AF check precedes permissions).
      if ((lo & 0x400) === 0 && ctx.ha !== true) return this.fail(K_FAULT_ACCESS_FLAG, level, K_R_AF);
      // Stage 2 only (acc K_S2_TTW): with HCR_EL2.PTW a stage-1 table read from stage-2 Device memory
      // (MemAttr 00xx, or 0xx with FWB) is a Permission fault before S2AP is looked at (ASL AArch64.S2CheckPermissions).
      if (acc >= K_S2_TTW && ctx.s2?.ptw && (lo & (ctx.s2.fwb ? 0x10 : 0x30)) === 0) {
        // An S2POE overlay that denies the read is checked first: the same fault, reported with Overlay=1.
        if (ctx.poe && ((leafPermissions(ctx, hi, lo, 0, 0, 0, false) >>> K_PERM_OVERLAY_SHIFT) & 1) !== 0) this.permFlags = PAR_OVERLAY;
        return this.fail(K_FAULT_PERMISSION, level, K_R_PTW_DEVICE);
      }
      // Permissions (walk/permissions.ts: direct or indirect, PAN, overlays, dirty state) of the
      // EL1&0 stage 1 (the hot case); the EL2 regime and stage 2 have their own models (fields.ts).
      // The plain case (ctx.plainPerms: EL1&0 direct permissions, no PIE, no overlays) calls the
      // two small rule functions itself so the JIT inlines them within its budget; leafPermissions
      // applies the same two for it (bench walk-4k-random: 8% of the walk went into the dispatch).
      let word: number;
      if (ctx.plainPerms === true) {
        word = K_directPermissions(ctx, hi, lo, apT, uxnT, pxnT);
        if ((acc & 12) === 8) word = K_panDirect(ctx, word);
      } else word = leafPermissions(ctx, hi, lo, apT, uxnT, pxnT, (acc & 12) === 8);
      this.perms = word & 0xff;
      const want = WANT_BIT[acc & 0x27] as number;
      if (((word >>> want) & 1) === 0) {
        // Overlay=1 when the overlay denies the access (checked before the base permission).
        this.permFlags = ((word >>> (want + K_PERM_OVERLAY_SHIFT)) & 1) !== 0 ? PAR_OVERLAY : 0;
        return this.fail(K_FAULT_PERMISSION, level, (acc & ACC_GCS) !== 0 ? K_R_GCS : K_R_PERM);
      }
      // PIE nDirty: a permitted write to a clean page without hardware dirty-state update.
      if ((acc & 3) === ACC_WRITE && (word & K_PERM_DIRTY) !== 0) {
        this.permFlags = PAR_DIRTY;
        return this.fail(K_FAULT_PERMISSION, level, K_R_DIRTY);
      }
      this.paHi = paHi;
      this.paLo = paLo;
      if (s2 !== null) return this.finalStage2(s2, acc);
      this.fault = K_FAULT_NONE;
      this.reason = K_R_OK;
      return K_FAULT_NONE;
    }
  }

  /**
   * The level-0 faults after the canonical check, in the Arm ARM's priority order, for a half
   * whose walkPlan flags have one of them: E0PD for EL0 accesses (FEAT_E0PD), EPDn (no walk on a
   * TLB miss), the TTBR base beyond the output address size. Returns the fault or FAULT_NONE.
   */
  private levelZeroFault(flags: number, acc: number): number {
    // 3. E0PD: EL0 accesses to this half fault at level 0.
    if ((flags & WF_E0PD) !== 0 && (acc & 4) !== 0) return this.fail(FAULT_TRANSLATION, 0, R_E0PD);
    // 5. EPDn: Translation fault, level 0.
    if ((flags & WF_EPD) !== 0) return this.fail(FAULT_TRANSLATION, 0, R_EPD);
    // 6. Address size fault, level 0.
    if ((flags & WF_BASE) !== 0) return this.fail(FAULT_ADDRESS_SIZE, 0, R_BASE_SIZE);
    return FAULT_NONE;
  }

  /** A trail entry: descriptor `depth` (levels below the start level) at byte address `addr`, read as `hi`:`lo`. */
  private recordLevel(depth: number, level: number, addr: number, hi: number, lo: number): void {
    this.trailLen = depth + 1;
    this.trailAddr[depth] = addr;
    this.trailLevel[depth] = level;
    this.trailBacked[depth] = 1;
    this.trailHi[depth] = hi;
    this.trailLo[depth] = lo;
  }

  /**
   * walkRaw's descriptor read off the fast path: the descriptor at frame `p` offset `inFrame` (an
   * IPA when `s2` is set) into readHi/readLo. Returns FAULT_NONE, or the fault (already recorded).
   */
  private readSlow(s2: Walker | null, p: number, inFrame: number, depth: number, level: number): number {
    const rec = this.recordTrail;
    let pa = p * 4096 + inFrame;
    if (s2 !== null) {
      // Two stages: the descriptor address is an IPA, translated by stage 2 before the read
      // (ASL AArch64.S1Walk); a stage-2 fault there is reported with PAR_EL1.S=1, PTW=1.
      const iHi = Math.floor(p / 1048576);
      const iLo = (p % 1048576) * 4096 + inFrame;
      if (rec) this.trailIpa[depth] = pa;
      if (s2.walkRaw(iHi, iLo, S2_TTW) !== FAULT_NONE) return this.failStage2(s2, 1, iHi, iLo);
      pa = s2.paHi * TWO32 + s2.paLo;
    }
    const mem = this.mem;
    if (mem.load64(pa)) {
      this.readHi = mem.hi;
      this.readLo = mem.lo;
      if (rec) this.recordLevel(depth, level, pa, mem.hi, mem.lo);
      return FAULT_NONE;
    }
    if (rec) {
      this.recordLevel(depth, level, pa, 0, 0);
      this.trailBacked[depth] = 0;
    }
    return this.fail(FAULT_EXTERNAL_ABORT, level, R_UNBACKED);
  }

  /** Stage 2 of the final IPA (in paHi/paLo) of a two-stage walk (ASL AArch64.FullTranslate). */
  private finalStage2(s2: Walker, acc: number): number {
    const iHi = this.paHi;
    const iLo = this.paLo;
    this.ipaHi = iHi;
    this.ipaLo = iLo;
    if (s2.walkRaw(iHi, iLo, acc & 7) !== FAULT_NONE) return this.failStage2(s2, 2, iHi, iLo);
    this.paHi = s2.paHi;
    this.paLo = s2.paLo;
    this.fault = FAULT_NONE;
    this.reason = R_OK;
    return FAULT_NONE;
  }

  private failStage2(s2: Walker, where: number, iHi: number, iLo: number): number {
    this.s2Fault = where;
    this.ipaHi = iHi;
    this.ipaLo = iLo;
    return this.fail(s2.fault, s2.level, R_STAGE2);
  }

  /**
   * Stage 1 disabled: the output address is the VA. The address-size check covers VA bits
   * [AddrTop:PAMax], where AddrTop is 55 when the top byte is ignored for this access (TCR.TBIn of
   * the range VA[55] selects; TBIDn excludes instruction fetches) and 63 otherwise (ASL
   * AArch64.S1DisabledOutput with AArch64.AddrTop; Arm ARM D8.2.11). So with TBI a tagged
   * pointer is not an Address size fault and its tag is not part of the PA.
   */
  private flat(vaHi: number, vaLo: number, isExec: boolean): number {
    this.halfIndex = -1;
    const h = this.ctx.halves[(vaHi >>> 23) & 1] as HalfContext;
    const ignoreTop = h.tcr.tbi && !(isExec && h.tcr.tbid);
    const hi = ignoreTop ? (vaHi & 0x00ffffff) >>> 0 : vaHi >>> 0;
    const pa = hi * TWO32 + (vaLo >>> 0);
    const lim = 2 ** this.ctx.features.paBits;
    if (hi >= 0x100000 || pa >= lim) return this.fail(FAULT_ADDRESS_SIZE, 0, R_MMU_OFF_SIZE);
    this.paHi = hi;
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

  /** A stage-2 walker (compileStage2 context): translate one IPA and describe the outcome. */
  translateIpa(ipa: bigint, access: Stage2Access): Stage2Result {
    if (!this.ctx.s2) throw new Error("translateIpa needs a stage-2 walk context (compileStage2)");
    const v = ipa & U64_MASK;
    if (ipa !== v) throw new RangeError(`IPA ${ipa} is not a 64-bit value`);
    this.walkRaw(Number(v >> 32n), Number(v & 0xffffffffn), stage2AccessCode(access));
    return describeStage2(this, v);
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
      const entry: TrailEntry = {
        level,
        address: BigInt(this.trailAddr[i] as number),
        value,
        descriptor: value !== undefined && fmt ? decodeDescriptor(value, level, fmt) : undefined,
      };
      trail.push(this.s2 ? { ...entry, ipa: BigInt(this.trailIpa[i] as number) } : entry);
    }
    const halfIdx = h ? h.index : undefined;
    if (fault !== FAULT_NONE && this.s2Fault !== 0 && this.s2) {
      // A stage-2 fault (ASL AArch64.EncodePAR with fault.secondstage, fault.s2fs1walk): PAR_EL1.S=1,
      // PTW=1 when it was a stage-1 table read, FST the stage-2 fault at the stage-2 level.
      const kind = FAULT_KINDS[fault] as FaultKind;
      const fsc = faultStatusCode(kind, this.level);
      const ipa = BigInt(this.ipaHi) * 4294967296n + BigInt(this.ipaLo);
      const ptw = this.s2Fault === 1;
      const s2r = describeStage2(this.s2, ipa);
      return {
        kind: "fault",
        va,
        access,
        half: halfIdx,
        trail,
        fault: kind,
        level: this.level,
        fsc,
        reason: `stage 2, ${ptw ? `stage-1 table read at IPA 0x${ipa.toString(16)}` : `IPA 0x${ipa.toString(16)}`}: ${s2r.kind === "fault" ? s2r.reason : "fault"}`,
        par:
          kind === "external-abort" || access.type === "exec" || access.gcs
            ? null
            : BigInt(this.s2.permFlags) | (1n << 11n) | (1n << 9n) | (ptw ? 1n << 8n : 0n) | (BigInt(fsc) << 1n) | 1n,
        stage: 2,
        s1ptw: ptw,
        ipa,
        stage2: s2r,
      };
    }
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
        par:
          kind === "external-abort" || access.type === "exec" || access.gcs
            ? null
            : BigInt(this.permFlags) | (1n << 11n) | (BigInt(fsc) << 1n) | 1n,
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
      // a stage of address translation"); with HCR_EL2.DC, Normal WB RWA Non-shareable.
      const dc = this.ctx.hcr.dc;
      const memAttr = decodeMairAttr(dc ? 0xff : 0);
      const s2o = this.s2 ? this.stage2Outcome(dc ? 0xff : 0, dc ? "NSH" : "OSH", access) : undefined;
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
        mairByte: s2o && dc ? 0xff : 0,
        memAttr,
        shareability: s2o && dc ? "non-shareable" : "outer",
        permissions,
        contiguous: false,
        nG: false,
        af: true,
        dbm: false,
        apTable: 0,
        uxnTable: false,
        pxnTable: false,
        // Without stage 2, PAR holds the PA, NS=1 (bit 9), SH=0b10 Outer, bit 11 RES1 and ATTR 0x00.
        par:
          access.type === "exec" || access.gcs
            ? null
            : s2o
              ? stage2Par(pa, s2o)
              : (pa & 0x000f_ffff_ffff_f000n) | (1n << 9n) | (2n << 7n) | (1n << 11n),
        ...(s2o ? { stage2: s2o } : {}),
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
    const s2o = this.s2 ? this.stage2Outcome(byte, shareDomainOf(shBits) ?? "NSH", access) : undefined;
    const par =
      access.type === "exec" || access.gcs
        ? null
        : s2o
          ? stage2Par(pa, s2o)
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
      ...(s2o ? { stage2: s2o } : {}),
      ...(this.ctx.pie ? { indirection: this.indirection(hi, lo) } : {}),
    };
  }

  private indirection(hi: number, lo: number): { piIndex: number; pir: number; pire0: number } {
    const c = this.ctx;
    const piIndex = piIndexOf(hi, lo);
    return { piIndex, pir: permField(c.pirHi, c.pirLo, piIndex), pire0: permField(c.pire0Hi, c.pire0Lo, piIndex) };
  }

  /** Stage 2's view of the final IPA of the last (successful) walk and the combined attributes. */
  private stage2Outcome(s1Attr: number, s1Sh: ShareDomain, access: Access): Stage2Outcome {
    const s2 = this.s2 as Walker;
    const ipa = BigInt(this.ipaHi) * 4294967296n + BigInt(this.ipaLo);
    const result = describeStage2(s2, ipa);
    if (result.kind !== "ok") throw new Error("stage2Outcome after a stage-2 fault");
    const hcr = this.ctx.hcr;
    let memType = decodeS2MemAttr((s2.descLo >>> 2) & 15, hcr.fwb);
    // ASL AArch64.S2Translate: HCR_EL2.CD makes stage-2 Normal data accesses Non-cacheable; HCR_EL2.ID
    // does the same for instruction fetches, which also treat stage-2 Device as Normal NC.
    const fetch = access.type === "exec";
    if ((fetch && (hcr.id || memType.kind === "device")) || (!fetch && hcr.cd && memType.kind === "normal")) {
      memType = { kind: "normal", outer: "NC", inner: "NC", name: "Normal-NC (HCR_EL2.CD/ID)" };
    }
    const s2Sh = shareDomainOf(result.sh);
    const c = s2Sh ? combineS1S2(s1Attr, s1Sh, memType, s2Sh) : undefined;
    const ok = c?.kind === "ok" ? c : undefined;
    return { ipa, result, memType, s1Attr, s1Sh, attr: ok?.attr, sh: ok?.sh };
  }
}

const PAR_SH: Record<ShareDomain, bigint> = { NSH: 0n, OSH: 2n, ISH: 3n };

/** PAR_EL1 of a successful AT S12E* (ASL AArch64.EncodePAR): final PA, combined ATTR and SH, NS=1. */
function stage2Par(pa: bigint, o: Stage2Outcome): bigint {
  const attr = BigInt(parAttrByte(o.attr ?? 0));
  const sh = o.sh ? PAR_SH[o.sh] : 0n;
  return (attr << 56n) | (pa & 0x000f_ffff_ffff_f000n) | (1n << 11n) | (1n << 9n) | (sh << 7n);
}

/** One-shot translation (compiles the registers each call; use Walker for many addresses). */
export function translate(mem: PhysMem, regs: Regs, va: bigint, access: Access): TranslationResult {
  return new Walker(mem, regs).translate(va, access);
}
