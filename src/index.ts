/** vmsa public library entry. Node-only helpers (file loading) live in `vmsa/node`. */
export * from "./arch/index.js";
export * from "./dump/ptdump.js";
export * from "./mem/physmem.js";
export * from "./walk/index.js";
