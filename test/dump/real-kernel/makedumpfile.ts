/**
 * Debian's arm64 makedumpfile (qemu/install-makedumpfile-arm64.sh: run under qemu-user), converting
 * a real QEMU ELF vmcore into kdump-compressed files for the real-kernel checks (issue 11 §2).
 *
 * Two facts about makedumpfile (1.7.2 in Debian 12, 1.7.6 in Debian 13) shape the input:
 * - it reads the program headers right after the 64-byte ELF header and ignores e_phoff, while
 *   QEMU 10's dump-guest-memory puts its section headers there (e_shoff 0x40, e_phoff 0xc0):
 *   on the file as QEMU wrote it, it stops with "get_elf_info: Can't get the number of PT_LOAD.".
 *   `phdrsAfterHeader` writes a copy with the program headers moved to offset 64 (section headers
 *   dropped; notes and memory untouched, at their offsets);
 * - without `-device vmcoreinfo` the core has no VMCOREINFO note, so the VMCOREINFO vmsa found by
 *   its RAM scan is given with `-i FILE`.
 */
import { spawnSync } from "node:child_process";
import { closeSync, copyFileSync, existsSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { VmcoreInfo } from "../../../src/dump/vmcoreinfo.js";

/** Where qemu/install-makedumpfile-arm64.sh puts its wrapper (same defaults as the script). */
export function makedumpfilePath(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.VMSA_MAKEDUMPFILE_ROOT ?? join(env.VMSA_REAL_KERNEL_CACHE ?? "/tmp/vmsa-real-kernel", "makedumpfile-arm64");
  return join(root, "makedumpfile");
}

/** The wrapper's `-v` answer (version + enabled codecs), or undefined when it is not installed. */
export function makedumpfileVersion(bin = makedumpfilePath()): string | undefined {
  if (!existsSync(bin)) return undefined;
  const r = spawnSync(bin, ["-v"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A copy of the ELF64 core `src` at `dst` whose program headers follow the ELF header (see above). */
export function phdrsAfterHeader(src: string, dst: string): void {
  copyFileSync(src, dst);
  const fd = openSync(dst, "r+");
  try {
    const eh = Buffer.alloc(64);
    readSync(fd, eh, 0, 64, 0);
    if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2) throw new Error(`${src}: not an ELF64 file`);
    const phoff = Number(eh.readBigUInt64LE(0x20));
    const phentsize = eh.readUInt16LE(0x36);
    const phnum = eh.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    // The first segment's data must start after the moved headers.
    const firstData = Math.min(...Array.from({ length: phnum }, (_, k) => Number(ph.readBigUInt64LE(k * phentsize + 8))));
    if (64 + ph.length > firstData) throw new Error(`${src}: no room for ${phnum} program headers after the ELF header`);
    eh.writeBigUInt64LE(64n, 0x20); // e_phoff
    eh.writeBigUInt64LE(0n, 0x28); // e_shoff
    eh.writeUInt16LE(64, 0x34); // e_ehsize (QEMU 10 writes 8)
    eh.writeUInt16LE(0, 0x3c); // e_shnum
    eh.writeUInt16LE(0, 0x3e); // e_shstrndx
    writeSync(fd, eh, 0, 64, 0);
    writeSync(fd, ph, 0, ph.length, 64);
  } finally {
    closeSync(fd);
  }
}

/** VMCOREINFO as the kernel's `KEY=VALUE` lines, for makedumpfile's `-i`. */
export function vmcoreInfoText(vi: VmcoreInfo): string {
  return [...vi.entries].map(([k, v]) => `${k}=${v}\n`).join("");
}

/** Run makedumpfile with `args` (stdout into `stdoutFile` when given: `-F`); throws with its last stderr lines when it fails. */
export function makedumpfile(args: readonly string[], stdoutFile?: string, bin = makedumpfilePath()): void {
  const out = stdoutFile === undefined ? "pipe" : openSync(stdoutFile, "w");
  try {
    const r = spawnSync(bin, args, { encoding: "utf8", stdio: ["ignore", out, "pipe"], maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0)
      throw new Error(`makedumpfile ${args.join(" ")}: exit ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`);
  } finally {
    if (typeof out === "number") closeSync(out);
  }
}
