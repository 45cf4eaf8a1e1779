/**
 * TTBR helpers (arch/arm64/include/asm/mmu_context.h, arch/arm64/mm/proc.S;
 * linux-arm64-mm.md 4.2): the reserved TTBR value, installing/uninstalling the idmap, and
 * replacing TTBR1 through the reserved table while running from the idmap.
 */
import { hex64 } from "../arch/u64.js";
import type { Kernel } from "./context.js";
import { physToTtbr } from "./regs.js";
import { localFlushTlbAll } from "./tlb.js";

/** Replace TCR_EL1.T0SZ (bits 5:0). */
function setT0sz(k: Kernel, cpu: number, t0sz: number): void {
  const tcr = k.port.mrs(cpu, "TCR_EL1");
  k.port.msr(cpu, "TCR_EL1", (tcr & ~0x3fn) | BigInt(t0sz & 0x3f));
  k.port.isb(cpu);
}

/** cpu_set_reserved_ttbr0: TTBR0 := the reserved (all-invalid) table; ISB. */
export function cpuSetReservedTtbr0(k: Kernel, cpu: number, reserved: number, opts: { nosync?: boolean } = {}): void {
  k.port.note(cpu, "cpu_set_reserved_ttbr0");
  k.port.msr(cpu, "TTBR0_EL1", physToTtbr(k.geo, BigInt(reserved)));
  if (!opts.nosync) k.port.isb(cpu);
}

/** __cpu_install_idmap: reserved TTBR0, local TLB flush, T0SZ := idmap_t0sz, TTBR0 := idmap. */
export function cpuInstallIdmap(k: Kernel, cpu: number, idmap: number, reserved: number, idmapT0sz = 64 - k.geo.vaBits): void {
  cpuSetReservedTtbr0(k, cpu, reserved);
  localFlushTlbAll(k, cpu);
  setT0sz(k, cpu, idmapT0sz);
  k.port.msr(cpu, "TTBR0_EL1", physToTtbr(k.geo, BigInt(idmap)));
  k.port.isb(cpu);
}

/** cpu_uninstall_idmap: reserved TTBR0, local TLB flush, default T0SZ, then the user TTBR0 if any. */
export function cpuUninstallIdmap(k: Kernel, cpu: number, reserved: number, userTtbr0?: bigint): void {
  cpuSetReservedTtbr0(k, cpu, reserved);
  localFlushTlbAll(k, cpu);
  setT0sz(k, cpu, 64 - k.geo.vaBits);
  if (userTtbr0 !== undefined) {
    k.port.msr(cpu, "TTBR0_EL1", userTtbr0);
    k.port.isb(cpu);
  }
}

/** cpu_install_ttbr0 (hibernate, kexec): reserved TTBR0, local TLB flush, T0SZ, TTBR0 := ttbr0, ISB. */
export function cpuInstallTtbr0(k: Kernel, cpu: number, ttbr0: bigint, t0sz: number, reserved: number): void {
  cpuSetReservedTtbr0(k, cpu, reserved);
  localFlushTlbAll(k, cpu);
  setT0sz(k, cpu, t0sz);
  k.port.msr(cpu, "TTBR0_EL1", ttbr0);
  k.port.isb(cpu);
}

export interface ReplaceTtbr1Options {
  /** Identity map holding the switching code (TTBR0 while it runs). */
  readonly idmap: number;
  /** Reserved all-invalid table (empty_zero_page ≤ v5.10, reserved_pg_dir ≥ v5.11). */
  readonly reserved: number;
  /** Physical (= idmap virtual) address of idmap_cpu_replace_ttbr1; fetched at each step. */
  readonly idmapText?: bigint;
  /** Bad variant: write TTBR1 old→new directly, with no reserved table and no TLBI. */
  readonly direct?: boolean;
}

export interface ReplaceTtbr1Result {
  readonly steps: readonly string[];
  /** Instruction fetches of the switching code that did not translate. */
  readonly fetchFaults: readonly string[];
}

/**
 * cpu_replace_ttbr1(pgdp, idmap): install the idmap, mask DAIF, run idmap_cpu_replace_ttbr1 at
 * its physical address — TTBR1 := reserved; ISB; TLBI VMALLE1; DSB NSH; ISB; TTBR1 := new; ISB —
 * then uninstall the idmap.
 */
export function cpuReplaceTtbr1(k: Kernel, cpu: number, newPgd: number, o: ReplaceTtbr1Options): ReplaceTtbr1Result {
  const p = k.port;
  const steps: string[] = [];
  const fetchFaults: string[] = [];
  const fetch = (what: string): void => {
    if (o.idmapText === undefined) return;
    const r = p.access(cpu, o.idmapText, "exec");
    if (!r.ok && r.fault !== "unmodelled") fetchFaults.push(`${what}: fetch at ${hex64(o.idmapText)} → ${r.fault} (${r.reason})`);
  };
  const ttbr1 = physToTtbr(k.geo, BigInt(newPgd));
  if (o.direct) {
    p.note(cpu, "TTBR1 switched directly (no reserved table)");
    p.msr(cpu, "TTBR1_EL1", ttbr1);
    p.isb(cpu);
    steps.push(`TTBR1 := 0x${newPgd.toString(16)} directly; ISB`);
    return { steps, fetchFaults };
  }
  p.note(cpu, "cpu_replace_ttbr1");
  cpuInstallIdmap(k, cpu, o.idmap, o.reserved);
  steps.push(`install idmap 0x${o.idmap.toString(16)} in TTBR0 (reserved TTBR0, local TLB flush, T0SZ, TTBR0)`);
  steps.push("mask DAIF; branch to idmap_cpu_replace_ttbr1 at its physical address");
  fetch("idmap_cpu_replace_ttbr1 entry");
  p.msr(cpu, "TTBR1_EL1", physToTtbr(k.geo, BigInt(o.reserved)));
  p.isb(cpu);
  steps.push("TTBR1 := reserved; ISB");
  fetch("after TTBR1 := reserved");
  p.tlbi(cpu, "VMALLE1");
  p.dsb(cpu, "NSH");
  p.isb(cpu);
  steps.push("TLBI VMALLE1; DSB NSH; ISB");
  p.msr(cpu, "TTBR1_EL1", ttbr1);
  p.isb(cpu);
  steps.push(`TTBR1 := 0x${newPgd.toString(16)}; ISB`);
  fetch("after TTBR1 := new");
  cpuUninstallIdmap(k, cpu, o.reserved);
  steps.push("uninstall idmap (reserved TTBR0, local TLB flush, default T0SZ)");
  return { steps, fetchFaults };
}
