/** Messages between the UI thread and the memory worker (structured clone carries bigint and Blob). */
import type { Regs } from "../../../src/arch/registers.js";
import type { AuditReport } from "../../../src/dump/audit.js";
import type { Marker } from "../../../src/dump/ptdump.js";
import type { SourcedRegs } from "../../../src/dump/regfile.js";
import type { Stage2Result } from "../../../src/walk/stage2.js";
import type { Access, TranslationResult } from "../../../src/walk/walker.js";
import type { CheckerOutcomes, ExploreLimits, Interleaving, InterleavingSearch } from "../lib/checker.js";
import type { LoadStats } from "../lib/load.js";
import type { MapData } from "../lib/mapdata.js";
import type { ScenarioTrace } from "../lib/stepper.js";

export interface ImageRequest {
  readonly name: string;
  /** Load address of a raw RAM image (ELF cores and kdump files carry their own addresses). */
  readonly pa?: bigint;
  /** A local file (nothing is uploaded) or a URL served by `vmsa serve` (its size: read in ranges). */
  readonly blob?: Blob;
  readonly url?: string;
  readonly size?: number;
}

export type Request =
  | { readonly op: "example"; readonly preset: string }
  /**
   * `registers`: what the register text gave; the worker completes them from the dump's VMCOREINFO
   * and defaults, and finds the kernel layout, as `vmsa dump` does (`kernelVersion`: --kernel-version).
   */
  | {
      readonly op: "load";
      readonly name: string;
      readonly images: readonly ImageRequest[];
      readonly registers: SourcedRegs;
      readonly kernelVersion?: string;
    }
  /** `vmsa serve --gdb`: read the live guest's registers and tables now (GET `url`) and make them the source. */
  | { readonly op: "live"; readonly url: string; readonly kernelVersion?: string }
  | { readonly op: "set-regs"; readonly regs: Regs }
  /** `stage2`: HCR_EL2/VTCR_EL2/VTTBR_EL2 over the source's registers (as `vmsa translate --hcr --vtcr --vttbr`). */
  | { readonly op: "translate"; readonly va: bigint; readonly access: Access; readonly stage2?: Stage2Override }
  | { readonly op: "map"; readonly half: 0 | 1; readonly start: number; readonly end: number; readonly width: number }
  | { readonly op: "ptdump"; readonly fixmapSize: bigint }
  /** A loaded stage-2 source's KVM debugfs file, as `vmsa dump --stage 2 --kvm-file FILE`. */
  | { readonly op: "kvm-stage2"; readonly file: KvmFile }
  | { readonly op: "audit"; readonly userHalf: boolean }
  /** Parse and run a scenario's text; snapshots of every step come back at once. */
  /** `order`: run one interleaving (1-based file step numbers), e.g. a `--explore` finding's. */
  | { readonly op: "scenario"; readonly file: string; readonly text: string; readonly order?: readonly number[] }
  /** `vmsa check --explore`: every interleaving of the CPUs' steps on the machine model. */
  | { readonly op: "interleavings"; readonly file: string; readonly text: string; readonly limits?: ExploreLimits }
  /** Every execution on the litmus model, as `vmsa check --explore --outcomes` (lib/checker.ts). */
  | { readonly op: "explore"; readonly file: string; readonly text: string; readonly limits?: ExploreLimits }
  /** One recorded execution run again with its reads-from. */
  | { readonly op: "replay"; readonly file: string; readonly text: string; readonly choices: readonly number[] };

export type KvmFile = "stage2_page_tables" | "ipa_range" | "stage2_levels";

export interface Stage2Override {
  readonly hcr: bigint;
  readonly vtcr: bigint;
  readonly vttbr: bigint;
}

export interface SourceInfo {
  readonly name: string;
  readonly regs: Regs;
  /** Dumps: where each register's value came from (register text, VMCOREINFO, default). */
  readonly regSources?: Readonly<Record<string, string>>;
  readonly images: readonly LoadStats[];
  readonly tour: readonly { readonly va: bigint; readonly what: string }[];
  /** Main-thread-free load time, ms. */
  readonly loadMs: number;
  /** Dumps: what the memory was read from, and where the layout (ptdump markers) came from, in the CLI's words. */
  readonly memory?: string;
  readonly layout?: string;
  /** Whether the ptdump markers are the kernel's (false: a guess, or none found and Linux 6.1's used). */
  readonly layoutExact?: boolean;
  readonly notes?: readonly string[];
  /** A live guest (`vmsa serve --gdb`): Refresh reads it again. */
  readonly live?: boolean;
  /** False: a stage-2 source only (VTCR_EL2/VTTBR_EL2, no stage-1 registers): no stage-1 views. */
  readonly stage1?: boolean;
  /** Dumps whose registers give VTCR_EL2 and VTTBR_EL2: the IPA space and where each register came from. */
  readonly stage2?: { readonly ipaBits: number; readonly startLevel: number; readonly sources: Readonly<Record<string, string>> };
}

export interface MapReply extends MapData {
  readonly markers: readonly { readonly off: number; readonly name: string }[];
  readonly iaBits: number;
}

export type ReplyBody =
  | { readonly op: "example"; readonly info: SourceInfo }
  | { readonly op: "load"; readonly info: SourceInfo }
  | { readonly op: "live"; readonly info: SourceInfo }
  | { readonly op: "set-regs"; readonly info: SourceInfo }
  | {
      readonly op: "translate";
      readonly result: TranslationResult;
      /** Two stages: each stage-1 table read's own stage-2 walk (of the trail entry's IPA), by trail index. */
      readonly tableWalks?: readonly (Stage2Result | undefined)[];
    }
  | { readonly op: "map"; readonly map: MapReply }
  | { readonly op: "ptdump"; readonly text: string; readonly markers: readonly Marker[] }
  | { readonly op: "kvm-stage2"; readonly text: string; readonly passes: number; readonly missing: number }
  | { readonly op: "audit"; readonly report: AuditReport }
  | { readonly op: "scenario"; readonly trace: ScenarioTrace }
  | { readonly op: "explore"; readonly outcomes: CheckerOutcomes }
  | { readonly op: "interleavings"; readonly search: InterleavingSearch }
  | { readonly op: "replay"; readonly interleaving: Interleaving };

export type WorkerMessage =
  | { readonly id: number; readonly ok: true; readonly body: ReplyBody }
  | { readonly id: number; readonly ok: false; readonly error: string; readonly code?: string }
  | { readonly id: number; readonly progress: { readonly done: number; readonly total: number; readonly name: string } };
