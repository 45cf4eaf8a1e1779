/**
 * Register files for the dump view: a machine.json like the shipped fixture
 * ({"registers": {"TCR_EL1": "0x…", …}, "memory": {"load_at": …}}), a flat JSON object, or
 * `NAME=VALUE` lines. Names are case-insensitive and the `_EL1` suffix is optional.
 */
import { ParseError } from "../../../src/arch/errors.js";
import { FEATURES_MAX, featuresFromIdRegs, LINUX_MAIR, LINUX_SCTLR, type Regs } from "../../../src/arch/registers.js";
import { parseU64 } from "../../../src/arch/u64.js";

export interface RegisterFile {
  readonly regs: Regs;
  /** Load address suggested by the file (machine.json memory.load_at). */
  readonly loadAt?: bigint;
  readonly memoryFile?: string;
}

const KNOWN = ["TTBR0", "TTBR1", "TCR", "MAIR", "SCTLR", "ID_AA64MMFR0", "ID_AA64MMFR1", "ID_AA64MMFR2"];

function canon(name: string): string {
  return name.trim().toUpperCase().replace(/_EL1$/, "");
}

export function parseRegisterText(text: string, source = "registers"): RegisterFile {
  const values = new Map<string, string>();
  let loadAt: bigint | undefined;
  let memoryFile: string | undefined;
  const t = text.trim();
  if (t.startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(t);
    } catch (e) {
      throw new ParseError(`${source}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof obj !== "object" || obj === null) throw new ParseError(`${source}: expected a JSON object`);
    const o = obj as Record<string, unknown>;
    const regObj = (typeof o.registers === "object" && o.registers !== null ? o.registers : o) as Record<string, unknown>;
    for (const [k, v] of Object.entries(regObj)) {
      // Register values are hex strings; a JSON number would be read in decimal (and lose bits above 2^53).
      if (typeof v === "number") throw new ParseError(`${source}: ${k}: expected a hex string like "0x40530001", got a number`);
      if (typeof v === "string") values.set(canon(k), v);
    }
    const mem = o.memory as Record<string, unknown> | undefined;
    if (mem && typeof mem === "object") {
      if (typeof mem.load_at === "string") loadAt = parseU64(mem.load_at, `${source}: memory.load_at`);
      if (typeof mem.file === "string") memoryFile = mem.file;
    }
  } else {
    t.split(/\r?\n/).forEach((line, i) => {
      const s = line.replace(/#.*$/, "").trim();
      if (!s) return;
      const m = /^([A-Za-z0-9_]+)\s*[=:]\s*(\S+)$/.exec(s);
      if (!m) throw new ParseError(`${source} line ${i + 1}: "${s}" (expected NAME=VALUE, e.g. TCR_EL1=0x…)`);
      values.set(canon(m[1] as string), m[2] as string);
    });
  }
  for (const k of values.keys()) {
    if (!KNOWN.includes(k)) throw new ParseError(`${source}: unknown register "${k}" (expected one of ${KNOWN.join(", ")})`);
  }
  const get = (k: string): bigint | undefined => {
    const v = values.get(k);
    return v === undefined ? undefined : parseU64(v, `${source}: ${k}_EL1`);
  };
  const tcr = get("TCR");
  if (tcr === undefined) throw new ParseError(`${source}: TCR_EL1 is missing (the walk cannot be decoded without it)`);
  const ids = { mmfr0: get("ID_AA64MMFR0"), mmfr1: get("ID_AA64MMFR1"), mmfr2: get("ID_AA64MMFR2") };
  const regs: Regs = {
    ttbr0: get("TTBR0") ?? 0n,
    ttbr1: get("TTBR1") ?? 0n,
    tcr,
    mair: get("MAIR") ?? LINUX_MAIR,
    sctlr: get("SCTLR") ?? LINUX_SCTLR,
    features: featuresFromIdRegs(ids, FEATURES_MAX),
  };
  return { regs, loadAt, memoryFile };
}

/** `FILE@PA` → name and address (the last `@` separates). */
export function parseImageSpec(spec: string): { file: string; pa: bigint | undefined } {
  const at = spec.lastIndexOf("@");
  if (at <= 0) return { file: spec, pa: undefined };
  return { file: spec.slice(0, at), pa: parseU64(spec.slice(at + 1), `${spec}: load address`) };
}
