#!/usr/bin/env bash
# Build a small arm64 Linux from Debian's linux-source-6.12 with CONFIG_PTDUMP_DEBUGFS, so the
# kernel's own /sys/kernel/debug/kernel_page_tables can be compared with vmsa's ptdump byte for byte
# (Debian's prebuilt kernels do not enable it). Not run in CI (about 8 minutes of compiling on two
# cores); its output feeds `npx tsx test/dump/real-kernel/capture.ts linux-6.12-16k-ptdump ...`.
#
# Needs (Debian): linux-source-6.12 (apt-get download: from bookworm-backports on Debian 12, which
# qemu/ci-setup.sh adds; from the release itself on Debian 13), gcc-aarch64-linux-gnu, make, flex,
# bison, bc, libelf-dev.
# Usage: test/dump/real-kernel/build-kernel.sh [16k|4k|4k-kvm] [CACHEDIR]  -> CACHEDIR/kbuild/Image-6.12-<pages>-ptdump
# 4k-kvm: a 48-bit 4K host for a nested KVM guest (QEMU virtualization=on) with
# CONFIG_PTDUMP_STAGE2_DEBUGFS, for test/dump/kvm-stage2/capture.ts (npm run capture:kvm-stage2).
# (CACHEDIR defaults to $VMSA_REAL_KERNEL_CACHE, else /tmp/vmsa-real-kernel, as in harness.ts.)
set -euo pipefail
PAGES="${1:-16k}"
CACHE="${2:-${VMSA_REAL_KERNEL_CACHE:-/tmp/vmsa-real-kernel}}"
WORK="$CACHE/kbuild"
mkdir -p "$WORK"
cd "$WORK"
if [ ! -d linux-source-6.12 ]; then
  apt-get download linux-source-6.12
  dpkg-deb -x linux-source-6.12_*.deb x
  tar xf x/usr/src/linux-source-6.12.tar.xz
fi
OUT="$WORK/out-$PAGES"
mkdir -p "$OUT"
cd linux-source-6.12
export ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
make O="$OUT" tinyconfig >/dev/null
case "$PAGES" in
  16k) G="-e ARM64_16K_PAGES -d ARM64_4K_PAGES" ;;
  4k) G="-e ARM64_4K_PAGES -d ARM64_16K_PAGES" ;;
  # No 52-bit VA (KVM's default 40-bit IPA stage 2 then starts at level 1 with two concatenated tables).
  4k-kvm) G="-e ARM64_4K_PAGES -d ARM64_16K_PAGES -e ARM64_VA_BITS_48 -e VIRTUALIZATION -e KVM \
    -e PTDUMP_STAGE2_DEBUGFS -e DEVTMPFS -e DEVTMPFS_MOUNT -e MULTIUSER -e FUTEX" ;;
  *) echo "page size must be 16k, 4k or 4k-kvm" >&2; exit 2 ;;
esac
VA52="-e ARM64_VA_BITS_52 -e ARM64_LPA2"
[ "$PAGES" = 4k-kvm ] && VA52="-d ARM64_VA_BITS_52 -d ARM64_LPA2"
# shellcheck disable=SC2086
./scripts/config --file "$OUT/.config" $G $VA52 -e PRINTK -e TTY \
  -e SERIAL_AMBA_PL011 -e SERIAL_AMBA_PL011_CONSOLE -e BLK_DEV_INITRD -e RD_GZIP -e DEBUG_FS \
  -e DEBUG_FS_ALLOW_ALL -e PTDUMP_DEBUGFS -e PROC_FS -e SYSFS -e BINFMT_ELF -e BINFMT_SCRIPT \
  -e DEBUG_WX -e PTDUMP_CORE -e DEBUG_KERNEL -e EXPERT -e MMU -e ARM_AMBA -e OF -e ARCH_VIRT -e SMP \
  -e RODATA_FULL_DEFAULT_ENABLED -e STRICT_KERNEL_RWX -e VMAP_STACK -e UNMAP_KERNEL_AT_EL0 \
  -e RELOCATABLE -e RANDOMIZE_BASE -e ARM64_MTE -e ARM64_BTI_KERNEL -e ARM64_PTR_AUTH \
  -e ARM64_PTR_AUTH_KERNEL
make O="$OUT" olddefconfig >/dev/null
nice -n 19 make O="$OUT" -j"$(nproc)" Image
cp "$OUT/arch/arm64/boot/Image" "$WORK/Image-6.12-$PAGES-ptdump"
echo "$WORK/Image-6.12-$PAGES-ptdump"
