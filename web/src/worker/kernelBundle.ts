/**
 * examples/linux-6.1-4k48 bundled into the web build (about 60 KiB of page-table pages), so the
 * UI opens on the real kernel example with no server and no upload.
 */
import exampleJson from "../../../examples/linux-6.1-4k48/example.json?raw";
import type { Example } from "../lib/demo.js";
import { buildKernelExample } from "../lib/kernelExample.js";

const BINS = import.meta.glob("../../../examples/linux-6.1-4k48/*.bin", { query: "?inline", import: "default", eager: true }) as Record<
  string,
  string
>;

function dataUrlBytes(url: string): Uint8Array {
  const b64 = url.slice(url.indexOf(",") + 1);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bundledKernelExample(): Example {
  const files = new Map<string, Uint8Array>();
  for (const [path, url] of Object.entries(BINS)) files.set(path.slice(path.lastIndexOf("/") + 1), dataUrlBytes(url));
  return buildKernelExample(exampleJson, files);
}
