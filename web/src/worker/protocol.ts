/** Messages between the UI thread and the memory worker (structured clone carries bigint and Blob). */
import type { Regs } from "../../../src/arch/registers.js";
import type { AuditReport } from "../../../src/dump/audit.js";
import type { Marker } from "../../../src/dump/ptdump.js";
import type { Access, TranslationResult } from "../../../src/walk/walker.js";
import type { LoadStats } from "../lib/load.js";
import type { MapData } from "../lib/mapdata.js";
import type { ScenarioTrace } from "../lib/stepper.js";

export interface ImageRequest {
  readonly name: string;
  readonly pa: bigint;
  /** A local file (nothing is uploaded) or a URL served by `vmsa serve`. */
  readonly blob?: Blob;
  readonly url?: string;
}

export type Request =
  | { readonly op: "example"; readonly preset: string }
  | { readonly op: "load"; readonly name: string; readonly images: readonly ImageRequest[]; readonly regs: Regs }
  | { readonly op: "set-regs"; readonly regs: Regs }
  | { readonly op: "translate"; readonly va: bigint; readonly access: Access }
  | { readonly op: "map"; readonly half: 0 | 1; readonly start: number; readonly end: number; readonly width: number }
  | { readonly op: "ptdump"; readonly fixmapSize: bigint }
  | { readonly op: "audit"; readonly userHalf: boolean }
  /** Parse and run a scenario's text; snapshots of every step come back at once. */
  | { readonly op: "scenario"; readonly file: string; readonly text: string };

export interface SourceInfo {
  readonly name: string;
  readonly regs: Regs;
  readonly images: readonly LoadStats[];
  readonly tour: readonly { readonly va: bigint; readonly what: string }[];
  /** Main-thread-free load time, ms. */
  readonly loadMs: number;
}

export interface MapReply extends MapData {
  readonly markers: readonly { readonly off: number; readonly name: string }[];
  readonly iaBits: number;
}

export type ReplyBody =
  | { readonly op: "example"; readonly info: SourceInfo }
  | { readonly op: "load"; readonly info: SourceInfo }
  | { readonly op: "set-regs"; readonly info: SourceInfo }
  | { readonly op: "translate"; readonly result: TranslationResult }
  | { readonly op: "map"; readonly map: MapReply }
  | { readonly op: "ptdump"; readonly text: string; readonly markers: readonly Marker[] }
  | { readonly op: "audit"; readonly report: AuditReport }
  | { readonly op: "scenario"; readonly trace: ScenarioTrace };

export type WorkerMessage =
  | { readonly id: number; readonly ok: true; readonly body: ReplyBody }
  | { readonly id: number; readonly ok: false; readonly error: string; readonly code?: string }
  | { readonly id: number; readonly progress: { readonly done: number; readonly total: number; readonly name: string } };
