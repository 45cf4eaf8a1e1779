/**
 * Issue 11 §6: tables vmsa exports (`vmsa boot --export-image`) boot on QEMU as they are. QEMU's
 * generic loader puts the exported files in guest RAM (`-device loader,file=tables-0xPA.bin,
 * addr=PA,force-raw=on` per run, or `-device loader,file=tables.elf`), the AT harness runs a job
 * with NO memory chunks and the exported registers, and every PAR_EL1 (or external abort) must
 * equal vmsa's own walk of the snapshot it loaded back (classified by src/diff-qemu/compare.ts:
 * Arm ARM PAR_EL1 64-bit format; ASL AArch64.S1Translate).
 *
 * Without the tools the test skips locally, and fails under CI (process.env.CI set).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { classify, HARNESS_ACCESS } from "../../src/diff-qemu/compare.js";
import { AT_OP_NAMES, type Job, type Query } from "../../src/diff-qemu/jobfile.js";
import { buildHarness, checkTools, runBatch } from "../../src/diff-qemu/qemu.js";
import { loadInputs } from "../../src/dump/inputs.js";
import { completeRegs, mergeRegs } from "../../src/dump/regfile.js";
import { Walker } from "../../src/walk/walker.js";
import { vmsa } from "../cli/run.js";
import { skipBecause } from "../helpers/skip.js";

const tc = checkTools();
const inCi = Boolean(process.env.CI);
const dir = mkdtempSync(join(tmpdir(), "vmsa-export-qemu-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Snap {
  memory: { file: string; load_at: string }[];
  registers: Record<string, string>;
}
interface Mapping {
  va: string;
  size: string;
}

/**
 * Export a boot (tables inside the harness's RAM), and pick queries: 16 evenly spaced VAs of
 * each coalesced mapping, its middle and last word, and the VA just past it.
 */
async function exportBoot(name: string, args: string[]): Promise<{ out: string; snap: Snap; queries: Query[] }> {
  const out = join(dir, name);
  const b = await vmsa("boot", "--ram", "40000000:30000000", ...args, "--export-image", out);
  expect(b.code).toBe(0);
  const snap = JSON.parse(readFileSync(join(out, "tables.json"), "utf8")) as Snap;
  const d = await vmsa("dump", join(out, "tables.json"), "-f", "json");
  expect(d.code).toBe(0);
  const mappings = (JSON.parse(d.out) as { mappings: Mapping[] }).mappings;
  expect(mappings.length).toBeGreaterThan(5);
  const vas = new Set<bigint>();
  for (const m of mappings) {
    const va = BigInt(m.va);
    const size = BigInt(m.size);
    const step = size / 16n > 0x1000n ? (size / 16n) & ~7n : 0x1000n;
    for (let v = va; v < va + size; v += step) vas.add(v);
    for (const v of [va + ((size / 2n) & ~7n), va + size - 8n, va + size]) vas.add(v & 0xffff_ffff_ffff_ffffn);
  }
  const queries = [...vas].slice(0, 4000).map((va, i) => ({ va, op: AT_OP_NAMES[i % 3] ?? "S1E1R" }));
  return { out, snap, queries };
}

describe("exported tables loaded into QEMU give the same AT results as vmsa's walk", () => {
  if (!tc.ok) {
    const msg = `export-image QEMU test needs ${tc.missing.join(", ")}; install them with qemu/ci-setup.sh`;
    if (inCi) {
      it("has its tools under CI", () => {
        throw new Error(msg);
      });
    } else {
      it.skipIf(skipBecause("export-image QEMU test", msg))(`skipped: ${msg}`, () => {});
    }
    return;
  }
  const cases = [
    { name: "4k48", args: [] as string[] },
    { name: "64k52", args: ["--granule", "64K", "--va-bits", "52", "--rodata-full", "--kaslr-seed", "5eed"] },
  ];
  for (const c of cases) {
    for (const form of ["raw", "elf"] as const) {
      it(`agrees for ${c.name} loaded as ${form === "raw" ? "raw images" : "tables.elf"}`, { timeout: 120_000 }, async () => {
        const { out, snap, queries } = await exportBoot(`${c.name}-${form}`, c.args);
        const loaders =
          form === "raw"
            ? snap.memory.flatMap((m) => ["-device", `loader,file=${resolve(out, m.file)},addr=${m.load_at},force-raw=on`])
            : ["-device", `loader,file=${join(out, "tables.elf")}`];
        const loaded = loadInputs([join(out, "tables.json")], false);
        const { regs } = completeRegs(mergeRegs(...loaded.regSets));
        const job: Job = {
          regs: { ttbr0: regs.ttbr0, ttbr1: regs.ttbr1, tcr: regs.tcr, mair: regs.mair, sctlr: regs.sctlr },
          chunks: [], // the tables come only from the loader
          queries,
        };
        const [results] = await runBatch(buildHarness(), [job], 100_000, loaders);
        expect(results?.length).toBe(queries.length);
        const walker = new Walker(loaded.mem, regs);
        const bad: string[] = [];
        const kinds = new Map<string, number>();
        queries.forEach((q, i) => {
          const r = walker.translate(q.va, HARNESS_ACCESS[q.op]);
          const got = results?.[i];
          if (!got) return;
          const v = classify(r, got, regs, walker);
          const key = r.kind === "ok" ? "ok" : `${r.fault}@L${r.level}`;
          kinds.set(key, (kinds.get(key) ?? 0) + 1);
          if (v.kind !== "agree")
            bad.push(
              `${q.op} 0x${q.va.toString(16)}: vmsa ${r.par?.toString(16)} qemu ${JSON.stringify(got, (_k, x) => (typeof x === "bigint" ? x.toString(16) : x))}`,
            );
        });
        expect(bad.slice(0, 10).join("\n")).toBe("");
        // Both successful translations and faults were compared (an all-fault run would mean the
        // loader put nothing where TTBR1 points).
        expect(queries.length).toBeGreaterThan(100);
        expect(kinds.get("ok") ?? 0).toBeGreaterThan(queries.length / 4);
        expect([...kinds.keys()].some((k) => k !== "ok")).toBe(true);
      });
    }
  }
});
