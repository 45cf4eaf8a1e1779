/**
 * Real kernels recorded with the vmsa record plugin (plugins/record) and checked by replaying the
 * trace on the machine model.
 *
 * Always: the committed recording of Debian 12's 6.1 kernel booting with -smp 2 in QEMU, up to
 * the first instruction of user space (so through mark_rodata_ro), with the text symbols of the
 * PCs it holds (test/fixtures/trace; made by test/trace/record-kernel.ts and cut with
 * test/trace/edit.ts). With VMSA_REAL_KERNEL=1 (CI): the plugin is built against the installed
 * QEMU and the kernel is booted and recorded now, with a workload after boot (module load and
 * unload, fork/exec), and that whole trace is checked.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkTrace } from "../../src/cli/check-trace.js";
import type { Violation } from "../../src/machine/machine.js";
import { REC_STORE, scanTrace, TraceReader } from "../../src/trace/reader.js";
import { describeRecord, renderTraceText, renderViolation } from "../../src/trace/render.js";
import { replayTrace } from "../../src/trace/replay.js";
import { SymbolMap } from "../../src/trace/system-map.js";
import { toolsAvailable } from "../dump/real-kernel/harness.js";
import { skipBecause } from "../helpers/skip.js";
import { cutTrace, dropRecords, findBreakMakes, insertAfter } from "./edit.js";
import { recordKernel } from "./record-kernel.js";

const FIX = join(__dirname, "../fixtures/trace");
const BOOT = join(FIX, "linux-6.1-smp2-boot.vtrace.gz");
const SYMS = join(FIX, "linux-6.1-smp2-boot.kallsyms");

function run(trace: string, systemMap?: string): { code: number; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const code = checkTrace(
    trace,
    systemMap ? { systemMap } : {},
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join(""), err: err.join("") };
}

/**
 * Remove the TLBIs of a real break-before-make sequence (valid → invalid → valid on one
 * descriptor) and replay: the make must be reported (Arm ARM D8.17.1: the old entry may still be
 * cached when the new one is written). Returns the first sequence starting after byte offset
 * `after` (past the recording's own reports) whose removal the checker catches at the make store
 * among the first `tries`, with the report.
 */
function injectMissingTlbi(data: Uint8Array, syms: SymbolMap, after = 0, tries = 40) {
  for (const bm of findBreakMakes(data)
    .filter((b) => b.breakAt > after)
    .slice(0, tries)) {
    const broken = dropRecords(cutTrace(data, bm.after), bm.tlbis);
    const res = replayTrace(broken, "injected");
    // The make store sits where it was: the TLBIs before it were removed.
    const makeOffset = bm.makeAt - bm.tlbis.reduce((n, o) => n + (o < bm.makeAt ? 20 : 0), 0);
    const v = res.violations.find((x) => res.stepRecord(x.step) === makeOffset);
    if (v === undefined) continue;
    const at = describeRecord(res.reader, makeOffset, syms);
    return { bm, res, v, at, makeOffset, text: renderTraceText("injected", res, broken.length, syms) };
  }
  return undefined;
}

describe("recorded boot of Debian 6.1 with -smp 2 (committed trace)", () => {
  it("replays clean: no rule broken from reset to user space, mark_rodata_ro included", () => {
    const r = run(BOOT, SYMS);
    expect(r.err).toBe("");
    expect(r.out).toContain("clean: no rule broken");
    expect(r.code).toBe(0);
    const data = gunzipSync(readFileSync(BOOT));
    const s = scanTrace(data, BOOT);
    expect(s.header.cpus).toBe(2);
    // Millions of events would not fit the fixture; this boot has ~800k, most of them barriers.
    expect(s.records).toBeGreaterThan(500_000);
    expect(s.byType.store).toBeGreaterThan(50_000);
    expect(s.byType.tlbi).toBeGreaterThan(10_000);
    // mark_rodata_ro ran: the symbols of the recorded PCs include it.
    expect(readFileSync(SYMS, "utf8")).toMatch(/ mark_rodata_ro\n/);
  });

  it("catches a deliberately broken sequence injected into the recording (a fixmap remap without its TLBI)", () => {
    const data = gunzipSync(readFileSync(BOOT));
    const syms = SymbolMap.parse(readFileSync(SYMS, "utf8"), SYMS);
    const hit = injectMissingTlbi(data, syms);
    expect(hit).toBeDefined();
    if (hit === undefined) return;
    expect(hit.v.rule).toBe("bbm");
    expect(hit.v.detail).toBe("bbm.make-before-tlbi");
    expect(hit.at.offset).toBe(hit.makeOffset);
    expect(hit.at.symbol).toMatch(/^__set_fixmap\+/);
    expect(hit.text).toMatch(/VIOLATION 1 bbm \(bbm\.make-before-tlbi\)[\s\S]*<__set_fixmap\+0x[0-9a-f]+>/);
    // Without the injection, the same prefix is clean.
    expect(replayTrace(cutTrace(data, hit.bm.after), "prefix").violations).toEqual([]);
  });
});

describe("recorded early boot of Debian 6.12 (16K pages, CPU without LPA2: 47-bit VA)", () => {
  // A finding in Linux itself: arch/arm64/kernel/pi/map_kernel.c map_kernel() (v6.12, unchanged
  // upstream since) unmaps the kernel text, then runs `dsb ishst; isb; tlbi vmalle1; isb` and
  // remaps the text with contiguous descriptors. No DSB follows the TLBI: a TLBI is complete, and
  // the old (non-contiguous, writable) entries gone, only after a DSB on the issuing PE (Arm ARM
  // D8.16 "TLB maintenance instructions" / "Ordering and completion of TLB maintenance
  // instructions"); ISB does not complete it. Until then the CPU may hold the old entries while
  // the contiguous ones are written: the TLB conflict the code's own comment means to avoid.
  const FILE = join(FIX, "linux-6.12-16k47-map-kernel.vtrace.gz");

  it("reports the contiguous remap written while the TLBI VMALLE1 before it is not completed by a DSB", () => {
    const r = run(FILE);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/VIOLATION 5 missing-barrier \(barrier\.dsb-after-tlbi\)/);
    expect(r.out).toMatch(/TLBI VMALLE1 \(TLBI issued\)/);
    expect(r.out).toMatch(/the Contiguous bit changes/);
    expect(r.out).toMatch(/\(768 times at this PC; the first is shown\)/);
  });

  it("is clean once a DSB NSH completes that TLBI (the fix)", () => {
    const data = gunzipSync(readFileSync(FILE));
    const res = replayTrace(data, FILE);
    const v = res.violations[0];
    expect(v).toBeDefined();
    if (v === undefined) return;
    const tlbi = v.trace.find((t) => t.role === "TLBI issued");
    expect(tlbi).toBeDefined();
    if (tlbi === undefined) return;
    const at = res.stepRecord(tlbi.step);
    const dsbNsh = Buffer.from([3, 0, 0 | (7 << 4), 0, 0, 0, 0, 0, 0, 0, 0]);
    const fixed = insertAfter(data, at, dsbNsh);
    expect(replayTrace(fixed, "fixed").violations).toEqual([]);
  });
});

/**
 * What a live recording may report, each with its reason; anything else fails the test. A report
 * of the model that is not a rule the kernel breaks is a model gap to fix, not an entry here.
 */
interface ExplainedReport {
  readonly name: string;
  readonly why: string;
  readonly matches: (v: Violation, text: string) => boolean;
}

const EXPLAINED: readonly ExplainedReport[] = [
  {
    // The 6.12 finding above (the committed early-boot trace and its fix test): map_kernel()
    // writes the contiguous text mapping while its TLBI VMALLE1 is not completed by a DSB (Arm
    // ARM D8.16 "Ordering and completion of TLB maintenance instructions"). Linux 6.12 and later
    // only (6.1 maps the kernel differently, from head.S).
    name: "kernel: map_kernel() remaps the text after TLBI VMALLE1 without a DSB",
    why: "arch/arm64/kernel/pi/map_kernel.c, Linux 6.12: `tlbi vmalle1; isb` with no `dsb nsh`",
    matches: (v, text) =>
      v.detail === "barrier.dsb-after-tlbi" && /TLBI VMALLE1 \(TLBI issued\)/.test(text) && /the Contiguous bit changes/.test(text),
  },
];

/**
 * Kernels the live test records (VMSA_REAL_KERNEL_CONFIGS, comma-separated names of the
 * harness's CONFIGS; `+hotplug`: also hot-plug and hot-unplug 256 MiB with virtio-mem, for
 * kernels with virtio_pci built in, as Debian's 6.12).
 */
const LIVE_CONFIGS = (process.env.VMSA_REAL_KERNEL_CONFIGS ?? "linux-6.1-4k48,linux-6.12-16k47+hotplug").split(",").filter((c) => c !== "");

const live = process.env.VMSA_REAL_KERNEL === "1";
const why = !live ? "set VMSA_REAL_KERNEL=1 to record a Debian kernel boot now (about a minute; .ci/run sets it)" : toolsAvailable();
describe.skipIf(skipBecause("vmsa record of a real kernel booted now", why))(
  "vmsa record of a kernel booted now (VMSA_REAL_KERNEL=1)",
  () => {
    const root = join(__dirname, "../..");
    let dir = "";
    let plugin = "";
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "vmsa-record-"));
      plugin = join(dir, "libvmsa-record.so");
      execFileSync("bash", [join(root, "plugins/record/build.sh"), plugin], { stdio: ["ignore", "pipe", "pipe"] });
    }, 300_000);
    afterAll(() => {
      if (dir !== "") rmSync(dir, { recursive: true, force: true });
    });

    it.each(LIVE_CONFIGS)(
      "builds the plugin, records %s with -smp 2 through boot, modules, vmalloc'd stacks, tmpfs and fork/exec: every report explained",
      async (spec) => {
        const [config = "", ...extra] = spec.split("+");
        const hotplug = extra.includes("hotplug");
        const trace = join(dir, `${config}.vtrace`);
        const symbols = join(dir, `${config}.kallsyms`);
        const rec = await recordKernel({ plugin, trace, smp: 2, symbols, config, hotplug });
        expect(rec.summary).toMatch(/^vmsa-record: \d+ stores/);
        // virtio-mem added its memory and removed it again (/proc/iomem: 1 range, then none).
        if (hotplug) expect(rec.console).toMatch(/VMSA-HOTPLUGGED 1[\s\S]*VMSA-UNPLUGGED 0/);
        const r = run(trace, symbols);
        expect(r.err).toBe("");
        // 0 clean or 1 violations, never bad input or inconclusive (every record modelled).
        expect([0, 1]).toContain(r.code);
        const data = readFileSync(trace);
        const reader = new TraceReader(data, trace);
        const cpus = new Set<number>();
        while (reader.next()) if (reader.type === REC_STORE) cpus.add(reader.cpu);
        // Both vCPUs stored to page tables.
        expect(cpus.size).toBe(2);
        // Every report is explained (the interleaving differs from run to run: whatever it gives
        // must be a known kernel finding, never an unexplained report).
        const syms = SymbolMap.parse(readFileSync(symbols, "utf8"), symbols);
        const res = replayTrace(data, trace);
        const unexplained = res.violations
          .filter((v) => {
            const text = renderViolation(res, v, syms);
            return !EXPLAINED.some((e) => e.matches(v, text));
          })
          .map((v) => {
            const at = describeRecord(res.reader, res.stepRecord(v.step), syms);
            return `${v.detail} CPU ${v.cpu} PC ${at.pc.toString(16)} <${at.symbol ?? "?"}>: ${v.message}`;
          });
        expect(unexplained).toEqual([]);
        // After the recording's own (explained) reports: a break-before-make with its TLBIs removed is caught.
        const lastReport = Math.max(0, ...res.violations.map((v) => res.stepRecord(v.step)));
        const hit = injectMissingTlbi(data, syms, lastReport);
        expect(hit?.v.rule).toBe("bbm");
        // The hot-unplug's page-table work is in the trace (and judged): arch_remove_memory
        // unmaps the linear map of the removed range and frees the emptied tables.
        if (hotplug) {
          const by = new Set<string>();
          const rd = new TraceReader(data, trace);
          const at = new TraceReader(data, trace);
          while (rd.next()) {
            if (rd.type !== REC_STORE) continue;
            const f = describeRecord(at, rd.at, syms).symbol ?? "";
            if (/^(unmap_hotplug_range|free_empty_tables)\+/.test(f)) by.add(f.replace(/\+.*/, ""));
          }
          expect([...by].sort()).toEqual(["free_empty_tables", "unmap_hotplug_range"]);
        }
      },
      900_000,
    );
  },
);
