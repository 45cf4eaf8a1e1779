/** `vmsa scenario`, `vmsa demo`, `vmsa boot`, `vmsa layout`: output, exit status and bad input. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmsa } from "../cli/run.js";

describe("vmsa scenario / demo / boot / layout", () => {
  it("lists scenarios and runs one with the expected exit status", async () => {
    const list = await vmsa("scenario");
    expect(list.code).toBe(0);
    expect(list.out).toContain("kmap-atomic-hotplug");
    const both = await vmsa("scenario", "zero-page");
    expect(both.code).toBe(0);
    expect(both.out).toContain("[zero-page / bad] FLAGGED");
    expect(both.out).toContain("[zero-page / good] clean");
    const bad = await vmsa("scenario", "zero-page", "--variant", "bad", "--format", "json");
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)[0].flagged).toBe(true);
  });

  it("--export writes replayable scenario files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-kernel-"));
    const r = await vmsa("scenario", "kmap-atomic", "--variant", "bad", "--export", dir);
    expect(r.code).toBe(1);
    const text = readFileSync(join(dir, "kmap-atomic-bad.yaml"), "utf8");
    expect(text).toContain("- { rule: protected-reach }");
    const c = await vmsa("check", join(dir, "kmap-atomic-bad.yaml"));
    expect(c.out).toContain("expectations: met");
  });

  it("demo: every verdict as expected", async () => {
    const d = await vmsa("demo");
    expect(d.code).toBe(0);
    expect(d.out).toContain("All bad variants flagged, all good variants clean.");
  });

  it("boot prints the ptdump with markers; layout prints geometry and KASLR", async () => {
    const b = await vmsa("boot", "--granule", "16K", "--va-bits", "47");
    expect(b.code).toBe(0);
    expect(b.out.split("\n")[0]).toBe("---[ Linear Mapping start ]---");
    const l = await vmsa("layout", "--kaslr-seed", "0x5eed");
    expect(l.out).toContain("KASLR: offset 0x200000000000, _text at 0xffffa00008000000, mappings nG");
  });

  it("bad input: exit 2 and a one-line error naming the option", async () => {
    const cases: [string[], RegExp][] = [
      [["scenario", "nope"], /unknown scenario "nope"/],
      [["scenario", "zero-page", "--variant", "worse"], /--variant: "worse"/],
      [["scenario", "zero-page", "--format", "xml"], /--format: "xml"/],
      [["boot", "--granule", "8K"], /--granule: "8K" is not 4K, 16K or 64K/],
      [["boot", "--va-bits", "40"], /--va-bits: 40 is not supported with 4K pages/],
      [["layout", "--kaslr-seed", "xyz"], /--kaslr-seed: "xyz" is not a 64-bit number/],
    ];
    for (const [args, re] of cases) {
      const r = await vmsa(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
  });
});
