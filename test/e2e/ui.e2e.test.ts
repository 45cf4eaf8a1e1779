/**
 * End-to-end tests of the browser UI in Debian's chromium, driven by playwright-core (no
 * browser download). The web bundle is built here, served by `vmsa serve`'s server, and each view
 * is exercised against the core library's answers. Screenshots go to out/e2e/ (docs/vmsa-ui.png
 * for the README). Under CI=true a missing chromium fails the run instead of skipping it.
 */
import {
  closeSync,
  createReadStream,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGunzip, gunzipSync } from "node:zlib";
import type { BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descriptorFormat, encodeLeaf } from "../../src/arch/descriptor.js";
import { GRANULE_4K } from "../../src/arch/granule.js";
import { hex64 } from "../../src/arch/u64.js";
import { parseServedFile, type RunningServer, startServer } from "../../src/cli/serve.js";
import { audit } from "../../src/dump/audit.js";
import { openDump } from "../../src/dump/inputs.js";
import { completeRegs, parseRegisterFile, regsFromVmcoreInfo } from "../../src/dump/regfile.js";
import { scanVmcoreInfo } from "../../src/dump/vmcoreinfo.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { Walker } from "../../src/walk/walker.js";
import { auditCounts, auditHeadline } from "../../web/src/lib/auditSummary.js";
import { buildExample } from "../../web/src/lib/demo.js";
import { loadImage } from "../../web/src/lib/load.js";
import { completeRegisters, parseRegisterText } from "../../web/src/lib/regs.js";
import { citedSteps, traceScenario } from "../../web/src/lib/stepper.js";
import { buildTwoStageExample } from "../../web/src/lib/twoStage.js";
import { vmsa } from "../cli/run.js";
import { startFakeStub } from "../dump/gdb/fake-stub.js";
import { skipBecause } from "../helpers/skip.js";
import { launchChromium, noChromium, OUT, ROOT } from "./browser.js";

const FIX = join(ROOT, "test/e2e/fixtures/linux-6.1-4k48");
/** The shipped real-kernel fixture: an ELF core (gzip) of Linux 6.1's TTBR1 tables + VMCOREINFO, and gdb `info registers`. */
const REAL = join(ROOT, "test/fixtures/real-kernel/linux-6.1-4k48");

/** Inflate a gzip raw image into a sparse file: only its non-zero 4 KiB frames are written. */
async function inflateSparse(gz: string, out: string): Promise<number> {
  const fd = openSync(out, "w");
  let pos = 0;
  let frame = Buffer.alloc(0);
  const flush = (f: Buffer, at: number): void => {
    if (f.some((b) => b !== 0)) writeSync(fd, f, 0, f.length, at);
  };
  try {
    for await (const chunk of createReadStream(gz).pipe(createGunzip())) {
      frame = Buffer.concat([frame, chunk as Buffer]);
      while (frame.length >= 4096) {
        flush(frame.subarray(0, 4096), pos);
        pos += 4096;
        frame = frame.subarray(4096);
      }
    }
    if (frame.length) flush(frame, pos);
    pos += frame.length;
    ftruncateSync(fd, pos);
    return pos;
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(skipBecause("browser UI (chromium)", noChromium()))("browser UI (chromium)", () => {
  let server: RunningServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let scratch: string;
  const errors: string[] = [];

  beforeAll(async () => {
    await build({ configFile: join(ROOT, "web/vite.config.ts"), logLevel: "warn" });
    mkdirSync(OUT, { recursive: true });
    scratch = mkdtempSync(join(tmpdir(), "vmsa-e2e-files-"));
    // The real-kernel core uncompressed too: served plain, it is read with Range requests.
    writeFileSync(join(scratch, "tables.core"), gunzipSync(readFileSync(join(REAL, "tables.core.gz"))));
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      uiDir: join(ROOT, "web/dist"),
      files: [
        parseServedFile(`${join(FIX, "ram-tables.bin.gz")}@0x40000000`),
        parseServedFile(join(FIX, "machine.json")),
        parseServedFile(join(REAL, "tables.core.gz")),
        parseServedFile(join(scratch, "tables.core")),
        parseServedFile(join(REAL, "registers.txt")),
      ],
    });
    profile = mkdtempSync(join(tmpdir(), "vmsa-chromium-"));
    context = await launchChromium(profile);
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** Start recording the page's longest main-thread task (Long Tasks API: tasks over 50 ms). */
  const watchLongTasks = (): Promise<void> =>
    page.evaluate(() => {
      const w = window as unknown as { __longest: number };
      w.__longest = 0;
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
      }).observe({ type: "longtask", buffered: false });
    });
  const longestTask = (): Promise<number> => page.evaluate(() => (window as unknown as { __longest: number }).__longest);

  /** A fresh page load (a plain goto to another hash would keep the loaded memory). */
  const open = async (hash: string): Promise<void> => {
    await page.goto("about:blank");
    await page.goto(`${server.url}${hash}`);
    await page.waitForFunction(() => document.querySelector("#source-name")?.textContent?.startsWith("example:"));
    await page.waitForSelector('#app[data-ready="true"]');
  };

  it("opens on the real kernel example that ships with vmsa (examples/linux-6.1-4k48)", async () => {
    await open("#/walk?va=0xffff000000210000&acc=r1");
    expect(await page.textContent("#source-name")).toBe("example:linux-6.1-4k48");
    // Linux 6.1's linear map (its ptdump: 0xffff000000210000 is a read-only 4K PTE) at PHYS_OFFSET 0x40000000.
    expect(await page.textContent("#walk-outcome")).toContain("PA 0x40210000");
    await page.goto(`${server.url}#/map?half=1`);
    await page.waitForSelector('#app[data-ready="true"]');
    await page.selectOption("#map-marker", { label: "Linear Mapping start" });
    await page.waitForSelector('#app[data-ready="true"]');
    expect((await page.textContent("#map-segments")) ?? "").toContain("L2 block");
    // A window of 128 TiB less 896 MiB reads in ptdump's units, not as "134216832M".
    await open(`#/map?half=1&s=0&e=${2 ** 47 - 896 * 2 ** 20}`);
    const range = (await page.textContent("#map-range")) ?? "";
    expect(range).toContain("(≈128T)");
    expect(range).not.toMatch(/\d{7,}[KMGTPE]/);
  });

  it("marks the root data-ready once a deep link's view has rendered, and not while it recomputes", async () => {
    const ex = buildExample("linux-4k-48");
    const ok = ex.tour[0];
    if (!ok) throw new Error("example tour changed");
    const r = new Walker(ex.mem, ex.regs).translate(ok.va, { type: "read", el: 1 });
    if (r.kind !== "ok") throw new Error("example linear map does not translate");
    // What a screenshot script does: load the link, wait for the signal only, then read the page.
    await page.goto("about:blank");
    await page.goto(`${server.url}#/walk?va=${hex64(ok.va)}&acc=r1&preset=linux-4k-48`);
    await page.waitForSelector('#app[data-ready="true"]', { timeout: 30_000 });
    expect(await page.textContent("#walk-outcome")).toContain(`PA 0x${r.pa.toString(16)}`);
    // A scenario link: at the signal it has run (no "running…"), its verdict is shown.
    await page.goto("about:blank");
    await page.goto(`${server.url}#/scenario?sc=asid-global-bad&step=6`);
    await page.waitForSelector('#app[data-ready="true"]', { timeout: 30_000 });
    expect(await page.textContent("main")).not.toContain("running…");
    expect(await page.textContent("#scenario-verdict")).toBe("1 violation");
    // No AT ran in this scenario: PAR_EL1 holds its UNKNOWN reset value, not "F=0 PA=0x0" (Arm ARM PAR_EL1).
    expect(await page.textContent('#cpu-0 tr[data-reg="PAR_EL1"]')).toContain("no AT yet");
    expect(await page.textContent('#cpu-0 tr[data-reg="PAR_EL1"]')).not.toContain("F=0");
    // Recomputing resets it: a new walk makes the page not ready until its answer is shown.
    await open(`#/walk?va=${hex64(ok.va)}&acc=r1&preset=linux-4k-48`);
    const seen = page.evaluate(
      () =>
        new Promise<string[]>((resolve) => {
          const app = document.getElementById("app") as HTMLElement;
          const states: string[] = [];
          // Records are batched: the value after each record is the next one's oldValue.
          new MutationObserver((records) => {
            for (const r of records.slice(1)) states.push(r.oldValue ?? "");
            states.push(app.dataset.ready ?? "");
            if (app.dataset.ready === "true") resolve(states);
          }).observe(app, { attributes: true, attributeOldValue: true, attributeFilter: ["data-ready"] });
        }),
    );
    await page.fill("#walk-va", hex64(ok.va + 0x1000n));
    await page.press("#walk-va", "Enter");
    expect(await seen).toEqual(["false", "true"]);
    expect(await page.textContent("#walk-outcome")).toContain(`PA 0x${(r.pa + 0x1000n).toString(16)}`);
  });

  it("decodes a descriptor and re-encodes an edited field", async () => {
    // A Linux PAGE_KERNEL-style 4K page: AttrIndx 0... here 4 (Device-nGnRE), SH inner, AF, UXN.
    const fmt = descriptorFormat(GRANULE_4K);
    const v = encodeLeaf({ oa: 0x4000_0000n, attrIndx: 4, sh: 3, af: true, uxn: true }, 3, fmt);
    await open(`#/decode?v=${hex64(v)}&g=4K&l=3`);
    await expect.poll(() => page.textContent("#desc-kind")).toContain("page");
    expect(await page.inputValue('#desc-fields tr[data-key="oa"] input')).toBe("0x40000000");
    expect(await page.textContent('#desc-fields tr[data-key="attrIndx"]')).toContain("Device-nGnRE");
    // Edit: clear AF, move the page (Arm ARM D8.3: OA in bits [47:12] for a 4K page).
    await page.uncheck('#desc-fields tr[data-key="af"] input');
    await page.fill('#desc-fields tr[data-key="oa"] input', "0x41234000");
    await page.press('#desc-fields tr[data-key="oa"] input', "Enter");
    const want = encodeLeaf({ oa: 0x4123_4000n, attrIndx: 4, sh: 3, af: false, uxn: true }, 3, fmt);
    await expect.poll(() => page.textContent("#desc-raw")).toBe(hex64(want));
    expect(page.url()).toContain(`v=${hex64(want)}`);
    // bits[1:0]=0b01 at level 3 is reserved: toggling bit 1 makes the entry invalid (D8.3).
    await page.click('button[data-bit="1"]');
    await expect.poll(() => page.textContent("#desc-kind")).toContain("invalid");
    await page.screenshot({ path: join(OUT, "decoder.png"), fullPage: true });
  });

  it("walks addresses of the example and shows the library's PA, fault and PAR_EL1", async () => {
    const ex = buildExample("linux-4k-48");
    const w = new Walker(ex.mem, ex.regs);
    const ok = ex.tour[0];
    const bad = ex.tour.find((t) => t.what.startsWith("invalid entry"));
    if (!ok || !bad) throw new Error("example tour changed");
    const r = w.translate(ok.va, { type: "read", el: 1 });
    if (r.kind !== "ok" || r.par === null) throw new Error("example linear map does not translate");
    await open(`#/walk?va=${hex64(ok.va)}&acc=r1&preset=linux-4k-48`);
    await page.waitForSelector("#walk-outcome");
    expect(await page.textContent("#walk-outcome")).toContain(`PA 0x${r.pa.toString(16)}`);
    expect(await page.textContent("#walk-par")).toContain(hex64(r.par));
    expect(await page.locator("#walk-trail tbody tr").count()).toBe(r.trail.length);
    // The index bits of each level are shown (4K, 48-bit: L0..L2 for a 2M block).
    expect(await page.locator('#va-bits [data-label="L2 index"]').count()).toBe(1);
    await page.screenshot({ path: join(OUT, "walk.png"), fullPage: true });
    // A non-zero invalid level-3 entry: Translation fault, level 3, that row highlighted.
    const f = w.translate(bad.va, { type: "read", el: 1 });
    if (f.kind !== "fault") throw new Error("expected a fault");
    await page.fill("#walk-va", hex64(bad.va));
    await page.press("#walk-va", "Enter");
    await expect.poll(() => page.textContent("#walk-outcome")).toContain(`${f.fault} fault at level ${f.level}`);
    expect(await page.locator("#walk-trail tr.fault-row").getAttribute("data-level")).toBe(String(f.level));
    // EL0 write to read-only user text: Permission fault (AP[2:1]=0b11).
    const text = ex.tour.find((t) => t.what.startsWith("EL0 text"));
    if (!text) throw new Error("example tour changed");
    await page.goto(`${server.url}#/walk?va=${hex64(text.va)}&acc=w0&preset=linux-4k-48`);
    await expect.poll(() => page.textContent("#walk-outcome"), { timeout: 10_000 }).toContain("permission fault at level 3");
  });

  it("shows both stages of a two-stage walk and the CLI's AT S12E1R PAR_EL1 (S, PTW decoded)", async () => {
    // The same guest and stage 2 the page builds, as files for `vmsa translate --mem --hcr --vtcr --vttbr`.
    const ex = buildTwoStageExample();
    const dir = mkdtempSync(join(tmpdir(), "vmsa-e2e-s12-"));
    const mems = ex.mem.backedRuns().flatMap((run, i) => {
      const f = join(dir, `host-${i}.bin`);
      writeFileSync(f, ex.mem.readBytes(BigInt(run.first) * 4096n, run.count * 4096));
      return ["--mem", `${f}@0x${(run.first * 4096).toString(16)}`];
    });
    const regHex = (v: bigint | undefined): string => hex64(v ?? 0n);
    const cliPar = async (va: bigint, access: string): Promise<string> => {
      const r = await vmsa(
        "translate",
        ...mems,
        "--preset",
        "linux-4k-48",
        "--ttbr0",
        regHex(ex.regs.ttbr0),
        "--ttbr1",
        regHex(ex.regs.ttbr1),
        "--hcr",
        regHex(ex.regs.hcr),
        "--vtcr",
        regHex(ex.regs.vtcr),
        "--vttbr",
        regHex(ex.regs.vttbr),
        "-f",
        "json",
        `${hex64(va)}:${access}`,
      );
      expect(r.code, r.err).toBe(0);
      const [res] = (JSON.parse(r.out) as { results: { par: string | null }[] }).results;
      if (!res?.par) throw new Error(`vmsa translate gave no PAR_EL1 for ${hex64(va)}`);
      return res.par;
    };
    try {
      const lin = ex.tour[0];
      if (!lin) throw new Error("two-stage tour changed");
      const linPar = await cliPar(lin.va, "r");
      await open(`#/walk?va=${hex64(lin.va)}&acc=r1&preset=two-stage`);
      expect(await page.textContent("#source-name")).toBe("example:two-stage");
      expect(await page.inputValue("#walk-hcr")).toBe(hex64(ex.regs.hcr ?? 0n));
      // Every stage-1 table read has its own stage-2 walk (Arm ARM D8.2: stage-1 table addresses are
      // IPAs), ending at the PA the stage-1 row read the descriptor from.
      const rows = page.locator("#walk-trail > tbody > tr:not(.s2-row)");
      const n = await rows.count();
      expect(n).toBeGreaterThan(1);
      for (let i = 0; i < n; i++) {
        const pa = (await rows.nth(i).locator("td").nth(3).textContent()) ?? "";
        expect(await page.textContent(`#walk-s2-table-${i} summary`)).toContain(`-> PA ${pa.trim()}`);
      }
      // The output IPA's own stage-2 walk, and PAR_EL1 equal to the CLI's for the same input.
      expect(await page.getAttribute("#walk-s2-final .s2walk", "data-kind")).toBe("ok");
      expect(await page.textContent("#walk-par")).toContain(`AT S12E1R): ${linPar}`);
      await page.click(`#walk-s2-table-0 summary`);
      // The README's two-stage picture, refreshed only on request (VMSA_DOCS_SCREENSHOT=1).
      const twoStageShot =
        process.env.VMSA_DOCS_SCREENSHOT === "1" ? join(ROOT, "docs/vmsa-two-stage.png") : join(OUT, "walk-two-stage.png");
      await page.screenshot({ path: twoStageShot, fullPage: true });
      // A stage-1 table read whose IPA stage 2 does not map: PAR_EL1.S=1, PTW=1 (AArch64.EncodePAR, s2fs1walk).
      const ptwPar = await cliPar(ex.ptwFaultVa, "el0:r");
      await open(`#/walk?va=${hex64(ex.ptwFaultVa)}&acc=r0&preset=two-stage`);
      const par = (await page.textContent("#walk-par")) ?? "";
      expect(par).toContain(ptwPar);
      expect(par).toContain("S=1 (stage 2) PTW=1");
      expect(await page.textContent("#walk-s2-final h3")).toContain("stage-1 table read");
      // Stage 2 switched off from the inputs (HCR_EL2.VM=0): one stage, no nested walks.
      await page.fill("#walk-hcr", "0");
      await page.press("#walk-hcr", "Enter");
      await page.waitForSelector('#app[data-ready="true"]');
      await expect.poll(() => page.locator(".s2-row").count()).toBe(0);
      expect(page.url()).toContain("hcr=0");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("maps a TTBR half with markers, blocks, contiguous runs and holes", async () => {
    await open("#/map?half=1&preset=linux-4k-48");
    await page.waitForSelector("#map-segments tbody tr");
    const kinds = await page.locator("#map-segments tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-kind")));
    expect(kinds).toContain("leaf");
    expect(kinds).toContain("hole");
    const text = (await page.textContent("#map-segments")) ?? "";
    expect(text).toContain("L2 block");
    expect(text).toContain("L3 contiguous");
    expect(text).toContain("Device-nGnRE");
    // Zoom in keeps the URL in sync (deep link).
    await page.click("#map-zoom-in");
    await expect.poll(() => page.url()).toMatch(/[?&]s=\d+/);
    await page.screenshot({ path: join(OUT, "map-example.png"), fullPage: true });
  });

  it("loads a dump with gdb `info registers` text or, without registers, with the dump's VMCOREINFO (the CLI's parsers)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-e2e-regs-"));
    try {
      // A small RAM image (fast): page 0 empty, page 1 a VMCOREINFO page (kernel/vmcore_info.c format).
      const vmcoreinfo =
        "OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffff80000a530000\nNUMBER(kimage_voffset)=0xffff7fffc8000000\nNUMBER(VA_BITS)=48\n";
      const ram = new Uint8Array(0x2000);
      ram.set(new TextEncoder().encode(vmcoreinfo), 0x1000);
      const image = join(dir, "ram.bin");
      writeFileSync(image, ram);
      const regFile = join(ROOT, "test/fixtures/real-kernel/linux-6.1-4k48/registers.txt");
      const cli = completeRegs(parseRegisterFile(readFileSync(regFile, "utf8"), "registers.txt"), "registers.txt");
      const shown = (reg: string): Promise<string | null> => page.textContent(`#dump-registers tr[data-reg="${reg}"] .reg-value`);
      await open("#/dump");
      // The shipped fixture's register file: gdb `info registers` output, banner lines and all.
      await page.setInputFiles("#dump-regs-file", regFile);
      await page.setInputFiles("#dump-images", image);
      await page.fill(".dump-pa", "0x40000000");
      await page.click("#dump-load");
      await page.waitForSelector("#dump-info");
      expect(await page.locator("#dump-error").count()).toBe(0);
      expect(await shown("TTBR1_EL1")).toBe(hex64(cli.regs.ttbr1));
      expect(await shown("TCR_EL1")).toBe(hex64(cli.regs.tcr));
      expect(await shown("SCTLR_EL1")).toBe(hex64(cli.regs.sctlr));
      // No registers at all: TTBR1_EL1 and TCR_EL1 from the VMCOREINFO page in the image, as `vmsa dump` finds them.
      const mem = new PhysMem();
      mem.addBank(0x4000_0000n, ram);
      const found = scanVmcoreInfo(mem);
      if (!found) throw new Error("the test image's VMCOREINFO page is not found by the CLI's scan");
      const vi = completeRegs(regsFromVmcoreInfo(found), "dump");
      await page.fill("#dump-regs", "");
      await page.click("#dump-load");
      await expect.poll(() => shown("TTBR1_EL1")).toBe(hex64(vi.regs.ttbr1));
      expect(await shown("TCR_EL1")).toBe(hex64(vi.regs.tcr));
      expect(await page.textContent('#dump-registers tr[data-reg="TTBR1_EL1"]')).toContain("VMCOREINFO");
      expect(errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("opens the Linux 6.1 dump in the browser without blocking the page, reproduces its ptdump and walks it", async () => {
    await open("#/dump");
    await watchLongTasks();
    await page.setInputFiles("#dump-regs-file", join(FIX, "machine.json"));
    await page.setInputFiles("#dump-images", join(FIX, "ram-tables.bin.gz"));
    expect(await page.inputValue(".dump-pa")).toBe("0x40000000");
    const t0 = Date.now();
    await page.click("#dump-load");
    await page.waitForSelector("#dump-info", { timeout: 180_000 });
    const loadMs = Date.now() - t0;
    const longest = await longestTask();
    writeFileSync(
      join(OUT, "dump-load.json"),
      `${JSON.stringify({ bytes: 2 ** 30, loadMs, longestMainThreadTaskMs: longest }, null, 1)}\n`,
    );
    expect(errors).toEqual([]);
    expect(await page.textContent("#dump-info")).toContain("1G (gzip)"); // ptdump's units (sizeText)
    // ptdump of TTBR1 in the browser is the kernel's own text, byte for byte.
    await page.click("#dump-ptdump");
    await page.waitForSelector("#ptdump");
    expect(await page.textContent("#ptdump")).toBe(readFileSync(join(FIX, "kernel_page_tables.txt"), "utf8"));
    // The audit (src/dump/audit.ts) runs in the browser on the same memory; 6.1 passes its W+X check.
    await page.click("#dump-audit-run");
    await page.waitForSelector("#dump-audit");
    expect(await page.textContent("#dump-audit")).toContain("Checked W+X mappings: passed");
    // Counted as `vmsa audit` counts (findings vs warnings vs missing tables), not "N finding(s)".
    const nodeMem = new PhysMem();
    await loadImage(nodeMem, new Blob([readFileSync(join(FIX, "ram-tables.bin.gz"))]), 0x4000_0000n, "ram");
    const nodeRegs = completeRegisters(parseRegisterText(readFileSync(join(FIX, "machine.json"), "utf8")).registers, "machine.json").regs;
    const counts = auditCounts(audit(nodeMem, nodeRegs, { userHalf: false }));
    expect(await page.textContent("#dump-audit-verdict")).toBe(auditHeadline(counts));
    expect(await page.getAttribute("#dump-audit-verdict", "data-verdict")).toBe(counts.verdict);
    expect(await page.textContent("#dump-audit")).not.toContain("finding(s)");
    // The kernel's linear map: PAGE_OFFSET 0xffff000000000000 maps PHYS_OFFSET 0x40000000, and
    // 0xffff000000210000 is a read-only PTE there per the kernel's ptdump.
    await page.goto(`${server.url}#/walk?va=0xffff000000210000&acc=w1&src=dump`);
    await expect.poll(() => page.textContent("#walk-outcome"), { timeout: 10_000 }).toContain("permission fault at level 3");
    await page.selectOption("#walk-access", "r1");
    await expect.poll(() => page.textContent("#walk-outcome")).toContain("PA 0x40210000");
    await page.goto(`${server.url}#/map?half=1&src=dump`);
    await page.waitForSelector("#map-segments tbody tr");
    await page.selectOption("#map-marker", { label: "Linear Mapping start" });
    await page.waitForSelector("#map-segments tbody tr");
    await page.click("#map-fit");
    // Linux 6.1's linear map of 1 GiB RAM: 2M blocks, a contiguous 64K run, 4K pages (ptdump above).
    await expect.poll(() => page.textContent("#map-range")).toContain("(1G)");
    const mapText = (await page.textContent("#map-segments")) ?? "";
    expect(mapText).toContain("L2 block");
    expect(mapText).toContain("L3 contiguous");
    expect(mapText).toContain("L3 page");
    await page.screenshot({ path: join(OUT, "map-dump.png"), fullPage: true });
    // The README picture: refreshed only on request, so test runs leave the work tree clean.
    const shot = process.env.VMSA_DOCS_SCREENSHOT === "1" ? join(ROOT, "docs/vmsa-ui.png") : join(OUT, "vmsa-ui.png");
    await page.screenshot({ path: shot });
  }, 240_000);

  it("steps a scenario to its violation, shows the cited steps and the stale TLB entry, steps back", async () => {
    // asid-global-bad: a global (nG=0) user mapping survives TLBI ASIDE1IS (Arm ARM D8.14: ASID-based
    // invalidation leaves global entries), so CPU 1's load at step 6 may still use it (rule 4).
    const file = join(ROOT, "examples/scenarios/asid-global-bad.yaml");
    const t = traceScenario(readFileSync(file, "utf8"), "examples/scenarios/asid-global-bad.yaml");
    const v = t.reports[0];
    if (!v || t.reports.length !== 1) throw new Error("asid-global-bad no longer reports exactly one violation");
    const cited = citedSteps(v);
    expect(cited.length).toBeGreaterThan(0);
    const va = '[data-va="0xffff000000200000"]';
    const row = (n: number) => page.locator(`#scenario-steps tr[data-step="${n}"]`);
    const stepNow = async (): Promise<string | null> => page.getAttribute("#scenario-step", "data-step");

    await open("#/scenario?sc=asid-global-bad");
    await expect.poll(() => page.textContent("#scenario-name")).toBe("asid-global-bad");
    expect(await page.textContent("#scenario-verdict")).toBe("1 violation");
    expect(await stepNow()).toBe("0");
    expect(await page.locator("#scenario-steps tr[data-step]").count()).toBe(t.steps.length + 1);
    // Before any step CPU 1 may cache the global leaf from memory; nothing is stale.
    expect(await page.textContent(`#cpu-1 tr[data-source="memory"][data-kind="leaf"]${va}`)).toContain("global");
    expect(await page.locator('#cpu-1 tr[data-source="stale"]').count()).toBe(0);
    // The violating step is marked from the start; its report waits until it is reached.
    expect(await row(v.step).getAttribute("class")).toContain("violation");
    expect(await page.getAttribute('.report[data-index="0"]', "class")).toContain("upcoming");

    for (let i = 1; i < v.step; i++) await page.click("#step-next");
    await expect.poll(stepNow).toBe(String(v.step - 1));
    // After the unmap and TLBI ASIDE1IS, CPU 1 still may hold the old global leaf (stale row).
    const stale = page.locator(`#cpu-1 tr[data-source="stale"][data-kind="leaf"]${va}`);
    expect(await stale.count()).toBe(1);
    expect(await stale.textContent()).toContain("global");
    expect(await page.textContent(`#cpu-1 tr[data-source="stale"][data-kind="leaf"]${va} + tr.note-row`)).toContain("ASIDE1");
    expect(await page.getAttribute('.report[data-index="0"]', "class")).toContain("upcoming");

    await page.click("#step-next");
    await expect.poll(stepNow).toBe(String(v.step));
    expect(page.url()).toContain(`step=${v.step}`);
    const cls = (await row(v.step).getAttribute("class")) ?? "";
    expect(cls).toContain("current");
    expect(cls).toContain("violation");
    const report = page.locator('.report[data-index="0"]');
    expect(await report.getAttribute("class")).not.toContain("upcoming");
    expect(await report.getAttribute("data-rule")).toBe("stale-translation");
    expect(await report.textContent()).toContain(v.message);
    for (const c of cited) expect(await row(c).getAttribute("class")).toContain("cited");
    expect(await page.textContent("#step-outcomes")).toContain("stale-tlb");
    const scenarioShot = process.env.VMSA_DOCS_SCREENSHOT === "1" ? join(ROOT, "docs/vmsa-scenario.png") : join(OUT, "scenario.png");
    await page.screenshot({ path: scenarioShot, fullPage: true });

    // A cited step is a link: it moves the stepper there and keeps the report selected.
    const first = cited[0] as number;
    await report.locator(`button.cite[data-step="${first}"]`).first().click();
    await expect.poll(stepNow).toBe(String(first));
    expect(await row(first).getAttribute("class")).toContain("current");
    expect(await row(first).getAttribute("class")).toContain("cited");

    // Deep link to the violating step; then step back, and forward with the keyboard.
    await page.goto(`${server.url}#/scenario?sc=asid-global-bad&step=${v.step}`);
    await expect.poll(stepNow).toBe(String(v.step));
    await page.click("#step-prev");
    await expect.poll(stepNow).toBe(String(v.step - 1));
    expect(await row(v.step).getAttribute("class")).not.toContain("current");
    expect(await page.getAttribute('.report[data-index="0"]', "class")).toContain("upcoming");
    await page.keyboard.press("ArrowRight");
    await expect.poll(stepNow).toBe(String(v.step));
    expect(errors).toEqual([]);
  });

  it("runs pasted text and a file from disk; pasted text travels in the link", async () => {
    await open("#/scenario?sc=asid-global-bad");
    await expect.poll(() => page.textContent("#scenario-name")).toBe("asid-global-bad");
    await page.click("#scenario-paste-toggle");
    // The fix: TLBI VAE1IS by VA (all ASIDs' entries for that VA incl. global) instead of ASIDE1IS.
    await page.fill("#scenario-text", readFileSync(join(ROOT, "examples/scenarios/asid-global-fixed.yaml"), "utf8"));
    await page.click("#scenario-run");
    await expect.poll(() => page.textContent("#scenario-name")).toBe("asid-global-fixed");
    expect(await page.textContent("#scenario-verdict")).toBe("clean");
    expect(page.url()).toMatch(/[?&]y=[A-Za-z0-9_-]+/);
    const link = page.url();
    await page.goto("about:blank");
    await page.goto(link);
    await expect.poll(() => page.textContent("#scenario-name")).toBe("asid-global-fixed");
    // Bad input: one line naming file, line and field.
    await page.click("#scenario-paste-toggle");
    await page.fill("#scenario-text", "steps:\n  - 'P0: frobnicate 1'\n");
    await page.click("#scenario-run");
    await expect.poll(() => page.textContent("#scenario-error")).toContain("pasted.yaml:2: steps[0]");
    // A file from disk (read in the browser, nothing uploaded): jump to its first violation.
    const wx = join(ROOT, "examples/scenarios/wx-bad.yaml");
    const tw = traceScenario(readFileSync(wx, "utf8"), "wx-bad.yaml");
    const vw = tw.reports[0];
    if (!vw) throw new Error("wx-bad reports nothing");
    await page.setInputFiles("#scenario-file", wx);
    await expect.poll(() => page.textContent("#scenario-name")).toBe("wx-bad");
    await page.click("#step-violation");
    await expect.poll(() => page.getAttribute("#scenario-step", "data-step")).toBe(String(vw.step));
    expect(await page.getAttribute(`#scenario-steps tr[data-step="${vw.step}"]`, "class")).toContain("violation");
    expect(await page.getAttribute('.report[data-index="0"]', "data-rule")).toBe(vw.rule);
  });

  it("keeps the scenario runner in the worker and steps a 512-page split without long main-thread tasks", async () => {
    // The core runs in the worker: the main bundle holds only the view (tree-shaken).
    // The main bundle is the module script index.html loads (codec chunks loaded on demand may also
    // be named index-*.js after their package's index file).
    const html = readFileSync(join(ROOT, "web/dist/index.html"), "utf8");
    const main = [...html.matchAll(/<script type="module"[^>]*src="\.\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
    expect(main.length).toBe(1);
    const mainJs = readFileSync(join(ROOT, "web/dist/assets", main[0] as string), "utf8");
    expect(mainJs).not.toContain("tlbSnapshot");
    expect(mainJs).not.toContain("LineCounter");
    // split-bbm0-fixed: a 2M block split into 512 pages (break-before-make, Arm ARM D8.17.1).
    const t = traceScenario(readFileSync(join(ROOT, "examples/scenarios/split-bbm0-fixed.yaml"), "utf8"), "split-bbm0-fixed.yaml");
    await open("#/scenario?sc=split-bbm0-fixed");
    await expect.poll(() => page.textContent("#scenario-name")).toBe("split-bbm0-fixed");
    await watchLongTasks();
    const t0 = Date.now();
    for (let i = 1; i <= t.steps.length; i++) {
      await page.click("#step-next");
      await expect.poll(() => page.getAttribute("#scenario-step", "data-step")).toBe(String(i));
    }
    const stepMs = (Date.now() - t0) / t.steps.length;
    const longest = await longestTask();
    const rows = await page.locator("#cpu-0 table.tlb tbody tr").count();
    writeFileSync(
      join(OUT, "scenario-steps.json"),
      `${JSON.stringify({ scenario: "split-bbm0-fixed", steps: t.steps.length, tlbRowsCpu0: rows, meanStepRoundTripMs: stepMs, longestMainThreadTaskMs: longest }, null, 1)}\n`,
    );
    expect(await page.textContent("#scenario-verdict")).toBe("clean");
    await page.screenshot({ path: join(OUT, "scenario-split.png"), fullPage: false });
  });

  it("offers the files named on the serve command line", async () => {
    await open("#/dump");
    await page.waitForSelector("#dump-served button");
    expect(await page.locator("#dump-served button").allTextContents()).toEqual([
      "ram-tables.bin.gz@0x40000000",
      "machine.json",
      "tables.core.gz",
      "tables.core",
      "registers.txt",
    ]);
  });

  it("opens the files named on the serve command line (fetched from the page origin, not the worker's /assets/)", async () => {
    await open("#/dump");
    await page.waitForSelector("#dump-served button");
    await page.click("#dump-served button >> text=machine.json");
    await expect.poll(() => page.inputValue("#dump-regs")).toContain("TTBR1");
    await page.click("#dump-served button >> text=ram-tables.bin.gz");
    await page.click("#dump-load");
    await page.waitForSelector("#dump-info, #dump-error", { timeout: 180_000 });
    expect(await page.locator("#dump-error").count()).toBe(0);
    await page.click("#dump-ptdump");
    await page.waitForSelector("#ptdump");
    expect(await page.textContent("#ptdump")).toBe(readFileSync(join(FIX, "kernel_page_tables.txt"), "utf8"));
  }, 240_000);
  it("opens an ELF core named on the serve command line (plain: read in ranges; gzip) and prints `vmsa dump`'s ptdump byte for byte", async () => {
    // The CLI on the same files: VMCOREINFO from the core's note gives the version and VA_BITS, so the layout's markers.
    const cli = await vmsa("dump", join(REAL, "tables.core.gz"), "--regs", join(REAL, "registers.txt"));
    expect(cli.code, cli.err).toBe(0);
    for (const core of ["tables.core", "tables.core.gz"]) {
      await open("#/dump");
      await page.waitForSelector("#dump-served button");
      await page.click("#dump-served button >> text=registers.txt");
      await expect.poll(() => page.inputValue("#dump-regs")).toContain("TTBR1_EL1");
      await page.click(`#dump-served button >> text=/^${core.replace(".", "\\.")}$/`);
      await page.click("#dump-load");
      await page.waitForSelector("#dump-info, #dump-error", { timeout: 60_000 });
      expect(await page.locator("#dump-error").count()).toBe(0);
      // Read as the CLI reads it: an ELF core (its PT_LOAD segments), not raw RAM at PA 0.
      expect(await page.textContent("#dump-info .dump-desc")).toContain("ELF core tables.core");
      expect(await page.textContent("#dump-layout")).toContain("version from VMCOREINFO OSRELEASE=6.1.0-56-arm64");
      await page.click("#dump-ptdump");
      await page.waitForSelector("#ptdump");
      expect(await page.textContent("#ptdump")).toBe(cli.out);
    }
    expect(errors).toEqual([]);
  }, 120_000);

  it("opens a snapshot descriptor (machine.json naming its core) as `vmsa dump machine.json` does", async () => {
    const cli = await vmsa("dump", join(REAL, "machine.json"), "--regs", join(REAL, "registers.txt"));
    expect(cli.code, cli.err).toBe(0);
    await open("#/dump");
    await page.setInputFiles("#dump-regs-file", join(REAL, "registers.txt"));
    // The descriptor and the core it names ({"memory": {"core": "tables.core.gz"}}), chosen together.
    await page.setInputFiles("#dump-images", [join(REAL, "machine.json"), join(REAL, "tables.core.gz")]);
    await page.click("#dump-load");
    await page.waitForSelector("#dump-info, #dump-error", { timeout: 60_000 });
    expect(await page.locator("#dump-error").count()).toBe(0);
    await page.click("#dump-ptdump");
    await page.waitForSelector("#ptdump");
    expect(await page.textContent("#ptdump")).toBe(cli.out);
    // Alone, the descriptor names what is missing.
    await open("#/dump");
    await page.setInputFiles("#dump-images", join(REAL, "machine.json"));
    await page.click("#dump-load");
    await expect
      .poll(() => page.textContent("#dump-error"))
      .toContain("machine.json: memory[0].core: tables.core.gz is not among the files chosen");
  }, 60_000);

  it("opens a 1 GiB raw image on demand with no main-thread task over 50 ms", async () => {
    // ram-tables.bin.gz inflated to a sparse 1 GiB file (Linux 6.1's RAM, only its table pages non-zero).
    const big = join(scratch, "ram-1g.bin");
    expect(await inflateSparse(join(FIX, "ram-tables.bin.gz"), big)).toBe(2 ** 30);
    await open("#/dump");
    await page.setInputFiles("#dump-regs-file", join(FIX, "machine.json"));
    await page.setInputFiles("#dump-images", big);
    expect(await page.inputValue(".dump-pa")).toBe("0x40000000");
    // Measured from the click on Load (choosing a 1 GiB file is the browser's own work, before loading starts).
    // A long task is one over 50 ms (Long Tasks API): the main thread only renders, the worker reads.
    // A task is wall-clock time: on a loaded two-core machine (CI runs QEMU boots beside this test) a
    // short render can be descheduled past 50 ms. So the load is repeated up to twice more on a fresh
    // page: reading the file on the main thread would be a long task in every pass, noise is not.
    const passes: number[] = [];
    const loadMs: number[] = [];
    for (let pass = 0; pass < 3 && (passes.length === 0 || Math.min(...passes) > 50); pass++) {
      if (pass > 0) {
        await open("#/dump");
        await page.setInputFiles("#dump-regs-file", join(FIX, "machine.json"));
        await page.setInputFiles("#dump-images", big);
      }
      await watchLongTasks();
      const t0 = Date.now();
      await page.click("#dump-load");
      await page.waitForSelector("#dump-info, #dump-error", { timeout: 120_000 });
      loadMs.push(Date.now() - t0);
      passes.push(await longestTask());
      expect(await page.locator("#dump-error").count()).toBe(0);
    }
    writeFileSync(
      join(OUT, "dump-load-raw.json"),
      `${JSON.stringify({ bytes: 2 ** 30, onDemand: true, loadMs, longestMainThreadTaskMsPerPass: passes }, null, 1)}\n`,
    );
    expect(await page.textContent("#dump-info .dump-desc")).toBe("raw ram-1g.bin@0x40000000");
    expect(Math.min(...passes)).toBeLessThanOrEqual(50);
    await page.click("#dump-ptdump");
    await page.waitForSelector("#ptdump");
    expect(await page.textContent("#ptdump")).toBe(readFileSync(join(FIX, "kernel_page_tables.txt"), "utf8"));
  }, 240_000);
  it("prints a KVM VM's stage2_page_tables from a stage-2 source (VTCR_EL2/VTTBR_EL2, no stage 1) as the kernel's debugfs file", async () => {
    // test/fixtures/kvm-stage2: a real KVM VM's stage-2 table pages (ELF core, gzip) and its EL2 registers;
    // the kernel's own debugfs text (CONFIG_PTDUMP_STAGE2_DEBUGFS) is the expected output, byte for byte.
    for (const vm of ["linux-6.12-4k-small", "linux-6.12-4k-big"]) {
      const dir = join(ROOT, "test/fixtures/kvm-stage2", vm);
      await open("#/dump");
      await page.setInputFiles("#dump-regs-file", join(dir, "registers.txt"));
      await page.setInputFiles("#dump-images", join(dir, "tables.core.gz"));
      await page.click("#dump-load");
      await page.waitForSelector("#dump-info, #dump-error", { timeout: 60_000 });
      expect(await page.locator("#dump-error").count()).toBe(0);
      // No stage-1 registers: the stage-1 ptdump and audit are not offered.
      expect(await page.locator("#dump-ptdump").count()).toBe(0);
      await page.click("#dump-stage2-run");
      await page.waitForSelector("#stage2-text");
      expect(await page.textContent("#stage2-text")).toBe(readFileSync(join(dir, "stage2_page_tables.txt"), "utf8"));
      await page.selectOption("#dump-kvm-file", "ipa_range");
      await page.click("#dump-stage2-run");
      await expect.poll(() => page.textContent("#stage2-text")).toBe(readFileSync(join(dir, "ipa_range.txt"), "utf8"));
    }
    expect(errors).toEqual([]);
  }, 120_000);
  it("shows a live guest (`vmsa serve --gdb`): Refresh re-reads its registers and tables and redraws `vmsa dump --gdb`'s ptdump", async () => {
    // The CLI's --gdb test approach (test/dump/gdb/fake-stub.ts): a gdbstub answering like QEMU's from
    // the real-kernel fixture's memory and gdb registers; the guest's memory is a PhysMem the test edits.
    const d = openDump({ inputs: [join(REAL, "machine.json")], regsFile: join(REAL, "registers.txt"), progress: false });
    const guest = new PhysMem();
    for (const r of d.mem.backedRuns()) {
      const pa = BigInt(r.first) * 4096n;
      guest.writeBytes(pa, d.mem.readBytes(pa, r.count * 4096));
    }
    const regs: Record<string, bigint> = {};
    for (const [k, v] of Object.entries(parseRegisterFile(readFileSync(join(REAL, "registers.txt"), "utf8"), "registers.txt").values)) {
      if (v !== undefined) regs[k === "SCTLR_EL1" ? "SCTLR" : k] = v;
    }
    const stub = await startFakeStub({ mem: guest, regs });
    const live = await startServer({
      host: "127.0.0.1",
      port: 0,
      uiDir: join(ROOT, "web/dist"),
      files: [],
      gdb: { host: "127.0.0.1", port: stub.port },
    });
    const version = "6.1.0-56-arm64";
    const cliLive = async (): Promise<string> => {
      const r = await vmsa("dump", "--gdb", `127.0.0.1:${stub.port}`, "--kernel-version", version);
      expect(r.code, r.err).toBe(0);
      return r.out;
    };
    try {
      const before = await cliLive();
      await page.goto("about:blank");
      await page.goto(`${live.url}#/dump`);
      await page.waitForSelector("#dump-live-refresh");
      await page.fill("#dump-kernel-version", version);
      await page.click("#dump-live-refresh");
      await expect.poll(() => page.textContent("#ptdump"), { timeout: 30_000 }).toBe(before);
      // The running kernel changes a descriptor: the read-only linear-map PTE of 0xffff000000210000 becomes invalid
      // (what `set *(unsigned long *)PA = 0` in gdb, or the kernel's own unmap, does between two refreshes).
      const w = new Walker(guest, d.regs).translate(0xffff000000210000n, { type: "read", el: 1 });
      const pte = w.trail[w.trail.length - 1];
      if (w.kind !== "ok" || !pte) throw new Error("the fixture's linear map no longer maps 0xffff000000210000");
      guest.writeBytes(pte.address, new Uint8Array(8));
      const after = await cliLive();
      expect(after).not.toBe(before);
      await page.click("#dump-live-refresh");
      await expect.poll(() => page.textContent("#ptdump"), { timeout: 30_000 }).toBe(after);
      expect(await page.textContent("#dump-info")).toContain("live QEMU gdbstub");
      expect(errors).toEqual([]);
    } finally {
      await live.close();
      await stub.close();
    }
  }, 120_000);
});
