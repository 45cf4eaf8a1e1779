/**
 * ELF core files as physical memory: QEMU `dump-guest-memory` (ELF format) and Linux kdump
 * `/proc/vmcore` copies. Each PT_LOAD segment's p_paddr..p_paddr+p_memsz becomes a bank (bytes
 * past p_filesz read as zero); PT_NOTE segments yield the notes (VMCOREINFO, NT_PRSTATUS, ...).
 *
 * Other formats met here (kdump-compressed files and flattened streams, read by ./diskdump/ when
 * given directly but not inside gzip; xz/zstd/bzip2 files) and truncated files are refused with an
 * error naming the offset.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { VmsaError } from "../arch/errors.js";
import { addFileFrames, type FileExtent } from "../mem/filesource.js";
import { FRAME_SIZE, PA_LIMIT, type PhysMem } from "../mem/physmem.js";

export class DumpFormatError extends VmsaError {
  constructor(code: "EDUMP_FORMAT" | "EDUMP_COMPRESSED" | "EDUMP_TRUNCATED" | "EDUMP_READ" | "EDUMP_PAGE", message: string) {
    super(code, message);
    this.name = "DumpFormatError";
  }
}

export interface ElfNote {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
  /** File offset of the note header. */
  readonly offset: number;
}

export interface LoadSegment {
  readonly index: number;
  readonly offset: number;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: number;
  readonly memsz: number;
}

export interface ElfCore {
  readonly file: string;
  readonly machine: number;
  readonly segments: readonly LoadSegment[];
  readonly notes: readonly ElfNote[];
}

const EM_AARCH64 = 183;
const PT_LOAD = 1;
const PT_NOTE = 4;
const PN_XNUM = 0xffff;

/** Recognise compressed or foreign formats from a file's first bytes; returns a description or undefined. */
export function sniffCompressed(head: Uint8Array): string | undefined {
  const s = (n: number): string => String.fromCharCode(...head.subarray(0, n));
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip-compressed (decompress it first: gunzip -k)";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd-compressed (decompress it first: zstd -d)";
  if (s(6) === "\xfd7zXZ\x00") return "xz-compressed (decompress it first: unxz -k)";
  if (s(3) === "BZh") return "bzip2-compressed (decompress it first: bunzip2 -k)";
  if (s(8) === "DISKDUMP")
    return "an old diskdump-format file (DISKDUMP signature, from the pre-kdump diskdump patches): not supported; only kdump-compressed (KDUMP) files are";
  if (s(8) === "KDUMP   ") {
    return "a kdump-compressed file inside another container (e.g. gzip); decompress the outer layer and give the kdump file itself";
  }
  if (s(12) === "makedumpfile")
    return "a flattened makedumpfile stream inside another container (e.g. gzip); decompress the outer layer first";
  return undefined;
}

function truncated(file: string, size: number, pos: number, len: number, what: string): DumpFormatError {
  return new DumpFormatError(
    "EDUMP_TRUNCATED",
    `${file}: truncated at offset 0x${size.toString(16)}: ${what} needs bytes 0x${pos.toString(16)}..0x${(pos + len).toString(16)}`,
  );
}

function readAt(fd: number, file: string, pos: number, len: number, what: string, size: number): Buffer {
  if (pos + len > size) throw truncated(file, size, pos, len, what);
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const r = readSync(fd, b, got, len - got, pos + got);
    if (r === 0) throw new DumpFormatError("EDUMP_TRUNCATED", `${file}: short read at offset 0x${(pos + got).toString(16)} (${what})`);
    got += r;
  }
  return b;
}

/** Parse the notes in a PT_NOTE segment's bytes. */
export function parseNotes(buf: Uint8Array, baseOffset: number, file: string): ElfNote[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: ElfNote[] = [];
  let p = 0;
  // Sizes are 32-bit unsigned: round up in double arithmetic (`& ~3` would turn 2^31 negative).
  const align4 = (n: number): number => Math.ceil(n / 4) * 4;
  while (p + 12 <= buf.length) {
    const namesz = dv.getUint32(p, true);
    const descsz = dv.getUint32(p + 4, true);
    const type = dv.getUint32(p + 8, true);
    if (namesz === 0 && descsz === 0 && type === 0) break; // zero padding at the end
    const nameStart = p + 12;
    const descStart = nameStart + align4(namesz);
    const end = descStart + align4(descsz);
    if (descStart + descsz > buf.length) {
      throw new DumpFormatError(
        "EDUMP_TRUNCATED",
        `${file}: note at offset 0x${(baseOffset + p).toString(16)} (namesz ${namesz}, descsz ${descsz}) runs past the end of its PT_NOTE segment`,
      );
    }
    let name = Buffer.from(buf.subarray(nameStart, nameStart + namesz)).toString("latin1");
    name = name.replace(/\0+$/, "");
    out.push({ name, type, desc: buf.subarray(descStart, descStart + descsz), offset: baseOffset + p });
    p = end;
  }
  return out;
}

/** Open a dump file for reading; a file that cannot be opened is a DumpFormatError naming it and why. */
export function openDumpFile(file: string): number {
  try {
    return openSync(file, "r");
  } catch (e) {
    throw new DumpFormatError("EDUMP_READ", `${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** Read an ELF core's headers and notes (not the memory). */
export function readElfCore(file: string): ElfCore {
  const fd = openDumpFile(file);
  try {
    return readElfCoreFd(fd, file, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/** Bytes [pos, pos+len) of the input; throws EDUMP_TRUNCATED naming `what` when they are past its end. */
type ReadAt = (pos: number, len: number, what: string) => Buffer;

function readElfCoreFd(fd: number, file: string, size: number): ElfCore {
  return parseElfHeaders((pos, len, what) => readAt(fd, file, pos, len, what, size), file, size);
}

/** An ELF core held in memory (e.g. a decompressed .gz): headers and notes, checked as for a file. */
export function parseElfCoreBytes(bytes: Uint8Array, file: string): ElfCore {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return parseElfHeaders(
    (pos, len, what) => {
      if (pos + len > b.length) throw truncated(file, b.length, pos, len, what);
      return b.subarray(pos, pos + len);
    },
    file,
    b.length,
  );
}

function parseElfHeaders(read: ReadAt, file: string, size: number): ElfCore {
  if (size < 64) {
    const head = read(0, size, "the ELF header");
    const c = sniffCompressed(head);
    if (c) throw new DumpFormatError("EDUMP_COMPRESSED", `${file}: ${c} (offset 0)`);
    throw new DumpFormatError("EDUMP_TRUNCATED", `${file}: truncated at offset 0x${size.toString(16)}: an ELF header needs 64 bytes`);
  }
  const eh = read(0, 64, "the ELF header");
  const c = sniffCompressed(eh);
  if (c) throw new DumpFormatError("EDUMP_COMPRESSED", `${file}: ${c} (offset 0)`);
  if (eh[0] !== 0x7f || eh[1] !== 0x45 || eh[2] !== 0x4c || eh[3] !== 0x46) {
    throw new DumpFormatError("EDUMP_FORMAT", `${file}: not an ELF file (offset 0: expected \\x7fELF); for raw RAM use FILE@PA`);
  }
  if (eh[4] !== 2) throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 4 (EI_CLASS): expected ELFCLASS64 (2), got ${eh[4]}`);
  if (eh[5] !== 1) throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 5 (EI_DATA): expected little-endian (1), got ${eh[5]}`);
  const type = eh.readUInt16LE(16);
  // ET_EXEC (2): a loadable image such as `vmsa boot --export-image`'s tables.elf (PT_LOAD at p_paddr).
  if (type !== 4 && type !== 2) {
    throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 0x10 (e_type): expected ET_CORE (4) or ET_EXEC (2), got ${type}`);
  }
  const machine = eh.readUInt16LE(18);
  if (machine !== EM_AARCH64) {
    throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 0x12 (e_machine): expected EM_AARCH64 (183), got ${machine}`);
  }
  const phoff = Number(eh.readBigUInt64LE(0x20));
  const shoff = Number(eh.readBigUInt64LE(0x28));
  const phentsize = eh.readUInt16LE(0x36);
  let phnum = eh.readUInt16LE(0x38);
  if (phentsize < 56)
    throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 0x36 (e_phentsize): expected at least 56, got ${phentsize}`);
  if (phnum === PN_XNUM) {
    // More than 65534 segments: the real count is section header 0's sh_info.
    const sh = read(shoff, 64, "section header 0 (PN_XNUM segment count)");
    phnum = sh.readUInt32LE(0x2c);
  }
  const ph = read(phoff, phnum * phentsize, `the ${phnum} program headers`);
  const segments: LoadSegment[] = [];
  const notes: ElfNote[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    const pType = ph.readUInt32LE(o);
    const offset = Number(ph.readBigUInt64LE(o + 8));
    const vaddr = ph.readBigUInt64LE(o + 16);
    const paddr = ph.readBigUInt64LE(o + 24);
    const filesz = Number(ph.readBigUInt64LE(o + 32));
    const memsz = Number(ph.readBigUInt64LE(o + 40));
    if (pType === PT_LOAD) {
      if (offset + filesz > size) {
        throw new DumpFormatError(
          "EDUMP_TRUNCATED",
          `${file}: truncated at offset 0x${size.toString(16)}: PT_LOAD #${i} (PA 0x${paddr.toString(16)}, 0x${filesz.toString(16)} bytes at offset 0x${offset.toString(16)}) needs the file to reach offset 0x${(offset + filesz).toString(16)}`,
        );
      }
      if (paddr + BigInt(Math.max(memsz, filesz)) > BigInt(PA_LIMIT)) {
        throw new DumpFormatError(
          "EDUMP_FORMAT",
          `${file}: PT_LOAD #${i} at offset 0x${(phoff + o).toString(16)}: p_paddr 0x${paddr.toString(16)} + p_memsz 0x${memsz.toString(16)} extends past the 52-bit PA space`,
        );
      }
      segments.push({ index: i, offset, vaddr, paddr, filesz, memsz: Math.max(memsz, filesz) });
    } else if (pType === PT_NOTE && filesz > 0) {
      const buf = read(offset, filesz, `PT_NOTE #${i}`);
      notes.push(...parseNotes(buf, offset, file));
    }
  }
  if (segments.length === 0) throw new DumpFormatError("EDUMP_FORMAT", `${file}: no PT_LOAD segments (expected the guest RAM)`);
  return { file, machine, segments, notes };
}

const CHUNK = 64 * 1024 * 1024;

export type LoadProgress = (done: number, total: number) => void;

/**
 * Add every PT_LOAD segment of an ELF core to `mem`. Returns the parsed core. Segments at 4 KiB
 * aligned addresses are read on demand (indexed now, a frame read when a walk touches it; the file
 * stays open); a segment at an unaligned address is read whole now.
 */
export function loadElfCore(mem: PhysMem, file: string, progress?: LoadProgress): ElfCore {
  const fd = openDumpFile(file);
  let keep = false;
  try {
    const r = loadElfCoreFd(mem, fd, file, progress);
    keep = r.kept;
    return r.core;
  } finally {
    if (!keep) closeSync(fd);
  }
}

/**
 * loadElfCore of an open descriptor (an inflated copy of a gzip core, named `file` in errors).
 * `kept`: the descriptor now serves frames on demand and must stay open; else the caller closes it.
 */
export function loadElfCoreFd(mem: PhysMem, fd: number, file: string, progress?: LoadProgress): { core: ElfCore; kept: boolean } {
  const size = fstatSync(fd).size;
  const core = readElfCoreFd(fd, file, size);
  const total = core.segments.reduce((a, s) => a + s.filesz, 0);
  let done = 0;
  const extents: FileExtent[] = [];
  for (const s of core.segments) {
    if (s.paddr % BigInt(FRAME_SIZE) === 0n) {
      extents.push({ pa: Number(s.paddr), offset: s.offset, length: s.filesz, name: `${file}[PT_LOAD #${s.index}]` });
      done += s.filesz;
    } else {
      let off = 0;
      while (off < s.filesz) {
        const n = Math.min(CHUNK, s.filesz - off);
        const buf = readAt(fd, file, s.offset + off, n, `PT_LOAD #${s.index}`, size);
        mem.writeBytes(s.paddr + BigInt(off), new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
        off += n;
        done += n;
        progress?.(done, total);
      }
    }
    if (s.memsz > s.filesz) mem.addRam(s.paddr + BigInt(s.filesz), BigInt(s.memsz - s.filesz));
  }
  progress?.(total, total);
  if (extents.length === 0) return { core, kept: false };
  addFileFrames(mem, fd, file, extents, size);
  return { core, kept: true };
}

/** Write a minimal AArch64 ELF core (for tests and for saving snapshots): one PT_LOAD per bank. */
export function buildElfCore(
  banks: readonly { pa: bigint; data: Uint8Array }[],
  notes: readonly { name: string; type: number; desc: Uint8Array }[] = [],
): Uint8Array {
  const align4 = (n: number): number => (n + 3) & ~3;
  const noteBytes = notes.reduce((a, n) => a + 12 + align4(n.name.length + 1) + align4(n.desc.length), 0);
  const phnum = banks.length + (notes.length ? 1 : 0);
  const hdrEnd = 64 + 56 * phnum;
  const noteOff = hdrEnd;
  let dataOff = Math.ceil((noteOff + noteBytes) / FRAME_SIZE) * FRAME_SIZE;
  const total = dataOff + banks.reduce((a, b) => a + Math.ceil(b.data.length / FRAME_SIZE) * FRAME_SIZE, 0);
  const out = Buffer.alloc(total);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  out.writeUInt16LE(4, 16);
  out.writeUInt16LE(EM_AARCH64, 18);
  out.writeUInt32LE(1, 20);
  out.writeBigUInt64LE(64n, 0x20);
  out.writeUInt16LE(64, 0x34);
  out.writeUInt16LE(56, 0x36);
  out.writeUInt16LE(phnum, 0x38);
  let ph = 64;
  if (notes.length) {
    out.writeUInt32LE(PT_NOTE, ph);
    out.writeBigUInt64LE(BigInt(noteOff), ph + 8);
    out.writeBigUInt64LE(BigInt(noteBytes), ph + 32);
    ph += 56;
    let p = noteOff;
    for (const n of notes) {
      out.writeUInt32LE(n.name.length + 1, p);
      out.writeUInt32LE(n.desc.length, p + 4);
      out.writeUInt32LE(n.type, p + 8);
      out.write(n.name, p + 12, "latin1");
      p += 12 + align4(n.name.length + 1);
      out.set(n.desc, p);
      p += align4(n.desc.length);
    }
  }
  for (const b of banks) {
    out.writeUInt32LE(PT_LOAD, ph);
    out.writeUInt32LE(7, ph + 4);
    out.writeBigUInt64LE(BigInt(dataOff), ph + 8);
    out.writeBigUInt64LE(b.pa, ph + 24);
    out.writeBigUInt64LE(BigInt(b.data.length), ph + 32);
    out.writeBigUInt64LE(BigInt(b.data.length), ph + 40);
    out.set(b.data, dataOff);
    dataOff += Math.ceil(b.data.length / FRAME_SIZE) * FRAME_SIZE;
    ph += 56;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
