/**
 * A kernel configuration (`.config`, /boot/config-*, /proc/config.gz, the IKCONFIG blob) read as
 * the facts the arm64 layout depends on: the version (from the generated header comment), the page
 * size, CONFIG_ARM64_VA_BITS, and the options that add fixmap slots (arch/arm64/include/asm/fixmap.h).
 */
import { ParseError } from "../arch/errors.js";
import type { KernelConfig, KernelVersion } from "./layout.js";
import { parseKernelVersion } from "./layout.js";

export interface KconfigFacts {
  /** From the header `# Linux/arm64 6.1.192 Kernel Configuration`, when present. */
  readonly release: string | undefined;
  readonly version: KernelVersion | undefined;
  /** log2(PAGE_SIZE) from CONFIG_ARM64_{4K,16K,64K}_PAGES. */
  readonly pageShift: 12 | 14 | 16;
  /** CONFIG_ARM64_VA_BITS. */
  readonly vaBits: number;
  /** The fixmap-relevant options. */
  readonly config: KernelConfig;
  /** CONFIG_KASAN_GENERIC or CONFIG_KASAN_SW_TAGS: a shadow region vmsa's layout does not model. */
  readonly kasan: boolean;
}

/** `CONFIG_X=y|m|"str"|number` lines; `# CONFIG_X is not set` means off. */
export function parseKconfigOptions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

/**
 * The layout facts of a kernel config; `where` names the source in errors. Throws when the text is
 * not an arm64 config (no page size or VA size option).
 */
export function kconfigFacts(text: string, where: string): KconfigFacts {
  const o = parseKconfigOptions(text);
  const on = (name: string): boolean => o.get(`CONFIG_${name}`) === "y";
  if (o.size === 0) throw new ParseError(`${where}: not a kernel config (no CONFIG_...=... line)`);
  const pageShift = on("ARM64_4K_PAGES") ? 12 : on("ARM64_16K_PAGES") ? 14 : on("ARM64_64K_PAGES") ? 16 : undefined;
  if (pageShift === undefined) {
    throw new ParseError(`${where}: not an arm64 kernel config (no CONFIG_ARM64_4K_PAGES, _16K_PAGES or _64K_PAGES=y)`);
  }
  const vaText = o.get("CONFIG_ARM64_VA_BITS");
  const vaBits = vaText !== undefined && /^\d{2}$/.test(vaText) ? Number(vaText) : undefined;
  if (vaBits === undefined || vaBits < 36 || vaBits > 52) {
    throw new ParseError(`${where}: CONFIG_ARM64_VA_BITS=${vaText ?? "(missing)"}: expected a VA size between 36 and 52`);
  }
  const header = /^#\s*Linux\/\S+\s+(\S+)\s+Kernel Configuration/m.exec(text);
  const release = header?.[1];
  return {
    release,
    version: release ? parseKernelVersion(release) : undefined,
    pageShift,
    vaBits,
    config: {
      apeiGhes: on("ACPI_APEI_GHES"),
      sdei: on("ARM_SDE_INTERFACE"),
      kpti: on("UNMAP_KERNEL_AT_EL0"),
      relocatable: on("RELOCATABLE"),
    },
    kasan: on("KASAN_GENERIC") || on("KASAN_SW_TAGS"),
  };
}
