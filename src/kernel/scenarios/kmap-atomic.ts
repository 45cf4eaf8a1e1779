/**
 * Thread 003 (Laura Abbott / Nicolas Pitre, Apr 2013, "arm: highmem: Add support for flushing
 * kmap_atomic mappings"): kunmap_atomic leaves the PTE in place (without DEBUG_HIGHMEM), so a page
 * once mapped with kmap_atomic stays mapped — cacheable, speculatively reachable — in some CPU's
 * fixmap slot. Handing it to the secure world then lets the CPU speculate into protected memory.
 * kmap_flush_unused + kmap_atomic_flush_unused first (every online CPU, and a CPU going offline
 * at CPU_DYING) removes the stray mappings.
 */
import { hex64 } from "../../arch/u64.js";
import { Kmap } from "../kmap.js";
import { buildWorld, finish, type ScenarioRun, type ThreadScenario, type Variant } from "./world.js";

/** The "highmem" pages handed to the secure world. */
const SECURE_PAGE = 0x5000_0000;
const SECURE_PAGE2 = 0x5000_1000;

/** The flow; `broadcastFlush` defaults to the good variant's choice (see KMAP_ATOMIC.good). */
export function runKmapAtomic(variant: Variant, hotplug: boolean, broadcastFlush = variant === "good"): ScenarioRun {
  const w = buildWorld({ fixmap: { kmapCpus: 2 } });
  const { k, port } = w;
  const narrative: string[] = [];
  const errors: string[] = [];
  const kmap = new Kmap(k, w.fixmap, { hotplugNotifier: !(hotplug && variant === "bad"), broadcastFlush });
  kmap.init(w.alloc);
  // CPU1 flushes the cache of a page it is about to give away: kmap_atomic, clean, kunmap_atomic.
  const va = kmap.kmapAtomic(1, SECURE_PAGE);
  port.access(1, va, "write");
  kmap.kunmapAtomic(1, va);
  narrative.push(
    `CPU1: kmap_atomic(page 0x${SECURE_PAGE.toString(16)}) at ${hex64(va)}, use, kunmap_atomic — the slot's PTE stays (no DEBUG_HIGHMEM)`,
  );
  const pva = kmap.kmap(SECURE_PAGE2);
  port.access(0, pva, "write");
  kmap.kunmap(SECURE_PAGE2);
  narrative.push(
    `CPU0: kmap(page 0x${SECURE_PAGE2.toString(16)}) at ${hex64(pva)}, kunmap — pkmap_count 1: still mapped until the next flush`,
  );
  if (hotplug) {
    const n = kmap.cpuDying(1);
    narrative.push(
      variant === "bad"
        ? "CPU1 is hot-unplugged; no CPU_DYING notifier, so its stray slot stays in the shared kernel table"
        : `CPU1 is hot-unplugged; the CPU_DYING notifier clears its ${n} stray slot(s) before it goes`,
    );
  }
  if (variant === "good" || hotplug) {
    const p = kmap.kmapFlushUnused();
    const a = kmap.kmapAtomicFlushUnused();
    narrative.push(`kmap_flush_unused: ${p} pkmap slot(s) cleared; kmap_atomic_flush_unused on the online CPUs: ${a} slot(s) cleared`);
  }
  kmap.protectForSecure(BigInt(SECURE_PAGE), BigInt(2 * k.geo.PAGE_SIZE));
  narrative.push(
    `scm MEM_PROTECT_LOCK: [0x${SECURE_PAGE.toString(16)}, +0x${(2 * k.geo.PAGE_SIZE).toString(16)}) handed to the secure world`,
  );
  return finish(w, hotplug ? "kmap-atomic-hotplug" : "kmap-atomic", variant, narrative, errors);
}

export const KMAP_ATOMIC: ThreadScenario = {
  id: "kmap-atomic",
  thread: "003_20aed123db118e35.txt",
  title: "stray kmap_atomic / kmap mappings before handing a page to the secure world",
  bad: "the page is protected while a stale kmap_atomic slot and a pkmap entry still map it: the CPU may speculate into protected memory",
  good: "kmap_flush_unused and kmap_atomic_flush_unused (non-zero PTEs above the current depth, every online CPU) before protecting, finished by one broadcast TLBI over the kmap slots: with local flushes only (as proposed), another CPU may still hold a speculatively cached slot entry and the checker flags it",
  run: (v) => runKmapAtomic(v, false),
};

export const KMAP_ATOMIC_HOTPLUG: ThreadScenario = {
  id: "kmap-atomic-hotplug",
  thread: "003_20aed123db118e35.txt",
  title: "kmap_atomic_flush_unused and a hot-unplugged CPU",
  bad: "a CPU goes offline with a stray slot; on_each_cpu cannot reach it, so the mapping survives the flush",
  good: "the CPU_DYING notifier clears the departing CPU's slots",
  run: (v) => runKmapAtomic(v, true),
};
