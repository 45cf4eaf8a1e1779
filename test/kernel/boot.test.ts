/**
 * A booted model kernel, seen through ptdump (golden files: regenerate with
 * UPDATE_GOLDEN=1 npx vitest run test/kernel/boot.test.ts and review the diff).
 * Rules: linux-arm64-mm.md 9, rules 10-12 (segments, W^X after mark_rodata_ro, linear map).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bootKernel } from "../../src/kernel/boot.js";
import { compileRegs } from "../../src/walk/context.js";
import { leafMappings } from "../../src/walk/range.js";

const GOLDEN = join(import.meta.dirname, "golden");

function golden(name: string, text: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, "utf8"));
}

describe("bootKernel", () => {
  it("4K/48: ptdump golden", () => {
    golden("boot-4k48.txt", bootKernel().ptdump());
  });
  it("64K/52 with KASLR and rodata=full: ptdump golden", () => {
    golden("boot-64k52-kaslr-rodata-full.txt", bootKernel({ granule: "64K", vaBits: 52, kaslrSeed: 0x5eedn, rodataFull: true }).ptdump());
  });

  for (const [granule, vaBits] of [
    ["4K", 39],
    ["16K", 47],
    ["64K", 42],
  ] as const) {
    it(`${granule}/${vaBits}: no W+X leaf, every leaf UXN, linear map NX, rodata=full has no blocks/CONT`, () => {
      const b = bootKernel({ granule, vaBits, rodataFull: true });
      const ctx = compileRegs(b.regs);
      let linear = 0;
      // The image alias [_stext, __init_begin) is mapped on its own (NO_CONT only) and may use blocks.
      const aliasStart = b.lm.lmAlias(b.image.pa);
      const aliasEnd = b.lm.lmAlias(b.image.segments[2]?.pa ?? b.image.pa);
      const problems: string[] = [];
      for (const m of leafMappings(b.mem, ctx, b.layout.PAGE_OFFSET, 0n)) {
        const raw = m.raw;
        const at = `0x${m.va.toString(16)}`;
        if (((raw >> 7n) & 1n) === 0n && ((raw >> 53n) & 1n) === 0n) problems.push(`W+X at ${at}`);
        if (((raw >> 54n) & 1n) === 0n) problems.push(`non-UXN at ${at}`);
        if (m.va < b.layout.PAGE_END && (m.va < aliasStart || m.va >= aliasEnd)) {
          linear++;
          if (((raw >> 53n) & 1n) === 0n) problems.push(`executable linear map at ${at}`);
          if (m.level !== 3 || ((raw >> 52n) & 1n) !== 0n) problems.push(`block/CONT in the rodata=full linear map at ${at}`);
        }
      }
      expect(problems.slice(0, 5)).toEqual([]);
      expect(linear).toBeGreaterThan(0);
    });
  }
});
