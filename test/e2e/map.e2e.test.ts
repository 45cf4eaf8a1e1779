/**
 * The Map view in Debian's chromium (issue 15: "the map's fit shows every mapping of the
 * example"): the kernel half of the real Linux 6.1 example is a few islands in 256 TiB, drawn with
 * the large holes as labelled breaks, the kernel's ptdump markers as landmarks, sizes in ptdump's
 * units, and every run a click away from its walk.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vmsa } from "../cli/run.js";
import { skipBecause } from "../helpers/skip.js";
import { type Browser, noChromium, screenshotPath, startBrowser } from "./browser.js";

interface Region {
  readonly start: bigint;
  readonly end: bigint;
  readonly size: string;
  readonly mapped: boolean;
}

/** The kernel's ptdump lines (arch/arm64/mm/ptdump.c note_page: `0x%016lx-0x%016lx %9lu%c LEVEL attrs`) and markers. */
function parsePtdump(text: string): { regions: Region[]; markers: { name: string; at: bigint }[] } {
  const regions: Region[] = [];
  const markers: { name: string; at: bigint | undefined }[] = [];
  for (const line of text.split("\n")) {
    const mk = /^---\[ (.*) \]---$/.exec(line);
    if (mk) {
      markers.push({ name: mk[1] as string, at: undefined });
      continue;
    }
    const m = /^(0x[0-9a-f]{16})-(0x[0-9a-f]{16})\s+(\d+[KMGTPE]) (\w+)(.*)$/.exec(line);
    if (!m) continue;
    const start = BigInt(m[1] as string);
    for (const k of markers) if (k.at === undefined) k.at = start;
    regions.push({ start, end: BigInt(m[2] as string), size: m[3] as string, mapped: (m[5] ?? "").trim() !== "" });
  }
  return { regions, markers: markers.flatMap((k) => (k.at === undefined ? [] : [{ name: k.name, at: k.at }])) };
}

describe.skipIf(skipBecause("map view (chromium)", noChromium()))("map view (chromium)", () => {
  let b: Browser;
  beforeAll(async () => {
    b = await startBrowser();
  }, 180_000);
  afterAll(async () => {
    await b?.close();
  });

  it("fits the real kernel example's mappings: every ptdump region visible, markers as landmarks, ptdump's sizes", async () => {
    const cli = await vmsa("dump", "--example", "linux-6.1-4k48");
    expect(cli.code).toBe(0);
    const { regions, markers } = parsePtdump(cli.out);
    const mapped = regions.filter((r) => r.mapped);
    expect(mapped.length).toBeGreaterThan(20);
    const first = mapped[0] as Region;
    const last = mapped[mapped.length - 1] as Region;

    await b.open("#/map?half=1");
    await b.page.click("#map-fit");
    await b.page.waitForURL(/[?&]e=\d+/);
    await b.ready();
    // Fit = from the first mapping to the last one (the linear map's start to the end of the last island).
    expect(await b.page.textContent("#map-range")).toContain(`0x${first.start.toString(16).padStart(16, "0")} – `);
    expect(await b.page.textContent("#map-range")).toContain(` – 0x${(last.end - 1n).toString(16).padStart(16, "0")}`);

    const items = await b.page.locator("#map-strip .map-item").evaluateAll((gs) =>
      gs.map((g) => ({
        start: g.getAttribute("data-start") ?? "",
        end: g.getAttribute("data-end") ?? "",
        kind: g.getAttribute("data-kind") ?? "",
        size: g.getAttribute("data-size") ?? "",
        width: (g as SVGGraphicsElement).getBoundingClientRect().width,
      })),
    );
    // Every ptdump region in the fitted window has a drawn element of nonzero width over it.
    const inWindow = regions.filter((r) => r.end > first.start && r.start < last.end);
    for (const r of inWindow) {
      const over = items.filter((it) => BigInt(it.start) < r.end && BigInt(it.end) > r.start && it.width >= 1);
      expect(over.length, `${r.start.toString(16)}-${r.end.toString(16)} ${r.size}`).toBeGreaterThan(0);
      // A mapping is drawn as a mapping, never inside a hole's break.
      if (r.mapped)
        expect(
          over.every((it) => it.kind === "leaf"),
          r.start.toString(16),
        ).toBe(true);
    }
    // The islands are separated by breaks, labelled in ptdump's units (no "134216832M").
    const breaks = items.filter((it) => it.kind === "break");
    expect(breaks.length).toBeGreaterThan(0);
    for (const it of items) expect(it.size).toMatch(/^(≈\d+(\.\d)?|\d{1,6})[KMGTPE]$/);
    // Runs that are one ptdump line carry its size, as ptdump prints it.
    let same = 0;
    for (const it of items) {
      const r = regions.find((x) => x.start === BigInt(it.start) && x.end === BigInt(it.end));
      if (r) {
        expect(it.size, it.start).toBe(r.size);
        same++;
      }
    }
    expect(same).toBeGreaterThan(20);
    // The kernel's markers inside the window are landmarks on the strip.
    const names = (
      await b.page.locator("#map-strip .map-marker").evaluateAll((gs) => gs.map((g) => g.getAttribute("data-name") ?? ""))
    ).join(" / ");
    const expected = markers.filter((m) => m.at >= first.start && m.at < last.end);
    expect(expected.length).toBeGreaterThan(4);
    for (const m of expected) expect(names).toContain(m.name);
    // The audit is on the map, counted as `vmsa audit` counts.
    const audit = await vmsa("audit", "--example", "linux-6.1-4k48", "--format", "json");
    const aj = JSON.parse(audit.out) as { findings: { severity: string; kind: string }[] };
    const shown = await b.page.locator("#map-strip .map-finding").count();
    expect(shown).toBe(aj.findings.filter((f) => f.kind !== "missing-table").length);
    // The strip, the audit line and the legend (the listing below is the same data as text).
    await b.page.screenshot({ path: screenshotPath("vmsa-map.png", "map-fit.png"), clip: { x: 0, y: 0, width: 1300, height: 420 } });

    // A click on the kernel text run opens its walk at the run's first VA.
    const text = mapped.find((r) => r.size === "2624K");
    if (!text) throw new Error("the example's ptdump lost its 2624K kernel text run");
    const va = `0x${text.start.toString(16).padStart(16, "0")}`;
    await b.page.click(`#map-strip .map-item[data-start="${va}"]`);
    await b.page.waitForURL(/#\/walk\?/);
    await b.ready();
    expect(new URL(b.page.url()).hash).toContain(`va=${va}`);
    expect(await b.page.textContent("#walk-outcome")).toContain("PA 0x");
    expect(b.errors).toEqual([]);
  }, 180_000);
});
