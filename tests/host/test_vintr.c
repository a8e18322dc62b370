/*
 * The VM's APIC bus (apic/vintr.c) with 8 vCPUs and a fake env counting kicks:
 * every delivery mode, physical/logical destinations, shorthands, broadcast,
 * lowest priority, INIT/SIPI with their effects, MSI, IOAPIC entries,
 * hv_vm_lapic_set_intr, LINT0/LINT1 and the bus clock (SDM vol. 3, 11.6, 11.11).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "apic/vintr.h"
#include "apic/vlapic.h"

#define NCPU		8
#define TSC_HZ		1000000000ull

#define TPR		0x080
#define LDR		0x0d0
#define DFR		0x0e0
#define SVR		0x0f0
#define ESR		0x280
#define ICR_LO		0x300
#define ICR_HI		0x310
#define LVT_TIMER	0x320
#define LVT_LINT0	0x350
#define LVT_LINT1	0x360
#define TIMER_ICR	0x380

#define DM(m)		((uint32_t)(m) << 8)
#define LOGICAL		(1u << 11)
#define ASSERT		(1u << 14)
#define LEVEL		(1u << 15)
#define SELF		(1u << 18)
#define ALL		(2u << 18)
#define OTHERS		(3u << 18)
#define MASKED		(1u << 16)
#define X2APIC_BASE	(0xfee00000ull | VLAPIC_BASE_EN | VLAPIC_BASE_EXTD)

static struct {
	struct vintr vi;
	struct vlapic vl[NCPU];
	unsigned kicks[VINTR_VCPUS];
} F;

static void fake_kick(void *ctx, uint32_t vcpu)
{
	assert_ptr_equal(ctx, &F);
	F.kicks[vcpu]++;
}

static const struct apic_env env = { .ctx = &F, .kick = fake_kick };

static int setup(void **state)
{
	int i;

	(void)state;
	memset(&F, 0, sizeof(F));
	vintr_init(&F.vi, &env, TSC_HZ);
	for (i = 0; i < NCPU; i++) {
		vlapic_init(&F.vl[i], &F.vi, i);
		F.vi.lapic[i] = &F.vl[i];
		vlapic_write(&F.vl[i], SVR, 0x1ff, 0, NULL);
	}
	return 0;
}

static bool irr(int cpu, uint8_t v)
{
	return F.vl[cpu].irr[v >> 5] & (1u << (v & 31));
}

/* Bit i set: vCPU i has vector v in IRR. */
static unsigned who_has(uint8_t v)
{
	unsigned mask = 0;
	int i;

	for (i = 0; i < NCPU; i++)
		if (irr(i, v))
			mask |= 1u << i;
	return mask;
}

static unsigned who_kicked(void)
{
	unsigned mask = 0;
	int i;

	for (i = 0; i < VINTR_VCPUS; i++)
		if (F.kicks[i])
			mask |= 1u << i;
	return mask;
}

static void clear_all(void)
{
	int i;

	for (i = 0; i < NCPU; i++) {
		memset(F.vl[i].irr, 0, sizeof(F.vl[i].irr));
		F.vl[i].nmi_pending = 0;
	}
	memset(F.kicks, 0, sizeof(F.kicks));
}

/* An xAPIC IPI from `from`; returns no_side_effect. */
static bool ipi(int from, uint32_t dest, uint32_t lo, struct vlapic_effect *eff)
{
	vlapic_write(&F.vl[from], ICR_HI, dest << 24, 0, NULL);
	return vlapic_write(&F.vl[from], ICR_LO, lo, 0, eff);
}

static void test_fixed_physical(void **state)
{
	struct vlapic_effect eff;
	int d;

	(void)state;
	for (d = 0; d < NCPU; d++) {
		clear_all();
		assert_true(ipi(0, d, 0x40 | ASSERT, &eff));
		assert_int_equal(eff.exitinfo, 0);
		assert_int_equal(who_has(0x40), 1u << d);
		assert_int_equal(who_kicked(), 1u << d);
	}
	clear_all();
	ipi(0, 9, 0x40, NULL);						/* no such ID */
	assert_int_equal(who_has(0x40), 0);
	assert_int_equal(who_kicked(), 0);
	vlapic_write(&F.vl[5], 0x020, 0x09000000, 0, NULL);		/* xAPIC ID is writable */
	ipi(0, 9, 0x40, NULL);
	assert_int_equal(who_has(0x40), 1u << 5);
	clear_all();
	ipi(0, 5, 0x40, NULL);
	assert_int_equal(who_has(0x40), 0);
}

static void test_broadcast(void **state)
{
	(void)state;
	ipi(3, 0xff, 0x41, NULL);
	assert_int_equal(who_has(0x41), 0xff);				/* physical 0xff: everyone, sender too */
	assert_int_equal(who_kicked(), 0xff);
	clear_all();
	ipi(3, 0xff, 0x42 | LOGICAL, NULL);
	assert_int_equal(who_has(0x42), 0xff);
}

static void test_shorthands(void **state)
{
	(void)state;
	ipi(2, 6, 0x43 | SELF, NULL);					/* destination field ignored */
	assert_int_equal(who_has(0x43), 1u << 2);
	ipi(2, 6, 0x44 | ALL, NULL);
	assert_int_equal(who_has(0x44), 0xff);
	ipi(2, 6, 0x45 | OTHERS, NULL);
	assert_int_equal(who_has(0x45), 0xff & ~(1u << 2));
	clear_all();
	ipi(2, 0, DM(APIC_DM_NMI) | OTHERS, NULL);
	assert_false(vlapic_take_nmi(&F.vl[2]));
	assert_true(vlapic_take_nmi(&F.vl[7]));
}

static void test_logical_flat(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NCPU; i++)
		vlapic_write(&F.vl[i], LDR, (1u << i) << 24, 0, NULL);
	ipi(0, 0x05, 0x46 | LOGICAL, NULL);
	assert_int_equal(who_has(0x46), 0x05);
	ipi(0, 0xa0, 0x47 | LOGICAL, NULL);
	assert_int_equal(who_has(0x47), 0xa0);
	ipi(0, 0x05, 0x48, NULL);					/* physical 5 */
	assert_int_equal(who_has(0x48), 1u << 5);
}

static void test_logical_cluster(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NCPU; i++) {
		vlapic_write(&F.vl[i], DFR, 0x0fffffff, 0, NULL);
		vlapic_write(&F.vl[i], LDR, (((i / 4) << 4) | (1u << (i % 4))) << 24, 0, NULL);
	}
	ipi(0, 0x13, 0x49 | LOGICAL, NULL);				/* cluster 1, members 0 and 1 */
	assert_int_equal(who_has(0x49), 0x30);
	ipi(0, 0x0f, 0x4a | LOGICAL, NULL);
	assert_int_equal(who_has(0x4a), 0x0f);
	ipi(0, 0x2f, 0x4b | LOGICAL, NULL);				/* no cluster 2 */
	assert_int_equal(who_has(0x4b), 0);
}

static void test_x2apic_ipis(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NCPU; i++)
		assert_true(vlapic_wrmsr(&F.vl[i], 0x1b, X2APIC_BASE, 0, NULL));
	assert_true(vlapic_wrmsr(&F.vl[0], 0x830, (5ull << 32) | 0x50, 0, NULL));
	assert_int_equal(who_has(0x50), 1u << 5);
	assert_true(vlapic_wrmsr(&F.vl[0], 0x830, (0xffull << 32) | 0x51, 0, NULL));
	assert_int_equal(who_has(0x51), 0);				/* 0xff is an ID in x2APIC */
	assert_true(vlapic_wrmsr(&F.vl[0], 0x830, (0xffffffffull << 32) | 0x52, 0, NULL));
	assert_int_equal(who_has(0x52), 0xff);
	assert_true(vlapic_wrmsr(&F.vl[0], 0x830, (0x30ull << 32) | LOGICAL | 0x53, 0, NULL));
	assert_int_equal(who_has(0x53), 0x30);				/* cluster 0, bits 4 and 5 */
	assert_true(vlapic_wrmsr(&F.vl[0], 0x830, (0x10030ull << 32) | LOGICAL | 0x54, 0, NULL));
	assert_int_equal(who_has(0x54), 0);				/* cluster 1 is empty */
	assert_true(vlapic_wrmsr(&F.vl[6], 0x830, OTHERS | 0x55, 0, NULL));
	assert_int_equal(who_has(0x55), 0xbf);
}

/* SDM 11.6.2.4: lowest priority goes to the lowest PPR; ties to the lowest ID here. */
static void test_lowest_priority(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NCPU; i++)
		vlapic_write(&F.vl[i], TPR, 0x80, 0, NULL);
	vlapic_write(&F.vl[6], TPR, 0x20, 0, NULL);
	vlapic_write(&F.vl[3], TPR, 0x30, 0, NULL);
	ipi(0, 0xff, DM(APIC_DM_LOWPRI) | 0x60, NULL);
	assert_int_equal(who_has(0x60), 1u << 6);
	assert_int_equal(who_kicked(), 1u << 6);
	vlapic_write(&F.vl[3], TPR, 0x20, 0, NULL);
	ipi(0, 0xff, DM(APIC_DM_LOWPRI) | 0x61, NULL);
	assert_int_equal(who_has(0x61), 1u << 3);			/* tie: lower ID */
	vlapic_write(&F.vl[3], SVR, 0xff, 0, NULL);			/* software-disabled: out */
	ipi(0, 0xff, DM(APIC_DM_LOWPRI) | 0x62, NULL);
	assert_int_equal(who_has(0x62), 1u << 6);
	for (i = 0; i < NCPU; i++)
		vlapic_write(&F.vl[i], LDR, (1u << i) << 24, 0, NULL);
	ipi(0, 0x03, DM(APIC_DM_LOWPRI) | LOGICAL | 0x63, NULL);	/* only among the matches */
	assert_int_equal(who_has(0x63), 1u << 0);
	/* PPR counts what is in service, not just TPR. */
	vlapic_write(&F.vl[0], TPR, 0, 0, NULL);
	vlapic_write(&F.vl[1], TPR, 0x10, 0, NULL);
	assert_int_equal(vintr_set_intr(&F.vi, 0, 0x70, HV_APIC_EDGE_TRIGGER), HV_SUCCESS);
	vlapic_accept(&F.vl[0], 0x70);
	ipi(2, 0x03, DM(APIC_DM_LOWPRI) | LOGICAL | 0x64, NULL);
	assert_int_equal(who_has(0x64), 1u << 1);
}

static void test_nmi_smi_extint(void **state)
{
	(void)state;
	ipi(0, 4, DM(APIC_DM_NMI), NULL);
	assert_int_equal(who_kicked(), 1u << 4);
	assert_true(vlapic_take_nmi(&F.vl[4]));
	assert_false(vlapic_take_nmi(&F.vl[4]));
	clear_all();
	ipi(0, 0xff, DM(APIC_DM_SMI), NULL);				/* dropped */
	ipi(0, 0xff, DM(APIC_DM_EXTINT) | 0x30, NULL);			/* not an ICR mode: dropped */
	ipi(0, 0xff, DM(3) | 0x31, NULL);				/* reserved */
	assert_int_equal(who_kicked(), 0);
	assert_int_equal(who_has(0x30) | who_has(0x31), 0);
}

static void test_illegal_vector(void **state)
{
	(void)state;
	ipi(0, 1, 0x0f, NULL);
	assert_int_equal(who_kicked(), 0);
	vlapic_write(&F.vl[0], ESR, 0, 0, NULL);
	vlapic_write(&F.vl[1], ESR, 0, 0, NULL);
	assert_int_equal(F.vl[0].esr, VLAPIC_ESR_SEND_ILLEGAL);
	assert_int_equal(F.vl[1].esr, 0);
	ipi(0, 1, 0x10, NULL);
	assert_int_equal(who_has(0x10), 1u << 1);			/* 16 is the first legal one */
	ipi(0, 1, DM(APIC_DM_NMI) | 0x02, NULL);			/* vector ignored for NMI */
	assert_true(vlapic_take_nmi(&F.vl[1]));
	vlapic_write(&F.vl[0], ESR, 0, 0, NULL);
	assert_int_equal(F.vl[0].esr, 0);
}

/* INIT and SIPI (SDM 8.4.4, bhyve's boot states), reported to the sender's caller. */
static void test_init_sipi(void **state)
{
	struct vlapic *ap = &F.vl[1];
	struct vlapic_effect eff;

	(void)state;
	vlapic_write(ap, TPR, 0x50, 0, NULL);
	vlapic_write(ap, 0x020, 0x11000000, 0, NULL);
	assert_int_equal(vintr_set_intr(&F.vi, 1, 0x40, HV_APIC_EDGE_TRIGGER), HV_SUCCESS);
	assert_false(ipi(0, 0x11, DM(APIC_DM_INIT) | LEVEL | ASSERT, &eff));
	assert_int_equal(eff.exitinfo, HV_VM_EXITINFO_INIT_AP);
	assert_int_equal(eff.targets, 1u << 1);
	assert_int_equal(ap->boot_state, HV_BS_SIPI);
	assert_int_equal(ap->tpr, 0);					/* INIT reset */
	assert_int_equal(ap->svr, 0xff);
	assert_false(irr(1, 0x40));
	assert_int_equal(vlapic_read(ap, 0x020, 0), 0x11000000);	/* but the ID stays */
	assert_int_equal(vlapic_apic_base(ap), 0xfee00800ull);
	assert_true(F.kicks[1]);
	assert_true(ipi(0, 0x11, DM(APIC_DM_INIT) | LEVEL, &eff));	/* de-assert: nothing */
	assert_int_equal(eff.exitinfo, 0);
	assert_int_equal(ap->boot_state, HV_BS_SIPI);
	assert_false(ipi(0, 0x11, DM(APIC_DM_STARTUP) | ASSERT | 0x9a, &eff));
	assert_int_equal(eff.exitinfo, HV_VM_EXITINFO_STARTUP_AP);
	assert_int_equal(eff.targets, 1u << 1);
	assert_int_equal(eff.vector, 0x9a);
	assert_int_equal(ap->boot_state, HV_BS_RUNNING);
	assert_true(ipi(0, 0x11, DM(APIC_DM_STARTUP) | ASSERT | 0x9a, &eff));	/* second SIPI: ignored */
	assert_int_equal(eff.exitinfo, 0);
	assert_true(ipi(0, 2, DM(APIC_DM_STARTUP) | ASSERT | 0x9a, &eff));	/* never INITed */
	assert_int_equal(F.vl[2].boot_state, HV_BS_INIT);
}

static void test_init_sipi_broadcast(void **state)
{
	struct vlapic_effect eff;
	int i;

	(void)state;
	assert_false(ipi(0, 0, DM(APIC_DM_INIT) | LEVEL | ASSERT | OTHERS, &eff));
	assert_int_equal(eff.exitinfo, HV_VM_EXITINFO_INIT_AP);
	assert_int_equal(eff.targets, 0xfe);
	assert_int_equal(F.vl[0].boot_state, HV_BS_RUNNING);
	F.vl[4].boot_state = HV_BS_RUNNING;				/* e.g. woken by an earlier SIPI */
	F.vl[4].apic_base &= ~VLAPIC_BASE_EN;				/* and hardware-disabled: deaf */
	assert_false(ipi(0, 0, DM(APIC_DM_INIT) | LEVEL | ASSERT | OTHERS, &eff));
	assert_int_equal(eff.targets, 0xee);
	assert_int_equal(F.vl[4].boot_state, HV_BS_RUNNING);
	assert_false(ipi(0, 0, DM(APIC_DM_STARTUP) | ASSERT | OTHERS | 0x10, &eff));
	assert_int_equal(eff.exitinfo, HV_VM_EXITINFO_STARTUP_AP);
	assert_int_equal(eff.targets, 0xee);
	assert_int_equal(eff.vector, 0x10);
	for (i = 1; i < NCPU; i++)
		assert_int_equal(F.vl[i].boot_state, HV_BS_RUNNING);
	/* x2APIC: the same through the ICR MSR. */
	assert_true(vlapic_wrmsr(&F.vl[0], 0x1b, X2APIC_BASE | VLAPIC_BASE_BSP, 0, NULL));
	assert_true(vlapic_wrmsr(&F.vl[0], 0x830, (6ull << 32) | DM(APIC_DM_INIT) | LEVEL | ASSERT, 0, &eff));
	assert_int_equal(eff.exitinfo, HV_VM_EXITINFO_INIT_AP);
	assert_int_equal(eff.targets, 1u << 6);
}

static void test_init_keeps_x2apic(void **state)
{
	struct vlapic_effect eff;
	uint64_t v;

	(void)state;
	assert_true(vlapic_wrmsr(&F.vl[3], 0x1b, X2APIC_BASE, 0, NULL));
	assert_true(vlapic_wrmsr(&F.vl[3], 0x808, 0x40, 0, NULL));
	assert_false(ipi(0, 3, DM(APIC_DM_INIT) | LEVEL | ASSERT, &eff));
	assert_int_equal(vlapic_apic_base(&F.vl[3]), X2APIC_BASE);
	assert_true(vlapic_rdmsr(&F.vl[3], 0x808, &v, 0));
	assert_int_equal(v, 0);
	assert_true(vlapic_rdmsr(&F.vl[3], 0x80d, &v, 0));
	assert_int_equal(v, 1u << 3);					/* derived LDR survives */
}

/* bhyve lapic_intr_msi rules. */
static void test_msi(void **state)
{
	int i;

	(void)state;
	assert_int_equal(vintr_msi(&F.vi, 0xfee03000, 0x41), HV_SUCCESS);
	assert_int_equal(who_has(0x41), 1u << 3);
	assert_int_equal(who_kicked(), 1u << 3);
	assert_int_equal(vintr_msi(&F.vi, 0xfed03000, 0x42), HV_BAD_ARGUMENT);
	assert_int_equal(vintr_msi(&F.vi, 0xfe003000, 0x42), HV_BAD_ARGUMENT);
	assert_int_equal(who_has(0x42), 0);
	assert_int_equal(vintr_msi(&F.vi, 0x1fee04000ull, 0x43), HV_SUCCESS);	/* bits 63:32 ignored */
	assert_int_equal(who_has(0x43), 1u << 4);
	assert_int_equal(vintr_msi(&F.vi, 0xfee0f000, 0x44), HV_SUCCESS);	/* nobody */
	assert_int_equal(who_has(0x44), 0);
	for (i = 0; i < NCPU; i++)
		vlapic_write(&F.vl[i], LDR, (1u << i) << 24, 0, NULL);
	assert_int_equal(vintr_msi(&F.vi, 0xfee0300c, 0x45), HV_SUCCESS);	/* RH+DM: logical 0x03 */
	assert_int_equal(who_has(0x45), 0x03);
	assert_int_equal(vintr_msi(&F.vi, 0xfee03004, 0x46), HV_SUCCESS);	/* DM alone: physical */
	assert_int_equal(who_has(0x46), 1u << 3);
	assert_int_equal(vintr_msi(&F.vi, 0xfee03008, 0x47), HV_SUCCESS);	/* RH alone: physical */
	assert_int_equal(who_has(0x47), 1u << 3);
	assert_int_equal(vintr_msi(&F.vi, 0xfeeff000, 0xc048), HV_SUCCESS);	/* level bits ignored */
	assert_int_equal(who_has(0x48), 0xff);
	assert_false(F.vl[0].tmr[2] & (1u << 8));
	clear_all();
	assert_int_equal(vintr_msi(&F.vi, 0xfee02000, DM(APIC_DM_NMI)), HV_SUCCESS);
	assert_true(vlapic_take_nmi(&F.vl[2]));
	assert_int_equal(vintr_msi(&F.vi, 0xfee02000, DM(APIC_DM_INIT)), HV_SUCCESS);
	assert_int_equal(F.vl[2].boot_state, HV_BS_INIT);			/* dropped */
	assert_int_equal(vintr_msi(&F.vi, 0xfeeff000, DM(APIC_DM_LOWPRI) | 0x49), HV_SUCCESS);
	assert_int_equal(who_has(0x49), 1u << 0);
	assert_int_equal(vintr_msi(&F.vi, 0xfee01000, 0x05), HV_SUCCESS);	/* illegal: receiver's ESR */
	vlapic_write(&F.vl[1], ESR, 0, 0, NULL);
	assert_int_equal(F.vl[1].esr, VLAPIC_ESR_RECV_ILLEGAL);
}

/* hv_vm_send_ioapic_intr: a redirection entry (82093AA). */
static void test_ioapic_intr(void **state)
{
	const uint64_t level = 1ull << 15, masked = 1ull << 16, logical = 1ull << 11;

	(void)state;
	assert_int_equal(vintr_ioapic_intr(&F.vi, (2ull << 56) | level | 0x61), HV_SUCCESS);
	assert_int_equal(who_has(0x61), 1u << 2);
	assert_true(F.vl[2].tmr[3] & (1u << 1));
	assert_int_equal(vintr_ioapic_intr(&F.vi, (2ull << 56) | 0x62), HV_SUCCESS);
	assert_false(F.vl[2].tmr[3] & (1u << 2));
	assert_int_equal(vintr_ioapic_intr(&F.vi, (2ull << 56) | masked | 0x63), HV_SUCCESS);
	assert_int_equal(who_has(0x63), 0);
	vlapic_write(&F.vl[5], LDR, 0x40u << 24, 0, NULL);
	assert_int_equal(vintr_ioapic_intr(&F.vi, (0x40ull << 56) | logical | 0x64), HV_SUCCESS);
	assert_int_equal(who_has(0x64), 1u << 5);
	assert_int_equal(vintr_ioapic_intr(&F.vi, (0xffull << 56) | DM(APIC_DM_NMI)), HV_SUCCESS);
	assert_true(vlapic_take_nmi(&F.vl[7]));
	assert_int_equal(vintr_ioapic_intr(&F.vi, (0xffull << 56) | DM(APIC_DM_EXTINT)), HV_SUCCESS);
	assert_int_equal(vintr_ioapic_intr(&F.vi, (0xffull << 56) | DM(APIC_DM_SMI)), HV_SUCCESS);
	assert_int_equal(vintr_ioapic_intr(&F.vi, (3ull << 56) | DM(APIC_DM_STARTUP) | 0x10), HV_SUCCESS);
	assert_int_equal(F.vl[3].boot_state, HV_BS_INIT);
}

static void test_set_intr(void **state)
{
	(void)state;
	assert_int_equal(vintr_set_intr(&F.vi, 8, 0x40, HV_APIC_EDGE_TRIGGER), HV_BAD_ARGUMENT);	/* no vCPU 8 */
	assert_int_equal(vintr_set_intr(&F.vi, 64, 0x40, HV_APIC_EDGE_TRIGGER), HV_BAD_ARGUMENT);
	assert_int_equal(vintr_set_intr(&F.vi, 1, 15, HV_APIC_EDGE_TRIGGER), HV_BAD_ARGUMENT);
	assert_int_equal(vintr_set_intr(&F.vi, 1, 0x40, 3), HV_BAD_ARGUMENT);
	assert_int_equal(who_kicked(), 0);
	assert_int_equal(vintr_set_intr(&F.vi, 1, 16, HV_APIC_LEVEL_TRIGGER), HV_SUCCESS);
	assert_true(irr(1, 16));
	assert_true(F.vl[1].tmr[0] & (1u << 16));
	assert_int_equal(F.kicks[1], 1);
	assert_int_equal(vintr_set_intr(&F.vi, 7, 0xff, HV_APIC_EDGE_TRIGGER_AEOI), HV_SUCCESS);
	assert_true(F.vl[7].aeoi[7] & (1u << 31));
	assert_int_equal(who_kicked(), (1u << 1) | (1u << 7));
	F.vi.lapic[3] = NULL;						/* the integrator dropped vCPU 3 */
	assert_int_equal(vintr_set_intr(&F.vi, 3, 0x40, HV_APIC_EDGE_TRIGGER), HV_BAD_ARGUMENT);
	ipi(0, 0xff, 0x41, NULL);
	assert_int_equal(who_has(0x41), 0xff & ~(1u << 3));
}

/* LINT0 ExtINT (the 8259 INTR), LINT1 NMI, LINT fixed: edge on the pin. */
static void test_lint(void **state)
{
	int i;

	(void)state;
	vlapic_write(&F.vl[0], LVT_LINT0, DM(APIC_DM_EXTINT), 0, NULL);
	for (i = 0; i < NCPU; i++)
		vlapic_write(&F.vl[i], LVT_LINT1, DM(APIC_DM_NMI), 0, NULL);
	vintr_lint(&F.vi, 0, true);
	assert_true(vlapic_extint_pending(&F.vl[0]));
	for (i = 1; i < NCPU; i++)
		assert_false(vlapic_extint_pending(&F.vl[i]));		/* LINT0 masked on the APs */
	assert_int_equal(who_kicked(), 1u << 0);
	vintr_lint(&F.vi, 0, false);
	assert_false(vlapic_extint_pending(&F.vl[0]));
	vintr_lint(&F.vi, 0, true);
	vlapic_write(&F.vl[0], LVT_LINT0, MASKED | DM(APIC_DM_EXTINT), 0, NULL);
	assert_false(vlapic_extint_pending(&F.vl[0]));
	clear_all();
	vlapic_write(&F.vl[0], LVT_LINT0, DM(APIC_DM_EXTINT), 0, NULL);	/* unmasking with INTR high */
	assert_true(vlapic_extint_pending(&F.vl[0]));
	assert_int_equal(who_kicked(), 1u << 0);
	clear_all();
	vintr_lint(&F.vi, 1, true);
	for (i = 0; i < NCPU; i++)
		assert_true(vlapic_take_nmi(&F.vl[i]));
	vintr_lint(&F.vi, 1, true);					/* still high: no new edge */
	assert_false(vlapic_take_nmi(&F.vl[3]));
	vintr_lint(&F.vi, 1, false);
	vintr_lint(&F.vi, 1, true);
	assert_true(vlapic_take_nmi(&F.vl[3]));
	vintr_lint(&F.vi, 2, true);					/* no such pin */
	vlapic_write(&F.vl[5], LVT_LINT0, 0x57, 0, NULL);		/* fixed */
	vintr_lint(&F.vi, 0, false);
	vintr_lint(&F.vi, 0, true);
	assert_int_equal(who_has(0x57), 1u << 5);
}

static void test_bus_freq(void **state)
{
	struct vintr vi;
	struct vlapic vl;

	(void)state;
	assert_int_equal(vintr_set_bus_freq(&F.vi, 100000000), HV_BUSY);	/* vCPUs exist */
	vintr_init(&vi, &env, 3000000000ull);
	assert_int_equal(vi.bus_hz, 1000000000ull);
	assert_int_equal(vintr_set_bus_freq(&vi, 15999999), HV_BAD_ARGUMENT);
	assert_int_equal(vintr_set_bus_freq(&vi, 2000000001), HV_BAD_ARGUMENT);
	assert_int_equal(vintr_set_bus_freq(&vi, 16000000), HV_SUCCESS);
	assert_int_equal(vintr_set_bus_freq(&vi, 2000000000), HV_SUCCESS);
	assert_int_equal(vintr_set_bus_freq(&vi, 100000000), HV_SUCCESS);
	vlapic_init(&vl, &vi, 0);
	vi.lapic[0] = &vl;
	vlapic_write(&vl, SVR, 0x1ff, 0, NULL);
	vlapic_write(&vl, LVT_TIMER, 0x40, 0, NULL);
	vlapic_write(&vl, 0x3e0, 0xb, 0, NULL);				/* divide by 1 */
	vlapic_write(&vl, TIMER_ICR, 1000, 0, NULL);			/* 10 us at 100 MHz */
	assert_int_equal(vlapic_deadline(&vl), 30000);			/* 3 GHz TSC */
	assert_int_equal(vlapic_read(&vl, 0x390, 15000), 500);
}

/* The fixed-point rates: exact for integer ratios, rounded up otherwise. */
static void test_rates(void **state)
{
	struct vintr vi;

	(void)state;
	vintr_init(&vi, &env, 2400000000ull);				/* 2.4 TSC ticks a bus cycle */
	assert_true(vintr_set_bus_freq(&vi, 1000000000) == HV_SUCCESS);
	assert_int_equal(vintr_ticks(&vi, 10, 1), 24);
	assert_int_equal(vintr_ticks(&vi, 1000000000, 1), 2400000000ull);
	assert_int_equal(vintr_counts(&vi, 24, 1), 10);
	assert_int_equal(vintr_counts(&vi, 2400000000ull, 2), 500000000);
	/* 2.4 * (2^39 - 128) = 1319413953024: within 2^-32 of it, never late. */
	assert_in_range(vintr_ticks(&vi, 0xffffffffull, 128), 1319413953024ull - 1319413953024ull / (1ull << 32) - 1,
			1319413953024ull);
	vintr_init(&vi, &env, 0);					/* unknown TSC: the bus rate */
	assert_int_equal(vintr_ticks(&vi, 7, 4), 28);
	vintr_init(&vi, &env, 10000000000ull);				/* above 2^32 Hz */
	assert_int_equal(vintr_ticks(&vi, 3, 1), 30);
	assert_int_equal(vintr_counts(&vi, 30, 1), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fixed_physical, setup),
		cmocka_unit_test_setup(test_broadcast, setup),
		cmocka_unit_test_setup(test_shorthands, setup),
		cmocka_unit_test_setup(test_logical_flat, setup),
		cmocka_unit_test_setup(test_logical_cluster, setup),
		cmocka_unit_test_setup(test_x2apic_ipis, setup),
		cmocka_unit_test_setup(test_lowest_priority, setup),
		cmocka_unit_test_setup(test_nmi_smi_extint, setup),
		cmocka_unit_test_setup(test_illegal_vector, setup),
		cmocka_unit_test_setup(test_init_sipi, setup),
		cmocka_unit_test_setup(test_init_sipi_broadcast, setup),
		cmocka_unit_test_setup(test_init_keeps_x2apic, setup),
		cmocka_unit_test_setup(test_msi, setup),
		cmocka_unit_test_setup(test_ioapic_intr, setup),
		cmocka_unit_test_setup(test_set_intr, setup),
		cmocka_unit_test_setup(test_lint, setup),
		cmocka_unit_test_setup(test_bus_freq, setup),
		cmocka_unit_test_setup(test_rates, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
