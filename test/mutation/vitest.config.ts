import { defineConfig } from "vitest/config";
import { isMutationModule, MUTATION_MODULES } from "./modules.js";

// The per-module vitest configuration for mutation runs: only the module's own unit tests.
const name = process.env.VMSA_MUTATION_MODULE ?? "";
if (!isMutationModule(name)) {
  throw new Error(`VMSA_MUTATION_MODULE must be one of ${Object.keys(MUTATION_MODULES).join(", ")} (got "${name}")`);
}

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: [...MUTATION_MODULES[name].tests],
    testTimeout: 60_000,
  },
});
