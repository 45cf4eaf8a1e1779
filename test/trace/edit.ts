/**
 * Editing recorded traces for tests: cut a trace after a record (a valid, shorter trace: the END
 * record is appended), drop records (inject a broken sequence by removing a TLBI), and find the
 * first break-before-make sequence of a real recording (a valid leaf stored invalid, TLBIs, the
 * same descriptor stored valid again).
 */
import { REC_PAGE, REC_STORE, REC_TLBI, TraceReader } from "../../src/trace/reader.js";

const END = (): Buffer => {
  const b = Buffer.alloc(2 + 17 * 8);
  b.writeUInt8(15, 0);
  return b;
};

/** The records of `data` before byte offset `end`, then an END record. */
export function cutTrace(data: Uint8Array, end: number): Buffer {
  return Buffer.concat([Buffer.from(data.subarray(0, end)), END()]);
}

/** `data` without the records at the given byte offsets. */
export function dropRecords(data: Uint8Array, offsets: readonly number[]): Buffer {
  const drop = new Set(offsets);
  const r = new TraceReader(data, "edit");
  const parts: Buffer[] = [Buffer.from(data.subarray(0, r.pos))];
  let start = r.pos;
  for (;;) {
    const at = r.pos;
    const more = r.next();
    if (drop.has(at)) {
      parts.push(Buffer.from(data.subarray(start, at)));
      start = r.pos;
    }
    if (!more) break;
  }
  parts.push(Buffer.from(data.subarray(start)));
  return Buffer.concat(parts);
}

export interface BreakMake {
  /** Byte offsets of the break store, the TLBIs between, and the make store. */
  readonly breakAt: number;
  readonly tlbis: readonly number[];
  readonly makeAt: number;
  /** Offset just after the make store. */
  readonly after: number;
  readonly pa: number;
}

/** Every valid → invalid → valid sequence on one descriptor with TLBIs in between, in order. */
export function findBreakMakes(data: Uint8Array): BreakMake[] {
  const out: BreakMake[] = [];
  const r = new TraceReader(data, "find");
  const valid = new Map<number, boolean>();
  const broken = new Map<number, { at: number; tlbis: number[] }>();
  while (r.next()) {
    const pa = r.aHi * 2 ** 32 + r.aLo;
    if (r.type === REC_PAGE) {
      for (let i = 0; i < r.entries; i++) valid.delete(pa + i * 8);
      for (let i = 0; i < r.pairCount; i++) if ((r.pairLo(i) & 1) !== 0) valid.set(pa + r.pairIndex(i) * 8, true);
    } else if (r.type === REC_TLBI) {
      for (const b of broken.values()) b.tlbis.push(r.at);
    } else if (r.type === REC_STORE) {
      const now = (r.bLo & 1) !== 0;
      const b = broken.get(pa);
      if (now && b !== undefined && b.tlbis.length > 0) out.push({ breakAt: b.at, tlbis: b.tlbis, makeAt: r.at, after: r.pos, pa });
      if (!now && valid.get(pa) === true) broken.set(pa, { at: r.at, tlbis: [] });
      else broken.delete(pa);
      valid.set(pa, now);
    }
  }
  return out;
}

/** `data` with `record` (whole, type byte first) inserted after the record at byte offset `at`. */
export function insertAfter(data: Uint8Array, at: number, record: Uint8Array): Buffer {
  const r = new TraceReader(data, "edit");
  r.seek(at);
  r.next();
  return Buffer.concat([Buffer.from(data.subarray(0, r.pos)), Buffer.from(record), Buffer.from(data.subarray(r.pos))]);
}
