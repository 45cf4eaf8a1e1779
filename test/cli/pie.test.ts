/**
 * Permission indirection and overlays through the CLI: `vmsa describe` decodes PIR/PIRE0/S2PIR/POR,
 * TCR2_EL1 and ID_AA64MMFR3_EL1; register files (gdb `info registers`, JSON) that carry
 * TCR2_EL1/PIR_EL1/PIRE0_EL1 make `vmsa translate` walk with indirect permissions
 * (Arm ARM D8.4.1.3; Linux's values from pgtable-prot.h, preset linux-4k-48-pie).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmsa } from "./run.js";

const LINUX_PIR = "0xcc880e0ac0800000";
const LINUX_PIRE0 = "0x5010908070320000";

async function json(cmd: string, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await vmsa(cmd, ...args);
  // translate notes on stderr where registers came from (no VMCOREINFO); never an error.
  expect(r.err).not.toMatch(/error/);
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as Record<string, unknown>;
}

/**
 * A 4K/48-bit tree for TTBR1 at 0x4000_0000 (L0..L3 tables in consecutive frames) mapping VA
 * 0xffff_0000_0000_0000 with one page descriptor `pte`; written as a raw image.
 */
function image(pte: bigint): string {
  const buf = Buffer.alloc(4 * 4096);
  for (let l = 0; l < 3; l++) buf.writeBigUInt64LE(0x4000_0000n + BigInt(l + 1) * 0x1000n + 3n, l * 4096);
  buf.writeBigUInt64LE(pte, 3 * 4096);
  const dir = mkdtempSync(join(tmpdir(), "vmsa-pie-"));
  const f = join(dir, "ram.bin");
  writeFileSync(f, buf);
  return f;
}

/** PAGE_KERNEL_EXEC under Linux PIE: PIIndex 0xa (UXN, DBM/WRITE), nDirty=0, AF, SH inner, OA 0x5000_0000. */
const KERNEL_EXEC_PTE = (1n << 54n) | (1n << 51n) | 0x5000_0000n | 0x703n;

describe("vmsa describe: permission registers", () => {
  it("--pir/--pire0 decode every field with Linux's page type; a descriptor shows the entry it selects", async () => {
    const o = await json("describe", "--pir", LINUX_PIR, "--pire0", LINUX_PIRE0, KERNEL_EXEC_PTE.toString(16));
    const pir = o.pir as Record<string, unknown>[];
    expect(pir[10]).toMatchObject({ index: 10, value: 0xe, name: "RWX", read: true, write: true, exec: true, linux: "PAGE_KERNEL_EXEC" });
    expect(pir[4]).toMatchObject({ value: 0, name: "NONE_O", overlay: true, linux: "PAGE_EXECONLY" });
    const pire0 = o.pire0 as Record<string, unknown>[];
    expect(pire0[11]).toMatchObject({ value: 9, name: "GCS", gcs: true, write: false, linux: "PAGE_GCS" });
    expect(o.indirection).toMatchObject({
      piIndex: 10,
      nDirty: false,
      linux: "PAGE_KERNEL_EXEC",
      el1: { name: "RWX" },
      el0: { name: "NONE_O" },
    });
  });

  it("--id-aa64mmfr3 and --tcr2 decode their fields (QEMU 11.1 -cpu max value)", async () => {
    const o = await json("describe", "--id-aa64mmfr3", "0x1000000011001111", "--tcr2", "0xe");
    expect(o.idAa64mmfr3).toMatchObject({ tcrx: 1, sctlrx: 1, s1pie: 1, s2pie: 1, s1poe: 0, s2poe: 0, aie: 1, mec: 1, specFpacc: 1 });
    expect(o.tcr2).toMatchObject({ pie: true, e0poe: true, poe: true, pnch: false });
  });

  it("--s2pir and --por-el1 decode the stage-2 and overlay encodings", async () => {
    const o = await json("describe", "--s2pir", "0xfedcba9876543210", "--por-el1", "0x0000000087654321");
    const s2 = o.s2pir as Record<string, unknown>[];
    expect(s2[11]).toMatchObject({ value: 0xb, read: true, write: false, el1Exec: true, el0Exec: true });
    expect(s2[4]).toMatchObject({ value: 4, read: false, write: true });
    const por = o.porEl1 as Record<string, unknown>[];
    expect(por).toHaveLength(8);
    expect(por[5]).toMatchObject({ value: 6, name: "WX", write: true, exec: true, read: false });
    expect(por[7]).toMatchObject({ value: 8, reserved: true, read: false });
  });

  it("--s2por decodes S2POR_EL1 in S2PIR_EL2's encoding, and picks a stage-2 descriptor's S2POIndex entry (bits [62:59])", async () => {
    const o = await json("describe", "--s2por", "0x000000000000c800");
    const po = o.s2por as Record<string, unknown>[];
    expect(po).toHaveLength(16);
    expect(po[0]).toMatchObject({ value: 0, read: false, write: false });
    expect(po[2]).toMatchObject({ value: 8, read: true, write: false });
    expect(po[3]).toMatchObject({ value: 0xc, read: true, write: true, el1Exec: false });
    // S2POIndex 3 = bits [62:59] 0b0011 on a stage-2 page.
    const d = await json("describe", "--stage", "2", "-l", "3", "--s2por", "0xc800", "0x18000000400007ff");
    expect(d.indirection).toMatchObject({ s2poIndex: 3, s2por: { value: 0xc, write: true } });
  });

  it("a malformed --pir is bad input (exit 2, one line)", async () => {
    const r = await vmsa("describe", "--pir", "0x1_0000_0000_0000_0000");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: .*--pir/);
  });
});

describe("vmsa translate with a PIE kernel's registers", () => {
  const ram = image(KERNEL_EXEC_PTE);
  const regsText = [
    "TTBR1_EL1      0x40000000          1073741824",
    "TCR_EL1        0x5b5503510         24517555472",
    "TCR2_EL1       0x2                 2",
    `PIR_EL1        ${LINUX_PIR}  0`,
    `PIRE0_EL1      ${LINUX_PIRE0}  0`,
  ].join("\n");
  const dir = mkdtempSync(join(tmpdir(), "vmsa-pie-regs-"));
  const gdbFile = join(dir, "regs.txt");
  writeFileSync(gdbFile, `${regsText}\n`);
  const jsonFile = join(dir, "regs.json");
  writeFileSync(
    jsonFile,
    JSON.stringify({
      registers: { TTBR1_EL1: "0x40000000", TCR_EL1: "0x5b5503510", TCR2_EL1: "0x2", PIR_EL1: LINUX_PIR, PIRE0_EL1: LINUX_PIRE0 },
    }),
  );

  for (const [what, file] of [
    ["gdb info registers", gdbFile],
    ["JSON", jsonFile],
  ] as const) {
    it(`walks through PIR_EL1 from a ${what} file: PAGE_KERNEL_EXEC is EL1 rwx, EL0 nothing`, async () => {
      const o = await json("translate", "--mem", `${ram}@0x40000000`, "--regs", file, "-f", "json", "0xffff000000000000");
      const r = (o.results as Record<string, unknown>[])[0];
      expect(r).toMatchObject({
        kind: "ok",
        pa: "0x50000000",
        permissions: { pr: true, pw: true, px: true, ur: false, uw: false, ux: false },
        indirection: { piIndex: 10, pir: "RWX", pire0: "NONE_O" },
      });
    });
  }

  it("the same page without TCR2_EL1 is read with direct permissions (AP=00: EL1 RW, UXN: EL0 no exec)", async () => {
    const o = await json(
      "translate",
      "--mem",
      `${ram}@0x40000000`,
      "--ttbr1",
      "40000000",
      "--tcr",
      "5b5503510",
      "-f",
      "json",
      "0xffff000000000000",
    );
    const r = (o.results as Record<string, unknown>[])[0];
    expect(r).toMatchObject({ kind: "ok", permissions: { pr: true, pw: true, px: true, ux: false } });
    expect(r).not.toHaveProperty("indirection");
  });

  it("--preset linux-4k-48-pie programs Linux's PIR values (text ACCESS line names the entry)", async () => {
    const r = await vmsa(
      "translate",
      "--mem",
      `${ram}@0x40000000`,
      "--preset",
      "linux-4k-48-pie",
      "--ttbr1",
      "40000000",
      "0xffff000000000000",
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ACCESS: EL1 rwx {2}EL0 --- {2}\(PIE: PIIndex 10, PIR_EL1 0b1110, PIRE0_EL1 0b0000\)/);
  });

  it("--linux-pie supplies Linux's TCR2/PIR/PIRE0 where the input records none (VMCOREINFO, ELF cores); flags still win", async () => {
    const base = ["translate", "--mem", `${ram}@0x40000000`, "--ttbr1", "40000000", "--tcr", "5b5503510", "-f", "json"];
    const o = await json(...(base as [string, ...string[]]), "--linux-pie", "gcs", "0xffff000000000000");
    expect((o.results as Record<string, unknown>[])[0]).toMatchObject({ indirection: { piIndex: 10, pir: "RWX" } });
    expect(o.registers).toMatchObject({ PIR_EL1: "--linux-pie gcs (Linux __cpu_setup)" });
    // An explicit --pir (here: index 10 read-only) overrides the Linux value.
    const over = await json(...(base as [string, ...string[]]), "--linux-pie", "poe", "--pir", "0x0000080000000000", "0xffff000000000000");
    expect((over.results as Record<string, unknown>[])[0]).toMatchObject({ permissions: { pr: true, pw: false, px: false } });
  });

  it("--linux-pie with an unknown era is bad input", async () => {
    const r = await vmsa("translate", "--mem", `${ram}@0x40000000`, "--ttbr1", "40000000", "--tcr", "5b5503510", "--linux-pie", "v7", "0");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vmsa: error: --linux-pie: "v7" is not one of pie, poe, gcs/);
  });

  it("ptdump prints the raw descriptor bits as the kernel does, with or without PIE", async () => {
    const args = ["dump", "--mem", `${ram}@0x40000000`, "--ttbr1", "40000000", "--tcr", "5b5503510", "--kernel-version", "6.12"];
    const plain = await vmsa(...(args as [string, ...string[]]));
    const pie = await vmsa(...(args as [string, ...string[]]), "--linux-pie", "gcs");
    expect(plain.code).toBe(0);
    expect(pie.code).toBe(0);
    expect(pie.out).toBe(plain.out);
    // The raw bits: AP[2]=0 (RW), PXN=0 (x), UXN: what the kernel prints for PAGE_KERNEL_EXEC under PIE too.
    expect(plain.out).toMatch(/4K PTE {7}RW x {2}SHD AF {12}UXN {4}MEM\/NORMAL/);
  });
});
