/**
 * `vmsa serve`'s server: loopback by default, only the built UI and the named files, and no
 * answer to a foreign Host header (DNS rebinding: a page on evil.example resolving to 127.0.0.1
 * must not read the user's dump).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseServedFile, type RunningServer, startServer } from "../../src/cli/serve.js";

function get(
  port: number,
  path: string,
  host: string | undefined,
  method = "GET",
  extra: Record<string, string> = {},
): Promise<{ status: number; body: string; type: string; range: string }> {
  return new Promise((resolve, reject) => {
    const headers = host === undefined ? { ...extra } : { host, ...extra };
    const req = request({ host: "127.0.0.1", port, path, method, headers, setHost: host !== undefined }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          type: String(res.headers["content-type"] ?? ""),
          range: String(res.headers["content-range"] ?? ""),
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("vmsa serve", () => {
  let dir: string;
  let s: RunningServer;
  let host: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vmsa-serve-"));
    mkdirSync(join(dir, "ui"));
    writeFileSync(join(dir, "ui/index.html"), "<!doctype html><title>ui</title>");
    writeFileSync(join(dir, "secret.txt"), "not served");
    // Byte i is "a" + i % 26: a range's bytes say where they came from.
    writeFileSync(join(dir, "ram.bin"), Buffer.from(Array.from({ length: 8192 }, (_, i) => 97 + (i % 26))));
    const files = [parseServedFile(`${join(dir, "ram.bin")}@0x40000000`)];
    s = await startServer({ host: "127.0.0.1", port: 0, uiDir: join(dir, "ui"), files });
    host = `127.0.0.1:${s.port}`;
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("binds loopback and serves the UI", async () => {
    expect(s.server.address()).toMatchObject({ address: "127.0.0.1" });
    const r = await get(s.port, "/", host);
    expect(r.status).toBe(200);
    expect(r.type).toContain("text/html");
    expect((await get(s.port, "/", `localhost:${s.port}`)).status).toBe(200);
  });

  it("rejects a foreign or missing Host header", async () => {
    expect((await get(s.port, "/", `evil.example:${s.port}`)).status).toBe(403);
    expect((await get(s.port, "/files/index.json", "evil.example")).status).toBe(403);
    // Right name, wrong port: a different origin.
    expect((await get(s.port, "/", `127.0.0.1:${s.port + 1}`)).status).toBe(403);
    // No Host at all: Node's HTTP/1.1 parser already refuses it (400) before our check (403).
    expect([400, 403]).toContain((await get(s.port, "/", undefined)).status);
  });

  it("serves only the named files, never other paths", async () => {
    const list = JSON.parse((await get(s.port, "/files/index.json", host)).body) as {
      name: string;
      url: string;
      pa: string;
      size: number;
    }[];
    expect(list).toEqual([{ name: "ram.bin", url: "files/0/ram.bin", size: 8192, pa: "0x40000000" }]);
    const f = await get(s.port, "/files/0/ram.bin", host);
    expect(f.status).toBe(200);
    expect(f.body.length).toBe(8192);
    expect((await get(s.port, "/files/0/secret.txt", host)).status).toBe(404);
    expect((await get(s.port, "/files/1/ram.bin", host)).status).toBe(404);
    expect((await get(s.port, "/../secret.txt", host)).status).toBe(404);
    expect((await get(s.port, "/%2e%2e/secret.txt", host)).status).toBe(404);
    expect((await get(s.port, "/", host, "POST")).status).toBe(405);
    // No --gdb: no live guest to read.
    expect(JSON.parse((await get(s.port, "/gdb/info", host)).body)).toEqual({ gdb: null });
    expect((await get(s.port, "/gdb/tables", host)).status).toBe(404);
  });

  it("serves byte ranges of a named file (the UI reads a served dump a page at a time), never of the UI", async () => {
    const want = (a: number, b: number): string =>
      Array.from({ length: b - a + 1 }, (_, i) => String.fromCharCode(97 + ((a + i) % 26))).join("");
    const r = await get(s.port, "/files/0/ram.bin", host, "GET", { range: "bytes=4096-4111" });
    expect(r.status).toBe(206);
    expect(r.range).toBe("bytes 4096-4111/8192");
    expect(r.body).toBe(want(4096, 4111));
    // Open-ended and suffix ranges (RFC 9110 14.1.2), clipped to the file.
    expect((await get(s.port, "/files/0/ram.bin", host, "GET", { range: "bytes=8190-" })).body).toBe(want(8190, 8191));
    expect((await get(s.port, "/files/0/ram.bin", host, "GET", { range: "bytes=-3" })).body).toBe(want(8189, 8191));
    expect((await get(s.port, "/files/0/ram.bin", host, "GET", { range: "bytes=8000-99999" })).range).toBe("bytes 8000-8191/8192");
    // Past the end, or not a byte range: 416 with the size.
    const bad = await get(s.port, "/files/0/ram.bin", host, "GET", { range: "bytes=8192-8200" });
    expect(bad.status).toBe(416);
    expect(bad.range).toBe("bytes */8192");
    expect((await get(s.port, "/files/0/ram.bin", host, "GET", { range: "lines=1-2" })).status).toBe(416);
    // The UI's own files are sent whole.
    expect((await get(s.port, "/", host, "GET", { range: "bytes=0-3" })).status).toBe(200);
  });

  it("names the missing file in its error", () => {
    expect(() => parseServedFile(join(dir, "nope.bin@0x0"))).toThrow(/nope\.bin: no such file/);
  });
});
