/**
 * `vmsa dump --format json` of a stage-1 half: the header fields, then the coalesced mappings, the
 * ranges whose tables are missing and the shared subtrees of a range walk (walk/range.ts).
 */
import { jsonText } from "../io/json-text.js";
import type { MappingReport } from "../walk/range.js";
import type { LayoutSource } from "./layout-source.js";
import type { Marker } from "./ptdump.js";

export interface DumpJsonHeader {
  readonly half: string;
  readonly granule: string;
  readonly vaBits: number;
  readonly startLevel: number;
  readonly start: bigint;
  readonly end: bigint;
  readonly registers: unknown;
  readonly layoutSource: LayoutSource;
  /** Markers inside [start, end). */
  readonly markers: readonly Marker[];
}

/** The JSON document (with its final newline). */
export function dumpJsonText(head: DumpJsonHeader, r: MappingReport): string {
  const hx = (v: bigint): string => `0x${v.toString(16)}`;
  return `${jsonText({
    half: head.half,
    granule: head.granule,
    vaBits: head.vaBits,
    startLevel: head.startLevel,
    start: hx(head.start),
    end: hx(head.end),
    registers: head.registers,
    layoutSource: head.layoutSource,
    complete: r.missing.length === 0,
    markers: head.markers,
    mappings: r.runs.map((x) => ({ ...x, levels: x.levels })),
    missing: r.missing,
    shared: r.shared,
  })}\n`;
}
