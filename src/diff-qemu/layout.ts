/**
 * Guest physical memory layout of the bare-metal AT harness (qemu/harness/layout.h) on QEMU's
 * `virt` board with 1 GiB of RAM. Keep the two files in sync.
 */

/** RAM of `virt` starts at 1 GiB; the harness runs with `-m 1G`. */
export const RAM_BASE = 0x4000_0000n;
export const RAM_END = 0x8000_0000n;
export const QEMU_MEMORY = "1G";
/** The device-tree blob sits at RAM_BASE; the harness image at 0x4020_0000; the job file at 0x4040_0000. */
/** The harness's first page: the EL2-regime trampoline every EL2 / EL2&0 job maps VA = PA, executable. */
export const TRAMP_BASE = 0x4020_0000n;
export const INPUT_BASE = 0x4040_0000n;
export const INPUT_END = 0x4800_0000n;
/** Translation tables (job memory chunks) live in [ARENA_BASE, ARENA_END); it reads as zero elsewhere. */
export const ARENA_BASE = 0x4800_0000n;
export const ARENA_END = RAM_END;
/**
 * Physical addresses with nothing mapped on `virt` (above RAM, below the high GIC/PCIe regions at
 * 256 GiB): a descriptor fetch there is a synchronous external abort on the walk.
 */
export const UNMAPPED_BASE = 0x1_0000_0000n;
export const UNMAPPED_END = 0x3f_0000_0000n;
/** Queries per job the harness accepts (its result buffer). */
export const MAX_QUERIES_PER_JOB = 4096;
