/*
 * One local APIC (apic/vlapic.c) against the SDM vol. 3 ch. 11: every register's
 * rules, priorities, EOI, ESR, x2APIC MSRs, IA32_APIC_BASE, the three timer
 * modes on a fake clock, Apple's ctrl bits, saved state, and a random
 * IRR/ISR/TPR sequence against a reference priority model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "apic/vintr.h"
#include "apic/vlapic.h"

#define NCPU		4
#define TSC_HZ		2000000000ull	/* 2 ticks per cycle of the default 1 GHz bus */

#define ID		0x020
#define VER		0x030
#define TPR		0x080
#define APR		0x090
#define PPR		0x0a0
#define EOI		0x0b0
#define RRD		0x0c0
#define LDR		0x0d0
#define DFR		0x0e0
#define SVR		0x0f0
#define ISR0		0x100
#define TMR0		0x180
#define IRR0		0x200
#define ESR		0x280
#define LVT_CMCI	0x2f0
#define ICR_LO		0x300
#define ICR_HI		0x310
#define LVT_TIMER	0x320
#define LVT_THERM	0x330
#define LVT_PMC		0x340
#define LVT_LINT0	0x350
#define LVT_LINT1	0x360
#define LVT_ERROR	0x370
#define TIMER_ICR	0x380
#define TIMER_CCR	0x390
#define TIMER_DCR	0x3e0

#define PERIODIC	(1u << 17)
#define DEADLINE	(2u << 17)
#define MASKED		(1u << 16)
#define X2APIC_BASE	(0xfee00000ull | VLAPIC_BASE_EN | VLAPIC_BASE_EXTD)

static struct {
	struct vintr vi;
	struct vlapic vl[NCPU];
	unsigned kicks[VINTR_VCPUS];
	unsigned eois;
	uint8_t eoi_vector;
} F;

static void fake_kick(void *ctx, uint32_t vcpu)
{
	(void)ctx;
	F.kicks[vcpu]++;
}

static void fake_eoi(void *arg, uint8_t vector)
{
	(void)arg;
	F.eois++;
	F.eoi_vector = vector;
}

static const struct apic_env env = { .kick = fake_kick };

static int setup(void **state)
{
	int i;

	(void)state;
	memset(&F, 0, sizeof(F));
	vintr_init(&F.vi, &env, TSC_HZ);
	F.vi.eoi_level = fake_eoi;
	for (i = 0; i < NCPU; i++) {
		vlapic_init(&F.vl[i], &F.vi, i);
		F.vi.lapic[i] = &F.vl[i];
	}
	return 0;
}

static struct vlapic *enabled(int i)
{
	struct vlapic *vl = &F.vl[i];

	vlapic_write(vl, SVR, 0x1ff, 0, NULL);
	return vl;
}

static void wr(struct vlapic *vl, uint32_t off, uint32_t val)
{
	assert_true(vlapic_write(vl, off, val, 0, NULL));
}

static uint32_t rd(struct vlapic *vl, uint32_t off)
{
	return vlapic_read(vl, off, 0);
}

static bool irr(struct vlapic *vl, uint8_t v)
{
	return rd(vl, IRR0 + (v >> 5) * 0x10) & (1u << (v & 31));
}

static bool isr(struct vlapic *vl, uint8_t v)
{
	return rd(vl, ISR0 + (v >> 5) * 0x10) & (1u << (v & 31));
}

static bool tmr(struct vlapic *vl, uint8_t v)
{
	return rd(vl, TMR0 + (v >> 5) * 0x10) & (1u << (v & 31));
}

static void post(int cpu, uint8_t v, hv_apic_intr_trigger_t trig)
{
	assert_int_equal(vintr_set_intr(&F.vi, cpu, v, trig), HV_SUCCESS);
}

static uint64_t msr_rd(struct vlapic *vl, uint32_t msr)
{
	uint64_t v = 0xdeadbeef;

	assert_true(vlapic_rdmsr(vl, msr, &v, 0));
	return v;
}

static bool msr_wr(struct vlapic *vl, uint32_t msr, uint64_t val)
{
	return vlapic_wrmsr(vl, msr, val, 0, NULL);
}

/* SDM table 11-2 power-up values; Apple's boot_state. */
static void test_power_on(void **state)
{
	struct vlapic *bsp = &F.vl[0], *ap = &F.vl[1];
	uint32_t off;

	(void)state;
	assert_int_equal(rd(ap, ID), 1u << 24);
	assert_int_equal(rd(ap, VER), 0x00060014);
	assert_int_equal(rd(ap, SVR), 0xff);
	assert_int_equal(rd(ap, DFR), 0xffffffff);
	assert_int_equal(rd(ap, TPR), 0);
	assert_int_equal(rd(ap, LDR), 0);
	for (off = LVT_TIMER; off <= LVT_ERROR; off += 0x10)
		assert_int_equal(rd(ap, off), MASKED);
	assert_int_equal(rd(ap, LVT_CMCI), MASKED);
	assert_int_equal(vlapic_apic_base(bsp), 0xfee00900ull);
	assert_int_equal(vlapic_apic_base(ap), 0xfee00800ull);
	assert_int_equal(bsp->boot_state, HV_BS_RUNNING);
	assert_int_equal(ap->boot_state, HV_BS_INIT);
	assert_int_equal(vlapic_deadline(ap), UINT64_MAX);
	assert_int_equal(vlapic_pending(ap), -1);
}

static void test_register_masks(void **state)
{
	struct vlapic *vl = enabled(1);

	(void)state;
	wr(vl, TPR, 0xffffffff);
	assert_int_equal(rd(vl, TPR), 0xff);
	wr(vl, TPR, 0);
	wr(vl, ID, 0xffffffff);
	assert_int_equal(rd(vl, ID), 0xff000000);
	wr(vl, VER, 0);
	assert_int_equal(rd(vl, VER), 0x00060014);
	wr(vl, APR, 0xff);
	assert_int_equal(rd(vl, APR), 0);
	wr(vl, PPR, 0xff);
	assert_int_equal(rd(vl, PPR), 0);
	wr(vl, RRD, 0xff);
	assert_int_equal(rd(vl, RRD), 0);
	assert_int_equal(rd(vl, EOI), 0);
	wr(vl, LDR, 0xffffffff);
	assert_int_equal(rd(vl, LDR), 0xff000000);
	wr(vl, DFR, 0);
	assert_int_equal(rd(vl, DFR), 0x0fffffff);		/* cluster; bits 27:0 read 1 */
	wr(vl, SVR, 0xffffffff);
	assert_int_equal(rd(vl, SVR), 0x3ff);			/* no EOI-broadcast suppression */
	wr(vl, LVT_TIMER, 0xffffffff);
	assert_int_equal(rd(vl, LVT_TIMER), 0x100ff);		/* mode 3 reserved: one-shot */
	wr(vl, LVT_TIMER, 0xfffdffff);
	assert_int_equal(rd(vl, LVT_TIMER), 0x500ff);		/* TSC-deadline */
	wr(vl, LVT_LINT0, 0xffffffff);
	assert_int_equal(rd(vl, LVT_LINT0), 0x1a7ff);		/* no delivery status, no remote IRR */
	wr(vl, LVT_LINT1, 0xffffffff);
	assert_int_equal(rd(vl, LVT_LINT1), 0x1a7ff);
	wr(vl, LVT_ERROR, 0xffffffff);
	assert_int_equal(rd(vl, LVT_ERROR), 0x100ff);
	wr(vl, LVT_PMC, 0xffffffff);
	assert_int_equal(rd(vl, LVT_PMC), 0x107ff);
	wr(vl, LVT_THERM, 0xffffffff);
	assert_int_equal(rd(vl, LVT_THERM), 0x107ff);
	wr(vl, LVT_CMCI, 0xffffffff);
	assert_int_equal(rd(vl, LVT_CMCI), 0x107ff);
	wr(vl, ICR_HI, 0xffffffff);
	assert_int_equal(rd(vl, ICR_HI), 0xff000000);
	wr(vl, ICR_LO, 0xffffffff);				/* ExtINT: dropped */
	assert_int_equal(rd(vl, ICR_LO), 0x000ccfff);		/* delivery status reads 0 */
	wr(vl, TIMER_DCR, 0xffffffff);
	assert_int_equal(rd(vl, TIMER_DCR), 0xb);
	wr(vl, TIMER_CCR, 1234);
	assert_int_equal(rd(vl, TIMER_CCR), 0);
	wr(vl, ISR0 + 0x10, 0xffffffff);
	wr(vl, IRR0 + 0x10, 0xffffffff);
	wr(vl, TMR0 + 0x10, 0xffffffff);
	assert_int_equal(rd(vl, ISR0 + 0x10) | rd(vl, IRR0 + 0x10) | rd(vl, TMR0 + 0x10), 0);
}

static void test_unknown_offsets(void **state)
{
	struct vlapic *vl = enabled(1);
	const uint32_t bad[] = { 0x000, 0x010, 0x040, 0x290, 0x2e0, 0x3a0, 0x3f0, 0xff0, 0x1000 };
	unsigned i;

	(void)state;
	wr(vl, TPR, 0x20);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wr(vl, bad[i], 0xffffffff);
		assert_int_equal(rd(vl, bad[i]), 0);
	}
	wr(vl, TPR + 4, 0x70);					/* unaligned: ignored */
	assert_int_equal(rd(vl, TPR), 0x20);
	assert_int_equal(rd(vl, TPR + 4), 0);
	assert_int_equal(rd(vl, TPR + 1), 0);
	assert_int_equal(F.vl[1].esr_pending, 0);
}

/* SDM 11.4.7.2: software disable masks the LVTs and refuses fixed interrupts, not NMI. */
static void test_software_disable(void **state)
{
	struct vlapic *vl = &F.vl[1];

	(void)state;
	wr(vl, LVT_LINT0, 0x700);
	assert_int_equal(rd(vl, LVT_LINT0), 0x10700);		/* stays masked */
	post(1, 0x40, HV_APIC_EDGE_TRIGGER);
	assert_false(irr(vl, 0x40));
	assert_int_equal(vlapic_pending(vl), -1);
	vintr_deliver(&F.vi, &(struct apic_msg){ .dest = 1, .mode = APIC_DM_NMI }, NULL);
	assert_true(vlapic_take_nmi(vl));
	assert_false(vlapic_take_nmi(vl));
	wr(vl, SVR, 0x1ff);
	assert_int_equal(rd(vl, LVT_LINT0), 0x10700);		/* enabling does not unmask */
	wr(vl, LVT_LINT0, 0x700);
	assert_int_equal(rd(vl, LVT_LINT0), 0x700);
	post(1, 0x40, HV_APIC_EDGE_TRIGGER);
	assert_true(irr(vl, 0x40));
	assert_int_equal(vlapic_pending(vl), 0x40);
	wr(vl, SVR, 0xff);
	assert_int_equal(rd(vl, LVT_LINT0), 0x10700);		/* disabling masks again */
	assert_int_equal(vlapic_pending(vl), -1);
	assert_true(irr(vl, 0x40));				/* held, not lost */
}

/* SDM 11.8.3.1: PPR from TPR and ISRV; delivery only above the PPR class. */
static void test_priority(void **state)
{
	struct vlapic *vl = enabled(1);

	(void)state;
	post(1, 0x45, HV_APIC_EDGE_TRIGGER);
	assert_int_equal(vlapic_pending(vl), 0x45);
	vlapic_accept(vl, 0x45);
	assert_true(isr(vl, 0x45));
	assert_false(irr(vl, 0x45));
	assert_int_equal(rd(vl, PPR), 0x40);
	post(1, 0x4f, HV_APIC_EDGE_TRIGGER);
	assert_int_equal(vlapic_pending(vl), -1);		/* same class as in service */
	post(1, 0x52, HV_APIC_EDGE_TRIGGER);
	assert_int_equal(vlapic_pending(vl), 0x52);
	wr(vl, TPR, 0x4f);
	assert_int_equal(rd(vl, PPR), 0x4f);			/* TPR class >= ISRV class: PPR = TPR */
	wr(vl, TPR, 0x3f);
	assert_int_equal(rd(vl, PPR), 0x40);
	wr(vl, TPR, 0x50);
	assert_int_equal(vlapic_pending(vl), -1);
	vlapic_set_tpr(vl, 4);
	assert_int_equal(rd(vl, TPR), 0x40);
	assert_int_equal(vlapic_get_tpr(vl), 4);
	assert_int_equal(vlapic_pending(vl), 0x52);
}

static void test_priority_classes(void **state)
{
	struct vlapic *vl = enabled(1);
	uint32_t c;

	(void)state;
	for (c = 1; c < 15; c++) {
		wr(vl, TPR, c << 4);
		post(1, (uint8_t)((c << 4) | 0xf), HV_APIC_EDGE_TRIGGER);
		assert_int_equal(vlapic_pending(vl), -1);
		post(1, (uint8_t)((c + 1) << 4), HV_APIC_EDGE_TRIGGER);
		assert_int_equal(vlapic_pending(vl), (c + 1) << 4);
		vlapic_accept(vl, (uint8_t)((c + 1) << 4));
		assert_int_equal(rd(vl, PPR), (c + 1) << 4);
		wr(vl, EOI, 0);
		vlapic_accept(vl, (uint8_t)((c << 4) | 0xf));		/* flush for the next class */
		wr(vl, EOI, 0);
	}
	wr(vl, TPR, 0xf0);
	post(1, 0xff, HV_APIC_EDGE_TRIGGER);
	assert_int_equal(vlapic_pending(vl), -1);			/* TPR 15 blocks everything */
}

static void test_eoi_order(void **state)
{
	struct vlapic *vl = enabled(1);

	(void)state;
	post(1, 0x30, HV_APIC_EDGE_TRIGGER);
	vlapic_accept(vl, 0x30);
	post(1, 0x80, HV_APIC_EDGE_TRIGGER);
	assert_int_equal(vlapic_pending(vl), 0x80);
	vlapic_accept(vl, 0x80);
	post(1, 0x31, HV_APIC_EDGE_TRIGGER);
	assert_int_equal(vlapic_pending(vl), -1);
	wr(vl, EOI, 0x1234);					/* the value is ignored */
	assert_false(isr(vl, 0x80));
	assert_true(isr(vl, 0x30));
	assert_int_equal(vlapic_pending(vl), -1);		/* 0x31 still below the 0x30 class */
	wr(vl, EOI, 0);
	assert_false(isr(vl, 0x30));
	assert_int_equal(vlapic_pending(vl), 0x31);
	wr(vl, EOI, 0);						/* nothing in service: harmless */
	assert_int_equal(F.eois, 0);				/* all edge */
}

/* SDM 11.5.3: errors accumulate, a write latches them, the ERROR LVT signals them. */
static void test_esr(void **state)
{
	struct vlapic *vl = enabled(0);

	(void)state;
	wr(vl, ICR_HI, 1u << 24);
	wr(vl, ICR_LO, 0x05);					/* fixed vector 5 */
	assert_false(irr(&F.vl[1], 5));
	assert_int_equal(rd(vl, ESR), 0);			/* not latched yet */
	wr(vl, ESR, 0);
	assert_int_equal(rd(vl, ESR), VLAPIC_ESR_SEND_ILLEGAL);
	wr(vl, ESR, 0);
	assert_int_equal(rd(vl, ESR), 0);
	wr(vl, LVT_ERROR, 0xe3);
	assert_int_equal(vintr_msi(&F.vi, 0xfee00000, 0x03), HV_SUCCESS);	/* to vCPU 0, vector 3 */
	assert_true(irr(vl, 0xe3));
	wr(vl, ESR, 0);
	assert_int_equal(rd(vl, ESR), VLAPIC_ESR_RECV_ILLEGAL);
	wr(vl, LVT_ERROR, 0x05);				/* illegal error vector: no loop */
	wr(vl, ICR_LO, 0x01);
	wr(vl, ESR, 0);
	assert_int_equal(rd(vl, ESR), VLAPIC_ESR_SEND_ILLEGAL | VLAPIC_ESR_RECV_ILLEGAL);
	assert_false(irr(vl, 0x05));
}

static void test_x2apic_msrs(void **state)
{
	struct vlapic *vl = &F.vl[3];
	uint64_t v;

	(void)state;
	assert_false(vlapic_rdmsr(vl, 0x802, &v, 0));			/* xAPIC mode: #GP */
	assert_false(msr_wr(vl, 0x808, 0));
	assert_true(msr_wr(vl, 0x1b, X2APIC_BASE));
	assert_int_equal(msr_rd(vl, 0x802), 3);
	assert_int_equal(rd(vl, ID), 3);				/* the page view too */
	assert_int_equal(msr_rd(vl, 0x803), 0x00060014);
	assert_int_equal(msr_rd(vl, 0x80d), 1u << 3);			/* cluster 0, bit 3 */
	assert_int_equal(msr_rd(vl, 0x80f), 0xff);
	/* Absent, write-only and read-only registers. */
	assert_false(vlapic_rdmsr(vl, 0x80e, &v, 0));			/* DFR */
	assert_false(vlapic_rdmsr(vl, 0x809, &v, 0));			/* APR */
	assert_false(vlapic_rdmsr(vl, 0x80c, &v, 0));			/* RRD */
	assert_false(vlapic_rdmsr(vl, 0x80b, &v, 0));			/* EOI */
	assert_false(vlapic_rdmsr(vl, 0x83f, &v, 0));			/* SELF IPI */
	assert_false(vlapic_rdmsr(vl, 0x831, &v, 0));			/* no ICR high */
	assert_false(vlapic_rdmsr(vl, 0x804, &v, 0));
	assert_false(vlapic_rdmsr(vl, 0x900, &v, 0));
	assert_false(msr_wr(vl, 0x802, 3));
	assert_false(msr_wr(vl, 0x803, 0));
	assert_false(msr_wr(vl, 0x80a, 0));
	assert_false(msr_wr(vl, 0x80d, 8));
	assert_false(msr_wr(vl, 0x80e, 0xffffffff));
	assert_false(msr_wr(vl, 0x810, 0));
	assert_false(msr_wr(vl, 0x839, 0));
	/* Reserved bits. */
	assert_false(msr_wr(vl, 0x808, 0x100));
	assert_false(msr_wr(vl, 0x808, 1ull << 32));
	assert_true(msr_wr(vl, 0x808, 0x20));
	assert_int_equal(msr_rd(vl, 0x808), 0x20);
	assert_false(msr_wr(vl, 0x80f, 0x11ff));			/* EOI-broadcast suppression */
	assert_true(msr_wr(vl, 0x80f, 0x1ff));
	assert_false(msr_wr(vl, 0x832, 3u << 17));			/* timer mode 3 */
	assert_false(msr_wr(vl, 0x835, 1u << 12));			/* delivery status */
	assert_true(msr_wr(vl, 0x835, 0x700));
	assert_false(msr_wr(vl, 0x83e, 4));
	assert_false(msr_wr(vl, 0x828, 1));
	assert_true(msr_wr(vl, 0x828, 0));
	assert_false(msr_wr(vl, 0x80b, 1));
	assert_true(msr_wr(vl, 0x80b, 0));
	assert_false(msr_wr(vl, 0x830, 1u << 12));
	assert_false(msr_wr(vl, 0x830, 1u << 13));
	assert_false(msr_wr(vl, 0x83f, 0x100));
	/* SELF IPI and the 64-bit ICR. */
	assert_true(msr_wr(vl, 0x83f, 0x55));
	assert_true(irr(vl, 0x55));
	assert_true(msr_wr(vl, 0x83f, 0x0f));
	assert_true(msr_wr(vl, 0x828, 0));
	assert_int_equal(msr_rd(vl, 0x828), VLAPIC_ESR_RECV_ILLEGAL);
	assert_true(msr_wr(vl, 0x830, (3ull << 32) | 0x66));
	assert_true(irr(vl, 0x66));
	assert_int_equal(msr_rd(vl, 0x830), (3ull << 32) | 0x66);
	assert_int_equal(msr_rd(vl, 0x822), 1u << (0x55 & 31));
	assert_int_equal(msr_rd(vl, 0x823), 1u << (0x66 & 31));
	/* The page: ID, LDR and DFR are read-only in x2APIC mode. */
	wr(vl, ID, 0x05000000);
	wr(vl, LDR, 0xff000000);
	wr(vl, DFR, 0);
	assert_int_equal(rd(vl, ID), 3);
	assert_int_equal(rd(vl, LDR), 1u << 3);
	assert_int_equal(rd(vl, DFR), 0xffffffff);
}

static void test_x2apic_ldr_cluster(void **state)
{
	struct vintr vi;
	struct vlapic vl;

	(void)state;
	vintr_init(&vi, &env, TSC_HZ);
	vlapic_init(&vl, &vi, 37);
	assert_true(vlapic_wrmsr(&vl, 0x1b, X2APIC_BASE, 0, NULL));
	assert_int_equal(msr_rd(&vl, 0x80d), (2u << 16) | (1u << 5));
}

/* SDM 11.12.5: IA32_APIC_BASE transitions. */
static void test_apic_base(void **state)
{
	struct vlapic *vl = enabled(1);
	uint64_t xapic = 0xfee00000ull | VLAPIC_BASE_EN;

	(void)state;
	assert_false(msr_wr(vl, 0x1b, xapic | 1));
	assert_false(msr_wr(vl, 0x1b, xapic | (1ull << 9)));
	assert_false(msr_wr(vl, 0x1b, xapic | (1ull << 52)));
	/* Address bits at or above the CPU's MAXPHYADDR are reserved too. */
	vintr_set_maxphyaddr(&F.vi, 39);
	assert_false(msr_wr(vl, 0x1b, xapic | (1ull << 39)));
	assert_true(msr_wr(vl, 0x1b, xapic | (1ull << 38)));
	assert_true(msr_wr(vl, 0x1b, xapic));
	vintr_set_maxphyaddr(&F.vi, 52);
	assert_false(msr_wr(vl, 0x1b, 0xfee00000ull | VLAPIC_BASE_EXTD));	/* invalid state */
	assert_true(msr_wr(vl, 0x1b, xapic | VLAPIC_BASE_BSP));		/* BSP is read-only */
	assert_int_equal(msr_rd(vl, 0x1b), xapic);
	assert_true(msr_wr(&F.vl[0], 0x1b, xapic));
	assert_int_equal(msr_rd(&F.vl[0], 0x1b), xapic | VLAPIC_BASE_BSP);
	assert_true(msr_wr(vl, 0x1b, 0xfed00000ull | VLAPIC_BASE_EN));	/* relocation */
	assert_int_equal(vlapic_apic_base(vl), 0xfed00000ull | VLAPIC_BASE_EN);
	assert_true(msr_wr(vl, 0x1b, X2APIC_BASE));
	assert_false(msr_wr(vl, 0x1b, xapic));				/* x2APIC -> xAPIC */
	wr(vl, TPR, 0x30);
	post(1, 0x40, HV_APIC_EDGE_TRIGGER);
	assert_true(msr_wr(vl, 0x1b, 0xfee00000ull));			/* x2APIC -> disabled */
	assert_int_equal(vl->tpr, 0);
	assert_int_equal(vl->svr, 0xff);
	assert_false(irr(vl, 0x40));
	assert_int_equal(rd(vl, SVR), 0);				/* disabled: the page reads 0 */
	wr(vl, SVR, 0x1ff);
	assert_int_equal(vl->svr, 0xff);				/* and ignores writes */
	assert_false(msr_wr(vl, 0x1b, X2APIC_BASE));			/* disabled -> x2APIC */
	assert_int_equal(vintr_set_intr(&F.vi, 1, 0x40, HV_APIC_EDGE_TRIGGER), HV_SUCCESS);
	assert_false(vl->irr[2]);					/* a disabled LAPIC takes nothing */
	assert_true(msr_wr(vl, 0x1b, xapic));
	assert_int_equal(rd(vl, SVR), 0xff);				/* power-up state, software-disabled */
	assert_int_equal(rd(vl, ID), 1u << 24);
	assert_int_equal(rd(vl, LVT_LINT0), MASKED);
	assert_int_equal(vl->boot_state, HV_BS_INIT);			/* not a boot event */
}

static void test_disable_restores_id(void **state)
{
	struct vlapic *vl = enabled(2);

	(void)state;
	wr(vl, ID, 0x07000000);
	assert_int_equal(rd(vl, ID), 0x07000000);
	assert_true(msr_wr(vl, 0x1b, 0xfee00000ull));
	assert_true(msr_wr(vl, 0x1b, 0xfee00000ull | VLAPIC_BASE_EN));
	assert_int_equal(rd(vl, ID), 0x02000000);
}

/* 2 GHz TSC, 1 GHz bus: one count is 2 * divide ticks. */
static void test_timer_oneshot(void **state)
{
	struct vlapic *vl = enabled(1);

	(void)state;
	wr(vl, LVT_TIMER, 0x40);
	wr(vl, TIMER_DCR, 0);					/* divide by 2: 4 ticks a count */
	assert_true(vlapic_write(vl, TIMER_ICR, 100, 1000, NULL));
	assert_int_equal(vlapic_deadline(vl), 1400);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 1000), 100);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 1004), 99);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 1007), 99);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 1200), 50);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 1396), 1);
	vlapic_timer_check(vl, 1399);
	assert_false(irr(vl, 0x40));
	vlapic_timer_check(vl, 1400);
	assert_true(irr(vl, 0x40));
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 1500), 0);
	assert_int_equal(vlapic_read(vl, TIMER_ICR, 1500), 100);
	/* A new initial count restarts; 0 stops. */
	assert_true(vlapic_write(vl, TIMER_ICR, 10, 2000, NULL));
	assert_int_equal(vlapic_deadline(vl), 2040);
	assert_true(vlapic_write(vl, TIMER_ICR, 0, 2010, NULL));
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 2020), 0);
}

static void test_timer_divide(void **state)
{
	const uint32_t dcr[] = { 0, 1, 2, 3, 8, 9, 10, 11 };
	const uint32_t div[] = { 2, 4, 8, 16, 32, 64, 128, 1 };
	struct vlapic *vl = enabled(1);
	unsigned i;

	(void)state;
	wr(vl, LVT_TIMER, 0x40);
	for (i = 0; i < 8; i++) {
		wr(vl, TIMER_DCR, dcr[i] | 4);				/* bit 2 is reserved */
		assert_int_equal(rd(vl, TIMER_DCR), dcr[i]);
		assert_true(vlapic_write(vl, TIMER_ICR, 1000, 0, NULL));
		assert_int_equal(vlapic_deadline(vl), 1000ull * div[i] * 2);
		assert_int_equal(vlapic_read(vl, TIMER_CCR, 2 * div[i] * 10), 990);
	}
	/* A divide change mid-count: the remaining counts go at the new rate. */
	wr(vl, TIMER_DCR, 0xb);						/* /1: 2 ticks a count */
	assert_true(vlapic_write(vl, TIMER_ICR, 100, 0, NULL));
	assert_true(vlapic_write(vl, TIMER_DCR, 0, 100, NULL));	/* 50 counts gone, /2 now */
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 100), 50);
	assert_int_equal(vlapic_deadline(vl), 100 + 50 * 4);
}

static void test_timer_periodic(void **state)
{
	struct vlapic *vl = enabled(1);

	(void)state;
	wr(vl, LVT_TIMER, PERIODIC | 0x40);
	assert_true(vlapic_write(vl, TIMER_ICR, 10, 0, NULL));	/* 40 ticks a period */
	assert_int_equal(vlapic_deadline(vl), 40);
	vlapic_timer_check(vl, 41);
	assert_true(irr(vl, 0x40));
	assert_int_equal(vlapic_deadline(vl), 80);			/* prev + period: no drift */
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 44), 9);
	vlapic_accept(vl, 0x40);
	wr(vl, EOI, 0);
	vlapic_timer_check(vl, 205);					/* 80..200 missed: one interrupt */
	assert_true(irr(vl, 0x40));
	assert_int_equal(vlapic_deadline(vl), 240);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 210), 8);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 250), 8);		/* late check: reloaded count */
	/* Periodic -> one-shot: the running count ends the series. */
	wr(vl, LVT_TIMER, 0x40);
	vlapic_timer_check(vl, 240);
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
}

static void test_timer_oneshot_to_periodic(void **state)
{
	struct vlapic *vl = enabled(1);

	(void)state;
	wr(vl, LVT_TIMER, 0x40);
	assert_true(vlapic_write(vl, TIMER_ICR, 10, 0, NULL));
	wr(vl, LVT_TIMER, PERIODIC | 0x40);
	assert_int_equal(vlapic_deadline(vl), 40);			/* keeps counting */
	vlapic_timer_check(vl, 40);
	assert_int_equal(vlapic_deadline(vl), 80);
}

/* SDM 11.5.4.1: TSC-deadline mode. */
static void test_timer_deadline(void **state)
{
	struct vlapic *vl = enabled(1);

	(void)state;
	wr(vl, LVT_TIMER, 0x40);
	assert_true(vlapic_write(vl, TIMER_ICR, 10, 0, NULL));
	assert_true(msr_wr(vl, 0x6e0, 5000));				/* not in deadline mode: ignored */
	assert_int_equal(msr_rd(vl, 0x6e0), 0);
	wr(vl, LVT_TIMER, DEADLINE | 0x40);				/* mode change disarms */
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
	assert_int_equal(rd(vl, TIMER_ICR), 0);
	assert_true(vlapic_write(vl, TIMER_ICR, 10, 0, NULL));		/* ignored */
	assert_int_equal(rd(vl, TIMER_ICR), 0);
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
	assert_true(msr_wr(vl, 0x6e0, 5000));
	assert_int_equal(msr_rd(vl, 0x6e0), 5000);
	assert_int_equal(vlapic_deadline(vl), 5000);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 100), 0);
	assert_true(msr_wr(vl, 0x6e0, 0));				/* disarm */
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
	assert_true(msr_wr(vl, 0x6e0, 6000));
	vlapic_timer_check(vl, 5999);
	assert_false(irr(vl, 0x40));
	vlapic_timer_check(vl, 6000);
	assert_true(irr(vl, 0x40));
	assert_int_equal(msr_rd(vl, 0x6e0), 0);			/* cleared when it fires */
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
	assert_true(msr_wr(vl, 0x6e0, 7000));
	wr(vl, LVT_TIMER, 0x40);					/* leaving deadline mode */
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
	wr(vl, LVT_TIMER, DEADLINE | 0x40);
	assert_int_equal(msr_rd(vl, 0x6e0), 0);
}

static void test_timer_masked(void **state)
{
	struct vlapic *vl = enabled(1);

	(void)state;
	wr(vl, LVT_TIMER, MASKED | PERIODIC | 0x40);
	assert_true(vlapic_write(vl, TIMER_ICR, 10, 0, NULL));
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 20), 5);		/* counts */
	vlapic_timer_check(vl, 40);
	assert_false(irr(vl, 0x40));					/* delivers nothing */
	assert_int_equal(vlapic_deadline(vl), 80);
	wr(vl, LVT_TIMER, PERIODIC | 0x40);
	vlapic_timer_check(vl, 80);
	assert_true(irr(vl, 0x40));
}

static void test_no_timer(void **state)
{
	struct vlapic *vl = enabled(1);

	(void)state;
	wr(vl, LVT_TIMER, 0x40);
	assert_true(vlapic_write(vl, TIMER_ICR, 10, 0, NULL));
	vlapic_set_ctrl(vl, HV_APIC_CTRL_NO_TIMER);
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);		/* stops the running timer */
	assert_true(vlapic_write(vl, TIMER_ICR, 20, 0, NULL));
	assert_int_equal(rd(vl, TIMER_ICR), 20);			/* recorded */
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
	assert_int_equal(vlapic_read(vl, TIMER_CCR, 4), 0);
	vlapic_timer_check(vl, 1000000);
	assert_false(irr(vl, 0x40));
	assert_int_equal(vlapic_trigger_lvt(vl, HV_APIC_LVT_FLAVOR_TIMER), HV_SUCCESS);
	assert_true(irr(vl, 0x40));
	assert_int_equal(vlapic_trigger_lvt(vl, 2), HV_BAD_ARGUMENT);
	assert_int_equal(vlapic_trigger_lvt(vl, 0), HV_BAD_ARGUMENT);
	vlapic_accept(vl, 0x40);
	wr(vl, EOI, 0);
	wr(vl, LVT_TIMER, MASKED | 0x40);
	assert_int_equal(vlapic_trigger_lvt(vl, HV_APIC_LVT_FLAVOR_TIMER), HV_SUCCESS);
	assert_false(irr(vl, 0x40));					/* masked: nothing */
	wr(vl, LVT_TIMER, DEADLINE | 0x41);
	assert_true(msr_wr(vl, 0x6e0, 900));
	assert_int_equal(msr_rd(vl, 0x6e0), 900);
	assert_int_equal(vlapic_deadline(vl), UINT64_MAX);
	vlapic_set_ctrl(vl, 0);
	assert_int_equal(vlapic_deadline(vl), 900);			/* the recorded deadline arms */
}

static void test_ioapic_eoi_ctrl(void **state)
{
	struct vlapic *vl = enabled(1);
	struct vlapic_effect eff;

	(void)state;
	post(1, 0x61, HV_APIC_LEVEL_TRIGGER);
	assert_true(tmr(vl, 0x61));
	vlapic_accept(vl, 0x61);
	assert_true(vlapic_write(vl, EOI, 0, 0, &eff));
	assert_int_equal(eff.exitinfo, 0);
	assert_int_equal(F.eois, 1);
	assert_int_equal(F.eoi_vector, 0x61);
	vlapic_set_ctrl(vl, HV_APIC_CTRL_IOAPIC_EOI);
	post(1, 0x62, HV_APIC_LEVEL_TRIGGER);
	vlapic_accept(vl, 0x62);
	assert_false(vlapic_write(vl, EOI, 0, 0, &eff));
	assert_int_equal(eff.exitinfo, HV_VM_EXITINFO_IOAPIC_EOI);
	assert_int_equal(eff.vector, 0x62);
	assert_int_equal(F.eois, 1);					/* not forwarded as well */
	post(1, 0x62, HV_APIC_EDGE_TRIGGER);
	assert_false(tmr(vl, 0x62));					/* edge clears TMR */
	vlapic_accept(vl, 0x62);
	assert_true(vlapic_write(vl, EOI, 0, 0, &eff));
	assert_int_equal(eff.exitinfo, 0);
}

static void test_aeoi(void **state)
{
	struct vlapic *vl = enabled(1);
	struct hv_apic_state s;

	(void)state;
	post(1, 0x50, HV_APIC_EDGE_TRIGGER_AEOI);
	vlapic_get_state(vl, &s, 0);
	assert_int_equal(s.aeoi[2], 1u << 16);
	assert_int_equal(vlapic_pending(vl), 0x50);
	vlapic_accept(vl, 0x50);
	assert_false(isr(vl, 0x50));					/* never in service */
	assert_int_equal(rd(vl, PPR), 0);
	vlapic_get_state(vl, &s, 0);
	assert_int_equal(s.aeoi[2], 0);
	post(1, 0x50, HV_APIC_EDGE_TRIGGER_AEOI);
	post(1, 0x50, HV_APIC_EDGE_TRIGGER);				/* the latest trigger wins */
	vlapic_accept(vl, 0x50);
	assert_true(isr(vl, 0x50));
}

/* --- saved state -------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const uint32_t lvt_mask[VLAPIC_LVT_COUNT] = { 0x1a7ff, 0x1a7ff, 0x700ff, 0x100ff, 0x107ff, 0x107ff, 0x107ff };

static void random_state(struct hv_apic_state *s, uint32_t vcpu)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->apic_gpa = (rnd() & 0x000ffffffffff000ull);
	s->apic_controls = rnd() & 0xb;			/* no NO_TIMER: the timer runs */
	s->apic_id = (uint32_t)(rnd() & 0xff) << 24;
	(void)vcpu;
	s->ver = 0x00060014;
	s->tpr = rnd() & 0xff;
	s->ldr = (uint32_t)rnd() & 0xff000000;
	s->dfr = (rnd() & 1) ? 0xffffffff : 0x0fffffff;
	s->svr = rnd() & 0x3ff;
	for (i = 0; i < 8; i++) {
		s->isr[i] = (uint32_t)rnd();
		s->tmr[i] = (uint32_t)rnd();
		s->irr[i] = (uint32_t)rnd();
		s->aeoi[i] = s->irr[i] & (uint32_t)rnd();
	}
	s->isr[0] &= ~0xffffu;
	s->tmr[0] &= ~0xffffu;
	s->irr[0] &= ~0xffffu;
	s->aeoi[0] &= ~0xffffu;
	s->esr = rnd() & 0xef;
	s->esr_pending = rnd() & 0xef;
	for (i = 0; i < VLAPIC_LVT_COUNT; i++) {
		s->lvt[i] = (uint32_t)rnd() & lvt_mask[i];
		if (!(s->svr & 0x100))
			s->lvt[i] |= MASKED;
	}
	if (((s->lvt[VLAPIC_LVT_TIMER] >> 17) & 3) == 3)
		s->lvt[VLAPIC_LVT_TIMER] &= ~(1u << 18);
	s->icr[0] = (uint32_t)rnd() & 0x000ccfff;
	s->icr[1] = (uint32_t)rnd() & 0xff000000;
	s->dcr_timer = rnd() & 0xb;
	if (((s->lvt[VLAPIC_LVT_TIMER] >> 17) & 3) == 2) {
		s->tsc_deadline = rnd() & 0xffffffffffull;
		s->icr_timer = (uint32_t)rnd();
	} else {
		s->icr_timer = (uint32_t)rnd();
		s->ccr_timer = s->icr_timer ? (uint32_t)(rnd() % s->icr_timer) + 1 : 0;
	}
	s->boot_state = (enum hv_boot_state)(rnd() % 3);
}

static void test_state_roundtrip(void **state)
{
	struct hv_apic_state a, b;
	struct vintr vi;
	struct vlapic vl;
	int n;

	(void)state;
	vintr_init(&vi, &env, TSC_HZ);
	for (n = 0; n < 2000; n++) {
		uint64_t now = rnd() >> 8;

		vlapic_init(&vl, &vi, 5);
		random_state(&a, 5);
		assert_int_equal(vlapic_put_state(&vl, &a, now), HV_SUCCESS);
		vlapic_get_state(&vl, &b, now);
		assert_memory_equal(&a, &b, sizeof(a));
		if (a.ccr_timer && ((a.lvt[VLAPIC_LVT_TIMER] >> 17) & 3) != 2) {
			uint32_t div = 1u << ((((a.dcr_timer & 8) >> 1 | (a.dcr_timer & 3)) + 1) & 7);

			assert_int_equal(vlapic_deadline(&vl), now + 2ull * div * a.ccr_timer);
		}
		if (((a.lvt[VLAPIC_LVT_TIMER] >> 17) & 3) == 2)
			assert_int_equal(vlapic_deadline(&vl), a.tsc_deadline ? a.tsc_deadline : UINT64_MAX);
	}
}

/* get after register traffic, put into a fresh LAPIC, get again: the same. */
static void test_state_roundtrip_live(void **state)
{
	struct vlapic *vl = enabled(2), copy;
	struct hv_apic_state a, b;

	(void)state;
	assert_true(msr_wr(vl, 0x1b, X2APIC_BASE));
	assert_true(msr_wr(vl, 0x808, 0x20));
	assert_true(msr_wr(vl, 0x832, PERIODIC | 0x40));
	assert_true(vlapic_wrmsr(vl, 0x838, 1000, 100, NULL));
	post(2, 0x70, HV_APIC_LEVEL_TRIGGER);
	vlapic_accept(vl, 0x70);
	post(2, 0x33, HV_APIC_EDGE_TRIGGER_AEOI);
	vlapic_set_ctrl(vl, HV_APIC_CTRL_IOAPIC_EOI);
	vlapic_get_state(vl, &a, 500);
	assert_int_equal(a.apic_id, 2);
	assert_int_equal(a.apic_gpa, 0xfee00000ull);
	assert_int_equal(a.apic_controls, HV_APIC_CTRL_IOAPIC_EOI);
	assert_int_equal(a.ccr_timer, 1000 - 100);
	assert_int_equal(a.lvt[VLAPIC_LVT_TIMER], PERIODIC | 0x40);
	vlapic_init(&copy, &F.vi, 2);
	assert_int_equal(vlapic_put_state(&copy, &a, 500), HV_BAD_ARGUMENT);	/* xAPIC: x2APIC ID 2 */
	assert_true(vlapic_wrmsr(&copy, 0x1b, X2APIC_BASE, 0, NULL));
	assert_int_equal(vlapic_put_state(&copy, &a, 500), HV_SUCCESS);
	vlapic_get_state(&copy, &b, 500);
	assert_memory_equal(&a, &b, sizeof(a));
	vlapic_get_state(&copy, &b, 900);
	vlapic_get_state(vl, &a, 900);
	assert_memory_equal(&a, &b, sizeof(a));
	a.apic_id = 3;
	assert_int_equal(vlapic_put_state(&copy, &a, 900), HV_BAD_ARGUMENT);
}

static void test_put_rejects(void **state)
{
	struct hv_apic_state good, bad, before, after;
	struct vlapic *vl = enabled(1);
	int i;

	(void)state;
	vlapic_get_state(vl, &good, 0);
	good.lvt[VLAPIC_LVT_TIMER] = 0x40;
	good.icr_timer = 100;
	good.ccr_timer = 50;
	assert_int_equal(vlapic_put_state(vl, &good, 0), HV_SUCCESS);
	vlapic_get_state(vl, &before, 0);
	for (i = 0;; i++) {
		bad = good;
		switch (i) {
		case 0: bad.apic_controls = 0x10; break;
		case 1: bad.apic_gpa = 0xfee00800; break;
		case 2: bad.apic_gpa = 1ull << 52; break;
		case 3: bad.apic_id = 0x01000001; break;
		case 4: bad.ver = 0x50014; break;
		case 5: bad.apr = 0x10; break;
		case 6: bad.ldr = 0x01000001; break;
		case 7: bad.dfr = 0xf0000000; break;
		case 8: bad.tpr = 0x100; break;
		case 9: bad.svr = 0x11ff; break;
		case 10: bad.isr[0] = 1u << 3; break;
		case 11: bad.irr[0] = 1u << 15; break;
		case 12: bad.tmr[0] = 1; break;
		case 13: bad.aeoi[3] = 1; break;				/* not in IRR */
		case 14: bad.esr = 0x100; break;
		case 15: bad.esr_pending = 0x10; break;
		case 16: bad.lvt[VLAPIC_LVT_TIMER] |= 3u << 17; break;
		case 17: bad.lvt[VLAPIC_LVT_LINT0] |= 1u << 12; break;
		case 18: bad.lvt[VLAPIC_LVT_ERROR] |= 0x700; break;
		case 19: bad.icr[0] = 1u << 12; break;
		case 20: bad.icr[1] = 1; break;
		case 21: bad.dcr_timer = 4; break;
		case 22: bad.ccr_timer = 101; break;
		case 23: bad.boot_state = (enum hv_boot_state)3; break;
		case 24: bad.tsc_deadline = 1000; break;			/* one-shot mode */
		case 25: bad.svr = 0xff; bad.lvt[VLAPIC_LVT_TIMER] = 0x40; break;	/* disabled, unmasked */
		case 26: bad.lvt[VLAPIC_LVT_TIMER] = DEADLINE | 0x40; break;	/* deadline mode with a count */
		case 27: bad.lvt[VLAPIC_LVT_LINT1] |= 1u << 14; break;		/* remote IRR */
		case 28: bad.apic_controls = HV_APIC_CTRL_NO_TIMER; break;	/* a count that never runs */
		default:
			return;
		}
		assert_int_equal(vlapic_put_state(vl, &bad, 0), HV_BAD_ARGUMENT);
		vlapic_get_state(vl, &after, 0);
		assert_memory_equal(&before, &after, sizeof(after));
	}
}

/* --- random sequence against a reference priority model ------------------ */

struct ref {
	bool irr[256], isr[256];
	uint8_t tpr;
};

static int ref_highest(const bool *set)
{
	int v;

	for (v = 255; v >= 16; v--)
		if (set[v])
			return v;
	return -1;
}

static uint8_t ref_ppr(const struct ref *r)
{
	int isrv = ref_highest(r->isr);

	if (isrv < 0 || (r->tpr >> 4) >= (isrv >> 4))
		return r->tpr;
	return (uint8_t)(isrv & 0xf0);
}

static int ref_pending(const struct ref *r)
{
	int v = ref_highest(r->irr);

	return v >= 0 && (v >> 4) > (ref_ppr(r) >> 4) ? v : -1;
}


/*
 * NMIs as KVM keeps them (kvm-unit-tests apic.c "multiple nmi" and "pending
 * nmi"): two arriving together are both delivered, one after the other; while
 * one is handled, any number that arrive make one more.
 */
static void test_nmi_latch(void **state)
{
	struct apic_msg nmi = { .dest = 1, .mode = APIC_DM_NMI };
	struct vlapic *vl = &F.vl[1];

	(void)state;
	vintr_deliver(&F.vi, &nmi, NULL);
	vintr_deliver(&F.vi, &nmi, NULL);
	vintr_deliver(&F.vi, &nmi, NULL);
	assert_true(vlapic_take_nmi(vl));
	assert_true(vlapic_take_nmi(vl));
	assert_false(vlapic_take_nmi(vl));
	for (int i = 0; i < 10; i++)
		vintr_deliver(&F.vi, &nmi, NULL);
	vlapic_nmi_blocked(vl);				/* the guest is in its NMI handler */
	assert_true(vlapic_take_nmi(vl));
	assert_false(vlapic_take_nmi(vl));
}
static void test_random_priority(void **state)
{
	struct vlapic *vl = enabled(1);
	struct ref r;
	int n, v;

	(void)state;
	memset(&r, 0, sizeof(r));
	rng = 12345;
	for (n = 0; n < 20000; n++) {
		switch (rnd() % 4) {
		case 0:
			v = 16 + (int)(rnd() % 240);
			post(1, (uint8_t)v, HV_APIC_EDGE_TRIGGER);
			r.irr[v] = true;
			break;
		case 1:
			v = ref_pending(&r);
			if (v >= 0) {
				vlapic_accept(vl, (uint8_t)v);
				r.irr[v] = false;
				r.isr[v] = true;
			}
			break;
		case 2:
			wr(vl, EOI, 0);
			v = ref_highest(r.isr);
			if (v >= 0)
				r.isr[v] = false;
			break;
		default:
			r.tpr = (uint8_t)rnd();
			wr(vl, TPR, r.tpr);
			break;
		}
		assert_int_equal(vlapic_pending(vl), ref_pending(&r));
		assert_int_equal(rd(vl, PPR), ref_ppr(&r));
		v = (int)(rnd() & 0xff);
		assert_int_equal(irr(vl, (uint8_t)v), r.irr[v]);
		assert_int_equal(isr(vl, (uint8_t)v), r.isr[v]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_power_on, setup),
		cmocka_unit_test_setup(test_register_masks, setup),
		cmocka_unit_test_setup(test_unknown_offsets, setup),
		cmocka_unit_test_setup(test_software_disable, setup),
		cmocka_unit_test_setup(test_priority, setup),
		cmocka_unit_test_setup(test_priority_classes, setup),
		cmocka_unit_test_setup(test_eoi_order, setup),
		cmocka_unit_test_setup(test_esr, setup),
		cmocka_unit_test_setup(test_x2apic_msrs, setup),
		cmocka_unit_test_setup(test_x2apic_ldr_cluster, setup),
		cmocka_unit_test_setup(test_apic_base, setup),
		cmocka_unit_test_setup(test_disable_restores_id, setup),
		cmocka_unit_test_setup(test_timer_oneshot, setup),
		cmocka_unit_test_setup(test_timer_divide, setup),
		cmocka_unit_test_setup(test_timer_periodic, setup),
		cmocka_unit_test_setup(test_timer_oneshot_to_periodic, setup),
		cmocka_unit_test_setup(test_timer_deadline, setup),
		cmocka_unit_test_setup(test_timer_masked, setup),
		cmocka_unit_test_setup(test_no_timer, setup),
		cmocka_unit_test_setup(test_ioapic_eoi_ctrl, setup),
		cmocka_unit_test_setup(test_aeoi, setup),
		cmocka_unit_test_setup(test_state_roundtrip, setup),
		cmocka_unit_test_setup(test_state_roundtrip_live, setup),
		cmocka_unit_test_setup(test_put_rejects, setup),
		cmocka_unit_test_setup(test_nmi_latch, setup),
		cmocka_unit_test_setup(test_random_priority, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
