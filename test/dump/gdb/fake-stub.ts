/**
 * A tiny in-test gdbstub on loopback that answers like QEMU 10's: qSupported with PacketSize and
 * qXfer:features:read, qqemu.Supported with PhyMemMode, a target.xml including QEMU's
 * system-registers.xml (SCTLR_EL1 named "SCTLR"), `p` register reads in target byte order,
 * `Qqemu.PhyMemMode:1`, and `m` reads of a PhysMem (E14 where it holds nothing).
 * Faults can be injected: a corrupted checksum, a `-` for the first packet, run-length encoded
 * replies, silence.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { PhysMem } from "../../../src/mem/physmem.js";

export interface FakeStubOptions {
  readonly mem?: PhysMem;
  /** Register values by QEMU's name (TTBR1_EL1, SCTLR, ...). */
  readonly regs?: Readonly<Record<string, bigint>>;
  readonly arch?: string;
  /** Answer qqemu.Supported with PhyMemMode (default true). */
  readonly qemu?: boolean;
  /** Replies with a wrong checksum this many times before a correct one. */
  readonly corruptReplies?: number;
  /** Answer `-` to the first request. */
  readonly nackFirst?: boolean;
  /** Run-length encode replies. */
  readonly rle?: boolean;
  /** Never answer (acks only). */
  readonly silent?: boolean;
  /** Answer this instead for a request (undefined: the default answer). */
  readonly override?: (body: string) => string | undefined;
}

export interface FakeStub {
  readonly port: number;
  /** Request bodies received with a good checksum, in order. */
  readonly requests: string[];
  /** Requests whose checksum was wrong, and `-` received from the client. */
  readonly stats: { badChecksums: number; nacksReceived: number; retransmitted: number };
  /** Physical addresses of the `m` reads (start of each). */
  readonly reads: { addr: number; len: number }[];
  close(): Promise<void>;
}

function cs(data: string): string {
  let s = 0;
  for (const b of Buffer.from(data, "latin1")) s = (s + b) & 0xff;
  return s.toString(16).padStart(2, "0");
}

/** Run-length encoding as the protocol defines it: X*c repeats X (c - 29) more times. */
export function rleEncode(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; ) {
    const ch = s[i] as string;
    let run = 1;
    while (s[i + run] === ch) run++;
    i += run;
    for (let left = run; left > 0; ) {
      out += ch;
      left--;
      let r = Math.min(left, 97);
      if (r === 6 || r === 7) r = 5; // the count byte may not be '#' or '$'
      if (r >= 3) {
        out += `*${String.fromCharCode(r + 29)}`;
        left -= r;
      }
    }
  }
  return out;
}

const REGNUMS: readonly string[] = [
  "TTBR0_EL1",
  "TTBR1_EL1",
  "TCR_EL1",
  "SCTLR",
  "MAIR_EL1",
  "ID_AA64MMFR0_EL1",
  "ID_AA64MMFR1_EL1",
  "ID_AA64MMFR2_EL1",
  // Only with EL2 (-M virt,virtualization=on).
  "VTTBR_EL2",
  "VTCR_EL2",
  "HCR_EL2",
];

function leHex(v: bigint): string {
  let s = "";
  for (let i = 0; i < 8; i++)
    s += Number((v >> BigInt(8 * i)) & 0xffn)
      .toString(16)
      .padStart(2, "0");
  return s;
}

export async function startFakeStub(o: FakeStubOptions = {}): Promise<FakeStub> {
  const requests: string[] = [];
  const reads: { addr: number; len: number }[] = [];
  const stats = { badChecksums: 0, nacksReceived: 0, retransmitted: 0 };
  const regs = o.regs ?? {};
  const present = REGNUMS.filter((n) => regs[n] !== undefined);
  const sysXml = `<?xml version="1.0"?><!DOCTYPE feature SYSTEM "gdb-target.dtd"><feature name="org.qemu.gdb.arm.sys.regs"><reg name="OSLSR_EL1" bitsize="64" regnum="90" type="int" group="cp_regs"/>${present
    .map((n, i) => `<reg name="${n}" bitsize="64" regnum="${93 + i * 7}" type="int" group="cp_regs"/>`)
    .join("")}</feature>`;
  const docs: Record<string, string> = {
    "target.xml": `<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>${o.arch ?? "aarch64"}</architecture><xi:include href="aarch64-core.xml"/><xi:include href="system-registers.xml"/></target>`,
    "aarch64-core.xml": `<?xml version="1.0"?><feature name="org.gnu.gdb.aarch64.core"><reg name="x0" bitsize="64"/></feature>`,
    "system-registers.xml": sysXml,
  };
  let phys = false;
  let corrupt = o.corruptReplies ?? 0;
  let nack = o.nackFirst ?? false;

  const answer = (body: string): string | undefined => {
    const ov = o.override?.(body);
    if (ov !== undefined) return ov;
    if (body.startsWith("qSupported")) return "PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+";
    if (body === "qqemu.Supported") return (o.qemu ?? true) ? "sstepbits;sstep;PhyMemMode" : "";
    if (body === "?") return "T05thread:p01.01;";
    if (body === "Qqemu.PhyMemMode:1") {
      phys = true;
      return "OK";
    }
    if (body === "D") return "OK";
    let m = /^qXfer:features:read:([^:]+):([0-9a-f]+),([0-9a-f]+)$/.exec(body);
    if (m) {
      const doc = docs[m[1] as string];
      if (doc === undefined) return "E00";
      const off = Number.parseInt(m[2] as string, 16);
      const len = Number.parseInt(m[3] as string, 16);
      const part = doc.slice(off, off + len);
      return `${off + len >= doc.length ? "l" : "m"}${part}`;
    }
    m = /^p([0-9a-f]+)$/.exec(body);
    if (m) {
      const n = Number.parseInt(m[1] as string, 16);
      const i = (n - 93) / 7;
      const name = Number.isInteger(i) ? present[i] : undefined;
      return name !== undefined ? leHex(regs[name] ?? 0n) : "E14";
    }
    m = /^m([0-9a-f]+),([0-9a-f]+)$/.exec(body);
    if (m) {
      const addr = Number.parseInt(m[1] as string, 16);
      const len = Number.parseInt(m[2] as string, 16);
      reads.push({ addr, len });
      // Without physical-memory mode QEMU reads virtual addresses: treat as unreadable here.
      if (!phys || !o.mem) return "E14";
      for (let a = addr - (addr % 4096); a < addr + len; a += 4096) if (!o.mem.isBacked(a)) return "E14";
      return Buffer.from(o.mem.readBytes(BigInt(addr), len)).toString("hex");
    }
    return "";
  };

  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => undefined);
    let buf = "";
    let last = "";
    const send = (data: string): void => {
      if (corrupt > 0) {
        corrupt--;
        const bad = (Number.parseInt(cs(data), 16) + 1) & 0xff;
        sock.write(`$${data}#${bad.toString(16).padStart(2, "0")}`);
      } else sock.write(`$${data}#${cs(data)}`);
    };
    sock.on("data", (b: Buffer) => {
      buf += b.toString("latin1");
      for (;;) {
        if (buf.startsWith("+")) {
          buf = buf.slice(1);
          continue;
        }
        if (buf.startsWith("-")) {
          buf = buf.slice(1);
          stats.nacksReceived++;
          stats.retransmitted++;
          send(last);
          continue;
        }
        const i = buf.indexOf("$");
        if (i < 0) return;
        const end = buf.indexOf("#", i);
        if (end < 0 || buf.length < end + 3) return;
        const body = buf.slice(i + 1, end);
        const sum = buf.slice(end + 1, end + 3);
        buf = buf.slice(end + 3);
        if (sum !== cs(body)) {
          stats.badChecksums++;
          sock.write("-");
          continue;
        }
        if (nack) {
          nack = false;
          sock.write("-");
          continue;
        }
        sock.write("+");
        requests.push(body);
        if (o.silent) continue;
        const reply = answer(body);
        if (reply === undefined) continue;
        const data = o.rle ? rleEncode(reply) : reply;
        last = data;
        send(data);
      }
    });
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
  const a = server.address();
  const port = typeof a === "object" && a ? a.port : 0;
  return {
    port,
    requests,
    stats,
    reads,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
