#!/usr/bin/env bash
# Install a QEMU new enough for the permission-indirection campaigns (FEAT_S1PIE/S2PIE/GCS need
# QEMU >= 10.2; Debian carries 11.x in trixie-backports and sid) as
#   $VMSA_QEMU_PIE_DIR/bin/qemu-system-aarch64      (default dir: /opt/vmsa-qemu-pie)
# and print that path on the last line. Release-aware:
#   - trixie (Debian 13) and newer: qemu-system-arm from <release>-backports when the release's own
#     QEMU is older than 10.2, installed normally with apt-get (the wrapper then just execs it);
#   - bookworm (Debian 12), whose glibc is too old for trixie's binaries: nothing on the host
#     changes. A private apt tree (trixie + trixie-backports, amd64, its own lists/cache/status)
#     `apt-get download`s qemu-system-arm and the shared libraries it needs, `dpkg -x` unpacks
#     them under the directory, and the wrapper starts QEMU through the unpacked trixie dynamic
#     loader (ld-linux-x86-64.so.2 --library-path ...).
# Idempotent: does nothing when the wrapper already runs a QEMU >= 10.2.
#
#   VMSA_QEMU_PIE_DIR      install directory (default /opt/vmsa-qemu-pie)
#   VMSA_DEBIAN_MIRROR     mirror (default http://deb.debian.org/debian)
#   VMSA_DEBIAN_KEYRING    keyring (default /usr/share/keyrings/debian-archive-keyring.gpg)
#   VMSA_OS_RELEASE        os-release file to read (tests)
# Sourcing the file only defines the functions (for tests).
set -euo pipefail

PIE_DIR="${VMSA_QEMU_PIE_DIR:-/opt/vmsa-qemu-pie}"
MIRROR="${VMSA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING="${VMSA_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"

# os_codename (VMSA_OS_RELEASE for tests) comes from ci-setup.sh, sourced for its functions only.
# shellcheck source=qemu/ci-setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/ci-setup.sh"

# How QEMU >= 10.2 is obtained on a release: "unpack SUITE..." (private apt, run through the
# unpacked loader), "install SUITE" (apt-get install -t SUITE), or "install" (the release's own).
#   bookworm: unpack from trixie + trixie-backports (glibc 2.36 cannot run trixie binaries).
#   trixie:   QEMU 10.0 in the release, 11.x in trixie-backports.
#   forky, sid and later: the release's own QEMU.
pie_plan() {
  case "${1:-}" in
    bookworm) echo "unpack trixie trixie-backports" ;;
    trixie) echo "install trixie-backports" ;;
    *) echo "install" ;;
  esac
}

# "MAJOR MINOR" of a qemu-system-aarch64 command, empty when it does not run.
qemu_version_of() {
  "$@" --version 2>/dev/null | head -n1 | sed -n 's/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p'
}

# Whether the command runs a QEMU >= 10.2.
qemu_is_pie_capable() {
  local v maj min
  v="$(qemu_version_of "$@" || true)"
  [ -n "$v" ] || return 1
  maj="${v% *}"
  min="${v#* }"
  [ "$maj" -gt 10 ] || { [ "$maj" -eq 10 ] && [ "$min" -ge 2 ]; }
}

write_wrapper() {
  # $1: the command line the wrapper execs (already quoted)
  mkdir -p "$PIE_DIR/bin"
  local tmp="$PIE_DIR/bin/.qemu-system-aarch64.$$"
  printf '#!/bin/sh\n# written by qemu/install-qemu-pie.sh\nexec %s "$@"\n' "$1" >"$tmp"
  chmod 755 "$tmp"
  mv -f "$tmp" "$PIE_DIR/bin/qemu-system-aarch64"
}

private_apt_opts() {
  local root="$1"
  echo "-o Dir::Etc::SourceList=$root/sources.list -o Dir::Etc::SourceParts=$root/sources.list.d" \
    "-o Dir::Etc::Preferences=$root/preferences -o Dir::Etc::PreferencesParts=$root/preferences.d" \
    "-o Dir::State::Lists=$root/lists -o Dir::State::status=$root/status -o Dir::Cache=$root/cache" \
    "-o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Acquire::Languages=none -o Debug::NoLocking=1" \
    "$( [ "$(id -u)" -eq 0 ] && echo "-o APT::Sandbox::User=root")"
}

unpack_from() {
  local root="$PIE_DIR/apt" suite opts pkgs ver
  mkdir -p "$root"/{lists/partial,cache/archives/partial,sources.list.d,preferences.d} "$PIE_DIR/debs"
  : >"$root/sources.list"
  for suite in "$@"; do
    echo "deb [arch=amd64 signed-by=$KEYRING] $MIRROR $suite main" >>"$root/sources.list"
  done
  [ -e "$root/status" ] || : >"$root/status"
  # shellcheck disable=SC2046
  opts=($(private_apt_opts "$root"))
  apt-get "${opts[@]}" update -qq
  # The newest qemu-system-arm of those suites, and every library package in its dependency closure.
  ver="$(apt-cache "${opts[@]}" madison qemu-system-arm | awk '{print $3}' | sort -V | tail -n1)"
  [ -n "$ver" ] || { echo "install-qemu-pie: no qemu-system-arm in $*" >&2; return 1; }
  pkgs="$(apt-cache "${opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "qemu-system-arm=$ver" 2>/dev/null |
    sed -n 's/^ *\(Pre\)\{0,1\}Depends: \([a-z0-9][a-z0-9.+-]*\)$/\2/p; s/^\(lib[a-z0-9.+-]*\|zlib1g\)$/\1/p' |
    grep -E '^(lib|zlib1g)' | sort -u)"
  (cd "$PIE_DIR/debs" && rm -f ./*.deb && apt-get "${opts[@]}" download -qq "qemu-system-arm=$ver" $pkgs)
  rm -rf "$PIE_DIR/root"
  mkdir -p "$PIE_DIR/root"
  local d
  for d in "$PIE_DIR"/debs/*.deb; do dpkg -x "$d" "$PIE_DIR/root"; done
  local r="$PIE_DIR/root" libs
  libs="$r/usr/lib/x86_64-linux-gnu:$r/lib/x86_64-linux-gnu:$r/usr/lib/x86_64-linux-gnu/qemu"
  local loader="$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
  [ -x "$loader" ] || loader="$r/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
  [ -e "$loader" ] || { echo "install-qemu-pie: libc6 of $* gave no loader" >&2; return 1; }
  if "$loader" --library-path "$libs" --list "$r/usr/bin/qemu-system-aarch64" | grep -q 'not found'; then
    "$loader" --library-path "$libs" --list "$r/usr/bin/qemu-system-aarch64" | grep 'not found' >&2
    echo "install-qemu-pie: libraries missing from the unpacked closure" >&2
    return 1
  fi
  write_wrapper "'$loader' --library-path '$libs' '$r/usr/bin/qemu-system-aarch64' -L '$r/usr/share/qemu'"
  rm -rf "$PIE_DIR/debs" "$root/cache/archives"/*.deb
}

main() {
  local wrapper="$PIE_DIR/bin/qemu-system-aarch64"
  if [ -x "$wrapper" ] && qemu_is_pie_capable "$wrapper"; then
    qemu_version_of "$wrapper" >/dev/null
    echo "$wrapper"
    return 0
  fi
  # Already on PATH (a trixie-backports or sid host, or installed by hand)?
  if qemu_is_pie_capable qemu-system-aarch64; then
    write_wrapper "'$(command -v qemu-system-aarch64)'"
    echo "$wrapper"
    return 0
  fi
  local codename plan
  codename="$(os_codename)"
  plan="$(pie_plan "$codename")"
  echo "Debian release: ${codename:-unknown}; QEMU >= 10.2: ${plan}" >&2
  export DEBIAN_FRONTEND=noninteractive
  case "$plan" in
    unpack\ *)
      # shellcheck disable=SC2086
      unpack_from ${plan#unpack } >&2
      ;;
    install\ *)
      local suite="${plan#install }"
      if ! grep -rqs -- "$suite" "$(apt_sources_list)" "$(apt_sources_dir)" 2>/dev/null; then
        printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' "$MIRROR" "$suite" "$KEYRING" |
          $SUDO tee "$(apt_sources_dir)/vmsa-qemu-pie.sources" >/dev/null
      fi
      $SUDO apt-get update -qq >&2
      $SUDO apt-get install -y -qq --no-install-recommends -t "$suite" qemu-system-arm >&2
      write_wrapper "'$(command -v qemu-system-aarch64)'"
      ;;
    *)
      $SUDO apt-get install -y -qq --no-install-recommends qemu-system-arm >&2
      write_wrapper "'$(command -v qemu-system-aarch64)'"
      ;;
  esac
  if ! qemu_is_pie_capable "$wrapper"; then
    echo "install-qemu-pie: $wrapper does not run a QEMU >= 10.2:" >&2
    "$wrapper" --version >&2 || true
    return 1
  fi
  "$wrapper" --version | head -n1 >&2
  echo "$wrapper"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
