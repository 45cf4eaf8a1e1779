/**
 * `--gdb HOST:PORT` end to end against the fake gdbstub (./fake-stub.ts) serving the real-kernel
 * fixtures' memory and registers: the live read must give exactly what the saved dump gives,
 * read only table pages, turn an unreadable table into missing data (exit 3), detach at the end,
 * and reject a wrong target in one line (exit 2).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDump } from "../../../src/dump/inputs.js";
import { parseRegisterFile } from "../../../src/dump/regfile.js";
import { vmNumber, vmValue } from "../../../src/dump/vmcoreinfo.js";
import { compileRegs } from "../../../src/walk/context.js";
import { Walker } from "../../../src/walk/walker.js";
import { vmsa } from "../../cli/run.js";
import { tablePages } from "../real-kernel/capture.js";
import { type FakeStub, startFakeStub } from "./fake-stub.js";

const FIX = join(import.meta.dirname, "../../fixtures/real-kernel");

let stub: FakeStub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

/** A fake QEMU serving a fixture, plus the arguments for the same dump from its files. */
async function serveFixture(name: string, opts: { failRead?: number; mutate?: (d: ReturnType<typeof openDump>) => void } = {}) {
  const dir = join(FIX, name);
  const files = [join(dir, "machine.json"), "--regs", join(dir, "registers.txt")];
  const d = openDump({ inputs: [join(dir, "machine.json")], regsFile: join(dir, "registers.txt"), progress: false });
  const raw = parseRegisterFile(readFileSync(join(dir, "registers.txt"), "utf8"), "registers.txt").values;
  const regs: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) regs[k === "SCTLR_EL1" ? "SCTLR" : k] = v;
  opts.mutate?.(d);
  const failRead = opts.failRead;
  stub = await startFakeStub({
    mem: d.mem,
    regs,
    ...(failRead !== undefined ? { override: (b: string) => (b.startsWith(`m${failRead.toString(16)},`) ? "E14" : undefined) } : {}),
  });
  // The live guest has no VMCOREINFO to read: the layout comes from the flags the user gives.
  const release = d.vmcoreinfo ? vmValue(d.vmcoreinfo, "OSRELEASE") : undefined;
  const vaBits = d.vmcoreinfo ? vmNumber(d.vmcoreinfo, "VA_BITS") : undefined;
  const layout = [...(release ? ["--kernel-version", release] : []), ...(vaBits !== undefined ? ["--va-bits", String(vaBits)] : [])];
  return { d, files, layout, gdb: ["--gdb", `127.0.0.1:${stub.port}`] };
}

describe("vmsa dump --gdb", () => {
  // 4K 4-level, 16K with FEAT_LPA2 (TCR.DS=1: the address field of table descriptors moves), 4K 52-bit (5 levels, start level -1).
  for (const name of ["linux-6.1-4k48", "linux-6.12-16k52", "linux-6.12-4k52"]) {
    it(`${name}: the same ptdump as the saved dump, reading each table page once and nothing else, then detaching`, async () => {
      const f = await serveFixture(name);
      const saved = await vmsa("dump", ...f.files);
      const live = await vmsa("dump", ...f.gdb, ...f.layout);
      // Only the line naming the layout source (a live read does not search RAM for IKCONFIG).
      expect(live.err).toMatch(/^vmsa: note: layout and markers: [^\n]*\n$/);
      expect(live.code).toBe(0);
      expect(saved.code).toBe(0);
      expect(live.out).toBe(saved.out);
      // Only table pages were read, each once (ASL AArch64.S1Walk reads only descriptors).
      const g = compileRegs(f.d.regs).halves[1].granule.size;
      const pages = new Set(tablePages(f.d).map((p) => Number(p)));
      const s = stub as FakeStub;
      const readPages = s.reads.map((r) => r.addr - (r.addr % g));
      for (const p of readPages) expect(pages.has(p), `read of 0x${p.toString(16)}`).toBe(true);
      expect(new Set(readPages).size).toBe(pages.size);
      const bytes = s.reads.reduce((n, r) => n + r.len, 0);
      expect(bytes).toBeLessThanOrEqual(pages.size * g);
      expect(s.requests).toContain("Qqemu.PhyMemMode:1");
      expect(s.requests[s.requests.length - 1]).toBe("D"); // detached: QEMU resumes the guest
    });
  }

  it("JSON names the gdbstub as the source of each register and of the memory", async () => {
    const f = await serveFixture("linux-6.1-4k48");
    const r = await vmsa("dump", ...f.gdb, "--format", "json", "--start", "0xffff800008000000", "--end", "0xffff800008200000");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { registers: Record<string, string>; complete: boolean };
    expect(j.complete).toBe(true);
    expect(j.registers.TTBR1_EL1).toMatch(/^gdbstub 127\.0\.0\.1:\d+ TTBR1_EL1 \(regnum \d+\)$/);
    expect(j.registers.SCTLR_EL1).toMatch(/ SCTLR \(regnum/);
    expect(j.registers.memory).toMatch(/^live QEMU gdbstub .*: \d+ table pages/);
  });

  it("a table the stub cannot read is missing data: a MISSING line and exit 3, never a clean dump", async () => {
    const probe = await serveFixture("linux-6.1-4k48");
    // A level-3 table of the kernel image: the last table page of the tree.
    const pages = tablePages(probe.d);
    const victim = Number(pages[pages.length - 1]);
    await stub?.close();
    const f = await serveFixture("linux-6.1-4k48", { failRead: victim });
    const r = await vmsa("dump", ...f.gdb, ...f.layout);
    expect(r.code).toBe(3);
    expect(r.out).toContain(`MISSING table at PA 0x${victim.toString(16)}`);
    expect(r.err).toMatch(/vmsa: warning: .*missing/i);
  });
});

describe("vmsa translate --gdb", () => {
  it("gives the saved dump's answers for QEMU's VAs, reading only the tables on their walk paths", async () => {
    const f = await serveFixture("linux-6.1-4k48");
    const qemu = JSON.parse(readFileSync(join(FIX, "linux-6.1-4k48", "qemu-gva2gpa.json"), "utf8")) as Record<string, string | null>;
    const vas = Object.keys(qemu).slice(0, 12);
    const saved = await vmsa("translate", "--dump", f.files[0] as string, "--regs", f.files[2] as string, "-f", "json", ...vas);
    const live = await vmsa("translate", ...f.gdb, "-f", "json", ...vas);
    expect(live.code).toBe(0);
    const res = (o: string) => (JSON.parse(o) as { results: unknown[] }).results;
    expect(res(live.out)).toEqual(res(saved.out));
    for (const [i, va] of vas.entries()) {
      const r = res(live.out)[i] as { pa?: string };
      expect(r.pa ?? null, va).toBe(qemu[va]);
    }
    // At most one table per level per VA (4 levels at 4K/48-bit): far fewer than the whole tree.
    const frames = new Set((stub as FakeStub).reads.map((r) => r.addr >> 12));
    expect(frames.size).toBeLessThanOrEqual(4 * vas.length);
    expect(frames.size).toBeLessThan(tablePages(f.d).length);
  });
});

describe("translate --gdb picks the half by VA bit 55", () => {
  it("a user VA walks TTBR0's tables: unreadable in this guest, so missing (exit 3), not a fault", async () => {
    // The fixture keeps only TTBR1's tables; TTBR0 (from registers.txt) names a table the stub cannot read.
    const f = await serveFixture("linux-6.1-4k48");
    const ttbr0 = f.d.regs.ttbr0 & 0xfffffffff000n;
    expect(ttbr0).not.toBe(0n);
    const r = await vmsa("translate", ...f.gdb, "-f", "json", "0x400000", "0xffff800008010000");
    expect(r.code).toBe(3);
    const res = (JSON.parse(r.out) as { results: { kind: string; missing?: { table: string } }[] }).results;
    expect(res[0]?.kind).toBe("missing");
    expect(res[0]?.missing?.table).toBe(`0x${ttbr0.toString(16)}`);
    expect(res[1]?.kind).toBe("ok");
    // ASL AArch64.S1TTWParamsEL10: VA[55] = 0 selects TTBR0_EL1, so its root was the first table read.
    const reads = (stub as FakeStub).reads.map((x) => x.addr);
    expect(reads[0]).toBe(Number(ttbr0));
  });
});

describe("vmsa audit --gdb", () => {
  it("the kernel's W+X verdict line, as from the saved dump", async () => {
    const f = await serveFixture("linux-6.1-4k48");
    const saved = await vmsa("audit", ...f.files, "--no-user-half");
    const live = await vmsa("audit", ...f.gdb, ...f.layout, "--no-user-half");
    expect(live.code).toBe(saved.code);
    expect(live.out).toBe(saved.out);
    expect(live.out).toContain("Checked W+X mappings: passed");
  });
});

describe("vmsa diff SNAPSHOT --gdb", () => {
  it("the live guest is B: nothing changed against its own snapshot (exit 0)", async () => {
    const f = await serveFixture("linux-6.1-4k48");
    // The fixture keeps only the TTBR1 tables: compare the kernel half.
    const r = await vmsa("diff", ...f.files, ...f.gdb, "--half", "1");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  });

  it("a PTE made read-only in the live guest is one permission-only change (exit 1)", async () => {
    let changed = 0n;
    const f = await serveFixture("linux-6.1-4k48", {
      mutate: (d) => {
        // The leaf of the first linear-map page (RW at EL1): set AP[2], read-only (Arm ARM D8.4.1 AP[2:1]).
        const r = new Walker(d.mem, d.regs).translate(0xffff000000000000n, { type: "write", el: 1 });
        const leaf = r.trail[r.trail.length - 1];
        if (r.kind !== "ok" || !leaf || leaf.value === undefined) return;
        d.mem.write64(leaf.address, leaf.value | (1n << 7n));
        changed = leaf.address;
      },
    });
    expect(changed).not.toBe(0n);
    const r = await vmsa("diff", ...f.files, ...f.gdb, "--half", "1", "--format", "json");
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { counts: Record<string, number> };
    expect(j.counts).toEqual({ new: 0, removed: 0, "permission-only": 1, "break-before-make": 0 });
  });

  it("needs exactly one of B and --gdb", async () => {
    const f = await serveFixture("linux-6.1-4k48");
    const r = await vmsa("diff", f.files[0] as string, f.files[0] as string, ...f.gdb);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: --gdb is snapshot B: give only A/);
  });
});

describe("--gdb errors: one line, exit 2 (3 for a timeout)", () => {
  it("an AArch32 (or other) target", async () => {
    stub = await startFakeStub({ arch: "arm", regs: { TTBR1_EL1: 0n, TCR_EL1: 0n } });
    const r = await vmsa("dump", "--gdb", `127.0.0.1:${stub.port}`);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`vmsa: error: gdbstub 127.0.0.1:${stub.port}: the target is arm, not aarch64 (an AArch32 guest or another QEMU)\n`);
  });

  it("a gdbstub that is not QEMU's (no physical-memory mode)", async () => {
    stub = await startFakeStub({ qemu: false });
    const r = await vmsa("translate", "--gdb", `127.0.0.1:${stub.port}`, "0xffff800008000000");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: gdbstub 127\.0\.0\.1:\d+: not QEMU \(no qqemu\.Supported PhyMemMode[^\n]*\n$/);
  });

  it("a stub that does not answer in time: one line, exit 3 (a time limit reached, inconclusive)", async () => {
    stub = await startFakeStub({ silent: true });
    const r = await vmsa("dump", "--gdb", `127.0.0.1:${stub.port}`, "--gdb-timeout", "200");
    expect(r.code).toBe(3);
    expect(r.err).toBe(`vmsa: error: gdbstub 127.0.0.1:${stub.port}: no reply to "qSupported:xmlRegisters=aarch64" within 200 ms\n`);
    expect(r.out).toBe("");
  });

  it("nothing listening", async () => {
    const r = await vmsa("audit", "--gdb", "127.0.0.1:1");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: gdbstub 127\.0\.0\.1:1: connection refused[^\n]*\n$/);
  });

  it("--gdb with a dump input or a malformed address", async () => {
    const a = await vmsa("dump", "--gdb", "127.0.0.1:1234", join(FIX, "linux-6.1-4k48", "machine.json"));
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/^vmsa: error: --gdb reads a live guest: it cannot be combined with dump inputs/);
    const b = await vmsa("dump", "--gdb", "localhost");
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/^vmsa: error: --gdb "localhost": expected HOST:PORT/);
  });
});
