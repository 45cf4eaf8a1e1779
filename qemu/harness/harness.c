/*
 * vmsa AT harness: runs `AT S1E1R/S1E1W/S1E0R/S1E0W` at EL2 on the EL1&0 regime for every
 * query of every job in a job file and writes PAR_EL1 values to a result file. The job and
 * result formats are documented in qemu/README.md. I/O goes through Arm semihosting; the
 * semihosting command line is "<name> <job file> <result file>".
 *
 * The EL2 MMU stays off, so every data access here is Device-nGnRnE: all accesses are
 * naturally aligned 64-bit words (built with -mstrict-align).
 */
#include <stdint.h>
#include "layout.h"

typedef uint64_t u64;

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_FLEN 0x0c
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026UL

#define JOB_MAGIC 0x31424f4a41534d56UL /* "VMSAJOB1" */
#define JOB_MAGIC2 0x32424f4a41534d56UL /* "VMSAJOB2": + nextra (id, value) pairs per job */
#define RES_MAGIC 0x3153455241534d56UL /* "VMSARES1" */
#define END_MAGIC 0x00444e4541534d56UL /* "VMSAEND\0" */
#define STATUS_EXCEPTION (1UL << 32)
#define MAX_QUERIES_PER_JOB 4096
#define OP_READ_MMFR3 15
#define MAX_EXTRA_ID 5
/* EL2 registers a job may set (qemu/README.md): 6 HCR_EL2, 7 VTCR_EL2, 8 VTTBR_EL2, 9 TTBR0_EL2,
   10 TTBR1_EL2, 11 TCR_EL2, 12 MAIR_EL2 (written after the EL1 registers), 13 SCTLR_EL2 (used
   only around the EL2-regime probes, ops 10-13). */
#define FIRST_EL2_ID 6
#define LAST_EL2_ID 17
#define ID_SCTLR_EL2 13
#define OP_LAST_AT 13
#define HCR_RW (1UL << 31)

extern u64 semihost(u64 op, void *param);
extern u64 at_probe(u64 va, u64 op);
extern void set_el1_regs(const u64 *regs);
/* AT S1E2R (op 0), S1E2W (1), S1E0R (2), S1E0W (3) with SCTLR_EL2 = sctlr around them (trampoline). */
extern u64 at_el2_probe(u64 va, u64 op, u64 sctlr);
extern volatile u64 g_tramp_exc;
extern volatile u64 g_tramp_esr;

volatile u64 g_exc_esr;
volatile u64 g_exc_count;

static u64 out_buf[2 * MAX_QUERIES_PER_JOB + 2];
static char cmdline[512];
static u64 out_handle;
/* Job header words: 7 in VMSAJOB1; 8 in VMSAJOB2 (nextra), followed by 2 * nextra words. */
static u64 hdr_words = 7;

static u64 job_header_len(const u64 *job) { return hdr_words + (hdr_words == 8 ? 2 * job[7] : 0); }

/*
 * Extra EL1 registers a VMSAJOB2 job may set, by id (qemu/README.md): 1 TCR2_EL1, 2 PIR_EL1,
 * 3 PIRE0_EL1, 4 POR_EL1, 5 POR_EL0. Generic encodings, so the assembler needs no feature flags.
 */
static void set_extra(u64 id, u64 v) {
  switch (id) {
    case 1:
      __asm__ volatile("msr s3_0_c2_c0_3, %0" ::"r"(v)); /* TCR2_EL1 */
      break;
    case 2:
      __asm__ volatile("msr s3_0_c10_c2_3, %0" ::"r"(v)); /* PIR_EL1 */
      break;
    case 3:
      __asm__ volatile("msr s3_0_c10_c2_2, %0" ::"r"(v)); /* PIRE0_EL1 */
      break;
    case 4:
      __asm__ volatile("msr s3_0_c10_c2_4, %0" ::"r"(v)); /* POR_EL1 */
      break;
    case 5:
      __asm__ volatile("msr s3_3_c10_c2_4, %0" ::"r"(v)); /* POR_EL0 */
      break;
  }
}

static u64 g_sctlr_el2;

/* EL2 registers (ids 6-17: 14-17 S2PIR_EL2, TCR2_EL2, PIR_EL2, PIRE0_EL2); generic encodings where the assembler would want a feature flag. */
static void set_el2(u64 id, u64 v) {
  switch (id) {
    case 6:
      __asm__ volatile("msr hcr_el2, %0; isb" ::"r"(v | HCR_RW));
      break;
    case 7:
      __asm__ volatile("msr vtcr_el2, %0" ::"r"(v));
      break;
    case 8:
      __asm__ volatile("msr vttbr_el2, %0" ::"r"(v));
      break;
    case 9:
      __asm__ volatile("msr ttbr0_el2, %0" ::"r"(v));
      break;
    case 10:
      __asm__ volatile("msr s3_4_c2_c0_1, %0" ::"r"(v)); /* TTBR1_EL2 (FEAT_VHE) */
      break;
    case 11:
      __asm__ volatile("msr tcr_el2, %0" ::"r"(v));
      break;
    case 12:
      __asm__ volatile("msr mair_el2, %0" ::"r"(v));
      break;
    case ID_SCTLR_EL2:
      g_sctlr_el2 = v;
      break;
    case 14:
      __asm__ volatile("msr s3_4_c10_c2_5, %0" ::"r"(v)); /* S2PIR_EL2 (FEAT_S2PIE) */
      break;
    case 15:
      __asm__ volatile("msr s3_4_c2_c0_3, %0" ::"r"(v)); /* TCR2_EL2 (FEAT_TCR2) */
      break;
    case 16:
      __asm__ volatile("msr s3_4_c10_c2_3, %0" ::"r"(v)); /* PIR_EL2 (FEAT_S1PIE) */
      break;
    case 17:
      __asm__ volatile("msr s3_4_c10_c2_2, %0" ::"r"(v)); /* PIRE0_EL2 (FEAT_S1PIE) */
      break;
  }
}

/* Registers set by an earlier job, reset to 0 before the next one (bit per id). */
static u64 extras_written;

static void put(const char *s) { semihost(SYS_WRITE0, (void *)s); }

static void put_hex(u64 v) {
  static char buf[20];
  buf[0] = '0';
  buf[1] = 'x';
  for (int i = 0; i < 16; i++) {
    unsigned nib = (unsigned)(v >> (60 - 4 * i)) & 0xf;
    buf[2 + i] = (char)(nib < 10 ? '0' + nib : 'a' + nib - 10);
  }
  buf[18] = 0;
  put(buf);
}

static void __attribute__((noreturn)) quit(u64 code) {
  u64 block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
  semihost(SYS_EXIT, block);
  for (;;) {
  }
}

static void __attribute__((noreturn)) fail(const char *msg, u64 v) {
  put("vmsa-harness: error: ");
  put(msg);
  put(" ");
  put_hex(v);
  put("\n");
  quit(2);
}

void fatal_exception(u64 vector, u64 esr, u64 elr, u64 far) {
  put("vmsa-harness: unexpected exception vector=");
  put_hex(vector);
  put(" esr=");
  put_hex(esr);
  put(" elr=");
  put_hex(elr);
  put(" far=");
  put_hex(far);
  put("\n");
  quit(3);
}

static u64 str_len(const char *s) {
  u64 n = 0;
  while (s[n]) n++;
  return n;
}

/* Split the semihosting command line; returns the n-th space-separated word (0-based). */
static char *word(char *s, int n) {
  for (;;) {
    while (*s == ' ') s++;
    if (!*s) return 0;
    char *start = s;
    while (*s && *s != ' ') s++;
    if (n-- == 0) {
      if (*s) *s = 0;
      return start;
    }
    if (*s) s++;
  }
}

static u64 open_file(const char *path, u64 mode) {
  u64 p[3] = {(u64)path, mode, str_len(path)};
  u64 h = semihost(SYS_OPEN, p);
  if (h == (u64)-1) fail("cannot open file; mode", mode);
  return h;
}

static void write_words(const u64 *w, u64 n) {
  u64 p[3] = {out_handle, (u64)w, n * 8};
  if (semihost(SYS_WRITE, p) != 0) fail("short write to the result file, words", n);
}

static void zero_words(u64 pa, u64 len) {
  volatile u64 *d = (volatile u64 *)pa;
  for (u64 i = 0; i < len / 8; i++) d[i] = 0;
}

/* Checks a chunk and returns its word count. */
static u64 check_chunk(u64 pa, u64 len) {
  if ((pa & 7) || (len & 7)) fail("chunk not 8-byte aligned at", pa);
  if (pa < ARENA_BASE || pa > ARENA_END || len > ARENA_END - pa) fail("chunk outside the table arena at", pa);
  return len / 8;
}

/* Zero the chunks of a job whose header is at `job` (undoes what it loaded, and any AF update). */
static void unload(const u64 *job) {
  u64 nchunks = job[5];
  const u64 *p = job + job_header_len(job);
  for (u64 c = 0; c < nchunks; c++) {
    u64 words = check_chunk(p[0], p[1]);
    zero_words(p[0], p[1]);
    p += 2 + words;
  }
}

void harness_main(void) {
  u64 cl[2] = {(u64)cmdline, sizeof cmdline - 1};
  if (semihost(SYS_GET_CMDLINE, cl) != 0) fail("no semihosting command line", 0);
  char *in_path = word(cmdline, 1);
  char *out_path = in_path ? word(in_path + str_len(in_path) + 1, 0) : 0;
  if (!in_path || !out_path) fail("usage: semihosting args <name> <job file> <result file>", 0);

  u64 in = open_file(in_path, 1 /* "rb" */);
  u64 fl[1] = {in};
  u64 size = semihost(SYS_FLEN, fl);
  if (size == (u64)-1 || size > INPUT_END - INPUT_BASE || (size & 7)) fail("bad job file size", size);
  u64 rd[3] = {in, INPUT_BASE, size};
  if (semihost(SYS_READ, rd) != 0) fail("short read of the job file", size);
  semihost(SYS_CLOSE, fl);
  out_handle = open_file(out_path, 5 /* "wb" */);

  const u64 *p = (const u64 *)INPUT_BASE;
  const u64 *end = (const u64 *)(INPUT_BASE + size);
  if (p[0] == JOB_MAGIC2) hdr_words = 8;
  else if (p[0] != JOB_MAGIC) fail("bad job file magic", p[0]);
  u64 njobs = p[1];
  u64 hdr[2] = {RES_MAGIC, njobs};
  write_words(hdr, 2);
  p += 2;
  const u64 *prev = 0;
  for (u64 j = 0; j < njobs; j++) {
    if (p + hdr_words > end) fail("job file truncated in job", j);
    const u64 *job = p;
    if (prev) unload(prev);
    u64 nchunks = job[5], nqueries = job[6];
    if (nqueries > MAX_QUERIES_PER_JOB) fail("too many queries in job", j);
    if (p + job_header_len(job) > end) fail("job file truncated in extra registers of job", j);
    p = job + job_header_len(job);
    for (u64 c = 0; c < nchunks; c++) {
      if (p + 2 > end) fail("job file truncated in chunk header of job", j);
      u64 words = check_chunk(p[0], p[1]);
      if (p + 2 + words > end) fail("job file truncated in chunk data of job", j);
      volatile u64 *d = (volatile u64 *)p[0];
      for (u64 i = 0; i < words; i++) d[i] = p[2 + i];
      p += 2 + words;
    }
    if (p + 2 * nqueries > end) fail("job file truncated in queries of job", j);
    __asm__ volatile("dsb sy" ::: "memory");
    /* Back to E2H=0 first: with E2H=1 the _EL1 register names below would reach the _EL2 ones. */
    __asm__ volatile("msr hcr_el2, %0; isb" ::"r"(HCR_RW));
    for (u64 id = FIRST_EL2_ID; id <= LAST_EL2_ID; id++)
      if (extras_written & (1UL << id)) set_el2(id, 0);
    /* Extra registers (TCR2/PIR/PIRE0/POR): TCR2_EL1 takes effect only with HCRX_EL2.TCR2En. The
       TLBI in set_el1_regs comes after every write. */
    for (u64 id = 1; id <= MAX_EXTRA_ID; id++)
      if (extras_written & (1UL << id)) set_extra(id, 0);
    extras_written = 0;
    if (hdr_words == 8 && job[7] > 0) {
      __asm__ volatile("msr s3_4_c1_c2_2, %0" ::"r"(1UL << 14)); /* HCRX_EL2.TCR2En */
      for (u64 e = 0; e < job[7]; e++) {
        u64 id = job[8 + 2 * e], v = job[9 + 2 * e];
        if (id < 1 || id > LAST_EL2_ID) fail("bad extra register id in job", j);
        if (id <= MAX_EXTRA_ID) set_extra(id, v);
        extras_written |= 1UL << id;
      }
    }
    set_el1_regs(job);
    /* EL2 registers after the EL1 ones (set_el1_regs resets HCR_EL2); HCR_EL2 last. */
    if (hdr_words == 8) {
      for (int pass = 0; pass < 2; pass++)
        for (u64 e = 0; e < job[7]; e++) {
          u64 id = job[8 + 2 * e], v = job[9 + 2 * e];
          if (id >= FIRST_EL2_ID && (pass == 1) == (id == 6)) set_el2(id, v);
        }
      __asm__ volatile("isb; tlbi alle2; tlbi alle1; dsb sy; isb" ::: "memory");
    }
    out_buf[0] = nqueries;
    for (u64 q = 0; q < nqueries; q++) {
      u64 va = p[2 * q], op = p[2 * q + 1];
      if (op > OP_LAST_AT && op != OP_READ_MMFR3) fail("bad AT op in job", j);
      u64 par, status = 0;
      if (op >= 10 && op <= 13) {
        /* The EL2 / EL2&0 regime: the EL2 MMU is on only inside the trampoline. */
        par = at_el2_probe(va, op - 10, g_sctlr_el2);
        if (g_tramp_exc) {
          status = STATUS_EXCEPTION | (g_tramp_esr & 0xffffffffUL);
          par = 0;
        }
      } else {
        u64 before = g_exc_count;
        par = at_probe(va, op);
        if (g_exc_count != before) {
          status = STATUS_EXCEPTION | (g_exc_esr & 0xffffffffUL);
          par = 0;
        }
      }
      out_buf[1 + 2 * q] = par;
      out_buf[2 + 2 * q] = status;
    }
    write_words(out_buf, 1 + 2 * nqueries);
    p += 2 * nqueries;
    prev = job;
  }
  u64 trailer[1] = {END_MAGIC};
  write_words(trailer, 1);
  u64 cp[1] = {out_handle};
  semihost(SYS_CLOSE, cp);
  quit(0);
}
