/**
 * Layout facts from a kernel's symbols (`System.map`, or `nm vmlinux` output: `ADDRESS TYPE NAME`
 * lines):
 * - the kernel's own ptdump marker table, `address_markers` (arch/arm64/mm/ptdump.c: an array of
 *   { unsigned long start_address; const char *name; } ending with { -1, NULL }, completed at boot
 *   by ptdump_init), read from the dump through the TTBR1 tables: the exact markers;
 * - otherwise which fixmap slots exist, from the symbols the options bring in (fixmap.h: GHES and
 *   SDEI slots, the KPTI trampoline and its data page for a relocatable image).
 */
import { ParseError } from "../arch/errors.js";
import type { Regs } from "../arch/registers.js";
import { parseU64 } from "../arch/u64.js";
import type { PhysMem } from "../mem/physmem.js";
import { Walker } from "../walk/walker.js";
import type { KernelConfig } from "./layout.js";
import type { Marker } from "./ptdump.js";

export type SymbolMap = ReadonlyMap<string, bigint>;

/** Parse `ADDRESS TYPE NAME` lines (System.map, nm); `where` names the file in errors. */
export function parseSystemMap(text: string, where: string): SymbolMap {
  const out = new Map<string, bigint>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (!line) continue;
    const m = /^([0-9A-Fa-f]{1,16})\s+([A-Za-z?-])\s+(\S+)/.exec(line);
    if (!m) throw new ParseError(`${where}:${i + 1}: expected "ADDRESS TYPE NAME" (System.map or nm output), got "${line}"`);
    const name = m[3] as string;
    if (!out.has(name)) out.set(name, parseU64(m[1] as string, `${where}:${i + 1}: address`));
  }
  if (out.size === 0) throw new ParseError(`${where}: no symbols`);
  return out;
}

/**
 * Symbols that exist only with the options that add fixmap slots (a static function of the code
 * the option builds, or a linker symbol of a section it adds).
 */
export const CONFIG_SYMBOLS = {
  apeiGhes: ["ghes_probe", "ghes_init"],
  sdei: ["sdei_init", "sdei_event_register"],
  kpti: ["__entry_tramp_text_start", "tramp_vectors"],
  relocatable: ["__relocate_kernel", "__pi_relocate_kernel"],
} as const satisfies Record<keyof KernelConfig, readonly string[]>;

/** The fixmap-relevant options as the symbols show them. */
export function configFromSymbols(syms: SymbolMap): KernelConfig {
  const any = (names: readonly string[]): boolean => names.some((n) => syms.has(n));
  return {
    apeiGhes: any(CONFIG_SYMBOLS.apeiGhes),
    sdei: any(CONFIG_SYMBOLS.sdei),
    kpti: any(CONFIG_SYMBOLS.kpti),
    relocatable: any(CONFIG_SYMBOLS.relocatable),
  };
}

const MAX_MARKERS = 32;
const MAX_NAME = 64;

/**
 * The kernel's `address_markers` array read from the dump at its symbol address plus the KASLR
 * offset; undefined when the symbol is absent, its pages are not in the dump, or what is there is
 * not a well-formed marker table (ascending addresses, printable names, the { -1, NULL } end).
 */
export function readAddressMarkers(mem: PhysMem, regs: Regs, syms: SymbolMap, kaslrOffset: bigint): Marker[] | undefined {
  const sym = syms.get("address_markers");
  if (sym === undefined) return undefined;
  const w = new Walker(mem, regs);
  const readVa = (va: bigint, size: number): Uint8Array | undefined => {
    const r = w.translate(va & ((1n << 64n) - 1n), { type: "read", el: 1 });
    if (r.kind !== "ok") return undefined;
    // Within one page: callers read at most 16 aligned bytes or a name, split at a page edge.
    if (!mem.isBacked(Number(r.pa))) return undefined;
    return mem.readBytes(r.pa, size);
  };
  const out: Marker[] = [];
  const base = sym + kaslrOffset;
  for (let i = 0; i < MAX_MARKERS; i++) {
    const e = readVa(base + BigInt(16 * i), 16);
    if (!e) return undefined;
    const dv = new DataView(e.buffer, e.byteOffset, 16);
    const address = dv.getBigUint64(0, true);
    const namePtr = dv.getBigUint64(8, true);
    if (namePtr === 0n) return address === (1n << 64n) - 1n && out.length >= 4 ? out : undefined;
    const name = readCString(readVa, namePtr);
    if (name === undefined) return undefined;
    const prev = out[out.length - 1];
    if (prev && address < prev.address) return undefined;
    out.push({ address, name });
  }
  return undefined;
}

function readCString(readVa: (va: bigint, size: number) => Uint8Array | undefined, va: bigint): string | undefined {
  let s = "";
  let at = va;
  while (s.length < MAX_NAME) {
    const inPage = Number(0x1000n - (at & 0xfffn));
    const bytes = readVa(at, Math.min(inPage, MAX_NAME - s.length + 1));
    if (!bytes) return undefined;
    for (const b of bytes) {
      if (b === 0) return s.length > 0 ? s : undefined;
      if (b < 0x20 || b > 0x7e) return undefined;
      s += String.fromCharCode(b);
    }
    at += BigInt(bytes.length);
  }
  return undefined;
}
