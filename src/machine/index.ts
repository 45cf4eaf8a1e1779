export * from "./machine.js";
