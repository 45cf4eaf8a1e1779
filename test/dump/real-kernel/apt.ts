/**
 * A private apt configuration for the arm64 Debian packages the real-kernel captures boot (kernel
 * images, busybox-static), independent of the host's release and apt sources.
 *
 * The fixtures and CONFIGS describe Debian 12 kernels: 6.1 from bookworm and 6.12 (+deb12) from
 * bookworm-backports. Debian 13 (trixie) has neither, so the host's own apt cannot provide them
 * there; instead every apt call here reads its own sources list (bookworm + bookworm-backports,
 * arm64 only) and keeps its lists and cache under the capture cache directory. Nothing on the host
 * changes (no `dpkg --add-architecture`, no file under /etc/apt), and root is not needed.
 *
 *   VMSA_REAL_KERNEL_SUITES  suites to use (default "bookworm bookworm-backports")
 *   VMSA_DEBIAN_MIRROR       mirror URI (default http://deb.debian.org/debian)
 *   VMSA_DEBIAN_KEYRING      keyring verifying it (default Debian's archive keyring; trixie's
 *                            debian-archive-keyring still carries the bookworm keys)
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const DEFAULT_SUITES = ["bookworm", "bookworm-backports"] as const;
const DEFAULT_MIRROR = "http://deb.debian.org/debian";
const DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

export interface AptSettings {
  readonly suites: readonly string[];
  readonly mirror: string;
  readonly keyring: string;
}

/** The settings from the environment (see the file comment), with the pinned defaults. */
export function aptSettings(env: NodeJS.ProcessEnv = process.env): AptSettings {
  const suites = (env.VMSA_REAL_KERNEL_SUITES ?? "").split(/[\s,]+/).filter((s) => s !== "");
  return {
    suites: suites.length > 0 ? suites : [...DEFAULT_SUITES],
    mirror: env.VMSA_DEBIAN_MIRROR || DEFAULT_MIRROR,
    keyring: env.VMSA_DEBIAN_KEYRING || DEFAULT_KEYRING,
  };
}

/** One-line sources.list text: arm64 only, each suite's main component. */
export function sourcesList(s: AptSettings): string {
  return s.suites.map((suite) => `deb [arch=arm64 signed-by=${s.keyring}] ${s.mirror} ${suite} main\n`).join("");
}

/**
 * Creates the private apt tree under `dir` and returns the `-o` options that make apt-get and
 * apt-cache use only it (arm64 as the native architecture, an empty dpkg status, no host lock).
 */
export function privateApt(dir: string, s: AptSettings = aptSettings()): string[] {
  const root = join(dir, "apt");
  for (const d of ["lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"])
    mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "sources.list"), sourcesList(s));
  if (!existsSync(join(root, "status"))) writeFileSync(join(root, "status"), "");
  const opt = (k: string, v: string): string[] => ["-o", `${k}=${v}`];
  return [
    ...opt("Dir::Etc::SourceList", join(root, "sources.list")),
    ...opt("Dir::Etc::SourceParts", join(root, "sources.list.d")),
    ...opt("Dir::Etc::Preferences", join(root, "preferences")),
    ...opt("Dir::Etc::PreferencesParts", join(root, "preferences.d")),
    ...opt("Dir::State::Lists", join(root, "lists")),
    ...opt("Dir::State::status", join(root, "status")),
    ...opt("Dir::Cache", join(root, "cache")),
    ...opt("APT::Architecture", "arm64"),
    ...opt("APT::Architectures::", "arm64"),
    ...opt("Acquire::Languages", "none"),
    ...opt("Debug::NoLocking", "1"),
    // As root apt downloads as the _apt user, which cannot write into this private tree.
    ...(process.getuid?.() === 0 ? opt("APT::Sandbox::User", "root") : []),
  ];
}
