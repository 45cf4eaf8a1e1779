/**
 * Shared setup of the browser e2e files: Debian's chromium launched by playwright-core
 * (launchChromium, noChromium, used by every e2e file) and, for the files other than
 * ui.e2e.test.ts, startBrowser: the web bundle built into a directory of its own (so e2e files
 * running in parallel never race on web/dist), served by `vmsa serve`'s server, and one page.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { describe, it } from "vitest";
import { type RunningServer, startServer } from "../../src/cli/serve.js";
import type { GdbAddress } from "../../src/dump/gdb/client.js";

export const CHROMIUM = process.env.VMSA_CHROMIUM ?? "/usr/bin/chromium";
export const ROOT = resolve(import.meta.dirname, "../..");
export const OUT = join(ROOT, "out/e2e");

/** Why the browser tests cannot run here (undefined: they can). Under CI=true a missing chromium is a failing test. */
export function noChromium(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI === "true") {
    describe("browser e2e", () => {
      it("needs chromium (apt-get install -y chromium)", () => {
        throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) for the e2e tests`);
      });
    });
  }
  return `${CHROMIUM} not found (apt-get install -y chromium, or set VMSA_CHROMIUM)`;
}

/** Debian's chromium, headless, with a fresh profile directory (the caller removes it). */
export function launchChromium(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1300, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Where a screenshot goes: the README's copy under VMSA_DOCS_SCREENSHOT=1, else out/e2e/. */
export function screenshotPath(docsName: string, outName: string): string {
  return process.env.VMSA_DOCS_SCREENSHOT === "1" ? join(ROOT, "docs", docsName) : join(OUT, outName);
}

export interface Browser {
  readonly page: Page;
  readonly url: string;
  /** Errors the page logged or threw. */
  readonly errors: string[];
  /** A fresh page load of `hash`, waiting for the example and the ready signal. */
  open(hash: string): Promise<void>;
  /** Waits for the ready signal (README: `#app[data-ready="true"]`). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** `gdb`: the server's live guest, as `vmsa serve --gdb HOST:PORT` (the Dump view's Live section). */
export async function startBrowser(opts: { gdb?: GdbAddress } = {}): Promise<Browser> {
  const dist = mkdtempSync(join(tmpdir(), "vmsa-web-"));
  await build({ configFile: join(ROOT, "web/vite.config.ts"), logLevel: "warn", build: { outDir: dist, emptyOutDir: true } });
  mkdirSync(OUT, { recursive: true });
  const server: RunningServer = await startServer({
    host: "127.0.0.1",
    port: 0,
    uiDir: dist,
    files: [],
    ...(opts.gdb ? { gdb: opts.gdb } : {}),
  });
  const profile = mkdtempSync(join(tmpdir(), "vmsa-chromium-"));
  let context: BrowserContext | undefined;
  try {
    context = await launchChromium(profile);
  } catch (e) {
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dist, { recursive: true, force: true });
    throw e;
  }
  const ctx = context;
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  const ready = async (): Promise<void> => {
    await page.waitForSelector('#app[data-ready="true"]', { timeout: 60_000 });
  };
  return {
    page,
    url: server.url,
    errors,
    ready,
    async open(hash: string) {
      await page.goto("about:blank");
      await page.goto(`${server.url}${hash}`);
      await ready();
    },
    async close() {
      await ctx.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
      rmSync(dist, { recursive: true, force: true });
    },
  };
}
