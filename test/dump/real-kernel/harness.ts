/**
 * Boot a Debian arm64 kernel in qemu-system-aarch64 with a busybox initramfs, wait for init, then
 * take the EL1 registers (gdb-multiarch over QEMU's gdbstub), a RAM dump (dump-guest-memory) and
 * QEMU's own translations of chosen VAs (HMP gva2gpa, i.e. QEMU's get_phys_addr walk).
 *
 * Needs: qemu-system-aarch64, gdb-multiarch, apt-get, dpkg-deb. The arm64 Debian packages are
 * downloaded with `apt-get download` into the cache directory, through a private apt configuration
 * pinned to Debian 12's suites (./apt.ts) so that the same kernels are used on a Debian 13 host.
 *
 * Run by hand to (re)generate the committed fixtures:
 *   npx tsx test/dump/real-kernel/capture.ts [config...]    (configs: see CONFIGS)
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { REG_NAMES } from "../../../src/dump/regfile.js";
import { aptSettings, privateApt } from "./apt.js";

export interface KernelConfig {
  readonly name: string;
  /** apt package (arm64) holding /boot/vmlinuz-*. */
  readonly pkgPattern?: RegExp;
  /** Or a kernel Image built locally (build-kernel.sh), relative to the cache directory. */
  readonly image?: string;
  readonly cpu: string;
  readonly description: string;
  /** Boot with KASLR (the virt board's DT kaslr-seed); default nokaslr. */
  readonly kaslr?: boolean;
  /** CONFIG_ARM64_VA_BITS, written to machine.json for kernels without VMCOREINFO. */
  readonly vaBits?: number;
  /** Written to the fixture's machine.json as kernel_config (fixmap slots; default Debian's). */
  readonly kernelConfig?: { apeiGhes: boolean; sdei: boolean; kpti: boolean; relocatable: boolean };
}

/** Kernel/CPU combinations: Debian 12's 6.1 (4K, 48-bit) and bookworm-backports 6.12 (52-bit LPA2 configs). */
export const CONFIGS: readonly KernelConfig[] = [
  {
    name: "linux-6.1-4k48",
    pkgPattern: /^linux-image-6\.1\.0-\d+-arm64-unsigned$/,
    cpu: "max",
    description: "Debian 6.1, 4K pages, 48-bit VA",
  },
  {
    name: "linux-6.12-16k47",
    pkgPattern: /^linux-image-6\.12\.\d+\+deb12-arm64-16k-unsigned$/,
    cpu: "max,lpa2=off",
    description: "Debian 6.12 16K, CPU without LPA2: 47-bit VA",
  },
  {
    name: "linux-6.12-16k52",
    pkgPattern: /^linux-image-6\.12\.\d+\+deb12-arm64-16k-unsigned$/,
    cpu: "max",
    description: "Debian 6.12 16K, -cpu max: 52-bit VA with FEAT_LPA2 (TCR.DS=1)",
  },
  {
    name: "linux-6.1-4k48-kaslr",
    pkgPattern: /^linux-image-6\.1\.0-\d+-arm64-unsigned$/,
    cpu: "max",
    description: "Debian 6.1, 4K pages, 48-bit VA, KASLR (randomised kernel image and linear map)",
    kaslr: true,
  },
  {
    name: "linux-6.12-16k-ptdump",
    image: "kbuild/Image-6.12-16k-ptdump",
    cpu: "max,lpa2=off",
    kernelConfig: { apeiGhes: false, sdei: false, kpti: true, relocatable: true },
    vaBits: 52,
    description: "Linux 6.12 from Debian's linux-source-6.12 (tinyconfig + PTDUMP_DEBUGFS, build-kernel.sh), 16K pages, 47-bit VA",
  },
  {
    name: "linux-6.12-16k52-ptdump",
    image: "kbuild/Image-6.12-16k-ptdump",
    cpu: "max",
    kernelConfig: { apeiGhes: false, sdei: false, kpti: true, relocatable: true },
    vaBits: 52,
    description:
      "Linux 6.12 from Debian's linux-source-6.12 (tinyconfig + PTDUMP_DEBUGFS, build-kernel.sh), 16K pages, 52-bit VA with LPA2",
  },
  {
    name: "linux-6.12-4k52-ptdump",
    image: "kbuild/Image-6.12-4k-ptdump",
    cpu: "max",
    kernelConfig: { apeiGhes: false, sdei: false, kpti: true, relocatable: true },
    vaBits: 52,
    description:
      "Linux 6.12 from Debian's linux-source-6.12 (tinyconfig + PTDUMP_DEBUGFS, build-kernel.sh 4k), 4K pages, 52-bit VA with LPA2",
  },
  {
    name: "linux-6.12-4k48-ptdump",
    image: "kbuild/Image-6.12-4k-ptdump",
    cpu: "max,lpa2=off",
    kernelConfig: { apeiGhes: false, sdei: false, kpti: true, relocatable: true },
    vaBits: 52,
    description:
      "Linux 6.12 from Debian's linux-source-6.12 (tinyconfig + PTDUMP_DEBUGFS, build-kernel.sh 4k), 4K pages, CPU without LPA2: 48-bit VA",
  },
  {
    name: "linux-6.12-4k52",
    pkgPattern: /^linux-image-6\.12\.\d+\+deb12-arm64-unsigned$/,
    cpu: "max",
    description: "Debian 6.12 4K, -cpu max: 52-bit VA with FEAT_LPA2 (5 levels)",
  },
];

/** The registers a capture reads through gdb: the EL1 ones vmsa's register files know (the EL2 ones
 * do not exist without -M virt,virtualization=on, and gdb refuses the whole list for one unknown name). */
export const REGISTERS = REG_NAMES.filter((r) => r.endsWith("_EL1"));

export function cacheDir(): string {
  const d = process.env.VMSA_REAL_KERNEL_CACHE ?? join(tmpdir(), "vmsa-real-kernel");
  mkdirSync(d, { recursive: true });
  return d;
}

export function toolsAvailable(): string | undefined {
  for (const t of ["qemu-system-aarch64", "gdb-multiarch", "apt-get", "dpkg-deb"]) {
    if (spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0) return `${t} not found`;
  }
  return undefined;
}

function sh(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

/**
 * Newest arm64 package matching `re` (apt-cache search), downloaded and extracted; returns the extract dir.
 * apt runs on a private configuration (./apt.ts): the pinned Debian 12 suites, whatever the host's release.
 */
export function fetchPackage(re: RegExp, dir = cacheDir()): string {
  const apt = privateApt(dir);
  // apt-cache takes POSIX regexps: search on the literal prefix, filter with the JS RegExp.
  const prefix = `^${(/^\^?([a-z0-9+-]|\\\.)+/.exec(re.source)?.[0] ?? "").replace(/^\^/, "").replace(/\\\./g, ".")}`;
  const search = (): string[] =>
    sh("apt-cache", [...apt, "search", "--names-only", prefix])
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter((n) => re.test(n));
  let names = search();
  if (names.length === 0) {
    sh("apt-get", [...apt, "update", "-q"]);
    names = search();
  }
  names.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const name = names[names.length - 1];
  if (!name) throw new Error(`no package matches ${re} in ${aptSettings().suites.join(", ")} (arm64)`);
  const out = join(dir, name);
  if (existsSync(join(out, ".done"))) return out;
  const debs = join(dir, "debs");
  mkdirSync(debs, { recursive: true });
  sh("apt-get", [...apt, "download", name], debs);
  const deb = readdirSync(debs).find((f) => f.startsWith(`${name}_`) && f.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download ${name}:arm64 produced no .deb`);
  mkdirSync(out, { recursive: true });
  sh("dpkg-deb", ["-x", join(debs, deb), out]);
  writeFileSync(join(out, ".done"), name);
  return out;
}

// ---- initramfs (newc cpio, gzip) ----

export function cpioEntry(name: string, mode: number, data: Uint8Array, ino: number, rdev: [number, number] = [0, 0]): Buffer {
  const h = (n: number): string => n.toString(16).padStart(8, "0");
  const nameBuf = Buffer.from(`${name}\0`);
  const header = `070701${h(ino)}${h(mode)}${h(0)}${h(0)}${h(1)}${h(0)}${h(data.length)}${h(0)}${h(0)}${h(rdev[0])}${h(rdev[1])}${h(nameBuf.length)}${h(0)}`;
  const pad = (n: number): number => (4 - (n % 4)) % 4;
  const head = Buffer.concat([Buffer.from(header), nameBuf, Buffer.alloc(pad(110 + nameBuf.length))]);
  return Buffer.concat([head, Buffer.from(data), Buffer.alloc(pad(data.length))]);
}

const INIT = `#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox grep -E " (mark_rodata_ro|_stext|__start_rodata|__init_begin|_etext)$" /proc/kallsyms | /bin/busybox sed "s/^/VMSA-SYM /"
if /bin/busybox mount -t debugfs none /sys/kernel/debug 2>/dev/null && [ -e /sys/kernel/debug/kernel_page_tables ]; then
  /bin/busybox cat /sys/kernel/debug/kernel_page_tables > /ptdump.txt
  echo VMSA-PTDUMP-BEGIN
  /bin/busybox cat /ptdump.txt
  echo VMSA-PTDUMP-END
fi
echo VMSA-BOOTED
while true; do /bin/busybox sleep 1000; done
`;

/** A file added to the initramfs (path without a leading slash; its directory must exist). */
export interface InitramfsFile {
  readonly name: string;
  readonly mode: number;
  readonly data: Uint8Array;
}

export function makeInitramfs(busybox: Uint8Array, init = INIT, extra: readonly InitramfsFile[] = []): Buffer {
  let ino = 1;
  const parts = [
    cpioEntry("dev", 0o40755, new Uint8Array(), ino++),
    cpioEntry("dev/console", 0o20600, new Uint8Array(), ino++, [5, 1]),
    cpioEntry("proc", 0o40755, new Uint8Array(), ino++),
    cpioEntry("sys", 0o40755, new Uint8Array(), ino++),
    cpioEntry("bin", 0o40755, new Uint8Array(), ino++),
    cpioEntry("bin/busybox", 0o100755, busybox, ino++),
    cpioEntry("bin/sh", 0o120777, Buffer.from("busybox"), ino++),
    cpioEntry("init", 0o100755, Buffer.from(init), ino++),
    ...extra.map((f) => cpioEntry(f.name, f.mode, f.data, ino++)),
    cpioEntry("TRAILER!!!", 0, new Uint8Array(), ino++),
  ];
  return gzipSync(Buffer.concat(parts));
}

// ---- QEMU session ----

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const p = typeof a === "object" && a ? a.port : 0;
      s.close(() => res(p));
    });
    s.on("error", rej);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Session {
  readonly console: () => string;
  /** Run an HMP monitor command and return its output. */
  readonly hmp: (cmd: string) => Promise<string>;
  /** Run gdb-multiarch commands against QEMU's gdbstub (attach, commands, detach); returns stdout. */
  readonly gdb: (cmds: readonly string[]) => string;
  /** QEMU's gdbstub port on 127.0.0.1 (for `vmsa --gdb`). */
  readonly gdbPort: number;
  readonly close: () => void;
  readonly bootSeconds: number;
  /** Wait until init has printed its marker (for `paused` sessions). */
  readonly waitBooted: () => Promise<void>;
  /** The kernel's own ptdump (kernel_page_tables) that init printed, when the kernel has it. */
  readonly ptdump: () => string | undefined;
  /** Kernel symbols init printed from /proc/kallsyms (name → address). */
  readonly symbols: () => Map<string, bigint>;
}

/**
 * Start QEMU. By default waits until init has run; with `paused`, QEMU starts stopped (-S) so a
 * debugger can set breakpoints first, and `waitBooted` waits for init later.
 */
type BootOptions = {
  memMiB?: number;
  timeoutS?: number;
  paused?: boolean;
  /** -M value (default "virt"), e.g. "virt,virtualization=on" to boot the kernel at EL2. */
  machine?: string;
  /** Replaces the default /init script (it must print VMSA-BOOTED when done), plus more files. */
  init?: string;
  files?: readonly InitramfsFile[];
  /** More kernel command-line parameters (e.g. "kvm-arm.mode=protected"). */
  append?: string;
};

/**
 * Boot a kernel. The gdb and monitor ports are picked free just before QEMU starts, so another
 * process (tests run in parallel) can take one first: QEMU then exits with "Address already in
 * use", and the boot is retried with new ports.
 */
export async function bootKernel(cfg: KernelConfig, opts: BootOptions = {}): Promise<Session> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bootKernelOnce(cfg, opts);
    } catch (e) {
      if (attempt >= 4 || !/Address already in use/.test(String(e))) throw e;
    }
  }
}

async function bootKernelOnce(cfg: KernelConfig, opts: BootOptions): Promise<Session> {
  const dir = cacheDir();
  let kernelPath: string;
  if (cfg.image) {
    kernelPath = join(dir, cfg.image);
    if (!existsSync(kernelPath)) throw new Error(`${kernelPath}: build it first with test/dump/real-kernel/build-kernel.sh`);
  } else if (cfg.pkgPattern) {
    const boot = join(fetchPackage(cfg.pkgPattern, dir), "boot");
    const vmlinuz = readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
    if (!vmlinuz) throw new Error(`${boot}: no vmlinuz`);
    kernelPath = join(boot, vmlinuz);
  } else {
    throw new Error(`${cfg.name}: neither a package nor an image`);
  }
  const bbdir = fetchPackage(/^busybox-static$/, dir);
  const initramfs = makeInitramfs(readFileSync(join(bbdir, "bin", "busybox")), opts.init, opts.files);
  const initrd = join(dir, `initramfs-${createHash("sha256").update(initramfs).digest("hex").slice(0, 12)}.cpio.gz`);
  if (!existsSync(initrd)) writeFileSync(initrd, initramfs);
  const serialLog = join(dir, `console-${process.pid}-${Date.now()}.log`);
  writeFileSync(serialLog, "");
  const gdbPort = await freePort();
  const monPort = await freePort();
  const args = [
    "-M",
    opts.machine ?? "virt",
    "-cpu",
    cfg.cpu,
    "-smp",
    "1",
    "-m",
    `${opts.memMiB ?? 256}M`,
    "-nographic",
    "-no-reboot",
    "-nic",
    "none",
    "-kernel",
    kernelPath,
    "-initrd",
    initrd,
    "-append",
    `console=ttyAMA0 ${cfg.kaslr ? "" : "nokaslr "}panic=-1${opts.append ? ` ${opts.append}` : ""}`,
    "-serial",
    `file:${serialLog}`,
    "-monitor",
    `tcp:127.0.0.1:${monPort},server,nowait`,
    "-gdb",
    `tcp:127.0.0.1:${gdbPort}`,
    ...(opts.paused ? ["-S"] : []),
  ];
  const t0 = Date.now();
  const q = spawn("qemu-system-aarch64", args, { stdio: ["ignore", "pipe", "pipe"] });
  let qemuOut = "";
  q.stdout.on("data", (b: Buffer) => {
    qemuOut += b.toString("latin1");
  });
  q.stderr.on("data", (b: Buffer) => {
    qemuOut += b.toString("latin1");
  });
  let log = "";
  const readLog = (): string => {
    log = readFileSync(serialLog, "latin1") + qemuOut;
    return log;
  };
  const timeoutS = opts.timeoutS ?? 300;
  const waitBooted = async (): Promise<void> => {
    const deadline = Date.now() + timeoutS * 1000;
    while (!readLog().includes("VMSA-BOOTED")) {
      if (q.exitCode !== null) throw new Error(`qemu exited (${q.exitCode}) before init ran:\n${log.slice(-3000)}`);
      if (Date.now() > deadline) {
        q.kill("SIGKILL");
        throw new Error(`init did not run within ${timeoutS}s:\n${log.slice(-3000)}`);
      }
      await sleep(100);
    }
  };
  if (!opts.paused) await waitBooted();
  else {
    await sleep(300);
    if (q.exitCode !== null) throw new Error(`qemu exited (${q.exitCode}) at start:\n${readLog().slice(-3000)}`);
  }
  const bootSeconds = (Date.now() - t0) / 1000;
  if (!opts.paused) await sleep(500);
  const mon = createConnection({ host: "127.0.0.1", port: monPort });
  let monBuf = "";
  mon.on("data", (b: Buffer) => {
    monBuf += b.toString("latin1");
  });
  const waitPrompt = async (): Promise<string> => {
    const end = Date.now() + 120_000;
    while (!monBuf.includes("(qemu) ")) {
      if (Date.now() > end) throw new Error(`monitor did not answer: ${monBuf.slice(-500)}`);
      await sleep(2);
    }
    const i = monBuf.indexOf("(qemu) ");
    const out = monBuf.slice(0, i);
    monBuf = monBuf.slice(i + 7);
    return out;
  };
  await waitPrompt();
  const hmp = async (cmd: string): Promise<string> => {
    mon.write(`${cmd}\n`);
    const out = await waitPrompt();
    // Drop the echoed command line and terminal escapes.
    return out
      .replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, "g"), "")
      .split(/\r?\n/)
      .filter((l) => !l.includes(cmd))
      .join("\n")
      .trim();
  };
  const gdb = (cmds: readonly string[]): string => {
    const ex = ["set architecture aarch64", `target remote 127.0.0.1:${gdbPort}`, ...cmds, "detach"].flatMap((c) => ["-ex", c]);
    const r = spawnSync("gdb-multiarch", ["-nx", "-batch", ...ex], { encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`gdb-multiarch failed: ${r.stderr}`);
    return r.stdout;
  };
  return {
    console: readLog,
    hmp,
    gdb,
    gdbPort,
    waitBooted,
    ptdump: () => {
      const m = /VMSA-PTDUMP-BEGIN\r?\n([\s\S]*?)VMSA-PTDUMP-END/.exec(readLog());
      return m ? (m[1] as string).replace(/\r/g, "") : undefined;
    },
    symbols: () => {
      const m = new Map<string, bigint>();
      for (const x of readLog().matchAll(/VMSA-SYM ([0-9a-f]+) \S+ (\S+)/g)) m.set(x[2] as string, BigInt(`0x${x[1]}`));
      return m;
    },
    close: () => {
      mon.destroy();
      q.kill("SIGKILL");
      rmSync(serialLog, { force: true });
    },
    bootSeconds,
  };
}
