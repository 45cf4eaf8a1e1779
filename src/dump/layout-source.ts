/**
 * Where the kernel layout (and so the ptdump markers) comes from, in this order:
 * 1. the kernel's own config inside the dump (CONFIG_IKCONFIG blob);
 * 2. a config the user gives (`--kernel-config`, plain or gzip as /proc/config.gz), or a snapshot's
 *    `kernel_config`;
 * 3. the kernel's symbols (`--system-map`): its `address_markers` table read from the dump (exact),
 *    else the fixmap options the symbols imply;
 * 4. the distribution defaults (Debian's arm64 config), with a note that the markers are a guess.
 * Both marker paths (`--kernel-version X`, `--markers linux-X`) go through here and the one layout
 * model (./layout.ts).
 */
import { ParseError } from "../arch/errors.js";
import type { Regs } from "../arch/registers.js";
import type { PhysMem } from "../mem/physmem.js";
import type { WalkContext } from "../walk/context.js";
import { findIkconfig } from "./ikconfig.js";
import { type KconfigFacts, kconfigFacts } from "./kconfig.js";
import { DEBIAN_CONFIG, type KernelConfig, type KernelLayout, type KernelVersion, linuxLayout } from "./layout.js";
import type { Marker } from "./ptdump.js";
import { configFromSymbols, parseSystemMap, readAddressMarkers, type SymbolMap } from "./system-map.js";

export type LayoutSourceKind =
  | "ikconfig"
  | "kernel-config"
  | "snapshot-config"
  | "address-markers"
  | "system-map"
  | "defaults"
  | "example"
  | "markers-file"
  | "none";

export interface LayoutSource {
  readonly kind: LayoutSourceKind;
  /** One line for the user: what was read, from where. */
  readonly detail: string;
  /** False when the markers are a guess (distribution defaults) or absent. */
  readonly exact: boolean;
}

export interface LayoutInputs {
  readonly mem: PhysMem;
  readonly regs: Regs;
  readonly ctx: WalkContext;
  /** Kernel version given by the user (`--kernel-version`, `--markers linux-X`). */
  readonly versionOverride?: { readonly v: KernelVersion; readonly release: string; readonly from: string };
  /** Kernel version from the dump (VMCOREINFO OSRELEASE, snapshot "kernel"). */
  readonly dumpVersion?: { readonly v: KernelVersion; readonly release: string; readonly from: string };
  /** CONFIG_ARM64_VA_BITS from --va-bits (wins), VMCOREINFO or a snapshot. */
  readonly vaBitsOverride?: { readonly bits: number; readonly from: string };
  readonly vaBitsDump?: { readonly bits: number; readonly from: string };
  readonly fixmapSize?: bigint;
  /** `--kernel-config FILE`, read and parsed by the caller (kconfigFacts; ./inputs.ts reads the file). */
  readonly kernelConfig?: { readonly file: string; readonly facts: KconfigFacts };
  /** A snapshot's kernel_config. */
  readonly snapshotConfig?: KernelConfig;
  /** `--system-map FILE`, its text read by the caller. */
  readonly systemMap?: { readonly file: string; readonly text: string };
  /** KASLR offset (VMCOREINFO KERNELOFFSET) for reading symbols; 0 when unknown. */
  readonly kaslrOffset?: bigint;
  /** Look for the IKCONFIG blob in the dump (false for a live guest whose memory is not read yet). */
  readonly searchDump?: boolean;
}

export interface ResolvedLayout {
  readonly layout: KernelLayout | undefined;
  readonly markers: readonly Marker[] | undefined;
  readonly source: LayoutSource;
  readonly notes: readonly string[];
}

const describeConfig = (c: KernelConfig): string =>
  `GHES ${c.apeiGhes ? "y" : "n"}, SDEI ${c.sdei ? "y" : "n"}, KPTI ${c.kpti ? "y" : "n"}, RELOCATABLE ${c.relocatable ? "y" : "n"}`;

export function resolveLayout(inp: LayoutInputs): ResolvedLayout {
  const notes: string[] = [];
  const h1 = inp.ctx.halves[1];
  const granuleShift = h1.granule.shift;

  // 1-2: a kernel config (inside the dump, then the user's file).
  let facts: KconfigFacts | undefined;
  let factsFrom = "";
  /** Short name of the config source, for the version and VA_BITS. */
  let factsShort = "";
  let kind: LayoutSourceKind = "none";
  if (inp.searchDump !== false) {
    const found = findIkconfig(inp.mem, inp.ctx);
    if (found) {
      facts = kconfigFacts(found.text, `IKCONFIG at PA 0x${found.pa.toString(16)}`);
      factsFrom = `the kernel's config in the dump (IKCONFIG at PA 0x${found.pa.toString(16)}, VA 0x${found.va.toString(16)})`;
      kind = "ikconfig";
      factsShort = "IKCONFIG";
    }
  }
  if (inp.kernelConfig !== undefined) {
    // Read (and so checked) by the caller even when the dump's own config wins.
    const given = inp.kernelConfig.facts;
    if (facts) notes.push(`--kernel-config ${inp.kernelConfig.file} not used: the dump holds the kernel's own config (IKCONFIG)`);
    else {
      facts = given;
      factsFrom = `--kernel-config ${inp.kernelConfig.file}`;
      factsShort = factsFrom;
      kind = "kernel-config";
    }
  }
  if (facts && facts.pageShift !== granuleShift) {
    throw new ParseError(
      `${factsFrom}: ${2 ** (facts.pageShift - 10)}K pages, but TCR_EL1.TG1 of the dump is ${h1.granule.name}: not this kernel's config`,
    );
  }
  if (facts?.kasan) notes.push(`${factsFrom}: KASAN is on; its shadow region and markers are not modelled`);

  const version =
    inp.versionOverride ??
    inp.dumpVersion ??
    (facts?.version ? { v: facts.version, release: facts.release ?? "", from: `the ${factsShort} header` } : undefined);
  const vaBits = inp.vaBitsOverride ?? (facts ? { bits: facts.vaBits, from: factsShort } : undefined) ?? inp.vaBitsDump;

  // 3: the kernel's symbols.
  let syms: SymbolMap | undefined;
  if (inp.systemMap !== undefined) {
    syms = parseSystemMap(inp.systemMap.text, `--system-map ${inp.systemMap.file}`);
    if (facts) notes.push(`--system-map ${inp.systemMap.file} not used for the markers: ${factsFrom} came first`);
  }
  let config: KernelConfig;
  let exact = true;
  let detail: string;
  let kernelMarkers: Marker[] | undefined;
  if (facts) {
    config = facts.config;
    detail = `${factsFrom} (${describeConfig(config)})`;
  } else if (inp.snapshotConfig) {
    config = inp.snapshotConfig;
    kind = "snapshot-config";
    detail = `the snapshot's kernel_config (${describeConfig(config)})`;
  } else if (syms) {
    kernelMarkers = readAddressMarkers(inp.mem, inp.regs, syms, inp.kaslrOffset ?? 0n);
    config = configFromSymbols(syms);
    if (kernelMarkers) {
      kind = "address-markers";
      detail = `the kernel's address_markers read from the dump (symbol from --system-map ${inp.systemMap?.file})`;
    } else {
      kind = "system-map";
      detail = `symbols of --system-map ${inp.systemMap?.file} (${describeConfig(config)}; address_markers not readable from the dump)`;
    }
  } else {
    config = DEBIAN_CONFIG;
    kind = "defaults";
    exact = false;
    detail = `Debian's arm64 config assumed (${describeConfig(config)}): the markers are a guess; give --kernel-config or --system-map`;
  }
  if (inp.fixmapSize !== undefined) detail += `; fixmap size 0x${inp.fixmapSize.toString(16)} from --fixmap-size`;

  let layout: KernelLayout | undefined;
  if (version) {
    layout = linuxLayout({
      version: version.v,
      pageShift: granuleShift,
      vaBits: vaBits?.bits ?? h1.iaBits,
      vaBitsActual: h1.iaBits,
      release: version.release,
      config,
      ...(inp.fixmapSize !== undefined ? { fixmapSize: inp.fixmapSize } : {}),
    });
    detail += `; version from ${version.from}; VA_BITS ${vaBits ? `from ${vaBits.from}` : "assumed = TTBR1 VA size"}`;
  } else if (!kernelMarkers) {
    notes.push("kernel version unknown (no VMCOREINFO OSRELEASE, no kernel config): ptdump markers omitted; give --kernel-version");
    return { layout: undefined, markers: undefined, source: { kind: "none", detail: "no kernel version", exact: false }, notes };
  }
  return { layout, markers: kernelMarkers ?? layout?.markers, source: { kind, detail, exact }, notes };
}
