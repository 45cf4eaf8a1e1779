/**
 * Capture the KVM stage-2 golden fixture (npm run capture:kvm-stage2; not run by CI):
 *
 * 1. build kvm-guest.c (aarch64-linux-gnu-gcc -static, from libc6-dev-arm64-cross);
 * 2. boot the kernel built by `test/dump/real-kernel/build-kernel.sh 4k-kvm` (Linux 6.12 with KVM
 *    and CONFIG_PTDUMP_STAGE2_DEBUGFS; Debian's own arm64 kernels do not enable it) in QEMU TCG with
 *    `-M virt,virtualization=on -cpu max`, so the kernel runs at EL2 (VHE) and KVM works;
 * 3. its /init starts kvm-guest, which creates a VM, runs a vCPU that touches pages and then spins
 *    in the guest, and init prints the VM's debugfs stage2_page_tables, ipa_range and stage2_levels
 *    (with their byte counts, checked here) while the VM lives;
 * 4. QEMU is stopped; VTTBR_EL2, VTCR_EL2, HCR_EL2 and the ID registers are read through the
 *    gdbstub (gdb-multiarch), RAM through dump-guest-memory;
 * 5. only the stage-2 table pages reached from VTTBR_EL2 are kept (tables.core.gz), with the
 *    registers and the three debugfs texts, in test/fixtures/kvm-stage2/linux-6.12-4k-{small,big}/.
 *
 * The cache directory (VMSA_REAL_KERNEL_CACHE, default /tmp/vmsa-real-kernel) must hold
 * kbuild/Image-6.12-4k-kvm-ptdump (build-kernel.sh 4k-kvm CACHEDIR).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { featuresFromIdRegs } from "../../../src/arch/registers.js";
import { buildElfCore } from "../../../src/dump/elfcore.js";
import { loadInputs } from "../../../src/dump/inputs.js";
import { kvmIpaRangeText, kvmStage2LevelsText, kvmStage2PageTables } from "../../../src/dump/kvm-stage2.js";
import { FRAME_SIZE, type PhysMem } from "../../../src/mem/physmem.js";
import { type RangeGeometry, walkEntries } from "../../../src/walk/range.js";
import { compileStage2 } from "../../../src/walk/stage2.js";
import { stage2Geometry } from "../../../src/walk/stage2-range.js";
import { bootKernel, cacheDir, type KernelConfig, type Session } from "../real-kernel/harness.js";

/** Where the fixtures go: test/fixtures/kvm-stage2, or $VMSA_KVM_FIXTURES (a trial capture elsewhere). */
export const KVM_FIXTURES = process.env.VMSA_KVM_FIXTURES ?? resolve(import.meta.dirname, "../../fixtures/kvm-stage2");

export const KVM_CONFIG: KernelConfig = {
  name: "linux-6.12-4k-kvm-stage2",
  image: "kbuild/Image-6.12-4k-kvm-ptdump",
  cpu: "max",
  description:
    "Linux 6.12 from Debian's linux-source-6.12 (tinyconfig + KVM + PTDUMP_STAGE2_DEBUGFS, build-kernel.sh 4k-kvm), 4K pages, 48-bit VA, VHE host",
};

/** The stage-2 registers read through gdb (QEMU's gdbstub names them as the Arm ARM does). */
export const KVM_REGISTERS = ["VTTBR_EL2", "VTCR_EL2", "HCR_EL2", "ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1"] as const;

const FILES = ["stage2_page_tables", "ipa_range", "stage2_levels"] as const;

/**
 * Two VMs one after the other: "small" (its text fits in a page) and "big" (it does not, so the
 * kernel's file is seq_file's second show pass). Each is captured while it lives; init waits
 * (guest time) for the capture of the first before it kills that VM and starts the second.
 */
const INIT = `#!/bin/sh
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sys /sys
$bb mount -t devtmpfs dev /dev
$bb mount -t debugfs none /sys/kernel/debug
echo 1 > /proc/sys/kernel/printk
run_vm() {
  /bin/kvm-guest $1 > /kvm-$1.log 2>&1 &
  pid=$!
  i=0
  while ! $bb grep -q VMSA-KVM-READY /kvm-$1.log && [ $i -lt 900 ]; do $bb sleep 1; i=$((i+1)); done
  $bb cat /kvm-$1.log
  for d in /sys/kernel/debug/kvm/*; do
    [ -e "$d/stage2_page_tables" ] || continue
    echo "VMSA-KVM-DIR $1 $d"
    for f in ${FILES.join(" ")}; do
      $bb cat "$d/$f" > "/$f"
      echo "VMSA-FILE-BEGIN $1/$f $($bb wc -c < /$f)"
      $bb cat "/$f"
      echo "VMSA-FILE-END $1/$f"
    done
  done
}
run_vm small
echo VMSA-BOOTED
$bb sleep 90
$bb kill $pid
wait $pid
run_vm big
echo VMSA-PHASE-big
while true; do $bb sleep 1000; done
`;

/** The VMs captured, each into its own fixture directory. */
export const KVM_VMS = [
  { tag: "small", dir: join(KVM_FIXTURES, "linux-6.12-4k-small") },
  { tag: "big", dir: join(KVM_FIXTURES, "linux-6.12-4k-big") },
] as const;

/** The files init printed (name: "TAG/FILE"), checked against the byte counts it printed with them. */
export function parseConsoleFiles(log: string): Record<string, string> {
  const text = log.replace(/\r/g, "");
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/VMSA-FILE-BEGIN (\S+) (\d+)\n([\s\S]*?)VMSA-FILE-END \1\n/g)) {
    const name = m[1] as string;
    const body = m[3] as string;
    if (Buffer.byteLength(body) !== Number(m[2]))
      throw new Error(`${name}: ${Buffer.byteLength(body)} bytes on the console, ${m[2]} in the file`);
    out[name] = body;
  }
  return out;
}

/** `NAME 0x... ...` lines of gdb's `info registers`. */
export function parseGdbRegisters(text: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const m of text.matchAll(/^(\w+)\s+(0x[0-9a-f]+)/gim)) out[(m[1] as string).toUpperCase()] = BigInt(m[2] as string);
  return out;
}

/** The stage-2 range-walk geometry of the captured registers. */
function geometryOf(regs: Record<string, bigint>): ReturnType<typeof stage2Geometry> {
  const f = featuresFromIdRegs({ mmfr0: regs.ID_AA64MMFR0_EL1, mmfr1: regs.ID_AA64MMFR1_EL1, mmfr2: regs.ID_AA64MMFR2_EL1 });
  return stage2Geometry(compileStage2({ vtcr: regs.VTCR_EL2 ?? 0n, vttbr: regs.VTTBR_EL2 ?? 0n, hcr: 1n }, f));
}

/** The stage-2 table pages reachable from the registers (the concatenated start tables whole). */
export function stage2TablePages(mem: PhysMem, regs: Record<string, bigint>): bigint[] {
  return rangeTablePages(mem, [geometryOf(regs)]);
}

/** Every table page reached in the given walk geometries (start tables whole), ascending. */
export function rangeTablePages(mem: PhysMem, geometries: readonly RangeGeometry[]): bigint[] {
  const pages = new Set<bigint>();
  for (const g of geometries) {
    const startBytes = 8 * 2 ** (g.bitsAt[g.startLevel + 1] as number);
    for (let o = 0; o < Math.max(startBytes, FRAME_SIZE); o += FRAME_SIZE) pages.add(BigInt(g.base + o));
    walkEntries(
      mem,
      g,
      0,
      2 ** g.iaBits,
      (e) => {
        if (e.kind === "table") for (let o = 0; o < 2 ** g.gShift; o += FRAME_SIZE) pages.add(BigInt(e.next + o));
      },
      { tables: true },
    );
  }
  return [...pages].sort((a, b) => (a < b ? -1 : 1));
}

/** The pages as a gzipped ELF core (consecutive pages in one bank): a fixture's tables.core.gz. */
export function tablePagesCore(mem: PhysMem, pages: readonly bigint[]): Uint8Array {
  const banks: { pa: bigint; data: Uint8Array }[] = [];
  for (const p of pages) {
    const last = banks[banks.length - 1];
    const data = mem.readBytes(p, FRAME_SIZE);
    if (last && last.pa + BigInt(last.data.length) === p) last.data = Buffer.concat([last.data, data]);
    else banks.push({ pa: p, data });
  }
  return gzipSync(buildElfCore(banks), { level: 9 });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function captureKvmStage2(): Promise<void> {
  const dir = cacheDir();
  const guest = join(dir, "kvm-guest");
  execFileSync("aarch64-linux-gnu-gcc", ["-static", "-O2", "-Wall", "-o", guest, resolve(import.meta.dirname, "kvm-guest.c")], {
    stdio: "inherit",
  });
  const s = await bootKernel(KVM_CONFIG, {
    machine: "virt,virtualization=on",
    init: INIT,
    files: [{ name: "bin/kvm-guest", mode: 0o100755, data: readFileSync(guest) }],
    timeoutS: 1800,
  });
  try {
    for (const vm of KVM_VMS) {
      if (vm.tag !== "small") {
        await s.hmp("cont");
        const deadline = Date.now() + 1800_000;
        while (!s.console().includes(`VMSA-PHASE-${vm.tag}`)) {
          if (Date.now() > deadline) throw new Error(`VM ${vm.tag} did not come up:\n${s.console().slice(-4000)}`);
          await sleep(500);
        }
      }
      await s.hmp("stop");
      await capturePhase(s, vm.tag, vm.dir, join(dir, `${KVM_CONFIG.name}-${vm.tag}-work`));
    }
  } finally {
    s.close();
  }
}

async function capturePhase(s: Session, tag: string, outDir: string, work: string): Promise<void> {
  const log = s.console();
  const all = parseConsoleFiles(log);
  const files: Record<string, string> = {};
  for (const f of FILES) {
    const text = all[`${tag}/${f}`];
    if (text === undefined) throw new Error(`init printed no ${tag}/${f}:\n${log.slice(-4000)}`);
    files[f] = text;
  }
  const regsText = s.gdb([`info registers ${KVM_REGISTERS.join(" ")}`]);
  const regs = parseGdbRegisters(regsText);
  for (const r of KVM_REGISTERS) if (regs[r] === undefined) throw new Error(`gdb gave no ${r}:\n${regsText}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const core = join(work, "guest.core");
  await s.hmp(`dump-guest-memory ${core}`);
  const mem = loadInputs([core], false).mem;
  const pages = stage2TablePages(mem, regs);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "tables.core.gz"), tablePagesCore(mem, pages));
  writeFileSync(join(outDir, "registers.txt"), KVM_REGISTERS.map((r) => `${r}=0x${(regs[r] as bigint).toString(16)}\n`).join(""));
  for (const f of FILES) writeFileSync(join(outDir, `${f}.txt`), files[f] as string);
  const linux = /Linux version (\S+)/.exec(log)?.[1] ?? "unknown";
  const vmDir = new RegExp(`VMSA-KVM-DIR ${tag} (\\S+)`).exec(log)?.[1] ?? "?";
  writeFileSync(
    join(outDir, "machine.json"),
    `${JSON.stringify(
      {
        kernel: `Linux ${linux}, ${KVM_CONFIG.description}`,
        qemu: `qemu-system-aarch64 -M virt,virtualization=on -cpu ${KVM_CONFIG.cpu} -smp 1 -m 256M (TCG)`,
        guest: `test/dump/kvm-stage2/kvm-guest.c ${tag}: 40-bit IPA VM, slots RW 0x40000000+4M and RO 0x80000000+64K`,
        debugfs: vmDir,
        memory: { core: "tables.core.gz" },
        note: "only the stage-2 table pages reached from VTTBR_EL2 are kept; registers.txt from gdb-multiarch over QEMU's gdbstub",
        boot_seconds: s.bootSeconds,
      },
      null,
      1,
    )}\n`,
  );
  // The capture is only worth keeping if vmsa reproduces it.
  const g = geometryOf(regs);
  const ours = kvmStage2PageTables(mem, g);
  const same =
    ours.text === files.stage2_page_tables && kvmIpaRangeText(g) === files.ipa_range && kvmStage2LevelsText(g) === files.stage2_levels;
  process.stderr.write(
    `${tag}: ${pages.length} table pages; vmsa ${same ? "reproduces" : "DOES NOT reproduce"} the three files (${ours.passes} show pass${ours.passes === 1 ? "" : "es"})\n`,
  );
  if (!same) writeFileSync(join(work, "vmsa-stage2_page_tables.txt"), ours.text);
}

if (process.argv[1] && resolve(process.argv[1]).endsWith("capture.ts")) await captureKvmStage2();
