/**
 * `vmsa dump --stage 2 --format json`: the header fields, then the coalesced runs of the IPA space
 * (stage2-mappings.ts), the invalid runs with notes, the missing tables and the shared subtrees.
 * The runs are written from their numeric form through per-kind templates (TemplateJsonWriter):
 * the same bytes as jsonText of the document with stage2Mappings' Stage2Run objects.
 *
 * A run's text depends, apart from its IPA, PA, size and descriptor, only on its level and the
 * descriptor bits outside the output-address field (permissions, AF, MemAttr, SH, software bits:
 * Arm ARM D8.3, stage-2 block and page descriptors): those are the template key.
 */
import { jsonText } from "../io/json-text.js";
import type { WalkContext } from "../walk/context.js";
import type { RangeGeometry } from "../walk/range.js";
import { stage2Geometry } from "../walk/stage2-range.js";
import { cutTemplate, MAX_JSON_BYTES, mark, type Template, TemplateJsonWriter } from "./mappings-json.js";
import type { Stage2LeafRun, Stage2LeafRunReport, Stage2MappingReport } from "./stage2-mappings.js";
import { stage2RunOf } from "./stage2-mappings.js";

export interface Stage2JsonHeader {
  readonly granule: string;
  readonly ipaBits: number;
  readonly startLevel: number;
  readonly startTableEntries: number;
  readonly startTable: string;
  readonly registers: unknown;
}

/** The document as a value, its mappings given: jsonText of it with Stage2Run objects is the reference text. */
export function stage2JsonValue(head: Stage2JsonHeader, r: Omit<Stage2MappingReport, "runs">, mappings: unknown): object {
  return {
    stage: 2,
    granule: head.granule,
    ipaBits: head.ipaBits,
    startLevel: head.startLevel,
    startTableEntries: head.startTableEntries,
    startTable: head.startTable,
    registers: head.registers,
    complete: r.missing.length === 0,
    mappings,
    invalid: r.invalid,
    missing: r.missing,
    shared: r.shared,
  };
}

const FIELD_CODE: Readonly<Record<string, number>> = { ipa: 0, pa: 1, size: 2, descriptor: 3 };

/** Writes the runs of one IPA space through templates keyed by level and the bits outside the address field. */
class Stage2JsonWriter extends TemplateJsonWriter<Stage2LeafRun> {
  constructor(
    private readonly s2: WalkContext,
    g: RangeGeometry,
    limit: number,
  ) {
    super(g, limit);
  }

  protected template(r: Stage2LeafRun): Template | undefined {
    const li = r.level + 1;
    const kLo = (r.lo & (this.keepLo[li] as number)) >>> 0;
    const kHi = ((r.hi & (this.keepHi[li] as number)) >>> 0) * 8 + li;
    return this.cached(kLo, kHi, () => {
      const run = stage2RunOf(this.s2, r);
      // Spreading then overwriting keeps each key in its place: the key order is the reference's.
      return run === undefined
        ? null
        : cutTemplate({ ...run, ipa: mark("ipa"), pa: mark("pa"), size: mark("size"), descriptor: mark("descriptor") }, FIELD_CODE);
    });
  }

  protected field(code: number, r: Stage2LeafRun): void {
    switch (code) {
      case 0:
        this.hexNumber(r.ipa);
        return;
      case 1:
        this.hexNumber(r.pa);
        return;
      case 2:
        this.hexNumber(r.end - r.ipa);
        return;
      default:
        this.hex(r.hi >>> 0, r.lo >>> 0);
    }
  }
}

/**
 * The JSON document as UTF-8 bytes (with its final newline), its runs written by the template
 * writer. Throws JsonSizeError when it would take more than `limit` bytes.
 */
export function stage2JsonBytes(s2: WalkContext, head: Stage2JsonHeader, r: Stage2LeafRunReport, limit = MAX_JSON_BYTES): Uint8Array {
  return new Stage2JsonWriter(s2, stage2Geometry(s2), limit).document(jsonText(stage2JsonValue(head, r, [])), r.runs);
}
