/**
 * ELF core files as physical memory, read through a RandomAccess (no Node APIs: the CLI's
 * ./elfcore.ts gives it a file descriptor, the browser UI's worker a `File`): QEMU
 * `dump-guest-memory` (ELF format) and Linux kdump `/proc/vmcore` copies. Each PT_LOAD segment's p_paddr..p_paddr+p_memsz becomes a bank (bytes
 * past p_filesz read as zero); PT_NOTE segments yield the notes (VMCOREINFO, NT_PRSTATUS, ...).
 *
 * Other formats met here (kdump-compressed files and flattened streams, read by ./diskdump/ when
 * given directly but not inside gzip; xz/zstd/bzip2 files) and truncated files are refused with an
 * error naming the offset.
 */
import { VmsaError } from "../arch/errors.js";
import { addAccessFrames, type FileExtent } from "../mem/access-frames.js";
import { FRAME_SIZE, PA_LIMIT, type PhysMem } from "../mem/physmem.js";
import { bytesAccess, latin1, type RandomAccess } from "../mem/random-access.js";

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

/** Bytes [pos, pos+len) of `ra`; EDUMP_TRUNCATED naming `what` when they are past its end. */
export function readRange(ra: RandomAccess, pos: number, len: number, what: string): Uint8Array {
  if (pos + len > ra.size) throw truncated(ra.name, ra.size, pos, len, what);
  const b = new Uint8Array(len);
  let got: number;
  try {
    got = ra.readInto(pos, b, 0, len);
  } catch (e) {
    throw new DumpFormatError("EDUMP_READ", `${ra.name}: cannot read offset 0x${pos.toString(16)} (${what}): ${(e as Error).message}`);
  }
  if (got < len) throw new DumpFormatError("EDUMP_TRUNCATED", `${ra.name}: short read at offset 0x${(pos + got).toString(16)} (${what})`);
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
    let name = latin1(buf.subarray(nameStart, nameStart + namesz));
    name = name.replace(/\0+$/, "");
    out.push({ name, type, desc: buf.subarray(descStart, descStart + descsz), offset: baseOffset + p });
    p = end;
  }
  return out;
}

/** Read an ELF core's headers and notes (not the memory). */
export function readElfCoreFrom(ra: RandomAccess): ElfCore {
  return parseElfHeaders(ra);
}

/** An ELF core held in memory (e.g. a decompressed .gz): headers and notes, checked as for a file. */
export function parseElfCoreBytes(bytes: Uint8Array, file: string): ElfCore {
  return parseElfHeaders(bytesAccess(bytes, file));
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function parseElfHeaders(ra: RandomAccess): ElfCore {
  const file = ra.name;
  const size = ra.size;
  const read = (pos: number, len: number, what: string): Uint8Array => readRange(ra, pos, len, what);
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
  const ev = view(eh);
  const type = ev.getUint16(16, true);
  // ET_EXEC (2): a loadable image such as `vmsa boot --export-image`'s tables.elf (PT_LOAD at p_paddr).
  if (type !== 4 && type !== 2) {
    throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 0x10 (e_type): expected ET_CORE (4) or ET_EXEC (2), got ${type}`);
  }
  const machine = ev.getUint16(18, true);
  if (machine !== EM_AARCH64) {
    throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 0x12 (e_machine): expected EM_AARCH64 (183), got ${machine}`);
  }
  const phoff = Number(ev.getBigUint64(0x20, true));
  const shoff = Number(ev.getBigUint64(0x28, true));
  const phentsize = ev.getUint16(0x36, true);
  let phnum = ev.getUint16(0x38, true);
  if (phentsize < 56)
    throw new DumpFormatError("EDUMP_FORMAT", `${file}: offset 0x36 (e_phentsize): expected at least 56, got ${phentsize}`);
  if (phnum === PN_XNUM) {
    // More than 65534 segments: the real count is section header 0's sh_info.
    const sh = read(shoff, 64, "section header 0 (PN_XNUM segment count)");
    phnum = view(sh).getUint32(0x2c, true);
  }
  const ph = read(phoff, phnum * phentsize, `the ${phnum} program headers`);
  const pv = view(ph);
  const segments: LoadSegment[] = [];
  const notes: ElfNote[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    const pType = pv.getUint32(o, true);
    const offset = Number(pv.getBigUint64(o + 8, true));
    const vaddr = pv.getBigUint64(o + 16, true);
    const paddr = pv.getBigUint64(o + 24, true);
    const filesz = Number(pv.getBigUint64(o + 32, true));
    const memsz = Number(pv.getBigUint64(o + 40, true));
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
 * Add every PT_LOAD segment of the ELF core `ra` to `mem`. Segments at 4 KiB aligned addresses are
 * read on demand (indexed now, a frame read when a walk touches it); a segment at an unaligned
 * address is read whole now. `kept`: `ra` now serves frames on demand and must stay open; else
 * the caller may close it.
 */
export function loadElfCoreFrom(mem: PhysMem, ra: RandomAccess, progress?: LoadProgress): { core: ElfCore; kept: boolean } {
  const file = ra.name;
  const core = parseElfHeaders(ra);
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
        mem.writeBytes(s.paddr + BigInt(off), readRange(ra, s.offset + off, n, `PT_LOAD #${s.index}`));
        off += n;
        done += n;
        progress?.(done, total);
      }
    }
    if (s.memsz > s.filesz) mem.addRam(s.paddr + BigInt(s.filesz), BigInt(s.memsz - s.filesz));
  }
  progress?.(total, total);
  if (extents.length === 0) return { core, kept: false };
  addAccessFrames(mem, ra, extents);
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
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 4, true);
  v.setUint16(18, EM_AARCH64, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(0x20, 64n, true);
  v.setUint16(0x34, 64, true);
  v.setUint16(0x36, 56, true);
  v.setUint16(0x38, phnum, true);
  let ph = 64;
  if (notes.length) {
    v.setUint32(ph, PT_NOTE, true);
    v.setBigUint64(ph + 8, BigInt(noteOff), true);
    v.setBigUint64(ph + 32, BigInt(noteBytes), true);
    ph += 56;
    let p = noteOff;
    for (const n of notes) {
      v.setUint32(p, n.name.length + 1, true);
      v.setUint32(p + 4, n.desc.length, true);
      v.setUint32(p + 8, n.type, true);
      for (let i = 0; i < n.name.length; i++) out[p + 12 + i] = n.name.charCodeAt(i) & 0xff;
      p += 12 + align4(n.name.length + 1);
      out.set(n.desc, p);
      p += align4(n.desc.length);
    }
  }
  for (const b of banks) {
    v.setUint32(ph, PT_LOAD, true);
    v.setUint32(ph + 4, 7, true);
    v.setBigUint64(ph + 8, BigInt(dataOff), true);
    v.setBigUint64(ph + 24, b.pa, true);
    v.setBigUint64(ph + 32, BigInt(b.data.length), true);
    v.setBigUint64(ph + 40, BigInt(b.data.length), true);
    out.set(b.data, dataOff);
    dataOff += Math.ceil(b.data.length / FRAME_SIZE) * FRAME_SIZE;
    ph += 56;
  }
  return out;
}
