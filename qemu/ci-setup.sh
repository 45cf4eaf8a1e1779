#!/usr/bin/env bash
# Install the tools the QEMU differential test needs (Debian): qemu-system-aarch64 (package
# qemu-system-arm, QEMU 10) and the AArch64 cross compiler, then a QEMU >= 10.2 for the
# permission-indirection tests through qemu/install-qemu-pie.sh. Release-aware: Debian 12 (bookworm)
# ships QEMU 7.2, so QEMU 10 comes from bookworm-backports; Debian 13 (trixie) and later ship
# QEMU 10 in the release itself and get no extra apt source. Idempotent; safe to run on a machine
# that already has the tools. Needs root (or sudo).
#
# Sourcing this file (`source qemu/ci-setup.sh`) only defines the functions, for tests:
#   VMSA_OS_RELEASE       os-release file to read (default /etc/os-release)
#   VMSA_APT_SOURCES_DIR  apt sources directory (default /etc/apt/sources.list.d)
#   VMSA_APT_SOURCES_LIST legacy one-line sources file (default /etc/apt/sources.list)
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_sources_dir() { echo "${VMSA_APT_SOURCES_DIR:-/etc/apt/sources.list.d}"; }
apt_sources_list() { echo "${VMSA_APT_SOURCES_LIST:-/etc/apt/sources.list}"; }

# The release codename (VERSION_CODENAME) of the machine, empty when unknown (not Debian-like).
os_codename() {
  local f="${VMSA_OS_RELEASE:-/etc/os-release}"
  [ -r "$f" ] || return 0
  sed -n 's/^VERSION_CODENAME=["'\'']\{0,1\}\([^"'\'']*\)["'\'']\{0,1\}$/\1/p' "$f" | head -n1
}

# The suite qemu-system-arm (QEMU >= 10) is installed from, for a release codename: a backports
# suite when the release's own QEMU is older, empty for "the release itself".
#   bookworm (Debian 12): QEMU 7.2 in the release, 10.0 in bookworm-backports.
#   trixie (Debian 13), forky, sid and anything unknown: the release's own packages.
qemu_suite() {
  case "${1:-}" in
    bookworm) echo "bookworm-backports" ;;
    *) echo "" ;;
  esac
}

# The Debian mirror and keyring of the machine's existing main source ("URI KEYRING", keyring may be
# missing): deb822 debian.sources first, then a one-line sources.list.
debian_mirror() {
  local dir list uri keyring
  dir="$(apt_sources_dir)"
  list="$(apt_sources_list)"
  uri="$(grep -hs '^URIs:' "$dir/debian.sources" 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
  keyring="$(grep -hs '^Signed-By:' "$dir/debian.sources" 2>/dev/null | head -n1 | awk '{print $2}' || true)"
  if [ -z "$uri" ]; then
    uri="$(grep -hs '^deb ' "$list" 2>/dev/null | grep -v security | head -n1 | sed 's/\[[^]]*\] *//' | awk '{print $2}' || true)"
  fi
  echo "${uri} ${keyring}"
}

# The deb822 source to add for QEMU on this machine, on stdout; nothing when the release needs
# none or the suite is already configured.
backports_source() {
  local codename suite mirror uri keyring
  codename="$(os_codename)"
  suite="$(qemu_suite "$codename")"
  [ -n "$suite" ] || return 0
  if grep -rqs -- "$suite" "$(apt_sources_list)" "$(apt_sources_dir)" 2>/dev/null; then
    return 0
  fi
  mirror="$(debian_mirror)"
  uri="${mirror%% *}"
  keyring="${mirror#* }"
  [ -n "$uri" ] || return 0
  echo "Types: deb"
  echo "URIs: ${uri}"
  echo "Suites: ${suite}"
  echo "Components: main"
  if [ -n "$keyring" ]; then echo "Signed-By: ${keyring}"; fi
}

add_backports() {
  local src
  src="$(backports_source)"
  [ -n "$src" ] || return 0
  echo "adding apt source $(grep '^Suites:' <<<"$src")"
  $SUDO tee "$(apt_sources_dir)/vmsa-backports.sources" >/dev/null <<<"$src"
}

have_tools() {
  command -v qemu-system-aarch64 >/dev/null 2>&1 && command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 &&
    have_plugin_tools
}

# The vmsa record plugin (plugins/record/build.sh) is built with the host gcc against glib's headers;
# the recordings decompress Debian 6.12's .ko.xz modules with xz (test/trace/record-kernel.ts).
have_plugin_tools() {
  command -v gcc >/dev/null 2>&1 && command -v pkg-config >/dev/null 2>&1 && pkg-config --exists glib-2.0 2>/dev/null &&
    command -v xz >/dev/null 2>&1
}

qemu_major() {
  qemu-system-aarch64 --version 2>/dev/null | head -n1 | sed -n 's/.*version \([0-9]*\)\..*/\1/p'
}

main() {
  # Nothing to do when both tools are there and QEMU is 10 or newer.
  if have_tools && [ "$(qemu_major)" -ge 10 ] 2>/dev/null && [ "${VMSA_QEMU_SETUP_FORCE:-0}" != "1" ]; then
    qemu-system-aarch64 --version | head -n1
  else
    install_tools
  fi
  # The permission-indirection campaigns need QEMU >= 10.2 (test/qemu/pie-differential.test.ts):
  # from trixie-backports, unpacked on bookworm (qemu/install-qemu-pie.sh).
  echo "QEMU for FEAT_S1PIE: $(bash "$(dirname "${BASH_SOURCE[0]}")/install-qemu-pie.sh" | tail -n1)"
  # Debian's arm64 makedumpfile under qemu-user, for the real-kernel conversions (test/dump/real-kernel.test.ts).
  echo "arm64 makedumpfile: $(bash "$(dirname "${BASH_SOURCE[0]}")/install-makedumpfile-arm64.sh" | tail -n1)"
}

install_tools() {
  local codename suite policy
  codename="$(os_codename)"
  suite="$(qemu_suite "$codename")"
  echo "Debian release: ${codename:-unknown}; QEMU from ${suite:-the release itself}"
  add_backports
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # (policy captured first: grep -q closing the pipe early would fail the pipeline under pipefail)
  policy="$(apt-cache policy qemu-system-arm 2>/dev/null || true)"
  if [ -n "$suite" ] && grep -q -- "$suite" <<<"$policy"; then
    $SUDO apt-get install -y -qq --no-install-recommends -t "$suite" qemu-system-arm >/dev/null
  else
    $SUDO apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
  fi
  $SUDO apt-get install -y -qq --no-install-recommends make gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends gcc libc6-dev pkg-config libglib2.0-dev xz-utils >/dev/null
  qemu-system-aarch64 --version | head -n1
  aarch64-linux-gnu-gcc --version | head -n1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
