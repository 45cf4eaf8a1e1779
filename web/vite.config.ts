import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** The browser UI: `npm run build:web` writes web/dist, which `vmsa serve` serves. */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  // The real kernel example's page-table pages (examples/linux-6.1-4k48/*.bin), inlined by the worker.
  assetsInclude: ["**/*.bin"],
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true, chunkSizeWarningLimit: 1000 },
  worker: { format: "es" },
  server: { host: "127.0.0.1" },
});
