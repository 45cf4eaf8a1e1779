/**
 * Scenarios as a library: parse a scenario file's text, run it in its written order or under
 * every interleaving (--explore, whose result is clean, violations or inconclusive), and render
 * either result as text or JSON.
 */
export * from "./explore.js";
export * from "./format.js";
export * from "./render.js";
export * from "./run.js";
