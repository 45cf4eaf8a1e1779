import { defineConfig } from "vitest/config";

// In CI, also write machine-readable results (.ci/run prints the "N passed, N failed" line).
const json = process.env.VMSA_TEST_JSON;

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: "forks",
    reporters: json ? ["default", ["json", { outputFile: json }]] : ["default"],
  },
});
