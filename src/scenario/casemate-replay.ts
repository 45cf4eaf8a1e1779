/**
 * Replaying a Casemate trace on the machine model (src/machine): each record becomes the machine
 * step it stands for, in the trace's order, and the machine's rules judge it (break-before-make,
 * make-after-break / missing TLBI, missing barrier, freed-table reuse, contiguous, W^X).
 *
 * Translation regimes. Casemate traces maintain pKVM's stage-2 tables (VTTBR_EL2) and the
 * hypervisor's own stage-1 tables (TTBR0_EL2), 4K granule. The machine judges one EL1&0-style
 * regime per CPU, so the replay keeps one machine ("lane") per TLB tag space:
 *  - `stage 2 VMID n`: the CPUs whose VTTBR_EL2 holds VMID n walk their VTTBR_EL2 root there.
 *    Stage-2 entries are tagged with the VMID (Arm ARM DDI0487 D8.14: stage-2 TLB maintenance
 *    applies to the current VMID, VTTBR_EL2.VMID of the issuing PE), so a TLBI reaches only the
 *    lane of the issuer's current VMID. A CPU that switches to another VMID stops walking the old
 *    lane's root (TCR.EPD0 there): its entries stay cached, as they do in hardware.
 *  - `EL2 stage 1`: TTBR0_EL2 roots (no ASID without E2H: TTBR0_EL2.ASID is RES0).
 * In a lane the tables are walked as 48-bit, 4K, starting at level 0 (what Casemate assumes;
 * VTCR_EL2 / TCR_EL2 values are logged, not applied). Stage-2 descriptors share bits [1:0], the
 * output address, AF, SH and the contiguous bit with stage 1, which is what the BBM rules read;
 * MemAttr[3:0] (bits [5:2]) is read through bits [4:2] (+NS): any change of it is still a change.
 *
 * TLBI mapping (lane of the issuer's VMID; Arm ARM D8.14 / D8.17.1 stage-2 maintenance):
 *  - IPAS2E1[IS] / IPAS2LE1[IS] Xt (IPA[51:12] in [39:0], TTL [47:44]; or `(addr IPA) (level L)`
 *    read as the IPA and the TTL level hint): removes stage-2-only entries; combined stage-1+2
 *    entries may still hold the old IPA→PA result until a TLBI VMALLE1[IS] of the VMID, so the
 *    lane applies it (as VAAE1 / VAALE1 on the IPA) when the issuer's next VMALLE1[IS] comes.
 *    This is the order KVM uses (ipas2e1is; dsb ish; vmalle1is; dsb ish).
 *  - VMALLS12E1[IS]: every entry of the VMID (VMALLE1 in the lane); ALLE1[IS]: every stage-2 lane.
 *  - VAE2[IS] / VALE2[IS] / ALLE2[IS]: the EL2 lane (VAAE1 / VAALE1 / VMALLE1).
 * Non-IS forms act on the issuing CPU only.
 *
 * Not judged (kept in the log): Casemate's locking and ownership discipline (lock / unlock,
 * hints set_root_lock, set_owner_root, set_pte_thread_owner, write authorisation), its
 * one-VMID-per-root and unique-VMID/ASID disciplines, mem-read values (compared with memory:
 * a difference makes the replay inconclusive). `release` / `release_table` hints free a table
 * page: vmsa reports the page when a walker may still reach it (linked, or through a walk-cache
 * entry whose invalidation has not completed) — the Arm ARM hazard behind freed-table reuse.
 */
import { presetByName } from "../arch/registers.js";
import type { DsbKind, TlbiOp, Violation } from "../machine/machine.js";
import { Machine } from "../machine/machine.js";
import { PhysMem } from "../mem/physmem.js";
import type { CasemateRecord, CasemateTrace } from "./casemate-parse.js";

const PAGE = 4096;

/**
 * A lane machine's text in the trace's regime: its EL1 TLBI names and "VA" become the stage-2
 * (IPA, IPAS2E1IS then VMALLE1IS) or EL2 (VAE2IS) ones.
 */
function inRegime(lane: string, t: string): string {
  if (lane.startsWith("stage 2")) {
    return t
      .replace(/TLBI R?VAA?L?E1(IS)?( \(non-last-level\))?/g, "TLBI IPAS2E1IS (not the last-level form); DSB ISH; TLBI VMALLE1IS")
      .replace(/\bVA\b/g, "IPA");
  }
  return t.replace(/TLBI R?VAA?E1(IS)?/g, "TLBI VAE2IS").replace(/TLBI R?VAA?LE1(IS)?/g, "TLBI VALE2IS");
}
const TABLE_ADDR_MASK = 0x0000_ffff_ffff_f000n;

/** TCR_EL1 of a lane: T0SZ=16 (48-bit, level-0 start, 4K), IRGN0/ORGN0 WBWA, SH0 inner, EPD1. */
const TCR_LANE = 16n | (1n << 8n) | (1n << 10n) | (3n << 12n) | (1n << 23n) | (5n << 32n);
const TCR_EPD0 = 1n << 7n;
/** SCTLR: MMU and data cache on (the tables are written and walked cacheable). */
const SCTLR_LANE = 1n | 4n;

/** A finding of the replay: a machine violation in one lane, or a release of a reachable table. */
export interface CasemateFinding {
  readonly lane: string;
  readonly violation: Violation;
  /** The trace record of the violation's step. */
  readonly record: CasemateRecord;
  /** Records of the violation's trace entries, oldest first. */
  readonly trace: readonly { readonly record: CasemateRecord; readonly role: string }[];
}

/** A record whose effect vmsa did not replay (unknown TLBI, register, mem-read disagreement). */
export interface CasemateUnreplayed {
  readonly record: CasemateRecord;
  readonly why: string;
}

export interface CasemateReplayResult {
  readonly trace: CasemateTrace;
  readonly findings: readonly CasemateFinding[];
  readonly unreplayed: readonly CasemateUnreplayed[];
  /** Lock, unlock and hint records: Casemate's discipline, kept but not judged. */
  readonly notJudged: readonly CasemateRecord[];
  readonly lanes: readonly string[];
  readonly threads: number;
}

interface Lane {
  readonly name: string;
  readonly machine: Machine;
  /** Record index of each machine step (index = step). */
  readonly stepRecord: number[];
  /** Index of the record that created the lane. */
  readonly firstRecord: number;
  /** Per CPU: stage-2 IPA invalidations waiting for the CPU's VMALLE1 (operand, last-level). */
  readonly pendingIpa: { hi: number; lo: number; last: boolean; broadcast: boolean; rec: number }[][];
  /** Per CPU: whether this lane's root is the CPU's current one. */
  readonly current: boolean[];
  /** Per CPU: roots it switched away from in this lane, not invalidated since (same tag). */
  readonly oldRoots: Set<number>[];
  reported: number;
}

/** What CPU `t` has in its VTTBR_EL2 / TTBR0_EL2 (undefined: never written). */
interface CpuRoots {
  vmid: number | undefined;
  s2root: bigint;
  el2root: bigint | undefined;
}

export function replayCasemate(trace: CasemateTrace): CasemateReplayResult {
  return new CasemateReplay(trace).run();
}

class CasemateReplay {
  private readonly cpuOf = new Map<number, number>();
  private readonly lanes = new Map<string, Lane>();
  private readonly findings: CasemateFinding[] = [];
  private readonly unreplayed: CasemateUnreplayed[] = [];
  private readonly notJudged: CasemateRecord[] = [];
  /** Every non-zero 64-bit word written so far (to seed a lane created later). */
  private readonly shadow = new Map<number, bigint>();
  /** 4K frames declared by mem-init / mem-set (read as zero until written). */
  private readonly frames = new Set<number>();
  private readonly roots: CpuRoots[];
  private recIndex = 0;

  constructor(private readonly trace: CasemateTrace) {
    for (const r of trace.records) {
      if (!this.cpuOf.has(r.tid)) {
        if (this.cpuOf.size === 64) {
          throw new RangeError(`${trace.file}:${r.line}: tid: expected at most 64 threads (the machine models up to 64 CPUs)`);
        }
        this.cpuOf.set(r.tid, this.cpuOf.size);
      }
    }
    this.roots = Array.from({ length: this.cpuOf.size }, () => ({ vmid: undefined, s2root: 0n, el2root: undefined }));
  }

  run(): CasemateReplayResult {
    const recs = this.trace.records;
    for (let i = 0; i < recs.length; i++) {
      this.recIndex = i;
      this.step(recs[i] as CasemateRecord);
      this.collect();
    }
    for (const l of this.lanes.values()) l.machine.finish();
    this.collect();
    return {
      trace: this.trace,
      findings: this.findings,
      unreplayed: this.unreplayed,
      notJudged: this.notJudged,
      lanes: [...this.lanes.keys()],
      threads: this.cpuOf.size,
    };
  }

  private cpu(r: CasemateRecord): number {
    return this.cpuOf.get(r.tid) as number;
  }

  /** Steps of lane `l` made since the last mark stand for record `rec` (default: the current one). */
  private mark(l: Lane, rec = this.recIndex): void {
    const n = l.machine.stepCount;
    while (l.stepRecord.length <= n) l.stepRecord.push(rec);
  }

  private eachLane(f: (l: Lane) => void): void {
    for (const l of this.lanes.values()) {
      f(l);
      this.mark(l);
    }
  }

  private lane(name: string): Lane {
    let l = this.lanes.get(name);
    if (l !== undefined) return l;
    const mem = new PhysMem();
    for (const f of this.frames) mem.zeroFrames(f * PAGE, PAGE);
    const cpus = this.cpuOf.size;
    const base = presetByName("linux-4k-48").regs;
    const machine = new Machine({
      cpus,
      mem,
      regs: { ...base, ttbr0: 0n, ttbr1: 0n, tcr: TCR_LANE | TCR_EPD0, sctlr: SCTLR_LANE },
    });
    for (const [pa, v] of this.shadow) machine.setMemory(pa, Number(v >> 32n), Number(v & 0xffff_ffffn));
    l = {
      name,
      machine,
      stepRecord: [0],
      firstRecord: this.recIndex,
      pendingIpa: Array.from({ length: cpus }, () => []),
      current: new Array(cpus).fill(false),
      oldRoots: Array.from({ length: cpus }, () => new Set<number>()),
      reported: 0,
    };
    this.lanes.set(name, l);
    return l;
  }

  /** Point CPU `cpu` of lane `l` at `root` (undefined: switched out, EPD0). */
  private setRoot(l: Lane, cpu: number, root: bigint | undefined): void {
    const m = l.machine;
    const old = l.oldRoots[cpu] as Set<number>;
    const prev = Number(m.cpu(cpu).regs.ttbr0 & TABLE_ADDR_MASK);
    if (l.current[cpu] && (root === undefined || Number(root) !== prev)) old.add(prev);
    if (root !== undefined) old.delete(Number(root));
    if (root === undefined) {
      if (l.current[cpu]) m.msr(cpu, "TCR_EL1", TCR_LANE | TCR_EPD0);
      l.current[cpu] = false;
    } else {
      m.msr(cpu, "TTBR0_EL1", root);
      if (!l.current[cpu]) m.msr(cpu, "TCR_EL1", TCR_LANE);
      l.current[cpu] = true;
    }
    this.mark(l);
  }

  private s2Lane(cpu: number): Lane {
    return this.lane(`stage 2 VMID ${this.roots[cpu]?.vmid ?? 0}`);
  }

  private store(cpu: number, pa: bigint, value: bigint, release: boolean): void {
    const p = Number(pa);
    if (value === 0n) this.shadow.delete(p);
    else this.shadow.set(p, value);
    this.eachLane((l) => {
      if (release) l.machine.storeRelease(cpu, pa, value);
      else l.machine.store64(cpu, pa, value);
    });
  }

  private step(r: CasemateRecord): void {
    const cpu = this.cpu(r);
    switch (r.kind) {
      case "mem-write":
        this.store(cpu, r.address, r.value, r.order === "release");
        return;
      case "mem-init":
      case "mem-set": {
        const word = r.kind === "mem-set" ? BigInt(r.value) * 0x0101_0101_0101_0101n : 0n;
        const end = r.address + r.size;
        for (let f = Number(r.address) / PAGE; f * PAGE < Number(end); f = Math.floor(f) + 1) {
          const fr = Math.floor(f);
          if (!this.frames.has(fr)) {
            this.frames.add(fr);
            for (const l of this.lanes.values()) if (!l.machine.mem.isBacked(fr * PAGE)) l.machine.mem.zeroFrames(fr * PAGE, PAGE);
          }
        }
        // Only words that change are steps (a fresh page already reads as zero).
        for (let a = r.address; a < end; a += 8n) {
          if ((this.shadow.get(Number(a)) ?? 0n) !== word) this.store(cpu, a, word, false);
        }
        return;
      }
      case "mem-read": {
        const have = this.shadow.get(Number(r.address)) ?? 0n;
        if (have !== r.value) {
          this.unreplayed.push({
            record: r,
            why: `the trace read 0x${r.value.toString(16)} but its own writes left 0x${have.toString(16)} there (records missing from the trace)`,
          });
        }
        return;
      }
      case "barrier":
        this.eachLane((l) => {
          if (r.barrier === "isb") l.machine.isb(cpu);
          else if (r.barrier === "dsb") l.machine.dsb(cpu, r.domain.toUpperCase() as DsbKind);
          else l.machine.dmb(cpu, r.domain.toUpperCase() as DsbKind);
        });
        return;
      case "sysreg-write":
        this.sysreg(cpu, r);
        return;
      case "tlbi":
        this.tlbi(cpu, r);
        return;
      case "hint":
        this.notJudged.push(r);
        if (r.hint === "release" || r.hint === "release_table") this.release(cpu, r);
        return;
      case "lock":
      case "unlock":
      case "context":
        this.notJudged.push(r);
        return;
    }
  }

  private sysreg(cpu: number, r: Extract<CasemateRecord, { kind: "sysreg-write" }>): void {
    const roots = this.roots[cpu] as CpuRoots;
    if (r.sysreg === "vttbr_el2") {
      const vmid = Number(r.value >> 48n);
      const root = r.value & TABLE_ADDR_MASK;
      if (roots.vmid !== undefined && roots.vmid !== vmid) this.setRoot(this.s2Lane(cpu), cpu, undefined);
      roots.vmid = vmid;
      roots.s2root = root;
      this.setRoot(this.s2Lane(cpu), cpu, root);
      return;
    }
    if (r.sysreg === "ttbr0_el2") {
      roots.el2root = r.value & TABLE_ADDR_MASK;
      this.setRoot(this.lane("EL2 stage 1"), cpu, roots.el2root);
      return;
    }
    // Registers whose values the replay assumes (4K, 48-bit, level-0 start, MMU on): logged.
    if (["vtcr_el2", "tcr_el2", "mair_el2", "hcr_el2", "sctlr_el2"].includes(r.sysreg)) {
      this.notJudged.push(r);
      return;
    }
    this.unreplayed.push({ record: r, why: `system register ${r.sysreg} is not modelled` });
  }

  private tlbi(cpu: number, r: Extract<CasemateRecord, { kind: "tlbi" }>): void {
    const m = /^(ipas2l?e1|vmalls12e1|vmalle1|alle1|vae2|vale2|alle2)(is|os)?$/.exec(r.op);
    if (m === null) {
      this.unreplayed.push({ record: r, why: `TLBI ${r.op} is not modelled` });
      return;
    }
    const base = m[1] as string;
    const bc = m[2] !== undefined;
    const sfx = bc ? "IS" : "";
    // The operand: the raw Xt, or (addr IPA/VA) (level L) read as the page number and TTL hint.
    let op = r.value ?? 0n;
    if (r.addr !== undefined) op = (r.addr >> 12n) & 0xfff_ffff_ffffn;
    if (r.level !== undefined) op |= BigInt(0b0100 | r.level) << 44n;
    op &= 0x0000_ffff_ffff_ffffn; // no ASID field in these operations
    const hi = Number(op >> 32n);
    const lo = Number(op & 0xffff_ffffn);
    const on = (l: Lane, t: TlbiOp, h = hi, lw = lo, rec = this.recIndex): void => {
      l.machine.tlbiRaw(cpu, t, h, lw);
      this.mark(l, rec);
    };
    switch (base) {
      case "ipas2e1":
      case "ipas2le1": {
        const l = this.s2Lane(cpu);
        l.pendingIpa[cpu]?.push({ hi, lo, last: base === "ipas2le1", broadcast: bc, rec: this.recIndex });
        return;
      }
      case "vmalle1": {
        const l = this.s2Lane(cpu);
        const pend = l.pendingIpa[cpu] ?? [];
        for (const p of pend.splice(0)) {
          // The stage-2 invalidation's reach is its own (IS or not); VMALLE1 completes it for combined entries.
          // Reports name the IPA TLBI's own record.
          on(l, `${p.last ? "VAALE1" : "VAAE1"}${p.broadcast && bc ? "IS" : ""}` as TlbiOp, p.hi, p.lo, p.rec);
        }
        return;
      }
      case "vmalls12e1":
        on(this.s2Lane(cpu), `VMALLE1${sfx}` as TlbiOp, 0, 0);
        this.forget(this.s2Lane(cpu), cpu, bc);
        return;
      case "alle1":
        for (const l of this.lanes.values()) {
          if (!l.name.startsWith("stage 2")) continue;
          on(l, `VMALLE1${sfx}` as TlbiOp, 0, 0);
          this.forget(l, cpu, bc);
        }
        return;
      case "vae2":
      case "vale2":
        on(this.lane("EL2 stage 1"), `${base === "vae2" ? "VAAE1" : "VAALE1"}${sfx}` as TlbiOp);
        return;
      default:
        on(this.lane("EL2 stage 1"), `VMALLE1${sfx}` as TlbiOp, 0, 0);
        this.forget(this.lane("EL2 stage 1"), cpu, bc);
    }
  }

  /** An invalidation of the whole tag space: switched-out roots leave nothing cached. */
  private forget(l: Lane, cpu: number, broadcast: boolean): void {
    if (broadcast) for (const s of l.oldRoots) s.clear();
    else l.oldRoots[cpu]?.clear();
  }

  /** A table page handed back: walkers must no longer reach it (linked, or cached). */
  private release(cpu: number, r: Extract<CasemateRecord, { kind: "hint" }>): void {
    const page = Number(r.location & TABLE_ADDR_MASK);
    for (const l of this.lanes.values()) {
      const m = l.machine;
      for (let c = 0; c < m.cpuCount; c++) {
        const why = this.reach(l, c, page);
        if (why === undefined) continue;
        this.findings.push({
          lane: l.name,
          record: r,
          trace: [],
          violation: {
            rule: "freed-table-reuse",
            ruleNumber: 6,
            title: "freed table reused before walk-cache invalidation",
            detail: "casemate.release-reachable",
            citation:
              'Arm ARM DDI0487 D8.14 "TLB maintenance" (walk caches hold table entries until invalidated; RRVJDB) and D8.17.1 (break-before-make)',
            step: 0,
            cpu,
            pa: BigInt(page),
            message: `table page 0x${page.toString(16)} released while CPU ${c} may still walk it: ${why}`,
            fix: "unlink it (store invalid), DSB, TLBI covering its range (not last-level), DSB, then release",
            trace: [],
          },
        });
        return;
      }
    }
  }

  /** Why CPU `c` of lane `l` may still read table page `page`, or undefined. */
  private reach(l: Lane, c: number, page: number): string | undefined {
    const m = l.machine;
    const mem = m.mem;
    const tables = (start: number, level: number, out: Set<number>): void => {
      if (level > 3 || out.has(start)) return;
      out.add(start);
      if (level === 3) return;
      for (let i = 0; i < 512; i++) {
        if (!mem.load64(start + i * 8)) return;
        if ((mem.lo & 3) === 3) tables(Number((BigInt(mem.hi >>> 0) * 2n ** 32n + BigInt(mem.lo >>> 0)) & TABLE_ADDR_MASK), level + 1, out);
      }
    };
    if (l.current[c]) {
      const root = Number(m.cpu(c).regs.ttbr0 & TABLE_ADDR_MASK);
      const live = new Set<number>();
      tables(root, 0, live);
      if (live.has(page)) return "it is still linked into the tables its current root reaches";
    }
    for (const e of m.tlbSnapshot(c).stale) {
      if (e.state === "await-isb" && e.kind !== "context") continue;
      const via = new Set<number>();
      if (e.kind !== "table") continue;
      tables(Number(e.desc & TABLE_ADDR_MASK), e.level + 1, via);
      if (via.has(page)) {
        const how = e.state === "tlbi-issued" ? "is not complete (no DSB after the TLBI)" : "was never done";
        return `through the walk-cache entry of the level-${e.level} table descriptor at 0x${e.descAddr.toString(16)}, whose invalidation ${how}`;
      }
    }
    // A switched-out root is no longer walked, but walk-cache entries of its subtree (same tag,
    // not invalidated since) may still be used: its child tables, not the root page itself.
    for (const root of l.oldRoots[c] ?? []) {
      const sub = new Set<number>();
      tables(root, 0, sub);
      sub.delete(root);
      if (sub.has(page))
        return `through walk-cache entries of the switched-out root 0x${root.toString(16)} (same tag, not invalidated since)`;
    }
    return undefined;
  }

  /** Turn new machine reports of every lane into findings. */
  private collect(): void {
    const recs = this.trace.records;
    for (const l of this.lanes.values()) {
      const reps = l.machine.reports;
      for (; l.reported < reps.length; l.reported++) {
        const v = reps[l.reported] as Violation;
        // W^X is a Linux policy read through EL1 permission bits, which stage-2 (S2AP, XN) and
        // EL2 descriptors do not use the same way: not judged on Casemate traces.
        if (v.rule === "wx") continue;
        const at = (s: number): CasemateRecord => {
          // Step 0: memory as it was when the lane started (written before its root was installed).
          const i = s === 0 ? this.lastWriteBefore(l.firstRecord, v.descAddr) : l.stepRecord[s];
          return recs[i ?? this.recIndex] as CasemateRecord;
        };
        // The machine names its own steps; the trace's readers know record ids.
        const ids = (t: string): string =>
          inRegime(
            l.name,
            t.replace(/\bsteps? (\d+)\b/g, (_, n: string) => `id ${at(Number(n)).id}`),
          );
        this.findings.push({
          lane: l.name,
          violation: { ...v, message: ids(v.message), ...(v.fix !== undefined ? { fix: ids(v.fix) } : {}) },
          record: at(v.step),
          trace: v.trace.map((t) => ({ record: at(t.step), role: t.role })),
        });
      }
    }
  }

  /** Index of the last mem-write to `pa` before record `end`. */
  private lastWriteBefore(end: number, pa: bigint | undefined): number | undefined {
    const recs = this.trace.records;
    for (let i = end - 1; i >= 0; i--) {
      const r = recs[i] as CasemateRecord;
      if (r.kind === "mem-write" && (pa === undefined || r.address === pa)) return i;
    }
    return undefined;
  }
}
