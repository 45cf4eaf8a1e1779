/**
 * Issue 10 §3, "every bad input is one line": numbers under the hex convention, unknown values,
 * commander's own errors, filesystem errors, gzip inputs, the snapshot format and serve's address.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { readMarkers } from "../../src/cli/dump.js";
import { serveBanner } from "../../src/cli/serve.js";
import { ACCESS_TOKENS } from "../../src/cli/translate.js";
import { vmsa } from "./run.js";

const EX = join(import.meta.dirname, "../../examples/linux-6.1-4k48");
const example = JSON.parse(readFileSync(join(EX, "example.json"), "utf8")) as {
  registers: Record<string, string>;
  memory: { file: string; load_at: string }[];
};
const dir = mkdtempSync(join(tmpdir(), "vmsa-bad-input-"));

/** The example's registers as command-line flags. */
const REG_FLAGS = [
  ["--ttbr1", "TTBR1_EL1"],
  ["--tcr", "TCR_EL1"],
  ["--mair", "MAIR_EL1"],
  ["--sctlr", "SCTLR_EL1"],
  ["--id-aa64mmfr0", "ID_AA64MMFR0_EL1"],
  ["--id-aa64mmfr1", "ID_AA64MMFR1_EL1"],
  ["--id-aa64mmfr2", "ID_AA64MMFR2_EL1"],
].flatMap(([flag, name]) => [flag as string, example.registers[name as string] as string]);
const BANKS = example.memory.map((m) => `${join(EX, m.file)}@${m.load_at}`);

async function expectError(args: string[], pattern: RegExp): Promise<void> {
  const r = await vmsa(...args);
  expect(r.err).not.toMatch(/\n\s+at /);
  const lines = r.err.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^vmsa: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.code).toBe(2);
}

describe("numbers: addresses, descriptors and register values are hex, 0x optional", () => {
  it("describe reads a digit-only descriptor as hex", async () => {
    const r = await vmsa("describe", "0040000040000703");
    expect(r.code).toBe(0);
    // A 4K level-3 page descriptor: OA bits [47:12] = 0x40000, AF (bit 10), SH=3 (bits [9:8]), UXN (bit 54).
    expect(JSON.parse(r.out).descriptor).toMatchObject({ kind: "page", raw: "0x40000040000703", oa: "0x40000000", uxn: true });
  });

  it("--ttbr1 40530001 is --ttbr1 0x40530001", async () => {
    const va = "0xffff000000210000";
    const a = await vmsa("translate", "--example", "linux-6.1-4k48", "--ttbr1", "40530001", "-f", "json", va);
    const b = await vmsa("translate", "--example", "linux-6.1-4k48", "--ttbr1", "0x40530001", "-f", "json", va);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.out).results).toEqual(JSON.parse(b.out).results);
    expect(JSON.parse(a.out).results[0].kind).toBe("ok");
  });

  it("translate's VA arguments and address-list files read digit-only VAs as hex", async () => {
    const f = join(dir, "vas.txt");
    writeFileSync(f, "1000 r\n");
    const r = await vmsa("translate", "--example", "linux-6.1-4k48", "-f", "json", "-i", f, "2000");
    // The example has no TTBR0 tables: the walks are inconclusive (3), but the VAs were read.
    expect(r.code).toBe(3);
    expect(JSON.parse(r.out).results.map((x: { va: string }) => x.va)).toEqual(["0x0000000000002000", "0x0000000000001000"]);
  });

  it("FILE@PA reads the PA as hex without 0x, and SIZE as hex or with a K/M/G suffix", async () => {
    const bank = example.memory[0] as { file: string; load_at: string };
    const file = join(EX, bank.file);
    const size = readFileSync(file).length;
    const pa = bank.load_at.replace(/^0x/, "");
    const results = async (spec: string): Promise<unknown> => {
      const r = await vmsa("translate", "--mem", spec, ...REG_FLAGS, "-f", "json", "0xffff000000210000");
      expect(r.code, spec).not.toBe(2); // one bank alone leaves lower tables missing (3)
      return JSON.parse(r.out).results;
    };
    const ref = await results(`${file}@${bank.load_at}`);
    for (const spec of [`${file}@${pa}`, `${file}@${pa}:${size.toString(16)}`, `${file}@${pa}:${size / 1024}K`]) {
      expect(await results(spec)).toEqual(ref);
    }
    // The same spec given as a positional dump input is recognised as a bank, size and all.
    const d = await vmsa("dump", `${file}@${pa}:${size.toString(16)}`, ...REG_FLAGS, "-f", "json");
    expect(d.code).not.toBe(2);
    await expectError(["translate", "--mem", `${file}@${pa}:8Q`, ...REG_FLAGS, "0x0"], /size: "8Q" is not a size/);
  });

  it("register files read digit-only values as hex", async () => {
    const f = join(dir, "regs-hex.txt");
    writeFileSync(f, "TTBR1_EL1 3a000040530001\nTCR_EL1=14001b5b5503510\n");
    const r = await vmsa("translate", "--example", "linux-6.1-4k48", "--regs", f, "-f", "json", "0xffff000000210000");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.registers.TTBR1_EL1).toBe(`file ${f}`);
    expect(j.results[0].kind).toBe("ok");
  });

  it("marker files read digit-only addresses as hex", () => {
    const f = join(dir, "markers.txt");
    writeFileSync(f, "1000 low\nffff000000000000 Linear Mapping start\n");
    expect(readMarkers(f).map((m) => m.address)).toEqual([0x1000n, 0xffff000000000000n]);
  });

  it.each(["translate", "dump", "audit", "diff", "describe", "find-tables", "boot", "layout", "serve"])(
    "%s --help states the number convention",
    async (c) => {
      const r = await vmsa(c, "--help");
      expect(r.out).toMatch(/^Numbers: .*hex with or without 0x/m);
    },
  );

  it("an empty value is refused, not taken as absent", async () => {
    await expectError(["describe", "--tcr", ""], /--tcr: "" is not a 64-bit number \(empty/);
    await expectError(["translate", "--example", "", "0x0"], /--example: unknown example ""/);
    await expectError(
      ["translate", "--example", "linux-6.1-4k48", "--id-aa64mmfr1", "", "0x0"],
      /ID_AA64MMFR1_EL1: "" is not a 64-bit number/,
    );
  });

  it("counts are decimal: --t1sz 0x10 is refused", async () => {
    await expectError(["translate", "--preset", "linux-4k-48", "--t1sz", "0x10", "0x0"], /--t1sz: "0x10" is not a decimal count/);
  });

  it("rejects ambiguous or malformed values naming the option", async () => {
    await expectError(["describe", "0b1011"], /descriptor: "0b1011" is ambiguous/);
    await expectError(
      ["translate", "--example", "linux-6.1-4k48", "--ttbr1", "-40530001", "0x0"],
      /TTBR1_EL1: "-40530001" is not a 64-bit number \(signed/,
    );
  });
});

describe("unknown or misspelt values are errors", () => {
  it("describe -f text prints text, -f yaml is refused", async () => {
    const t = await vmsa("describe", "-f", "text", "0x0040000040000703");
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/^descriptor:\n {2}kind: page\n/);
    expect(() => JSON.parse(t.out)).toThrow();
    await expectError(["describe", "-f", "yaml", "0x3"], /--format: "yaml" is not json or text/);
  });

  it("--kernel-version banana is refused, with --mem and with a positional bank", async () => {
    await expectError(
      ["dump", "--mem", BANKS[0] as string, ...REG_FLAGS, "--kernel-version", "banana"],
      /--kernel-version "banana": expected a version/,
    );
    await expectError(["dump", BANKS[0] as string, ...REG_FLAGS, "--kernel-version", "6.1banana"], /--kernel-version "6\.1banana"/);
  });

  it("--va-bits 99 with --example is refused", async () => {
    await expectError(["dump", "--example", "linux-6.1-4k48", "--va-bits", "99"], /--va-bits: "99" is out of range \(expected 36\.\.52\)/);
  });

  it("a register file line naming a register with a bad value is refused, naming the line", async () => {
    const f = join(dir, "regs-bad.txt");
    writeFileSync(f, "X0 0x1\nTCR_EL1 0xzz\n");
    await expectError(
      ["translate", "--example", "linux-6.1-4k48", "--regs", f, "0x0"],
      /regs-bad\.txt:2: TCR_EL1: "0xzz" is not a 64-bit number/,
    );
    await expectError(["dump", BANKS[0] as string, "--regs", f], /regs-bad\.txt:2: TCR_EL1: "0xzz"/);
  });

  it("a JSON register given as a number is refused (JSON numbers are decimal, ours hex)", async () => {
    const f = join(dir, "regs.json");
    writeFileSync(f, JSON.stringify({ TTBR1_EL1: 40530001 }));
    await expectError(["translate", "--example", "linux-6.1-4k48", "--regs", f, "0x0"], /TTBR1_EL1: expected a hex string/);
  });

  it("describe -l -1 needs --ds and a 4K granule (level -1 exists only for 52-bit 4K tables, FEAT_LPA2)", async () => {
    await expectError(["describe", "-l", "-1", "0x3"], /--level -1 exists only with --ds and a 4K granule/);
    await expectError(["describe", "-g", "16K", "--ds", "-l", "-1", "0x3"], /--level -1 exists only/);
    const ok = await vmsa("describe", "--ds", "-l", "-1", "0x3");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).descriptor.level).toBe(-1);
  });

  it("commander's own errors are one line with a --help hint", async () => {
    await expectError(["translate", "--bogus"], /unknown option '--bogus' \(see `vmsa translate --help`\)/);
    await expectError(["bogus"], /unknown command 'bogus' \(see `vmsa --help`\)/);
    await expectError(["scenario", "zero-page", "--export"], /option '--export <dir>' argument missing \(see `vmsa scenario --help`\)/);
    await expectError(["diff", "a.core"], /missing required argument 'b' \(see `vmsa diff --help`\)/);
  });

  it("a binary file given as --markers is one line, without its bytes", async () => {
    const f = join(dir, "markers.bin");
    writeFileSync(f, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff, 0xfe, 0x0a, 0x41]));
    await expectError(
      ["dump", "--example", "linux-6.1-4k48", "--markers", f],
      /--markers .*markers\.bin: not a text file \(NUL byte at offset 0x4\)/,
    );
  });
});

describe("translate's access tokens: help, error and parser agree", () => {
  it("every token the help lists is accepted, and S1E1R+pan is neither listed nor accepted", async () => {
    const help = (await vmsa("translate", "--help")).out.replace(/\s+/g, " ");
    const listed = /default access: (.+?) \(default: "r"\)/.exec(help)?.[1]?.split(", ") ?? [];
    expect(listed).toEqual(Object.keys(ACCESS_TOKENS));
    expect(listed).toContain("S1E1RP");
    expect(listed).toContain("S1E1WP");
    expect(listed).not.toContain("S1E1R+pan");
    for (const a of listed) {
      const r = await vmsa("translate", "--example", "linux-6.1-4k48", "-a", a, "-f", "json", "0xffff000000210000");
      expect(r.code, a).toBe(0);
    }
    const bad = await vmsa("translate", "--example", "linux-6.1-4k48", "-a", "S1E1R+pan", "0x0");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`is not one of ${listed.join(", ")}`);
  });

  it("S1E1RP is a read at EL1 with PSTATE.PAN set (AT S1E1RP: PAN-aware AT, FEAT_PAN2; ASL AArch64_AT)", async () => {
    const r = await vmsa("translate", "--example", "linux-6.1-4k48", "-a", "S1E1RP", "-f", "json", "0xffff000000210000");
    expect(JSON.parse(r.out).results[0].access).toEqual({ type: "read", el: 1, pan: true });
  });
});

describe("the two ways of naming memory behave the same", () => {
  it("--kernel-version applies to --mem banks as to positional FILE@PA", async () => {
    const layout = ["--kernel-version", "6.1", "--va-bits", "48", "--fixmap-size", "0x407000"];
    const pos = await vmsa("dump", ...BANKS, ...REG_FLAGS, ...layout);
    const mem = await vmsa("dump", ...BANKS.flatMap((b) => ["--mem", b]), ...REG_FLAGS, ...layout);
    expect(pos.code).toBe(0);
    expect(mem.code).toBe(0);
    expect(mem.out).toBe(pos.out);
    // With the 6.1 layout the markers are the kernel's own (the golden kernel_page_tables).
    expect(mem.out).toBe(readFileSync(join(EX, "kernel_page_tables.txt"), "utf8"));
  });
});

describe("gzip-compressed inputs are accepted (recognised by their magic)", () => {
  it("a gzipped bank dumps like the raw one, whatever its name", async () => {
    const gzBanks = example.memory.map((m, i) => {
      const f = join(dir, `bank${i}.img`);
      writeFileSync(f, gzipSync(readFileSync(join(EX, m.file))));
      return `${f}@${m.load_at}`;
    });
    const raw = await vmsa("dump", ...BANKS, ...REG_FLAGS, "-f", "json");
    const gz = await vmsa("dump", ...gzBanks, ...REG_FLAGS, "-f", "json");
    expect(gz.code).toBe(0);
    expect(JSON.parse(gz.out).mappings).toEqual(JSON.parse(raw.out).mappings);
  });

  it("a corrupt gzip is one error line", async () => {
    const f = join(dir, "corrupt.gz");
    const good = gzipSync(Buffer.alloc(8192, 7));
    writeFileSync(f, good.subarray(0, good.length - 12));
    await expectError(["dump", `${f}@40000000`, ...REG_FLAGS], /corrupt\.gz: gzip stream is damaged or truncated/);
  });
});

describe("the snapshot format", () => {
  it("the shipped example is a snapshot: dump example.json equals dump --example", async () => {
    const a = await vmsa("dump", join(EX, "example.json"));
    const b = await vmsa("dump", "--example", "linux-6.1-4k48");
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    const ja = await vmsa("dump", join(EX, "example.json"), "-f", "json");
    const jb = await vmsa("dump", "--example", "linux-6.1-4k48", "-f", "json");
    expect(JSON.parse(ja.out).mappings).toEqual(JSON.parse(jb.out).mappings);
  });

  it("a bad field is one line naming it", async () => {
    const f = join(dir, "snap.json");
    writeFileSync(f, JSON.stringify({ memory: [{ file: "x.bin", load_at: 1073741824 }] }));
    await expectError(["dump", f], /snap\.json: memory\[0\]: expected \{"file": "FILE", "load_at": "0x\.\.\."\}/);
    writeFileSync(f, JSON.stringify({ memory: { core: "c.core" }, va_bits: 99 }));
    await expectError(["dump", f], /c\.core: cannot open \(ENOENT: no such file or directory\)/);
  });
});

describe("filesystem errors name the path and the reason", () => {
  it("-o naming a directory: EISDIR, nothing left behind", async () => {
    const out = join(dir, "outdir");
    mkdirSync(out, { recursive: true });
    await expectError(["dump", "--example", "linux-6.1-4k48", "-o", out], /output .*outdir: cannot write \(EISDIR: is a directory\)/);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("-o in a missing directory: ENOENT, no *.tmp file", async () => {
    const out = join(dir, "nowhere", "kpt.txt");
    await expectError(
      ["dump", "--example", "linux-6.1-4k48", "-o", out],
      /nowhere\/kpt\.txt: cannot write \(ENOENT: no such file or directory\)/,
    );
    expect(existsSync(join(dir, "nowhere"))).toBe(false);
  });

  it("-o below a regular file: ENOTDIR", async () => {
    const f = join(dir, "plain.txt");
    writeFileSync(f, "x");
    await expectError(["dump", "--example", "linux-6.1-4k48", "-o", join(f, "kpt.txt")], /plain\.txt\/kpt\.txt: cannot write \(ENOTDIR/);
  });

  it("a directory given as an input file is one line", async () => {
    await expectError(["dump", "--example", "linux-6.1-4k48", "--markers", dir], /--markers .*: cannot read \(EISDIR: is a directory\)/);
    await expectError(["translate", "--example", "linux-6.1-4k48", "--regs", dir, "0x0"], /--regs .*: cannot read \(EISDIR/);
    await expectError(["translate", "--example", "linux-6.1-4k48", "-i", dir], /--input .*: cannot read \(EISDIR/);
    await expectError(["dump", dir], /cannot (open|read)/);
    await expectError(["dump", `${dir}@40000000`, ...REG_FLAGS], /not a regular file|EISDIR/);
  });

  it("scenario --export creates its directory (the README's example)", async () => {
    const out = join(dir, "export", "kernel");
    const r = await vmsa("scenario", "zero-page", "--export", out);
    expect(r.err).toBe("");
    expect(readdirSync(out).sort()).toEqual(["zero-page-bad.yaml", "zero-page-good.yaml"]);
  });
});

describe("serve --host", () => {
  it("0.0.0.0 prints the real address and warns that the UI is reachable from the network", () => {
    const b = serveBanner("0.0.0.0", 8080, [], ["192.0.2.7"]);
    expect(b.line).toBe("vmsa UI on http://0.0.0.0:8080/");
    expect(b.warning).toMatch(/^vmsa: warning: --host 0\.0\.0\.0 listens on all network interfaces: http:\/\/192\.0\.2\.7:8080\//);
    expect(b.warning).toMatch(/reachable from other machines/);
  });

  it("loopback prints its address and no warning", () => {
    expect(serveBanner("127.0.0.1", 8080, [], [])).toEqual({ line: "vmsa UI on http://127.0.0.1:8080/" });
  });
});
