/**
 * Record a real kernel with the vmsa record plugin: boot a Debian arm64 kernel (the real-kernel
 * harness's pinned apt packages, test/dump/real-kernel) under qemu-system-aarch64 -smp N with
 * plugins/record, run a small workload in init (module loading and unloading: vmalloc'd module
 * memory, set_memory_ro/nx, text patching through the fixmap, vfree and the lazy vmalloc TLB
 * purge; 16 processes at once: vmalloc'd kernel stacks (VMAP_STACK); a tmpfs file; fork/exec/COW
 * of user processes), then power off so QEMU exits cleanly and the plugin writes its END record.
 * Multi-threaded TCG: the plugin orders all vCPUs' events under one lock (see plugins/record/record.c
 * for why not thread=single).
 *
 * By hand (writes TRACE and, with --symbols, the kernel's text symbols from /proc/kallsyms):
 *   npx tsx test/trace/record-kernel.ts [--smp 2] [--symbols FILE] [--config linux-6.1-4k48] [--access N] TRACE
 * (--access N: also log loads/stores/fetches to recently changed VAs and one in N others.)
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { CONFIGS, cacheDir, cpioEntry, fetchPackage } from "../dump/real-kernel/harness.js";

/**
 * Modules init loads and unloads again (no dependencies; .ko in Debian 6.1, .ko.xz in 6.12,
 * decompressed here): module memory is vmalloc'd, made read-only / non-executable, then vfree'd.
 */
const MODULES = ["lib/crc7.ko", "lib/crc-itu-t.ko", "crypto/xor.ko", "crypto/md4.ko", "drivers/block/brd.ko"];

/**
 * Memory hot-(un)plug with virtio-mem (QEMU's virtio-mem-pci on the virt board, Linux's
 * virtio_mem driver): the driver adds the device's memory (arch_add_memory: linear-map entries
 * for it), then, when QEMU lowers requested-size to 0 (the harness asks on the monitor once init
 * prints VMSA-UNPLUG-REQUEST), removes it again (arch_remove_memory: unmap, TLBI, free the
 * tables). The blocks stay offline (no memhp_default_state), which the removal allows.
 */
const HOTPLUG_MODULE = "drivers/virtio/virtio_mem.ko";
const HOTPLUG_MIB = 256;

const hotplugInit = `$B insmod /v/virtio_mem.ko
$B sleep 2
echo VMSA-HOTPLUGGED $($B grep -c virtio_mem /proc/iomem)
echo VMSA-UNPLUG-REQUEST
for i in $($B seq 1 120); do [ "$($B grep -c virtio_mem /proc/iomem)" = 0 ] && break; $B sleep 1; done
echo VMSA-UNPLUGGED $($B grep -c virtio_mem /proc/iomem)
`;

function initScript(symbols: boolean, hotplug: boolean): string {
  return `#!/bin/sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
echo VMSA-RECORD-INIT
for m in /m/*.ko; do $B insmod $m; done
$B dd if=/dev/zero of=/dev/ram0 bs=65536 count=32 2>/dev/null
for i in 1 2 3 4 5 6; do $B sh -c "$B seq 1 300 | $B wc -l >/dev/null"; done
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do $B sleep 0 & done; wait
$B mkdir -p /t; $B mount -t tmpfs t /t
$B dd if=/dev/zero of=/t/f bs=65536 count=64 2>/dev/null; $B rm /t/f; $B umount /t
$B rmmod brd md4 xor crc_itu_t crc7
$B cat /proc/vmallocinfo >/dev/null
${hotplug ? hotplugInit : ""}${symbols ? `echo VMSA-KALLSYMS-BEGIN\n$B grep " [tT] " /proc/kallsyms\necho VMSA-KALLSYMS-END` : ""}
echo VMSA-BOOTED
$B poweroff -f
`;
}

export interface RecordOptions {
  readonly plugin: string;
  readonly trace: string;
  readonly config?: string;
  readonly smp?: number;
  readonly memMiB?: number;
  readonly timeoutS?: number;
  /** Write the kernel's text symbols (System.map format, from /proc/kallsyms) here. */
  readonly symbols?: string;
  /** The plugin's access= argument: log accesses to recently changed VAs and one in N others (0: none). */
  readonly access?: number;
  /** Hot-plug and hot-unplug memory with virtio-mem (HOTPLUG_MODULE) after the workload. */
  readonly hotplug?: boolean;
}

export interface Recording {
  readonly seconds: number;
  readonly console: string;
  /** The plugin's summary line (stderr). */
  readonly summary: string;
}

export async function recordKernel(o: RecordOptions): Promise<Recording> {
  const cfg = CONFIGS.find((c) => c.name === (o.config ?? "linux-6.1-4k48"));
  if (!cfg?.pkgPattern) throw new Error(`no packaged kernel configuration ${o.config}`);
  const dir = cacheDir();
  const pkg = fetchPackage(cfg.pkgPattern, dir);
  const boot = join(pkg, "boot");
  const vmlinuz = readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
  if (!vmlinuz) throw new Error(`${boot}: no vmlinuz`);
  const modRoot = join(pkg, "lib", "modules", vmlinuz.slice("vmlinuz-".length), "kernel");
  const busybox = readFileSync(join(fetchPackage(/^busybox-static$/, dir), "bin", "busybox"));
  let ino = 1;
  const parts = [
    cpioEntry("dev", 0o40755, new Uint8Array(), ino++),
    cpioEntry("dev/console", 0o20600, new Uint8Array(), ino++, [5, 1]),
    cpioEntry("dev/ram0", 0o60600, new Uint8Array(), ino++, [1, 0]),
    cpioEntry("proc", 0o40755, new Uint8Array(), ino++),
    cpioEntry("sys", 0o40755, new Uint8Array(), ino++),
    cpioEntry("bin", 0o40755, new Uint8Array(), ino++),
    cpioEntry("bin/busybox", 0o100755, busybox, ino++),
    cpioEntry("bin/sh", 0o120777, Buffer.from("busybox"), ino++),
    cpioEntry("m", 0o40755, new Uint8Array(), ino++),
  ];
  for (const m of MODULES) {
    const f = join(modRoot, m);
    const name = `m/${m.split("/").pop()}`;
    if (existsSync(f)) parts.push(cpioEntry(name, 0o100644, readFileSync(f), ino++));
    else if (existsSync(`${f}.xz`))
      parts.push(cpioEntry(name, 0o100644, execFileSync("xz", ["-dc", `${f}.xz`], { maxBuffer: 1 << 26 }), ino++));
    else throw new Error(`${f}: module not in the kernel package`);
  }
  if (o.hotplug) {
    const f = join(modRoot, HOTPLUG_MODULE);
    const ko = existsSync(f) ? readFileSync(f) : execFileSync("xz", ["-dc", `${f}.xz`], { maxBuffer: 1 << 26 });
    parts.push(cpioEntry("v", 0o40755, new Uint8Array(), ino++), cpioEntry("v/virtio_mem.ko", 0o100644, ko, ino++));
  }
  parts.push(cpioEntry("init", 0o100755, Buffer.from(initScript(o.symbols !== undefined, o.hotplug === true)), ino++));
  parts.push(cpioEntry("TRAILER!!!", 0, new Uint8Array(), ino++));
  const initrd = join(dir, `record-initramfs-${process.pid}.cpio.gz`);
  writeFileSync(initrd, gzipSync(Buffer.concat(parts)));
  const mem = o.memMiB ?? 256;
  const monitor = join(dir, `record-monitor-${process.pid}.sock`);
  const hotplugArgs = o.hotplug
    ? [
        ...["-object", `memory-backend-ram,id=vmem0mem,size=${HOTPLUG_MIB}M`],
        ...["-device", `virtio-mem-pci,id=vmem0,memdev=vmem0mem,requested-size=${HOTPLUG_MIB}M`],
      ]
    : [];
  const args = [
    ...[
      "-M",
      "virt",
      "-cpu",
      cfg.cpu,
      "-smp",
      String(o.smp ?? 2),
      "-m",
      o.hotplug ? `${mem}M,maxmem=${mem + 2 * HOTPLUG_MIB}M` : `${mem}M`,
    ],
    ...["-accel", "tcg,thread=multi", "-nographic", "-no-reboot", "-nic", "none", "-serial", "stdio"],
    ...["-monitor", o.hotplug ? `unix:${monitor},server=on,wait=off` : "none"],
    ...hotplugArgs,
    ...["-kernel", join(boot, vmlinuz), "-initrd", initrd],
    ...["-append", `console=ttyAMA0 ${cfg.kaslr ? "" : "nokaslr "}panic=-1`],
    ...[
      "-plugin",
      `${o.plugin},out=${o.trace},ram_base=40000000,ram_size=${(mem * 1024 * 1024).toString(16)}${o.access ? `,access=${o.access}` : ""}`,
    ],
  ];
  const t0 = Date.now();
  const q = spawn("nice", ["-n", "10", "qemu-system-aarch64", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let asked = false;
  q.stdout.on("data", (b: Buffer) => {
    out += b.toString("latin1");
    if (o.hotplug && !asked && out.includes("VMSA-UNPLUG-REQUEST")) {
      asked = true;
      const c = createConnection(monitor, () => c.end("qom-set vmem0 requested-size 0\n"));
      c.on("error", (e) => {
        err += `monitor: ${e.message}\n`;
      });
    }
  });
  q.stderr.on("data", (b: Buffer) => {
    err += b.toString("latin1");
  });
  const timeoutS = o.timeoutS ?? 600;
  const code = await new Promise<number | null>((res) => {
    const timer = setTimeout(() => q.kill("SIGKILL"), timeoutS * 1000);
    q.on("exit", (c) => {
      clearTimeout(timer);
      res(c);
    });
  });
  if (code !== 0 || !out.includes("VMSA-BOOTED")) {
    throw new Error(`qemu exited ${code} (init ${out.includes("VMSA-BOOTED") ? "done" : "not done"}):\n${(out + err).slice(-3000)}`);
  }
  if (o.symbols !== undefined) {
    const m = /VMSA-KALLSYMS-BEGIN\r?\n([\s\S]*?)VMSA-KALLSYMS-END/.exec(out);
    // A kernel message printed while init dumps the symbols lands inside a line
    // ("… T rb_replace_node[   88.887051] hrtimer: interrupt took 2949339 ns"): cut it out.
    const text = (m?.[1] ?? "").replace(/\r/g, "").replace(/\[\s*\d+\.\d+\][^\n]*\n/g, "");
    writeFileSync(o.symbols, text);
  }
  const summary = err
    .split("\n")
    .filter((l) => l.startsWith("vmsa-record:"))
    .join("\n");
  return { seconds: (Date.now() - t0) / 1000, console: out, summary };
}

if (process.argv[1]?.endsWith("record-kernel.ts")) {
  const a = process.argv.slice(2);
  const opt = (k: string): string | undefined => {
    const i = a.indexOf(k);
    if (i < 0) return undefined;
    const v = a[i + 1];
    a.splice(i, 2);
    return v;
  };
  const smp = Number(opt("--smp") ?? "2");
  const symbols = opt("--symbols");
  const config = opt("--config");
  const access = Number(opt("--access") ?? "0");
  const hotplug = a.includes("--hotplug");
  if (hotplug) a.splice(a.indexOf("--hotplug"), 1);
  const plugin = opt("--plugin") ?? join(process.cwd(), "out/plugins/libvmsa-record.so");
  const trace = a[0];
  if (trace === undefined)
    throw new Error("usage: record-kernel.ts [--smp N] [--symbols FILE] [--config NAME] [--plugin SO] [--access N] [--hotplug] TRACE");
  const r = await recordKernel({ plugin, trace, smp, access, hotplug, ...(symbols ? { symbols } : {}), ...(config ? { config } : {}) });
  console.log(`recorded ${trace} in ${r.seconds.toFixed(1)} s; ${r.summary}`);
  for (const l of r.console.split("\n")) if (/^VMSA-(HOTPLUGGED|UNPLUGGED)/.test(l)) console.log(l.trim());
}
