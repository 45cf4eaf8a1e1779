/** Node-only parts of the vmsa library: memory images from files, ELF cores, dump opening. */
export * from "./dump/elfcore.js";
export * from "./dump/inputs.js";
export * from "./mem/banks.js";
