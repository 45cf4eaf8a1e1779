/**
 * VMCOREINFO: the `KEY=VALUE` text the kernel keeps for crash tools (kernel/vmcore_info.c,
 * formerly crash_core.c; arm64 additions in arch/arm64/kernel/vmcore_info.c). It is exported as
 * an ELF note named "VMCOREINFO" in kdump vmcores (and in QEMU dumps when the guest wrote it to
 * the vmcoreinfo device); otherwise it still sits in guest RAM, in a page of its own that starts
 * with "OSRELEASE=".
 *
 * Value formats: SYMBOL(x) and KERNELOFFSET are hex without 0x; NUMBER(x) is decimal, or hex with
 * 0x (arm64 prints kimage_voffset, PHYS_OFFSET and TCR_EL1_T1SZ that way); PAGESIZE decimal.
 */
import { ParseError } from "../arch/errors.js";
import { FRAME_SIZE, type PhysMem } from "../mem/physmem.js";

export interface VmcoreInfo {
  readonly entries: ReadonlyMap<string, string>;
  /** Where it came from: "ELF note in FILE" or "RAM scan at PA 0x…". */
  readonly source: string;
}

export function parseVmcoreInfo(text: string, source: string): VmcoreInfo {
  const entries = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\0.*$/, "").trim();
    if (!line) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    entries.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return { entries, source };
}

function parseNum(v: string, key: string, source: string, hexDefault: boolean): bigint {
  const s = v.trim();
  try {
    if (/^-?0x[0-9a-f]+$/i.test(s)) return s.startsWith("-") ? -BigInt(s.slice(1)) : BigInt(s);
    if (hexDefault && /^[0-9a-f]+$/i.test(s)) return BigInt(`0x${s}`);
    if (/^-?[0-9]+$/.test(s)) return BigInt(s);
  } catch {
    // fall through
  }
  throw new ParseError(`VMCOREINFO (${source}): ${key}=${v} is not a number`);
}

/** NUMBER(name) as bigint (undefined when absent). */
export function vmNumber(vi: VmcoreInfo, name: string): bigint | undefined {
  const key = `NUMBER(${name})`;
  const v = vi.entries.get(key);
  return v === undefined ? undefined : parseNum(v, key, vi.source, false);
}

/** SYMBOL(name) as bigint (hex without prefix). */
export function vmSymbol(vi: VmcoreInfo, name: string): bigint | undefined {
  const key = `SYMBOL(${name})`;
  const v = vi.entries.get(key);
  return v === undefined ? undefined : parseNum(v, key, vi.source, true);
}

/** A top-level key: PAGESIZE (decimal), KERNELOFFSET (hex), OSRELEASE (string). */
export function vmValue(vi: VmcoreInfo, key: string): string | undefined {
  return vi.entries.get(key);
}

export function vmPageSize(vi: VmcoreInfo): number | undefined {
  const v = vi.entries.get("PAGESIZE");
  return v === undefined ? undefined : Number(parseNum(v, "PAGESIZE", vi.source, false));
}

export function vmKernelOffset(vi: VmcoreInfo): bigint | undefined {
  const v = vi.entries.get("KERNELOFFSET");
  return v === undefined ? undefined : parseNum(v, "KERNELOFFSET", vi.source, true);
}

/** "OSRE" as a little-endian 32-bit word: the first word of a VMCOREINFO page. */
const OSRE = 0x4552534f;
const MAX_TEXT = 4096;

function textAt(mem: PhysMem, pa: number): string {
  const bytes = mem.readBytes(BigInt(pa), MAX_TEXT);
  const nul = bytes.indexOf(0);
  // Latin-1, one char per byte, without Node's Buffer (the browser UI's worker scans RAM too).
  return String.fromCharCode(...bytes.subarray(0, nul < 0 ? bytes.length : nul));
}

/**
 * Find VMCOREINFO in RAM: a page-aligned block starting "OSRELEASE=" that also has PAGESIZE= and
 * SYMBOL(swapper_pg_dir)=. `progress` is called with (framesDone, framesTotal).
 */
export function scanVmcoreInfo(mem: PhysMem, progress?: (done: number, total: number) => void): VmcoreInfo | undefined {
  // By runs of frames: a dump read on demand is not listed frame by frame.
  const runs = mem.backedRuns();
  const total = runs.reduce((a, r) => a + r.count, 0);
  let i = 0;
  for (const r of runs) {
    for (let pfn = r.first; pfn < r.first + r.count; pfn++, i++) {
      const fr = mem.frame(pfn);
      if (progress && (i & 0xffff) === 0) progress(i, total);
      if (!fr || fr[0] !== OSRE) continue;
      const pa = pfn * FRAME_SIZE;
      const text = textAt(mem, pa);
      if (!text.startsWith("OSRELEASE=") || !text.includes("\nPAGESIZE=") || !text.includes("SYMBOL(swapper_pg_dir)=")) continue;
      return parseVmcoreInfo(text, `RAM scan at PA 0x${pa.toString(16)}`);
    }
  }
  progress?.(total, total);
  return undefined;
}
