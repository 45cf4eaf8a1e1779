/**
 * Rule 6, freed table reused before walk-cache invalidation: a table page unlinked from the
 * tables may still be walked through a cached table entry until a non-last-level TLBI completes,
 * so writing into it (reuse) changes what that CPU may translate.
 * Arm ARM DDI0487 D8.14 (last-level TLBI need not remove walk-cache entries);
 * Linux __flush_tlb_kernel_pgtable / free_empty_tables.
 */
import { hx, type Reporter, vaOf } from "../report.js";
import type { TableUse } from "../table-index.js";
import { ST_TLBI_ISSUED, type StaleEntry } from "../tlb.js";
import type { StoreFacts } from "./store.js";

/** `st` wrote into a table only reachable through the cached table entry of `su` (no current root reaches it). */
export function reportFreedTableReuse(rep: Reporter, st: StoreFacts, su: TableUse): void {
  const { cpu, step, pa } = st;
  const s = su.stale as StaleEntry;
  const tr = [rep.tr(s.changed, "unlinked the table"), rep.tr(step, "wrote into the unlinked table")];
  for (const m of s.missed) tr.push(rep.tr(m.step, `TLBI did not remove the walk-cache entry (${m.why})`));
  if (s.state === ST_TLBI_ISSUED) tr.push(rep.tr(s.tlbiStep, "TLBI issued, not yet completed by DSB"));
  rep.report(
    "freed-table-reuse",
    s.state === ST_TLBI_ISSUED ? "freed-table.tlbi-incomplete" : "freed-table.no-walk-cache-tlbi",
    step,
    cpu,
    `table page ${hx(su.tableBase)} (level ${su.level}) was unlinked at step ${s.changed} but CPU ${s.cpu} may still walk it through a cached table entry; it is written at ${hx(pa)} before a non-last-level invalidation completed`,
    {
      va: vaOf(su.root.half, su.vaOff + ((pa - su.tableBase) / 8) * 2 ** (su.root.half.shiftAt[su.level + 1] as number)),
      pa,
      descAddr: s.descAddr,
    },
    tr,
    `after unlinking: DSB ISHST; TLBI VAE1IS/VAAE1IS (not VALE1) or VMALLE1IS covering the range; DSB ISH; then reuse the page`,
    `freed:${s.id}`,
  );
}
