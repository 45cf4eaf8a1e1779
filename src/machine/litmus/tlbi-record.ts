/**
 * TLB invalidations at litmus level. A TLBI is issued, then completed by a later DSB of its CPU
 * (not DSB ST/LD; DSB NSH completes it for the issuing CPU only): Arm ARM D8.14 "TLB maintenance
 * instructions" (completion), herd aarch64.cat C_TLBI. Each completed TLBI gets a timestamp
 * `done` and its completion event a bit (`bit`, one per completing DSB, at most MAX_TLBI_COMPLETIONS (31) distinct in
 * one execution: past that the execution is "completion-bound" and the search inconclusive); `ordered` is what
 * was ordered before it (a DSB between a write and the TLBI).
 *
 * What a TLBI can affect (Arm ARM D8.14; ESOP translation-common.cat tlb-affects):
 * - stage-1 operations (VMALLE1, VAE1, VALE1, VAAE1, VAALE1, ASIDE1, range forms): stage-1
 *   entries of the issuing CPU's current VMID, by VA / ASID / level;
 * - IPAS2E1, IPAS2LE1: stage-2-only entries of one IPA page of the VMID (stage2.ts);
 * - VMALLS12E1: both stages of the VMID; ALLE1: both stages of every VMID;
 * - ALLE2, VAE2, VALE2: the EL2 regime, never EL1&0 walks.
 */
import type { WalkContext } from "../../walk/context.js";
import { pageOffset, parseTlbiOp, type TlbiScope, tlbiScope } from "../tlbi-op.js";

export type TlbiClass = "stage1" | "ipa" | "stage12" | "el2";

export interface TlbiRecord {
  readonly cpu: number;
  readonly op: string;
  readonly cls: TlbiClass;
  /** Stage-1 scope (cls "stage1"). */
  readonly scope: TlbiScope | undefined;
  /** IPA page number (cls "ipa"). */
  readonly ipaPage: number;
  /** VMID of the issuing CPU (-1: every VMID, ALLE1). */
  readonly vmid: number;
  /** Broadcast (IS/OS): affects every CPU's walks; otherwise only the issuing CPU's. */
  readonly broadcast: boolean;
  /** Writes ordered before the TLBI (the issuing CPU's view `tlbiOrd` at issue). */
  readonly ordered: number;
  /** TLBI completions ordered before it (`tlbiOrdK` at issue). */
  readonly orderedK: number;
  /** Timestamp of the completing DSB (0 while pending). */
  done: number;
  /**
   * The completing DSB as one bit of the completion sets views carry (views.ts): an access is
   * ordered after this TLBI's completion when its view's set holds the bit. 0 while pending.
   */
  bit: number;
  /** Completed by DSB NSH: complete for the issuing CPU only. */
  localOnly: boolean;
}

const STAGE2_RE = /^(IPAS2E1|IPAS2LE1|VMALLS12E1|ALLE1|ALLE2|VAE2|VALE2)(IS|OS)?$/;

/** Operation names the litmus model knows besides the stage-1 ones (tlbi-op.ts). */
export function isStage2OrEl2Tlbi(op: string): boolean {
  return STAGE2_RE.test(op);
}

export function newTlbi(
  cpu: number,
  op: string,
  operand: bigint,
  ctx: WalkContext,
  ordered: number,
  orderedK: number,
  vmid: number,
): TlbiRecord {
  const s2 = STAGE2_RE.exec(op);
  const common = { cpu, op, ordered, orderedK, done: 0, bit: 0, localOnly: false };
  if (s2) {
    const base = s2[1] as string;
    const cls: TlbiClass = base.startsWith("IPAS2") ? "ipa" : base === "VMALLS12E1" || base === "ALLE1" ? "stage12" : "el2";
    return {
      ...common,
      cls,
      scope: undefined,
      // Xt[35:0] holds IPA[47:12].
      ipaPage: Number(operand & 0xf_ffff_ffffn),
      vmid: base === "ALLE1" ? -1 : vmid,
      broadcast: s2[2] !== undefined,
    };
  }
  const m = parseTlbiOp(op);
  if (m === undefined) throw new RangeError(`tlbi: unknown operation ${op}`);
  const hi = Number((operand >> 32n) & 0xffffffffn);
  const lo = Number(operand & 0xffffffffn);
  const scope = tlbiScope(m.base, ctx.tcr.as ? 0xffff : 0xff, hi, lo);
  return { ...common, cls: "stage1", scope, ipaPage: 0, vmid, broadcast: m.broadcast };
}

/** Whether completed TLBI `t` reaches CPU `cpu` running VMID `vmid`. */
export function tlbiReaches(t: TlbiRecord, cpu: number, vmid: number): boolean {
  if (t.done === 0) return false;
  if (t.cpu !== cpu && (!t.broadcast || t.localOnly)) return false;
  return t.vmid === -1 || t.vmid === vmid;
}

/**
 * Whether completed TLBI `t` can affect a stage-1 walk by CPU `cpu` (VMID `vmid`) of the VA at
 * offset `vaOff` in half `half` (IA bits `ia`), tagged ASID `asid` (`global`: the leaf is nG=0),
 * reading a descriptor that maps `span` bytes and is a leaf (`leaf`) or a table entry. By-VA
 * operations match the page and the ASID unless all-ASID or global; last-level operations
 * (VALE1, VAALE1) need not affect walk-cache (table) entries; VMALLE1 affects everything of the
 * EL1&0 regime of the VMID.
 */
export function tlbiAffects(
  t: TlbiRecord,
  cpu: number,
  vmid: number,
  half: number,
  ia: number,
  vaOff: number,
  span: number,
  asid: number,
  global: boolean,
  leaf: boolean,
): boolean {
  if (!tlbiReaches(t, cpu, vmid)) return false;
  if (t.cls === "stage12") return true;
  const sc = t.scope;
  if (t.cls !== "stage1" || sc === undefined) return false;
  if (sc.base === "ASIDE1") return !global && sc.asid === asid;
  if (!sc.isVa) return true;
  if (sc.lastLevel && !leaf) return false;
  if (!sc.allAsid && !global && sc.asid !== asid) return false;
  if (sc.isRange) {
    const off = sc.rBase % 2 ** ia;
    const base = vaOff - (vaOff % span);
    return sc.rHalf === half && base < off + sc.rLen && off < base + span;
  }
  const page = pageOffset(sc.pageNum, ia);
  return sc.vaHalf === half && Math.floor(vaOff / span) === Math.floor(page / span);
}
