/**
 * Rule 7, speculative reach into protected memory: a valid AF=1 mapping of memory handed to the
 * secure world may be walked and cached speculatively at any time.
 * Arm ARM DDI0487 D8.14.1; Linux "arm64: mm: unmap memory before giving it to the secure world".
 */
import { LO_AF } from "../../arch/bits.js";
import { hex } from "../../arch/u64.js";
import type { PhysMem } from "../../mem/physmem.js";
import type { HalfContext } from "../../walk/context.js";
import { leafOutputAddress } from "../../walk/fields.js";
import { walkEntries } from "../../walk/range.js";
import { hx, type Reporter, vaOf } from "../report.js";
import type { Root, StaleEntry } from "../tlb.js";
import type { StoreFacts } from "./store.js";

export interface ProtectedRange {
  readonly base: number;
  readonly end: number;
  readonly step: number;
}

/** A new leaf (level `level`, `size` bytes) that maps into a protected range. */
export function checkMappedAfterProtect(
  rep: Reporter,
  st: StoreFacts,
  ranges: readonly ProtectedRange[],
  h: HalfContext,
  level: number,
  size: number,
  vaB: () => bigint,
): void {
  const { cpu, step, pa, hi, lo } = st;
  const oa = leafOutputAddress(h, hi, lo, level);
  for (const pr of ranges) {
    if (oa < pr.end && pr.base < oa + size) {
      rep.report(
        "protected-reach",
        "protected.mapped-after-protect",
        step,
        cpu,
        `new valid mapping VA ${hex(vaB())} → PA ${hx(oa)} (+${hx(size)}) reaches protected memory [${hx(pr.base)}, ${hx(pr.end)}); any CPU may speculate through it`,
        { va: vaB(), pa: oa, descAddr: pa },
        [rep.tr(pr.step, "protected the range"), rep.tr(step, "mapped it")],
        "do not map protected memory; unmap it (BBM + TLBI) before protecting",
      );
    }
  }
}

/** What the protect check reads of each CPU. */
export interface ReachCpu {
  readonly id: number;
  readonly roots: readonly Root[];
  readonly stale: readonly StaleEntry[];
}

/**
 * Protecting [base, end) at step `s`: report every mapping of it a CPU can reach now or may hold
 * cached (at most 32 reports, one per CPU and VA).
 */
export function checkReachOnProtect(
  rep: Reporter,
  mem: PhysMem,
  cpus: readonly ReachCpu[],
  base: number,
  end: number,
  s: number,
  lastWriter: (pa: number) => number,
): void {
  let count = 0;
  const limit = 32;
  const seen = new Set<string>();
  const hit = (c: number, va: bigint, oa: number, sz: number, descAddr: number, how: string, from: number): void => {
    const key = `${c}:${va}`;
    if (seen.has(key) || count >= limit) return;
    seen.add(key);
    count++;
    rep.report(
      "protected-reach",
      "protected.reachable",
      s,
      c,
      `protecting [${hx(base)}, ${hx(end)}) while CPU ${c} ${how} VA ${hex(va)} → PA ${hx(oa)} (+${hx(sz)}, descriptor at ${hx(descAddr)}): the CPU may speculate through it`,
      { va, pa: oa, descAddr },
      [rep.tr(from, "created the mapping"), rep.tr(s, "protected the range")],
      "unmap the range (invalid descriptors, DSB ISHST, TLBI VAE1IS/VMALLE1IS, DSB ISH) on every CPU's tables before protecting it",
    );
  };
  for (const c of cpus) {
    const roots: { r: Root; how: string }[] = c.roots.map((r) => ({ r, how: "can reach" }));
    for (const e of c.stale) {
      if (e.root !== undefined) roots.push({ r: e.root, how: "may hold (cached table) a walk to" });
      else if (e.kind === "leaf") {
        const oa = leafOutputAddress(e.half, e.hi, e.lo, e.level);
        const sz = 2 ** (e.half.shiftAt[e.level + 1] as number);
        if (oa < end && base < oa + sz) hit(c.id, vaOf(e.half, e.vaOff), oa, sz, e.descAddr, "may hold a stale TLB entry for", e.origin);
      }
    }
    for (const { r, how } of roots) {
      walkEntries(mem, r.half, 0, r.span, (e) => {
        if (e.kind !== "leaf") return;
        if ((e.lo & LO_AF) === 0 && !r.ctx.ha) return;
        const oa = leafOutputAddress(r.half, e.hi, e.lo, e.level);
        if (oa < end && base < oa + e.size) {
          hit(c.id, vaOf(r.half, r.vaOff + e.off), oa, e.size, e.descAddr, how, lastWriter(e.descAddr));
        }
      });
    }
  }
}
