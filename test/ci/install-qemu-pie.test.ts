/**
 * qemu/install-qemu-pie.sh (called by qemu/ci-setup.sh) gets a QEMU >= 10.2 for the FEAT_S1PIE
 * differential test by release: unpacked from trixie + trixie-backports on bookworm (whose glibc
 * cannot run trixie binaries, so they start through the unpacked loader), installed from
 * trixie-backports on trixie (whose own QEMU is 10.0), and from the release itself later.
 * Exercised by sourcing the script's functions; fake `qemu` scripts stand for the binaries.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SCRIPT = join(import.meta.dirname, "../../qemu/install-qemu-pie.sh");

function sh(call: string, env: Record<string, string> = {}): { out: string; status: number | null } {
  const r = spawnSync("bash", ["-c", `source "${SCRIPT}"; ${call}`], { encoding: "utf8", env: { ...process.env, ...env } });
  expect(r.stderr).toBe("");
  return { out: r.stdout.trim(), status: r.status };
}

function fakeQemu(versionLine: string): string {
  const dir = mkdtempSync(join(tmpdir(), "vmsa-fake-qemu-"));
  const f = join(dir, "qemu-system-aarch64");
  writeFileSync(f, `#!/bin/sh\necho '${versionLine}'\n`);
  chmodSync(f, 0o755);
  return f;
}

describe("install-qemu-pie.sh", () => {
  it("unpacks trixie's QEMU on bookworm, installs trixie-backports on trixie, the release's own later", () => {
    expect(sh("pie_plan bookworm").out).toBe("unpack trixie trixie-backports");
    expect(sh("pie_plan trixie").out).toBe("install trixie-backports");
    expect(sh("pie_plan forky").out).toBe("install");
    expect(sh("pie_plan sid").out).toBe("install");
  });

  it("reads the release from os-release (VERSION_CODENAME)", () => {
    const dir = mkdtempSync(join(tmpdir(), "vmsa-os-"));
    writeFileSync(join(dir, "os-release"), 'NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n');
    expect(sh('pie_plan "$(os_codename)"', { VMSA_OS_RELEASE: join(dir, "os-release") }).out).toBe("unpack trixie trixie-backports");
  });

  it("takes a QEMU as PIE-capable from 10.2 on (FEAT_S1PIE/GCS arrived in 10.2)", () => {
    const capable = (line: string): number | null => sh(`qemu_is_pie_capable "${fakeQemu(line)}"`).status;
    expect(capable("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)")).toBe(1);
    expect(capable("QEMU emulator version 10.1.0")).toBe(1);
    expect(capable("QEMU emulator version 10.2.0")).toBe(0);
    expect(capable("QEMU emulator version 11.1.3 (Debian 1:11.1.3+ds-2~bpo13+1)")).toBe(0);
    expect(capable("not a qemu")).toBe(1);
    expect(sh("qemu_is_pie_capable /nonexistent/qemu").status).toBe(1);
  });
});
