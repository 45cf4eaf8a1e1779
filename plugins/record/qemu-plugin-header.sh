#!/usr/bin/env bash
# Print the directory holding the qemu-plugin.h that matches the installed qemu-system-aarch64:
# the header is taken from Debian's own qemu source package of the installed version (the
# plugin API must match the QEMU that loads the plugin). Debian 12 (bookworm) gets QEMU 10 from
# bookworm-backports, Debian 13 (trixie) and later from the release itself (qemu/ci-setup.sh); the
# source comes from the same suite. apt runs on a private configuration under the cache directory
# (a deb-src line there, its own lists): nothing under /etc/apt changes and root is not needed.
# Only include/qemu/qemu-plugin.h is extracted from the source tarball.
#
#   VMSA_QEMU_HEADER_CACHE  cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/vmsa/qemu-plugin)
#   VMSA_DEBIAN_MIRROR      mirror (default: the machine's Debian mirror, else deb.debian.org)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../../qemu/ci-setup.sh
source "$here/../../qemu/ci-setup.sh"

die() { echo "qemu-plugin-header: $*" >&2; exit 1; }

command -v qemu-system-aarch64 >/dev/null || die "qemu-system-aarch64 is not installed (run qemu/ci-setup.sh)"
# Debian builds QEMU with --enable-plugins: the binary then exports the plugin API.
grep -q qemu_plugin_register_vcpu_tb_trans_cb "$(command -v qemu-system-aarch64)" ||
  die "this qemu-system-aarch64 is built without TCG plugin support"
version="$(dpkg-query -W -f='${Version}' qemu-system-arm 2>/dev/null)" || die "qemu-system-arm is not a Debian package here"
upstream="${version#*:}"
upstream="${upstream%-*}"
cache="${VMSA_QEMU_HEADER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmsa/qemu-plugin}"
dir="$cache/$upstream"
if [ -s "$dir/qemu-plugin.h" ]; then echo "$dir"; exit 0; fi

codename="$(os_codename)"
suite="$(qemu_suite "$codename")"
suite="${suite:-$codename}"
[ -n "$suite" ] || die "cannot tell the Debian release (VERSION_CODENAME in /etc/os-release)"
mirror="${VMSA_DEBIAN_MIRROR:-$(debian_mirror | awk '{print $1}')}"
mirror="${mirror:-http://deb.debian.org/debian}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

apt="$cache/apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources.list.d" "$apt/preferences.d" "$dir"
echo "deb-src [signed-by=$keyring] $mirror $suite main" >"$apt/sources.list"
: >"$apt/status"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
  -o "Dir::Etc::Preferences=$apt/preferences" -o "Dir::Etc::PreferencesParts=$apt/preferences.d"
  -o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status" -o "Dir::Cache=$apt/cache"
  -o "Debug::NoLocking=1" -o "Acquire::Languages=none")
if [ "$(id -u)" -eq 0 ]; then opts+=(-o "APT::Sandbox::User=root"); fi
apt-get "${opts[@]}" update -qq >&2 || die "apt-get update of $suite (deb-src) failed"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Only the upstream tarball is needed; a mirror missing the .dsc or the Debian tarball is tolerated.
(cd "$work" && apt-get "${opts[@]}" source --download-only -qq "qemu=$version" >&2) || true
tarball="$(ls "$work"/qemu_"$upstream".orig.tar.* 2>/dev/null | head -n1 || true)"
[ -n "$tarball" ] || die "apt-get source qemu=$version ($suite) gave no qemu_${upstream}.orig tarball"
tar -xf "$tarball" -C "$work" --wildcards '*/include/qemu/qemu-plugin.h' || die "$tarball has no include/qemu/qemu-plugin.h"
found="$(find "$work" -name qemu-plugin.h -path '*/include/qemu/*' | head -n1)"
cp "$found" "$dir/qemu-plugin.h.tmp" && mv "$dir/qemu-plugin.h.tmp" "$dir/qemu-plugin.h"
echo "$dir"
