/*
 * A minimal KVM user (run inside an arm64 Linux booted with QEMU -M virt,virtualization=on) that
 * gives KVM's stage-2 tables something to show: one VM (default 40-bit IPA), two memory slots
 * (read-write at IPA 0x40000000, 4 MiB; read-only at IPA 0x80000000, 64 KiB), one vCPU whose
 * code (copied to the first page of the read-write slot) writes pages in both 2 MiB halves of the
 * first slot, reads pages of the read-only slot, signals "done" with an MMIO write outside every
 * slot (a KVM_EXIT_MMIO), then spins. After the MMIO exit this program prints VMSA-KVM-READY and
 * runs the vCPU again (it spins in the guest for ever), so the VM and its tables stay alive while
 * the capture reads /sys/kernel/debug/kvm/.../stage2_page_tables and dumps RAM. With the argument
 * "big" the guest also writes every other page of 64 more, for a text longer than one page.
 *
 * Build: aarch64-linux-gnu-gcc -static -O2 -o kvm-guest kvm-guest.c (libc6-dev-arm64-cross).
 * Used by test/dump/kvm-stage2/capture.ts (npm run capture:kvm-stage2).
 */
#include <fcntl.h>
#include <stddef.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW_IPA 0x40000000UL
#define RW_SIZE (4UL << 20)
#define RO_IPA 0x80000000UL
#define RO_SIZE (64UL << 10)
#define DONE_MMIO 0x10000000UL

/* AArch64 instruction encodings (Arm ARM C6): MOVZ Xd, #imm16, LSL #16; ADD Xd, Xn, #imm12;
 * STR Xt, [Xn]; LDR Xt, [Xn]; B . */
static uint32_t movz16(unsigned rd, unsigned imm) { return 0xd2a00000u | (imm << 5) | rd; }
static uint32_t add_pages(unsigned rd, unsigned rn, unsigned pages) { return 0x91400000u | (pages << 10) | (rn << 5) | rd; }
static uint32_t str0(unsigned rt, unsigned rn) { return 0xf9000000u | (rn << 5) | rt; }
static uint32_t ldr0(unsigned rt, unsigned rn) { return 0xf9400000u | (rn << 5) | rt; }
#define B_SELF 0x14000000u

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  /* "big": also write every other page of 0x40100000..0x40180000 (64 pages), so the debugfs text
   * exceeds one page and seq_file has to call the show function again (see src/dump/kvm-stage2.ts). */
  int big = argc > 1 && strcmp(argv[1], "big") == 0;
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");

  uint8_t *rw = mmap(NULL, RW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  uint8_t *ro = mmap(NULL, RO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (rw == MAP_FAILED || ro == MAP_FAILED) die("mmap");
  memset(ro, 0x5a, RO_SIZE);

  uint32_t code[64];
  unsigned n = 0;
  /* x0 = 0x40010000: write it and the next two pages. */
  code[n++] = movz16(0, 0x4001);
  code[n++] = str0(0, 0);
  for (unsigned i = 1; i <= 2; i++) {
    code[n++] = add_pages(1, 0, i);
    code[n++] = str0(1, 1);
  }
  /* x2 = 0x40200000 (second 2 MiB): write pages 0, 1 and 3 of it. */
  code[n++] = movz16(2, 0x4020);
  code[n++] = str0(2, 2);
  code[n++] = add_pages(3, 2, 1);
  code[n++] = str0(3, 3);
  code[n++] = add_pages(3, 2, 3);
  code[n++] = str0(3, 3);
  /* x4 = 0x80000000 (read-only slot): read pages 0 and 2. */
  code[n++] = movz16(4, 0x8000);
  code[n++] = ldr0(5, 4);
  code[n++] = add_pages(4, 4, 2);
  code[n++] = ldr0(5, 4);
  if (big) {
    code[n++] = movz16(0, 0x4010);
    code[n++] = 0xd2800801u; /* MOVZ x1, #64 */
    code[n++] = str0(0, 0);  /* loop: */
    code[n++] = add_pages(0, 0, 2);
    code[n++] = 0xf1000421u; /* SUBS x1, x1, #1 */
    code[n++] = 0x54ffffa1u; /* B.NE loop */
  }
  /* MMIO write outside every slot: KVM_EXIT_MMIO. */
  code[n++] = movz16(6, DONE_MMIO >> 16);
  code[n++] = str0(0, 6);
  code[n++] = B_SELF;
  memcpy(rw, code, n * 4);

  struct kvm_userspace_memory_region r0 = {
      .slot = 0, .flags = 0, .guest_phys_addr = RW_IPA, .memory_size = RW_SIZE, .userspace_addr = (uintptr_t)rw};
  struct kvm_userspace_memory_region r1 = {
      .slot = 1, .flags = KVM_MEM_READONLY, .guest_phys_addr = RO_IPA, .memory_size = RO_SIZE, .userspace_addr = (uintptr_t)ro};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r0) < 0) die("KVM_SET_USER_MEMORY_REGION rw");
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r1) < 0) die("KVM_SET_USER_MEMORY_REGION ro");

  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  struct kvm_vcpu_init init;
  if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0) die("KVM_ARM_PREFERRED_TARGET");
  if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0) die("KVM_ARM_VCPU_INIT");
  uint64_t pc = RW_IPA;
  struct kvm_one_reg reg = {
      .id = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offsetof(struct kvm_regs, regs.pc) / sizeof(uint32_t)),
      .addr = (uintptr_t)&pc};
  if (ioctl(vcpu, KVM_SET_ONE_REG, &reg) < 0) die("KVM_SET_ONE_REG pc");

  int runsz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (runsz <= 0) die("KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(NULL, (size_t)runsz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");

  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == DONE_MMIO) {
      printf("VMSA-KVM-READY pid %d vm fd %d\n", (int)getpid(), vm);
      fflush(stdout);
      continue; /* the guest now spins: KVM_RUN does not return */
    }
    fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
    return 1;
  }
}
