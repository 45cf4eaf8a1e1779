/**
 * A herd7 litmus test (herd-parse.ts) as a vmsa scenario on the litmus model. herd's page tables
 * are symbolic (one leaf PTE per location, no levels); here each location gets a 4 KiB page in
 * concrete TTBR0 tables: location i (in order of first appearance) is VA 0x200000 + i·0x1000 →
 * PA 0x40000000 + i·0x1000, its level-3 descriptor at 0x83000 + 8·i (tables at 0x80000, pool
 * 0x81000). Values name them: `$x` (the VA), `$PTE_x` (the descriptor's PA), `$PA_x`.
 *
 * herd descriptor fields map to stage-1 page descriptor bits (Arm ARM D8.3; herd AArch64PteVal):
 * valid = bit 0, af = AF (bit 10), db:0 = AP[2] (bit 7, read-only), el0 = AP[1] (bit 6),
 * dbm = DBM (bit 51), x:0 = UXN/XN (bit 54); attributes Normal ISH (AttrIndx 0, SH 0b11).
 * Accesses through a register initialised to PTE(x) become physical accesses (`pa:Xn`): herd's
 * page-table locations are not translated.
 */
import { stringify } from "yaml";
import { PRESETS } from "../arch/registers.js";
import { HerdError, type HerdPte, type HerdTest, type HerdValue, parseHerd, readHerdValue } from "./herd-parse.js";

export const HERD_LAYOUT = {
  ttbr0: 0x8_0000n,
  pool: 0x8_1000n,
  va: 0x20_0000n,
  pa: 0x4000_0000n,
  pte: 0x8_3000n,
  page: 0x1000n,
  /** At most this many locations: one level-3 table. */
  maxLocations: 512,
} as const;

const TCR_HA = 1n << 39n;
const TCR_HD = 1n << 40n;

export const locVa = (i: number): bigint => HERD_LAYOUT.va + BigInt(i) * HERD_LAYOUT.page;
export const locPa = (i: number): bigint => HERD_LAYOUT.pa + BigInt(i) * HERD_LAYOUT.page;
export const locPte = (i: number): bigint => HERD_LAYOUT.pte + BigInt(i) * 8n;

/** The 64-bit descriptor of herd value `p` (page descriptor, level 3). */
export function pteBits(p: HerdPte, locs: readonly string[]): bigint {
  const i = locs.indexOf(p.oa ?? "");
  if (i < 0) throw new HerdError(`descriptor: output address PA(${p.oa}) is not a location`);
  let v = locPa(i) | 0b10n | (3n << 8n); // page, SH = inner shareable, AttrIndx 0
  if (p.valid) v |= 1n;
  if (p.af) v |= 1n << 10n;
  if (!p.db) v |= 1n << 7n;
  if (p.el0) v |= 1n << 6n;
  if (p.dbm) v |= 1n << 51n;
  if (!p.x) v |= 1n << 54n;
  return v;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** The cells of a column as vmsa litmus steps (`L0: ldr X0, [X1]`), or a HerdError naming the cell. */
function translateCell(t: HerdTest, cpu: number, text: string, line: number, pteRegs: ReadonlySet<string>): string {
  const fail = (msg: string): never => {
    throw new HerdError(`${t.file}:${line}: P${cpu}: "${text}": ${msg}`);
  };
  let s = text.trim();
  let label = "";
  const lm = /^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$/.exec(s);
  if (lm && !/^[xw]\d+$/i.test(lm[1] as string)) {
    label = `${lm[1]}: `;
    s = (lm[2] as string).trim();
  }
  if (s === "") return `${label}nop`;
  const m = /^([A-Za-z.]+)\s*(.*)$/.exec(s);
  if (m === null) return fail("not an instruction");
  const op = (m[1] as string).toUpperCase();
  const ops = (m[2] as string)
    .split(/,(?![^[]*\])/)
    .map((x) => x.trim())
    .filter((x) => x !== "");
  const imm = (x: string | undefined): string => {
    if (x === undefined) return fail("missing an operand");
    if (/^[XW]\d+$/i.test(x)) return x.toUpperCase();
    const n = x.replace(/^#/, "");
    if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(n)) fail(`operand "${x}" is not a register or an immediate`);
    return hex(BigInt(n));
  };
  const addr = (x: string | undefined): string => {
    const b = x === undefined ? undefined : /^\[\s*([XW]\d+)\s*(?:,\s*([XW]\d+)\s*(?:,\s*(SXTW|UXTW|LSL\s*#?0))?)?\s*\]$/i.exec(x);
    if (!b) return fail(`address "${x ?? ""}" is not supported (expected [Xn] or [Xn,Wm,SXTW])`);
    const base = (b[1] as string).toUpperCase().replace(/^W/, "X");
    if (pteRegs.has(base)) {
      if (b[2] !== undefined) fail("an indexed address of a page-table entry is not supported");
      return `pa:${base}`;
    }
    return b[2] !== undefined ? `[${base}, ${(b[2] as string).toUpperCase()}]` : `[${base}]`;
  };
  const reg = (x: string | undefined): string =>
    x !== undefined && /^[XW]\d+$/i.test(x) ? x.toUpperCase() : fail(`"${x ?? ""}" is not a register`);
  const lab = (x: string | undefined): string => (x !== undefined && /^[A-Za-z_]\w*$/.test(x) ? x : fail(`"${x ?? ""}" is not a label`));
  let out: string;
  const rmw = /^(SWP|CAS|LDCLR|LDSET|LDADD)(A|L|AL)?$/.exec(op);
  if (op === "LDR" || op === "LDAR" || op === "LDAPR") out = `${op.toLowerCase()} ${reg(ops[0])}, ${addr(ops[1])}`;
  else if (op === "STR" || op === "STLR") out = `${op.toLowerCase()} ${reg(ops[0])}, ${addr(ops[1])}`;
  else if (rmw) out = `${op.toLowerCase()} ${reg(ops[0])}, ${reg(ops[1])}, ${addr(ops[2])}`;
  else if (op === "MOV") out = `mov ${reg(ops[0])}, ${imm(ops[1])}`;
  else if (["ADD", "SUB", "EOR", "AND", "ORR", "BIC", "LSR", "LSL"].includes(op))
    out = `${op.toLowerCase()} ${reg(ops[0])}, ${reg(ops[1])}, ${imm(ops[2])}`;
  else if (op === "CBZ" || op === "CBNZ") out = `${op.toLowerCase()} ${reg(ops[0])}, ${lab(ops[1])}`;
  else if (op === "B") out = `b ${lab(ops[0])}`;
  else if (op === "DMB" || op === "DSB") out = `${op.toLowerCase()} ${(ops[0] ?? "SY").toUpperCase()}`;
  else if (op === "ISB") out = "isb";
  else if (op === "TLBI") {
    const what = (ops[0] ?? "").toUpperCase();
    if (!/^[A-Z0-9]+$/.test(what)) fail("expected TLBI OP[,Xn]");
    out = ops[1] !== undefined ? `tlbi ${what}, ${reg(ops[1])}` : `tlbi ${what}`;
  } else if (op === "SVC") out = "svc";
  else if (op === "ERET") out = "eret";
  else if (op === "NOP") out = "nop";
  else return fail(`instruction ${op} is not supported (see src/scenario/herd-parse.ts for the subset)`);
  if (ops.length > ({ B: 1, ISB: 0, SVC: 1, ERET: 0, NOP: 0, TLBI: 2, DMB: 1, DSB: 1 } as Record<string, number>)[op]!)
    fail("too many operands");
  return `${label}${out}`;
}

/** herd's final condition in vmsa's syntax: locations as `$x`, descriptors as numbers. */
function translateCondition(t: HerdTest, locs: string[], r: { parseValue: (s: string) => HerdValue }): string {
  const line = t.condition.line;
  const fail = (msg: string): never => {
    throw new HerdError(`${t.file}:${line}: condition: ${msg}`);
  };
  const use = (name: string): string => {
    if (!locs.includes(name)) locs.push(name);
    return name;
  };
  const descNum = (body: string): string => {
    const v = r.parseValue(`(${body})`);
    if (v.k !== "desc") return fail(`(${body}) is not a descriptor`);
    return hex(pteBits(v.pte, locs));
  };
  let c = t.condition.text;
  // [PTE(x)]=(…) and pte_x=(…): the descriptor's final value.
  c = c.replace(/\[?\s*(?:PTE\(\s*([A-Za-z_]\w*)\s*\)|pte_([A-Za-z_]\w*))\s*\]?\s*=\s*\(((?:[^()]|\([^()]*\))*)\)/gi, (_m, a, b, body) => {
    const loc = use((a ?? b) as string);
    return `[pa:$PTE_${loc}]=${descNum(`oa:PA(${loc}), ${body}`)}`;
  });
  // N:Xr=(…): a register holding a descriptor.
  c = c.replace(/\b(P?\d+:[XW]\d+)\s*=\s*\(((?:[^()]|\([^()]*\))*)\)/gi, (_m, rg, body) => `${rg}=${descNum(body as string)}`);
  // N:Xr=x (a register holding a location's VA).
  c = c.replace(/\b(P?\d+:[XW]\d+)\s*=\s*([A-Za-z_]\w*)\b/gi, (_m, rg, loc) => `${rg}=$${use(loc as string)}`);
  c = c.replace(/\bfault\(([^()]*)\)/gi, (_m, args: string) => {
    const parts = args.split(",").map((x) => x.trim());
    const out = parts.map((p, i) => (i === 1 && /^[A-Za-z_]\w*$/.test(p) && !/^MMU:/i.test(p) ? `$${use(p)}` : p));
    return `fault(${out.join(", ")})`;
  });
  c = c.replace(/\[\s*([A-Za-z_]\w*)\s*\]/g, (_m, loc) => `[$${use(loc as string)}]`);
  // A bare location on the left of "=": x=1.
  c = c.replace(/(^|[\s(/\\~])([A-Za-z_]\w*)\s*=/g, (m, pre, loc: string) =>
    /^(exists|forall|true|fault)$/i.test(loc) || /^P?\d/.test(loc) ? m : `${pre}[$${use(loc)}]=`,
  );
  return c;
}

/** The scenario (YAML text) of herd test `t`. */
export function herdToScenarioText(t: HerdTest): string {
  const locs = [...t.locations];
  const variant = new Set(
    (t.info.get("variant") ?? "")
      .split(/[,\s]+/)
      .map((v) => v.trim().toLowerCase())
      .filter((v) => v !== ""),
  );
  const known = ["vmsa", "kvm", "fatal", "faulttonext", "ets", "ets2", "ets3", "exs", "eis", "eos", "precise", "imprecise", "handled"];
  for (const v of variant)
    if (!known.includes(v)) throw new HerdError(`${t.file}: Variant ${v} is not supported (expected some of ${known.join(", ")})`);
  const machine: Record<string, unknown> = { cpus: t.threads.filter((x) => !x.handler).length };
  const preset = PRESETS.find((p) => p.name === "linux-4k-48");
  if (preset === undefined) throw new HerdError("preset linux-4k-48 missing");
  // TTHM: hardware access-flag (HA) and dirty-state (HD) management; absent = software (herd).
  const base = preset.regs.tcr & ~(TCR_HA | TCR_HD);
  const tthm = (t.info.get("tthm") ?? "").split(/\s+/).filter((x) => x !== "");
  const tcrOf = (cpu: number | undefined): bigint => {
    let v = base;
    for (const item of tthm) {
      const m = /^(?:P(\d+):)?(HA|HD|SW)$/i.exec(item);
      if (m === null) throw new HerdError(`${t.file}: TTHM item ${item} (expected [Pn:]HA, HD or SW)`);
      if (m[1] !== undefined && Number(m[1]) !== cpu) continue;
      const what = (m[2] as string).toUpperCase();
      if (what === "SW") v = base;
      if (what === "HA") v |= TCR_HA;
      if (what === "HD") v |= TCR_HA | TCR_HD;
    }
    return v;
  };
  machine.regs = { TTBR0_EL1: hex(HERD_LAYOUT.ttbr0), TTBR1_EL1: "0x0", TCR_EL1: hex(tcrOf(undefined)) };
  const perCpu: Record<string, unknown> = {};
  for (let c = 0; c < (machine.cpus as number); c++) if (tcrOf(c) !== tcrOf(undefined)) perCpu[`P${c}`] = { TCR_EL1: hex(tcrOf(c)) };
  if (Object.keys(perCpu).length > 0) machine.cpu = perCpu;
  if (variant.has("ets2")) machine.ets = 2;
  if (variant.has("ets3")) machine.ets = 3;
  if (variant.has("faulttonext")) machine.faults = "skip";
  if (variant.has("exs")) {
    machine.eis = variant.has("eis") ? 1 : 0;
    machine.eos = variant.has("eos") ? 1 : 0;
  }
  const el0 = (t.info.get("el0") ?? "").split(/[,\s]+/).filter((x) => x !== "");
  if (el0.length > 0) {
    const el: Record<string, number> = {};
    for (const p of el0) {
      const m = /^P(\d+)$/i.exec(p);
      if (m === null || Number(m[1]) >= (machine.cpus as number)) throw new HerdError(`${t.file}: EL0=${p} is not a thread`);
      el[`P${m[1]}`] = 0;
    }
    machine.el = el;
  }
  const pteRegs = new Map<number, Set<string>>();
  for (const g of t.registers) {
    if (g.value.k !== "pte") continue;
    let set = pteRegs.get(g.cpu);
    if (set === undefined) {
      set = new Set();
      pteRegs.set(g.cpu, set);
    }
    set.add(g.reg);
  }
  const steps: string[] = [];
  for (const th of t.threads) {
    const head = `P${th.cpu}${th.handler ? ".F" : ""}`;
    for (const cell of th.cells) {
      if (/^[A-Za-z_]\w*\s*:$/.test(cell.text) && !/^[XW]\d+/i.test(cell.text)) {
        steps.push(`${head}: ${cell.text} nop`);
        continue;
      }
      steps.push(`${head}: ${translateCell(t, th.cpu, cell.text, cell.line, pteRegs.get(th.cpu) ?? new Set())}`);
    }
  }
  const parser = { parseValue: (s: string): HerdValue => readHerdValue(t.file, t.condition.line, s) };
  const final = translateCondition(t, locs, parser);
  if (locs.length > HERD_LAYOUT.maxLocations) throw new HerdError(`${t.file}: more than ${HERD_LAYOUT.maxLocations} locations`);
  const values: Record<string, string> = {};
  const words: Record<string, string> = {};
  const map: Record<string, unknown>[] = [];
  locs.forEach((loc, i) => {
    values[loc] = hex(locVa(i));
    values[`PTE_${loc}`] = hex(locPte(i));
    values[`PA_${loc}`] = hex(locPa(i));
    // herd's default PTE: valid, af, db (writable), el0, x.
    map.push({ va: hex(locVa(i)), pa: hex(locPa(i)), attrs: { ap: 1, pxn: 0, uxn: 0 } });
  });
  // RAM reads as zero: only non-zero initial values are words.
  for (const [loc, v] of t.memory) if (v !== 0n) words[hex(locPa(locs.indexOf(loc)))] = hex(v);
  for (const [loc, p] of t.ptes) words[hex(locPte(locs.indexOf(loc)))] = hex(pteBits(p, locs));
  const registers: Record<string, string> = {};
  for (const g of t.registers) registers[`P${g.cpu}:${g.reg}`] = valueText(g.value, locs);
  const doc: Record<string, unknown> = {
    name: t.name,
    description: `herd7 litmus test ${t.name} (read from ${t.file}; locations as pages of TTBR0 tables, see src/scenario/herd-import.ts)`,
    machine,
    memory: {
      ram: [{ base: hex(HERD_LAYOUT.pa), size: hex(BigInt(locs.length + 1) * HERD_LAYOUT.page) }],
      pool: hex(HERD_LAYOUT.pool),
      map,
      words,
    },
    values,
    ...(t.registers.length > 0 ? { registers } : {}),
    steps,
    final,
  };
  return stringify(doc, { lineWidth: 0 });
}

function valueText(v: HerdValue, locs: readonly string[]): string {
  switch (v.k) {
    case "num":
      return hex(v.v);
    case "va":
      return `$${v.loc}`;
    case "pte":
      return `$PTE_${v.loc}`;
    case "pa":
      return `$PA_${v.loc}`;
    case "desc":
      return hex(pteBits(v.pte, locs));
  }
}

/** Read a herd `.litmus` file's text as scenario YAML text. */
export function herdFileToScenarioText(text: string, file: string): string {
  return herdToScenarioText(parseHerd(text, file));
}
