/** Write test tables as a snapshot (`examples/snapshot.schema.json`): the RAM at 0x40000000 and a linux-4k-48 register set. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { presetByName } from "../../src/arch/registers.js";
import type { TestTables } from "./tables.js";

/** Writes DIR/NAME.bin (64 KiB of RAM from 0x40000000) and DIR/NAME.json naming it; returns the JSON path. */
export function writeSnapshot(dir: string, name: string, t: TestTables): string {
  writeFileSync(join(dir, `${name}.bin`), t.mem.readBytes(0x4000_0000n, 0x10000));
  const regs = presetByName("linux-4k-48").regs;
  const f = join(dir, `${name}.json`);
  writeFileSync(
    f,
    JSON.stringify({
      kernel: "Linux 6.1.0 test",
      registers: { TTBR1_EL1: `0x${t.root.toString(16)}`, TCR_EL1: `0x${regs.tcr.toString(16)}`, MAIR_EL1: `0x${regs.mair.toString(16)}` },
      memory: { file: `${name}.bin`, load_at: "0x40000000" },
    }),
  );
  return f;
}
