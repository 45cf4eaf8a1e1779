/**
 * Frames of an open file read on demand (Node: a file descriptor); the page cache itself is
 * ./access-frames.ts, shared with the browser UI's worker.
 */
import { addAccessFrames, type FileExtent } from "./access-frames.js";
import { fdAccess } from "./file-access.js";
import type { PhysMem } from "./physmem.js";

export { type FileExtent, FileFrames } from "./access-frames.js";

/**
 * Make `extents` of the open file `fd` memory read on demand: each becomes a bank (overlaps are
 * refused like loaded banks) whose frames come from the file when first touched. `fd` stays open.
 */
export function addFileFrames(mem: PhysMem, fd: number, file: string, all: readonly FileExtent[], fileSize: number): void {
  addAccessFrames(mem, fdAccess(fd, file, fileSize), all);
}
