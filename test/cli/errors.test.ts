/** Bad input gets one clear line naming what and where, exit status 2, and no stack trace. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmsa } from "./run.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-cli-"));
const page = join(dir, "page.bin");
writeFileSync(page, Buffer.alloc(8192));

async function expectError(args: string[], pattern: RegExp): Promise<void> {
  const r = await vmsa(...args);
  expect(r.code).toBe(2);
  const lines = r.err.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^vmsa: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.err).not.toMatch(/\n\s+at /);
}

describe("CLI errors", () => {
  it("rejects malformed hex in a register, naming the register", async () => {
    await expectError(
      ["translate", "--preset", "linux-4k-48", "--ttbr1", "0x12zz", "0xffff000000000000"],
      /TTBR1_EL1: "0x12zz" is not a 64-bit number/,
    );
  });

  it("rejects an unknown preset and lists the known ones", async () => {
    await expectError(["translate", "--preset", "linux-8k-48", "0x0"], /unknown preset "linux-8k-48" \(expected one of: linux-4k-39/);
  });

  it("rejects a TnSZ out of range", async () => {
    await expectError(["translate", "--preset", "linux-4k-48", "--t1sz", "60", "0x0"], /--t1sz: "60" is out of range \(expected 12\.\.48/);
  });

  it("rejects overlapping banks, naming both", async () => {
    await expectError(
      ["translate", "--preset", "linux-4k-48", "--mem", `${page}@0x40000000`, "--mem", `${page}@0x40001000`, "0x0"],
      /page\.bin@0x40001000 \(0x2000 bytes\) overlaps .*page\.bin@0x40000000/,
    );
  });

  it("rejects an unreadable bank", async () => {
    await expectError(
      ["translate", "--preset", "linux-4k-48", "--mem", `${dir}/missing.bin@0x0`, "0x0"],
      /missing\.bin: cannot open \(ENOENT\)/,
    );
  });

  it("rejects a truncated bank, naming the offset", async () => {
    await expectError(
      ["translate", "--preset", "linux-4k-48", "--mem", `${page}@0x40000000:0x4000`, "0x0"],
      /truncated: the file ends at offset 0x2000, expected 0x4000 bytes/,
    );
  });

  it("rejects a damaged gzip-compressed bank in one line", async () => {
    const gz = join(dir, "ram.bin.gz");
    writeFileSync(gz, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
    await expectError(
      ["translate", "--preset", "linux-4k-48", "--mem", `${gz}@0x0`, "0x0"],
      /ram\.bin\.gz: gzip stream is damaged or truncated/,
    );
  });

  it("rejects a VA that is not 64-bit", async () => {
    await expectError(["translate", "--preset", "linux-4k-48", "0x1ffffffffffffffff"], /VA: "0x1ffffffffffffffff" has more than 64 bits/);
  });

  it("rejects a bad access in an input file, naming the line", async () => {
    const f = join(dir, "vas.txt");
    writeFileSync(f, "0xffff000000000000 r\n0xffff000000001000 q\n");
    await expectError(["translate", "--example", "linux-6.1-4k48", "-i", f], /vas\.txt:2: access "q" is not one of/);
  });

  it("rejects a missing register", async () => {
    await expectError(["translate", "0x0"], /TCR_EL1 is not set/);
  });

  it("returns 2 for unknown options", async () => {
    const r = await vmsa("translate", "--bogus");
    expect(r.code).toBe(2);
  });
});
