/**
 * The team's number convention (COMMON.md, README "Numbers"): addresses, descriptors and register
 * values are hex with or without 0x, as crash reads them; counts are decimal; sizes are hex or a
 * decimal count with K/M/G. Everything ambiguous or malformed is a ParseError naming the field.
 */
import { describe, expect, it } from "vitest";
import { ParseError } from "../../src/arch/errors.js";
import { parseCount, parseSize, parseU64 } from "../../src/arch/u64.js";

describe("parseU64 (addresses, descriptors, register values)", () => {
  it("reads digit-only values as hex, the same as with 0x", () => {
    expect(parseU64("40530001", "TTBR1_EL1")).toBe(0x40530001n);
    expect(parseU64("0040000040000703", "descriptor")).toBe(0x0040000040000703n);
    expect(parseU64("0x40530001", "TTBR1_EL1")).toBe(0x40530001n);
    expect(parseU64("ffff0000_00000000", "VA")).toBe(0xffff000000000000n);
    expect(parseU64("ffffffff`ffffffff", "VA")).toBe(0xffffffffffffffffn);
  });

  it.each([
    ["", /empty/],
    ["-1", /signed/],
    ["+10", /signed/],
    ["0b101", /ambiguous: 0b\/0o radix prefixes/],
    ["0o17", /ambiguous/],
    ["0x", /not hex digits/],
    ["12zz", /not hex digits/],
    ["1_", /not hex digits/],
    ["0x1ffffffffffffffff", /more than 64 bits/],
  ])("rejects %j", (text, why) => {
    expect(() => parseU64(text, "--ttbr1")).toThrow(ParseError);
    expect(() => parseU64(text, "--ttbr1")).toThrow(why);
    expect(() => parseU64(text, "--ttbr1")).toThrow(/^--ttbr1: /);
  });

  it("accepts leading zeros beyond 16 digits when the value fits", () => {
    expect(parseU64("0x00000000000000000001", "v")).toBe(1n);
  });
});

describe("parseCount (levels, bits, TnSZ, ports)", () => {
  it("is decimal and range-checked", () => {
    expect(parseCount("48", "--va-bits", 36, 52)).toBe(48);
    expect(() => parseCount("0x30", "--va-bits", 36, 52)).toThrow(/counts are decimal/);
    expect(() => parseCount("99", "--va-bits", 36, 52)).toThrow(/"99" is out of range \(expected 36\.\.52\)/);
    expect(() => parseCount("-1", "--level", 0, 3)).toThrow(/not a decimal count/);
    expect(() => parseCount("4.5", "--level", 0, 3)).toThrow(/not a decimal count/);
  });
});

describe("parseSize (FILE@PA:SIZE, --protected START+SIZE)", () => {
  it("is hex like an address, or decimal with a binary K/M/G suffix", () => {
    expect(parseSize("4000", "size")).toBe(0x4000n);
    expect(parseSize("0x4000", "size")).toBe(0x4000n);
    expect(parseSize("16K", "size")).toBe(0x4000n);
    expect(parseSize("64M", "size")).toBe(64n << 20n);
    expect(parseSize("1G", "size")).toBe(1n << 30n);
    expect(() => parseSize("8Q", "--mem x: size")).toThrow(/--mem x: size: "8Q" is not a size/);
    expect(() => parseSize("0x10K", "size")).toThrow(/not a size/);
  });
});
