/**
 * The test-suite helpers CI relies on: property-test sizing (test/helpers/property.ts), skip
 * reasons (test/helpers/skip.ts) and the real-kernel test's pinned apt sources
 * (test/dump/real-kernel/apt.ts), which must not depend on the host's Debian release.
 */
import { describe, expect, it, vi } from "vitest";
import { aptSettings, DEFAULT_SUITES, sourcesList } from "../dump/real-kernel/apt.js";
import { parseScale, propertyRuns } from "../helpers/property.js";
import { skipBecause } from "../helpers/skip.js";

describe("property test sizing", () => {
  it("runs the CI size by default and scales it for campaigns", () => {
    expect(parseScale(undefined)).toBe(1);
    expect(parseScale("")).toBe(1);
    expect(propertyRuns(15, 1)).toBe(15);
    expect(propertyRuns(15, 20)).toBe(300);
    expect(propertyRuns(40, 0.5)).toBe(20);
    expect(propertyRuns(1, 0.1)).toBe(1);
  });

  it("rejects a scale that is not a positive decimal", () => {
    for (const bad of ["0", "-2", "abc", "1e3", "0x10", " 2"]) expect(() => parseScale(bad), bad).toThrow(/VMSA_PROPERTY_SCALE/);
    expect(parseScale("2.5")).toBe(2.5);
  });
});

describe("skip reasons", () => {
  it("prints what is skipped and why, and returns whether it is skipped", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      expect(skipBecause("browser UI", undefined)).toBe(false);
      expect(warn).not.toHaveBeenCalled();
      expect(skipBecause("browser UI", "/usr/bin/chromium not found")).toBe(true);
      expect(warn.mock.calls).toEqual([["skipped: browser UI: /usr/bin/chromium not found"]]);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("real-kernel packages come from pinned Debian 12 suites", () => {
  it("uses bookworm and bookworm-backports (arm64) whatever the host runs", () => {
    const s = aptSettings({});
    expect(s.suites).toEqual([...DEFAULT_SUITES]);
    expect(sourcesList(s)).toBe(
      "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n" +
        "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main\n",
    );
  });

  it("takes suites, mirror and keyring from the environment", () => {
    const s = aptSettings({
      VMSA_REAL_KERNEL_SUITES: "trixie, trixie-updates",
      VMSA_DEBIAN_MIRROR: "http://m/debian",
      VMSA_DEBIAN_KEYRING: "/k.gpg",
    });
    expect(sourcesList(s)).toBe(
      "deb [arch=arm64 signed-by=/k.gpg] http://m/debian trixie main\ndeb [arch=arm64 signed-by=/k.gpg] http://m/debian trixie-updates main\n",
    );
  });
});
