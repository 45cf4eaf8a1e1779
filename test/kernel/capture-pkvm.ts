/**
 * Capture a real pKVM's tables (npm run capture:pkvm; not run by CI):
 *
 * 1. boot Debian's 6.12 arm64 kernel (4K pages) in QEMU TCG with `-M virt,virtualization=on`,
 *    `-cpu max,lpa2=off` and `kvm-arm.mode=protected arm64_sw.hvhe=0 id_aa64mmfr1.vh=0` (protected
 *    KVM, nVHE: the host runs at EL1 behind its stage 2, the hypervisor at EL2 with its own stage 1);
 *    VMSA_PKVM_MODE=hvhe instead boots `-cpu max` with plain `kvm-arm.mode=protected`, which that
 *    kernel runs in hVHE mode (E2H=1 at EL2) with LPA2;
 * 2. init prints the kernel's KVM lines and waits; QEMU is stopped;
 * 3. the EL2 registers (TTBR0_EL2, TCR_EL2, MAIR_EL2, SCTLR_EL2, HCR_EL2, VTTBR_EL2, VTCR_EL2) and
 *    the ID registers are read through the gdbstub, RAM through dump-guest-memory;
 * 4. only the table pages reached from TTBR0_EL2 (EL2 regime) and VTTBR_EL2 (host stage 2) are kept,
 *    in test/fixtures/pkvm/linux-6.12-4k-nvhe/ or linux-6.12-4k-hvhe-lpa2/ (tables.core.gz,
 *    registers.txt, kvm-dmesg.txt, machine.json).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { featuresFromIdRegs } from "../../src/arch/registers.js";
import { loadInputs } from "../../src/dump/inputs.js";
import { compileRegs } from "../../src/walk/context.js";
import { compileStage2 } from "../../src/walk/stage2.js";
import { stage2Geometry } from "../../src/walk/stage2-range.js";
import { parseGdbRegisters, rangeTablePages, tablePagesCore } from "../dump/kvm-stage2/capture.js";
import { bootKernel, cacheDir, type KernelConfig } from "../dump/real-kernel/harness.js";

/** The two captures: nVHE on a CPU without LPA2 (the model's machine), and the default hVHE with LPA2. */
export const PKVM_CAPTURES = {
  nvhe: {
    dir: "linux-6.12-4k-nvhe",
    config: {
      name: "linux-6.12-4k-pkvm",
      pkgPattern: /^linux-image-6\.12\.\d+\+deb12-arm64-unsigned$/,
      cpu: "max,lpa2=off",
      description: "Debian 6.12 (bookworm-backports), 4K pages, 48-bit VA, CPU without LPA2, kvm-arm.mode=protected, nVHE",
    } satisfies KernelConfig,
    append: "kvm-arm.mode=protected arm64_sw.hvhe=0 id_aa64mmfr1.vh=0",
  },
  hvhe: {
    dir: "linux-6.12-4k-hvhe-lpa2",
    config: {
      name: "linux-6.12-4k-pkvm-hvhe",
      pkgPattern: /^linux-image-6\.12\.\d+\+deb12-arm64-unsigned$/,
      cpu: "max",
      description: "Debian 6.12 (bookworm-backports), 4K pages, -cpu max (LPA2: TCR_EL2.DS=1), kvm-arm.mode=protected, hVHE (E2H=1 at EL2)",
    } satisfies KernelConfig,
    append: "kvm-arm.mode=protected",
  },
} as const;

const MODE = process.env.VMSA_PKVM_MODE === "hvhe" ? "hvhe" : "nvhe";
const PKVM_CONFIG: KernelConfig = PKVM_CAPTURES[MODE].config;
const PKVM_APPEND = PKVM_CAPTURES[MODE].append;
export const PKVM_FIXTURE = process.env.VMSA_PKVM_FIXTURE ?? resolve(import.meta.dirname, "../fixtures/pkvm", PKVM_CAPTURES[MODE].dir);

export const PKVM_REGISTERS = [
  "TTBR0_EL2",
  "TCR_EL2",
  "MAIR_EL2",
  "SCTLR_EL2",
  "HCR_EL2",
  "VTTBR_EL2",
  "VTCR_EL2",
  "ID_AA64MMFR0_EL1",
  "ID_AA64MMFR1_EL1",
  "ID_AA64MMFR2_EL1",
] as const;

const INIT = `#!/bin/sh
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sys /sys
echo VMSA-DMESG-BEGIN
$bb dmesg | $bb grep -i -e kvm -e hyp -e "CPU features" -e "Linux version"
echo VMSA-DMESG-END
echo VMSA-BOOTED
while true; do $bb sleep 1000; done
`;

export function pkvmFixtureRegs(
  regs: Record<string, bigint>,
  regime: "el2" | "el20" = "el2",
): {
  hyp: ReturnType<typeof compileRegs>;
  host: ReturnType<typeof compileStage2>;
} {
  const f = featuresFromIdRegs({ mmfr0: regs.ID_AA64MMFR0_EL1, mmfr1: regs.ID_AA64MMFR1_EL1, mmfr2: regs.ID_AA64MMFR2_EL1 });
  const hyp = compileRegs({
    regime,
    ttbr0: regs.TTBR0_EL2 ?? 0n,
    ttbr1: 0n,
    tcr: regs.TCR_EL2 ?? 0n,
    mair: regs.MAIR_EL2 ?? 0n,
    sctlr: regs.SCTLR_EL2 ?? 0n,
    features: f,
  });
  const host = compileStage2({ vtcr: regs.VTCR_EL2 ?? 0n, vttbr: regs.VTTBR_EL2 ?? 0n, hcr: regs.HCR_EL2 ?? 1n }, f);
  return { hyp, host };
}

export async function capturePkvm(): Promise<void> {
  const work = join(cacheDir(), `${PKVM_CONFIG.name}-work`);
  const s = await bootKernel(PKVM_CONFIG, { machine: "virt,virtualization=on", init: INIT, append: PKVM_APPEND, timeoutS: 1800 });
  try {
    await s.hmp("stop");
    const log = s.console().replace(/\r/g, "");
    const dmesg = /VMSA-DMESG-BEGIN\n([\s\S]*?)VMSA-DMESG-END/.exec(log)?.[1] ?? "";
    process.stderr.write(dmesg);
    const regsText = s.gdb([`info registers ${PKVM_REGISTERS.join(" ")}`]);
    const regs = parseGdbRegisters(regsText);
    for (const r of PKVM_REGISTERS) if (regs[r] === undefined) throw new Error(`gdb gave no ${r}:\n${regsText}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const core = join(work, "guest.core");
    await s.hmp(`dump-guest-memory ${core}`);
    const mem = loadInputs([core], false).mem;
    // hVHE: HCR_EL2.E2H=1 at EL2, the EL2&0 regime.
    const { hyp, host } = pkvmFixtureRegs(regs, ((regs.HCR_EL2 ?? 0n) >> 34n) & 1n ? "el20" : "el2");
    const pages = rangeTablePages(mem, [hyp.halves[0], stage2Geometry(host)]);
    mkdirSync(PKVM_FIXTURE, { recursive: true });
    writeFileSync(join(PKVM_FIXTURE, "tables.core.gz"), tablePagesCore(mem, pages));
    writeFileSync(join(PKVM_FIXTURE, "registers.txt"), PKVM_REGISTERS.map((r) => `${r}=0x${(regs[r] as bigint).toString(16)}\n`).join(""));
    writeFileSync(join(PKVM_FIXTURE, "kvm-dmesg.txt"), dmesg);
    const linux = /Linux version (\S+)/.exec(log)?.[1] ?? "unknown";
    writeFileSync(
      join(PKVM_FIXTURE, "machine.json"),
      `${JSON.stringify(
        {
          kernel: `Linux ${linux}, ${PKVM_CONFIG.description}`,
          qemu: `qemu-system-aarch64 -M virt,virtualization=on -cpu ${PKVM_CONFIG.cpu} -smp 1 -m 256M (TCG), -append "... ${PKVM_APPEND}"`,
          memory: { core: "tables.core.gz" },
          note: "only the table pages reached from TTBR0_EL2 (EL2 regime) and VTTBR_EL2 (host stage 2) are kept; registers.txt from gdb-multiarch",
          boot_seconds: s.bootSeconds,
        },
        null,
        1,
      )}\n`,
    );
    process.stderr.write(`${pages.length} table pages kept; registers:\n${regsText}\n`);
  } finally {
    s.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]).endsWith("capture-pkvm.ts")) await capturePkvm();
