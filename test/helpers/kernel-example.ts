/** The kernel example the UI opens on (examples/linux-6.1-4k48), built as the browser builds it. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildKernelExample, KERNEL_EXAMPLE } from "../../web/src/lib/kernelExample.js";

export function loadKernelExample(): ReturnType<typeof buildKernelExample> {
  const dir = join(import.meta.dirname, "../../examples", KERNEL_EXAMPLE);
  const json = readFileSync(join(dir, "example.json"), "utf8");
  const files = new Map<string, Uint8Array>();
  for (const m of (JSON.parse(json) as { memory: { file: string }[] }).memory) files.set(m.file, readFileSync(join(dir, m.file)));
  return buildKernelExample(json, files);
}
