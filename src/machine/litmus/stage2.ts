/**
 * Stage 2 at litmus level (EL1&0 regime with HCR_EL2.VM=1): the IPA a stage-1 walk produces is
 * translated by the VMID's stage-2 tables (Arm ARM D8.2 "Translation table walks", stage 2;
 * VMSAv8-64 stage-2 descriptors: S2AP[7:6] read/write, AF bit 10, 4 KiB granule, 48-bit IPA,
 * walk from level 0 here). Both the final IPA and every stage-1 descriptor fetch (its table
 * address is an IPA) are translated (exec.ts; Arm ARM D8.2, ASL AArch64.S1Walk): a stage-2 fault
 * on a fetch is a stage-2 fault of the access. Hardware AF/dirty updates of stage-1 descriptors
 * are written at the fetched PA without a stage-2 write-permission check (not modelled).
 *
 * TLB maintenance (ESOP translation-common.cat tlb-affects; Arm ARM D8.14): IPAS2E1[IS] removes
 * stage-2-only entries of one IPA page of the current VMID, but not combined stage-1+2 entries;
 * those go with a stage-1 TLBI of the VMID (VMALLE1, VAE1…) issued after it, or with
 * VMALLS12E1[IS] (both stages of the VMID). ALLE2/VAE2 act on the EL2 regime only and never on
 * EL1&0 walks.
 */
import { FAULT_ACCESS_FLAG, FAULT_NONE, FAULT_PERMISSION, FAULT_TRANSLATION } from "../../arch/fault.js";
import type { Message } from "./messages.js";
import { type TlbiRecord, tlbiReaches } from "./tlbi-record.js";
import type { Invalidation } from "./walk-rules.js";

export interface Stage2Config {
  /** Physical address of the level-0 stage-2 table (VTTBR_EL2.BADDR). */
  readonly root: number;
  /** VTTBR_EL2.VMID. */
  readonly vmid: number;
}

export interface Stage2Read {
  readonly pa: number;
  readonly level: number;
  readonly msg: Message;
}

export interface Stage2Outcome {
  readonly fault: number;
  readonly level: number;
  readonly pa: number;
  readonly reads: readonly Stage2Read[];
}

const TWO32 = 2 ** 32;
/** Stage-2 S2AP bits: 6 read, 7 write. */
const S2AP_R = 1 << 6;
const S2AP_W = 1 << 7;
const AF = 1 << 10;

/** Output address bits [47:12] of a descriptor (as a number). */
function oaOf(v: bigint, shift: number): number {
  const hi = Number((v >> 32n) & 0xffffn);
  const lo = Number(v & 0xffffffffn);
  const full = hi * TWO32 + (lo >>> 0);
  return full - (full % 2 ** shift);
}

/** Translate `ipa`; `pick(pa, level)` chooses the write each descriptor read returns (undefined: none allowed). */
export function walkStage2(
  cfg: Stage2Config,
  ipa: number,
  write: boolean,
  pick: (pa: number, level: number, leafSpan: number) => Message | undefined,
): Stage2Outcome | undefined {
  const reads: Stage2Read[] = [];
  let table = cfg.root;
  for (let level = 0; level <= 3; level++) {
    const shift = 12 + 9 * (3 - level);
    const idx = Math.floor(ipa / 2 ** shift) % 512;
    const pa = table + idx * 8;
    const m = pick(pa, level, 2 ** shift);
    if (m === undefined) return undefined;
    reads.push({ pa, level, msg: m });
    const lo = Number(m.value & 0xffffffffn);
    if ((lo & 1) === 0 || (level === 0 && (lo & 2) === 0) || (level === 3 && (lo & 2) === 0)) {
      return { fault: FAULT_TRANSLATION, level, pa: 0, reads };
    }
    if (level < 3 && (lo & 2) !== 0) {
      table = oaOf(m.value, 12);
      continue;
    }
    if ((lo & AF) === 0) return { fault: FAULT_ACCESS_FLAG, level, pa: 0, reads };
    if ((lo & (write ? S2AP_W : S2AP_R)) === 0) return { fault: FAULT_PERMISSION, level, pa: 0, reads };
    return { fault: FAULT_NONE, level, pa: oaOf(m.value, shift) + (ipa % 2 ** shift), reads };
  }
  return { fault: FAULT_TRANSLATION, level: 3, pa: 0, reads };
}

/** Whether a stage-2 descriptor value read at `level` makes the walk fault (invalid or AF=0): such reads are coherence-pinned. */
export function stage2Faulting(v: bigint, level: number): boolean {
  const lo = Number(v & 0xffffffffn);
  if ((lo & 1) === 0) return true;
  const isTable = level < 3 && (lo & 2) !== 0;
  if ((level === 0 || level === 3) && (lo & 2) === 0) return true;
  return !isTable && (lo & AF) === 0;
}

/**
 * The invalidations that cover a stage-2 read of `ipa` (descriptor mapping `span` bytes) by CPU
 * `cpu` in VMID `vmid`: VMALLS12E1/ALLE1 alone, or an IPAS2E1 of the page followed (ordered after
 * its completion, on the same CPU) by a stage-1 TLBI covering the access (`stage1Covers`): only
 * then are combined stage-1+2 entries gone (ESOP obtlbi stage-2 clauses; Casemate's stage-2
 * automaton dsb → tlbi ipa → dsb → tlbi stage 1 → dsb).
 */
export function stage2Invalidations(
  tlbis: readonly TlbiRecord[],
  cpu: number,
  vmid: number,
  ipa: number,
  span: number,
  stage1Covers: (t: TlbiRecord) => boolean,
): Invalidation[] {
  const out: Invalidation[] = [];
  for (const t of tlbis) {
    if (!tlbiReaches(t, cpu, vmid)) continue;
    if (t.cls === "stage12") out.push(t);
    if (t.cls !== "ipa" || Math.floor((t.ipaPage * 4096) / span) !== Math.floor(ipa / span)) continue;
    for (const s of tlbis) {
      if (s.cls === "stage1" && s.cpu === t.cpu && (s.orderedK & t.bit) !== 0 && tlbiReaches(s, cpu, vmid) && stage1Covers(s)) {
        out.push({ cpu: s.cpu, ordered: t.ordered, done: s.done, bit: s.bit });
      }
    }
  }
  return out;
}
