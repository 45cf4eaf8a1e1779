#!/usr/bin/env bash
# Install the tools the QEMU differential test needs (Debian): qemu-system-aarch64 (package
# qemu-system-arm, preferring QEMU 10 from bookworm-backports) and the AArch64 cross compiler.
# Idempotent; safe to run on a machine that already has them. Needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

have_tools() {
  command -v qemu-system-aarch64 >/dev/null 2>&1 && command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && command -v make >/dev/null 2>&1
}

# Add <codename>-backports next to the machine's existing Debian source, same mirror and keyring.
add_backports() {
  local codename
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [ -n "$codename" ] || return 0
  if grep -rqs -- "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
    return 0
  fi
  local uri keyring
  uri="$(grep -rhs '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1 | awk '{print $2}')"
  keyring="$(grep -rhs '^Signed-By:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1 | awk '{print $2}')"
  if [ -z "$uri" ]; then
    uri="$(grep -hs '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1 | awk '{print $2}')"
  fi
  [ -n "$uri" ] || return 0
  {
    echo "Types: deb"
    echo "URIs: ${uri}"
    echo "Suites: ${codename}-backports"
    echo "Components: main"
    if [ -n "$keyring" ]; then echo "Signed-By: ${keyring}"; fi
  } | $SUDO tee /etc/apt/sources.list.d/vmsa-backports.sources >/dev/null
}

qemu_major() {
  qemu-system-aarch64 --version 2>/dev/null | head -n1 | sed -n 's/.*version \([0-9]*\)\..*/\1/p'
}

# Nothing to do when both tools are there and QEMU is 10 or newer (7.2 is upgraded from backports).
if have_tools && [ "$(qemu_major)" -ge 10 ] 2>/dev/null && [ "${VMSA_QEMU_SETUP_FORCE:-0}" != "1" ]; then
  qemu-system-aarch64 --version | head -n1
  exit 0
fi

add_backports
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
# qemu-system-arm from backports when the suite exists (QEMU 10); otherwise the release's own.
# (policy captured first: grep -q closing the pipe early would fail the pipeline under pipefail)
policy="$(apt-cache policy qemu-system-arm 2>/dev/null || true)"
if [ -n "$codename" ] && grep -q -- "${codename}-backports" <<<"$policy"; then
  $SUDO apt-get install -y -qq --no-install-recommends -t "${codename}-backports" qemu-system-arm >/dev/null
else
  $SUDO apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
fi
$SUDO apt-get install -y -qq --no-install-recommends make gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu >/dev/null
qemu-system-aarch64 --version | head -n1
aarch64-linux-gnu-gcc --version | head -n1
