#!/usr/bin/env bash
# Build the vmsa record plugin (record.c) with the installed gcc against the qemu-plugin.h of the
# installed QEMU (qemu-plugin-header.sh). Prints the path of the built plugin.
#   build.sh [OUT]   (default: out/plugins/libvmsa-record.so under the repository)
# Needs gcc, pkg-config and glib's headers (libglib2.0-dev), which qemu/ci-setup.sh installs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/out/plugins/libvmsa-record.so}"
inc="$(bash "$here/qemu-plugin-header.sh")"
glib="$(pkg-config --cflags glib-2.0)" || { echo "build.sh: glib headers missing (apt-get install libglib2.0-dev)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2086
gcc -O2 -Wall -Wextra -Wno-unused-parameter -shared -fPIC $glib -I"$inc" "$here/record.c" -o "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
