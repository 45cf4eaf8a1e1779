/**
 * vmsa public library entry: runs unchanged in Node and in the browser. Node-only helpers (loading
 * files, ELF cores) are in `vmsa/node` (src/node.ts).
 */
export * from "./arch/index.js";
export * as audit from "./dump/audit.js";
export * as diff from "./dump/diff.js";
export * as layout from "./dump/layout.js";
export * from "./dump/ptdump.js";
export * as regfile from "./dump/regfile.js";
export * as vmcoreinfo from "./dump/vmcoreinfo.js";
export * as kernel from "./kernel/index.js";
export * as machine from "./machine/index.js";
export * from "./mem/physmem.js";
export * as scenario from "./scenario/index.js";
export * from "./walk/index.js";
