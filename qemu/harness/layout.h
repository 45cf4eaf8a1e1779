/*
 * Guest physical memory layout of the vmsa AT harness on QEMU's `virt` board (-m 1G: RAM is
 * 0x4000_0000..0x8000_0000). Keep in sync with src/diff-qemu/layout.ts.
 */
#ifndef VMSA_LAYOUT_H
#define VMSA_LAYOUT_H

#define RAM_BASE 0x40000000UL
#define RAM_END 0x80000000UL
/* QEMU puts the device-tree blob at the start of RAM for a bare-metal image: 0x4000_0000.. */
#define IMAGE_BASE 0x40200000UL /* harness .text/.data/.bss/stack, up to 2 MiB */
#define TRAMP_BASE 0x40200000UL /* first page of the image: the EL2-regime trampoline (start.S) */
#define INPUT_BASE 0x40400000UL /* job file read here through semihosting */
#define INPUT_END 0x48000000UL
#define ARENA_BASE 0x48000000UL /* job memory chunks (translation tables) must lie here */
#define ARENA_END RAM_END

#endif
