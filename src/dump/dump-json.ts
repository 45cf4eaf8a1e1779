/**
 * `vmsa dump --format json` of a stage-1 half: the header fields, then the coalesced mappings, the
 * ranges whose tables are missing and the shared subtrees of a range walk (walk/range.ts).
 */
import { jsonText } from "../io/json-text.js";
import type { LeafRunReport } from "../walk/range.js";
import type { LayoutSource } from "./layout-source.js";
import { MAX_JSON_BYTES, MappingsJsonWriter } from "./mappings-json.js";
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

/**
 * The document as a value, its mappings given: jsonText of it with mappingReport's MappingRun
 * objects is the reference text that dumpJsonText writes faster.
 */
export function dumpJsonValue(head: DumpJsonHeader, r: Pick<LeafRunReport, "missing" | "shared">, mappings: unknown): object {
  const hx = (v: bigint): string => `0x${v.toString(16)}`;
  return {
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
    mappings,
    missing: r.missing,
    shared: r.shared,
  };
}

/**
 * The JSON document as UTF-8 bytes (with its final newline), its runs written by MappingsJsonWriter.
 * Throws JsonSizeError when it would take more than `limit` bytes.
 */
export function dumpJsonBytes(head: DumpJsonHeader, r: LeafRunReport, limit = MAX_JSON_BYTES): Uint8Array {
  return new MappingsJsonWriter(r.half, limit).document(jsonText(dumpJsonValue(head, r, [])), r.runs);
}
