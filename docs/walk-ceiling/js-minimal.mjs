const heap = new Uint32Array(16 << 20 >> 2 << 2);
const tags = new Float64Array(8192).fill(-1);
const offs = new Int32Array(8192);
let nextW = 0, nextPa = 0x40000000;
const alloc = () => { const pa = nextPa; nextPa += 4096; const pfn = pa / 4096; tags[pfn & 8191] = pfn; offs[pfn & 8191] = nextW; nextW += 1024; return pa; };
const w64 = (pa, hi, lo) => { const pfn = Math.floor(pa / 4096); const o = offs[pfn & 8191] + ((pa & 4095) >> 2); heap[o] = lo >>> 0; heap[o + 1] = hi >>> 0; };
const root = alloc(), l1 = alloc(), l2 = alloc();
w64(root + 128 * 8, 0, l1 | 3); w64(l1, 0, l2 | 3);
for (let i = 0; i < 512; i++) { const l3 = alloc(); w64(l2 + i * 8, 0, l3 | 3);
  for (let j = 0; j < 512; j++) { const pa = 0x80000000 + (i * 512 + j) * 4096; w64(l3 + j * 8, 0x400000, (pa | 0x400 | 0x300 | 3) >>> 0); } }
const plan = Int32Array.from([39 | (9 << 6), 30 | (9 << 6) | 0x1000, 21 | (9 << 6) | 0x1000, 12 | (9 << 6)]);
const ctx = { basePfn: root / 4096, start: 0, paLimitHi: 1 << 16, flags: 16 };
const out = new Int32Array(4);
function walk(vaHi, vaLo, acc) {
  if ((vaHi & 0xffff0000) !== 0) return 1;
  let pfn = ctx.basePfn, off = 0, tattr = 0;
  for (let lvl = ctx.start; ; lvl++) {
    const lp = plan[lvl];
    const sh = lp & 63, nb = (lp >>> 6) & 63;
    const idx = sh >= 32 ? (vaHi >>> (sh - 32)) & ((1 << nb) - 1) : ((vaLo >>> sh) | (vaHi << (32 - sh))) & ((1 << nb) - 1);
    const p = pfn; const slot = p & 8191;
    if (tags[slot] !== p) return 9;
    const wi = offs[slot] + idx * 2;
    const lo = heap[wi], hi = heap[wi + 1];
    if ((lo & 1) === 0) return 1;
    if ((lo & 2) !== 0 && lvl < 3) { if ((hi & 0xffff) >= ctx.paLimitHi) return 2; tattr |= hi >>> 27 & 15; pfn = (hi & 0xffff) * 1048576 + (lo >>> 12); continue; }
    if ((lo & 2) === 0) { if (lvl === 3 || (lp & 0x1000) === 0) return 1; }
    const m = 0xffffffff >>> (32 - sh);
    if ((lo & 0x400) === 0) return 3;
    const ap = (lo >>> 6) & 3, apT = (tattr >>> 2) & 3, uxnT = (tattr >>> 1) & 1, pxnT = tattr & 1;
    let pw = (ap & 2) === 0 ? 1 : 0, ur = ap & 1, uw = ap === 1 ? 1 : 0;
    if (apT & 1) { ur = 0; uw = 0; } if (apT & 2) { pw = 0; uw = 0; }
    const px = ((hi >>> 21) & 1 | pxnT | uw) ? 0 : 1, ux = ((hi >>> 22) & 1 | uxnT) ? 0 : 1;
    let perms = 1 | pw << 1 | px << 2 | ur << 3 | uw << 4 | ux << 5;
    if ((acc & 8) && !(acc & 4) && (ctx.flags & 16) && (perms & 8)) perms &= ~3;
    const want = (acc & 3) + ((acc & 4) ? 3 : 0);
    if (((perms >>> want) & 1) === 0) return 4;
    out[0] = ((lo & ~m) | (vaLo & m)); out[1] = hi & 0xffff; out[2] = lvl;
    return 0;
  }
}
const N = 4 << 20; const los = new Uint32Array(N); let x = 0x12345678;
for (let i = 0; i < N; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; los[i] = (x >>> 0) & (process.argv[2] === "small" ? 0xffffff : 0x3fffffff); }
function run() { let bad = 0; for (let i = 0; i < N; i++) { if (walk(0x4000, los[i], 0) !== 0) bad++; else if ((out[0] >>> 0) !== 0x80000000 + los[i]) bad++; } return bad; }
for (let r = 0; r < 5; r++) { const c0 = process.cpuUsage(); const b = run(); const c = process.cpuUsage(c0); console.log("js", b, (N / ((c.user + c.system) / 1e6) / 1e6).toFixed(1), "M/s"); }
