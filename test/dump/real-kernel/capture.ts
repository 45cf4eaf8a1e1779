/**
 * Capture a real-kernel fixture: boot (harness.ts), take registers, dump RAM, ask QEMU to translate
 * a few hundred kernel VAs, and keep only what the checks need (the TTBR1 table pages and the
 * VMCOREINFO page, compressed), plus the kernel's own W+X verdict from the console.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { decodeDescriptor } from "../../../src/arch/descriptor.js";
import { buildElfCore } from "../../../src/dump/elfcore.js";
import { type OpenedDump, openDump } from "../../../src/dump/inputs.js";
import { regionOf } from "../../../src/dump/layout.js";
import { FRAME_SIZE } from "../../../src/mem/physmem.js";
import { compileRegs } from "../../../src/walk/context.js";
import { halfBase, mappingRuns, walkEntries } from "../../../src/walk/range.js";
import { bootKernel, CONFIGS, cacheDir, type KernelConfig, REGISTERS, type Session } from "./harness.js";

export const FIXTURE_ROOT = resolve(import.meta.dirname, "../../fixtures/real-kernel");

/** Physical pages holding the TTBR1 translation tables (each table's whole granule). */
export function tablePages(d: OpenedDump): bigint[] {
  const ctx = compileRegs(d.regs);
  const h = ctx.halves[1];
  const g = BigInt(h.granule.size);
  const fmt = h.fmt;
  const pages = new Set<bigint>([BigInt(h.base) - (BigInt(h.base) % g)]);
  walkEntries(
    d.mem,
    h,
    0,
    2 ** h.iaBits,
    (e) => {
      if (e.kind !== "table") return;
      const raw = (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
      const t = decodeDescriptor(raw, e.level, fmt);
      if (t.kind === "table") pages.add(t.nextTable);
    },
    { tables: true },
  );
  return [...pages].sort((a, b) => (a < b ? -1 : 1));
}

/** A deterministic PRNG (xorshift32) so VA choices are reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Kernel VAs to compare: pages in every mapped region (linear map, image, fixmap, vmemmap...), marker edges and random holes. */
export function chooseVas(d: OpenedDump, count = 400): bigint[] {
  const ctx = compileRegs(d.regs);
  const h = ctx.halves[1];
  const base = halfBase(h);
  const span = 2 ** h.iaBits;
  const runs = mappingRuns(d.mem, ctx, base, 0n);
  const r = rng(0x5eed);
  const out = new Set<bigint>();
  const page = BigInt(h.granule.size);
  // Per region, up to 40 runs; from each its first, last and a random page.
  const byRegion = new Map<string, typeof runs>();
  for (const run of runs) {
    const k = d.layout ? regionOf(d.layout, run.va) : "all";
    const list = byRegion.get(k) ?? [];
    list.push(run);
    byRegion.set(k, list);
  }
  for (const list of byRegion.values()) {
    const step = Math.max(1, Math.floor(list.length / 40));
    for (let i = 0; i < list.length; i += step) {
      const run = list[i];
      if (!run) continue;
      const pages = run.size / page;
      out.add(run.va);
      out.add(run.va + (pages - 1n) * page + 0x123n);
      out.add(run.va + BigInt(Math.floor(r() * Number(pages))) * page + 0x8n);
      out.add(run.va - page); // often a hole just below a mapping
    }
  }
  for (const m of d.markers ?? []) out.add(m.address);
  while (out.size < count) out.add(base + BigInt(Math.floor(r() * span)) - (BigInt(Math.floor(r() * span)) % page));
  return [...out].filter((v) => v >= base).sort((a, b) => (a < b ? -1 : 1));
}

/** Banks holding only the TTBR1 table pages and the VMCOREINFO page of a dump. */
export function keptBanks(d: OpenedDump): { pa: bigint; data: Uint8Array }[] {
  const keep = tablePages(d);
  const vmciPa = /PA (0x[0-9a-f]+)/.exec(d.vmcoreinfo?.source ?? "")?.[1];
  const banks: { pa: bigint; data: Uint8Array }[] = [];
  const frames = new Set<bigint>();
  const g = BigInt(compileRegs(d.regs).halves[1].granule.size);
  for (const p of keep) for (let o = 0n; o < g; o += BigInt(FRAME_SIZE)) frames.add(p + o);
  if (vmciPa) frames.add(BigInt(vmciPa));
  for (const f of [...frames].sort((a, b) => (a < b ? -1 : 1))) {
    const last = banks[banks.length - 1];
    const data = d.mem.readBytes(f, FRAME_SIZE);
    if (last && last.pa + BigInt(last.data.length) === f) last.data = Buffer.concat([last.data, data]);
    else banks.push({ pa: f, data });
  }
  return banks;
}

/** The stopped instant of a capture, for checks that need the live guest (e.g. `vmsa --gdb`). */
export interface StoppedInstant {
  readonly gdbPort: number;
  /** The dump-guest-memory core and gdb's registers of this instant. */
  readonly core: string;
  readonly regsFile: string;
  readonly dump: OpenedDump;
  /** QEMU's gva2gpa answers (VA hex → GPA hex, null when unmapped). */
  readonly qemu: Readonly<Record<string, string | null>>;
  /** Run an HMP monitor command. */
  readonly hmp: (cmd: string) => Promise<string>;
}

export interface CaptureResult {
  readonly dir: string;
  readonly bootSeconds: number;
  readonly vas: number;
}

/** Read the registers through gdb, stop the guest and dump its RAM into a fresh work directory. */
export async function stopAndDump(s: Session, name: string): Promise<{ regsText: string; regsFile: string; core: string }> {
  const regsText = s.gdb([`info registers ${REGISTERS.map((r) => (r === "SCTLR_EL1" ? "SCTLR" : r)).join(" ")}`]);
  await s.hmp("stop");
  const work = join(cacheDir(), `${name}-work`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const regsFile = join(work, "registers.txt");
  writeFileSync(regsFile, regsText);
  const core = join(work, "guest.core");
  await s.hmp(`dump-guest-memory ${core}`);
  return { regsText, regsFile, core };
}

/** Boot `cfg`, capture everything, write the fixture directory (default test/fixtures/real-kernel/NAME). */
export async function captureFixture(
  cfg: KernelConfig,
  outDir = join(FIXTURE_ROOT, cfg.name),
  whileStopped?: (i: StoppedInstant) => Promise<void>,
): Promise<CaptureResult> {
  const s = await bootKernel(cfg);
  try {
    const { regsText, regsFile, core } = await stopAndDump(s, cfg.name);
    const d = openDump({ inputs: [core], regsFile, progress: false });
    const vas = chooseVas(d);
    const qemu: Record<string, string | null> = {};
    for (const va of vas) {
      const out = await s.hmp(`gva2gpa 0x${va.toString(16)}`);
      const m = /gpa:\s*(0x[0-9a-f]+)/i.exec(out);
      if (!m && !/Unmapped/i.test(out)) throw new Error(`gva2gpa 0x${va.toString(16)}: unexpected answer "${out}"`);
      qemu[`0x${va.toString(16)}`] = m ? (m[1] as string) : null;
    }
    // Still stopped since `stop`: the same instant as the core (the guest may run once a debugger detaches).
    if (whileStopped) await whileStopped({ gdbPort: s.gdbPort, core, regsFile, dump: d, qemu, hmp: s.hmp });
    const verdict = /Checked W\+X mappings: [^\r\n]*/.exec(s.console())?.[0];
    if (!verdict) throw new Error("the kernel printed no `Checked W+X mappings` line (CONFIG_DEBUG_WX?)");
    const banks = keptBanks(d);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, "tables.core.gz"), gzipSync(buildElfCore(banks), { level: 9 }));
    writeFileSync(join(outDir, "registers.txt"), regsText);
    const own = s.ptdump();
    if (own !== undefined) writeFileSync(join(outDir, "kernel_page_tables.txt"), own);
    const linux = /Linux version (\S+)/.exec(s.console())?.[1] ?? "unknown";
    writeFileSync(
      join(outDir, "machine.json"),
      `${JSON.stringify(
        {
          kernel: `Linux ${linux} (Debian), ${cfg.description}`,
          qemu: `qemu-system-aarch64 -M virt -cpu ${cfg.cpu} -smp 1 -m 256M, kernel command line: console=ttyAMA0${cfg.kaslr ? "" : " nokaslr"}`,
          memory: { core: "tables.core.gz" },
          ...(cfg.kernelConfig ? { kernel_config: cfg.kernelConfig } : {}),
          ...(cfg.vaBits ? { va_bits: cfg.vaBits } : {}),
          ...(d.vmcoreinfo ? {} : { vmcoreinfo: false }),
          note: "only the TTBR1 table pages and the VMCOREINFO page are kept; registers come from registers.txt (gdb-multiarch info registers)",
          kernel_wx_verdict: verdict,
          boot_seconds: s.bootSeconds,
        },
        null,
        1,
      )}\n`,
    );
    writeFileSync(join(outDir, "qemu-gva2gpa.json"), `${JSON.stringify(qemu, null, 0).replace(/,"/g, ',\n"')}\n`);
    return { dir: outDir, bootSeconds: s.bootSeconds, vas: vas.length };
  } finally {
    s.close();
  }
}

/**
 * Two snapshots of one boot: at the entry of mark_rodata_ro (hardware breakpoint through gdb; the
 * address comes from /proc/kallsyms of a first boot, nokaslr) and after init has started. Written
 * as OUT/before.json and OUT/after.json (+ tables and registers) for `vmsa diff`.
 */
export async function captureRodataDiff(cfg: KernelConfig, outDir = join(FIXTURE_ROOT, `${cfg.name}-rodata`)): Promise<void> {
  const first = await bootKernel(cfg);
  const sym = first.symbols().get("mark_rodata_ro");
  first.close();
  if (sym === undefined) throw new Error("mark_rodata_ro not in /proc/kallsyms");
  const s = await bootKernel(cfg, { paused: true });
  try {
    const work = join(cacheDir(), `${cfg.name}-rodata-work`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const regNames = REGISTERS.map((r) => (r === "SCTLR_EL1" ? "SCTLR" : r)).join(" ");
    const before = join(work, "before.core");
    const regsBefore = s.gdb([
      `hbreak *0x${sym.toString(16)}`,
      "continue",
      `info registers ${regNames}`,
      `monitor dump-guest-memory ${before}`,
      "delete",
    ]);
    await s.waitBooted();
    await s.hmp("stop");
    const after = join(work, "after.core");
    await s.hmp(`dump-guest-memory ${after}`);
    const regsAfter = s.gdb([`info registers ${regNames}`]);
    mkdirSync(outDir, { recursive: true });
    for (const [name, core, regs] of [
      ["before", before, regsBefore],
      ["after", after, regsAfter],
    ] as const) {
      const rf = join(outDir, `${name}-registers.txt`);
      writeFileSync(rf, regs);
      const d = openDump({ inputs: [core], regsFile: rf, progress: false });
      writeFileSync(join(outDir, `${name}.core.gz`), gzipSync(buildElfCore(keptBanks(d)), { level: 9 }));
      writeFileSync(
        join(outDir, `${name}.json`),
        `${JSON.stringify({ kernel: `${cfg.description}, ${name === "before" ? `at mark_rodata_ro (0x${sym.toString(16)})` : "after init started"}`, memory: { core: `${name}.core.gz` } }, null, 1)}\n`,
      );
    }
  } finally {
    s.close();
  }
}

// Command line: regenerate the committed fixtures.
if (process.argv[1] && resolve(process.argv[1]).endsWith("capture.ts")) {
  const names = process.argv.slice(2).filter((n) => !n.endsWith("-rodata"));
  for (const n of process.argv.slice(2).filter((x) => x.endsWith("-rodata"))) {
    const cfg = CONFIGS.find((c) => `${c.name}-rodata` === n);
    if (!cfg) throw new Error(`unknown configuration ${n}`);
    await captureRodataDiff(cfg);
    process.stderr.write(`== ${n}: captured\n`);
  }
  if (names.length === 0 && process.argv.length > 2) process.exit(0);
  for (const cfg of CONFIGS.filter((c) => names.length === 0 || names.includes(c.name))) {
    process.stderr.write(`== ${cfg.name}: ${cfg.description}\n`);
    const r = await captureFixture(cfg);
    process.stderr.write(`   booted in ${r.bootSeconds.toFixed(1)}s, ${r.vas} VAs compared with QEMU, fixture ${r.dir}\n`);
  }
}
