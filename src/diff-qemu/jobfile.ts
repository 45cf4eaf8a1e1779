/**
 * The job and result file formats of the AT harness (documented in qemu/README.md). All fields are
 * little-endian 64-bit words.
 *
 * Job file:    "VMSAJOB2", njobs, then per job:
 *              TTBR0_EL1, TTBR1_EL1, TCR_EL1, MAIR_EL1, SCTLR_EL1, nchunks, nqueries, nextra,
 *              nextra × (register id, value), nchunks × (pa, len, len/8 data words), nqueries × (va, op)
 *              (the harness still reads "VMSAJOB1" files, which have no nextra word and no pairs)
 * Result file: "VMSARES1", njobs, then per job: nqueries, nqueries × (par, status), then "VMSAEND\0".
 *              status 0: `par` is PAR_EL1; status bit 32 set: the AT took a synchronous exception
 *              to EL2 and bits [31:0] hold ESR_EL2.
 */
import { ARENA_BASE, ARENA_END, MAX_QUERIES_PER_JOB } from "./layout.js";

export const JOB_MAGIC = 0x3142_4f4a_4153_4d56n; // "VMSAJOB1"
export const JOB_MAGIC2 = 0x3242_4f4a_4153_4d56n; // "VMSAJOB2"
export const RES_MAGIC = 0x3153_4552_4153_4d56n; // "VMSARES1"
export const END_MAGIC = 0x0044_4e45_4153_4d56n; // "VMSAEND\0"

/**
 * AT operations in the harness's numbering (S1E1RP/WP: FEAT_PAN2, checked as if PSTATE.PAN=1;
 * S12E*: both stages, HCR_EL2.VM set by the job; S1E2R/W and EL20-S1E0R/W: the EL2 or EL2&0 regime
 * with the EL2 MMU on around the AT, the last two being AT S1E0R/W with HCR_EL2.E2H=TGE=1).
 */
export const HARNESS_OPS = [
  "S1E1R",
  "S1E1W",
  "S1E0R",
  "S1E0W",
  "S1E1RP",
  "S1E1WP",
  "S12E1R",
  "S12E1W",
  "S12E0R",
  "S12E0W",
  "S1E2R",
  "S1E2W",
  "EL20-S1E0R",
  "EL20-S1E0W",
] as const;
/** The EL1&0 stage-1 AT operations, PAN forms included (what PIE campaigns draw from). */
export const AT_EL1_OPS = ["S1E1R", "S1E1W", "S1E0R", "S1E0W", "S1E1RP", "S1E1WP"] as const;
/** The four plain EL1&0 AT operations (what campaigns without PAN draw from). */
export const AT_OP_NAMES = ["S1E1R", "S1E1W", "S1E0R", "S1E0W"] as const;
export type HarnessOp = (typeof HARNESS_OPS)[number];
/** Harness op 15 is no AT: it returns ID_AA64MMFR3_EL1 as the "PAR" (what the CPU implements). */
const OP_READ_MMFR3 = 15;

/** Extra registers a job may set, by harness id (qemu/README.md): EL1 ones, then EL2 ones. */
export const EXTRA_REG_IDS = {
  tcr2: 1,
  pir: 2,
  pire0: 3,
  por1: 4,
  por0: 5,
  hcr: 6,
  vtcr: 7,
  vttbr: 8,
  ttbr0El2: 9,
  ttbr1El2: 10,
  tcrEl2: 11,
  mairEl2: 12,
  sctlrEl2: 13,
  s2pir: 14,
  tcr2El2: 15,
  pirEl2: 16,
  pire0El2: 17,
} as const;

export interface JobRegs {
  readonly ttbr0: bigint;
  readonly ttbr1: bigint;
  readonly tcr: bigint;
  readonly mair: bigint;
  readonly sctlr: bigint;
  /** Written only when given (the registers need FEAT_TCR2 / S1PIE / S1POE). */
  readonly tcr2?: bigint;
  readonly pir?: bigint;
  readonly pire0?: bigint;
  readonly por1?: bigint;
  readonly por0?: bigint;
  /** HCR_EL2 (the harness adds RW), VTCR_EL2, VTTBR_EL2: written after the EL1 registers. */
  readonly hcr?: bigint;
  readonly vtcr?: bigint;
  readonly vttbr?: bigint;
  /** The EL2 / EL2&0 regime's registers; SCTLR_EL2 is in effect only around ops S1E2R/W, EL20-S1E0R/W. */
  readonly ttbr0El2?: bigint;
  readonly ttbr1El2?: bigint;
  readonly tcrEl2?: bigint;
  readonly mairEl2?: bigint;
  readonly sctlrEl2?: bigint;
  /** FEAT_S2PIE / S1PIE at EL2: S2PIR_EL2 (with VTCR_EL2.S2PIE), TCR2_EL2, PIR_EL2, PIRE0_EL2. */
  readonly s2pir?: bigint;
  readonly tcr2El2?: bigint;
  readonly pirEl2?: bigint;
  readonly pire0El2?: bigint;
}

/** The (id, value) pairs of a job's extra registers. */
export function extraRegs(r: JobRegs): [number, bigint][] {
  const out: [number, bigint][] = [];
  for (const [k, id] of Object.entries(EXTRA_REG_IDS) as [keyof typeof EXTRA_REG_IDS, number][]) {
    const v = r[k];
    if (v !== undefined) out.push([id, v]);
  }
  return out;
}

export interface Chunk {
  readonly pa: bigint;
  /** Length is a multiple of 8. */
  readonly data: Uint8Array;
}

export interface Query {
  readonly va: bigint;
  readonly op: HarnessOp;
}

export interface Job {
  readonly regs: JobRegs;
  readonly chunks: readonly Chunk[];
  readonly queries: readonly Query[];
  /** Every query reads ID_AA64MMFR3_EL1 instead of running its AT (harness op 15). */
  readonly readMmfr3?: boolean;
}

export type AtOutcome = { readonly kind: "par"; readonly par: bigint } | { readonly kind: "exception"; readonly esr: number };

export function encodeJobs(jobs: readonly Job[]): Uint8Array {
  let words = 2;
  for (const j of jobs) {
    words += 8 + 2 * extraRegs(j.regs).length + 2 * j.queries.length;
    for (const c of j.chunks) words += 2 + c.data.length / 8;
  }
  const buf = new Uint8Array(words * 8);
  const dv = new DataView(buf.buffer);
  let off = 0;
  const put = (v: bigint): void => {
    dv.setBigUint64(off, v, true);
    off += 8;
  };
  put(JOB_MAGIC2);
  put(BigInt(jobs.length));
  for (const j of jobs) {
    if (j.queries.length > MAX_QUERIES_PER_JOB)
      throw new RangeError(`a job has ${j.queries.length} queries (at most ${MAX_QUERIES_PER_JOB})`);
    put(j.regs.ttbr0);
    put(j.regs.ttbr1);
    put(j.regs.tcr);
    put(j.regs.mair);
    put(j.regs.sctlr);
    put(BigInt(j.chunks.length));
    put(BigInt(j.queries.length));
    const extra = extraRegs(j.regs);
    put(BigInt(extra.length));
    for (const [id, v] of extra) {
      put(BigInt(id));
      put(v);
    }
    for (const c of j.chunks) {
      if (c.data.length % 8 !== 0 || c.pa % 8n !== 0n) throw new RangeError(`chunk at 0x${c.pa.toString(16)} is not 8-byte aligned`);
      if (c.pa < ARENA_BASE || c.pa + BigInt(c.data.length) > ARENA_END) {
        throw new RangeError(`chunk at 0x${c.pa.toString(16)} is outside the table arena`);
      }
      put(c.pa);
      put(BigInt(c.data.length));
      buf.set(c.data, off);
      off += c.data.length;
    }
    for (const q of j.queries) {
      put(q.va);
      put(BigInt(j.readMmfr3 ? OP_READ_MMFR3 : HARNESS_OPS.indexOf(q.op)));
    }
  }
  return buf;
}

export function decodeResults(bytes: Uint8Array, jobs: readonly Job[]): AtOutcome[][] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  const get = (): bigint => {
    if (off + 8 > bytes.byteLength) throw new Error(`result file truncated at byte ${off}`);
    const v = dv.getBigUint64(off, true);
    off += 8;
    return v;
  };
  if (get() !== RES_MAGIC) throw new Error("result file: bad magic");
  const n = Number(get());
  if (n !== jobs.length) throw new Error(`result file: ${n} jobs, expected ${jobs.length}`);
  const out: AtOutcome[][] = [];
  for (const j of jobs) {
    const nq = Number(get());
    if (nq !== j.queries.length) throw new Error(`result file: job has ${nq} results, expected ${j.queries.length}`);
    const rs: AtOutcome[] = [];
    for (let q = 0; q < nq; q++) {
      const par = get();
      const status = get();
      rs.push((status >> 32n) & 1n ? { kind: "exception", esr: Number(status & 0xffff_ffffn) } : { kind: "par", par });
    }
    out.push(rs);
  }
  if (get() !== END_MAGIC) throw new Error("result file: missing end marker");
  return out;
}
