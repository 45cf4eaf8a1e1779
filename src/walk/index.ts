export * from "./context.js";
export * from "./fields.js";
export * from "./range.js";
export * from "./vtop.js";
export * from "./walker.js";
