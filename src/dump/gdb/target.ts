/**
 * A live QEMU guest through its gdbstub: the EL1 translation registers from QEMU's system-register
 * target description (feature org.qemu.gdb.arm.sys.regs, fetched with qXfer:features:read; QEMU
 * names SCTLR_EL1 "SCTLR"), and physical memory read on demand in QEMU's physical-memory mode
 * (`Qqemu.PhyMemMode:1`, advertised as `PhyMemMode` in qqemu.Supported).
 *
 * The walkers are synchronous and the socket is not, so the translation tables a command will
 * touch are fetched first, breadth first, into a PhysMem: from each half's root, every table
 * descriptor's next-level table (each distinct table once), or only the path of given VAs. A table
 * that cannot be read stays absent, so the walk reports it as missing data, never as unmapped.
 * QEMU stops the vCPUs while a debugger is attached; `close` detaches and the guest runs on.
 */
import { addressOf, ENTRY_TABLE, entryKindOf } from "../../arch/descriptor.js";
import { FRAME_SIZE, type PhysMem } from "../../mem/physmem.js";
import type { HalfContext } from "../../walk/context.js";
import type { RegName, SourcedRegs } from "../regfile.js";
import { type ClientOptions, type GdbAddress, GdbClient, GdbError } from "./client.js";

/** QEMU's names in system-registers.xml for the registers vmsa reads. */
const QEMU_REG_NAMES: Record<RegName, readonly string[]> = {
  TTBR0_EL1: ["TTBR0_EL1"],
  TTBR1_EL1: ["TTBR1_EL1"],
  TCR_EL1: ["TCR_EL1"],
  MAIR_EL1: ["MAIR_EL1"],
  SCTLR_EL1: ["SCTLR_EL1", "SCTLR"],
  ID_AA64MMFR0_EL1: ["ID_AA64MMFR0_EL1"],
  ID_AA64MMFR1_EL1: ["ID_AA64MMFR1_EL1"],
  ID_AA64MMFR2_EL1: ["ID_AA64MMFR2_EL1"],
  // Present only on a vCPU with FEAT_TCR2 / S1PIE / S1POE (QEMU -cpu max >= 10.2).
  TCR2_EL1: ["TCR2_EL1"],
  PIR_EL1: ["PIR_EL1"],
  PIRE0_EL1: ["PIRE0_EL1"],
  POR_EL1: ["POR_EL1"],
  POR_EL0: ["POR_EL0"],
  ID_AA64MMFR3_EL1: ["ID_AA64MMFR3_EL1"],
  // Present only when the vCPU has EL2 (-M virt,virtualization=on).
  VTTBR_EL2: ["VTTBR_EL2"],
  VTCR_EL2: ["VTCR_EL2"],
  HCR_EL2: ["HCR_EL2"],
  S2PIR_EL2: ["S2PIR_EL2"],
  S2POR_EL1: ["S2POR_EL1"],
};

/** `<reg name=… bitsize=… regnum=…>` entries of a target description. */
export function parseTargetRegs(xml: string): Map<string, { regnum: number; bitsize: number }> {
  const out = new Map<string, { regnum: number; bitsize: number }>();
  for (const m of xml.matchAll(/<reg\s([^>]*)>/g)) {
    const attrs = m[1] ?? "";
    const name = /\bname="([^"]+)"/.exec(attrs)?.[1];
    const regnum = /\bregnum="(\d+)"/.exec(attrs)?.[1];
    const bitsize = /\bbitsize="(\d+)"/.exec(attrs)?.[1];
    if (name && regnum && bitsize) out.set(name, { regnum: Number(regnum), bitsize: Number(bitsize) });
  }
  return out;
}

/** A register value from a `p` reply: target byte order (little-endian for AArch64). */
export function parseRegReply(hex: string): bigint | undefined {
  if (!/^([0-9a-fA-F]{2}){1,8}$/.test(hex)) return undefined;
  let v = 0n;
  for (let i = hex.length - 2; i >= 0; i -= 2) v = (v << 8n) | BigInt(Number.parseInt(hex.slice(i, i + 2), 16));
  return v;
}

export interface FetchStats {
  /** Distinct table pages read (each table's whole granule once). */
  tables: number;
  /** Tables whose read failed (left absent: missing data for the walk). */
  unreadable: number;
  bytes: number;
}

/** An attached QEMU gdbstub in physical-memory mode. */
export class GdbTarget {
  readonly stats: FetchStats = { tables: 0, unreadable: 0, bytes: 0 };
  private readonly fetched = new Set<number>();

  private constructor(
    readonly client: GdbClient,
    readonly regs: SourcedRegs,
    readonly description: string,
  ) {}

  /**
   * Attach: check the target is an AArch64 QEMU with system registers and physical-memory mode,
   * read the registers, switch memory reads to physical addresses.
   */
  static async open(addr: GdbAddress, opts: ClientOptions = {}): Promise<GdbTarget> {
    const c = await GdbClient.connect(addr, opts);
    try {
      const feat = await c.supported();
      if (feat.get("qXfer:features:read") !== true) {
        throw new GdbError("EGDB_TARGET", `gdbstub ${c.where}: no target description (qXfer:features:read): not a QEMU gdbstub?`);
      }
      const qemu = await c.request("qqemu.Supported");
      if (!qemu.split(";").includes("PhyMemMode")) {
        throw new GdbError("EGDB_TARGET", `gdbstub ${c.where}: not QEMU (no qqemu.Supported PhyMemMode: physical memory cannot be read)`);
      }
      const top = await c.xfer("features", "target.xml");
      const arch = /<architecture>([^<]*)<\/architecture>/.exec(top)?.[1];
      if (arch !== "aarch64") {
        throw new GdbError(
          "EGDB_TARGET",
          `gdbstub ${c.where}: the target is ${arch ?? "of unknown architecture"}, not aarch64 (an AArch32 guest or another QEMU)`,
        );
      }
      let xml = top;
      for (const m of top.matchAll(/<xi:include\s+href="([^"]+)"/g)) {
        const href = m[1] ?? "";
        // The system registers live in QEMU's own feature; the core, FP/SVE and pauth ones are not needed.
        if (/system|sysreg/i.test(href)) xml += await c.xfer("features", href);
      }
      const table = parseTargetRegs(xml);
      const values: Partial<Record<RegName, bigint>> = {};
      const sources: Partial<Record<RegName, string>> = {};
      for (const [name, aliases] of Object.entries(QEMU_REG_NAMES) as [RegName, readonly string[]][]) {
        const qname = aliases.find((a) => table.has(a));
        const r = qname ? table.get(qname) : undefined;
        if (!qname || !r) continue;
        const reply = await c.request(`p${r.regnum.toString(16)}`);
        const v = parseRegReply(reply);
        if (v === undefined)
          throw new GdbError(
            "EGDB_PROTOCOL",
            `gdbstub ${c.where}: register ${qname} (regnum ${r.regnum}): unexpected reply "${reply.slice(0, 40)}"`,
          );
        values[name] = v;
        sources[name] = `gdbstub ${c.where} ${qname} (regnum ${r.regnum})`;
      }
      for (const need of ["TTBR1_EL1", "TCR_EL1"] as const) {
        if (values[need] === undefined) {
          throw new GdbError(
            "EGDB_TARGET",
            `gdbstub ${c.where}: the target description has no ${need} (QEMU without system registers in its gdbstub?)`,
          );
        }
      }
      const ok = await c.request("Qqemu.PhyMemMode:1");
      if (ok !== "OK") throw new GdbError("EGDB_TARGET", `gdbstub ${c.where}: physical-memory mode refused (${ok || "not supported"})`);
      return new GdbTarget(c, { values, sources }, `live QEMU gdbstub ${c.where} (physical memory, read on demand)`);
    } catch (e) {
      c.close();
      throw e;
    }
  }

  /**
   * Read the table at `pa` (`size` bytes, at most a granule) into `mem` unless already there. The
   * 4 KiB frames holding it are read whole. Returns false when the stub cannot read it.
   */
  async fetchTable(mem: PhysMem, pa: number, size: number): Promise<boolean> {
    const first = Math.floor(pa / FRAME_SIZE) * FRAME_SIZE;
    const end = Math.ceil((pa + size) / FRAME_SIZE) * FRAME_SIZE;
    if (this.fetched.has(first)) return mem.isBacked(first);
    this.fetched.add(first);
    const bytes = await this.client.readMemory(first, end - first);
    if (!bytes) {
      this.stats.unreadable++;
      return false;
    }
    mem.writeBytes(BigInt(first), bytes);
    this.stats.tables++;
    this.stats.bytes += bytes.length;
    return true;
  }

  /**
   * Fetch the tables of one half reachable from its root, breadth first, each distinct table
   * once; with `vas`, only the tables on the walk paths of those VAs. Stops at `maxTables`
   * (what is not fetched stays missing). Returns whether the limit was reached.
   */
  async prefetchHalf(mem: PhysMem, h: HalfContext, opts: { vas?: readonly bigint[]; maxTables?: number } = {}): Promise<boolean> {
    if (h.epd || h.tnszFault || h.baseFault) return false;
    const max = opts.maxTables ?? 1 << 20;
    const fmt = h.fmt;
    const rootSize = 8 * 2 ** (h.bitsAt[h.startLevel + 1] ?? 0);
    let level = h.startLevel;
    // Each queued table with the VAs (offsets into the half) whose paths go through it, if any.
    let queue: { pa: number; vas: number[] | undefined }[] = [
      { pa: h.base, vas: opts.vas?.map((v) => Number(BigInt.asUintN(h.iaBits, v))) },
    ];
    let size = rootSize;
    const seen = new Set<number>([h.base]);
    let count = 0;
    while (queue.length > 0 && level <= 3) {
      const next: { pa: number; vas: number[] | undefined }[] = [];
      const byPa = new Map<number, number[] | undefined>();
      for (const t of queue) {
        if (count >= max) return true;
        count++;
        if (!(await this.fetchTable(mem, t.pa, size))) continue;
        if (level === 3) continue;
        const frame = mem.readBytes(BigInt(t.pa), size);
        const words = new Uint32Array(frame.buffer, frame.byteOffset, size / 4);
        const shift = h.shiftAt[level + 1] ?? 0;
        const indices = t.vas ? [...new Set(t.vas.map((v) => Math.floor(v / 2 ** shift) % (size / 8)))] : undefined;
        const n = size / 8;
        for (let k = 0; k < (indices ? indices.length : n); k++) {
          const i = indices ? (indices[k] as number) : k;
          const lo = words[2 * i] as number;
          const hi = words[2 * i + 1] as number;
          if (entryKindOf(fmt, lo, level) !== ENTRY_TABLE) continue;
          const pa = addressOf(fmt, hi, lo, h.gShift);
          if (pa >= h.paLimit) continue; // an Address size fault, not a memory read
          const vas = t.vas?.filter((v) => Math.floor(v / 2 ** shift) % n === i);
          if (seen.has(pa)) {
            const prev = byPa.get(pa);
            if (prev && vas) prev.push(...vas);
            continue;
          }
          seen.add(pa);
          byPa.set(pa, vas);
          next.push({ pa, vas });
        }
      }
      queue = next;
      size = h.granule.size;
      level++;
    }
    return false;
  }

  /** Detach: QEMU resumes the guest. */
  async close(): Promise<void> {
    await this.client.detach();
  }
}
