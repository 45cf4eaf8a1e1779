/**
 * Rule 3, misprogrammed contiguous group: a group of entries with the Contiguous bit must all
 * carry it, map consecutive output addresses from an aligned base and share attributes.
 * Arm ARM DDI0487 D8.7 "The Contiguous bit" / "Misprogramming of the Contiguous bit" (RNGLXZ, RJQQTC).
 *
 * A group is judged when it is published (a DSB of the CPU that wrote it), when an access
 * translates through it, and at the end of the run (`finish`); the group check itself is
 * shared with dump/audit (walk/contiguous.ts).
 */
import { HI_CONT } from "../../arch/bits.js";
import { contiguousEntries } from "../../arch/granule.js";
import { hex } from "../../arch/u64.js";
import type { PhysMem } from "../../mem/physmem.js";
import type { HalfContext } from "../../walk/context.js";
import { checkContiguousGroup, describeContiguousProblem } from "../../walk/contiguous.js";
import { hx, type Reporter, vaOf } from "../report.js";
import type { StoreFacts } from "./store.js";

export interface ContGroup {
  readonly cpu: number;
  readonly half: HalfContext;
  /** Hardware dirty-state management (TCR.HD) of the context that reaches the group. */
  readonly hd: boolean;
  readonly level: number;
  readonly groupAddr: number;
  readonly vaOff: number;
  readonly step: number;
}

export class ContiguousRule {
  /** Groups written since their writer's last DSB, by group address. */
  private readonly touched = new Map<number, ContGroup>();
  /** Signature of the problems last reported per group (a group is reported again only when they change). */
  private readonly reported = new Map<number, string>();
  constructor(
    private readonly mem: PhysMem,
    private readonly rep: Reporter,
  ) {}

  get hasTouched(): boolean {
    return this.touched.size > 0;
  }

  /**
   * A live leaf entry of the table at `tableBase` (VA `tableVaOff`, entries of `size` bytes) was
   * stored: remember its group when the entry or a group boundary entry carries the Contiguous bit.
   */
  touch(
    st: StoreFacts,
    h: HalfContext,
    hd: boolean,
    level: number,
    tableBase: number,
    tableVaOff: number,
    size: number,
    ok: number,
    nk: number,
  ): void {
    const { cpu, step, pa, ohi, hi } = st;
    const n = contiguousEntries(h.granule, level);
    if (n <= 0) return;
    const idx = (pa - tableBase) / 8;
    const gIdx = idx - (idx % n);
    const groupAddr = tableBase + gIdx * 8;
    let cont = (nk === 2 && (hi & HI_CONT) !== 0) || (ok === 2 && (ohi & HI_CONT) !== 0);
    const mem = this.mem;
    if (!cont && mem.load64(groupAddr) && (mem.hi & HI_CONT) !== 0 && (mem.lo & 1) !== 0) cont = true;
    if (!cont && mem.load64(groupAddr + (n - 1) * 8) && (mem.hi & HI_CONT) !== 0 && (mem.lo & 1) !== 0) cont = true;
    if (cont) this.touched.set(groupAddr, { cpu, half: h, hd, level, groupAddr, vaOff: tableVaOff + gIdx * size, step });
  }

  /** A DSB of `cpu` at step `s` publishes the groups it wrote. */
  publish(cpu: number, s: number): void {
    for (const [k, g] of this.touched) {
      if (g.cpu !== cpu) continue;
      this.touched.delete(k);
      this.check(g, s, cpu);
    }
  }

  /** End of the run: judge the groups never published. */
  finish(step: number): void {
    if (this.touched.size === 0) return;
    for (const g of this.touched.values()) this.check(g, step, g.cpu);
    this.touched.clear();
  }

  /**
   * An access of `cpu` translated through a contiguous leaf at level `level` (descriptor at
   * `descAddr`, VA offset `off` in half `h`): judge its group.
   */
  checkAccess(cpu: number, step: number, h: HalfContext, hd: boolean, level: number, descAddr: number, off: number): void {
    const n = contiguousEntries(h.granule, level);
    const tableBase = descAddr - (descAddr % 2 ** h.gShift);
    const idx = (descAddr - tableBase) / 8;
    const gIdx = idx - (idx % n);
    const size = 2 ** (h.shiftAt[level + 1] as number);
    this.check({ cpu, half: h, hd, level, groupAddr: tableBase + gIdx * 8, vaOff: off - (off % (size * n)), step }, step, cpu);
  }

  private check(g: ContGroup, step: number, cpu: number): void {
    const h = g.half;
    const r = checkContiguousGroup(this.mem, h, g.hd, g.level, g.groupAddr);
    if (!r || !r.anyContiguous || r.problems.length === 0) return;
    if (this.reported.get(g.groupAddr) === r.signature) return;
    this.reported.set(g.groupAddr, r.signature);
    const n = r.entries;
    const size = r.entrySize;
    const problems = r.problems.map((p) => describeContiguousProblem(p, g.level));
    const va = vaOf(h, g.vaOff);
    this.rep.report(
      "contiguous",
      "contiguous.misprogrammed",
      step,
      cpu,
      `contiguous group of ${n} level-${g.level} entries at ${hx(g.groupAddr)} (VA ${hex(va)}) is misprogrammed: ${problems.slice(0, 4).join("; ")}${problems.length > 4 ? `; … (${problems.length} problems)` : ""}`,
      { va, descAddr: g.groupAddr },
      [this.rep.tr(g.step, "wrote an entry of the group")],
      `write all ${n} entries with the Contiguous bit, consecutive output addresses from a ${hx(size * n)}-aligned base and identical attributes (or clear the bit on all of them)`,
    );
  }
}
