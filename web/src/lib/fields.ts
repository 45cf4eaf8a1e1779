/**
 * Descriptor fields for the decoder view: every bit range of a VMSAv8-64 stage-1 descriptor with
 * its name, value and meaning, and the inverse (set one field, get the new raw value).
 * Field layout: Arm ARM D8.3 (block/page/table descriptor formats); 52-bit OA placement for
 * FEAT_LPA (64K: OA[51:48] in bits [15:12]) and FEAT_LPA2 (DS=1: OA[51:50] in bits [9:8]).
 */
import { apDescription, type DescriptorFormat, decodeDescriptor, type InvalidReason } from "../../../src/arch/descriptor.js";
import { contiguousEntries, formatSize, levelShift } from "../../../src/arch/granule.js";
import { decodeMairAttr, mairByte } from "../../../src/arch/mair.js";
import { parseCount, parseU64, U64_MASK } from "../../../src/arch/u64.js";

/** Descriptor bits [msb:lsb] hold value bits starting at `at`. */
export interface BitSeg {
  readonly msb: number;
  readonly lsb: number;
  readonly at: number;
}

export interface Field {
  readonly key: string;
  readonly name: string;
  readonly segs: readonly BitSeg[];
  /** flag: one bit; number: small integer; address: an address assembled from the segments. */
  readonly type: "flag" | "number" | "address";
  readonly value: bigint;
  readonly meaning: string;
}

export interface DecodedFields {
  readonly kind: "invalid" | "table" | "block" | "page";
  readonly reason?: InvalidReason;
  readonly fields: readonly Field[];
}

const seg = (msb: number, lsb: number, at = 0): BitSeg => ({ msb, lsb, at });

export function extract(raw: bigint, segs: readonly BitSeg[]): bigint {
  let v = 0n;
  for (const s of segs) {
    const w = BigInt(s.msb - s.lsb + 1);
    v |= ((raw >> BigInt(s.lsb)) & ((1n << w) - 1n)) << BigInt(s.at);
  }
  return v;
}

export function insert(raw: bigint, segs: readonly BitSeg[], value: bigint): bigint {
  let r = raw;
  for (const s of segs) {
    const w = BigInt(s.msb - s.lsb + 1);
    const m = ((1n << w) - 1n) << BigInt(s.lsb);
    r = (r & ~m) | (((value >> BigInt(s.at)) & ((1n << w) - 1n)) << BigInt(s.lsb));
  }
  return r & U64_MASK;
}

/** Largest value a field can hold (for addresses: the aligned maximum). */
/**
 * A value typed into a field, under the number convention shared with the CLI: an address field
 * is hex (0x optional), a number field (AttrIndx, AP, SH, ...) a decimal count, as it is shown.
 */
export function parseFieldValue(f: Field, text: string): bigint {
  return f.type === "address" ? parseU64(text, f.name) : BigInt(parseCount(text, f.name, 0, Number.MAX_SAFE_INTEGER));
}

export function fieldMax(f: Field): bigint {
  let m = 0n;
  for (const s of f.segs) m |= ((1n << BigInt(s.msb - s.lsb + 1)) - 1n) << BigInt(s.at);
  return m;
}

/** Bit segments of an output / next-table address aligned to 2^alignShift. */
export function addressSegs(fmt: DescriptorFormat, alignShift: number): BitSeg[] {
  if (fmt.ds && fmt.granule.size !== 65536) {
    const s = [seg(49, alignShift, alignShift)];
    if (fmt.oa52) s.push(seg(9, 8, 50));
    return s;
  }
  const s = [seg(47, alignShift, alignShift)];
  if (fmt.granule.size === 65536 && fmt.oa52) s.push(seg(15, 12, 48));
  return s;
}

function covered(fields: readonly Field[]): bigint {
  let m = 0n;
  for (const f of fields) for (const s of f.segs) m |= ((1n << BigInt(s.msb - s.lsb + 1)) - 1n) << BigInt(s.lsb);
  return m;
}

/** Bit runs of `mask` (as segments, value bits at their own positions). */
function runsOf(mask: bigint): BitSeg[] {
  const out: BitSeg[] = [];
  let b = 0;
  while (b < 64) {
    if (((mask >> BigInt(b)) & 1n) === 0n) {
      b++;
      continue;
    }
    const lsb = b;
    while (b < 64 && ((mask >> BigInt(b)) & 1n) === 1n) b++;
    out.push(seg(b - 1, lsb, lsb));
  }
  return out.reverse();
}

const hexs = (v: bigint): string => `0x${v.toString(16)}`;

/**
 * Every field of `raw` read as a descriptor at `level`. `mair` (optional) names the memory type
 * AttrIndx selects.
 */
export function describeFields(raw: bigint, level: number, fmt: DescriptorFormat, mair?: bigint): DecodedFields {
  const d = decodeDescriptor(raw, level, fmt);
  const fields: Field[] = [];
  const add = (key: string, name: string, segs: BitSeg[], type: Field["type"], meaning: (v: bigint) => string): void => {
    const value = extract(raw, segs);
    fields.push({ key, name, segs, type, value, meaning: meaning(value) });
  };
  const yes = (on: string, off: string) => (v: bigint) => (v ? on : off);
  add("valid", "Valid", [seg(0, 0)], "flag", yes("valid", "invalid: the walk stops with a Translation fault"));
  if (d.kind === "invalid") {
    if (d.reason !== "invalid") {
      add("type", "Type", [seg(1, 1)], "flag", () =>
        d.reason === "reserved-level3"
          ? "0b01 at level 3 is reserved: invalid"
          : `no blocks at level ${level} with the ${fmt.granule.name} granule: invalid`,
      );
    }
    fields.push(...otherBits(raw, fields, "Ignored", "ignored by hardware (software may use them)"));
    return { kind: "invalid", reason: d.reason, fields };
  }
  add("type", "Type", [seg(1, 1)], "flag", (v) => (v ? (level === 3 ? "page" : "table") : "block"));
  if (d.kind === "table") {
    add(
      "nextTable",
      "Next-level table address",
      addressSegs(fmt, fmt.granule.shift),
      "address",
      (v) => `level ${level + 1} table at ${hexs(v)}`,
    );
    add("pxnTable", "PXNTable", [seg(59, 59)], "flag", yes("no EL1 execution below", "no restriction"));
    add("uxnTable", "UXNTable", [seg(60, 60)], "flag", yes("no EL0 execution below", "no restriction"));
    add(
      "apTable",
      "APTable",
      [seg(62, 61)],
      "number",
      (v) => ["no restriction", "no EL0 access below", "no writes below", "no writes, no EL0 access below"][Number(v)] ?? "",
    );
    add("nsTable", "NSTable", [seg(63, 63)], "flag", yes("next level is Non-secure (Secure state only)", "-"));
    fields.push(...otherBits(raw, fields, "Ignored", "ignored by hardware"));
    return { kind: "table", fields };
  }
  const shift = levelShift(fmt.granule, level);
  const ds = fmt.ds && fmt.granule.size !== 65536;
  add("attrIndx", "AttrIndx", [seg(4, 2)], "number", (v) => {
    if (mair === undefined) return `MAIR_EL1.Attr${v}`;
    const byte = mairByte(mair, Number(v));
    return `MAIR_EL1.Attr${v} = 0x${byte.toString(16).padStart(2, "0")} ${decodeMairAttr(byte).name}`;
  });
  add("ns", "NS", [seg(5, 5)], "flag", yes("Non-secure output (Secure state only)", "-"));
  add("ap", "AP[2:1]", [seg(7, 6)], "number", (v) => apDescription(Number(v)));
  if (!ds)
    add("sh", "SH", [seg(9, 8)], "number", (v) => ["non-shareable", "reserved", "outer shareable", "inner shareable"][Number(v)] ?? "");
  add("af", "AF", [seg(10, 10)], "flag", yes("accessed", "not accessed: Access flag fault unless TCR.HA=1"));
  add("nG", "nG", [seg(11, 11)], "flag", yes("not global: TLB entries tagged with the ASID", "global: matches every ASID"));
  add("oa", "Output address", addressSegs(fmt, shift), "address", (v) => `${d.kind} of ${formatSize(2 ** shift)} at ${hexs(v)}`);
  if (d.kind === "block") add("nT", "nT", [seg(16, 16)], "flag", yes("FEAT_BBM level 1 transition hint", "-"));
  add("gp", "GP", [seg(50, 50)], "flag", yes("guarded page (BTI)", "-"));
  add("dbm", "DBM", [seg(51, 51)], "flag", yes("dirty bit modifier: writable-clean with TCR.HD=1", "-"));
  const n = contiguousEntries(fmt.granule, level);
  add("contiguous", "Contiguous", [seg(52, 52)], "flag", (v) =>
    v ? (n ? `one of ${n} entries mapping ${formatSize(n * 2 ** shift)} as one TLB entry` : "ignored at this level") : "-",
  );
  add("pxn", "PXN", [seg(53, 53)], "flag", yes("no EL1 execution", "EL1 may execute"));
  add("uxn", "UXN / XN", [seg(54, 54)], "flag", yes("no EL0 execution", "EL0 may execute"));
  add("sw", "Software", [seg(58, 55)], "number", (v) => (v ? "software bits (Linux: DIRTY 55, SPECIAL 56, PROT_NONE 58)" : "-"));
  add("pbha", "PBHA / ignored", [seg(62, 59)], "number", (v) => (v ? "page-based hardware attributes or ignored" : "-"));
  fields.push(...otherBits(raw, fields, "RES0 / ignored", "should be zero"));
  return { kind: d.kind, fields };
}

function otherBits(raw: bigint, fields: readonly Field[], name: string, meaning: string): Field[] {
  const rest = U64_MASK & ~covered(fields);
  if (rest === 0n) return [];
  const segs = runsOf(rest);
  const value = extract(raw, segs);
  return [{ key: "other", name, segs, type: "address", value, meaning: value ? `bits set: ${hexs(value)} (${meaning})` : meaning }];
}

/** New raw value with field `key` set to `value` (for address fields: the address; low bits are dropped). */
export function setField(raw: bigint, level: number, fmt: DescriptorFormat, key: string, value: bigint): bigint {
  const f = describeFields(raw, level, fmt).fields.find((x) => x.key === key);
  if (!f) throw new RangeError(`descriptor field "${key}" does not exist in this descriptor`);
  const max = fieldMax(f);
  if (value < 0n || (value & ~max) !== 0n) {
    throw new RangeError(`${f.name}: ${hexs(value)} does not fit (allowed bits ${hexs(max)})`);
  }
  return insert(raw, f.segs, value);
}

/** "[47:12]" / "[9:8,49:12]" for display. */
export function segText(segs: readonly BitSeg[]): string {
  return segs.map((s) => (s.msb === s.lsb ? `${s.msb}` : `${s.msb}:${s.lsb}`)).join(",");
}
