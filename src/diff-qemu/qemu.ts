/**
 * Finding the tools, building the bare-metal AT harness and running job batches on
 * qemu-system-aarch64 (Node only).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type AtOutcome, decodeResults, encodeJobs, type Job } from "./jobfile.js";
import { QEMU_MEMORY } from "./layout.js";

export const QEMU_BIN = process.env.VMSA_QEMU ?? "qemu-system-aarch64";
export const CROSS_PREFIX = process.env.VMSA_CROSS ?? "aarch64-linux-gnu-";

export interface Tools {
  readonly qemu: string;
  readonly qemuVersion: string;
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
}

export type ToolCheck = { readonly ok: true; readonly tools: Tools } | { readonly ok: false; readonly missing: string[] };

function firstLine(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.split("\n")[0]?.trim();
}

/** Check that qemu-system-aarch64 (or `qemu`) and the AArch64 cross compiler are there. */
export function checkTools(qemu: string = QEMU_BIN): ToolCheck {
  const missing: string[] = [];
  const qv = firstLine(qemu, ["--version"]);
  if (qv === undefined) missing.push(`${qemu} (Debian package qemu-system-arm)`);
  if (firstLine(`${CROSS_PREFIX}gcc`, ["--version"]) === undefined)
    missing.push(`${CROSS_PREFIX}gcc (Debian package gcc-aarch64-linux-gnu)`);
  if (firstLine("make", ["--version"]) === undefined) missing.push("make");
  if (qv === undefined || missing.length > 0) return { ok: false, missing };
  const m = /version (\d+)\.(\d+)\.(\d+)/.exec(qv);
  return {
    ok: true,
    tools: { qemu, qemuVersion: qv, major: Number(m?.[1] ?? 0), minor: Number(m?.[2] ?? 0), micro: Number(m?.[3] ?? 0) },
  };
}

/** The repository's qemu/harness directory, found upward from this module (src/ or dist/src/). */
export function harnessDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const cand = join(dir, "qemu", "harness");
    if (existsSync(join(cand, "Makefile"))) return cand;
    dir = resolve(dir, "..");
  }
  throw new Error("cannot find qemu/harness (run from a vmsa checkout)");
}

/** Build (if stale) the harness ELF with make and the cross compiler; returns its path. */
export function buildHarness(): string {
  const dir = harnessDir();
  const r = spawnSync("make", ["-s", "-C", dir, `CROSS=${CROSS_PREFIX}`], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(`building the AT harness failed:\n${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`);
  }
  const elf = join(dir, "build", "vmsa-at-harness.elf");
  if (!existsSync(elf) || statSync(elf).size === 0) throw new Error(`harness build produced no ${elf}`);
  return elf;
}

/**
 * The QEMU command line that runs one job file (also printed by the CLI for running by hand).
 * `extra` adds arguments, e.g. `-device loader,…` lines that put exported tables in guest RAM.
 */
export function qemuArgs(elf: string, jobFile: string, resultFile: string, extra: readonly string[] = []): string[] {
  return [
    "-M",
    "virt,virtualization=on",
    "-cpu",
    "max",
    "-m",
    QEMU_MEMORY,
    "-nographic",
    "-nodefaults",
    "-monitor",
    "none",
    "-serial",
    "none",
    "-semihosting-config",
    `enable=on,target=native,arg=vmsa-at-harness,arg=${jobFile},arg=${resultFile}`,
    "-kernel",
    elf,
    ...extra,
  ];
}

/** Run a batch of jobs in one QEMU process and return one outcome per query. */
export function runBatch(
  elf: string,
  jobs: readonly Job[],
  timeoutMs = 120_000,
  extraArgs: readonly string[] = [],
  qemu: string = QEMU_BIN,
): Promise<AtOutcome[][]> {
  const dir = mkdtempSync(join(tmpdir(), "vmsa-qemu-"));
  const jobFile = join(dir, "jobs.bin");
  const resFile = join(dir, "results.bin");
  writeFileSync(jobFile, encodeJobs(jobs));
  return new Promise<AtOutcome[][]>((resolvePromise, reject) => {
    const child = spawn(qemu, qemuArgs(elf, jobFile, resFile, extraArgs), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      try {
        if (code !== 0) {
          throw new Error(`${qemu} exited with ${code ?? signal} (job file kept at ${jobFile}):\n${out}`);
        }
        const res = decodeResults(new Uint8Array(readFileSync(resFile)), jobs);
        rmSync(dir, { recursive: true, force: true });
        resolvePromise(res);
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Where qemu/install-qemu-pie.sh puts its wrapper (VMSA_QEMU_PIE_DIR overrides the directory). */
export const QEMU_PIE_WRAPPER = join(process.env.VMSA_QEMU_PIE_DIR ?? "/opt/vmsa-qemu-pie", "bin", "qemu-system-aarch64");

/**
 * The QEMU for permission-indirection campaigns (FEAT_S1PIE/GCS need QEMU >= 10.2): $VMSA_QEMU_PIE,
 * else the install-qemu-pie.sh wrapper when present, else the default QEMU.
 */
export function pieQemu(): string {
  return process.env.VMSA_QEMU_PIE ?? (existsSync(QEMU_PIE_WRAPPER) ? QEMU_PIE_WRAPPER : QEMU_BIN);
}

/** Whether a QEMU version implements FEAT_S1PIE/S2PIE/GCS (added in 10.2). */
export function hasPie(t: Tools): boolean {
  return t.major > 10 || (t.major === 10 && t.minor >= 2);
}

/** ID_AA64MMFR3_EL1 of QEMU's -cpu max, read by the harness (op 15). */
export async function readMmfr3(elf: string, t: Tools): Promise<bigint> {
  const job: Job = {
    regs: { ttbr0: 0n, ttbr1: 0n, tcr: 0n, mair: 0n, sctlr: 0n },
    chunks: [],
    queries: [{ va: 0n, op: "S1E1R" }],
    readMmfr3: true,
  };
  const [res] = await runBatch(elf, [job], 60_000, [], t.qemu);
  const o = res?.[0];
  if (o?.kind !== "par") throw new Error("reading ID_AA64MMFR3_EL1 through the harness failed");
  return o.par;
}
