/** A kdump-compressed file named by a path (Node: node:fs); the reader is ./load.ts. */
import { fstatSync } from "node:fs";
import { fdAccess } from "../../mem/file-access.js";
import type { PhysMem } from "../../mem/physmem.js";
import { openDumpFile } from "../elfcore.js";
import { type DiskDump, openDiskDump } from "./load.js";

/** Open `file` (plain or flattened; `head` is its first bytes) and attach its pages to `mem`. */
export function loadDiskDump(mem: PhysMem, file: string, head: Uint8Array): DiskDump {
  const fd = openDumpFile(file);
  return openDiskDump(mem, fdAccess(fd, file, fstatSync(fd).size), head);
}
