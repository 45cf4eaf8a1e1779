/**
 * Replaying a `vmsa record` trace on the machine model: every record becomes the machine step it
 * stands for, in the trace's (global) order, and the machine's checker judges it.
 *
 *   STORE   → storeRaw (the 64-bit word after the store)      TLBI → tlbiRaw (Xt as recorded)
 *   DSB/DMB → dsb/dmb (domain from CRm; SSBB/PSSBB skipped)   ISB  → isb
 *   MSR     → msr (VBAR_EL1 only followed, it is no translation register)
 *   DC      → dc (CVAC, CIVAC, IVAC)
 *   CPU_OFF → powerOff (PSCI CPU_OFF: the vCPU walks and holds nothing until it comes back
 *     through reset and its own MSRs)
 *   ACCESS  → accessRaw (read / write / fetch of the VA, EL0 or EL1 permissions): the rules judged
 *     at an access (stale translation, TLB conflict, unsynchronized store) run on it
 *   exception entry / ERET → isb when they are context-synchronizing: always without FEAT_ExS,
 *     else per SCTLR_EL1.EIS (bit 22) / EOS (bit 11) (Arm ARM D1.3.5 / D24.2.162 "SCTLR_EL1")
 *   PAGE    → the page's content written into memory as it is when the page becomes a table
 *     (not a step: it is the state the guest's own stores, seen before, left there)
 *
 * Initial state: RAM (the header's range) reads as zero and every CPU starts with its MMU off and
 * its translation registers 0, as after reset; the trace holds every later change.
 * `stepRecord` maps each machine step back to its record for PCs and texts in reports.
 */

import type { Features } from "../arch/registers.js";
import { FEATURES_MAX } from "../arch/registers.js";
import type { SysReg } from "../arch/sysops.js";
import { Machine, type Violation } from "../machine/machine.js";
import { bigOf } from "../machine/tlb.js";
import { PhysMem } from "../mem/physmem.js";
import { accessCode } from "../walk/walker.js";
import {
  ACCESS_EL0,
  ACCESS_TYPES,
  BARRIER_DMB,
  BARRIER_DSB,
  barrierDomain,
  DC_OPS,
  MSR_REGS,
  REC_ACCESS,
  REC_BARRIER,
  REC_CPU_OFF,
  REC_DC,
  REC_ERET,
  REC_EXC,
  REC_MSR,
  REC_PAGE,
  REC_STORE,
  REC_TLBI,
  tlbiEncodingText,
  tlbiName,
} from "./format.js";
import { TraceReader } from "./reader.js";

export interface ReplayOptions {
  /** FEAT_BBM level the checker assumes (default 0: what Linux assumes without BBML2). */
  readonly bbmLevel?: number;
  readonly features?: Features;
}

export interface ReplayResult {
  readonly machine: Machine;
  readonly violations: readonly Violation[];
  readonly records: number;
  readonly steps: number;
  /** TLBI encodings the model does not know (text → count): their effect was not replayed. */
  readonly unmodelled: ReadonlyMap<string, number>;
  readonly zvaUnresolved: number;
  readonly ms: number;
  /** Trace byte offset of the record that made machine step `step` (1-based). */
  readonly stepRecord: (step: number) => number;
  readonly reader: TraceReader;
}

/** accessCode of each ACCESS kind byte (bits 1:0 type, bit 4 EL0). */
const ACCESS_CODES: number[] = [];
for (let t = 0; t < ACCESS_TYPES.length; t++) {
  const type = ACCESS_TYPES[t] ?? "read";
  ACCESS_CODES[t] = accessCode({ type, el: 1 });
  ACCESS_CODES[t | ACCESS_EL0] = accessCode({ type, el: 0 });
}

const SCTLR_EOS = 1 << 11;
const SCTLR_EIS = 1 << 22;

export function replayTrace(data: Uint8Array, name: string, opts: ReplayOptions = {}): ReplayResult {
  const t0 = performance.now();
  const r = new TraceReader(data, name);
  const h = r.header;
  const mem = new PhysMem();
  mem.addRam(BigInt(h.ramBase), BigInt(h.ramSize));
  const features = opts.features ?? FEATURES_MAX;
  const m = new Machine({
    cpus: h.cpus,
    mem,
    bbmLevel: opts.bbmLevel ?? 0,
    regs: { ttbr0: 0n, ttbr1: 0n, tcr: 0n, mair: 0n, sctlr: 0n, features },
    recordSteps: false,
  });
  let stepRec = new Float64Array(1 << 16);
  let steps = 0;
  const note = (): void => {
    steps++;
    if (steps >= stepRec.length) {
      const n = new Float64Array(stepRec.length * 2);
      n.set(stepRec);
      stepRec = n;
    }
    stepRec[steps] = r.at;
  };
  const sctlr: number[] = new Array(h.cpus).fill(0);
  const unmodelled = new Map<string, number>();
  let records = 0;
  while (r.next()) {
    records++;
    const cpu = r.cpu;
    switch (r.type) {
      case REC_STORE:
        note();
        m.storeRaw(cpu, r.aHi * 2 ** 32 + r.aLo, r.bHi, r.bLo);
        break;
      case REC_PAGE: {
        // Each entry set once to its final value (the pairs are its non-zero entries): the
        // machine marks only the entries whose value changed as written now.
        const base = r.aHi * 2 ** 32 + r.aLo;
        const pairs = new Map<number, number>();
        for (let i = 0; i < r.pairCount; i++) pairs.set(r.pairIndex(i), i);
        for (let i = 0; i < r.entries; i++) {
          const k = pairs.get(i);
          if (k === undefined) m.setMemory(base + i * 8, 0, 0);
          else m.setMemory(base + i * 8, r.pairHi(k), r.pairLo(k));
        }
        break;
      }
      case REC_BARRIER: {
        if (r.sub === BARRIER_DSB || r.sub === BARRIER_DMB) {
          const kind = barrierDomain(r.opt);
          if (kind === undefined) break;
          note();
          if (r.sub === BARRIER_DSB) m.dsb(cpu, kind);
          else m.dmb(cpu, kind);
        } else {
          note();
          m.isb(cpu);
        }
        break;
      }
      case REC_TLBI: {
        const op = tlbiName(r.sub);
        if (op === undefined) {
          const t = tlbiEncodingText(r.sub);
          unmodelled.set(t, (unmodelled.get(t) ?? 0) + 1);
          break;
        }
        note();
        m.tlbiRaw(cpu, op, r.aHi, r.aLo);
        break;
      }
      case REC_MSR: {
        const reg = MSR_REGS[r.sub];
        if (reg === undefined || reg === "VBAR_EL1") break;
        if (reg === "SCTLR_EL1") sctlr[cpu] = r.aLo;
        note();
        m.msr(cpu, reg as SysReg, bigOf(r.aHi, r.aLo));
        break;
      }
      case REC_EXC:
      case REC_ERET: {
        // Without FEAT_ExS the EIS/EOS bits are RES1; a guest that cleared them opted out.
        const s = sctlr[cpu] ?? 0;
        const cse = r.type === REC_EXC ? (s & SCTLR_EIS) !== 0 || (s & 1) === 0 : (s & SCTLR_EOS) !== 0 || (s & 1) === 0;
        if (!cse) break;
        note();
        m.isb(cpu);
        break;
      }
      case REC_DC: {
        note();
        m.dc(cpu, DC_OPS[r.sub] ?? "CIVAC", bigOf(r.aHi, r.aLo));
        break;
      }
      case REC_CPU_OFF:
        note();
        sctlr[cpu] = 0;
        m.powerOff(cpu);
        break;
      case REC_ACCESS: {
        note();
        m.accessRaw(cpu, r.aHi, r.aLo, ACCESS_CODES[r.sub] ?? 0);
        break;
      }
    }
  }
  m.finish();
  const final = stepRec;
  return {
    machine: m,
    violations: m.reports,
    records,
    steps,
    unmodelled,
    zvaUnresolved: r.zvaUnresolved,
    ms: performance.now() - t0,
    stepRecord: (step) => (step >= 1 && step <= steps ? (final[step] ?? -1) : -1),
    reader: r,
  };
}
