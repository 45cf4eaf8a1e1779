/**
 * The snapshot format is documented by examples/snapshot.schema.json: the schema names exactly the
 * fields the loader reads, and every snapshot the project ships validates against it (Ajv, draft
 * 2020-12) and loads.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { openDump, SNAPSHOT_KEYS } from "../../src/dump/inputs.js";

const ROOT = join(import.meta.dirname, "../..");
const schema = JSON.parse(readFileSync(join(ROOT, "examples/snapshot.schema.json"), "utf8"));
const validate = new Ajv2020({ allErrors: true }).compile(schema);

const REAL = join(ROOT, "test/fixtures/real-kernel");
const shipped = [
  join(ROOT, "examples/linux-6.1-4k48/example.json"),
  ...readdirSync(REAL, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap(({ name: d }) =>
      readdirSync(join(REAL, d))
        .filter((f) => f.endsWith(".json") && f !== "qemu-gva2gpa.json")
        .map((f) => join(REAL, d, f)),
    ),
];

describe("snapshot schema", () => {
  it("lists exactly the fields the loader reads", () => {
    expect(Object.keys(schema.properties).sort()).toEqual([...SNAPSHOT_KEYS.top].sort());
    expect(Object.keys(schema.properties.kernel_config.properties).sort()).toEqual([...SNAPSHOT_KEYS.kernelConfig].sort());
    const entryKeys = schema.$defs.memoryEntry.oneOf.flatMap((o: { properties: object }) => Object.keys(o.properties));
    expect(entryKeys.sort()).toEqual([...SNAPSHOT_KEYS.memoryEntry].sort());
  });

  it.each(shipped)("%s validates and loads", (file) => {
    const obj = JSON.parse(readFileSync(file, "utf8"));
    expect(validate(obj), JSON.stringify(validate.errors)).toBe(true);
    const regs = obj.registers ? {} : { TTBR1_EL1: 0x4000_0000n, TCR_EL1: 0x10n << 16n };
    const d = openDump({ inputs: [file], regs, vmcoreinfo: false, progress: false });
    expect(d.sources.memory).toBe(`snapshot ${file}`);
    // With registers in the snapshot, the TTBR1 root table is in its memory.
    if (obj.registers) expect(d.mem.read64(d.regs.ttbr1 & 0xffff_ffff_f000n)).toBeDefined();
  });

  it("rejects what the loader rejects", () => {
    expect(validate({ registers: {} })).toBe(false); // memory is required
    expect(validate({ memory: { file: "ram.bin", load_at: 1073741824 } })).toBe(false); // load_at is a hex string
    expect(validate({ memory: { file: "ram.bin", load_at: "0x40000000" }, registers: { TCR_EL1: "0xzz" } })).toBe(false);
    expect(validate({ memory: { file: "ram.bin", load_at: "40000000" } })).toBe(true);
  });
});
