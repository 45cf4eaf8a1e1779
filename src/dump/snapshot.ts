/**
 * Snapshot descriptors (machine.json, examples/snapshot.schema.json), parsed without Node APIs: the
 * CLI (./inputs.ts) and the browser UI's worker read the same fields with the same checks.
 */
import { ParseError } from "../arch/errors.js";
import { parseSize, parseU64 } from "../arch/u64.js";
import { DEBIAN_CONFIG, type KernelConfig } from "./layout.js";
import { parseRegisterFile, type SourcedRegs } from "./regfile.js";

/** The fields of a snapshot descriptor (kept in step with examples/snapshot.schema.json). */
export const SNAPSHOT_KEYS = {
  top: ["registers", "memory", "kernel", "kernel_config", "va_bits", "fixmap_size"],
  memoryEntry: ["file", "load_at", "core"],
  kernelConfig: ["apeiGhes", "sdei", "kpti", "relocatable"],
} as const;

/** One memory entry: an ELF core (or kdump file) by name, or a raw image at a load address. */
export type SnapshotMemory =
  | { readonly kind: "core"; readonly file: string; readonly where: string }
  | { readonly kind: "raw"; readonly file: string; readonly pa: bigint; readonly where: string };

export interface ParsedSnapshot {
  memory: SnapshotMemory[];
  regs: SourcedRegs;
  kernel?: string;
  config?: KernelConfig;
  vaBits?: number;
  fixmapSize?: bigint;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A snapshot descriptor (examples/snapshot.schema.json): memory as raw files at load addresses
 * and/or ELF cores (gzip allowed), registers as hex strings, and what is known of the kernel.
 * Other top-level keys are descriptive metadata and are ignored. Parsed and checked only: the files
 * it names are the caller's to open (./inputs.ts relative to the descriptor, the UI among the files chosen);
 * `onMemory` is told each memory entry as soon as it is checked, before the other fields are (the
 * CLI opens each file then, so a missing file is reported before a later field's error).
 */
export function parseSnapshot(text: string, file: string, onMemory?: (m: SnapshotMemory) => void): ParsedSnapshot {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new ParseError(`${file}: not a snapshot descriptor (${(e as Error).message})`);
  }
  if (!isObject(obj)) throw new ParseError(`${file}: not a snapshot descriptor (expected a JSON object)`);
  const memory: SnapshotMemory[] = [];
  const mems = Array.isArray(obj.memory) ? obj.memory : obj.memory !== undefined ? [obj.memory] : [];
  if (mems.length === 0) {
    throw new ParseError(`${file}: "memory" is missing (expected {"file": ..., "load_at": "0x..."}, {"core": ...} or a list of them)`);
  }
  mems.forEach((m: unknown, i: number) => {
    const where = `${file}: memory[${i}]`;
    if (!isObject(m)) throw new ParseError(`${where}: expected an object {"file", "load_at"} or {"core"}`);
    for (const k of Object.keys(m)) {
      if (!(SNAPSHOT_KEYS.memoryEntry as readonly string[]).includes(k)) {
        throw new ParseError(`${where}: unknown field "${k}" (expected ${SNAPSHOT_KEYS.memoryEntry.join(", ")})`);
      }
    }
    if (m.core !== undefined) {
      if (typeof m.core !== "string" || m.file !== undefined || m.load_at !== undefined) {
        throw new ParseError(`${where}: expected {"core": "FILE"} alone (an ELF core carries its own addresses)`);
      }
      memory.push({ kind: "core", file: m.core, where: `${where}.core` });
      onMemory?.(memory[memory.length - 1] as SnapshotMemory);
      return;
    }
    if (typeof m.file !== "string" || typeof m.load_at !== "string") {
      throw new ParseError(`${where}: expected {"file": "FILE", "load_at": "0x..."} (load_at a hex string)`);
    }
    memory.push({ kind: "raw", file: m.file, pa: parseU64(m.load_at, `${where}.load_at`), where: `${where}.file` });
    onMemory?.(memory[memory.length - 1] as SnapshotMemory);
  });
  if (obj.registers !== undefined && !isObject(obj.registers))
    throw new ParseError(`${file}: "registers" must be an object of hex strings`);
  for (const [k, v] of Object.entries(obj.registers ?? {})) {
    // Checked before the object is re-serialised (a value nested thousands deep would overflow it).
    if (typeof v !== "string" && typeof v !== "number") {
      throw new ParseError(
        `${file}: registers.${k}: expected a hex string, got ${Array.isArray(v) ? "an array" : v === null ? "null" : typeof v}`,
      );
    }
  }
  const regs = obj.registers ? parseRegisterFile(JSON.stringify({ registers: obj.registers }), file) : { values: {}, sources: {} };
  const snap: ParsedSnapshot = { memory, regs };
  if (obj.kernel !== undefined) {
    if (typeof obj.kernel !== "string") throw new ParseError(`${file}: "kernel" must be a string like "Linux 6.1.0-56-arm64"`);
    snap.kernel = obj.kernel;
  }
  if (obj.kernel_config !== undefined) {
    const kc = obj.kernel_config;
    if (!isObject(kc)) throw new ParseError(`${file}: "kernel_config" must be an object of booleans`);
    for (const [k, v] of Object.entries(kc)) {
      if (!(SNAPSHOT_KEYS.kernelConfig as readonly string[]).includes(k) || typeof v !== "boolean") {
        throw new ParseError(`${file}: kernel_config.${k}: expected one of ${SNAPSHOT_KEYS.kernelConfig.join(", ")} with a boolean value`);
      }
    }
    snap.config = { ...DEBIAN_CONFIG, ...(kc as Partial<KernelConfig>) };
  }
  if (obj.va_bits !== undefined) {
    if (typeof obj.va_bits !== "number" || !Number.isInteger(obj.va_bits) || obj.va_bits < 36 || obj.va_bits > 52) {
      throw new ParseError(`${file}: "va_bits" must be an integer 36..52 (CONFIG_ARM64_VA_BITS)`);
    }
    snap.vaBits = obj.va_bits;
  }
  if (obj.fixmap_size !== undefined) {
    if (typeof obj.fixmap_size !== "string") throw new ParseError(`${file}: "fixmap_size" must be a hex string like "0x407000"`);
    snap.fixmapSize = parseSize(obj.fixmap_size, `${file}: fixmap_size`);
  }
  return snap;
}
