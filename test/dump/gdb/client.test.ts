/**
 * The gdb remote protocol client against a fake gdbstub on loopback (./fake-stub.ts). Protocol
 * facts from the GDB manual, "Remote Protocol" (Overview: `$data#cs` with a modulo-256 checksum,
 * `+`/`-` acknowledgements, `}` escapes, `*` run-length encoding; Standard Replies: `E NN`).
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { checksum, decodeBody, framePacket, GdbClient, GdbError, parseGdbAddress } from "../../../src/dump/gdb/client.js";
import { type FakeStub, rleEncode, startFakeStub } from "./fake-stub.js";

let stub: FakeStub | undefined;
let client: GdbClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await stub?.close();
  stub = undefined;
});

async function connect(s: FakeStub, timeoutMs = 2000): Promise<GdbClient> {
  client = await GdbClient.connect({ host: "127.0.0.1", port: s.port }, { timeoutMs });
  return client;
}

describe("packet framing", () => {
  it("checksum is the byte sum modulo 256, two lower-case hex digits after #", () => {
    // "OK" = 0x4f + 0x4b = 0x9a: the manual's own example reply $OK#9a.
    expect(checksum(Buffer.from("OK"))).toBe(0x9a);
    expect(framePacket("qSupported").toString()).toBe("$qSupported#37");
    expect(framePacket("m0,ffffff").toString()).toMatch(/^\$m0,ffffff#[0-9a-f]{2}$/);
  });

  it("decodes run-length encoding (X*c repeats X c-29 more times) and } escapes (byte XOR 0x20)", () => {
    expect(decodeBody(Buffer.from("0* ")).toString()).toBe("0000"); // ' ' = 32: 3 more
    expect(decodeBody(Buffer.from('a*"b')).toString()).toBe("aaaaaab"); // '"' = 34: 5 more
    expect(decodeBody(Buffer.from("x}\x03y")).toString()).toBe("x#y"); // 0x03 ^ 0x20 = '#'
    expect(() => decodeBody(Buffer.from("*!"))).toThrow(GdbError); // nothing to repeat
    expect(() => decodeBody(Buffer.from("a}"))).toThrow(GdbError);
    // The fake stub's encoder round-trips through the decoder.
    const s = `${"0".repeat(200)}12${"f".repeat(7)}3${"e".repeat(8)}`;
    expect(rleEncode(s).length).toBeLessThan(s.length);
    expect(decodeBody(Buffer.from(rleEncode(s))).toString()).toBe(s);
  });

  it("rejects requests that would need escaping", () => {
    expect(() => framePacket("m$1")).toThrow(GdbError);
  });
});

describe("HOST:PORT", () => {
  it("accepts host:port, a bare port and [v6]:port; rejects anything else with one line", () => {
    expect(parseGdbAddress("127.0.0.1:1234")).toEqual({ host: "127.0.0.1", port: 1234 });
    expect(parseGdbAddress("1234")).toEqual({ host: "127.0.0.1", port: 1234 });
    expect(parseGdbAddress("localhost:1")).toEqual({ host: "localhost", port: 1 });
    expect(parseGdbAddress("[::1]:9")).toEqual({ host: "::1", port: 9 });
    for (const bad of ["", "host", "host:", "host:0", "host:65536", "host:12x", "a b:1"]) {
      expect(() => parseGdbAddress(bad), bad).toThrow(/expected HOST:PORT/);
    }
  });
});

describe("requests and replies over TCP", () => {
  it("qSupported: checksums the stub accepts, acks, and PacketSize recorded", async () => {
    stub = await startFakeStub();
    const c = await connect(stub);
    const f = await c.supported();
    expect(f.get("qXfer:features:read")).toBe(true);
    expect(c.packetSize).toBe(0x1000);
    expect(stub.requests[0]).toMatch(/^qSupported/);
    expect(stub.stats.badChecksums).toBe(0);
  });

  it("run-length encoded replies are decoded (a zero page reads as zeros)", async () => {
    const { PhysMem } = await import("../../../src/mem/physmem.js");
    const mem = new PhysMem();
    mem.write64(0x1008n, 0x1122334455667788n);
    stub = await startFakeStub({ rle: true, mem });
    const c = await connect(stub);
    expect(await c.request("Qqemu.PhyMemMode:1")).toBe("OK");
    const bytes = await c.readMemory(0x1000, 32);
    expect(Buffer.from(bytes ?? []).toString("hex")).toBe(`${"00".repeat(8)}8877665544332211${"00".repeat(16)}`);
  });

  it("a reply with a bad checksum is answered with - and the stub's retransmission is used", async () => {
    stub = await startFakeStub({ corruptReplies: 2 });
    const c = await connect(stub);
    expect(await c.request("?")).toBe("T05thread:p01.01;");
    expect(stub.stats.nacksReceived).toBe(2);
  });

  it("a request the stub answers with - is sent again", async () => {
    stub = await startFakeStub({ nackFirst: true });
    const c = await connect(stub);
    expect(await c.request("qqemu.Supported")).toContain("PhyMemMode");
    expect(stub.stats.badChecksums).toBe(0);
    expect(stub.requests).toEqual(["qqemu.Supported"]); // counted once, after the resend
  });

  it("an E NN reply to a memory read is unreadable memory (undefined), not an exception", async () => {
    stub = await startFakeStub();
    const c = await connect(stub);
    expect(await c.readMemory(0x40000000, 8)).toBeUndefined();
    expect(await c.request("p7777")).toBe("E14");
  });

  it("requests are serialised: concurrent calls get their own replies in order", async () => {
    stub = await startFakeStub();
    const c = await connect(stub);
    const [a, b, d] = await Promise.all([c.request("?"), c.request("qqemu.Supported"), c.request("D")]);
    expect([a, b, d]).toEqual(["T05thread:p01.01;", "sstepbits;sstep;PhyMemMode", "OK"]);
  });

  it("a stub that never answers gives a timeout error naming the request, not a hang", async () => {
    stub = await startFakeStub({ silent: true });
    const c = await connect(stub, 150);
    const e = await c.request("qSupported").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GdbError);
    expect((e as GdbError).code).toBe("EGDB_TIMEOUT");
    expect((e as GdbError).message).toMatch(/no reply to "qSupported" within 150 ms/);
    // The connection is unusable afterwards: later requests fail at once with the same error.
    await expect(c.request("?")).rejects.toThrow(/no reply/);
  });

  it("connection refused is one GdbError line naming HOST:PORT", async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const a = srv.address();
    const port = typeof a === "object" && a ? a.port : 0;
    await new Promise<void>((r) => srv.close(() => r()));
    const e = await GdbClient.connect({ host: "127.0.0.1", port }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GdbError);
    expect((e as GdbError).code).toBe("EGDB_CONNECT");
    expect((e as GdbError).message).toBe(
      `gdbstub 127.0.0.1:${port}: connection refused (is QEMU running with -gdb tcp::PORT, and no other debugger attached?)`,
    );
  });

  it("a stub that closes the connection fails the pending request", async () => {
    stub = await startFakeStub({ silent: true });
    const c = await connect(stub);
    const p = c.request("?");
    await stub.close();
    stub = undefined;
    await expect(p).rejects.toThrow(/closed the connection/);
  });

  it("qXfer reads a document in PacketSize pieces until the l reply", async () => {
    stub = await startFakeStub({ regs: { TTBR1_EL1: 1n, TCR_EL1: 2n } });
    const c = await connect(stub);
    c.packetSize = 0x120; // force several pieces
    const x = await c.xfer("features", "system-registers.xml");
    expect(x).toMatch(/^<\?xml/);
    expect(x).toMatch(/<\/feature>$/);
    expect(stub.requests.filter((r) => r.startsWith("qXfer")).length).toBeGreaterThan(1);
  });
});
