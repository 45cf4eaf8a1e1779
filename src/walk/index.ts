export * from "./context.js";
export * from "./range.js";
export * from "./vtop.js";
export * from "./walker.js";
