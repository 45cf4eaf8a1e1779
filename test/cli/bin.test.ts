/** The installed entry point (bin/vmsa.js over dist/), as a shell user runs it. */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { skipBecause } from "../helpers/skip.js";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/vmsa.js");
const built = existsSync(join(ROOT, "dist/src/cli/main.js"));

const notBuilt = built || process.env.CI ? undefined : "dist/ is not built (npx tsc -p tsconfig.json; npm test builds it first)";
describe.skipIf(skipBecause("bin/vmsa.js", notBuilt))("bin/vmsa.js", () => {
  it("exits 2 with one error line and no stack trace on bad input", () => {
    const r = spawnSync(process.execPath, [BIN, "translate", "--preset", "nope", "0x0"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'vmsa: error: unknown preset "nope" (expected one of: linux-4k-39, linux-4k-48, linux-4k-48-pie, linux-4k-52, linux-16k-36, linux-16k-47, linux-16k-52, linux-64k-42, linux-64k-48, linux-64k-52)\n',
    );
  });

  it("ends quietly when the reader closes the pipe (| head)", async () => {
    const child = spawn(process.execPath, [BIN, "dump", "--example", "linux-6.1-4k48"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(err).toBe("");
    expect(code).toBe(0);
  });
});
