/*
 * The virtual-APIC page (apic/apicv.c): every x2APIC MSR the page serves reads
 * what the model's RDMSR gives, the MSRs left to exits, and the hand-over of
 * IRR/ISR/TPR between the model and a CPU that delivers, EOIs and takes TPR
 * writes on the page, with vectors posted by other CPUs meanwhile.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "apic/apicv.h"
#include "apic/vintr.h"
#include "apic/vlapic.h"

#define X2APIC_BASE	(0xfee00000ull | VLAPIC_BASE_EN | VLAPIC_BASE_EXTD)

static struct {
	struct vintr vi;
	struct vlapic vl[2];
	uint8_t page[APICV_PAGE_SIZE];
	unsigned eois;
} F;

static void fake_kick(void *ctx, uint32_t vcpu)
{
	(void)ctx;
	(void)vcpu;
}

static void fake_eoi(void *arg, uint8_t vector)
{
	(void)arg;
	(void)vector;
	F.eois++;
}

static const struct apic_env env = { .kick = fake_kick };

static void wrmsr(struct vlapic *vl, uint32_t msr, uint64_t val)
{
	assert_true(vlapic_wrmsr(vl, msr, val, 0, NULL));
}

/* Two x2APIC LAPICs, software-enabled. */
static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	vintr_init(&F.vi, &env, 2000000000ull);
	F.vi.eoi_level = fake_eoi;
	for (int i = 0; i < 2; i++) {
		vlapic_init(&F.vl[i], &F.vi, (uint32_t)i);
		F.vi.lapic[i] = &F.vl[i];
		wrmsr(&F.vl[i], 0x1b, X2APIC_BASE | (i == 0 ? VLAPIC_BASE_BSP : 0));
		wrmsr(&F.vl[i], 0x80f, 0x1ff);
	}
	return 0;
}

static void fixed(uint32_t dest, uint8_t vector, bool level)
{
	vintr_deliver(&F.vi, &(struct apic_msg){ .dest = dest, .vector = vector,
						 .mode = APIC_DM_FIXED, .level = level }, NULL);
}

static uint32_t *page_reg(uint32_t off)
{
	return (uint32_t *)(void *)(F.page + off);
}

static bool in(const uint32_t *set, uint32_t msr)
{
	return set[(msr & 0xff) >> 5] & (1u << (msr & 31));
}

static uint64_t page64(uint32_t msr)
{
	return page_reg((msr & 0xff) << 4)[0] | (uint64_t)page_reg((msr & 0xff) << 4)[1] << 32;
}

/* The CPU's side (SDM 30.2): deliver RVI, EOI the highest ISR vector, a TPR write. */
static void cpu_deliver(void)
{
	uint8_t v = (uint8_t)apicv_intr_status(F.page);

	page_reg(0x200 + (v >> 5) * 16)[0] &= ~(1u << (v & 31));
	page_reg(0x100 + (v >> 5) * 16)[0] |= 1u << (v & 31);
}

static void cpu_eoi(void)
{
	uint8_t v = (uint8_t)(apicv_intr_status(F.page) >> 8);

	page_reg(0x100 + (v >> 5) * 16)[0] &= ~(1u << (v & 31));
}

/* Every MSR the page serves reads as the model's RDMSR, for a model with every register set. */
static void test_reads_match_model(void **state)
{
	struct vlapic *vl = &F.vl[0];
	struct apicv_msrs m;

	(void)state;
	wrmsr(vl, 0x808, 0x20);
	wrmsr(vl, 0x835, 0x1a7ff & ~0x700u);
	wrmsr(vl, 0x836, 0x400);
	wrmsr(vl, 0x837, 0x33);
	wrmsr(vl, 0x834, 0x10044);
	wrmsr(vl, 0x833, 0x10055);
	wrmsr(vl, 0x82f, 0x10066);
	wrmsr(vl, 0x83e, 0xb);
	wrmsr(vl, 0x832, 0x20040);
	wrmsr(vl, 0x838, 123456);
	wrmsr(vl, 0x830, 0x0000000100000040ull);	/* fixed IPI 0x40 to vCPU 1 */
	fixed(0, 0x51, true);
	fixed(0, 0x92, false);
	fixed(0, 0xe3, true);
	vlapic_accept(vl, 0xe3);
	fixed(0, 5, false);				/* illegal: ESR */
	wrmsr(vl, 0x828, 0);
	apicv_load(vl, F.page);
	apicv_msrs(vl, &m);
	for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
		uint64_t val;
		bool ok = vlapic_rdmsr(vl, msr, &val, 0);

		if (in(m.read, msr)) {
			assert_true(ok);
			assert_int_equal(page64(msr), val);
		} else {
			/* Left to an exit: a #GP, or the running count. */
			assert_true(!ok || msr == 0x839);
		}
	}
	assert_true(in(m.read, 0x802) && in(m.read, 0x80a) && in(m.read, 0x820) && in(m.read, 0x830));
	assert_false(in(m.read, 0x839) || in(m.read, 0x80b) || in(m.read, 0x83f) || in(m.read, 0x831));
	assert_int_equal(page64(0x818 + 2), 1u << (0x51 & 31));	/* TMR of 0x51 */
	assert_int_equal(page64(0x828), 0x40);			/* ESR: received illegal vector */
	assert_int_equal(apicv_intr_status(F.page), 0xe3 << 8 | 0x92);
	assert_int_equal(apicv_tpr(F.page), 0x20);
}

/* Writes through the CPU: TPR and EOI; EOI exits under IOAPIC_EOI; NO_TIMER keeps the timer's reads. */
static void test_msrs_follow_ctrl(void **state)
{
	struct vlapic *vl = &F.vl[0];
	struct apicv_msrs m;
	uint32_t n = 0;

	(void)state;
	apicv_msrs(vl, &m);
	for (int i = 0; i < 8; i++)
		n += (uint32_t)__builtin_popcount(m.write[i]);
	assert_int_equal(n, 2);
	assert_true(in(m.write, 0x808) && in(m.write, 0x80b));
	assert_true(in(m.read, 0x832) && in(m.read, 0x838) && in(m.read, 0x83e));
	vlapic_set_ctrl(vl, HV_APIC_CTRL_IOAPIC_EOI | HV_APIC_CTRL_NO_TIMER);
	apicv_msrs(vl, &m);
	assert_true(in(m.write, 0x808));
	assert_false(in(m.write, 0x80b));
	assert_false(in(m.read, 0x832) || in(m.read, 0x838) || in(m.read, 0x83e));
	assert_true(in(m.read, 0x835));
}

/* Load then store with nothing done by the CPU changes nothing. */
static void test_store_of_untouched_page(void **state)
{
	struct vlapic *vl = &F.vl[0], before;

	(void)state;
	fixed(0, 0x61, false);
	fixed(0, 0x71, true);
	vlapic_accept(vl, 0x71);
	wrmsr(vl, 0x808, 0x30);
	apicv_load(vl, F.page);
	before = *vl;
	apicv_store(vl, F.page);
	assert_memory_equal(vl->irr, before.irr, sizeof(vl->irr));
	assert_memory_equal(vl->isr, before.isr, sizeof(vl->isr));
	assert_int_equal(vl->tpr, 0x30);
	assert_false(apicv_post(vl, F.page));
}

/* What the CPU did on the page comes back: a delivery, an EOI, a TPR write. */
static void test_cpu_changes_come_back(void **state)
{
	struct vlapic *vl = &F.vl[0];

	(void)state;
	fixed(0, 0x81, false);
	fixed(0, 0x42, false);
	apicv_load(vl, F.page);
	assert_int_equal(apicv_intr_status(F.page), 0x81);
	cpu_deliver();				/* 0x81 in service */
	assert_int_equal(apicv_intr_status(F.page), 0x81 << 8 | 0x42);
	page_reg(0x80)[0] = 0x90;		/* TPR write */
	apicv_store(vl, F.page);
	assert_int_equal(vlapic_pending(vl), -1);	/* 0x42 below TPR and ISR */
	assert_int_equal(vlapic_ppr(vl), 0x90);
	page_reg(0x80)[0] = 0;
	cpu_eoi();
	apicv_store(vl, F.page);
	assert_int_equal(vl->isr[0x81 >> 5], 0);
	assert_int_equal(vlapic_pending(vl), 0x42);
	assert_int_equal(vl->tpr, 0);
}

/* A vector accepted by another CPU while the guest runs, even one the CPU just delivered, is not lost. */
static void test_posted_while_running(void **state)
{
	struct vlapic *vl = &F.vl[0];

	(void)state;
	fixed(0, 0x50, false);
	apicv_load(vl, F.page);
	cpu_deliver();				/* 0x50: IRR -> ISR on the page */
	fixed(0, 0x50, false);			/* again, from elsewhere */
	fixed(0, 0x60, true);
	assert_true(apicv_post(vl, F.page));
	assert_false(apicv_post(vl, F.page));
	assert_int_equal(page_reg(0x200 + 16 * 3)[0], 1u << 0);	/* 0x60 */
	assert_int_equal(page_reg(0x200 + 16 * 2)[0], 1u << 16);	/* 0x50 again */
	assert_int_equal(page_reg(0x180 + 16 * 3)[0], 1u << 0);	/* 0x60 level: TMR */
	fixed(0, 0x70, false);			/* posted after the last entry */
	apicv_store(vl, F.page);
	assert_true(vl->irr[2] & (1u << 16));
	assert_true(vl->isr[2] & (1u << 16));
	assert_true(vl->irr[3] & 1u);
	assert_true(vl->irr[3] & (1u << 16));
	assert_int_equal(vlapic_pending(vl), 0x70);
}

/* regs_gen: writes, resets, puts, TPR and ctrl changes bump it; accepting a vector does not. */
static void test_regs_gen(void **state)
{
	struct vlapic *vl = &F.vl[1];
	struct hv_apic_state s;
	uint32_t g = vl->regs_gen;

	(void)state;
	fixed(1, 0x40, false);
	assert_int_equal(vl->regs_gen, g);
	wrmsr(vl, 0x808, 0x10);
	assert_int_not_equal(vl->regs_gen, g);
	g = vl->regs_gen;
	vlapic_set_tpr(vl, 2);
	assert_int_not_equal(vl->regs_gen, g);
	/* The often-written registers: no reload, apicv_load_hot brings them. */
	g = vl->regs_gen;
	wrmsr(vl, 0x838, 5);
	wrmsr(vl, 0x830, 0x0000000000000040ull);	/* an IPI to vCPU 0 */
	wrmsr(vl, 0x83f, 0x41);
	wrmsr(vl, 0x6e0, 12345);
	assert_int_equal(vl->regs_gen, g);
	apicv_load_hot(vl, F.page);
	assert_int_equal(page64(0x838), 5);
	assert_int_equal(page64(0x830), 0x40);
	assert_true(vl->posted[2] & (1u << 1));		/* the self IPI is a posted vector */
	g = vl->regs_gen;
	vlapic_set_ctrl(vl, HV_APIC_CTRL_NO_TIMER);
	assert_int_not_equal(vl->regs_gen, g);
	g = vl->regs_gen;
	vlapic_get_state(vl, &s, 0);
	assert_int_equal(vlapic_put_state(vl, &s, 0), HV_SUCCESS);
	assert_int_not_equal(vl->regs_gen, g);
	g = vl->regs_gen;
	vintr_deliver(&F.vi, &(struct apic_msg){ .dest = 1, .mode = APIC_DM_INIT, .assert = true }, NULL);
	assert_int_not_equal(vl->regs_gen, g);
	assert_int_equal(vl->irr[2], 0);
}

/* The CPU's EOI of a level vector: the rest of the EOI goes to the IOAPIC, or becomes IOAPIC_EOI. */
static void test_eoi_done(void **state)
{
	struct vlapic *vl = &F.vl[0];
	struct vlapic_effect eff = { 0 };

	(void)state;
	fixed(0, 0x55, true);
	fixed(0, 0x66, false);
	vlapic_eoi_done(vl, 0x66, &eff);
	assert_int_equal(F.eois, 0);
	vlapic_eoi_done(vl, 0x55, &eff);
	assert_int_equal(F.eois, 1);
	assert_int_equal(eff.exitinfo, 0);
	vlapic_set_ctrl(vl, HV_APIC_CTRL_IOAPIC_EOI);
	vlapic_eoi_done(vl, 0x55, &eff);
	assert_int_equal(F.eois, 1);
	assert_int_equal(eff.exitinfo, HV_VM_EXITINFO_IOAPIC_EOI);
	assert_int_equal(eff.vector, 0x55);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_reads_match_model, setup),
		cmocka_unit_test_setup(test_msrs_follow_ctrl, setup),
		cmocka_unit_test_setup(test_store_of_untouched_page, setup),
		cmocka_unit_test_setup(test_cpu_changes_come_back, setup),
		cmocka_unit_test_setup(test_posted_while_running, setup),
		cmocka_unit_test_setup(test_regs_gen, setup),
		cmocka_unit_test_setup(test_eoi_done, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
