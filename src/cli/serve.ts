/**
 * `vmsa serve`: serve the built browser UI (web/dist) and the files named on the command line,
 * on 127.0.0.1 by default. Nothing else on disk is reachable, and requests whose Host header is
 * not this server (DNS rebinding) are refused.
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { basename, dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { VmsaError } from "../arch/errors.js";
import { hex64, parseCount } from "../arch/u64.js";
import { formatAddress, type GdbAddress, parseGdbAddress } from "../dump/gdb/client.js";
import { readLiveTables } from "../dump/gdb/open.js";
import { looksLikeBankSpec, parseBankSpec } from "../mem/bankspec.js";
import { NUMBERS_HELP } from "./common.js";

export interface ServedFile {
  readonly name: string;
  readonly path: string;
  readonly size: number;
  /** Load address from FILE@PA, as written. */
  readonly pa?: string;
}

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly uiDir: string;
  readonly files: readonly ServedFile[];
  /** Extra Host header names accepted (besides localhost, 127.0.0.1, [::1] and the bound address). */
  readonly allowHosts?: readonly string[];
  /** `--gdb HOST:PORT`: a live QEMU guest whose registers and tables the UI may read (GET /gdb/tables). */
  readonly gdb?: GdbAddress;
  readonly gdbTimeoutMs?: number;
}

export interface RunningServer {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
};

export class ServeError extends VmsaError {
  constructor(message: string) {
    super("ESERVE", message);
    this.name = "ServeError";
  }
}

/** `FILE` or `FILE@PA` (PA hex, 0x optional); the file must exist and be a regular file. */
export function parseServedFile(spec: string): ServedFile {
  let path = spec;
  let pa: string | undefined;
  if (looksLikeBankSpec(spec)) {
    const b = parseBankSpec(spec);
    path = b.file;
    pa = `0x${b.pa.toString(16)}`;
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new ServeError(`serve: ${path}: no such file`);
  }
  if (!st.isFile()) throw new ServeError(`serve: ${path}: not a regular file`);
  return { name: basename(path), path: resolve(path), size: st.size, pa };
}

/** The built UI: web/dist above this module (works from src/ via tsx and from dist/src/). */
export function findUiDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const cand = join(dir, "web", "dist");
    if (existsSync(join(cand, "index.html"))) return cand;
    dir = dirname(dir);
  }
  return undefined;
}

function hostAllowed(header: string | undefined, port: number, opts: ServeOptions): boolean {
  if (!header) return false;
  const m = /^(\[[0-9a-f:.]+\]|[^:]+)(?::(\d+))?$/i.exec(header.trim().toLowerCase());
  if (!m) return false;
  const name = m[1] as string;
  const p = m[2] === undefined ? 80 : Number(m[2]);
  if (p !== port) return false;
  const ok = new Set(["localhost", "127.0.0.1", "[::1]", ...(opts.allowHosts ?? []).map((h) => h.toLowerCase())]);
  if (opts.host !== "0.0.0.0" && opts.host !== "::") ok.add(opts.host.includes(":") ? `[${opts.host}]` : opts.host);
  return ok.has(name);
}

function send(res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, {
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  });
  res.end(body);
}

/** `bytes=A-B`, `bytes=A-` or `bytes=-N` (one range) within `size`; undefined when unsatisfiable or malformed. */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const n = Number(m[2]);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end || start >= size) return undefined;
  return { start, end };
}

/**
 * Send a file; `ranges`: honour a single `Range: bytes=` request (206), as the UI's worker reads a
 * served dump a page at a time instead of downloading it whole.
 */
function sendFile(req: IncomingMessage, res: ServerResponse, path: string, type: string, ranges = false): void {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) {
      send(res, 404, "not found\n");
      return;
    }
    size = st.size;
  } catch {
    send(res, 404, "not found\n");
    return;
  }
  const headers = {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; worker-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    ...(ranges ? { "Accept-Ranges": "bytes" } : {}),
  };
  const rangeHeader = ranges ? req.headers.range : undefined;
  if (rangeHeader !== undefined) {
    const r = parseRange(rangeHeader, size);
    if (!r) {
      res.writeHead(416, { ...headers, "Content-Range": `bytes */${size}`, "Content-Length": 0 });
      res.end();
      return;
    }
    res.writeHead(206, { ...headers, "Content-Range": `bytes ${r.start}-${r.end}/${size}`, "Content-Length": r.end - r.start + 1 });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    createReadStream(path, { start: r.start, end: r.end }).pipe(res);
    return;
  }
  res.writeHead(200, { ...headers, "Content-Length": size });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  createReadStream(path).pipe(res);
}

/**
 * The live guest's registers and table pages, read now (the guest is stopped while they are read,
 * then detached): JSON { description, registers: {NAME: "0x…"}, sources: {NAME: "…"}, runs: [{pa,
 * data (base64)}], stats }. A gdbstub that cannot be reached is a 502 with the reason.
 */
function sendLiveTables(res: ServerResponse, addr: GdbAddress, timeoutMs: number | undefined): void {
  readLiveTables(addr, timeoutMs !== undefined ? { timeoutMs } : {}).then(
    (t) => {
      const registers: Record<string, string> = {};
      for (const [k, v] of Object.entries(t.regs.values)) if (v !== undefined) registers[k] = hex64(v);
      const body = {
        description: t.description,
        registers,
        sources: t.regs.sources,
        runs: t.runs.map((r) => ({ pa: `0x${r.pa.toString(16)}`, data: Buffer.from(r.bytes).toString("base64") })),
        stats: t.stats,
      };
      send(res, 200, JSON.stringify(body), "application/json");
    },
    (e: unknown) => send(res, 502, `${e instanceof Error ? e.message : String(e)}\n`),
  );
}

export function createHandler(opts: ServeOptions, portOf: () => number): (req: IncomingMessage, res: ServerResponse) => void {
  const ui = resolve(opts.uiDir);
  return (req, res) => {
    if (!hostAllowed(req.headers.host, portOf(), opts))
      return send(res, 403, `forbidden: Host "${req.headers.host ?? ""}" is not this server\n`);
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "method not allowed\n");
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    } catch {
      return send(res, 400, "bad request\n");
    }
    if (pathname === "/files/index.json") {
      const list = opts.files.map((f, i) => ({ name: f.name, url: `files/${i}/${encodeURIComponent(f.name)}`, size: f.size, pa: f.pa }));
      return send(res, 200, JSON.stringify(list), "application/json");
    }
    if (pathname === "/gdb/info") {
      // Always answered (null without --gdb): the UI asks on every visit, and a 404 is a console error.
      return send(res, 200, JSON.stringify({ gdb: opts.gdb ? formatAddress(opts.gdb) : null }), "application/json");
    }
    if (pathname === "/gdb/tables") {
      if (!opts.gdb) return send(res, 404, "no --gdb target\n");
      sendLiveTables(res, opts.gdb, opts.gdbTimeoutMs);
      return;
    }
    const fm = /^\/files\/(\d+)\/([^/]+)$/.exec(pathname);
    if (fm) {
      const f = opts.files[Number(fm[1])];
      if (!f || f.name !== fm[2]) return send(res, 404, "not found\n");
      return sendFile(req, res, f.path, "application/octet-stream", true);
    }
    const rel = pathname === "/" || pathname.endsWith("/") ? `${pathname}index.html` : pathname;
    const full = resolve(join(ui, rel));
    if (full !== ui && !full.startsWith(ui + sep)) return send(res, 404, "not found\n");
    sendFile(req, res, full, TYPES[extname(full)] ?? "application/octet-stream");
  };
}

export function startServer(opts: ServeOptions): Promise<RunningServer> {
  if (!existsSync(join(opts.uiDir, "index.html"))) {
    return Promise.reject(new ServeError(`serve: no built UI in ${opts.uiDir} (run npm run build:web)`));
  }
  let port = opts.port;
  const server = createServer(createHandler(opts, () => port));
  return new Promise((resolvePromise, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new ServeError(`serve: cannot listen on ${opts.host}:${opts.port} (${e.code ?? e.message})`)),
    );
    server.listen(opts.port, opts.host, () => {
      port = (server.address() as AddressInfo).port;
      const h = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
      resolvePromise({
        server,
        port,
        url: `http://${h}:${port}/`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

function isLoopback(host: string): boolean {
  return host === "localhost" || /^127\./.test(host) || host === "::1" || host === "[::1]";
}

/** The machine's own IP addresses (Host names accepted when bound to all interfaces). */
function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal) out.push(a.family === "IPv6" ? `[${a.address}]` : a.address);
  }
  return out;
}

/**
 * What serve prints: the address it really listens on (all interfaces for 0.0.0.0/::, with the
 * machine's addresses), and a warning on stderr whenever that is not loopback only.
 */
export function serveBanner(
  host: string,
  port: number,
  files: readonly ServedFile[],
  addresses: readonly string[],
): { line: string; warning?: string } {
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const fileList = files.length ? ` (files: ${files.map((f) => f.name).join(", ")})` : "";
  if (isLoopback(host)) return { line: `vmsa UI on http://${h}:${port}/${fileList}` };
  const where = isWildcard(host)
    ? `all network interfaces${addresses.length ? `: ${addresses.map((a) => `http://${a}:${port}/`).join(", ")}` : ""}`
    : `the network (http://${h}:${port}/)`;
  return {
    line: `vmsa UI on http://${h}:${port}/${fileList}`,
    warning: `vmsa: warning: --host ${host} listens on ${where}; the UI${files.length ? " and the named files" : ""} are reachable from other machines (use --host 127.0.0.1 to keep them local)`,
  };
}

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("serve the browser UI and the named files (memory images FILE@PA, machine.json) on 127.0.0.1")
    .argument("[files...]", "files the UI may open: FILE or FILE@PA")
    .option("--host <addr>", "address to bind (anything but loopback exposes the named files to the network)", "127.0.0.1")
    .option("--port <n>", "TCP port, decimal (0: any free port)", "8080")
    .option("--ui <dir>", "directory of the built UI (default: web/dist of this package)")
    .option("--allow-host <name...>", "extra Host header names to accept (e.g. a hostname you reach this machine by)")
    .option(
      "--gdb <host:port>",
      "a live QEMU guest (qemu -gdb tcp::PORT) for the Dump view's Live section: each Refresh reads its registers and tables through the gdbstub (the guest is stopped while read, then detached)",
    )
    .option("--gdb-timeout <ms>", "milliseconds to wait for the gdbstub's connection and each reply, decimal", "5000")
    .addHelpText("after", NUMBERS_HELP)
    .addHelpText(
      "after",
      `
Examples:
  $ npm run build:web && vmsa serve                       # then open http://127.0.0.1:8080/
  $ vmsa serve ram.bin@0x40000000 machine.json --port 9000  # offer a dump to the Dump view
  $ vmsa serve --gdb 127.0.0.1:1234                        # a running QEMU (-gdb tcp::1234): Dump view, Live, Refresh`,
    )
    .action(
      async (files: string[], o: { host: string; port: string; ui?: string; allowHost?: string[]; gdb?: string; gdbTimeout: string }) => {
        const port = parseCount(o.port, "serve --port", 0, 65535);
        const uiDir = o.ui ?? findUiDir();
        if (!uiDir) throw new ServeError("serve: the browser UI is not built (run npm run build:web)");
        const served = files.map(parseServedFile);
        const wildcard = isWildcard(o.host);
        const allowHosts = [...(o.allowHost ?? []), ...(wildcard ? interfaceAddresses() : [])];
        const gdb = o.gdb !== undefined ? parseGdbAddress(o.gdb) : undefined;
        const gdbTimeoutMs = parseCount(o.gdbTimeout, "serve --gdb-timeout", 1, 3_600_000);
        const s = await startServer({ host: o.host, port, uiDir, files: served, allowHosts, ...(gdb ? { gdb, gdbTimeoutMs } : {}) });
        const b = serveBanner(o.host, s.port, served, wildcard ? interfaceAddresses() : []);
        if (b.warning) process.stderr.write(`${b.warning}\n`);
        process.stdout.write(`${b.line}\n`);
      },
    );
}
