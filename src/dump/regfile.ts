/**
 * Register values for a dump: from a text file (gdb's `info registers` / `p/x $REG` output, or
 * `NAME=VALUE` lines, or a JSON object), from VMCOREINFO, from a preset, or from the command line.
 * Every register records where its value came from.
 */
import { ParseError } from "../arch/errors.js";
import { encodeTcr, FEATURES_MAX, type Features, featuresFromIdRegs, LINUX_MAIR, LINUX_SCTLR, type Regs } from "../arch/registers.js";
import { parseU64 } from "../arch/u64.js";
import { type VmcoreInfo, vmNumber, vmPageSize, vmSymbol } from "./vmcoreinfo.js";

export const REG_NAMES = [
  "TTBR0_EL1",
  "TTBR1_EL1",
  "TCR_EL1",
  "MAIR_EL1",
  "SCTLR_EL1",
  "ID_AA64MMFR0_EL1",
  "ID_AA64MMFR1_EL1",
  "ID_AA64MMFR2_EL1",
  // Permission indirection and overlays (FEAT_TCR2, S1PIE, S1POE): a PIE-enabled kernel's registers.
  "TCR2_EL1",
  "PIR_EL1",
  "PIRE0_EL1",
  "POR_EL1",
  "POR_EL0",
  "ID_AA64MMFR3_EL1",
  // Stage 2 (vmsa dump/audit --stage 2): a hypervisor's registers, absent from a guest's dump.
  "VTTBR_EL2",
  "VTCR_EL2",
  "HCR_EL2",
  "S2PIR_EL2",
  "S2POR_EL1",
] as const;
export type RegName = (typeof REG_NAMES)[number];

export type RegValues = Partial<Record<RegName, bigint>>;

export interface SourcedRegs {
  readonly values: RegValues;
  /** Per register: where the value came from. */
  readonly sources: Partial<Record<RegName, string>>;
}

const ALIASES: Record<string, RegName> = {
  TTBR0: "TTBR0_EL1",
  TTBR1: "TTBR1_EL1",
  TCR: "TCR_EL1",
  MAIR: "MAIR_EL1",
  SCTLR: "SCTLR_EL1",
  MMFR0: "ID_AA64MMFR0_EL1",
  MMFR1: "ID_AA64MMFR1_EL1",
  MMFR2: "ID_AA64MMFR2_EL1",
  MMFR3: "ID_AA64MMFR3_EL1",
  TCR2: "TCR2_EL1",
  PIR: "PIR_EL1",
  PIRE0: "PIRE0_EL1",
  VTTBR: "VTTBR_EL2",
  VTCR: "VTCR_EL2",
  HCR: "HCR_EL2",
  S2PIR: "S2PIR_EL2",
  S2POR: "S2POR_EL1",
};

/** Canonical register name for `ttbr1`, `TTBR1_EL1`, `$TTBR1_EL1`, `mmfr0`...; undefined if not one we use. */
export function canonicalRegName(name: string): RegName | undefined {
  const n = name.replace(/^\$/, "").toUpperCase();
  if ((REG_NAMES as readonly string[]).includes(n)) return n as RegName;
  return ALIASES[n] ?? ALIASES[n.replace(/_EL1$/, "")];
}

/**
 * Parse a register file. Values are hex (0x optional). Accepted line forms (lines naming other
 * registers or no register are ignored; a line naming one of REG_NAMES with a bad value is an error):
 *   `TTBR1_EL1      0x3a000040530001     16325548653756417`   (gdb `info registers`)
 *   `$1 = 0x3a000040530001` after a `p/x $TTBR1_EL1` echo line is not self-describing, so gdb
 *   scripts should use `info registers NAME` (or `printf "TTBR1_EL1=%#lx\n", $TTBR1_EL1`);
 *   `TTBR1_EL1=0x...` / `ttbr1: 0x...`
 * or a JSON object `{ "TTBR1_EL1": "0x..." }` (also under a "registers" key, as in machine.json).
 */
export function parseRegisterFile(text: string, file: string): SourcedRegs {
  const values: RegValues = {};
  const sources: Partial<Record<RegName, string>> = {};
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch (e) {
      throw new ParseError(`${file}: invalid JSON (${(e as Error).message})`);
    }
    const rec = (obj as { registers?: unknown }).registers ?? obj;
    if (typeof rec !== "object" || rec === null) throw new ParseError(`${file}: expected a JSON object of registers`);
    for (const [k, v] of Object.entries(rec as Record<string, unknown>)) {
      const name = canonicalRegName(k);
      if (!name) continue;
      // A JSON number is decimal by JSON's rules but hex by ours, and loses bits above 2^53: ask for a string.
      if (typeof v !== "string") throw new ParseError(`${file}: ${k}: expected a hex string like "0x40530001", got ${typeof v}`);
      values[name] = parseU64(v, `${file}: ${k}`);
      sources[name] = `register file ${file}`;
    }
    return { values, sources };
  }
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    // Lines naming another register (gdb prints them all) are skipped; a register we use must have a valid value.
    const m = /^\s*\$?([A-Za-z][A-Za-z0-9_]*)\s*(?:=|:|\s)\s*(\S*)/.exec(line);
    if (!m) return;
    const name = canonicalRegName(m[1] as string);
    if (!name) return;
    values[name] = parseU64(m[2] as string, `${file}:${i + 1}: ${m[1]}`);
    sources[name] = `register file ${file}`;
  });
  return { values, sources };
}

/**
 * Registers a Linux kernel's VMCOREINFO implies: TTBR1 = __pa(swapper_pg_dir) =
 * SYMBOL(swapper_pg_dir) - NUMBER(kimage_voffset); TCR from PAGESIZE and NUMBER(TCR_EL1_T1SZ)
 * (or NUMBER(VA_BITS)), DS=1 for a 52-bit VA with 4K/16K pages (FEAT_LPA2), Linux's MAIR/SCTLR.
 * TTBR0 is not recorded (0: no user tables).
 */
export function regsFromVmcoreInfo(vi: VmcoreInfo): SourcedRegs {
  const values: RegValues = {};
  const sources: Partial<Record<RegName, string>> = {};
  const src = `VMCOREINFO (${vi.source})`;
  const swapper = vmSymbol(vi, "swapper_pg_dir");
  const voff = vmNumber(vi, "kimage_voffset");
  const pageSize = vmPageSize(vi);
  const t1sz = vmNumber(vi, "TCR_EL1_T1SZ");
  const vaBits = vmNumber(vi, "VA_BITS");
  const ia = t1sz !== undefined ? 64 - Number(t1sz) : vaBits !== undefined ? Number(vaBits) : undefined;
  const g = pageSize === 4096 ? "4K" : pageSize === 16384 ? "16K" : pageSize === 65536 ? "64K" : undefined;
  const ds = ia !== undefined && ia > 48 && g !== "64K";
  const pa52 = ds || (g === "64K" && ia !== undefined && ia > 48);
  if (swapper !== undefined && voff !== undefined) {
    const pa = (swapper - voff) & ((1n << 64n) - 1n);
    // 52-bit table addresses keep bits [51:48] in TTBR bits [5:2].
    values.TTBR1_EL1 = pa52 ? (pa & 0x0000_ffff_ffff_ffc0n) | (((pa >> 48n) & 0xfn) << 2n) : pa;
    sources.TTBR1_EL1 = `${src}: SYMBOL(swapper_pg_dir) - NUMBER(kimage_voffset)`;
  }
  if (g !== undefined && ia !== undefined) {
    values.TCR_EL1 = encodeTcr({
      t0sz: 64 - Math.min(ia, 48),
      t1sz: 64 - ia,
      tg0: g,
      tg1: g,
      ipsBits: pa52 ? 52 : 48,
      a1: true,
      as: true,
      tbi0: true,
      ha: true,
      hd: true,
      ds,
    });
    sources.TCR_EL1 = `${src}: PAGESIZE=${pageSize}, ${t1sz !== undefined ? `NUMBER(TCR_EL1_T1SZ)=${t1sz}` : `NUMBER(VA_BITS)=${vaBits}`}${ds ? ", DS=1 (52-bit VA with LPA2)" : ""}`;
  }
  return { values, sources };
}

/** Merge register sets; later ones override earlier ones, register by register. */
export function mergeRegs(...sets: SourcedRegs[]): SourcedRegs {
  const values: RegValues = {};
  const sources: Partial<Record<RegName, string>> = {};
  for (const s of sets) {
    for (const n of REG_NAMES) {
      const v = s.values[n];
      if (v !== undefined) {
        values[n] = v;
        sources[n] = s.sources[n] ?? "unknown";
      }
    }
  }
  return { values, sources };
}

/** Fill in defaults (Linux MAIR/SCTLR, FEATURES_MAX for missing ID registers) and build Regs. */
export function completeRegs(s: SourcedRegs, what = "dump"): { regs: Regs; sources: Record<RegName, string> } {
  const v = { ...s.values };
  const src = { ...s.sources } as Record<RegName, string>;
  if (v.TTBR1_EL1 === undefined) {
    throw new ParseError(
      `${what}: no TTBR1_EL1: give --ttbr1, a register file (--regs, gdb "info registers" output), or a dump whose VMCOREINFO has SYMBOL(swapper_pg_dir) and NUMBER(kimage_voffset)`,
    );
  }
  if (v.TCR_EL1 === undefined) {
    throw new ParseError(`${what}: no TCR_EL1: give --tcr, a register file, or a dump with VMCOREINFO (PAGESIZE and NUMBER(VA_BITS))`);
  }
  const dflt = (n: RegName, val: bigint, why: string): void => {
    if (v[n] === undefined) {
      v[n] = val;
      src[n] = why;
    }
  };
  dflt("TTBR0_EL1", 0n, "default 0 (not recorded; no user tables)");
  dflt("MAIR_EL1", LINUX_MAIR, "default (Linux v5.11+ MAIR_EL1)");
  dflt("SCTLR_EL1", LINUX_SCTLR, "default (Linux SCTLR_EL1, MMU on)");
  let features: Features = FEATURES_MAX;
  const ids = { mmfr0: v.ID_AA64MMFR0_EL1, mmfr1: v.ID_AA64MMFR1_EL1, mmfr2: v.ID_AA64MMFR2_EL1, mmfr3: v.ID_AA64MMFR3_EL1 };
  if (Object.values(ids).some((x) => x !== undefined)) features = featuresFromIdRegs(ids, FEATURES_MAX);
  for (const n of ["ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1"] as const) {
    if (v[n] === undefined) src[n] = "default (features of QEMU -cpu max)";
  }
  const regs: Regs = {
    ttbr0: v.TTBR0_EL1 as bigint,
    ttbr1: v.TTBR1_EL1,
    tcr: v.TCR_EL1,
    mair: v.MAIR_EL1 as bigint,
    sctlr: v.SCTLR_EL1 as bigint,
    features,
    // Permission indirection / overlays, when the input carries them (a PIE kernel's register
    // file: gdb `info registers`, JSON); absent ones leave TCR2_EL1 = 0 (direct permissions).
    ...(v.TCR2_EL1 !== undefined ? { tcr2: v.TCR2_EL1 } : {}),
    ...(v.PIR_EL1 !== undefined ? { pir: v.PIR_EL1 } : {}),
    ...(v.PIRE0_EL1 !== undefined ? { pire0: v.PIRE0_EL1 } : {}),
    ...(v.POR_EL1 !== undefined ? { por1: v.POR_EL1 } : {}),
    ...(v.POR_EL0 !== undefined ? { por0: v.POR_EL0 } : {}),
  };
  return { regs, sources: src };
}
