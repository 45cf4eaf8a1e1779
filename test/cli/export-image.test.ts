/**
 * `vmsa boot --export-image DIR` (issue 11 §6, tables others can load): the exported raw images +
 * snapshot and the ELF load back into vmsa with the same ptdump as the boot itself; the ELF has one
 * PT_LOAD per run of table pages at the physical address (readelf); the C header compiles for
 * AArch64 and holds the same descriptor words.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadInputs } from "../../src/dump/inputs.js";
import { completeRegs, mergeRegs } from "../../src/dump/regfile.js";
import { bootKernel } from "../../src/kernel/boot.js";
import { PhysMem } from "../../src/mem/physmem.js";
import { parseScenario } from "../../src/scenario/format.js";
import { runScenario } from "../../src/scenario/run.js";
import { skipBecause } from "../helpers/skip.js";
import { vmsa } from "./run.js";

const dir = mkdtempSync(join(tmpdir(), "vmsa-export-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const inCi = Boolean(process.env.CI);

function have(cmd: string): string | undefined {
  const r = spawnSync(cmd, ["--version"], { encoding: "utf8" });
  return r.error || r.status !== 0 ? `${cmd} not found (Debian: binutils-aarch64-linux-gnu / gcc-aarch64-linux-gnu)` : undefined;
}
/** Why a check must skip: a missing cross tool locally; never under CI, where the check then fails (qemu/ci-setup.sh installs it). */
function missing(cmd: string): string | undefined {
  const why = have(cmd);
  return why !== undefined && inCi ? undefined : why;
}

const RAM = "40000000:30000000";

describe("vmsa boot --export-image", () => {
  const cases = [
    { name: "4K/48", args: [] as string[] },
    { name: "64K/52 rodata=full KASLR", args: ["--granule", "64K", "--va-bits", "52", "--rodata-full", "--kaslr-seed", "5eed"] },
  ];
  for (const c of cases) {
    it(`round-trips the tables of ${c.name} through the snapshot and the ELF to the same ptdump`, async () => {
      const out = join(dir, c.name.replace(/[^a-z0-9]/gi, "_"));
      const boot = await vmsa("boot", "--ram", RAM, ...c.args, "--export-image", out);
      expect(boot.code).toBe(0);
      expect(boot.out).toContain("---[ "); // a ptdump with markers
      const files = readdirSync(out).sort();
      expect(files).toEqual(expect.arrayContaining(["tables.elf", "tables.h", "tables.json", "tables.markers"]));
      expect(files.some((f) => f.endsWith(".tmp"))).toBe(false);
      const snap = await vmsa("dump", join(out, "tables.json"), "--markers", join(out, "tables.markers"));
      expect(snap.code).toBe(0);
      expect(snap.out).toBe(boot.out);
      // The ELF alone carries the tables; the registers come from the snapshot's values.
      const regs = JSON.parse(readFileSync(join(out, "tables.json"), "utf8")) as { registers: Record<string, string> };
      const regArgs = Object.entries(regs.registers).flatMap(([k, v]) => [`--${k.replace(/_EL1$/, "").toLowerCase()}`, v]);
      const elf = await vmsa("dump", join(out, "tables.elf"), ...regArgs, "--markers", join(out, "tables.markers"));
      expect(elf.code).toBe(0);
      expect(elf.out).toBe(boot.out);
    });
  }

  it.skipIf(skipBecause("export-image readelf check", missing("aarch64-linux-gnu-readelf")))(
    "writes only the table pages: one PT_LOAD per run of frames at its physical address (readelf -l)",
    () => {
      const out = join(dir, "4K_48");
      const b = bootKernel({ memory: [{ base: 0x4000_0000, size: 0x3000_0000 }] });
      const frames = b.mem.backedFrames();
      const r = spawnSync("aarch64-linux-gnu-readelf", ["-W", "-h", "-l", join(out, "tables.elf")], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Machine:\s+AArch64/);
      expect(r.stdout).toMatch(/Type:\s+EXEC/);
      const loads = [
        ...r.stdout.matchAll(/^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S+)/gm),
      ];
      // Runs of consecutive frames, computed independently from the booted memory.
      const runs: [number, number][] = [];
      for (const f of frames) {
        const last = runs[runs.length - 1];
        if (last && last[0] + last[1] === f) last[1]++;
        else runs.push([f, 1]);
      }
      expect(runs.length).toBeGreaterThan(1); // the boot's tables come in two runs (pgd area, fixmap bss)
      expect(loads.map((m) => [BigInt(m[3] ?? ""), BigInt(m[2] ?? ""), BigInt(m[4] ?? "")])).toEqual(
        runs.map(([f, n]) => [BigInt(f) * 4096n, BigInt(f) * 4096n, BigInt(n) * 4096n]),
      );
      const total = loads.reduce((a, m) => a + Number(m[4]), 0);
      expect(total).toBe(frames.length * 4096); // no holes stored
    },
  );

  it.skipIf(skipBecause("export-image C header check", missing("aarch64-linux-gnu-gcc")))(
    "writes a C header that compiles for AArch64 and holds the root table's descriptors",
    () => {
      const out = join(dir, "4K_48");
      const c = join(dir, "use.c");
      writeFileSync(
        c,
        '#include "tables.h"\nconst uint64_t *root(void) { return vmsa_runs[0].data; }\nuint64_t ttbr1(void) { return VMSA_TTBR1_EL1; }\n',
      );
      const obj = join(dir, "use.o");
      const r = spawnSync(
        "aarch64-linux-gnu-gcc",
        ["-std=c11", "-ffreestanding", "-Wall", "-Werror", "-O1", "-I", out, "-c", c, "-o", obj],
        {
          encoding: "utf8",
        },
      );
      expect(r.status, r.stderr).toBe(0);
      // The array's words are the table's bytes: the first run starts at TTBR1 (the pgd).
      const b = bootKernel({ memory: [{ base: 0x4000_0000, size: 0x3000_0000 }] });
      const h = readFileSync(join(out, "tables.h"), "utf8");
      expect(h).toContain(`#define VMSA_TTBR1_EL1 0x${b.regs.ttbr1.toString(16).padStart(16, "0")}ULL`);
      const firstRun = /vmsa_run0\[(\d+)\][^{]*\{([^}]*)\}/.exec(h);
      expect(firstRun).not.toBeNull();
      const words = (firstRun?.[2] ?? "").match(/0x[0-9a-f]+ULL/g)?.map((w) => BigInt(w.slice(0, -3))) ?? [];
      expect(words.length).toBe(Number(firstRun?.[1]));
      for (let i = 0; i < 512; i++) expect(words[i]).toBe(b.mem.read64(b.regs.ttbr1 + BigInt(i * 8)));
    },
  );

  it("vmsa check --export-image writes a scenario's final memory and CPU 0's registers", async () => {
    const file = join("examples", "scenarios", "bbm-oa-fixed.yaml");
    const out = join(dir, "scenario");
    const r = await vmsa("check", file, "--export-image", out);
    expect(r.code).toBe(0);
    // The same scenario run here: every frame it left must be in the export, byte for byte.
    const sc = parseScenario(readFileSync(file, "utf8"), file);
    const mem = new PhysMem();
    runScenario(sc, { mem });
    const back = loadInputs([join(out, "tables.json")], false);
    expect(back.mem.backedFrames()).toEqual(mem.backedFrames());
    for (const f of mem.backedFrames()) {
      const pa = BigInt(f) * 4096n;
      expect(Buffer.from(back.mem.readBytes(pa, 4096)).equals(Buffer.from(mem.readBytes(pa, 4096)))).toBe(true);
    }
    const regs = completeRegs(mergeRegs(...back.regSets)).regs;
    expect([regs.ttbr0, regs.ttbr1, regs.tcr, regs.mair, regs.sctlr]).toEqual([
      sc.regs.ttbr0,
      sc.regs.ttbr1,
      sc.regs.tcr,
      sc.regs.mair,
      sc.regs.sctlr,
    ]);
    const two = await vmsa("check", file, file, "--export-image", out);
    expect(two.code).toBe(2);
  });

  it("fails with exit 2 and one line, leaving no temporary file, when the directory cannot be made", async () => {
    const blocker = join(dir, "a-file");
    writeFileSync(blocker, "x");
    const r = await vmsa("boot", "--export-image", join(blocker, "sub"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: --export-image .*a-file\/sub: cannot create the directory \(ENOTDIR/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(readdirSync(dir).some((f) => f.endsWith(".tmp"))).toBe(false);
  });

  it("refuses a malformed --ram with exit 2 and one error line", async () => {
    const r = await vmsa("boot", "--ram", "40000000", "--export-image", join(dir, "bad"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: --ram: "40000000" is not BASE:SIZE/);
  });
});
