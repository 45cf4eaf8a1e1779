/** The translate and dump commands on the built-in real-kernel example. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmsa } from "./run.js";

const EX = join(import.meta.dirname, "../../examples/linux-6.1-4k48");

describe("vmsa dump", () => {
  it("prints the example kernel's ptdump byte for byte", async () => {
    const r = await vmsa("dump", "--example", "linux-6.1-4k48");
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync(join(EX, "kernel_page_tables.txt"), "utf8"));
  });

  it("gives coalesced mappings as JSON", async () => {
    const r = await vmsa(
      "dump",
      "--example",
      "linux-6.1-4k48",
      "-f",
      "json",
      "--start",
      "0xffff000000000000",
      "--end",
      "0xffff000040000000",
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { mappings: { va: string; pa: string; size: string }[] };
    // The linear map of the 1 GiB of RAM at PA 0x40000000 starts at PAGE_OFFSET.
    expect(j.mappings[0]).toMatchObject({ va: "0xffff000000000000", pa: "0x40000000" });
    const total = j.mappings.reduce((s, m) => s + BigInt(m.size), 0n);
    expect(total).toBe(0x4000_0000n);
  });
});

describe("vmsa translate", () => {
  it("prints a vtop-style trace (golden)", async () => {
    const r = await vmsa(
      "translate",
      "--example",
      "linux-6.1-4k48",
      "0xffff000000210000",
      "0xffff800008010000:x",
      "0xffff000000210000:el0:r",
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync(join(import.meta.dirname, "golden/vtop.txt"), "utf8"));
  });

  it("translates many addresses from stdin-like input as JSON with PAR_EL1", async () => {
    const r = await vmsa("translate", "--example", "linux-6.1-4k48", "-f", "json", "0xffff000000210000:S1E1W", "0xffff000000000000");
    const j = JSON.parse(r.out) as { results: { kind: string; par: string; fault?: string; level?: number }[] };
    // The kernel text alias in the linear map is read-only: AT S1E1W gives a level-3 permission fault.
    expect(j.results[0]).toMatchObject({ kind: "fault", fault: "permission", level: 3, par: "0x000000000000081f" });
    expect(j.results[1]).toMatchObject({ kind: "ok", par: "0xff00000040000b80" });
  });
});

describe("real dumps on the command line", () => {
  const F = join(import.meta.dirname, "../fixtures/real-kernel/linux-6.12-16k-ptdump");

  it("dumps a 16K kernel's snapshot with gdb registers: the kernel's own ptdump, byte for byte", async () => {
    const r = await vmsa("dump", join(F, "machine.json"), "--regs", join(F, "registers.txt"));
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync(join(F, "kernel_page_tables.txt"), "utf8"));
  });

  it("translates through a dump given with --dump, reporting where registers came from", async () => {
    const r = await vmsa(
      "translate",
      "--dump",
      join(F, "machine.json"),
      "--regs",
      join(F, "registers.txt"),
      "-f",
      "json",
      "0xffff800080000000",
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { registers: Record<string, string>; results: { half: string }[] };
    expect(j.results[0]?.half).toBe("TTBR1");
    expect(j.registers.TTBR1_EL1).toMatch(/registers\.txt/);
  });

  it("rejects a dump that cannot be opened, naming the file and the reason", async () => {
    const r = await vmsa("dump", join(F, "no-such.core"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: .*no-such\.core: cannot open \(ENOENT: no such file or directory\)\n$/);
  });

  it("rejects a --regs file without any register", async () => {
    const r = await vmsa("translate", "--preset", "linux-4k-48", "--regs", join(F, "kernel_page_tables.txt"), "0x0");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: --regs .*kernel_page_tables\.txt: no register found/);
  });
});
