export * from "./descriptor.js";
export * from "./errors.js";
export * from "./fault.js";
export * from "./granule.js";
export * from "./mair.js";
export * from "./registers.js";
export * from "./sysops.js";
export * from "./u64.js";
