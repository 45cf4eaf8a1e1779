/**
 * The QEMU differential tests' tool check, inside a describe block: the tools (qemu-system-aarch64,
 * the AArch64 cross compiler, make) or, when one is missing, a test that fails under CI
 * (process.env.CI set, where qemu/ci-setup.sh installs them) and a skip that says why elsewhere.
 */
import { it } from "vitest";
import { checkTools, type Tools } from "../../src/diff-qemu/qemu.js";
import { skipBecause } from "./skip.js";

export function qemuToolsOrSkip(what: string): Tools | undefined {
  const tc = checkTools();
  if (tc.ok) return tc.tools;
  const msg = `${what} needs ${tc.missing.join(", ")}; install them with qemu/ci-setup.sh`;
  if (process.env.CI) {
    it("has its tools under CI", () => {
      throw new Error(msg);
    });
  } else {
    it.skipIf(skipBecause(what, msg))(`skipped: ${msg}`, () => {});
  }
  return undefined;
}
