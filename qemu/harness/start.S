/*
 * Entry, EL2 exception vectors and the AT probes of the vmsa AT harness.
 * QEMU (-M virt,virtualization=on, no secure) enters _start at EL2 with the EL2 MMU off.
 */
	.section .text.boot, "ax"
	.global _start
_start:
	ldr	x0, =__stack_top
	mov	sp, x0
	adr	x0, el2_vectors
	msr	vbar_el2, x0
	isb
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	bl	harness_main
3:	wfi
	b	3b

/*
 * uint64_t at_probe(uint64_t va, unsigned op): issue one AT for the EL1&0 regime, then read
 * PAR_EL1 after an ISB. op: 0 S1E1R, 1 S1E1W, 2 S1E0R, 3 S1E0W, 4 S1E1RP, 5 S1E1WP (FEAT_PAN2:
 * they take PSTATE.PAN into account, so PSTATE.PAN is set around them); 15 returns
 * ID_AA64MMFR3_EL1 instead (no AT). If the AT takes a
 * synchronous exception (external abort on the walk), sync_el2 records it and resumes after it.
 */
	.text
	.global at_probe
at_probe:
	cmp	w1, #1
	b.eq	.Lw1
	cmp	w1, #2
	b.eq	.Lr0
	cmp	w1, #3
	b.eq	.Lw0
	cmp	w1, #4
	b.eq	.Lrp
	cmp	w1, #5
	b.eq	.Lwp
	cmp	w1, #15
	b.eq	.Lmmfr3
	cmp	w1, #6
	b.eq	.Ls12r1
	cmp	w1, #7
	b.eq	.Ls12w1
	cmp	w1, #8
	b.eq	.Ls12r0
	cmp	w1, #9
	b.eq	.Ls12w0
	.global at_insn_e1r
at_insn_e1r:
	at	s1e1r, x0
	b	.Ldone
	.global at_insn_e1w
.Lw1:
at_insn_e1w:
	at	s1e1w, x0
	b	.Ldone
.Lr0:
	.global at_insn_e0r
at_insn_e0r:
	at	s1e0r, x0
	b	.Ldone
.Lw0:
	.global at_insn_e0w
at_insn_e0w:
	at	s1e0w, x0
	b	.Ldone
.Lrp:
	msr	pan, #1
	.global at_insn_e1rp
at_insn_e1rp:
	at	s1e1rp, x0
	msr	pan, #0
	b	.Ldone
.Lwp:
	msr	pan, #1
	.global at_insn_e1wp
at_insn_e1wp:
	at	s1e1wp, x0
	msr	pan, #0
	b	.Ldone
/* ops 6-9: both stages of the EL1&0 regime (HCR_EL2.VM set by the job) */
.Ls12r1:
	.global at_insn_s12e1r
at_insn_s12e1r:
	at	s12e1r, x0
	b	.Ldone
.Ls12w1:
	.global at_insn_s12e1w
at_insn_s12e1w:
	at	s12e1w, x0
	b	.Ldone
.Ls12r0:
	.global at_insn_s12e0r
at_insn_s12e0r:
	at	s12e0r, x0
	b	.Ldone
.Ls12w0:
	.global at_insn_s12e0w
at_insn_s12e0w:
	at	s12e0w, x0
.Ldone:
	isb
	mrs	x0, par_el1
	ret
.Lmmfr3:
	mrs	x0, s3_0_c0_c7_3	/* ID_AA64MMFR3_EL1 */
	ret

/* void set_el1_regs(const uint64_t r[5]): TTBR0, TTBR1, TCR, MAIR, SCTLR of EL1; stage 2 off. */
	.global set_el1_regs
set_el1_regs:
	mov	x9, #(1 << 31)		/* HCR_EL2: RW=1 (EL1 is AArch64), VM=0, E2H=0, TGE=0 */
	msr	hcr_el2, x9
	msr	sctlr_el1, xzr		/* MMU off while the regime is reprogrammed */
	isb
	ldr	x9, [x0, #0]
	msr	ttbr0_el1, x9
	ldr	x9, [x0, #8]
	msr	ttbr1_el1, x9
	ldr	x9, [x0, #16]
	msr	tcr_el1, x9
	ldr	x9, [x0, #24]
	msr	mair_el1, x9
	isb
	ldr	x9, [x0, #32]
	msr	sctlr_el1, x9
	isb
	tlbi	vmalle1
	dsb	sy
	isb
	ret

/* void semihost(unsigned op, void *param) -> x0: Arm semihosting call (HLT #0xF000 on A64). */
	.global semihost
semihost:
	hlt	#0xf000
	ret

/*
 * EL2 vector table. Only a synchronous exception from the current EL (SP_EL2) at one of the AT
 * instructions is expected; it is recorded (g_exc_esr, g_exc_count) and skipped. Everything
 * else goes to fatal_exception, which reports through semihosting and exits.
 */
	.balign 2048
el2_vectors:
	.irp idx, 0, 1, 2, 3
	.balign 128
	mov	x0, #\idx
	b	unexpected
	.endr
	.balign 128
	b	sync_el2		/* 0x200: current EL, SPx, synchronous */
	.irp idx, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	.balign 128
	mov	x0, #\idx
	b	unexpected
	.endr

sync_el2:
	stp	x0, x1, [sp, #-32]!
	str	x2, [sp, #16]
	mrs	x0, elr_el2
	ldr	x1, =at_insn_e1r
	cmp	x0, x1
	b.eq	.Lrecord
	ldr	x1, =at_insn_e1w
	cmp	x0, x1
	b.eq	.Lrecord
	ldr	x1, =at_insn_e0r
	cmp	x0, x1
	b.eq	.Lrecord
	ldr	x1, =at_insn_e0w
	cmp	x0, x1
	b.eq	.Lrecord
	ldr	x1, =at_insn_e1rp
	cmp	x0, x1
	b.eq	.Lrecord
	ldr	x1, =at_insn_e1wp
	cmp	x0, x1
	b.eq	.Lrecord
	ldr	x1, =at_insn_s12e1r
	cmp	x0, x1
	b.eq	.Lrecord
	ldr	x1, =at_insn_s12e1w
	cmp	x0, x1
	b.eq	.Lrecord
	ldr	x1, =at_insn_s12e0r
	cmp	x0, x1
	b.eq	.Lrecord
	ldr	x1, =at_insn_s12e0w
	cmp	x0, x1
	b.eq	.Lrecord
	mov	x0, #4
	b	unexpected
.Lrecord:
	add	x0, x0, #4
	msr	elr_el2, x0
	mrs	x0, esr_el2
	ldr	x1, =g_exc_esr
	str	x0, [x1]
	ldr	x1, =g_exc_count
	ldr	x2, [x1]
	add	x2, x2, #1
	str	x2, [x1]
	ldr	x2, [sp, #16]
	ldp	x0, x1, [sp], #32
	eret

unexpected:
	mrs	x1, esr_el2
	mrs	x2, elr_el2
	mrs	x3, far_el2
	ldr	x9, =__stack_top
	mov	sp, x9
	bl	fatal_exception
4:	wfi
	b	4b

/*
 * The EL2-regime trampoline (ops 10-13): one 4 KiB page at TRAMP_BASE (layout.h) that every EL2 /
 * EL2&0 job maps VA = PA, read-only and executable. at_el2_probe turns the EL2 MMU on with the
 * job's SCTLR_EL2, issues one AT of the EL2 or EL2&0 regime, reads PAR_EL1 and turns the MMU off
 * again; nothing in between touches memory. Its own vector table records a synchronous exception
 * at the AT in registers (x12 ESR, x13 flag) and resumes after it; anything else turns the MMU off
 * and reports through `unexpected`.
 *
 * uint64_t at_el2_probe(uint64_t va, unsigned op, uint64_t sctlr): op 0 S1E2R, 1 S1E2W,
 * 2 S1E0R, 3 S1E0W (in EL2&0 with E2H=TGE=1). Exception: g_tramp_exc=1, g_tramp_esr=ESR_EL2.
 */
	.section .text.tramp, "ax"
	.balign 2048
tramp_vectors:
	.irp idx, 0, 1, 2, 3
	.balign 128
	mov	x0, #(0x100 + \idx)
	b	tramp_unexpected
	.endr
	.balign 128
	b	tramp_sync		/* 0x200: current EL, SPx, synchronous */
	.irp idx, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	.balign 128
	mov	x0, #(0x100 + \idx)
	b	tramp_unexpected
	.endr

	.global at_el2_probe
at_el2_probe:
	mrs	x9, sctlr_el2
	mrs	x10, vbar_el2
	adr	x11, tramp_vectors
	mov	x13, #0
	mov	x12, #0
	msr	vbar_el2, x11
	isb
	msr	sctlr_el2, x2
	isb
	cmp	w1, #1
	b.eq	1f
	cmp	w1, #2
	b.eq	2f
	cmp	w1, #3
	b.eq	3f
tramp_at_e2r:
	at	s1e2r, x0
	b	4f
1:
tramp_at_e2w:
	at	s1e2w, x0
	b	4f
2:
tramp_at_e0r:
	at	s1e0r, x0
	b	4f
3:
tramp_at_e0w:
	at	s1e0w, x0
4:	isb
	mrs	x0, par_el1
	msr	sctlr_el2, x9
	isb
	msr	vbar_el2, x10
	isb
	adrp	x11, g_tramp_exc
	add	x11, x11, :lo12:g_tramp_exc
	str	x13, [x11]
	adrp	x11, g_tramp_esr
	add	x11, x11, :lo12:g_tramp_esr
	str	x12, [x11]
	ret

tramp_sync:
	mrs	x14, elr_el2
	adr	x15, tramp_at_e2r
	cmp	x14, x15
	b.eq	5f
	adr	x15, tramp_at_e2w
	cmp	x14, x15
	b.eq	5f
	adr	x15, tramp_at_e0r
	cmp	x14, x15
	b.eq	5f
	adr	x15, tramp_at_e0w
	cmp	x14, x15
	b.eq	5f
	mov	x0, #0x104
	b	tramp_unexpected
5:	add	x14, x14, #4
	msr	elr_el2, x14
	mrs	x12, esr_el2
	mov	x13, #1
	eret

tramp_unexpected:
	msr	sctlr_el2, xzr
	isb
	b	unexpected

	.data
	.balign 8
	.global g_tramp_exc
g_tramp_exc:	.quad 0
	.global g_tramp_esr
g_tramp_esr:	.quad 0
