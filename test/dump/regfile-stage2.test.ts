/** Register files carry the stage-2 registers a hypervisor dump needs (VTTBR_EL2, VTCR_EL2, HCR_EL2). */
import { describe, expect, it } from "vitest";
import { canonicalRegName, parseRegisterFile } from "../../src/dump/regfile.js";

describe("stage-2 registers in register files", () => {
  it("reads VTTBR_EL2/VTCR_EL2/HCR_EL2 from gdb output, NAME=VALUE lines and JSON, with short aliases", () => {
    const gdb = parseRegisterFile(
      "VTTBR_EL2      0x1000048000000     281476187766784\nVTCR_EL2       0x80023558          2147628376\n",
      "g",
    );
    expect(gdb.values).toEqual({ VTTBR_EL2: 0x1_0000_4800_0000n, VTCR_EL2: 0x8002_3558n });
    expect(parseRegisterFile("vtcr=80023558\nHCR: 0x80000001\n", "f").values).toEqual({ VTCR_EL2: 0x8002_3558n, HCR_EL2: 0x8000_0001n });
    expect(parseRegisterFile('{"registers": {"VTTBR_EL2": "0x48000000"}}', "j").values).toEqual({ VTTBR_EL2: 0x4800_0000n });
    expect(canonicalRegName("vttbr")).toBe("VTTBR_EL2");
  });

  it("a stage-2 register with a bad value is an error naming the line, not ignored", () => {
    expect(() => parseRegisterFile("VTTBR_EL2 0xzz\n", "bad.txt")).toThrow(/bad\.txt:1: VTTBR_EL2/);
  });
});
