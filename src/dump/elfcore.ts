/**
 * ELF core files named by a path (Node: node:fs). The reader itself is ./elfcore-reader.ts (no Node
 * APIs, shared with the browser UI's worker); this module opens the file and hands it over.
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { fdAccess } from "../mem/file-access.js";
import type { PhysMem } from "../mem/physmem.js";
import { DumpFormatError, type ElfCore, type LoadProgress, loadElfCoreFrom, readElfCoreFrom } from "./elfcore-reader.js";

export * from "./elfcore-reader.js";

/** Open a dump file for reading; a file that cannot be opened is a DumpFormatError naming it and why. */
export function openDumpFile(file: string): number {
  try {
    return openSync(file, "r");
  } catch (e) {
    throw new DumpFormatError("EDUMP_READ", `${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** Read an ELF core's headers and notes (not the memory). */
export function readElfCore(file: string): ElfCore {
  const fd = openDumpFile(file);
  try {
    return readElfCoreFrom(fdAccess(fd, file, fstatSync(fd).size));
  } finally {
    closeSync(fd);
  }
}

/**
 * Add every PT_LOAD segment of an ELF core to `mem` (./elfcore-reader.ts loadElfCoreFrom); the
 * file stays open while its frames are read on demand.
 */
export function loadElfCore(mem: PhysMem, file: string, progress?: LoadProgress): ElfCore {
  const fd = openDumpFile(file);
  let keep = false;
  try {
    const r = loadElfCoreFd(mem, fd, file, progress);
    keep = r.kept;
    return r.core;
  } finally {
    if (!keep) closeSync(fd);
  }
}

/**
 * loadElfCore of an open descriptor (an inflated copy of a gzip core, named `file` in errors).
 * `kept`: the descriptor now serves frames on demand and must stay open; else the caller closes it.
 */
export function loadElfCoreFd(mem: PhysMem, fd: number, file: string, progress?: LoadProgress): { core: ElfCore; kept: boolean } {
  return loadElfCoreFrom(mem, fdAccess(fd, file, fstatSync(fd).size), progress);
}
