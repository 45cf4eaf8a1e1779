/**
 * The real kernel example that ships with vmsa (examples/linux-6.1-4k48: Linux 6.1's page-table
 * pages and registers, captured with the ptdump it printed), the UI's opening memory. Built from
 * its example.json and the bytes of its ram-*.bin files, as `vmsa --example` reads them.
 */
import { ParseError } from "../../../src/arch/errors.js";
import { parseU64 } from "../../../src/arch/u64.js";
import { PhysMem } from "../../../src/mem/physmem.js";
import type { Example } from "./demo.js";
import { completeRegisters, parseRegisterText } from "./regs.js";

export const KERNEL_EXAMPLE = "linux-6.1-4k48";

interface ExampleJson {
  readonly memory?: readonly { readonly file?: unknown; readonly load_at?: unknown }[];
}

/** `files` maps a ram file's base name to its bytes. */
export function buildKernelExample(exampleJson: string, files: ReadonlyMap<string, Uint8Array>): Example {
  const regs = completeRegisters(parseRegisterText(exampleJson, "example.json").registers, "example.json").regs;
  const ex = JSON.parse(exampleJson) as ExampleJson;
  const mem = new PhysMem();
  for (const [i, m] of (ex.memory ?? []).entries()) {
    if (typeof m.file !== "string" || typeof m.load_at !== "string")
      throw new ParseError(`example.json: memory[${i}]: expected file and load_at strings`);
    const bytes = files.get(m.file);
    if (!bytes) throw new ParseError(`example.json: memory[${i}]: ${m.file} is not bundled`);
    mem.addBank(parseU64(m.load_at, `example.json: memory[${i}].load_at`), bytes, m.file);
  }
  return {
    name: `example:${KERNEL_EXAMPLE}`,
    mem,
    regs,
    // Addresses of the kernel's own ptdump (kernel_page_tables.txt).
    tour: [
      { va: 0xffff_0000_0021_0000n, what: "linear map, read-only 4K page" },
      { va: 0xffff_0000_0060_0000n, what: "linear map, 2M block" },
      { va: 0xffff_8000_0801_0000n, what: "kernel text, contiguous read-only executable pages" },
      { va: 0xffff_8000_0800_4000n, what: "vmalloc guard page (invalid entry)" },
    ],
  };
}
