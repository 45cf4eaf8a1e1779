import fs from "node:fs";
const memory = new WebAssembly.Memory({ initial: 1024, maximum: 65536, shared: true });
const bytes = fs.readFileSync("walk.wasm");
const { instance } = await WebAssembly.instantiate(bytes, { env: { memory, miss: () => 0, abort: () => { throw new Error("abort"); } } });
const W = instance.exports;
const u32 = new Uint32Array(memory.buffer);
const f64 = new Float64Array(memory.buffer);
const tags = new BigUint64Array(memory.buffer, 0, 8192); tags.fill(0xffffffffffffffffn);
const offs = new Uint32Array(memory.buffer, 65536, 8192);
let nextByte = 1 << 20; // frames start at 1 MiB
let nextPa = 0x40000000;
const alloc = () => { const pa = nextPa; nextPa += 4096; const pfn = pa / 4096; tags[pfn & 8191] = BigInt(pfn); offs[pfn & 8191] = nextByte; nextByte += 4096; return pa; };
const w64 = (pa, hi, lo) => { const pfn = Math.floor(pa / 4096); const o = offs[pfn & 8191] + (pa & 4095); u32[o >> 2] = lo >>> 0; u32[(o >> 2) + 1] = hi >>> 0; };
const root = alloc(); const l1 = alloc(); const l2 = alloc();
w64(root + 128 * 8, 0, l1 | 3); // va 0x4000_0000_0000 >> 39 = 128
w64(l1, 0, l2 | 3);
for (let i = 0; i < 512; i++) { const l3 = alloc(); w64(l2 + i * 8, 0, l3 | 3);
  for (let j = 0; j < 512; j++) { const pa = 0x80000000 + (i * 512 + j) * 4096; w64(l3 + j * 8, 0x400000 /*uxn bit54*/, (pa | 0x400 | 0x300 | 3) >>> 0); } }
// ctx
const CTX = 98304;
const dv = new DataView(memory.buffer);
dv.setBigUint64(CTX, BigInt(root), true); dv.setInt32(CTX + 8, 16, true); dv.setBigUint64(CTX + 16, 0xffff000000000000n, true); dv.setBigUint64(CTX + 24, 1n << 48n, true);
dv.setInt32(CTX + 32, 0, true);
const sh = [39, 30, 21, 12], blk = [0, 1, 1, 0];
for (let l = 0; l < 4; l++) dv.setInt32(CTX + 36 + 4 * l, sh[l] | (9 << 6) | (blk[l] << 12) | (4 << 13), true);
const N = 4 * 1024 * 1024;
const los = new Uint32Array(N); let x = 0x12345678;
for (let i = 0; i < N; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; los[i] = (x >>> 0) & 0x3fffffff; }
const VAS = 4 << 20 << 2; // byte offset 16 MiB... ensure memory
memory.grow(2048);
const vaArr = new Uint32Array(memory.buffer, 32 << 20, 2 * N); for (let i = 0; i < N; i++) { vaArr[2 * i] = los[i]; vaArr[2 * i + 1] = 0x4000; }
const outOff = (32 << 20) + 8 * N;
const outArr = new Uint32Array(memory.buffer, outOff, 2 * N);
const walkHL = W.walkHL;
function perCall() { let bad = 0; const o = 99000 >> 2; for (let i = 0; i < N; i++) { if (walkHL(0x4000, los[i], 0) !== 0) bad++; else if (u32[o] !== 0x80000000 + los[i]) bad++; } return bad; }
function batch() { const bad = W.walkMany(32 << 20, N, 0, outOff); for (let i = 0; i < N; i += 4096) if (outArr[2*i] !== 0x80000000 + los[i]) throw new Error("wrong " + i); return bad; }
for (let r = 0; r < 5; r++) for (const [name, f] of [["percall", perCall], ["batch", batch]]) {
  const c0 = process.cpuUsage(); const bad = f(); const c = process.cpuUsage(c0);
  console.log(name, bad, (N / ((c.user + c.system) / 1e6) / 1e6).toFixed(1), "M/s");
}
