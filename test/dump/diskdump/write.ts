/**
 * A kdump-compressed file writer for tests: the layout makedumpfile and QEMU write (header
 * version 6, 64-bit little-endian; see src/dump/diskdump/header.ts), from banks of bytes, with a
 * chosen page codec, pages to exclude (present in the first bitmap, absent from the second) and
 * optionally as a flattened stream. Real files come from QEMU and makedumpfile in the other tests.
 */
import { deflateSync } from "node:zlib";
import snappy from "snappyjs";

export type Codec = "raw" | "zlib" | "snappy" | ((page: Uint8Array) => Uint8Array);

export interface WriteOptions {
  readonly pageSize?: number;
  readonly codec: Codec;
  /** PFNs (in pageSize units) left out of the dump. */
  readonly exclude?: readonly number[];
  readonly vmcoreinfo?: string;
  readonly flattened?: boolean;
  /** Descriptor flags for compressed pages (default from the codec). */
  readonly flags?: number;
  /**
   * RAM pages (in pageSize units) the dump covers beyond the banks' pages: set in the first bitmap
   * and absent from the second, i.e. excluded as `makedumpfile -d 31` excludes free and zero pages.
   */
  readonly ramPages?: { readonly first: number; readonly count: number };
}

const FLAGS: Record<string, number> = { zlib: 1, lzo: 2, snappy: 4, zstd: 0x20 };

export function writeDiskDump(banks: readonly { pa: bigint; data: Uint8Array }[], opts: WriteOptions): Buffer {
  const ps = opts.pageSize ?? 4096;
  const pages = new Map<number, Uint8Array>();
  // Banks are 4 KiB aligned; a larger dump page gathers every bank byte that falls in it.
  for (const b of banks) {
    for (let o = 0; o < b.data.length; o += 4096) {
      const pa = Number(b.pa) + o;
      const pfn = Math.floor(pa / ps);
      let pg = pages.get(pfn);
      if (!pg) {
        pg = new Uint8Array(ps);
        pages.set(pfn, pg);
      }
      pg.set(b.data.subarray(o, Math.min(o + 4096, b.data.length)), pa - pfn * ps);
    }
  }
  const ram = opts.ramPages;
  const maxMapnr = Math.max(Math.max(...pages.keys()) + 1, ram ? ram.first + ram.count : 0);
  const bitmapBlocks = 2 * Math.max(1, Math.ceil(Math.ceil(maxMapnr / 8) / ps));
  const bm1 = Buffer.alloc((bitmapBlocks / 2) * ps);
  const bm2 = Buffer.alloc((bitmapBlocks / 2) * ps);
  if (ram) for (let pfn = ram.first; pfn < ram.first + ram.count; pfn++) bm1[pfn >> 3] = (bm1[pfn >> 3] as number) | (1 << (pfn & 7));
  const excluded = new Set(opts.exclude ?? []);
  const dumped = [...pages.keys()].sort((a, b) => a - b);
  for (const pfn of dumped) {
    bm1[pfn >> 3] = (bm1[pfn >> 3] as number) | (1 << (pfn & 7));
    if (!excluded.has(pfn)) bm2[pfn >> 3] = (bm2[pfn >> 3] as number) | (1 << (pfn & 7));
  }
  const kept = dumped.filter((p) => !excluded.has(p));
  const vi = Buffer.from(opts.vmcoreinfo ?? "", "latin1");
  const header = Buffer.alloc(ps);
  header.write("KDUMP   ", 0, "latin1");
  header.writeInt32LE(6, 8);
  header.write("Linux", 12, "latin1");
  header.write("6.1.0-test", 12 + 130, "latin1");
  const codecName = typeof opts.codec === "function" ? "fn" : opts.codec;
  header.writeUInt32LE(opts.flags ?? FLAGS[codecName] ?? 0, 424);
  header.writeInt32LE(ps, 428);
  header.writeInt32LE(1, 432);
  header.writeUInt32LE(bitmapBlocks, 436);
  header.writeUInt32LE(maxMapnr, 440);
  header.writeInt32LE(1, 460);
  const sub = Buffer.alloc(ps);
  sub.writeBigUInt64LE(0x40000000n, 0);
  sub.writeInt32LE(excluded.size || ram ? 31 : 0, 8);
  const viOff = ps + 104;
  if (vi.length) {
    sub.writeBigUInt64LE(BigInt(viOff), 32);
    sub.writeBigUInt64LE(BigInt(vi.length), 40);
    vi.copy(sub, 104);
  }
  sub.writeBigUInt64LE(BigInt(maxMapnr), 96);
  const descOff = ps * (2 + bitmapBlocks);
  const descs = Buffer.alloc(kept.length * 24);
  let dataOff = descOff + descs.length;
  const data: Buffer[] = [];
  kept.forEach((pfn, i) => {
    const pg = pages.get(pfn) as Uint8Array;
    let body: Uint8Array = pg;
    let flags = 0;
    if (opts.codec === "zlib") body = deflateSync(pg);
    else if (opts.codec === "snappy") body = snappy.compress(pg);
    else if (typeof opts.codec === "function") body = opts.codec(pg);
    if (opts.codec !== "raw") flags = opts.flags ?? FLAGS[codecName] ?? 0;
    if (body.length >= ps) {
      body = pg;
      flags = 0;
    }
    descs.writeBigInt64LE(BigInt(dataOff), i * 24);
    descs.writeUInt32LE(body.length, i * 24 + 8);
    descs.writeUInt32LE(flags, i * 24 + 12);
    data.push(Buffer.from(body));
    dataOff += body.length;
  });
  const parts: [number, Buffer][] = [
    [0, header],
    [ps, sub],
    [2 * ps, bm1],
    [2 * ps + bm1.length, bm2],
    [descOff, descs],
  ];
  let o = descOff + descs.length;
  for (const d of data) {
    parts.push([o, d]);
    o += d.length;
  }
  if (!opts.flattened) {
    const out = Buffer.alloc(o);
    for (const [at, b] of parts) b.copy(out, at);
    return out;
  }
  const flatHead = Buffer.alloc(4096);
  flatHead.write("makedumpfile", 0, "latin1");
  flatHead.writeBigUInt64BE(1n, 16);
  flatHead.writeBigUInt64BE(1n, 24);
  const recs: Buffer[] = [flatHead];
  for (const [at, b] of parts) {
    const rh = Buffer.alloc(16);
    rh.writeBigInt64BE(BigInt(at), 0);
    rh.writeBigInt64BE(BigInt(b.length), 8);
    recs.push(rh, b);
  }
  const end = Buffer.alloc(16);
  end.writeBigInt64BE(-1n, 0);
  end.writeBigInt64BE(-1n, 8);
  recs.push(end);
  return Buffer.concat(recs);
}
