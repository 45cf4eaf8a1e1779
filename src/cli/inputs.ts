/**
 * The options of dump inputs for the commands that read real memory (dump, translate, audit,
 * diff): positional inputs (ELF core, snapshot .json, FILE@PA) plus the usual machine options.
 * Opening them is ./open-inputs.ts, which loads the dump readers: translate of a built-in example
 * never imports it (issue 14: startup).
 */
import type { Command } from "commander";
import { addMachineOptions, type RegOptions } from "./common.js";

export interface DumpInputOptions extends RegOptions {
  vmcoreinfo?: string | boolean;
  kernelVersion?: string;
  vaBits?: string;
  fixmapSize?: string;
  kernelConfig?: string;
  systemMap?: string;
  gdb?: string;
  gdbTimeout?: string;
  pageCache?: string;
}

/** Options for commands that read a real dump. */
export function addDumpInputOptions(cmd: Command): Command {
  addMachineOptions(cmd);
  return cmd
    .option("--vmcoreinfo <file>", "VMCOREINFO text to use (default: the ELF note, else a scan of RAM)")
    .option("--no-vmcoreinfo", "ignore VMCOREINFO (registers only from files and flags)")
    .option("--kernel-version <v>", "kernel version for the layout and markers, e.g. 6.12 (default: VMCOREINFO OSRELEASE)")
    .option("--va-bits <n>", "CONFIG_ARM64_VA_BITS, decimal (default: VMCOREINFO NUMBER(VA_BITS), else the TTBR1 VA size)")
    .option("--fixmap-size <size>", "size of the fixmap region for the markers, hex or with K/M (default: computed for the version)")
    .option(
      "--page-cache <size>",
      "memory kept for dump pages read on demand, hex or with K/M/G (default 64M); pages beyond it are read again when walked",
    )
    .option(
      "--kernel-config <file>",
      "the kernel's config (.config, /boot/config-*, /proc/config.gz) for the layout, when the dump holds no IKCONFIG",
    )
    .option(
      "--system-map <file>",
      "System.map (or nm vmlinux output): the kernel's address_markers are read from the dump, else the fixmap options from the symbols",
    )
    .option(
      "--gdb <host:port>",
      "read a live QEMU guest through its gdbstub (qemu -gdb tcp::PORT): registers, then only the tables walked, from physical memory; the guest is stopped while read, then detached and left running",
    )
    .option(
      "--gdb-timeout <ms>",
      "milliseconds to wait for the gdbstub's connection and each reply, decimal (exit 3 when it does not answer)",
      "5000",
    );
}
