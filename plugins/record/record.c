/*
 * vmsa record: a QEMU TCG plugin (system mode, AArch64 guest) that writes the page-table
 * maintenance a guest performs to a binary trace (format: docs/trace-format.md):
 *   - stores into page-table pages (PA, 64-bit word after the store, access size, PC),
 *   - the content of a page at the moment it becomes a page-table page,
 *   - DSB / DMB / ISB, every TLBI with its Xt operand, DC CIVAC/CVAC/IVAC,
 *   - MSR to TTBR0_EL1, TTBR1_EL1, TCR_EL1, MAIR_EL1, SCTLR_EL1 (and VBAR_EL1),
 *   - exception entry (a translation block starting at a VBAR_EL1 vector slot) and ERET,
 *   - PSCI CPU_OFF (HVC/SMC with X0 = 0x84000002): the vCPU powers off.
 *
 * Which pages are page-table pages: the plugin keeps a shadow of guest RAM made of every store
 * it sees (RAM starts zeroed and the tables are built by the guest's own stores; DC ZVA, which
 * does not reach plugin memory callbacks, is applied to the shadow by translating its VA with the
 * shadow tables). From each CPU's TTBR0/TTBR1 and TCR it follows the table descriptors in the
 * shadow and reference-counts every table page reachable from any CPU's current TTBRs; a store
 * to a counted page is logged. When a table descriptor starts pointing at a page that is not yet
 * counted, the page's shadow content is logged first (a PAGE record), so the checker starts from
 * what the walker will read. See docs/trace-format.md for the trade-offs (hardware AF/DBM
 * updates are not stores and are not seen).
 *
 * vCPUs: run QEMU with multi-threaded TCG (the default for AArch64 guests; -accel tcg,thread=multi).
 * Every logged event is written under one lock, so the trace is one global order in which each
 * vCPU's events keep their program order, and an event a vCPU logged before a store that another
 * vCPU then observed (a lock release, a flag) is before everything that vCPU does afterwards. (Do
 * not use thread=single: QEMU 10.0 then bakes the index of the vCPU that translated a block into
 * the block's callbacks, so callbacks of one vCPU arrive with another's index: plugin-gen.c
 * gen_cpu_index() without CF_PARALLEL.)
 *
 * Accesses (optional, access=N with N > 0): data loads, data stores and instruction fetches (the
 * first instruction of each executed translation block) are logged as ACCESS records with their
 * VA when the VA lies in a range whose descriptor changed recently (a valid entry overwritten:
 * the last HOT_PAGES pages and HOT_RANGES larger ranges, HOT_BUDGET accesses each), and one in N
 * of the others per vCPU as a sample, so the checker's access-time rules (stale translation, TLB conflict, unsynchronized
 * store) run on a real guest. Which VA a descriptor translates is known from the table walk the
 * plugin does when a table becomes reachable (the first VA it was reached at).
 *
 * Arguments: out=FILE (required), ram_base=HEX (default 40000000), ram_size=HEX (default
 * 10000000), zva=DEC (DC ZVA block bytes, default 64), regs=on (print the register names),
 * access=DEC (log accesses: 0 off (default), else sample one in DEC besides recently changed VAs).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum {
    R_STORE = 1, R_PAGE = 2, R_BARRIER = 3, R_TLBI = 4, R_MSR = 5,
    R_EXC = 6, R_ERET = 7, R_DC = 8, R_ACCESS = 9, R_CPU_OFF = 10, R_END = 15,
};
enum { REG_TTBR0, REG_TTBR1, REG_TCR, REG_MAIR, REG_SCTLR, REG_VBAR };
enum { K_DSB, K_DMB, K_ISB };
enum { I_BARRIER, I_TLBI, I_MSR, I_ERET, I_DC, I_ZVA, I_PSCI };
#define PSCI_CPU_OFF 0x84000002ULL

#define MAX_CPUS 64
#define FRAME_SHIFT 12

struct insn_info {
    uint64_t pc;
    uint32_t enc;
    uint8_t kind;
};

struct cpu_state {
    uint64_t ttbr[2], tcr, sctlr, vbar;
    /* the root each TTBR holds a reference on (0: none) and its geometry */
    uint64_t root[2];
    int root_level[2];
    int root_gshift[2];
    unsigned root_n[2];
    struct qemu_plugin_register *x[31];
    struct qemu_plugin_register *elr;
};

static FILE *out;
static uint64_t ram_base = 0x40000000ULL, ram_size = 0x10000000ULL;
static uint64_t zva_bytes = 64;
static int show_regs;
static uint8_t *shadow;
/* per 4K frame of RAM: table level + 2 (0: not a table page), granule shift, reference count */
static uint8_t *tlevel;
static uint8_t *tgshift;
static uint32_t *trefs;
/* per 4K frame of a table page: the VA its first entry translates (first reached at) */
static uint64_t *tva;
/* accesses: 0 off, else one in `access_every` sampled per vCPU besides the recently changed VAs */
static uint64_t access_every;
static uint64_t access_count[MAX_CPUS];
static uint64_t accesses_hot, accesses_sampled;
#define HOT_PAGES 4096
#define HOT_RANGES 16
/* accesses logged per changed entry: the first ones after the change, while the old entry may
 * still be held, are the ones the checker can judge */
#define HOT_BUDGET 16
/* VA page numbers (VA >> 12, + 1 so 0 is empty) of recently changed page-sized entries, hashed;
 * larger ranges (blocks, tables) in a ring; each with the accesses it may still log. Written under
 * the lock, read without it (a torn read only changes whether one access is logged). */
static uint64_t hot_page[HOT_PAGES];
static uint32_t hot_page_left[HOT_PAGES];
static uint64_t hot_lo[HOT_RANGES], hot_hi[HOT_RANGES];
static uint32_t hot_left[HOT_RANGES];
static unsigned hot_next;
static struct cpu_state cpus[MAX_CPUS];
static int ncpus;
static uint64_t counts[16];
static uint64_t zva_unresolved, zva_table;
static __thread GByteArray *regbuf;
/* One lock orders every logged event of every vCPU thread (MTTCG): see the file comment. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- output ---- */

static void put8(uint8_t v) { fputc(v, out); }
static void put16(uint16_t v) { uint8_t b[2] = {v, v >> 8}; fwrite(b, 1, 2, out); }
static void put64(uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = v >> (8 * i);
    fwrite(b, 1, 8, out);
}
static void head(int type, unsigned cpu) { put8(type); put8(cpu); counts[type]++; }

/* ---- registers ---- */

static uint64_t read_reg(struct qemu_plugin_register *r)
{
    if (!r) return 0;
    if (!regbuf) regbuf = g_byte_array_new();
    g_byte_array_set_size(regbuf, 0);
    int n = qemu_plugin_read_register(r, regbuf);
    uint64_t v = 0;
    for (int i = 0; i < n && i < 8; i++) v |= (uint64_t)regbuf->data[i] << (8 * i);
    return v;
}

static uint64_t xreg(unsigned cpu, unsigned rt)
{
    return rt == 31 ? 0 : read_reg(cpus[cpu].x[rt]);
}

/* ---- shadow RAM ---- */

static int in_ram(uint64_t pa, uint64_t len)
{
    return pa >= ram_base && pa - ram_base < ram_size && len <= ram_size - (pa - ram_base);
}
static uint64_t sh64(uint64_t pa)
{
    uint64_t v;
    memcpy(&v, shadow + (pa - ram_base), 8);
    return v;
}
static uint64_t frame_of(uint64_t pa) { return (pa - ram_base) >> FRAME_SHIFT; }

/* ---- translation geometry (Arm ARM D8.2) ---- */

/* Granule shift of half h (0: TTBR0, 1: TTBR1) from TCR_EL1.TG0/TG1. */
static int gshift_of(uint64_t tcr, int h)
{
    if (h == 0) {
        unsigned tg0 = (tcr >> 14) & 3;
        return tg0 == 1 ? 16 : tg0 == 2 ? 14 : 12;
    }
    unsigned tg1 = (tcr >> 30) & 3;
    return tg1 == 3 ? 16 : tg1 == 1 ? 14 : 12;
}
static int tsz_of(uint64_t tcr, int h) { return (tcr >> (h ? 16 : 0)) & 63; }
static int ds_of(uint64_t tcr) { return (tcr >> 59) & 1; }

static int start_level(int ia_bits, int g)
{
    int stride = g - 3;
    int n = (ia_bits - g + stride - 1) / stride;
    return 4 - n;
}
static int shift_at(int g, int level) { return g + (g - 3) * (3 - level); }

/* Next-level table (or output) address of a descriptor. */
static uint64_t next_addr(uint64_t d, int g, int ds)
{
    uint64_t a = d & 0x0000fffffffff000ULL & ~((1ULL << g) - 1);
    if (g == 16) {
        a = (d & 0x0000ffffffff0000ULL) | (((d >> 12) & 0xf) << 48);
    } else if (ds) {
        a = (d & 0x0003fffffffff000ULL & ~((1ULL << g) - 1)) | (((d >> 8) & 3) << 50);
    }
    return a;
}

static int is_table(uint64_t d, int level) { return level < 3 && (d & 3) == 3; }

/* ---- table page reference counts ---- */

static void add_ref(uint64_t pa, int level, int g, unsigned cpu, uint64_t va);
static void drop_ref(uint64_t pa, int level, int g, int ds);

/* Entries of a table at `level`: a root may be smaller than a page. */
static unsigned entries_at(int g, int level, int root_ia_bits)
{
    if (root_ia_bits) return 1u << (root_ia_bits - shift_at(g, level));
    return 1u << (g - 3);
}

static void emit_page(uint64_t pa, int level, int g, unsigned cpu, unsigned n)
{
    uint16_t cnt = 0;
    for (unsigned i = 0; i < n; i++) if (sh64(pa + 8 * i)) cnt++;
    head(R_PAGE, cpu);
    put8((uint8_t)(int8_t)level);
    put8(g);
    put64(pa);
    put16(n - 1);
    put16(cnt);
    for (unsigned i = 0; i < n; i++) {
        uint64_t v = sh64(pa + 8 * i);
        if (v) { put16(i); put64(v); }
    }
}

static void add_ref_n(uint64_t pa, int level, int g, unsigned cpu, unsigned n, uint64_t va)
{
    if (!in_ram(pa, (uint64_t)n * 8)) return;
    uint64_t f = frame_of(pa);
    if (trefs[f]++ > 0) return;
    uint64_t span = (uint64_t)n * 8;
    int esh = shift_at(g, level);
    for (uint64_t o = 0; o < span; o += 1u << FRAME_SHIFT) {
        tlevel[frame_of(pa + o)] = level + 2;
        tgshift[frame_of(pa + o)] = g;
        tva[frame_of(pa + o)] = va + ((o / 8) << esh);
    }
    emit_page(pa, level, g, cpu, n);
    if (level >= 3) return;
    int ds = ds_of(cpus[cpu].tcr);
    for (unsigned i = 0; i < n; i++) {
        uint64_t d = sh64(pa + 8 * i);
        if (is_table(d, level)) add_ref(next_addr(d, g, ds), level + 1, g, cpu, va + ((uint64_t)i << esh));
    }
}

static void add_ref(uint64_t pa, int level, int g, unsigned cpu, uint64_t va)
{
    add_ref_n(pa, level, g, cpu, 1u << (g - 3), va);
}

static void drop_ref_n(uint64_t pa, int level, int g, unsigned n, int ds)
{
    if (!in_ram(pa, (uint64_t)n * 8)) return;
    uint64_t f = frame_of(pa);
    if (trefs[f] == 0 || --trefs[f] > 0) return;
    uint64_t span = (uint64_t)n * 8;
    for (uint64_t o = 0; o < span; o += 1u << FRAME_SHIFT) tlevel[frame_of(pa + o)] = 0;
    if (level >= 3) return;
    for (unsigned i = 0; i < n; i++) {
        uint64_t d = sh64(pa + 8 * i);
        if (is_table(d, level)) drop_ref_n(next_addr(d, g, ds), level + 1, g, 1u << (g - 3), ds);
    }
}

static void drop_ref(uint64_t pa, int level, int g, int ds)
{
    drop_ref_n(pa, level, g, 1u << (g - 3), ds);
}

/* Root of half h of a CPU from its TTBR and TCR (BADDR; with DS, bits [5:2] are PA[51:48]). */
static void reroot(unsigned cpu, int h)
{
    struct cpu_state *c = &cpus[cpu];
    uint64_t tcr = c->tcr;
    int g = gshift_of(tcr, h);
    int ia = 64 - tsz_of(tcr, h);
    int ds = ds_of(tcr);
    int lvl = start_level(ia, g);
    uint64_t t = c->ttbr[h];
    uint64_t base = t & 0x0000fffffffffffeULL & ~0x3fULL;
    if (ds || g == 16) base |= ((t >> 2) & 0xf) << 48;
    base &= 0x000fffffffffffc0ULL;
    unsigned n = entries_at(g, lvl, ia);
    if (tsz_of(tcr, h) == 0 || ia < g) n = 0; /* TCR not set up yet */
    uint64_t old = c->root[h];
    int ol = c->root_level[h], og = c->root_gshift[h];
    /* TTBR1 translates the top 2^ia bytes of the VA space, TTBR0 the bottom ones */
    uint64_t va0 = h && ia < 64 ? ~0ULL << ia : 0;
    if (n && base) add_ref_n(base, lvl, g, cpu, n, va0);
    if (old) drop_ref_n(old, ol, og, c->root_n[h], ds);
    c->root[h] = n ? base : 0;
    c->root_level[h] = lvl;
    c->root_gshift[h] = g;
    c->root_n[h] = n;
}

/* ---- stores ---- */

/*
 * A 64-bit word of RAM changed from `old` to `new` (shadow already updated): log it when it lies
 * in a table page, and keep the reference counts of the tables it points to.
 */
static void hot_add(uint64_t va, int shift)
{
    if (shift <= FRAME_SHIFT) {
        uint64_t vpn = va >> FRAME_SHIFT;
        unsigned h = (vpn * 0x9e3779b97f4a7c15ULL) >> 52;
        __atomic_store_n(&hot_page[h], vpn + 1, __ATOMIC_RELAXED);
        __atomic_store_n(&hot_page_left[h], HOT_BUDGET, __ATOMIC_RELAXED);
        return;
    }
    unsigned i = hot_next++ % HOT_RANGES;
    __atomic_store_n(&hot_left[i], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hot_lo[i], va, __ATOMIC_RELAXED);
    __atomic_store_n(&hot_hi[i], va + ((1ULL << shift) - 1), __ATOMIC_RELAXED);
    __atomic_store_n(&hot_left[i], HOT_BUDGET, __ATOMIC_RELAXED);
}

/* Take one access from a budget; 0 when it is spent. */
static int take(uint32_t *left)
{
    uint32_t n = __atomic_load_n(left, __ATOMIC_RELAXED);
    while (n > 0) {
        if (__atomic_compare_exchange_n(left, &n, n - 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return 1;
    }
    return 0;
}

static int hot_has(uint64_t va)
{
    uint64_t vpn = va >> FRAME_SHIFT;
    unsigned h = (vpn * 0x9e3779b97f4a7c15ULL) >> 52;
    if (__atomic_load_n(&hot_page[h], __ATOMIC_RELAXED) == vpn + 1 && take(&hot_page_left[h])) return 1;
    for (unsigned i = 0; i < HOT_RANGES; i++) {
        if (va >= __atomic_load_n(&hot_lo[i], __ATOMIC_RELAXED) && va <= __atomic_load_n(&hot_hi[i], __ATOMIC_RELAXED) && take(&hot_left[i]))
            return 1;
    }
    return 0;
}

static void word_changed(unsigned cpu, uint64_t pa, uint64_t old, uint64_t new, unsigned size_log2, uint64_t pc)
{
    uint64_t f = frame_of(pa);
    int lv = (int)tlevel[f] - 2;
    if (tlevel[f] == 0) return;
    int g = tgshift[f];
    int ds = ds_of(cpus[cpu].tcr);
    int esh = shift_at(g, lv);
    uint64_t va = tva[f] + (((pa & ((1u << FRAME_SHIFT) - 1)) / 8) << esh);
    /* a valid entry changed: accesses through its VA range may use the old one for a while */
    if (access_every && (old & 1) && new != old) hot_add(va, esh);
    if (is_table(new, lv) && new != old) add_ref(next_addr(new, g, ds), lv + 1, g, cpu, va);
    head(R_STORE, cpu);
    put8(size_log2);
    put64(pa);
    put64(new);
    put64(pc);
    if (is_table(old, lv) && new != old) drop_ref(next_addr(old, g, ds), lv + 1, g, ds);
}

static void shadow_store(unsigned cpu, uint64_t pa, const uint8_t *bytes, unsigned len, unsigned size_log2, uint64_t pc)
{
    if (!in_ram(pa, len)) return;
    uint64_t first = pa & ~7ULL, last = (pa + len - 1) & ~7ULL;
    for (uint64_t w = first; w <= last; w += 8) {
        uint64_t old = sh64(w);
        uint64_t lo = w < pa ? pa : w;
        uint64_t hi = w + 8 < pa + len ? w + 8 : pa + len;
        memcpy(shadow + (lo - ram_base), bytes + (lo - pa), hi - lo);
        uint64_t new = sh64(w);
        if (tlevel[frame_of(w)]) word_changed(cpu, w, old, new, size_log2, pc);
    }
}

/* kind: 0 read, 1 write, 2 fetch; bit 4: EL0 permissions (a user PC, or a kernel PC reaching a
 * user VA: LDTR/STTR uaccess) */
static void access(unsigned cpu, unsigned kind, uint64_t va, uint64_t pc)
{
    int hot = hot_has(va);
    if (!hot && ++access_count[cpu] % access_every) return;
    unsigned el0 = !((pc >> 63) && (va >> 63));
    pthread_mutex_lock(&lock);
    if (hot) accesses_hot++;
    else accesses_sampled++;
    head(R_ACCESS, cpu);
    put8(kind | (el0 << 4));
    put64(va);
    put64(pc);
    pthread_mutex_unlock(&lock);
}

static void on_load(unsigned int cpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    if (cpu < MAX_CPUS) access(cpu, 0, vaddr, (uint64_t)(uintptr_t)udata);
}

static void on_tb_exec(unsigned int cpu, void *udata)
{
    uint64_t pc = (uint64_t)(uintptr_t)udata;
    if (cpu < MAX_CPUS) access(cpu, 2, pc, pc);
}

static void on_store(unsigned int cpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    if (access_every && cpu < MAX_CPUS) access(cpu, 1, vaddr, (uint64_t)(uintptr_t)udata);
    struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
    if (!hw || qemu_plugin_hwaddr_is_io(hw)) return;
    uint64_t pa = qemu_plugin_hwaddr_phys_addr(hw);
    qemu_plugin_mem_value v = qemu_plugin_mem_get_value(info);
    unsigned sl = qemu_plugin_mem_size_shift(info);
    uint8_t b[16];
    unsigned len = 1u << sl;
    if (len > 16) return;
    switch (v.type) {
    case QEMU_PLUGIN_MEM_VALUE_U8: b[0] = v.data.u8; break;
    case QEMU_PLUGIN_MEM_VALUE_U16: memcpy(b, &v.data.u16, 2); break;
    case QEMU_PLUGIN_MEM_VALUE_U32: memcpy(b, &v.data.u32, 4); break;
    case QEMU_PLUGIN_MEM_VALUE_U64: memcpy(b, &v.data.u64, 8); break;
    case QEMU_PLUGIN_MEM_VALUE_U128:
        memcpy(b, &v.data.u128.low, 8);
        memcpy(b + 8, &v.data.u128.high, 8);
        break;
    }
    if (qemu_plugin_mem_is_big_endian(info)) {
        for (unsigned i = 0; i < len / 2; i++) { uint8_t t = b[i]; b[i] = b[len - 1 - i]; b[len - 1 - i] = t; }
    }
    if (!in_ram(pa, len)) return;
    /* Most stores are to data pages: update the shadow without the lock. A page becomes a table
     * page only after the guest finished writing it (and ordered that with a barrier). */
    if (!tlevel[frame_of(pa)] && !tlevel[frame_of(pa + len - 1)]) {
        memcpy(shadow + (pa - ram_base), b, len);
        return;
    }
    pthread_mutex_lock(&lock);
    shadow_store(cpu, pa, b, len, sl, (uint64_t)(uintptr_t)udata);
    pthread_mutex_unlock(&lock);
}

/* Translate a VA with CPU `cpu`'s registers over the shadow tables (for DC ZVA); 0 on failure. */
static int shadow_walk(unsigned cpu, uint64_t va, uint64_t *pa)
{
    struct cpu_state *c = &cpus[cpu];
    if (!(c->sctlr & 1)) { *pa = va; return 1; }
    int h = (va >> 55) & 1;
    int g = gshift_of(c->tcr, h);
    int ia = 64 - tsz_of(c->tcr, h);
    int ds = ds_of(c->tcr);
    int lvl = start_level(ia, g);
    uint64_t table = c->root[h];
    if (!table) return 0;
    for (;;) {
        int sh = shift_at(g, lvl);
        int bits = lvl == start_level(ia, g) ? ia - sh : g - 3;
        uint64_t idx = (va >> sh) & ((1ULL << bits) - 1);
        uint64_t dpa = table + 8 * idx;
        if (!in_ram(dpa, 8)) return 0;
        uint64_t d = sh64(dpa);
        if (!(d & 1)) return 0;
        if (is_table(d, lvl)) { table = next_addr(d, g, ds); lvl++; continue; }
        if (lvl == 3 && (d & 3) != 3) return 0;
        uint64_t oa = next_addr(d, g, ds) & ~((1ULL << sh) - 1);
        *pa = oa | (va & ((1ULL << sh) - 1));
        return 1;
    }
}

static void dc_zva(unsigned cpu, uint64_t va, uint64_t pc)
{
    va &= ~(zva_bytes - 1);
    uint64_t pa;
    if (!shadow_walk(cpu, va, &pa)) {
        /* A user address not mapped yet faults and is retried after the fault (not counted). */
        if (!(va >> 55)) return;
        if (show_regs && zva_unresolved < 20) fprintf(stderr, "vmsa-record: DC ZVA %" PRIx64 " at %" PRIx64 " unresolved\n", va, pc);
        zva_unresolved++;
        return;
    }
    if (!in_ram(pa, zva_bytes)) return;
    static uint8_t zeros[256];
    if (tlevel[frame_of(pa)]) zva_table++;
    for (uint64_t o = 0; o < zva_bytes; o += 8) {
        if (sh64(pa + o) == 0) continue;
        shadow_store(cpu, pa + o, zeros, 8, 3, pc);
    }
}

/* ---- instructions ---- */

static void on_insn_locked(unsigned int cpu, const struct insn_info *ii);

static void on_insn(unsigned int cpu, void *udata)
{
    pthread_mutex_lock(&lock);
    on_insn_locked(cpu, udata);
    pthread_mutex_unlock(&lock);
}

static void on_insn_locked(unsigned int cpu, const struct insn_info *ii)
{
    uint32_t e = ii->enc;
    unsigned rt = e & 31;
    switch (ii->kind) {
    case I_BARRIER: {
        unsigned op2 = (e >> 5) & 7, crm = (e >> 8) & 15;
        head(R_BARRIER, cpu);
        put8((op2 == 4 ? K_DSB : op2 == 5 ? K_DMB : K_ISB) | (crm << 4));
        put64(ii->pc);
        break;
    }
    case I_TLBI: {
        unsigned op1 = (e >> 16) & 7, crm = (e >> 8) & 15, op2 = (e >> 5) & 7;
        head(R_TLBI, cpu);
        put16((op1 << 7) | (crm << 3) | op2);
        put64(xreg(cpu, rt));
        put64(ii->pc);
        break;
    }
    case I_DC: {
        unsigned crm = (e >> 8) & 15, op2 = (e >> 5) & 7;
        head(R_DC, cpu);
        put8(crm == 6 ? 2 : crm == 14 ? 1 : 0); /* IVAC 2, CIVAC 1, CVAC 0 */
        (void)op2;
        put64(xreg(cpu, rt));
        put64(ii->pc);
        break;
    }
    case I_ZVA:
        dc_zva(cpu, xreg(cpu, rt), ii->pc);
        break;
    case I_MSR: {
        unsigned op1 = (e >> 16) & 7, crn = (e >> 12) & 15, crm = (e >> 8) & 15, op2 = (e >> 5) & 7;
        uint64_t v = xreg(cpu, rt);
        struct cpu_state *c = &cpus[cpu];
        int reg = -1;
        if (op1 == 0 && crn == 2 && crm == 0 && op2 <= 2) reg = op2; /* TTBR0, TTBR1, TCR */
        else if (op1 == 0 && crn == 10 && crm == 2 && op2 == 0) reg = REG_MAIR;
        else if (op1 == 0 && crn == 1 && crm == 0 && op2 == 0) reg = REG_SCTLR;
        else if (op1 == 0 && crn == 12 && crm == 0 && op2 == 0) reg = REG_VBAR;
        if (reg < 0) return;
        head(R_MSR, cpu);
        put8(reg);
        put64(v);
        put64(ii->pc);
        if (reg == REG_TTBR0 || reg == REG_TTBR1) { c->ttbr[reg] = v; reroot(cpu, reg); }
        else if (reg == REG_TCR) {
            c->tcr = v;
            reroot(cpu, 0);
            reroot(cpu, 1);
        } else if (reg == REG_SCTLR) c->sctlr = v;
        else if (reg == REG_VBAR) c->vbar = v;
        break;
    }
    case I_ERET:
        head(R_ERET, cpu);
        put64(ii->pc);
        break;
    case I_PSCI: {
        /* PSCI CPU_OFF (HVC or SMC, function ID in X0): the vCPU powers off; its tables are no
         * longer reached from it (it comes back through reset and its own MSRs) */
        if (xreg(cpu, 0) != PSCI_CPU_OFF) break;
        struct cpu_state *c = &cpus[cpu];
        head(R_CPU_OFF, cpu);
        put64(ii->pc);
        c->ttbr[0] = c->ttbr[1] = 0;
        reroot(cpu, 0);
        reroot(cpu, 1);
        c->sctlr = 0;
        break;
    }
    }
}

/* A translation block starting at a vector slot of VBAR_EL1: an exception was taken to EL1. */
static void on_vector(unsigned int cpu, void *udata)
{
    uint64_t pc = (uint64_t)(uintptr_t)udata;
    struct cpu_state *c = &cpus[cpu];
    uint64_t off = pc - c->vbar;
    if (c->vbar == 0 || off >= 0x800 || (off & 0x7f)) return;
    uint64_t elr = read_reg(c->elr);
    pthread_mutex_lock(&lock);
    head(R_EXC, cpu);
    put8(off >> 7);
    put64(pc);
    put64(elr);
    pthread_mutex_unlock(&lock);
}

static int classify(uint32_t e)
{
    if ((e & 0xfffff01f) == 0xd503301f) {
        unsigned op2 = (e >> 5) & 7;
        if (op2 >= 4 && op2 <= 6) return I_BARRIER; /* DSB, DMB, ISB */
        return -1;
    }
    if ((e & 0xfff80000) == 0xd5080000) { /* SYS, op0 = 1 */
        unsigned op1 = (e >> 16) & 7, crn = (e >> 12) & 15, crm = (e >> 8) & 15, op2 = (e >> 5) & 7;
        if (crn == 8 && (op1 == 0)) return I_TLBI;
        if (crn == 7 && op1 == 3 && crm == 4 && op2 == 1) return I_ZVA;
        if (crn == 7 && op1 == 3 && op2 == 1 && (crm == 10 || crm == 14)) return I_DC; /* CVAC, CIVAC */
        if (crn == 7 && op1 == 0 && op2 == 1 && crm == 6) return I_DC; /* IVAC */
        return -1;
    }
    if ((e & 0xfff80000) == 0xd5180000) return I_MSR; /* MSR (register), op0 = 3 */
    if (e == 0xd69f03e0) return I_ERET;
    if ((e & 0xffe0001e) == 0xd4000002) return I_PSCI; /* HVC or SMC #imm */
    return -1;
}

static uint64_t vbar_any(void)
{
    for (int i = 0; i < ncpus; i++) if (cpus[i].vbar) return cpus[i].vbar;
    return 0;
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t tbpc = qemu_plugin_tb_vaddr(tb);
    uint64_t vb = vbar_any();
    if (vb && tbpc - vb < 0x800 && !((tbpc - vb) & 0x7f))
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_vector, QEMU_PLUGIN_CB_R_REGS, (void *)(uintptr_t)tbpc);
    if (access_every) qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)tbpc);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        uint32_t e = 0;
        if (qemu_plugin_insn_size(insn) == 4) qemu_plugin_insn_data(insn, &e, 4);
        qemu_plugin_register_vcpu_mem_cb(insn, on_store, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_W, (void *)(uintptr_t)pc);
        if (access_every) qemu_plugin_register_vcpu_mem_cb(insn, on_load, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_R, (void *)(uintptr_t)pc);
        int k = classify(e);
        if (k < 0) continue;
        struct insn_info *ii = g_new(struct insn_info, 1);
        ii->pc = pc;
        ii->enc = e;
        ii->kind = k;
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn, QEMU_PLUGIN_CB_R_REGS, ii);
    }
}

/* ---- setup ---- */

static void on_vcpu_init(qemu_plugin_id_t id, unsigned int cpu)
{
    if (cpu >= MAX_CPUS) return;
    pthread_mutex_lock(&lock);
    if ((int)cpu + 1 > ncpus) ncpus = cpu + 1;
    GArray *regs = qemu_plugin_get_registers();
    for (guint i = 0; i < regs->len; i++) {
        qemu_plugin_reg_descriptor *d = &g_array_index(regs, qemu_plugin_reg_descriptor, i);
        if (show_regs && cpu == 0) fprintf(stderr, "vmsa-record: register %s (%s)\n", d->name, d->feature);
        if (d->name[0] == 'x' && d->name[1] >= '0' && d->name[1] <= '9') {
            int n = atoi(d->name + 1);
            if (n >= 0 && n < 31) cpus[cpu].x[n] = d->handle;
        } else if (!strcmp(d->name, "ELR_EL1")) cpus[cpu].elr = d->handle;
    }
    g_array_free(regs, TRUE);
    if (!cpus[cpu].x[0]) fprintf(stderr, "vmsa-record: no x0 register handle on vCPU %u\n", cpu);
    pthread_mutex_unlock(&lock);
}

static void on_exit_cb(qemu_plugin_id_t id, void *p)
{
    pthread_mutex_lock(&lock);
    head(R_END, 0);
    for (int i = 0; i < 16; i++) put64(counts[i]);
    put64(zva_unresolved);
    fflush(out);
    fclose(out);
    fprintf(stderr, "vmsa-record: %" PRIu64 " stores, %" PRIu64 " pages, %" PRIu64 " barriers, %" PRIu64 " TLBIs, %" PRIu64
            " MSRs, %" PRIu64 " exceptions, %" PRIu64 " ERETs; DC ZVA: %" PRIu64 " on table pages, %" PRIu64 " unresolved\n",
            counts[R_STORE], counts[R_PAGE], counts[R_BARRIER], counts[R_TLBI], counts[R_MSR], counts[R_EXC], counts[R_ERET],
            zva_table, zva_unresolved);
    if (access_every)
        fprintf(stderr, "vmsa-record: accesses: %" PRIu64 " to recently changed VAs, %" PRIu64 " sampled (one in %" PRIu64 ")\n",
                accesses_hot, accesses_sampled, access_every);
    pthread_mutex_unlock(&lock);
}

static int parse_u64(const char *s, int base, uint64_t *v)
{
    char *end;
    errno = 0;
    if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
    unsigned long long x = strtoull(s, &end, base);
    if (errno || *s == 0 || *end != 0) return 0;
    *v = x;
    return 1;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    const char *path = NULL;
    if (strcmp(info->target_name, "aarch64") != 0 || !info->system_emulation) {
        fprintf(stderr, "vmsa-record: needs qemu-system-aarch64 (got %s)\n", info->target_name);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) { fprintf(stderr, "vmsa-record: argument %s: expected KEY=VALUE\n", argv[i]); return -1; }
        size_t kl = eq - argv[i];
        const char *v = eq + 1;
        int ok = 1;
        if (kl == 3 && !strncmp(argv[i], "out", 3)) path = v;
        else if (kl == 8 && !strncmp(argv[i], "ram_base", 8)) ok = parse_u64(v, 16, &ram_base);
        else if (kl == 8 && !strncmp(argv[i], "ram_size", 8)) ok = parse_u64(v, 16, &ram_size);
        else if (kl == 3 && !strncmp(argv[i], "zva", 3)) ok = parse_u64(v, 10, &zva_bytes) && zva_bytes >= 8 && zva_bytes <= 256 && !(zva_bytes & (zva_bytes - 1));
        else if (kl == 4 && !strncmp(argv[i], "regs", 4)) { bool b; ok = qemu_plugin_bool_parse("regs", v, &b); show_regs = b; }
        else if (kl == 6 && !strncmp(argv[i], "access", 6)) ok = parse_u64(v, 10, &access_every);
        else { fprintf(stderr, "vmsa-record: unknown argument %s\n", argv[i]); return -1; }
        if (!ok) { fprintf(stderr, "vmsa-record: bad value in %s\n", argv[i]); return -1; }
    }
    if (!path) { fprintf(stderr, "vmsa-record: out=FILE is required\n"); return -1; }
    if (ram_size == 0 || (ram_size & 0xfff) || (ram_base & 0xfff)) { fprintf(stderr, "vmsa-record: ram_base/ram_size must be 4K aligned\n"); return -1; }
    out = fopen(path, "wb");
    if (!out) { fprintf(stderr, "vmsa-record: %s: %s\n", path, strerror(errno)); return -1; }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    shadow = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint64_t frames = ram_size >> FRAME_SHIFT;
    tlevel = calloc(frames, 1);
    tgshift = calloc(frames, 1);
    trefs = calloc(frames, sizeof *trefs);
    tva = calloc(frames, sizeof *tva);
    if (shadow == MAP_FAILED || !tlevel || !tgshift || !trefs || !tva) { fprintf(stderr, "vmsa-record: out of memory\n"); return -1; }
    int n = info->system.max_vcpus;
    /* header: magic, version, vCPUs, flags, RAM base and size */
    fwrite("VMSATRC1", 1, 8, out);
    put16(1);
    put16(n);
    put16(0);
    put16(0);
    put64(ram_base);
    put64(ram_size);
    qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
