/**
 * Tables others can load: the frames vmsa wrote (a booted kernel's tables, a scenario's final
 * memory) as contiguous runs at their physical addresses, plus the registers that select them,
 * in the forms firmware and QEMU take — raw images for `-device loader,file=…,addr=…,force-raw=on`,
 * an ELF64 AArch64 executable with one PT_LOAD per run (p_paddr = p_vaddr = PA, holes not stored),
 * and a C header (one array per run + register #defines). Pure: the CLI writes the files.
 */
import { hex64 } from "../arch/u64.js";
import { FRAME_SIZE, type PhysMem } from "../mem/physmem.js";

/** A run of contiguous backed 4 KiB frames. */
export interface ImageRun {
  readonly pa: bigint;
  readonly data: Uint8Array;
}

/** The system registers a loader must program, by their snapshot names. */
export interface ImageRegs {
  readonly TTBR0_EL1: bigint;
  readonly TTBR1_EL1: bigint;
  readonly TCR_EL1: bigint;
  readonly MAIR_EL1: bigint;
  readonly SCTLR_EL1: bigint;
}

/** Every frame holding data, grouped into runs of consecutive frames (ascending PA). */
export function backedRuns(mem: PhysMem): ImageRun[] {
  const frames = mem.backedFrames();
  const runs: { first: number; count: number }[] = [];
  for (const f of frames) {
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === f) last.count++;
    else runs.push({ first: f, count: 1 });
  }
  return runs.map((r) => {
    const pa = BigInt(r.first) * BigInt(FRAME_SIZE);
    return { pa, data: mem.readBytes(pa, r.count * FRAME_SIZE) };
  });
}

const EM_AARCH64 = 183;
const ET_EXEC = 2;
const PT_LOAD = 1;
const PF_R = 4;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;

/**
 * An ELF64 little-endian AArch64 executable (ET_EXEC, entry 0) with one read-only PT_LOAD per run:
 * p_vaddr = p_paddr = the run's PA, p_offset page aligned (p_offset ≡ p_vaddr mod p_align).
 */
export function buildTablesElf(runs: readonly ImageRun[]): Uint8Array {
  const hdrEnd = EHDR_SIZE + PHDR_SIZE * runs.length;
  let off = Math.ceil(hdrEnd / FRAME_SIZE) * FRAME_SIZE;
  const total = off + runs.reduce((a, r) => a + r.data.length, 0);
  const out = Buffer.alloc(total);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
  out.writeUInt16LE(ET_EXEC, 0x10);
  out.writeUInt16LE(EM_AARCH64, 0x12);
  out.writeUInt32LE(1, 0x14);
  out.writeBigUInt64LE(BigInt(EHDR_SIZE), 0x20); // e_phoff
  out.writeUInt16LE(EHDR_SIZE, 0x34);
  out.writeUInt16LE(PHDR_SIZE, 0x36);
  out.writeUInt16LE(runs.length, 0x38);
  out.writeUInt16LE(64, 0x3a); // e_shentsize (no sections)
  runs.forEach((r, i) => {
    const ph = EHDR_SIZE + i * PHDR_SIZE;
    const len = BigInt(r.data.length);
    out.writeUInt32LE(PT_LOAD, ph);
    out.writeUInt32LE(PF_R, ph + 4);
    out.writeBigUInt64LE(BigInt(off), ph + 8);
    out.writeBigUInt64LE(r.pa, ph + 16);
    out.writeBigUInt64LE(r.pa, ph + 24);
    out.writeBigUInt64LE(len, ph + 32);
    out.writeBigUInt64LE(len, ph + 40);
    out.writeBigUInt64LE(BigInt(FRAME_SIZE), ph + 48);
    out.set(r.data, off);
    off += r.data.length;
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** File name of a run's raw image: `tables-0x<pa>.bin`. */
export function runFileName(r: ImageRun): string {
  return `tables-0x${r.pa.toString(16)}.bin`;
}

/**
 * A C header: register values as `#define VMSA_<REG> 0x…ULL`, each run as a page-aligned
 * `uint64_t` array of descriptors in its own section, and a table of {pa, words, array} so
 * firmware can copy the runs to their addresses before writing TTBRn_EL1.
 */
export function buildTablesHeader(runs: readonly ImageRun[], regs: ImageRegs, title: string): string {
  const out: string[] = [];
  out.push(`/* ${title.replace(/\*\//g, "* /")}: translation tables written by vmsa. */`);
  out.push("#ifndef VMSA_TABLES_H", "#define VMSA_TABLES_H", "", "#include <stdint.h>", "");
  for (const [k, v] of Object.entries(regs)) out.push(`#define VMSA_${k} ${hex64(v as bigint)}ULL`);
  out.push(`#define VMSA_NRUNS ${runs.length}`, "");
  runs.forEach((r, i) => {
    const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    out.push(`/* PA ${hex64(r.pa)}, ${r.data.length} bytes */`);
    out.push(`#define VMSA_RUN${i}_PA ${hex64(r.pa)}ULL`);
    out.push(
      `static const uint64_t vmsa_run${i}[${r.data.length / 8}] __attribute__((aligned(4096), section(".rodata.vmsa_tables"), used)) = {`,
    );
    for (let o = 0; o < r.data.length; o += 32) {
      const words: string[] = [];
      for (let w = o; w < o + 32 && w < r.data.length; w += 8) words.push(`${hex64(dv.getBigUint64(w, true))}ULL`);
      out.push(`  ${words.join(", ")},`);
    }
    out.push("};", "");
  });
  out.push("static const struct { uint64_t pa; uint64_t words; const uint64_t *data; } vmsa_runs[VMSA_NRUNS] = {");
  runs.forEach((r, i) => {
    out.push(`  { VMSA_RUN${i}_PA, ${r.data.length / 8}, vmsa_run${i} },`);
  });
  out.push("};", "", "#endif /* VMSA_TABLES_H */", "");
  return out.join("\n");
}

/**
 * The snapshot descriptor (examples/snapshot.schema.json) that loads the runs back into vmsa,
 * with the QEMU command-line fragments as descriptive metadata (ignored by the loader).
 */
export function buildTablesSnapshot(runs: readonly ImageRun[], regs: ImageRegs, description: string): string {
  const registers: Record<string, string> = {};
  for (const [k, v] of Object.entries(regs)) registers[k] = hex64(v as bigint);
  const snap = {
    description,
    memory: runs.map((r) => ({ file: runFileName(r), load_at: hex64(r.pa) })),
    registers,
    qemu: {
      raw: runs.map((r) => `-device loader,file=${runFileName(r)},addr=0x${r.pa.toString(16)},force-raw=on`).join(" "),
      elf: "-device loader,file=tables.elf",
    },
  };
  return `${JSON.stringify(snap, null, 1)}\n`;
}
