/**
 * Adapter from the kernel library's MachinePort to the checked machine model (src/machine): every
 * store, barrier, TLBI, MSR, cache operation and access becomes a machine step, so the checker
 * judges the kernel flows as they run.
 */
import { Machine, type MachineOptions, tlbiVa } from "../machine/machine.js";
import type { Violation } from "../machine/types.js";
import type { PhysMem } from "../mem/physmem.js";
import type { AccessKind, AccessOutcome, DcOp, DsbDomain, MachinePort, SysReg, TlbiOp } from "./port.js";

export interface StepNote {
  /** Machine step number the note precedes (the next step executed). */
  readonly step: number;
  readonly cpu: number;
  readonly text: string;
}

/** One executed step in scenario-file syntax ("P0: store 0x… 0x…"), with the access outcome for accesses. */
export interface RecordedStep {
  readonly text: string;
  readonly outcome?: string;
}

const hx = (v: bigint | number): string => `0x${v.toString(16)}`;

export class CheckedPort implements MachinePort {
  readonly machine: Machine;
  readonly notes: StepNote[] = [];
  /** When set, every step is also recorded in scenario-file syntax (see src/scenario/format.ts). */
  recorded: RecordedStep[] | undefined = undefined;

  constructor(machine: Machine) {
    this.machine = machine;
  }

  static create(opts: MachineOptions): CheckedPort {
    return new CheckedPort(new Machine(opts));
  }

  get mem(): PhysMem {
    return this.machine.mem;
  }

  get cpuCount(): number {
    return this.machine.cpuCount;
  }

  get reports(): readonly Violation[] {
    return this.machine.reports;
  }

  private rec(cpu: number, text: string, outcome?: string): void {
    this.recorded?.push(outcome === undefined ? { text: `P${cpu}: ${text}` } : { text: `P${cpu}: ${text}`, outcome });
  }

  store64(cpu: number, pa: number, hi: number, lo: number): void {
    if (this.recorded) this.rec(cpu, `store ${hx(pa)} ${hx((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0))}`);
    this.machine.storeRaw(cpu, pa, hi, lo);
  }

  storeRun(cpu: number, pa: number, n: number, hi: number, lo: number, step: number): void {
    let h = hi >>> 0;
    let l = lo >>> 0;
    for (let i = 0; i < n; i++) {
      if (this.recorded) this.rec(cpu, `store ${hx(pa + i * 8)} ${hx((BigInt(h) << 32n) | BigInt(l))}`);
      this.machine.storeRaw(cpu, pa + i * 8, h, l);
      const s = l + step;
      if (s >= 4294967296) {
        l = s - 4294967296;
        h = (h + 1) >>> 0;
      } else {
        l = s;
      }
    }
  }

  zero(cpu: number, pa: number, size: number): void {
    for (let a = pa; a < pa + size; a += 8) {
      if (this.recorded) this.rec(cpu, `store ${hx(a)} 0x0`);
      this.machine.storeRaw(cpu, a, 0, 0);
    }
  }

  dsb(cpu: number, domain: DsbDomain): void {
    if (this.recorded) this.rec(cpu, `dsb ${domain}`);
    this.machine.dsb(cpu, domain);
  }

  isb(cpu: number): void {
    if (this.recorded) this.rec(cpu, "isb");
    this.machine.isb(cpu);
  }

  tlbi(cpu: number, op: TlbiOp, va?: bigint, asid?: number): void {
    let operand = 0n;
    if (op.startsWith("ASIDE1")) operand = BigInt((asid ?? 0) & 0xffff) << 48n;
    else if (!op.startsWith("VMALLE1") && va !== undefined) operand = tlbiVa(va, asid ?? 0);
    if (this.recorded) this.rec(cpu, `tlbi ${op} op=${hx(operand)}`);
    this.machine.tlbi(cpu, op, operand);
  }

  msr(cpu: number, reg: SysReg, value: bigint): void {
    if (this.recorded) this.rec(cpu, `msr ${reg} ${hx(value)}`);
    this.machine.msr(cpu, reg, value);
  }

  mrs(cpu: number, reg: SysReg): bigint {
    const r = this.machine.cpu(cpu).regs;
    switch (reg) {
      case "TTBR0_EL1":
        return r.ttbr0;
      case "TTBR1_EL1":
        return r.ttbr1;
      case "TCR_EL1":
        return r.tcr;
      case "MAIR_EL1":
        return r.mair;
      case "SCTLR_EL1":
        return r.sctlr;
      case "PAR_EL1":
        return r.par;
    }
  }

  dc(cpu: number, op: DcOp, va: bigint): void {
    if (this.recorded) this.rec(cpu, `dc ${op} ${hx(va)}`);
    this.machine.dc(cpu, op, va);
  }

  access(cpu: number, va: bigint, kind: AccessKind): AccessOutcome {
    const m = this.machine;
    const r = kind === "read" ? m.load(cpu, va) : kind === "write" ? m.store(cpu, va) : m.fetch(cpu, va);
    const o = r.outcomes[0];
    if (this.recorded) {
      const what = kind === "read" ? "load" : kind === "write" ? "store-va" : "fetch";
      const out =
        o === undefined
          ? undefined
          : o.kind === "ok" && o.pa !== undefined
            ? `pa=${hx(o.pa)}`
            : o.kind === "fault"
              ? `fault:${o.fault}`
              : o.kind;
      this.rec(cpu, `${what} ${hx(va)}`, out);
    }
    if (o === undefined) return { ok: false, fault: "none", level: 0, reason: "no outcome" };
    if (o.kind === "ok" && o.pa !== undefined) return { ok: true, pa: o.pa };
    return { ok: false, fault: o.kind === "tlb-conflict" ? "tlb-conflict" : (o.fault ?? "fault"), level: o.level ?? 0, reason: o.source };
  }

  protect(cpu: number, pa: bigint, size: bigint, on: boolean): void {
    if (this.recorded) this.rec(cpu, `${on ? "protect" : "unprotect"} ${hx(pa)} ${hx(size)}`);
    if (on) this.machine.protect(cpu, pa, size);
    else this.machine.unprotect(cpu, pa, size);
  }

  note(cpu: number, text: string): void {
    this.notes.push({ step: this.machine.steps.length + 1, cpu, text });
  }
}
