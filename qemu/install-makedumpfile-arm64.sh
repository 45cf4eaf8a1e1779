#!/usr/bin/env bash
# Debian's arm64 makedumpfile, run on an amd64 host under qemu-user (issue 11 §2: convert a real
# arm64 ELF vmcore with makedumpfile; the host's own makedumpfile is an amd64 build that only
# handles the host architecture).
#
# The arm64 package and its library dependencies are fetched with `apt-get install --download-only`
# on a private apt configuration (arm64 as the native architecture, an empty dpkg status, lists and
# cache under $ROOT/apt) and unpacked with `dpkg-deb -x` into $ROOT/sysroot. Nothing on the host
# changes apart from the qemu-user package: no `dpkg --add-architecture`, no file under /etc/apt.
# The suite is pinned (default trixie: makedumpfile 1.7.6 with lzo and zstd; bookworm's 1.7.2 has
# no zstd) whatever the host's release, so Debian 12 and 13 hosts run the same binary.
#
# Writes $ROOT/makedumpfile, a wrapper running it under qemu-aarch64 with the sysroot, and prints
# its path last. Idempotent (a second run only checks the wrapper). Needs root for the qemu-user
# install only (skipped when a qemu-aarch64 user-mode binary is already there).
#
#   VMSA_MAKEDUMPFILE_ROOT   where to put it (default ${VMSA_REAL_KERNEL_CACHE:-/tmp/vmsa-real-kernel}/makedumpfile-arm64)
#   VMSA_MAKEDUMPFILE_SUITE  Debian suite of the arm64 package (default trixie)
#   VMSA_DEBIAN_MIRROR       mirror URI (default http://deb.debian.org/debian)
#   VMSA_DEBIAN_KEYRING      keyring (default Debian's archive keyring)
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

ROOT="${VMSA_MAKEDUMPFILE_ROOT:-${VMSA_REAL_KERNEL_CACHE:-/tmp/vmsa-real-kernel}/makedumpfile-arm64}"
SUITE="${VMSA_MAKEDUMPFILE_SUITE:-trixie}"
MIRROR="${VMSA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING="${VMSA_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"

# A qemu-aarch64 user-mode emulator: Debian 12 ships it as qemu-aarch64-static (qemu-user-static)
# and qemu-aarch64 (qemu-user); Debian 13's qemu-user is itself static, qemu-user-static a
# transitional package. Either name will do.
qemu_user() {
  local q
  for q in qemu-aarch64-static qemu-aarch64; do
    if command -v "$q" >/dev/null 2>&1; then command -v "$q"; return 0; fi
  done
  return 1
}

install_qemu_user() {
  qemu_user >/dev/null && return 0
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null ||
    $SUDO apt-get install -y -qq --no-install-recommends qemu-user >/dev/null
  qemu_user >/dev/null || { echo "install-makedumpfile-arm64: no qemu-aarch64 after installing qemu-user" >&2; return 1; }
}

private_apt_opts() {
  local r="$ROOT/apt"
  echo "-o Dir::Etc::SourceList=$r/sources.list -o Dir::Etc::SourceParts=$r/sources.list.d" \
    "-o Dir::Etc::Preferences=$r/preferences -o Dir::Etc::PreferencesParts=$r/preferences.d" \
    "-o Dir::State::Lists=$r/lists -o Dir::State::status=$r/status -o Dir::Cache=$r/cache" \
    "-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Acquire::Languages=none -o Debug::NoLocking=1" \
    "$([ "$(id -u)" -eq 0 ] && echo "-o APT::Sandbox::User=root")"
}

fetch_sysroot() {
  local r="$ROOT/apt" opts deb
  mkdir -p "$r/lists/partial" "$r/cache/archives/partial" "$r/sources.list.d" "$r/preferences.d"
  echo "deb [arch=arm64 signed-by=$KEYRING] $MIRROR $SUITE main" >"$r/sources.list"
  : >"$r/status"
  # shellcheck disable=SC2046 # the options are words by design
  opts=$(private_apt_opts)
  # shellcheck disable=SC2086
  apt-get $opts update -qq
  # shellcheck disable=SC2086
  apt-get $opts install -y -qq --download-only --no-install-recommends makedumpfile >/dev/null
  rm -rf "$ROOT/sysroot.new"
  mkdir -p "$ROOT/sysroot.new"
  for deb in "$r"/cache/archives/*.deb; do
    # Only makedumpfile and the shared libraries it loads (the perl of makedumpfile-R.pl is not needed).
    case "$(basename "$deb")" in
      makedumpfile_* | libc6_* | libgcc-s1_* | gcc-*-base_* | libelf1* | libdw1* | liblzo2-2_* | libzstd1_* | zlib1g_* | libbz2-1.0_* | liblzma5_* | libsnappy1v5_*)
        dpkg-deb -x "$deb" "$ROOT/sysroot.new" ;;
    esac
  done
  # Debian 13's libc6 installs the dynamic loader under /usr/lib only (merged /usr).
  [ -e "$ROOT/sysroot.new/lib" ] || ln -s usr/lib "$ROOT/sysroot.new/lib"
  rm -rf "$ROOT/sysroot"
  mv "$ROOT/sysroot.new" "$ROOT/sysroot"
}

write_wrapper() {
  local q
  q="$(qemu_user)"
  cat >"$ROOT/makedumpfile.new" <<EOF
#!/bin/sh
# Debian $SUITE arm64 makedumpfile under qemu-user (qemu/install-makedumpfile-arm64.sh).
exec "$q" -L "$ROOT/sysroot" "$ROOT/sysroot/usr/bin/makedumpfile" "\$@"
EOF
  chmod +x "$ROOT/makedumpfile.new"
  mv "$ROOT/makedumpfile.new" "$ROOT/makedumpfile"
}

main() {
  install_qemu_user
  mkdir -p "$ROOT"
  if ! [ -x "$ROOT/makedumpfile" ] || ! "$ROOT/makedumpfile" -v >/dev/null 2>&1; then
    fetch_sysroot
    write_wrapper
  fi
  "$ROOT/makedumpfile" -v | head -n1 >&2
  echo "$ROOT/makedumpfile"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
