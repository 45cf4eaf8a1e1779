/**
 * Thread 000 (Mark Rutland / Will Deacon, Dec 2015, "arm64: mm: place empty_zero_page in bss"):
 * the zero page used as the reserved TTBR value must be zeroed *and made visible to the page
 * table walker* — a DSB after the .bss clear — and, when it was written with the MMU (and so the
 * caches) off, cleaned/invalidated to the PoC, before a TTBR points at it.
 */
import { hex64 } from "../../arch/u64.js";
import { localFlushTlbAll } from "../tlb.js";
import { cpuSetReservedTtbr0 } from "../ttbr.js";
import { buildWorld, finish, type ScenarioRun, type ThreadScenario, type Variant } from "./world.js";

function runZeroPage(variant: Variant, mmuOff: boolean): ScenarioRun {
  const id = mmuOff ? "zero-page-mmu-off" : "zero-page";
  const w = buildWorld({ junkZeroPage: true, ttbr0: "idmap", mmuOff });
  const { k, port } = w;
  const ps = k.geo.PAGE_SIZE;
  const narrative: string[] = [];
  const errors: string[] = [];
  const cpu = 0;
  narrative.push(
    `empty_zero_page is in .bss at PA 0x${w.reserved.toString(16)}; before the clear it holds leftovers that look like descriptors`,
  );
  port.note(cpu, "__primary_switched: clear .bss");
  port.zero(cpu, w.reserved, ps);
  narrative.push(`CPU0 clears .bss (${ps / 8} stores of zero to the zero page)${mmuOff ? " with the MMU and caches off" : ""}`);
  if (mmuOff) {
    if (variant === "good") {
      for (let a = w.reserved; a < w.reserved + ps; a += 64) port.dc(cpu, "CIVAC", BigInt(a));
      narrative.push("DC CIVAC over the page: the zeroes reach the PoC and no stale line survives");
    } else {
      narrative.push("no cache maintenance: the walker (cacheable, inner shareable) may still see the old lines");
    }
  }
  if (variant === "good") {
    port.dsb(cpu, "ISHST");
    narrative.push('DSB ISHST: "make zero page visible to PTW"');
  } else {
    narrative.push("no DSB after the clear");
  }
  if (mmuOff) {
    const sctlr = port.mrs(cpu, "SCTLR_EL1");
    port.msr(cpu, "SCTLR_EL1", sctlr | 0x5n);
    port.isb(cpu);
    narrative.push("enable the MMU and caches (SCTLR_EL1.M = C = 1); ISB");
  }
  // Every CPU now uses the zero page as its reserved TTBR0 (cpu_uninstall_idmap / secondary boot).
  for (const c of [1, 0]) {
    cpuSetReservedTtbr0(k, c, w.reserved);
    localFlushTlbAll(k, c);
    narrative.push(`CPU${c}: cpu_uninstall_idmap — TTBR0 := empty_zero_page; ISB; local TLB flush`);
    // Any TTBR0 walk now must find nothing: probe the old idmap.
    const r = port.access(c, w.idmapText, "read");
    narrative.push(
      `CPU${c}: speculative walk through TTBR0 at ${hex64(w.idmapText)}: ${r.ok ? `translates to PA 0x${r.pa.toString(16)}` : `${r.fault} fault`}`,
    );
  }
  return finish(w, id, variant, narrative, errors);
}

export const ZERO_PAGE: ThreadScenario = {
  id: "zero-page",
  thread: "000_58355c2dfd33d2b6.txt",
  title: "empty_zero_page in .bss as the reserved TTBR0 value",
  bad: "the .bss clear is not followed by a DSB, so a walk through TTBR0 = zero page may still read the old junk",
  good: 'DSB ISHST after clearing .bss ("make zero page visible to PTW") before TTBR0 points at it',
  run: (v) => runZeroPage(v, false),
};

export const ZERO_PAGE_MMU_OFF: ThreadScenario = {
  id: "zero-page-mmu-off",
  thread: "000_58355c2dfd33d2b6.txt",
  title: "zero page written with the MMU off: clean to PoC",
  bad: "cleared with the MMU and caches off and never cleaned/invalidated to the PoC: cacheable walks may hit stale lines",
  good: "DC CIVAC over the page and a DSB before the MMU is enabled and the TTBR is set",
  run: (v) => runZeroPage(v, true),
};
