/**
 * Exact ptdump markers for kernels of different configurations (issue 11 section 3): six kernels
 * built from Debian's linux-source-6.1 (test/dump/real-kernel/build-markers-kernels.sh) whose
 * fixmaps differ (fixmap.h): 4K/48 with ACPI APEI GHES + SDEI + a relocatable KPTI trampoline
 * (Debian's) and without GHES and not relocatable (5 permanent slots fewer); 16K/47 and 64K/52
 * without GHES, relocatable or not (FIX_ENTRY_TRAMP_TEXT4: one slot). Booted in QEMU
 * (capture-markers.ts, `npm run capture:markers`); vmsa's ptdump of the captured tables must equal
 * the kernel's own /sys/kernel/debug/kernel_page_tables byte for byte with the layout from each
 * source in turn (layout-source.ts), and say which source it used. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { vmsa } from "../cli/run.js";

const ROOT = join(import.meta.dirname, "../fixtures/markers");
const kernels = existsSync(ROOT) ? readdirSync(ROOT).sort() : [];
const scratch = mkdtempSync(join(tmpdir(), "vmsa-markers-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number;
  out: string;
  err: string;
}

/** `vmsa dump` of a fixture (text), and its layoutSource from `-f json` with the same arguments. */
async function dump(dir: string, snapshot: string, ...args: string[]): Promise<Run & { kind: string }> {
  const base = [join(dir, snapshot), "--regs", join(dir, "registers.txt"), ...args];
  const r = await vmsa("dump", ...base);
  const j = await vmsa("dump", ...base, "-f", "json");
  const kind = (JSON.parse(j.out) as { layoutSource: { kind: string } }).layoutSource.kind;
  return { ...r, kind };
}

describe("marker fixtures", () => {
  it("has two fixmap configurations for 4K/48 (GHES on/off), 16K/47 and 64K/52 (relocatable or not)", () => {
    expect(kernels).toEqual(["16k47-noghes", "16k47-reloc", "4k48-ghes", "4k48-noghes", "64k52-noghes", "64k52-reloc"]);
  });
});

for (const name of kernels) {
  const dir = join(ROOT, name);
  const own = (): string => readFileSync(join(dir, "kernel_page_tables.txt"), "utf8");
  describe(`Linux 6.1 ${name}: vmsa's ptdump = the kernel's kernel_page_tables`, () => {
    it("with the layout from the kernel's config inside the dump (IKCONFIG), and says so", async () => {
      const r = await dump(dir, "machine.json");
      expect(r.code).toBe(0);
      expect(r.out).toBe(own());
      expect(r.kind).toBe("ikconfig");
      expect(r.err).toMatch(/layout and markers: the kernel's config in the dump \(IKCONFIG at PA 0x[0-9a-f]+/);
    });

    it("without IKCONFIG in the dump: from --kernel-config (a gzip copy, as /proc/config.gz)", async () => {
      const r = await dump(dir, "tables.json", "--kernel-config", join(dir, "config.gz"));
      expect(r.code).toBe(0);
      expect(r.out).toBe(own());
      expect(r.kind).toBe("kernel-config");
    });

    it("without a config: from the kernel's address_markers read from the dump at its System.map address", async () => {
      const r = await dump(dir, "tables.json", "--system-map", join(dir, "System.map"));
      expect(r.code).toBe(0);
      expect(r.out).toBe(own());
      expect(r.kind).toBe("address-markers");
    });

    it("System.map without address_markers: the fixmap options from the symbols present", async () => {
      const map = readFileSync(join(dir, "System.map"), "utf8")
        .split("\n")
        .filter((l) => !l.endsWith(" address_markers"))
        .join("\n");
      const f = join(scratch, `${name}.map`);
      writeFileSync(f, map);
      const r = await dump(dir, "tables.json", "--system-map", f, "--kernel-version", "6.1");
      expect(r.code).toBe(0);
      expect(r.out).toBe(own());
      expect(r.kind).toBe("system-map");
    });

    it("`--markers linux-6.1` goes through the same layout model as --kernel-version", async () => {
      const a = await dump(dir, "tables.json", "--markers", "linux-6.1", "--kernel-config", join(dir, "config.gz"));
      expect(a.out).toBe(own());
      const b = await dump(dir, "machine.json", "--markers", "linux-6.1");
      expect(b.out).toBe(own());
    });

    it("with nothing but the version: Debian's config, a note that the markers are a guess", async () => {
      const r = await dump(dir, "tables.json", "--kernel-version", "6.1");
      expect(r.kind).toBe("defaults");
      expect(r.err).toMatch(/the markers are a guess/);
      // Debian's config has GHES, SDEI and a relocatable KPTI trampoline: right for the -ghes kernel;
      // for the others FIXADDR_START is 4 or 5 pages too low, so "Fixmap start" moves (fixmap.h).
      if (name.endsWith("-ghes")) expect(r.out).toBe(own());
      else {
        expect(r.out).not.toBe(own());
        const fix = (t: string): string | undefined => t.split("\n")[t.split("\n").indexOf("---[ Fixmap start ]---") - 1];
        expect(fix(r.out)).not.toBe(fix(own()));
      }
    });
  });
}

describe("layout source order", () => {
  const dir = join(ROOT, "4k48-noghes");
  it("the dump's IKCONFIG wins over --kernel-config, with a note that the file was not used", async () => {
    // The same config with GHES on would move the fixmap start: the output stays the kernel's own.
    const f = join(scratch, "config-ghes");
    const text = gunzipSync(readFileSync(join(dir, "config.gz"))).toString("latin1");
    writeFileSync(f, `${text}CONFIG_ACPI_APEI_GHES=y\n`);
    const changed = await dump(dir, "tables.json", "--kernel-config", f);
    expect(changed.out).not.toBe(own(dir));
    const r = await dump(dir, "machine.json", "--kernel-config", f);
    expect(r.out).toBe(own(dir));
    expect(r.kind).toBe("ikconfig");
    expect(r.err).toMatch(/--kernel-config .*config-ghes not used: the dump holds the kernel's own config/);
  });

  it("--kernel-config wins over --system-map", async () => {
    const r = await dump(dir, "tables.json", "--kernel-config", join(dir, "config.gz"), "--system-map", join(dir, "System.map"));
    expect(r.kind).toBe("kernel-config");
    expect(r.out).toBe(own(dir));
  });

  it("a config for another page size is refused as bad input (exit 2, one line)", async () => {
    const f = join(scratch, "config-16k");
    writeFileSync(f, "CONFIG_ARM64_16K_PAGES=y\nCONFIG_ARM64_VA_BITS=47\n");
    const r = await vmsa("dump", join(dir, "tables.json"), "--regs", join(dir, "registers.txt"), "--kernel-config", f);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: --kernel-config .*: 16K pages, but TCR_EL1.TG1 of the dump is 4K: not this kernel's config\n$/);
  });
});

describe("layout source files that are not what they claim", () => {
  const dir = join(ROOT, "4k48-noghes");
  const run = (...a: string[]): Promise<Run> => vmsa("dump", join(dir, "tables.json"), "--regs", join(dir, "registers.txt"), ...a);
  it("a missing --kernel-config or --system-map file, or one of another format, is one error line, exit 2", async () => {
    const junk = join(scratch, "junk.map");
    writeFileSync(junk, "ffff800008000000 T _text\nthis is not a symbol\n");
    const cases: [string[], RegExp][] = [
      [["--kernel-config", join(scratch, "nope")], /--kernel-config .*nope: cannot read \(ENOENT/],
      [["--kernel-config", join(dir, "registers.txt")], /--kernel-config .*registers\.txt: not a kernel config/],
      [["--system-map", join(scratch, "nope")], /--system-map .*nope: cannot read \(ENOENT/],
      [["--system-map", junk], /--system-map .*junk\.map:2: expected "ADDRESS TYPE NAME"/],
    ];
    for (const [args, re] of cases) {
      const r = await run(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^vmsa: error: [^\n]*\n$/);
      expect(r.err).toMatch(re);
    }
  });

  it("a System.map whose address_markers does not point at a marker table falls back to the symbols", async () => {
    // Eight bytes into the real array (in the dump): each entry's "name" is then the next marker's
    // address, which is no string, so the table is refused rather than printed.
    const text = readFileSync(join(dir, "System.map"), "utf8");
    const at = BigInt(`0x${/^(\S+) d address_markers$/m.exec(text)?.[1] ?? "0"}`);
    const f = join(scratch, "wrong.map");
    writeFileSync(f, text.replace(/^\S+ d address_markers$/m, `${(at + 8n).toString(16)} d address_markers`));
    const r = await run("--system-map", f, "--kernel-version", "6.1");
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/symbols of --system-map .*address_markers not readable from the dump/);
  });
});

function own(dir: string): string {
  return readFileSync(join(dir, "kernel_page_tables.txt"), "utf8");
}
