/** `--explore-budget` durations: a decimal number and a unit; nothing ambiguous gets through. */
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/cli/duration.js";

describe("parseDuration", () => {
  it("reads a number and a unit as milliseconds", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1.5m")).toBe(90_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration(" 45s ")).toBe(45_000);
  });
  it("reads a bare zero (no unit needed) as no time at all", () => {
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("0s")).toBe(0);
  });
  it("rejects a bare non-zero number (seconds or milliseconds?), signs, other radixes and junk", () => {
    for (const t of [
      "30",
      "",
      "s",
      "-1s",
      "+1s",
      "0x10s",
      "1e3s",
      "2 m",
      "2min",
      "1d",
      "1.s",
      ".5s",
      "1,5s",
      "NaNs",
      "Infinitys",
      `${"9".repeat(400)}h`,
    ]) {
      expect(parseDuration(t), t).toBeUndefined();
    }
  });
});
