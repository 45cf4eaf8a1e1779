/**
 * Real kernels: Debian arm64 kernels booted in QEMU (test/dump/real-kernel/harness.ts).
 *
 * Always: over the committed fixtures (test/fixtures/real-kernel/NAME: the TTBR1 table pages and the
 * VMCOREINFO page of a dump-guest-memory core, gdb's registers, QEMU's gva2gpa answers and the
 * kernel's console W+X verdict):
 * - vmsa's walk agrees with QEMU's own translation (gva2gpa, QEMU's get_phys_addr) on every VA;
 * - with the QEMU AT harness tools (qemu/ci-setup.sh): PAR_EL1 of AT S1E1R/S1E1W/S1E0R/S1E0W on
 *   the same tables (moved into the harness arena) equals vmsa's prediction for every VA;
 * - `audit` prints exactly the kernel's `Checked W+X mappings` line;
 * - registers derived from VMCOREINFO match the ones gdb read from the CPU;
 * - `ptdump` output for the detected layout (golden file).
 * With VMSA_REAL_KERNEL=1 (and qemu-system-aarch64, gdb-multiarch, apt-get): boots every
 * configuration afresh and runs the same checks on the new capture.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeTcr } from "../../src/arch/registers.js";
import { checkTools } from "../../src/diff-qemu/qemu.js";
import { audit } from "../../src/dump/audit.js";
import { diffTables, formatDiff } from "../../src/dump/diff.js";
import { openDump } from "../../src/dump/inputs.js";
import { regionOf } from "../../src/dump/layout.js";
import { ptdump } from "../../src/dump/ptdump.js";
import { regsFromVmcoreInfo } from "../../src/dump/regfile.js";
import { vmNumber, vmValue } from "../../src/dump/vmcoreinfo.js";
import { compileRegs } from "../../src/walk/context.js";
import { Walker } from "../../src/walk/walker.js";
import { vmsa } from "../cli/run.js";
import { skipBecause } from "../helpers/skip.js";
import { compareWithAt } from "./real-kernel/at.js";
import type { StoppedInstant } from "./real-kernel/capture.js";
import { CONFIGS, toolsAvailable } from "./real-kernel/harness.js";
import { makedumpfile, makedumpfilePath, makedumpfileVersion, phdrsAfterHeader, vmcoreInfoText } from "./real-kernel/makedumpfile.js";

const ROOT = join(import.meta.dirname, "../fixtures/real-kernel");

function checkFixture(dir: string): { ptdump: string } {
  const d = openDump({ inputs: [join(dir, "machine.json")], regsFile: join(dir, "registers.txt"), progress: false });
  const meta = JSON.parse(readFileSync(join(dir, "machine.json"), "utf8")) as { kernel_wx_verdict: string; vmcoreinfo?: boolean };
  const qemu = JSON.parse(readFileSync(join(dir, "qemu-gva2gpa.json"), "utf8")) as Record<string, string | null>;
  // 1. Walk vs QEMU (EL1 read: permitted on every valid kernel mapping without PAN).
  const w = new Walker(d.mem, d.regs);
  const mismatches: string[] = [];
  let mapped = 0;
  for (const [vaHex, gpa] of Object.entries(qemu)) {
    const r = w.translate(BigInt(vaHex), { type: "read", el: 1 });
    const ours = r.kind === "ok" ? `0x${r.pa.toString(16)}` : null;
    if (ours !== gpa)
      mismatches.push(`${vaHex}: vmsa ${ours ?? (r.kind === "fault" ? `${r.fault} fault L${r.level}` : "?")}, QEMU ${gpa ?? "Unmapped"}`);
    if (gpa) mapped++;
  }
  expect(mismatches).toEqual([]);
  expect(mapped).toBeGreaterThan(50);
  expect(Object.keys(qemu).length - mapped).toBeGreaterThan(20); // holes compared too
  // 2. The kernel's own W+X verdict (arch/arm64/mm/ptdump.c ptdump_check_wx, CONFIG_DEBUG_WX).
  const a = audit(d.mem, d.regs, { userHalf: false });
  expect(a.wx.summary).toBe(meta.kernel_wx_verdict);
  expect(a.findings.filter((f) => f.severity === "error")).toEqual([]);
  // 3. VMCOREINFO (found by scanning RAM: QEMU writes no note without the vmcoreinfo device) gives
  //    the same TTBR1 table and translation regime as the CPU's registers.
  if (meta.vmcoreinfo !== false) {
    expect(d.vmcoreinfo?.source).toMatch(/RAM scan/);
    const derived = regsFromVmcoreInfo(d.vmcoreinfo ?? { entries: new Map(), source: "" }).values;
    const cpu = compileRegs(d.regs).halves[1];
    const fromVi = compileRegs({ ...d.regs, ttbr1: derived.TTBR1_EL1 ?? 0n, tcr: derived.TCR_EL1 ?? 0n }).halves[1];
    expect(fromVi.base).toBe(cpu.base);
    expect(fromVi.iaBits).toBe(cpu.iaBits);
    expect(fromVi.granule.size).toBe(cpu.granule.size);
    expect(decodeTcr(derived.TCR_EL1 ?? 0n).ds).toBe(decodeTcr(d.regs.tcr).ds);
  }
  expect(d.layout).toBeDefined();
  return { ptdump: ptdump(d.mem, d.regs, d.markers ? { markers: d.markers } : {}) };
}

const fixtures = existsSync(ROOT) ? readdirSync(ROOT).filter((n) => existsSync(join(ROOT, n, "machine.json"))) : [];

describe("real kernel fixtures", () => {
  it("has the 4K/48-bit, KASLR, 16K (47-bit, 52-bit LPA2, own ptdump) and 4K 52-bit configurations", () => {
    expect(fixtures).toEqual([
      "linux-6.1-4k48",
      "linux-6.1-4k48-kaslr",
      "linux-6.12-16k-ptdump",
      "linux-6.12-16k47",
      "linux-6.12-16k52",
      "linux-6.12-16k52-ptdump",
      "linux-6.12-4k48-ptdump",
      "linux-6.12-4k52",
      "linux-6.12-4k52-ptdump",
    ]);
  });
  for (const name of fixtures) {
    it(`${name}: walk = QEMU, audit = kernel W+X verdict, VMCOREINFO = CPU registers, ptdump golden`, async () => {
      const r = checkFixture(join(ROOT, name));
      const own = join(ROOT, name, "kernel_page_tables.txt");
      // Where the kernel printed its own ptdump (PTDUMP_DEBUGFS), vmsa must reproduce it byte for byte.
      if (existsSync(own)) expect(r.ptdump).toBe(readFileSync(own, "utf8"));
      else await expect(r.ptdump).toMatchFileSnapshot(join(ROOT, name, "ptdump.txt"));
    });
  }
});

// QEMU's AT instructions (S1E1R/W, S1E0R/W) on the real tables, via the QEMU differential harness.
const atTools = checkTools();
if (!atTools.ok && process.env.CI) {
  // Under CI the tools are installed by qemu/ci-setup.sh: their absence is a failure, not a skip.
  describe("real kernel tables vs QEMU AT (PAR_EL1)", () => {
    it("has the QEMU differential tools under CI", () => {
      throw new Error(`missing ${atTools.ok ? "" : atTools.missing.join(", ")}: run qemu/ci-setup.sh`);
    });
  });
}
const noAt = atTools.ok ? undefined : `needs ${atTools.missing.join(", ")} (qemu/ci-setup.sh installs them)`;
describe.skipIf(skipBecause("real kernel tables vs QEMU AT", noAt))("real kernel tables vs QEMU AT (PAR_EL1)", () => {
  for (const name of fixtures) {
    it(`${name}: every VA x 4 AT operations agrees with vmsa's PAR_EL1`, async () => {
      const dir = join(ROOT, name);
      const d = openDump({ inputs: [join(dir, "machine.json")], regsFile: join(dir, "registers.txt"), progress: false });
      const vas = Object.keys(JSON.parse(readFileSync(join(dir, "qemu-gva2gpa.json"), "utf8")) as Record<string, unknown>).map((v) =>
        BigInt(v),
      );
      const r = await compareWithAt(d, vas);
      expect(r.mismatches).toEqual([]);
      expect(r.compared).toBe(vas.length * 4);
    }, 120_000);
  }
});

describe("real kernel before/after mark_rodata_ro (Debian 6.1, 4K/48-bit)", () => {
  it("diff: the rodata segment goes RW→ro in place, a permission-only change (no BBM), nothing else", async () => {
    const dir = join(ROOT, "linux-6.1-4k48-rodata");
    const a = openDump({ inputs: [join(dir, "before.json")], regsFile: join(dir, "before-registers.txt"), progress: false });
    const b = openDump({ inputs: [join(dir, "after.json")], regsFile: join(dir, "after-registers.txt"), progress: false });
    const r = diffTables(a.mem, a.regs, b.mem, b.regs, { halves: [1] });
    // arch/arm64/mm/mmu.c mark_rodata_ro: update_mapping_prot(..., PAGE_KERNEL_RO) on [__start_rodata, __init_begin),
    // which pgattr_change_is_safe allows live (RDONLY only), followed by flush_tlb_kernel_range.
    expect(r.counts).toEqual({ new: 0, removed: 0, "permission-only": 1, "break-before-make": 0 });
    const c = r.changes[0];
    expect(c?.rule).toBe("bbm.permissions");
    expect(c?.oldPa).toBe(c?.newPa);
    expect(((c?.old ?? 0n) >> 7n) & 1n).toBe(0n);
    expect(((c?.new ?? 0n) >> 7n) & 1n).toBe(1n);
    expect(b.layout && c ? regionOf(b.layout, c.va) : undefined).toBe("vmalloc"); // the kernel image lives in vmalloc space
    await expect(formatDiff(r)).toMatchFileSnapshot(join(dir, "diff.txt"));
    // Both instants pass the W+X check.
    expect(audit(a.mem, a.regs, { userHalf: false }).wx.passed).toBe(true);
    expect(audit(b.mem, b.regs, { userHalf: false }).wx.passed).toBe(true);
  });
});

/**
 * `vmsa dump|translate --gdb` against the booted guest, stopped by the monitor since the capture:
 * the dump equals the one of a dump-guest-memory core of that instant byte for byte, and the
 * translations equal QEMU's gva2gpa answers (linear-map VAs: they stay put if the guest runs on
 * after the first detach).
 */
async function checkLive(i: StoppedInstant, convertWithMakedumpfile: boolean, viewInBrowser: boolean): Promise<void> {
  const gdb = ["--gdb", `127.0.0.1:${i.gdbPort}`];
  const vi = i.dump.vmcoreinfo;
  const release = vi ? vmValue(vi, "OSRELEASE") : undefined;
  const vaBits = vi ? vmNumber(vi, "VA_BITS") : undefined;
  const layout = [...(release ? ["--kernel-version", release] : []), ...(vaBits !== undefined ? ["--va-bits", String(vaBits)] : [])];
  // The reference: a dump-guest-memory core of this instant (the guest paused before and after it).
  expect(await i.hmp("info status")).toMatch(/paused/);
  const core = `${i.core}.live`;
  await i.hmp(`dump-guest-memory ${core}`);
  expect(await i.hmp("info status")).toMatch(/paused/);
  const saved = await vmsa("dump", core, "--regs", i.regsFile);
  if (convertWithMakedumpfile) await checkMakedumpfile(i, core, saved);
  rmSync(core, { force: true });
  // The same instant saved kdump-compressed (zlib; QEMU's flattened default and the plain -R file):
  // the same `vmsa dump` output as the ELF core (issue 11 §2; src/dump/diskdump).
  for (const flags of ["-z", "-z -R"]) {
    const kd = `${i.core}.kdump`;
    await i.hmp(`dump-guest-memory ${flags} ${kd}`);
    const k = await vmsa("dump", kd, "--regs", i.regsFile);
    rmSync(kd, { force: true });
    expect(k.code).toBe(saved.code);
    expect(k.out).toBe(saved.out);
  }
  const live = await vmsa("dump", ...gdb, ...layout);
  // stderr carries only notes (e.g. the stated layout guess, e881cba), never an error or warning.
  expect(live.err.split("\n").filter((l) => l !== "" && !l.startsWith("vmsa: note: "))).toEqual([]);
  expect(live.code).toBe(0);
  expect(live.out).toBe(saved.out);
  if (viewInBrowser) await checkLiveUi(i, release);
  const lm = i.dump.layout;
  const vas = Object.keys(i.qemu)
    .filter((v) => !lm || regionOf(lm, BigInt(v)) === "linear")
    .slice(0, 16);
  expect(vas.length).toBeGreaterThan(3);
  const t = await vmsa("translate", ...gdb, "-f", "json", ...vas);
  expect(t.code).toBe(0);
  const results = (JSON.parse(t.out) as { results: { pa?: string }[] }).results;
  expect(results.map((r) => r.pa ?? null)).toEqual(vas.map((v) => i.qemu[v]));
}

/**
 * The UI's live view (issue 15, `vmsa serve --gdb HOST:PORT`) on the real guest: the Dump view's
 * Refresh reads its registers and tables through QEMU's gdbstub and prints the ptdump of that
 * instant, byte for byte. The UI takes the kernel version (the #dump-kernel-version field, as
 * --kernel-version) but has no --va-bits: it uses VA_BITS from TCR_EL1.T1SZ, which for this
 * configuration (VA_BITS=48, T1SZ=16) is the CLI's value. The CLI's `--gdb` read detached, and QEMU's
 * gdbstub resumes the VM when its last debugger detaches, so the monitor stops it again and the
 * reference is taken in that pause: `vmsa dump` of a dump-guest-memory core of the instant (checkLive
 * has just shown that equal to `vmsa dump --gdb`). The UI's gdb read sees the same instant: the VM
 * stays stopped while a debugger is attached.
 */
async function checkLiveUi(i: StoppedInstant, release: string | undefined): Promise<void> {
  const { CHROMIUM, startBrowser } = await import("../e2e/browser.js"); // vite and playwright: only for the boot test
  if (!existsSync(CHROMIUM))
    throw new Error(`VMSA_REAL_KERNEL=1 but ${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  await i.hmp("stop");
  expect(await i.hmp("info status")).toMatch(/paused/);
  const core = `${i.core}.ui`;
  await i.hmp(`dump-guest-memory ${core}`);
  expect(await i.hmp("info status")).toMatch(/paused/);
  const now = await vmsa("dump", core, "--regs", i.regsFile);
  rmSync(core, { force: true });
  expect(now.code).toBe(0);
  const b = await startBrowser({ gdb: { host: "127.0.0.1", port: i.gdbPort } });
  try {
    await b.open("#/dump");
    await b.page.waitForSelector("#dump-live-refresh");
    if (release) await b.page.fill("#dump-kernel-version", release);
    await b.page.click("#dump-live-refresh");
    await b.page.waitForSelector("#ptdump, #dump-error", { timeout: 120_000 });
    expect(await b.page.locator("#dump-error").count()).toBe(0);
    await expect.poll(() => b.page.textContent("#ptdump"), { timeout: 30_000 }).toBe(now.out);
    expect(await b.page.textContent("#dump-info")).toContain("live QEMU gdbstub");
    expect(b.errors).toEqual([]);
  } finally {
    await b.close();
  }
}

/** The configuration whose live core is also converted by Debian's arm64 makedumpfile (issue 11 §2). */
const MAKEDUMPFILE_CONFIG = "linux-6.1-4k48";

/**
 * In a `-d 31` file, a RAM page makedumpfile excluded that held data in the ELF core (a free or
 * user page) reads as missing (undefined), never as zeros (src/dump/diskdump/pages.ts: excluded
 * pages stay unbacked). True once one such page is found and checked word by word.
 */
function excludedPageReadsMissing(i: StoppedInstant, kd: string): boolean {
  const k = openDump({ inputs: [kd], regsFile: i.regsFile, progress: false }).mem;
  const elf = i.dump.mem;
  for (const b of elf.bankList()) {
    const base = b.base;
    for (let pa = base; pa < base + b.size; pa += 4096) {
      if (k.read64(BigInt(pa)) !== undefined) continue;
      let data = false;
      for (let w = 0; w < 4096 && !data; w += 8) data = (elf.read64(BigInt(pa + w)) ?? 0n) !== 0n;
      if (!data) continue;
      for (let w = 0; w < 4096; w += 8) expect(k.read64(BigInt(pa + w))).toBeUndefined();
      return true;
    }
  }
  return false;
}

/**
 * The ELF core of the stopped instant converted by Debian's arm64 makedumpfile (run under qemu-user,
 * qemu/install-makedumpfile-arm64.sh): zlib (-c), lzo (-l), zstd (-z; snappy -p is disabled in
 * Debian's build), all pages (-d 0) and with -d 31 (zero, cache, user and free pages excluded),
 * plain and flattened (-F): `vmsa dump` of each equals the ELF core's output byte for byte, exit
 * status included. -d 31 never excludes the kernel's page tables (they are none of zero, page-cache,
 * user-data or free pages); an excluded table page would read as missing (exit 3, src/dump/diskdump),
 * which this equality would catch, never as zeros.
 */
async function checkMakedumpfile(i: StoppedInstant, core: string, saved: { code: number; out: string }): Promise<void> {
  const version = makedumpfileVersion();
  if (!version)
    throw new Error(
      `VMSA_REAL_KERNEL=1 but ${makedumpfilePath()} is missing: run qemu/install-makedumpfile-arm64.sh (qemu/ci-setup.sh does)`,
    );
  const vi = i.dump.vmcoreinfo;
  if (!vi) throw new Error("no VMCOREINFO in the live core: makedumpfile needs it (-i)");
  const elf = `${core}.phdrs`;
  const info = `${core}.vmcoreinfo`;
  phdrsAfterHeader(core, elf);
  writeFileSync(info, vmcoreInfoText(vi));
  const sizes = new Map<string, number>();
  try {
    // The re-laid-out ELF itself still gives the same output (only header bytes moved).
    const e = await vmsa("dump", elf, "--regs", i.regsFile);
    expect({ code: e.code, out: e.out }).toEqual({ code: saved.code, out: saved.out });
    for (const flags of [["-l"], ["-c", "-d", "31"], ["-z", "-d", "31"], ["-l", "-d", "31", "-F"]]) {
      const kd = `${core}.mkd`;
      rmSync(kd, { force: true });
      if (flags.includes("-F")) makedumpfile([...flags, "-i", info, elf], kd);
      else makedumpfile([...flags, "-i", info, elf, kd]);
      sizes.set(flags.join(" "), statSync(kd).size);
      const k = await vmsa("dump", kd, "--regs", i.regsFile);
      if (flags.join(" ") === "-c -d 31") expect(excludedPageReadsMissing(i, kd)).toBe(true);
      rmSync(kd, { force: true });
      expect({ flags: flags.join(" "), code: k.code, out: k.out }).toEqual({ flags: flags.join(" "), code: saved.code, out: saved.out });
    }
  } finally {
    rmSync(elf, { force: true });
    rmSync(info, { force: true });
  }
  // -d 31 did exclude pages (so the equality above covers a dump with holes): smaller than -d 0.
  expect(sizes.get("-l -d 31 -F") ?? Infinity).toBeLessThan(sizes.get("-l") ?? 0);
}

const live = process.env.VMSA_REAL_KERNEL === "1";
const notLive = live ? undefined : "set VMSA_REAL_KERNEL=1 to boot Debian arm64 kernels in QEMU now (several minutes; .ci/run sets it)";
describe.skipIf(skipBecause("real kernels booted now", notLive))("real kernels booted now (VMSA_REAL_KERNEL=1)", () => {
  for (const cfg of CONFIGS.filter((c) => c.pkgPattern !== undefined)) {
    it(`${cfg.name}: ${cfg.description}`, async () => {
      const missing = toolsAvailable();
      if (missing) throw new Error(`VMSA_REAL_KERNEL=1 but ${missing}`);
      const { captureFixture } = await import("./real-kernel/capture.js");
      const out = join(mkdtempSync(join(tmpdir(), "vmsa-rk-")), cfg.name);
      await captureFixture(cfg, out, (i) => checkLive(i, cfg.name === MAKEDUMPFILE_CONFIG, cfg.name === MAKEDUMPFILE_CONFIG));
      checkFixture(out);
    }, 600_000);
  }
});
