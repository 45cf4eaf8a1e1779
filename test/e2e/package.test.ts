/**
 * The npm package carries the built browser UI: `vmsa serve` looks for web/dist beside the
 * package's dist/ (src/cli/serve.ts findUiDir), so a package without it cannot serve the UI.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "vite";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

describe("npm package contents", () => {
  beforeAll(async () => {
    if (!existsSync(join(ROOT, "web/dist/index.html"))) {
      await build({ configFile: join(ROOT, "web/vite.config.ts"), logLevel: "warn" });
    }
  }, 120_000);

  it("npm pack lists the built web UI (web/dist), which vmsa serve needs", () => {
    const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8" });
    const packs = JSON.parse(out) as { files: { path: string }[] }[];
    const paths = (packs[0]?.files ?? []).map((f) => f.path);
    expect(paths).toContain("web/dist/index.html");
    expect(paths.some((p) => /^web\/dist\/assets\/.+\.js$/.test(p))).toBe(true);
  }, 60_000);
});
