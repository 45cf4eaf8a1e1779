/**
 * The trace reader on malformed input: every truncation and corruption is one TraceError (the
 * CLI prints it as one `vmsa: error:` line and exits 2), never a crash or a silent partial replay.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { VmsaError } from "../../src/arch/errors.js";
import { checkTrace } from "../../src/cli/check-trace.js";
import { TraceError } from "../../src/trace/errors.js";
import { scanTrace } from "../../src/trace/reader.js";
import { replayTrace } from "../../src/trace/replay.js";
import { TraceWriter } from "./trace-writer.js";

function sample(): Buffer {
  return new TraceWriter(2)
    .msr(0, 2, 0x5000f5b5503510n)
    .page(0, 0x40001000n, 0, new Map([[0, 0x40002003n]]))
    .store(1, 0x40001008n, 0x40003003n)
    .dsb(1)
    .tlbi(1, 25, 0x123n)
    .isb(1)
    .exception(0, 5, 0xffff800008010280n, 0xffff800008001234n)
    .eret(0)
    .access(1, 0x10, 0x1000n)
    .end();
}

describe("trace reader", () => {
  it("reads every record of a well-formed trace and counts them by type", () => {
    const s = scanTrace(sample(), "t");
    expect(s.header.cpus).toBe(2);
    expect(s.records).toBe(9);
    expect(s.byType).toMatchObject({ store: 1, page: 1, barrier: 2, tlbi: 1, msr: 1, exception: 1, eret: 1, access: 1 });
  });

  it("refuses every truncation of a trace with a TraceError (no END record: QEMU did not exit cleanly)", () => {
    const data = sample();
    for (let n = 0; n < data.length; n++) {
      expect(() => scanTrace(data.subarray(0, n), "t"), `cut at ${n}`).toThrow(TraceError);
    }
  });

  it("refuses a wrong magic, version, vCPU number, record type and trailing bytes, naming the byte offset", () => {
    const bad = (patch: (b: Buffer) => void): string => {
      const b = Buffer.from(sample());
      patch(b);
      try {
        scanTrace(b, "t");
      } catch (e) {
        expect(e).toBeInstanceOf(TraceError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(bad((b) => b.write("X", 0))).toMatch(/byte 0x0: not a vmsa record trace/);
    expect(bad((b) => b.writeUInt16LE(2, 8))).toMatch(/format version 2/);
    expect(bad((b) => b.writeUInt16LE(0, 10))).toMatch(/0 vCPUs/);
    expect(bad((b) => b.writeUInt8(99, 32))).toMatch(/byte 0x20: unknown record type 99/);
    expect(bad((b) => b.writeUInt8(7, 33))).toMatch(/vCPU 7, the header declares 2/);
    expect(() => scanTrace(Buffer.concat([sample(), Buffer.from([0])]), "t")).toThrow(/1 bytes after the END record/);
    // The ACCESS record is the last before END: its kind byte 3 bytes after its start.
    const accessKind = sample().length - 138 - 19 + 2;
    expect(bad((b) => b.writeUInt8(3, accessKind))).toMatch(/access kind 3, expected 0 \(read\), 1 \(write\) or 2 \(fetch\)/);
    expect(bad((b) => b.writeUInt8(0x21, accessKind))).toMatch(/access kind 33/);
  });

  it("refuses a store outside the trace's RAM and a table entry index beyond the table", () => {
    expect(() => scanTrace(new TraceWriter(1).store(0, 0x1000n, 1n).end(), "t")).toThrow(/outside the trace's RAM/);
    expect(() => scanTrace(new TraceWriter(1).page(0, 0x40001000n, 0, new Map([[600, 1n]])).end(), "t")).toThrow(
      /entry index 600 in a table of 512/,
    );
  });

  it("gives only VmsaErrors (bad input) on random corruption, through the whole replay", () => {
    const data = sample();
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) {
      const b = Buffer.from(data);
      for (let k = 0; k < 3; k++) b[rnd(b.length)] = rnd(256);
      try {
        replayTrace(b, "t");
      } catch (e) {
        expect(e, `corruption ${i}`).toBeInstanceOf(VmsaError);
      }
    }
  });

  it("prints one vmsa: error: line and exits 2 for a truncated trace file", () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-trace-"));
    const f = join(dir, "cut.vtrace");
    writeFileSync(f, sample().subarray(0, 60));
    const out: string[] = [];
    const err: string[] = [];
    expect(
      checkTrace(
        f,
        {},
        (s) => out.push(s),
        (s) => err.push(s),
      ),
    ).toBe(2);
    expect(out).toEqual([]);
    expect(err.join("")).toMatch(/^vmsa: error: trace .*cut\.vtrace: byte 0x[0-9a-f]+: truncated[^\n]*\n$/);
  });
});
