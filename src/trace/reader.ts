/**
 * Reading a `vmsa record` trace (docs/trace-format.md). `TraceReader` decodes one record at a
 * time into its fields (numbers as 32-bit halves: no BigInt, no allocation per record) and
 * checks each as it goes; any malformed or truncated input is a `TraceError` naming the byte
 * offset and what was expected there. `scanTrace` runs the reader over the whole file once.
 */
import { hex } from "../arch/u64.js";
import { TraceError } from "./errors.js";
import {
  ACCESS_EL0,
  BARRIER_ISB,
  DC_OPS,
  HEADER_BYTES,
  MSR_REGS,
  REC_ACCESS,
  REC_BARRIER,
  REC_CPU_OFF,
  REC_DC,
  REC_END,
  REC_ERET,
  REC_EXC,
  REC_MSR,
  REC_PAGE,
  REC_STORE,
  REC_TLBI,
  RECORD_BYTES,
  RECORD_NAMES,
  TRACE_MAGIC,
  TRACE_VERSION,
} from "./format.js";

export interface TraceHeader {
  readonly version: number;
  readonly cpus: number;
  readonly ramBase: number;
  readonly ramSize: number;
}

/** Per-type record counts of a whole trace and the plugin's own end-of-trace figures. */
export interface TraceSummary {
  readonly header: TraceHeader;
  readonly records: number;
  readonly byType: Readonly<Record<string, number>>;
  /** DC ZVA instructions whose kernel VA the plugin could not translate (their zeroing is lost). */
  readonly zvaUnresolved: number;
}

const PA_LIMIT = 2 ** 52;

export class TraceReader {
  readonly header: TraceHeader;
  private readonly dv: DataView;
  private readonly end: number;
  /** Offset of the next record. */
  pos = HEADER_BYTES;
  /** Offset of the current record. */
  at = 0;
  type = 0;
  cpu = 0;
  /** STORE: size (log2); BARRIER: kind (0 DSB, 1 DMB, 2 ISB); MSR: register; EXC: vector slot; DC: op; TLBI: encoding; PAGE: level. */
  sub = 0;
  /** BARRIER: CRm option; PAGE: granule shift. */
  opt = 0;
  /** First 64-bit operand as halves: STORE/PAGE PA, TLBI operand, MSR value, EXC vector PC, DC VA. */
  aHi = 0;
  aLo = 0;
  /** Second operand: STORE value, EXC ELR_EL1. */
  bHi = 0;
  bLo = 0;
  /** Guest PC of the instruction (STORE, BARRIER, TLBI, MSR, ERET, DC; EXC: the vector). */
  pcHi = 0;
  pcLo = 0;
  /** PAGE: number of table entries and offset/count of the (index, value) pairs. */
  entries = 0;
  pairsAt = 0;
  pairCount = 0;
  /** END seen. */
  ended = false;
  /** END: the plugin's count of unresolved DC ZVA. */
  zvaUnresolved = 0;

  constructor(
    data: Uint8Array,
    private readonly name: string,
  ) {
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.end = data.byteLength;
    if (data.byteLength < HEADER_BYTES) this.fail(0, `${data.byteLength} bytes, shorter than the ${HEADER_BYTES}-byte header`);
    const magic = String.fromCharCode(...data.subarray(0, 8));
    if (magic !== TRACE_MAGIC) this.fail(0, `not a vmsa record trace (magic ${JSON.stringify(magic)}, expected "${TRACE_MAGIC}")`);
    const version = this.dv.getUint16(8, true);
    if (version !== TRACE_VERSION) this.fail(8, `format version ${version}, this vmsa reads version ${TRACE_VERSION}`);
    const cpus = this.dv.getUint16(10, true);
    if (cpus < 1 || cpus > 64) this.fail(10, `${cpus} vCPUs, expected 1..64`);
    const ramBase = this.u64At(16);
    const ramSize = this.u64At(24);
    if (ramSize === 0 || ramBase % 4096 !== 0 || ramSize % 4096 !== 0 || ramBase + ramSize > PA_LIMIT) {
      this.fail(16, `RAM ${hex(BigInt(ramBase))} size ${hex(BigInt(ramSize))}: expected a non-empty 4K-aligned range below 2^52`);
    }
    this.header = { version, cpus, ramBase, ramSize };
  }

  private fail(off: number, what: string): never {
    throw new TraceError(`trace ${this.name}: byte ${hex(BigInt(off))}: ${what}`);
  }

  private u64At(off: number): number {
    const hi = this.dv.getUint32(off + 4, true);
    if (hi >= 2 ** 21) this.fail(off, `value ${hex(this.dv.getBigUint64(off, true))} is above 2^52`);
    return hi * 2 ** 32 + this.dv.getUint32(off, true);
  }

  private inRam(pa: number, len: number, off: number, what: string): void {
    const h = this.header;
    if (pa < h.ramBase || pa + len > h.ramBase + h.ramSize) {
      this.fail(off, `${what} PA ${hex(BigInt(pa))} is outside the trace's RAM [${hex(BigInt(h.ramBase))}, +${hex(BigInt(h.ramSize))})`);
    }
  }

  /** Decode the next record; false at the END record. Throws TraceError on malformed input. */
  next(): boolean {
    if (this.ended) return false;
    const p = this.pos;
    const dv = this.dv;
    if (p >= this.end) this.fail(p, "truncated: the trace ends without its END record (QEMU did not exit cleanly?)");
    const type = dv.getUint8(p);
    const fixed = RECORD_BYTES[type];
    if (fixed === undefined) this.fail(p, `unknown record type ${type}`);
    if (p + fixed > this.end) this.fail(p, `truncated ${RECORD_NAMES[type]} record (${this.end - p} of ${fixed} bytes)`);
    const cpu = dv.getUint8(p + 1);
    if (cpu >= this.header.cpus) this.fail(p + 1, `vCPU ${cpu}, the header declares ${this.header.cpus}`);
    this.at = p;
    this.type = type;
    this.cpu = cpu;
    switch (type) {
      case REC_STORE: {
        this.sub = dv.getUint8(p + 2);
        if (this.sub > 4) this.fail(p + 2, `store size 2^${this.sub} bytes, expected at most 16`);
        this.aHi = dv.getUint32(p + 7, true);
        this.aLo = dv.getUint32(p + 3, true);
        const pa = this.aHi * 2 ** 32 + this.aLo;
        if (this.aLo % 8 !== 0) this.fail(p + 3, `store PA ${hex(BigInt(pa))} is not the address of a 64-bit word`);
        this.inRam(pa, 8, p + 3, "store");
        this.bLo = dv.getUint32(p + 11, true);
        this.bHi = dv.getUint32(p + 15, true);
        this.pcLo = dv.getUint32(p + 19, true);
        this.pcHi = dv.getUint32(p + 23, true);
        break;
      }
      case REC_PAGE: {
        this.sub = dv.getInt8(p + 2);
        this.opt = dv.getUint8(p + 3);
        if (this.sub < -1 || this.sub > 3) this.fail(p + 2, `table level ${this.sub}, expected -1..3`);
        if (this.opt !== 12 && this.opt !== 14 && this.opt !== 16) this.fail(p + 3, `granule shift ${this.opt}, expected 12, 14 or 16`);
        this.aLo = dv.getUint32(p + 4, true);
        this.aHi = dv.getUint32(p + 8, true);
        const pa = this.aHi * 2 ** 32 + this.aLo;
        this.entries = dv.getUint16(p + 12, true) + 1;
        if (this.entries > 2 ** (this.opt - 3))
          this.fail(p + 12, `${this.entries} entries, a ${2 ** (this.opt - 10)}K table has at most ${2 ** (this.opt - 3)}`);
        if (pa % 8 !== 0) this.fail(p + 4, `table PA ${hex(BigInt(pa))} is not 8-byte aligned`);
        this.inRam(pa, this.entries * 8, p + 4, "table");
        this.pairCount = dv.getUint16(p + 14, true);
        this.pairsAt = p + 16;
        if (this.pairCount > this.entries) this.fail(p + 14, `${this.pairCount} non-zero entries in a table of ${this.entries}`);
        const len = 16 + this.pairCount * 10;
        if (p + len > this.end) this.fail(p, `truncated page record (${this.end - p} of ${len} bytes)`);
        for (let i = 0; i < this.pairCount; i++) {
          const idx = dv.getUint16(this.pairsAt + i * 10, true);
          if (idx >= this.entries) this.fail(this.pairsAt + i * 10, `entry index ${idx} in a table of ${this.entries}`);
        }
        this.pos = p + len;
        return true;
      }
      case REC_BARRIER: {
        const k = dv.getUint8(p + 2);
        this.sub = k & 15;
        this.opt = k >> 4;
        if (this.sub > BARRIER_ISB) this.fail(p + 2, `barrier kind ${this.sub}, expected 0 (DSB), 1 (DMB) or 2 (ISB)`);
        this.pcLo = dv.getUint32(p + 3, true);
        this.pcHi = dv.getUint32(p + 7, true);
        break;
      }
      case REC_TLBI:
        this.sub = dv.getUint16(p + 2, true);
        if (this.sub >= 1024) this.fail(p + 2, `TLBI encoding ${this.sub}, expected op1:CRm:op2 below 1024`);
        this.aLo = dv.getUint32(p + 4, true);
        this.aHi = dv.getUint32(p + 8, true);
        this.pcLo = dv.getUint32(p + 12, true);
        this.pcHi = dv.getUint32(p + 16, true);
        break;
      case REC_MSR:
      case REC_EXC:
      case REC_DC:
      case REC_ACCESS:
        this.sub = dv.getUint8(p + 2);
        if (type === REC_ACCESS && ((this.sub & ~(3 | ACCESS_EL0)) !== 0 || (this.sub & 3) === 3))
          this.fail(p + 2, `access kind ${this.sub}, expected 0 (read), 1 (write) or 2 (fetch), plus 0x10 for EL0`);
        if (type === REC_MSR && this.sub >= MSR_REGS.length)
          this.fail(p + 2, `register code ${this.sub}, expected 0..${MSR_REGS.length - 1}`);
        if (type === REC_EXC && this.sub >= 16) this.fail(p + 2, `vector slot ${this.sub}, expected 0..15`);
        if (type === REC_DC && this.sub >= DC_OPS.length) this.fail(p + 2, `DC operation ${this.sub}, expected 0..${DC_OPS.length - 1}`);
        this.aLo = dv.getUint32(p + 3, true);
        this.aHi = dv.getUint32(p + 7, true);
        if (type === REC_EXC) {
          this.pcLo = this.aLo;
          this.pcHi = this.aHi;
          this.bLo = dv.getUint32(p + 11, true);
          this.bHi = dv.getUint32(p + 15, true);
        } else {
          this.pcLo = dv.getUint32(p + 11, true);
          this.pcHi = dv.getUint32(p + 15, true);
        }
        break;
      case REC_ERET:
      case REC_CPU_OFF:
        this.pcLo = dv.getUint32(p + 2, true);
        this.pcHi = dv.getUint32(p + 6, true);
        break;
      case REC_END:
        this.zvaUnresolved = dv.getUint32(p + 2 + 16 * 8, true) + dv.getUint32(p + 6 + 16 * 8, true) * 2 ** 32;
        this.pos = p + fixed;
        if (this.pos !== this.end) this.fail(this.pos, `${this.end - this.pos} bytes after the END record`);
        this.ended = true;
        return false;
    }
    this.pos = p + fixed;
    return true;
  }

  /** PAGE: the i-th (index, value) pair. */
  pairIndex(i: number): number {
    return this.dv.getUint16(this.pairsAt + i * 10, true);
  }
  pairLo(i: number): number {
    return this.dv.getUint32(this.pairsAt + i * 10 + 2, true);
  }
  pairHi(i: number): number {
    return this.dv.getUint32(this.pairsAt + i * 10 + 6, true);
  }

  /** Re-decode the record at `offset` (a value of `at` seen earlier). */
  seek(offset: number): void {
    this.pos = offset;
    this.ended = false;
  }
}

/** Read the whole trace once: checks every record and counts them by type. */
export function scanTrace(data: Uint8Array, name: string): TraceSummary {
  const r = new TraceReader(data, name);
  const counts: number[] = new Array(16).fill(0);
  let n = 0;
  while (r.next()) {
    counts[r.type] = (counts[r.type] ?? 0) + 1;
    n++;
  }
  const byType: Record<string, number> = {};
  for (const [t, name_] of Object.entries(RECORD_NAMES)) if (Number(t) !== REC_END) byType[name_] = counts[Number(t)] ?? 0;
  return { header: r.header, records: n, byType, zvaUnresolved: r.zvaUnresolved };
}

export { REC_ACCESS, REC_BARRIER, REC_CPU_OFF, REC_DC, REC_END, REC_ERET, REC_EXC, REC_MSR, REC_PAGE, REC_STORE, REC_TLBI };
