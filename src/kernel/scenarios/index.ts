/**
 * The five source threads as runnable scenarios (each with a bad and a good variant), and a
 * plain-text report renderer for `vmsa scenario` / `vmsa demo`.
 */
import { hex64 } from "../../arch/u64.js";
import { CONTIGUOUS_SPLIT } from "./contiguous.js";
import { KMAP_ATOMIC, KMAP_ATOMIC_HOTPLUG } from "./kmap-atomic.js";
import { REPLACE_TABLES } from "./replace-tables.js";
import { TRANS_PGD, TRANS_PGD_KEXEC } from "./trans-pgd.js";
import { flagged, type ScenarioRun, type ThreadScenario, type Variant } from "./world.js";
import { ZERO_PAGE, ZERO_PAGE_MMU_OFF } from "./zero-page.js";

export * from "./world.js";

export const SCENARIOS: readonly ThreadScenario[] = [
  ZERO_PAGE,
  ZERO_PAGE_MMU_OFF,
  CONTIGUOUS_SPLIT,
  REPLACE_TABLES,
  KMAP_ATOMIC,
  KMAP_ATOMIC_HOTPLUG,
  TRANS_PGD,
  TRANS_PGD_KEXEC,
];

export function scenarioById(id: string): ThreadScenario | undefined {
  return SCENARIOS.find((s) => s.id === id);
}

export interface RenderOptions {
  /** Print every violation (default: one per distinct rule/detail, with a count). */
  readonly all?: boolean;
  /** Include the machine-step trace of each shown violation. */
  readonly trace?: boolean;
}

/** A short, readable report of one run. */
export function renderRun(s: ThreadScenario, r: ScenarioRun, o: RenderOptions = {}): string {
  const out: string[] = [];
  const verdict = flagged(r) ? "FLAGGED" : "clean";
  out.push(
    `[${s.id} / ${r.variant}] ${verdict} — ${r.violations.length} checker report(s), ${r.errors.length} kernel refusal(s)/fault(s), ${r.steps} machine steps`,
  );
  out.push(`  ${r.variant === "bad" ? s.bad : s.good}`);
  for (const n of r.narrative) out.push(`  - ${n}`);
  for (const e of r.errors) out.push(`  ✗ ${e}`);
  const groups = new Map<string, { first: (typeof r.violations)[number]; count: number }>();
  for (const v of r.violations) {
    const key = o.all ? `${v.step}:${v.message}` : `${v.rule}:${v.detail}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { first: v, count: 1 });
  }
  for (const { first: v, count } of groups.values()) {
    out.push(
      `  ! ${v.rule} (${v.detail}) at step ${v.step}, CPU ${v.cpu}${v.va !== undefined ? `, VA ${hex64(v.va)}` : ""}${count > 1 ? ` — and ${count - 1} more like it` : ""}`,
    );
    out.push(`      ${v.message}`);
    if (v.fix) out.push(`      fix: ${v.fix}`);
    if (o.trace) for (const t of v.trace) out.push(`      step ${t.step} (CPU ${t.cpu}) ${t.role}: ${t.text}`);
  }
  return out.join("\n");
}

export interface DemoResult {
  readonly text: string;
  /** Every bad variant flagged and every good variant clean. */
  readonly ok: boolean;
}

/** Run every scenario's bad and good variants; the report `vmsa demo` prints. */
export function demo(ids: readonly string[] = SCENARIOS.map((s) => s.id), o: RenderOptions = {}): DemoResult {
  const parts: string[] = [];
  let ok = true;
  for (const id of ids) {
    const s = scenarioById(id);
    if (!s) continue;
    parts.push(`=== ${s.title}  (thread ${s.thread})`);
    for (const v of ["bad", "good"] as Variant[]) {
      const r = s.run(v);
      const expectFlag = v === "bad";
      if (flagged(r) !== expectFlag) ok = false;
      parts.push(renderRun(s, r, o));
    }
    parts.push("");
  }
  parts.push(ok ? "All bad variants flagged, all good variants clean." : "UNEXPECTED: some variant did not get the expected verdict.");
  return { text: parts.join("\n"), ok };
}
export * from "./export.js";
