#include "cd_apic.h"
#include "cd_msr.h"
#include "kernel/cpu.h"
#include "kernel/kick.h"
#include "kernel/msr_safe.h"
#include "vm/vcpu.h"

#define MSR_MISC_ENABLE		0x1a0
#define MISC_LIMIT_CPUID	(1ull << 22)	/* would hide the leaves hvmetal reads */
#define MISC_XD_DISABLE		(1ull << 34)	/* would make hvmetal's NX page tables fault */

/* What happens to one direction of an access. */
enum msr_do {
	MSR_NATIVE,	/* performed in VMX root as the caller asked */
	MSR_REFUSE,	/* #GP: the feature is hvmetal's, or could reach its memory */
	MSR_EMULATE,	/* the rule's write handler decides */
};

struct msr_rule {
	uint32_t first, last;
	uint8_t read, write;
	int (*emulate)(uint32_t msr, uint64_t val);	/* a write: 0 done, -1 #GP */
};

static int write_misc_enable(uint32_t msr, uint64_t val)
{
	(void)msr;
	uint64_t old = rdmsr(MSR_MISC_ENABLE);

	if ((val & ~old) & (MISC_LIMIT_CPUID | MISC_XD_DISABLE))
		return -1;
	return msr_safe_write(MSR_MISC_ENABLE, val);
}

static int write_apic_base(uint32_t msr, uint64_t val)
{
	(void)msr;
	return cd_apic_write_base(val);
}

static int write_icr(uint32_t msr, uint64_t val)
{
	(void)msr;
	return cd_apic_write_icr(val);
}

/* An MSR guests swap (vm/vcpu.h): written, and this CPU's copy of the value kept. */
static int write_swapped(uint32_t msr, uint64_t val)
{
	int i = vcpu_swapped_index(msr);

	if (msr_safe_write(msr, val))
		return -1;
	if (i >= 0) {
		this_cpu()->cd_msr[i] = val;
		this_cpu()->cd_msr_gen++;	/* each vCPU works out msr_differs again */
	}
	return 0;
}

/*
 * Sorted by first MSR. VMX's capability MSRs go with CPUID's VMX bit; Intel PT
 * (whose output addresses are host-physical) and PEBS/DS (the CPU writes records
 * where DS_AREA says) would let the control domain's trace reach hvmetal's
 * memory; the hypervisor ranges would reach the hypervisor below hvmetal, if any.
 */
static const struct msr_rule rules[] = {
	{ MSR_IA32_APIC_BASE, MSR_IA32_APIC_BASE, MSR_NATIVE, MSR_EMULATE, write_apic_base },
	{ MSR_MISC_ENABLE, MSR_MISC_ENABLE, MSR_NATIVE, MSR_EMULATE, write_misc_enable },
	{ 0x3f1, 0x3f1, MSR_NATIVE, MSR_REFUSE, 0 },		/* IA32_PEBS_ENABLE */
	{ 0x480, 0x493, MSR_REFUSE, MSR_REFUSE, 0 },		/* IA32_VMX_* */
	{ 0x560, 0x561, MSR_REFUSE, MSR_REFUSE, 0 },		/* IA32_RTIT_OUTPUT_* */
	{ 0x570, 0x572, MSR_REFUSE, MSR_REFUSE, 0 },		/* IA32_RTIT_CTL, STATUS, CR3_MATCH */
	{ 0x580, 0x58f, MSR_REFUSE, MSR_REFUSE, 0 },		/* IA32_RTIT_ADDRn_A/B */
	{ 0x600, 0x600, MSR_NATIVE, MSR_REFUSE, 0 },		/* IA32_DS_AREA */
	{ MSR_X2APIC_ICR, MSR_X2APIC_ICR, MSR_NATIVE, MSR_EMULATE, write_icr },
	{ 0xd90, 0xd90, MSR_NATIVE, MSR_EMULATE, write_swapped },		/* IA32_BNDCFGS */
	{ 0x40000000, 0x400000ff, MSR_REFUSE, MSR_REFUSE, 0 },	/* hypervisor MSRs */
	{ 0x4b564d00, 0x4b564dff, MSR_REFUSE, MSR_REFUSE, 0 },	/* KVM's */
	{ 0xc0000081, 0xc0000084, MSR_NATIVE, MSR_EMULATE, write_swapped },	/* STAR..SFMASK */
	{ 0xc0000103, 0xc0000103, MSR_NATIVE, MSR_EMULATE, write_swapped },	/* TSC_AUX */
};

static const struct msr_rule *find_rule(uint32_t msr)
{
	for (unsigned i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (msr >= rules[i].first && msr <= rules[i].last)
			return &rules[i];
	return 0;
}

/* The bitmap's read bits: MSRs 0..1fff at byte 0, c0000000..c0001fff at 1024; writes +2048. */
static void bitmap_set(uint8_t *bitmap, uint32_t msr, unsigned base)
{
	if (msr <= 0x1fff)
		bitmap[base + msr / 8] |= 1u << (msr % 8);
	else if (msr - 0xc0000000u <= 0x1fff)
		bitmap[base + 1024 + (msr - 0xc0000000u) / 8] |= 1u << (msr % 8);
}

void cd_msr_bitmap_init(uint8_t *bitmap)
{
	for (unsigned i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		for (uint32_t m = rules[i].first; m <= rules[i].last && m - rules[i].first <= 0x1fff; m++) {
			if (rules[i].read != MSR_NATIVE)
				bitmap_set(bitmap, m, 0);
			if (rules[i].write != MSR_NATIVE)
				bitmap_set(bitmap, m, 2048);
		}
}

static enum exit_action refuse(void)
{
	vmx_inject_exception(VEC_GP, 1, 0);
	return EXIT_RESUME;
}

enum exit_action cd_exit_rdmsr(struct vmx_exit *ex)
{
	uint32_t msr = (uint32_t)ex->gpr->rcx;
	const struct msr_rule *r = find_rule(msr);
	uint64_t val;

	if ((r && r->read == MSR_REFUSE) || msr_safe_read(msr, &val))
		return refuse();
	ex->gpr->rax = (uint32_t)val;
	ex->gpr->rdx = val >> 32;
	return EXIT_ADVANCE;
}

enum exit_action cd_exit_wrmsr(struct vmx_exit *ex)
{
	uint32_t msr = (uint32_t)ex->gpr->rcx;
	uint64_t val = (ex->gpr->rdx << 32) | (uint32_t)ex->gpr->rax;
	const struct msr_rule *r = find_rule(msr);
	int err;

	if (!r || r->write == MSR_NATIVE)
		err = msr_safe_write(msr, val);
	else if (r->write == MSR_EMULATE)
		err = r->emulate(msr, val);
	else
		err = -1;
	return err ? refuse() : EXIT_ADVANCE;
}
