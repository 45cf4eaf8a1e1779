/**
 * A small client for the gdb remote serial protocol (RSP) over TCP, enough to read registers and
 * memory from QEMU's gdbstub: packets `$data#cs` (checksum = sum of the data bytes mod 256, two
 * hex digits), `+`/`-` acknowledgements with retransmission, run-length decoded replies (`X*n`
 * repeats X n-29 more times), `}`-escaped bytes, `E NN` error replies, qSupported's PacketSize,
 * and one request at a time (the protocol allows no more without non-stop mode).
 *
 * No npm package implements the client side of the protocol (cdt-gdb-adapter drives a gdb binary
 * through MI), so this is our own.
 */
import { Socket } from "node:net";
import { VmsaError } from "../../arch/errors.js";

export type GdbErrorCode = "EGDB_CONNECT" | "EGDB_TIMEOUT" | "EGDB_PROTOCOL" | "EGDB_CLOSED" | "EGDB_TARGET" | "EGDB_ADDRESS";

/** A failure talking to a gdbstub (connection, timeout, protocol, wrong target). */
export class GdbError extends VmsaError {
  /** A stub that did not answer in time: a time limit reached, so inconclusive (exit 3), not bad input. */
  readonly inconclusive: boolean;
  constructor(code: GdbErrorCode, message: string) {
    super(code, message);
    this.name = "GdbError";
    this.inconclusive = code === "EGDB_TIMEOUT";
  }
}

/** `HOST:PORT` (a bare PORT means 127.0.0.1; an IPv6 host in brackets). */
export interface GdbAddress {
  readonly host: string;
  readonly port: number;
}

export function parseGdbAddress(text: string): GdbAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new GdbError(
      "EGDB_CONNECT",
      `--gdb "${text}": expected HOST:PORT of a QEMU gdbstub (e.g. 127.0.0.1:1234, from qemu -gdb tcp::1234)`,
    );
  }
  const host = m[1] || m[2] || "127.0.0.1";
  return { host, port };
}

export function formatAddress(a: GdbAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Checksum of a packet body: the sum of its bytes modulo 256. */
export function checksum(body: Uint8Array): number {
  let s = 0;
  for (const b of body) s = (s + b) & 0xff;
  return s;
}

/** The bytes of `$body#cs` for a request (no escaping needed for the ASCII requests we send). */
export function framePacket(body: string): Buffer {
  const data = Buffer.from(body, "latin1");
  for (const b of data) {
    if (b === 0x24 || b === 0x23 || b === 0x7d || b === 0x2a) throw new GdbError("EGDB_PROTOCOL", `request "${body}" needs escaping`);
  }
  return Buffer.concat([Buffer.from("$"), data, Buffer.from(`#${checksum(data).toString(16).padStart(2, "0")}`)]);
}

/**
 * Decode a reply body as received between `$` and `#`: `}` escapes the next byte (XOR 0x20) and
 * `*` repeats the previous byte (count byte - 29) more times.
 */
export function decodeBody(raw: Uint8Array): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    if (b === 0x7d) {
      const n = raw[++i];
      if (n === undefined) throw new GdbError("EGDB_PROTOCOL", "reply ends inside an escape");
      out.push(n ^ 0x20);
    } else if (b === 0x2a) {
      const prev = out[out.length - 1];
      const c = raw[++i];
      if (prev === undefined || c === undefined || c < 29 + 3)
        throw new GdbError("EGDB_PROTOCOL", "malformed run-length encoding in a reply");
      for (let k = 0; k < c - 29; k++) out.push(prev);
    } else out.push(b);
  }
  return Buffer.from(out);
}

export interface ClientOptions {
  /** Milliseconds to wait for the connection and for each reply (default 5000). */
  readonly timeoutMs?: number;
}

/** How often a packet is resent after a `-` (or a bad checksum is answered with `-`). */
const RETRIES = 3;

/** One connection to a gdbstub; requests are serialised. */
export class GdbClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (s: Buffer) => void; reject: (e: Error) => void; packet: Buffer; tries: number } | undefined;
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private badReplies = 0;
  /** Largest packet the stub accepts (qSupported PacketSize), once known. */
  packetSize = 0x400;
  /** Packets sent and reply bytes received, for figures. */
  packets = 0;
  bytesIn = 0;

  private constructor(
    private readonly sock: Socket,
    readonly where: string,
    private readonly timeoutMs: number,
  ) {
    sock.on("data", (b: Buffer) => {
      this.bytesIn += b.length;
      this.buf = Buffer.concat([this.buf, b]);
      this.pump();
    });
    sock.on("error", (e) => this.fail(new GdbError("EGDB_CLOSED", `gdbstub ${where}: ${e.message}`)));
    sock.on("close", () => this.fail(new GdbError("EGDB_CLOSED", `gdbstub ${where} closed the connection`)));
  }

  /** Connect to HOST:PORT; connection refused, unknown host and timeout are one-line GdbErrors. */
  static connect(addr: GdbAddress, opts: ClientOptions = {}): Promise<GdbClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const where = formatAddress(addr);
    return new Promise((resolve, reject) => {
      const sock = new Socket();
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new GdbError("EGDB_TIMEOUT", `gdbstub ${where}: no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        sock.destroy();
        const why =
          e.code === "ECONNREFUSED"
            ? "connection refused (is QEMU running with -gdb tcp::PORT, and no other debugger attached?)"
            : e.code === "ENOTFOUND" || e.code === "EAI_AGAIN"
              ? "unknown host"
              : e.message;
        reject(new GdbError("EGDB_CONNECT", `gdbstub ${where}: ${why}`));
      });
      sock.connect(addr.port, addr.host, () => {
        clearTimeout(timer);
        sock.removeAllListeners("error");
        sock.setNoDelay(true);
        resolve(new GdbClient(sock, where, timeoutMs));
      });
    });
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(e);
  }

  /** Consume acks and complete packets from the input buffer. */
  private pump(): void {
    for (;;) {
      const w = this.waiting;
      if (this.buf.length === 0) return;
      const c = this.buf[0] as number;
      if (c === 0x2b /* + */) {
        this.buf = this.buf.subarray(1);
        continue;
      }
      if (c === 0x2d /* - */) {
        this.buf = this.buf.subarray(1);
        if (w) {
          if (++w.tries > RETRIES) this.fail(new GdbError("EGDB_PROTOCOL", `gdbstub ${this.where} rejected a packet ${RETRIES} times`));
          else this.sock.write(w.packet);
        }
        continue;
      }
      if (c !== 0x24 /* $ */ && c !== 0x25 /* % notification */) {
        this.buf = this.buf.subarray(1); // noise between packets (e.g. a Ctrl-C echo)
        continue;
      }
      const end = this.buf.indexOf(0x23 /* # */);
      if (end < 0 || this.buf.length < end + 3) return;
      const body = this.buf.subarray(1, end);
      const cs = Number.parseInt(this.buf.subarray(end + 1, end + 3).toString("latin1"), 16);
      this.buf = this.buf.subarray(end + 3);
      if (c === 0x25) continue; // asynchronous notifications are not used here
      if (cs !== checksum(body)) {
        if (++this.badReplies > RETRIES) {
          this.fail(new GdbError("EGDB_PROTOCOL", `gdbstub ${this.where}: ${RETRIES} replies with a bad checksum`));
          return;
        }
        this.sock.write("-");
        continue;
      }
      this.badReplies = 0;
      this.sock.write("+");
      if (!w) continue; // an unsolicited packet (e.g. a stop reply after detach)
      let decoded: Buffer;
      try {
        decoded = decodeBody(body);
      } catch (e) {
        this.fail(e as Error);
        return;
      }
      // Console output (`O` + hex) may precede a reply while the target runs; skip it.
      if (decoded.length > 1 && decoded[0] === 0x4f && /^O[0-9a-fA-F]+$/.test(decoded.toString("latin1"))) continue;
      this.waiting = undefined;
      w.resolve(decoded);
    }
  }

  /** Send one request and return the decoded reply body (bytes); requests are queued, one at a time. */
  requestBytes(body: string): Promise<Buffer> {
    const run = async (): Promise<Buffer> => {
      if (this.failure) throw this.failure;
      const packet = framePacket(body);
      this.packets++;
      return new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => {
          const e = new GdbError("EGDB_TIMEOUT", `gdbstub ${this.where}: no reply to "${body.slice(0, 40)}" within ${this.timeoutMs} ms`);
          this.fail(e);
          this.sock.destroy();
        }, this.timeoutMs);
        this.waiting = {
          resolve: (s) => {
            clearTimeout(timer);
            resolve(s);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
          packet,
          tries: 0,
        };
        this.sock.write(packet);
        this.pump();
      });
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** A request whose reply is text. */
  async request(body: string): Promise<string> {
    return (await this.requestBytes(body)).toString("latin1");
  }

  /** qSupported: the stub's features; records PacketSize. */
  async supported(features = "qSupported:xmlRegisters=aarch64"): Promise<Map<string, string | boolean>> {
    const r = await this.request(features);
    const out = new Map<string, string | boolean>();
    for (const f of r.split(";")) {
      if (!f) continue;
      const eq = f.indexOf("=");
      if (eq > 0) out.set(f.slice(0, eq), f.slice(eq + 1));
      else out.set(f.replace(/[+-]$/, ""), f.endsWith("+"));
    }
    const ps = out.get("PacketSize");
    if (typeof ps === "string" && /^[0-9a-fA-F]+$/.test(ps)) this.packetSize = Number.parseInt(ps, 16);
    return out;
  }

  /** Read a whole qXfer object (e.g. features/target.xml) in PacketSize pieces. */
  async xfer(object: string, annex: string): Promise<string> {
    let out = "";
    const chunk = Math.max(0x100, this.packetSize - 16);
    for (let guard = 0; guard < 4096; guard++) {
      const r = await this.request(`qXfer:${object}:read:${annex}:${out.length.toString(16)},${chunk.toString(16)}`);
      if (r === "" || isError(r))
        throw new GdbError("EGDB_TARGET", `gdbstub ${this.where}: cannot read ${object} "${annex}" (${r || "not supported"})`);
      const kind = r[0];
      if (kind !== "m" && kind !== "l")
        throw new GdbError("EGDB_PROTOCOL", `gdbstub ${this.where}: unexpected qXfer reply "${r.slice(0, 40)}"`);
      out += r.slice(1);
      if (kind === "l") return out;
    }
    throw new GdbError("EGDB_PROTOCOL", `gdbstub ${this.where}: ${object} "${annex}" does not end`);
  }

  /**
   * Read memory at `addr`: the bytes, or undefined when the stub answers an error (the address is
   * not readable). Reads are split to fit PacketSize (two hex digits per byte).
   */
  async readMemory(addr: number, length: number): Promise<Uint8Array | undefined> {
    const out = new Uint8Array(length);
    const max = Math.max(16, Math.floor((this.packetSize - 8) / 2) & ~7);
    for (let off = 0; off < length; ) {
      const n = Math.min(max, length - off);
      const r = await this.request(`m${(addr + off).toString(16)},${n.toString(16)}`);
      if (isError(r) || r.length === 0) return undefined;
      if (r.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(r))
        throw new GdbError("EGDB_PROTOCOL", `gdbstub ${this.where}: malformed memory reply at 0x${(addr + off).toString(16)}`);
      const got = Buffer.from(r, "hex");
      out.set(got.subarray(0, n), off);
      if (got.length === 0) return undefined;
      off += Math.min(n, got.length); // a short read continues where it stopped
    }
    return out;
  }

  /** Detach (the target resumes) and close; errors while closing are ignored. */
  async detach(): Promise<void> {
    if (!this.failure) {
      try {
        await this.request("D");
      } catch {
        // already gone: nothing to resume
      }
    }
    this.close();
  }

  close(): void {
    this.sock.destroy();
  }
}

/** `E NN` (or `E.message`) error replies. */
export function isError(reply: string): boolean {
  return /^E([0-9a-fA-F]{2}|\..*)$/.test(reply);
}
