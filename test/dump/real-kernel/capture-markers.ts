/**
 * Capture the marker fixtures (issue 11 section 3): boot each kernel that build-markers-kernels.sh
 * built from Debian's linux-source-6.1 (two fixmap configurations per page size: with and without
 * GHES for 4K; with and without a relocatable image, one trampoline slot, for 16K and 64K), take the CPU
 * registers, a RAM dump and the kernel's own /sys/kernel/debug/kernel_page_tables, and keep only:
 * - tables.core.gz: the TTBR1 table pages, plus the pages holding the kernel's `address_markers`
 *   array and the marker names (what `--system-map` reads);
 * - ikconfig.core.gz: the pages holding the IKCONFIG blob (the layout source read from the dump);
 * - config.gz (the build's .config, for `--kernel-config`), System.map (only the symbols vmsa
 *   reads), registers.txt, kernel_page_tables.txt, machine.json (both cores) and tables.json
 *   (tables.core.gz alone: a dump without IKCONFIG).
 *
 * Run: npm run capture:markers  (builds the kernels first; several minutes each, not in CI)
 *   or: npx tsx test/dump/real-kernel/capture-markers.ts [NAME...]   (kernels already built)
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { buildElfCore } from "../../../src/dump/elfcore.js";
import { findIkconfig } from "../../../src/dump/ikconfig.js";
import { openDump } from "../../../src/dump/inputs.js";
import { CONFIG_SYMBOLS, parseSystemMap } from "../../../src/dump/system-map.js";
import { FRAME_SIZE } from "../../../src/mem/physmem.js";
import { compileRegs } from "../../../src/walk/context.js";
import { Walker } from "../../../src/walk/walker.js";
import { keptBanks, stopAndDump } from "./capture.js";
import { bootKernel, cacheDir, type KernelConfig } from "./harness.js";

export const MARKER_KERNELS = [
  { name: "4k48-ghes", cpu: "max", description: "4K pages, 48-bit VA; GHES+SDEI, KPTI, RELOCATABLE (Debian's fixmap)" },
  { name: "4k48-noghes", cpu: "max", description: "4K pages, 48-bit VA; SDEI without GHES, KPTI, not RELOCATABLE" },
  { name: "16k47-noghes", cpu: "max", description: "16K pages, 47-bit VA; SDEI without GHES, KPTI, not RELOCATABLE" },
  { name: "16k47-reloc", cpu: "max", description: "16K pages, 47-bit VA; SDEI without GHES, KPTI, RELOCATABLE" },
  { name: "64k52-noghes", cpu: "max", description: "64K pages, 52-bit VA (FEAT_LVA); SDEI without GHES, KPTI, not RELOCATABLE" },
  { name: "64k52-reloc", cpu: "max", description: "64K pages, 52-bit VA (FEAT_LVA); SDEI without GHES, KPTI, RELOCATABLE" },
] as const;

export const MARKERS_ROOT = resolve(import.meta.dirname, "../../fixtures/markers");

/** Symbols kept in the fixture's System.map: the ones vmsa reads, and a few landmarks. */
function keptSymbols(map: string): string {
  const want = new Set<string>(["address_markers", "_text", "_end", "swapper_pg_dir", ...Object.values(CONFIG_SYMBOLS).flat()]);
  return `${map
    .split("\n")
    .filter((l) => want.has(l.split(" ")[2] ?? ""))
    .join("\n")}\n`;
}

function frames(pa: bigint, length: number): bigint[] {
  const out: bigint[] = [];
  const first = pa - (pa % BigInt(FRAME_SIZE));
  for (let f = first; f < pa + BigInt(length); f += BigInt(FRAME_SIZE)) out.push(f);
  return out;
}

async function capture(k: (typeof MARKER_KERNELS)[number]): Promise<void> {
  const kb = join(cacheDir(), "kbuild61");
  const cfg: KernelConfig = { name: `markers-${k.name}`, image: `kbuild61/Image-${k.name}`, cpu: k.cpu, description: k.description };
  const s = await bootKernel(cfg);
  try {
    const { regsText, regsFile, core } = await stopAndDump(s, cfg.name);
    const own = s.ptdump();
    if (own === undefined) throw new Error(`${k.name}: the kernel printed no kernel_page_tables (PTDUMP_DEBUGFS?)`);
    const d = openDump({ inputs: [core], regsFile, progress: false, vmcoreinfo: false });
    const ctx = compileRegs(d.regs);
    const ik = findIkconfig(d.mem, ctx);
    if (!ik) throw new Error(`${k.name}: no IKCONFIG blob found in the dump`);
    const mapText = readFileSync(join(kb, `System.map-${k.name}`), "utf8");
    const syms = parseSystemMap(mapText, "System.map");
    const am = syms.get("address_markers");
    if (am === undefined) throw new Error(`${k.name}: no address_markers in System.map`);
    // The array and each marker name it points at (the kernel boots with nokaslr: link addresses).
    const w = new Walker(d.mem, d.regs);
    const pa = (va: bigint): bigint => {
      const r = w.translate(va, { type: "read", el: 1 });
      if (r.kind !== "ok") throw new Error(`${k.name}: VA 0x${va.toString(16)} does not translate`);
      return r.pa;
    };
    const extra = new Set<bigint>();
    for (let i = 0; i < 32; i++) {
      const e = d.mem.readBytes(pa(am + BigInt(16 * i)), 16);
      const dv = new DataView(e.buffer, e.byteOffset, 16);
      for (const f of frames(pa(am + BigInt(16 * i)), 16)) extra.add(f);
      const name = dv.getBigUint64(8, true);
      if (name === 0n) break;
      for (const f of frames(pa(name), 64)) extra.add(f);
      for (const f of frames(pa(name + 63n), 1)) extra.add(f);
    }
    const banks = keptBanks(d);
    for (const f of extra) banks.push({ pa: f, data: d.mem.readBytes(f, FRAME_SIZE) });
    banks.sort((a, b) => (a.pa < b.pa ? -1 : 1));
    const merged: typeof banks = [];
    for (const b of banks) {
      const last = merged[merged.length - 1];
      if (last && b.pa < last.pa + BigInt(last.data.length)) continue; // already kept (a table page)
      merged.push(b);
    }
    const ikBanks = frames(ik.pa, ik.length).map((f) => ({ pa: f, data: d.mem.readBytes(f, FRAME_SIZE) }));
    const out = join(MARKERS_ROOT, k.name);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "tables.core.gz"), gzipSync(buildElfCore(merged), { level: 9 }));
    writeFileSync(join(out, "ikconfig.core.gz"), gzipSync(buildElfCore(ikBanks), { level: 9 }));
    writeFileSync(join(out, "config.gz"), gzipSync(readFileSync(join(kb, `config-${k.name}`)), { level: 9 }));
    writeFileSync(join(out, "System.map"), keptSymbols(mapText));
    writeFileSync(join(out, "registers.txt"), regsText);
    writeFileSync(join(out, "kernel_page_tables.txt"), own);
    const linux = /Linux version (\S+)/.exec(s.console())?.[1] ?? "unknown";
    const common = {
      kernel: `Linux ${linux}, from Debian's linux-source-6.1 (build-markers-kernels.sh ${k.name}), ${k.description}`,
      qemu: `qemu-system-aarch64 -M virt -cpu ${k.cpu} -smp 1 -m 256M, kernel command line: console=ttyAMA0 nokaslr`,
    };
    const note =
      "kept: the TTBR1 table pages, the pages of address_markers and its names (tables.core.gz), the IKCONFIG pages (ikconfig.core.gz); registers from registers.txt";
    const json = (o: object): string => `${JSON.stringify(o, null, 1)}\n`;
    writeFileSync(join(out, "machine.json"), json({ ...common, memory: [{ core: "tables.core.gz" }, { core: "ikconfig.core.gz" }], note }));
    writeFileSync(
      join(out, "tables.json"),
      json({ ...common, memory: [{ core: "tables.core.gz" }], note: `${note}; this one without IKCONFIG` }),
    );
    process.stderr.write(
      `== ${k.name}: ${linux}, IKCONFIG at PA 0x${ik.pa.toString(16)}, ${merged.length} banks, booted in ${s.bootSeconds}s\n`,
    );
  } finally {
    s.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]).endsWith("capture-markers.ts")) {
  const names = process.argv.slice(2);
  for (const n of names) if (!MARKER_KERNELS.some((k) => k.name === n)) throw new Error(`unknown kernel ${n}`);
  for (const k of MARKER_KERNELS.filter((x) => names.length === 0 || names.includes(x.name))) await capture(k);
}
