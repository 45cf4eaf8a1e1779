#!/usr/bin/env bash
# Build a small arm64 Linux from Debian's linux-source-6.12 with CONFIG_PTDUMP_DEBUGFS, so the
# kernel's own /sys/kernel/debug/kernel_page_tables can be compared with vmsa's ptdump byte for byte
# (Debian's prebuilt kernels do not enable it). Not run in CI (a few minutes of compiling); its
# output feeds `npx tsx test/dump/real-kernel/capture.ts linux-6.12-16k-ptdump`.
#
# Needs (Debian): linux-source-6.12 (apt-get download), gcc-aarch64-linux-gnu, flex, bison, bc, libelf-dev.
# Usage: test/dump/real-kernel/build-kernel.sh [WORKDIR]   -> WORKDIR/Image-6.12-16k-ptdump
set -euo pipefail
WORK="${1:-${VMSA_REAL_KERNEL_CACHE:-/tmp/vmsa-real-kernel}/kbuild}"
mkdir -p "$WORK"
cd "$WORK"
if [ ! -d linux-source-6.12 ]; then
  apt-get download linux-source-6.12
  dpkg-deb -x linux-source-6.12_*.deb x
  tar xf x/usr/src/linux-source-6.12.tar.xz
fi
cd linux-source-6.12
export ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
make tinyconfig >/dev/null
./scripts/config -e ARM64_16K_PAGES -e ARM64_VA_BITS_52 -e ARM64_LPA2 -e PRINTK -e TTY \
  -e SERIAL_AMBA_PL011 -e SERIAL_AMBA_PL011_CONSOLE -e BLK_DEV_INITRD -e RD_GZIP -e DEBUG_FS \
  -e DEBUG_FS_ALLOW_ALL -e PTDUMP_DEBUGFS -e PROC_FS -e SYSFS -e BINFMT_ELF -e BINFMT_SCRIPT \
  -e DEBUG_WX -e PTDUMP_CORE -e DEBUG_KERNEL -e EXPERT -e MMU -e ARM_AMBA -e OF -e ARCH_VIRT -e SMP \
  -e RODATA_FULL_DEFAULT_ENABLED -e STRICT_KERNEL_RWX -e VMAP_STACK -e UNMAP_KERNEL_AT_EL0 \
  -e RELOCATABLE -e RANDOMIZE_BASE -e ARM64_MTE -e ARM64_BTI_KERNEL -e ARM64_PTR_AUTH \
  -e ARM64_PTR_AUTH_KERNEL -e KEXEC -e CRASH_DUMP -e VMCORE_INFO
make olddefconfig >/dev/null
make -j"$(nproc)" Image
cp arch/arm64/boot/Image "$WORK/Image-6.12-16k-ptdump"
echo "$WORK/Image-6.12-16k-ptdump"
