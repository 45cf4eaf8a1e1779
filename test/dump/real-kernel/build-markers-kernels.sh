#!/usr/bin/env bash
# Build small arm64 kernels from Debian's linux-source-6.1 whose fixmap sizes differ, for the
# marker fixtures (issue 11 section 3). -ghes: ACPI APEI GHES (which selects SDEI: 4 fixmap slots)
# and KPTI with a relocatable image (4 trampoline slots), as Debian's. -noghes: SDEI alone (no
# slot), KPTI, not relocatable (3 trampoline slots). -reloc: as -noghes but relocatable (4), built
# incrementally from the -noghes objects. Every kernel has CONFIG_IKCONFIG (the layout source vmsa reads from the dump)
# and CONFIG_PTDUMP_DEBUGFS (the kernel's own kernel_page_tables, the expected output).
#
# Not run in CI (several minutes of compiling per kernel). `npm run capture:markers` runs it, then
# boots each kernel in QEMU and writes test/fixtures/markers/NAME.
#
# Needs (Debian): linux-source-6.1 (apt-get download), gcc-aarch64-linux-gnu, make, flex, bison,
# bc, libelf-dev, libssl-dev.
# Usage: build-markers-kernels.sh [CACHEDIR] [NAME...]  (NAME: 4k48-ghes 4k48-noghes 16k47-ghes
#   16k47-noghes 16k47-reloc 64k52-ghes 64k52-noghes 64k52-reloc; default: those with fixtures) -> CACHEDIR/kbuild61/Image-NAME, config-NAME,
#   System.map-NAME
set -euo pipefail
CACHE="${1:-${VMSA_REAL_KERNEL_CACHE:-/tmp/vmsa-real-kernel}}"
shift || true
NAMES=("$@")
if [ ${#NAMES[@]} -eq 0 ]; then NAMES=(4k48-noghes 4k48-ghes 16k47-noghes 16k47-reloc 64k52-noghes 64k52-reloc); fi
WORK="$CACHE/kbuild61"
mkdir -p "$WORK"
cd "$WORK"
if [ ! -d linux-source-6.1 ]; then
  apt-get download linux-source-6.1
  dpkg-deb -x linux-source-6.1_*.deb x
  tar xf x/usr/src/linux-source-6.1.tar.xz
  rm -rf x
fi
export ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
for NAME in "${NAMES[@]}"; do
  if [ -e "$WORK/Image-$NAME" ]; then echo "$WORK/Image-$NAME (already built)"; continue; fi
  case "$NAME" in
    4k48-*) G="-e ARM64_4K_PAGES -d ARM64_16K_PAGES -d ARM64_64K_PAGES -e ARM64_VA_BITS_48" ;;
    16k47-*) G="-e ARM64_16K_PAGES -d ARM64_4K_PAGES -d ARM64_64K_PAGES -e ARM64_VA_BITS_47" ;;
    64k52-*) G="-e ARM64_64K_PAGES -d ARM64_4K_PAGES -d ARM64_16K_PAGES -e ARM64_VA_BITS_52 -e ARM64_PA_BITS_52" ;;
    *) echo "unknown kernel $NAME" >&2; exit 2 ;;
  esac
  case "$NAME" in
    *-ghes) F="-e EFI -e ACPI -e ACPI_APEI -e ACPI_APEI_GHES -e ARM_SDE_INTERFACE -e UNMAP_KERNEL_AT_EL0 -e RELOCATABLE -e RANDOMIZE_BASE" ;;
    *-noghes) F="-d ACPI -d ACPI_APEI_GHES -e ARM_SDE_INTERFACE -e UNMAP_KERNEL_AT_EL0 -d RANDOMIZE_BASE -d RELOCATABLE" ;;
    *-reloc) F="-d ACPI -d ACPI_APEI_GHES -e ARM_SDE_INTERFACE -e UNMAP_KERNEL_AT_EL0 -d RANDOMIZE_BASE -e RELOCATABLE" ;;
    *) echo "unknown kernel $NAME" >&2; exit 2 ;;
  esac
  OUT="$WORK/out-$NAME"
  # A -reloc kernel differs from the -noghes one by one option: start from its objects, so that
  # only what depends on CONFIG_RELOCATABLE is rebuilt (Kbuild tracks options per object).
  case "$NAME" in
    *-reloc) if [ ! -d "$OUT" ] && [ -d "$WORK/out-${NAME%-reloc}-noghes" ]; then cp -a "$WORK/out-${NAME%-reloc}-noghes" "$OUT"; fi ;;
  esac
  mkdir -p "$OUT"
  (cd linux-source-6.1 && make O="$OUT" tinyconfig >/dev/null)
  # shellcheck disable=SC2086
  linux-source-6.1/scripts/config --file "$OUT/.config" $G $F -e PRINTK -e TTY -e SERIAL_AMBA_PL011 \
    -e SERIAL_AMBA_PL011_CONSOLE -e BLK_DEV_INITRD -e RD_GZIP -e DEBUG_FS -e DEBUG_FS_ALLOW_ALL \
    -e PTDUMP_DEBUGFS -e PROC_FS -e SYSFS -e BINFMT_ELF -e BINFMT_SCRIPT -e DEBUG_KERNEL -e EXPERT \
    -e MMU -e ARM_AMBA -e OF -e IKCONFIG -e STRICT_KERNEL_RWX -e RODATA_FULL_DEFAULT_ENABLED \
    -e DEBUG_WX -e PTDUMP_CORE -e KALLSYMS
  (cd linux-source-6.1 && make O="$OUT" olddefconfig >/dev/null)
  # The options must have survived olddefconfig (a dependency left out would silently drop one).
  for want in CONFIG_PTDUMP_DEBUGFS=y CONFIG_IKCONFIG=y CONFIG_ARM_SDE_INTERFACE=y CONFIG_UNMAP_KERNEL_AT_EL0=y; do
    grep -qx "$want" "$OUT/.config" || { echo "$NAME: $want did not stick" >&2; exit 1; }
  done
  case "$NAME" in
    *-ghes) grep -qx CONFIG_ACPI_APEI_GHES=y "$OUT/.config" || { echo "$NAME: no GHES" >&2; exit 1; } ;;
    *-noghes) if grep -q '^CONFIG_RELOCATABLE=y' "$OUT/.config"; then echo "$NAME: RELOCATABLE still on" >&2; exit 1; fi ;;
    *-reloc) grep -qx CONFIG_RELOCATABLE=y "$OUT/.config" || { echo "$NAME: RELOCATABLE off" >&2; exit 1; } ;;
  esac
  (cd linux-source-6.1 && nice -n 10 make O="$OUT" -j"$(nproc)" Image >"$OUT/build.log" 2>&1) ||
    { tail -30 "$OUT/build.log" >&2; exit 1; }
  cp "$OUT/.config" "$WORK/config-$NAME"
  cp "$OUT/System.map" "$WORK/System.map-$NAME"
  cp "$OUT/arch/arm64/boot/Image" "$WORK/Image-$NAME"
  echo "$WORK/Image-$NAME"
done
