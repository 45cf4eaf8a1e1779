/**
 * qemu/ci-setup.sh picks its apt sources from the machine's Debian release (/etc/os-release
 * VERSION_CODENAME): QEMU 10 comes from bookworm-backports on Debian 12, and from the release
 * itself on Debian 13 (trixie) and later, which get no extra source. Exercised by sourcing the
 * script's functions with a fake os-release and a fake apt sources directory.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SCRIPT = join(import.meta.dirname, "../../qemu/ci-setup.sh");

const DEB822 = (codename: string): string =>
  [
    "Types: deb",
    "URIs: http://mirror.example/debian",
    `Suites: ${codename} ${codename}-updates`,
    "Components: main",
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
    "",
    "Types: deb",
    "URIs: http://mirror.example/debian-security",
    `Suites: ${codename}-security`,
    "Components: main",
    "",
  ].join("\n");

interface Machine {
  osRelease?: string;
  debianSources?: string;
  sourcesList?: string;
  extra?: Record<string, string>;
}

function run(m: Machine, call: string): string {
  const dir = mkdtempSync(join(tmpdir(), "vmsa-ci-setup-"));
  const parts = join(dir, "sources.list.d");
  mkdirSync(parts);
  if (m.osRelease !== undefined) writeFileSync(join(dir, "os-release"), m.osRelease);
  if (m.debianSources !== undefined) writeFileSync(join(parts, "debian.sources"), m.debianSources);
  if (m.sourcesList !== undefined) writeFileSync(join(dir, "sources.list"), m.sourcesList);
  for (const [name, text] of Object.entries(m.extra ?? {})) writeFileSync(join(parts, name), text);
  const r = spawnSync("bash", ["-c", `source "${SCRIPT}"; ${call}`], {
    encoding: "utf8",
    env: {
      ...process.env,
      VMSA_OS_RELEASE: join(dir, "os-release"),
      VMSA_APT_SOURCES_DIR: parts,
      VMSA_APT_SOURCES_LIST: join(dir, "sources.list"),
    },
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

const BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n';
const TRIXIE = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_ID="13"\nVERSION_CODENAME=trixie\nID=debian\n';

describe("qemu/ci-setup.sh release detection", () => {
  it("reads VERSION_CODENAME, quoted or not, and is empty without an os-release", () => {
    expect(run({ osRelease: TRIXIE }, "os_codename")).toBe("trixie\n");
    expect(run({ osRelease: 'VERSION_CODENAME="bookworm"\n' }, "os_codename")).toBe("bookworm\n");
    expect(run({}, "os_codename")).toBe("");
  });

  it("Debian 12 gets QEMU from bookworm-backports, on the machine's own mirror and keyring", () => {
    expect(run({ osRelease: BOOKWORM, debianSources: DEB822("bookworm") }, "backports_source")).toBe(
      [
        "Types: deb",
        "URIs: http://mirror.example/debian",
        "Suites: bookworm-backports",
        "Components: main",
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
        "",
      ].join("\n"),
    );
  });

  it("Debian 13 (QEMU 10 in the release) adds no apt source at all", () => {
    expect(run({ osRelease: TRIXIE, debianSources: DEB822("trixie") }, "qemu_suite trixie; backports_source")).toBe("\n");
    expect(run({ osRelease: TRIXIE, debianSources: DEB822("trixie") }, "backports_source | grep -c bookworm || true")).toBe("0\n");
  });

  it("an unknown or missing release uses its own packages", () => {
    expect(run({ osRelease: "ID=debian\nVERSION_CODENAME=forky\n", debianSources: DEB822("forky") }, "backports_source")).toBe("");
    expect(run({ debianSources: DEB822("bookworm") }, "backports_source")).toBe("");
  });

  it("does not add bookworm-backports twice", () => {
    const extra = { "backports.sources": "Types: deb\nURIs: http://x/debian\nSuites: bookworm-backports\nComponents: main\n" };
    expect(run({ osRelease: BOOKWORM, debianSources: DEB822("bookworm"), extra }, "backports_source")).toBe("");
  });

  it("falls back to a one-line sources.list mirror (options in brackets skipped)", () => {
    const list = "deb [arch=amd64] http://old.example/debian bookworm main\ndeb http://security.debian.org bookworm-security main\n";
    expect(run({ osRelease: BOOKWORM, sourcesList: list }, "backports_source")).toBe(
      "Types: deb\nURIs: http://old.example/debian\nSuites: bookworm-backports\nComponents: main\n",
    );
  });
});
