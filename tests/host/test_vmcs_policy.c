/*
 * Host tests for the VMCS field policy: from a realistic set of VMX MSRs, which
 * control bits hvmetal forces and forbids, which fields a client may read and
 * write, what the capability calls report, and that the field table agrees with
 * the SDM's encoding rules.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <Hypervisor/hv_vmx.h>

#include "vmx/vmcs_policy.h"
#include "vmx/vmx_caps.h"

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define CTL(must1, may1)	(((uint64_t)(may1) << 32) | (uint32_t)(must1))
#define BIT(n)			(1u << (n))

/* A recent Intel core (TRUE_* controls); the CPU offers more than hvmetal passes on. */
#define PIN_MUST1	0x00000016u
#define PIN_MAY1	0x000000ffu	/* incl. preemption timer, posted interrupts */
#define PROC_MUST1	0x04006172u
#define PROC_MAY1	0xfff9fffeu	/* incl. TPR shadow, I/O bitmaps */
#define PROC2_MAY1	0xffffffffu	/* every bit, the reserved ones too */
#define EXIT_MUST1	0x00036dfbu
#define EXIT_MAY1	0x3fffffffu	/* incl. acknowledge interrupt, save timer */
#define ENTRY_MUST1	0x000011fbu
#define ENTRY_MAY1	0x0057ffffu	/* incl. SMM, PERF_GLOBAL_CTRL, RTIT, CET, PKRS */
#define BASIC		((1ull << 55) | (1ull << 54) | (6ull << 50) | (0x1000ull << 32) | 0x12)
#define MISC		0x7004c1e7ull	/* preemption timer: TSC >> 7 */
#define VMCS_ENUM	0x2eull
#define TSC_HZ		2400000000ull

#define CR0_PE		(1ull << 0)
#define CR0_ET		(1ull << 4)
#define CR0_NE		(1ull << 5)
#define CR0_PG		(1ull << 31)
#define CR4_VMXE	(1ull << 13)

#define PROC_TERTIARY	BIT(17)

static struct vmx_msrs
modern(void)
{
	return (struct vmx_msrs){
		.cpuid_vmx = true,
		.feature_control = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX,
		.basic = BASIC,
		.pin = CTL(PIN_MUST1, PIN_MAY1),
		.proc = CTL(PROC_MUST1, PROC_MAY1),
		.proc2 = CTL(0, PROC2_MAY1),
		.exit = CTL(EXIT_MUST1, EXIT_MAY1),
		.entry = CTL(ENTRY_MUST1, ENTRY_MAY1),
		.cr0_fixed0 = 0x80000021,
		.cr0_fixed1 = 0xffffffff,
		.cr4_fixed0 = 0x2000,
		.cr4_fixed1 = 0x3727ff,
		.ept_vpid = EPT_CAP_WALK4 | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_1G |
			    EPT_CAP_INVEPT | EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL |
			    (1ull << 0) | (1ull << 21) | VPID_CAP_INVVPID | VPID_CAP_SINGLE |
			    (1ull << 40) | (1ull << 42) | (1ull << 43),
	};
}

/* The policy hvmetal would derive from m (which must pass vmx_caps_check). */
static struct vmcs_policy
policy_of(const struct vmx_msrs *m)
{
	struct vmx_caps caps = { 0 };
	struct vmcs_policy p;

	assert_null(vmx_caps_check(m, &caps));
	memset(&p, 0xa5, sizeof(p));
	vmcs_policy_init(&p, &caps, m->basic, MISC, VMCS_ENUM, TSC_HZ);
	return p;
}

static struct vmcs_policy
modern_policy(void)
{
	struct vmx_msrs m = modern();

	return policy_of(&m);
}

/* A write that must succeed, and what it puts in the VMCS. */
static uint64_t
write_ok(const struct vmcs_policy *p, uint32_t field, uint64_t value)
{
	uint64_t out = 0xdeadbeef;

	if (vmcs_policy_write(p, field, value, &out) != 0)
		fail_msg("write %#x = %#llx refused", field, (unsigned long long)value);
	return out;
}

/* A write that must be refused, leaving *out alone. */
static void
write_refused(const struct vmcs_policy *p, uint32_t field, uint64_t value)
{
	uint64_t out = 0xdeadbeef;

	if (vmcs_policy_write(p, field, value, &out) != -1)
		fail_msg("write %#x = %#llx accepted (-> %#llx)", field,
			 (unsigned long long)value, (unsigned long long)out);
	assert_int_equal(out, 0xdeadbeef);
}

static void
expect_caps(const struct vmcs_policy *p, uint32_t field, uint64_t a0, uint64_t a1)
{
	uint64_t got0 = 1, got1 = 2;

	if (vmcs_policy_write_caps(p, field, &got0, &got1) != 0)
		fail_msg("write caps of %#x refused", field);
	if (got0 != a0 || got1 != a1)
		fail_msg("write caps of %#x: %#llx/%#llx, want %#llx/%#llx", field,
			 (unsigned long long)got0, (unsigned long long)got1,
			 (unsigned long long)a0, (unsigned long long)a1);
}

/* Neither readable nor writable in any way. */
static void
expect_hidden(const struct vmcs_policy *p, uint32_t field)
{
	uint64_t a0 = 1, a1 = 2;

	if (vmcs_policy_readable(field))
		fail_msg("%#x readable", field);
	if (vmcs_policy_write_caps(p, field, &a0, &a1) != -1)
		fail_msg("%#x has write caps", field);
	assert_int_equal(a0, 1);
	assert_int_equal(a1, 2);
	write_refused(p, field, 0);
	write_refused(p, field, 1);
}

static void
expect_read_only(const struct vmcs_policy *p, uint32_t field)
{
	uint64_t a0, a1;

	if (!vmcs_policy_readable(field))
		fail_msg("%#x not readable", field);
	if (vmcs_policy_write_caps(p, field, &a0, &a1) != -1)
		fail_msg("%#x has write caps", field);
	write_refused(p, field, 0);
}

static uint64_t
capability(const struct vmcs_policy *p, uint32_t cap)
{
	uint64_t v = 0;

	if (vmcs_policy_capability(p, cap, &v) != 0)
		fail_msg("capability %u unknown", cap);
	return v;
}

static void
test_pin(void **state)
{
	struct vmcs_policy p = modern_policy();
	const uint32_t must1 = PIN_MUST1 | PIN_BASED_INTR | PIN_BASED_NMI | PIN_BASED_VIRTUAL_NMI;
	const uint32_t may1 = PIN_MAY1 & ~(PIN_BASED_PREEMPTION_TIMER | PIN_BASED_POSTED_INTR);

	(void)state;
	assert_int_equal(p.pin.must1, must1);
	assert_int_equal(p.pin.may1, may1);
	expect_caps(&p, VMCS_CTRL_PIN_BASED, must1, may1);
	/* Writing nothing still gets interrupt and NMI exiting. */
	assert_int_equal(write_ok(&p, VMCS_CTRL_PIN_BASED, 0), must1);
	assert_int_equal(write_ok(&p, VMCS_CTRL_PIN_BASED, PIN_BASED_VIRTUAL_NMI),
			 must1 | PIN_BASED_VIRTUAL_NMI);
	assert_int_equal(write_ok(&p, VMCS_CTRL_PIN_BASED, may1), may1);
	/* The timer is hvmetal's; posted interrupts need hvmetal's descriptor. */
	write_refused(&p, VMCS_CTRL_PIN_BASED, PIN_BASED_PREEMPTION_TIMER);
	write_refused(&p, VMCS_CTRL_PIN_BASED, must1 | PIN_BASED_POSTED_INTR);
	/* Beyond what the CPU has, or beyond 32 bits. */
	write_refused(&p, VMCS_CTRL_PIN_BASED, BIT(8));
	write_refused(&p, VMCS_CTRL_PIN_BASED, 1ull << 32);
}

/* A CPU demanding a bit it does not allow: nothing accepted may go beyond may1. */
static void
test_contradictory_cpu(void **state)
{
	struct vmx_msrs m = modern();
	struct vmcs_policy p;
	uint64_t out;

	(void)state;
	m.pin = CTL(PIN_MUST1 | BIT(20), PIN_MAY1);
	p = policy_of(&m);
	assert_int_equal(p.pin.must1 & ~p.pin.may1, 0);
	expect_caps(&p, VMCS_CTRL_PIN_BASED, p.pin.must1, p.pin.may1);
	out = write_ok(&p, VMCS_CTRL_PIN_BASED, 0);
	assert_int_equal(out & ~(uint64_t)p.pin.may1, 0);
	write_refused(&p, VMCS_CTRL_PIN_BASED, BIT(20));
}

static void
test_proc(void **state)
{
	struct vmx_msrs m = modern();
	struct vmcs_policy p = policy_of(&m);
	const uint32_t must1 = PROC_MUST1 | CPU_BASED_UNCOND_IO | CPU_BASED_MSR_BITMAPS |
			       CPU_BASED_SECONDARY_CTLS | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE |
			       CPU_BASED_RDPMC;	/* issue 9, defect 13: the counters are the control domain's */
	const uint32_t may1 = PROC_MAY1 & ~(CPU_BASED_TPR_SHADOW | CPU_BASED_IO_BITMAPS);

	(void)state;
	assert_int_equal(p.proc.must1, must1);
	assert_int_equal(p.proc.may1, may1);
	expect_caps(&p, VMCS_CTRL_CPU_BASED, must1, may1);
	assert_int_equal(write_ok(&p, VMCS_CTRL_CPU_BASED, 0), must1);
	assert_int_equal(write_ok(&p, VMCS_CTRL_CPU_BASED, CPU_BASED_HLT | CPU_BASED_IRQ_WND |
				  CPU_BASED_MTF | CPU_BASED_RDTSC | CPU_BASED_TSC_OFFSET),
			 must1 | CPU_BASED_HLT | CPU_BASED_IRQ_WND | CPU_BASED_MTF |
			 CPU_BASED_RDTSC | CPU_BASED_TSC_OFFSET);
	write_refused(&p, VMCS_CTRL_CPU_BASED, CPU_BASED_TPR_SHADOW);
	write_refused(&p, VMCS_CTRL_CPU_BASED, must1 | CPU_BASED_IO_BITMAPS);
	/* The CPU's own may-be-0 bits: 0 and 17 are not offered by this CPU. */
	write_refused(&p, VMCS_CTRL_CPU_BASED, BIT(0));

	/* Tertiary controls stay off even where the CPU has them (hvmetal owns the field). */
	m.proc |= (uint64_t)PROC_TERTIARY << 32;
	p = policy_of(&m);
	assert_int_equal(p.proc.may1 & PROC_TERTIARY, 0);
	write_refused(&p, VMCS_CTRL_CPU_BASED, PROC_TERTIARY);
}

static void
test_proc2(void **state)
{
	static const uint32_t denied[] = {
		CPU_BASED2_X2APIC, CPU_BASED2_APIC_REG_VIRT,
		CPU_BASED2_VIRT_INTR_DELIVERY, CPU_BASED2_VMFUNC,
		CPU_BASED2_PML, CPU_BASED2_EPT_VE, CPU_BASED2_PT_CONCEAL_VMX,
		CPU_BASED2_XSAVES_XRSTORS, BIT(21), CPU_BASED2_EPT_MODE_BASED_EXEC,
		CPU_BASED2_EPT_SUBPAGE_WRITE, CPU_BASED2_PT_GUEST_PHYSICAL, BIT(27),
		BIT(29), BIT(30), BIT(31),
	};
	const uint32_t forced = CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED | CPU_BASED2_VPID;
	const uint32_t offered = CPU_BASED2_DESC_TABLE | CPU_BASED2_RDTSCP | CPU_BASED2_WBINVD |
				 CPU_BASED2_PAUSE_LOOP | CPU_BASED2_RDRAND | CPU_BASED2_INVPCID |
				 CPU_BASED2_ENCLS_EXIT_MAP | CPU_BASED2_RDSEED |
				 CPU_BASED2_TSC_SCALING | CPU_BASED2_USER_WAIT_PAUSE |
				 CPU_BASED2_ENCLV_EXIT_MAP | CPU_BASED2_VMCS_SHADOW |
				 CPU_BASED2_VIRTUAL_APIC;
	struct vmx_msrs m = modern();
	struct vmcs_policy p = policy_of(&m);

	(void)state;
	assert_int_equal(p.proc2.must1, forced);
	assert_int_equal(p.proc2.may1, forced | offered);
	expect_caps(&p, VMCS_CTRL_CPU_BASED2, forced, forced | offered);
	/* A client writing 0 still runs its guest under EPT, unrestricted, with a VPID. */
	assert_int_equal(write_ok(&p, VMCS_CTRL_CPU_BASED2, 0), forced);
	assert_int_equal(write_ok(&p, VMCS_CTRL_CPU_BASED2, offered), forced | offered);
	assert_int_equal(write_ok(&p, VMCS_CTRL_CPU_BASED2,
				  CPU_BASED2_RDTSCP | CPU_BASED2_INVPCID | CPU_BASED2_EPT),
			 forced | CPU_BASED2_RDTSCP | CPU_BASED2_INVPCID);
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		if (!(PROC2_MAY1 & denied[i]))
			fail_msg("fixture: CPU does not offer %#x", denied[i]);
		if (p.proc2.may1 & denied[i])
			fail_msg("secondary bit %#x offered", denied[i]);
		write_refused(&p, VMCS_CTRL_CPU_BASED2, denied[i]);
		write_refused(&p, VMCS_CTRL_CPU_BASED2, forced | CPU_BASED2_RDTSCP | denied[i]);
	}

	/* An allowed bit the CPU lacks is not offered. */
	m.proc2 &= ~((uint64_t)CPU_BASED2_RDSEED << 32);
	p = policy_of(&m);
	assert_int_equal(p.proc2.may1, forced | (offered & ~CPU_BASED2_RDSEED));
	write_refused(&p, VMCS_CTRL_CPU_BASED2, CPU_BASED2_RDSEED);
}

static void
test_no_vpid(void **state)
{
	struct vmx_msrs m = modern();
	struct vmcs_policy p;
	const uint32_t forced = CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED;

	(void)state;
	/* No VPID control: not forced, not offered. */
	m.proc2 &= ~((uint64_t)CPU_BASED2_VPID << 32);
	p = policy_of(&m);
	assert_int_equal(p.proc2.must1, forced);
	assert_int_equal(p.proc2.may1 & CPU_BASED2_VPID, 0);
	assert_int_equal(write_ok(&p, VMCS_CTRL_CPU_BASED2, 0), forced);
	write_refused(&p, VMCS_CTRL_CPU_BASED2, CPU_BASED2_VPID);
	assert_int_equal(capability(&p, HV_VMX_CAP_PROCBASED2) & 0xffffffff, forced);

	/* The control without single-context INVVPID is no use to hvmetal either. */
	m = modern();
	m.ept_vpid &= ~VPID_CAP_SINGLE;
	p = policy_of(&m);
	assert_int_equal(p.proc2.must1, forced);
	assert_int_equal(p.proc2.may1 & CPU_BASED2_VPID, 0);
	write_refused(&p, VMCS_CTRL_CPU_BASED2, CPU_BASED2_VPID);
}

static void
test_entry(void **state)
{
	static const uint32_t denied[] = {
		VMENTRY_SMM, VMENTRY_DEACTIVATE_DUAL_MONITOR, VMENTRY_LOAD_IA32_PERF_GLOBAL_CTRL,
		VMENTRY_LOAD_IA32_BNDCFGS, VMENTRY_PT_CONCEAL_VMX, VMENTRY_LOAD_IA32_RTIT_CTL,
		VMENTRY_LOAD_CET_STATE, VMENTRY_LOAD_PKRS,
	};
	const uint32_t must1 = ENTRY_MUST1 | VMENTRY_LOAD_DBG_CONTROLS | VMENTRY_LOAD_IA32_PAT |
			       VMENTRY_LOAD_EFER;
	struct vmx_msrs m = modern();
	struct vmcs_policy p = policy_of(&m);

	(void)state;
	assert_int_equal(p.entry.must1, must1);
	assert_int_equal(p.entry.may1, must1 | VMENTRY_GUEST_IA32E);
	expect_caps(&p, VMCS_CTRL_VMENTRY_CONTROLS, must1, must1 | VMENTRY_GUEST_IA32E);
	assert_int_equal(write_ok(&p, VMCS_CTRL_VMENTRY_CONTROLS, 0), must1);
	assert_int_equal(write_ok(&p, VMCS_CTRL_VMENTRY_CONTROLS, VMENTRY_GUEST_IA32E),
			 must1 | VMENTRY_GUEST_IA32E);
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		if (!(ENTRY_MAY1 & denied[i]))
			fail_msg("fixture: CPU does not offer %#x", denied[i]);
		write_refused(&p, VMCS_CTRL_VMENTRY_CONTROLS, denied[i]);
	}

	/* A forced bit the CPU cannot do drops out instead of making every write fail. */
	m.entry &= ~((uint64_t)VMENTRY_LOAD_IA32_PAT << 32);
	p = policy_of(&m);
	assert_int_equal(p.entry.must1, must1 & ~VMENTRY_LOAD_IA32_PAT);
	assert_int_equal(p.entry.may1, (must1 & ~VMENTRY_LOAD_IA32_PAT) | VMENTRY_GUEST_IA32E);
	assert_int_equal(write_ok(&p, VMCS_CTRL_VMENTRY_CONTROLS, 0),
			 must1 & ~VMENTRY_LOAD_IA32_PAT);
}

static void
test_exit(void **state)
{
	const uint32_t forced = VMEXIT_SAVE_DBG_CONTROLS | VMEXIT_HOST_IA32E |
				VMEXIT_SAVE_IA32_PAT | VMEXIT_LOAD_IA32_PAT | VMEXIT_SAVE_EFER |
				VMEXIT_LOAD_EFER;
	struct vmx_msrs m = modern();
	struct vmcs_policy p = policy_of(&m);

	(void)state;
	/* All hvmetal's: must-be-1 and may-be-1 are the same word. */
	assert_int_equal(p.exit.must1, EXIT_MUST1 | forced);
	assert_int_equal(p.exit.may1, EXIT_MUST1 | forced);
	expect_caps(&p, VMCS_CTRL_VMEXIT_CONTROLS, EXIT_MUST1 | forced, EXIT_MUST1 | forced);
	assert_int_equal(write_ok(&p, VMCS_CTRL_VMEXIT_CONTROLS, 0), EXIT_MUST1 | forced);
	assert_int_equal(write_ok(&p, VMCS_CTRL_VMEXIT_CONTROLS, EXIT_MUST1 | forced),
			 EXIT_MUST1 | forced);
	/* An external interrupt must stay pending for the control domain. */
	assert_true(EXIT_MAY1 & VMEXIT_ACK_INTR);
	assert_int_equal(p.exit.may1 & VMEXIT_ACK_INTR, 0);
	write_refused(&p, VMCS_CTRL_VMEXIT_CONTROLS, VMEXIT_ACK_INTR);
	write_refused(&p, VMCS_CTRL_VMEXIT_CONTROLS, EXIT_MUST1 | forced | VMEXIT_ACK_INTR);
	write_refused(&p, VMCS_CTRL_VMEXIT_CONTROLS, VMEXIT_SAVE_VMX_TIMER);
	write_refused(&p, VMCS_CTRL_VMEXIT_CONTROLS, VMEXIT_LOAD_IA32_PERF_GLOBAL_CTRL);
	write_refused(&p, VMCS_CTRL_VMEXIT_CONTROLS, BIT(31));

	/* Without TRUE_* MSRs bit 2 is default-1 anyway: same result. */
	m.exit = CTL(EXIT_MUST1 | VMEXIT_SAVE_DBG_CONTROLS, EXIT_MAY1);
	p = policy_of(&m);
	assert_int_equal(p.exit.must1, EXIT_MUST1 | forced);
	assert_int_equal(p.exit.may1, EXIT_MUST1 | forced);
}

static void
test_capabilities(void **state)
{
	struct vmcs_policy p = modern_policy();
	struct vmx_caps caps = { 0 };
	struct vmx_msrs m = modern();
	const struct {
		uint32_t cap;
		uint64_t want;
	} known[] = {
		{ HV_VMX_CAP_PINBASED, CTL(p.pin.must1, p.pin.may1) },
		{ HV_VMX_CAP_TRUE_PINBASED, CTL(p.pin.must1, p.pin.may1) },
		{ HV_VMX_CAP_PROCBASED, CTL(p.proc.must1, p.proc.may1) },
		{ HV_VMX_CAP_TRUE_PROCBASED, CTL(p.proc.must1, p.proc.may1) },
		{ HV_VMX_CAP_PROCBASED2, CTL(p.proc2.must1, p.proc2.may1) },
		{ HV_VMX_CAP_ENTRY, CTL(p.entry.must1, p.entry.may1) },
		{ HV_VMX_CAP_TRUE_ENTRY, CTL(p.entry.must1, p.entry.may1) },
		{ HV_VMX_CAP_EXIT, CTL(p.exit.must1, p.exit.may1) },
		{ HV_VMX_CAP_TRUE_EXIT, CTL(p.exit.must1, p.exit.may1) },
		{ HV_VMX_CAP_BASIC, BASIC },
		{ HV_VMX_CAP_MISC, MISC },
		{ HV_VMX_CAP_CR0_FIXED0, 0x20 },
		{ HV_VMX_CAP_CR0_FIXED1, 0xffffffff },
		{ HV_VMX_CAP_CR4_FIXED0, 0x2000 },
		{ HV_VMX_CAP_CR4_FIXED1, 0x3727ff },
		{ HV_VMX_CAP_VMCS_ENUM, VMCS_ENUM },
		{ HV_VMX_CAP_EPT_VPID_CAP, m.ept_vpid },
		{ HV_VMX_CAP_PREEMPTION_TIMER, TSC_HZ >> 7 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		uint64_t v = capability(&p, known[i].cap);

		if (v != known[i].want)
			fail_msg("capability %u = %#llx, want %#llx", known[i].cap,
				 (unsigned long long)v, (unsigned long long)known[i].want);
	}
	/* The forced bits show up in what a VMM reads back. */
	assert_int_equal(capability(&p, HV_VMX_CAP_PROCBASED2) & 0xffffffff,
			 CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED | CPU_BASED2_VPID);
	assert_true(capability(&p, HV_VMX_CAP_PINBASED) & PIN_BASED_NMI);
	assert_int_equal(capability(&p, HV_VMX_CAP_PINBASED) >> 32 & PIN_BASED_PREEMPTION_TIMER,
			 0);
	assert_int_equal(capability(&p, HV_VMX_CAP_EXIT) >> 32 & VMEXIT_ACK_INTR, 0);

	/* Anything else is unknown, and the value is left alone. */
	for (uint32_t cap = 0; cap < 256; cap++) {
		bool is_known = false;
		uint64_t v = 0x1234;

		for (size_t i = 0; i < ARRAY_SIZE(known); i++)
			is_known |= known[i].cap == cap;
		if (is_known)
			continue;
		if (vmcs_policy_capability(&p, cap, &v) != -1)
			fail_msg("capability %u known", cap);
		assert_int_equal(v, 0x1234);
	}
	assert_int_equal(vmcs_policy_capability(&p, 0xffffffff, &(uint64_t){ 0 }), -1);

	/* Timer rate: only IA32_VMX_MISC[4:0] counts. */
	assert_null(vmx_caps_check(&m, &caps));
	vmcs_policy_init(&p, &caps, BASIC, 0xffffffe0, VMCS_ENUM, TSC_HZ);
	assert_int_equal(capability(&p, HV_VMX_CAP_PREEMPTION_TIMER), TSC_HZ);
	vmcs_policy_init(&p, &caps, BASIC, 0x1f, VMCS_ENUM, TSC_HZ);
	assert_int_equal(capability(&p, HV_VMX_CAP_PREEMPTION_TIMER), TSC_HZ >> 31);
}

/* Every field hvmetal keeps to itself, apart from host state. */
static const uint32_t owned[] = {
	VMCS_VPID, VMCS_CTRL_POSTED_INT_N_VECTOR, VMCS_CTRL_EPTP_INDEX,
	0x0006,			/* HLAT prefix size */
	0x0008,			/* last PID-pointer index */
	VMCS_GUEST_INT_STATUS, VMCS_GUESTPML_INDEX,
	VMCS_CTRL_IO_BITMAP_A, VMCS_CTRL_IO_BITMAP_B, VMCS_CTRL_MSR_BITMAPS,
	VMCS_CTRL_VMEXIT_MSR_STORE_ADDR, VMCS_CTRL_VMEXIT_MSR_LOAD_ADDR,
	VMCS_CTRL_VMENTRY_MSR_LOAD_ADDR, VMCS_CTRL_EXECUTIVE_VMCS_PTR, VMCS_CTRL_PML_ADDR,
	VMCS_CTRL_VIRTUAL_APIC, VMCS_CTRL_APIC_ACCESS, VMCS_CTRL_POSTED_INT_DESC_ADDR,
	VMCS_CTRL_VMFUNC_CTRL, VMCS_CTRL_EPTP, VMCS_CTRL_EOI_EXIT_BITMAP_0,
	VMCS_CTRL_EOI_EXIT_BITMAP_1, VMCS_CTRL_EOI_EXIT_BITMAP_2, VMCS_CTRL_EOI_EXIT_BITMAP_3,
	VMCS_CTRL_EPTP_LIST_ADDR, VMCS_CTRL_VMREAD_BITMAP_ADDR, VMCS_CTRL_VMWRITE_BITMAP_ADDR,
	VMCS_CTRL_VIRT_EXC_INFO_ADDR, VMCS_CTRL_SPP_TABLE,
	0x2034,			/* tertiary processor-based controls */
	0x2038, 0x203a,		/* PASID directory addresses */
	0x203c,			/* shared-EPT pointer */
	0x2040,			/* HLATP */
	0x2042,			/* PID-pointer table address */
	0x2044,			/* secondary VM-exit controls */
	VMCS_GUEST_LINK_POINTER,
};

/* Readable, never writable, though not VM-exit information: hvmetal's timer. */
static const uint32_t guest_read_only[] = { VMCS_GUEST_VMX_TIMER_VALUE };

static bool
listed(const uint32_t *list, size_t n, uint32_t field)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == field)
			return true;
	return false;
}

static void
test_hvmetal_fields(void **state)
{
	static const uint32_t more[] = {
		/* the upper halves of 64-bit ones */
		VMCS_CTRL_EPTP | 1, VMCS_CTRL_MSR_BITMAPS | 1, VMCS_GUEST_LINK_POINTER | 1,
		VMCS_CTRL_IO_BITMAP_A | 1, VMCS_CTRL_VIRTUAL_APIC | 1,
		/* a few host fields by name; test_field_table covers all of them */
		VMCS_HOST_RIP, VMCS_HOST_RSP, VMCS_HOST_CR3, VMCS_HOST_CS, VMCS_HOST_IA32_EFER,
		VMCS_HOST_IA32_EFER | 1, VMCS_HOST_IA32_SYSENTER_CS, VMCS_HOST_IA32_PAT,
	};
	struct vmcs_policy p = modern_policy();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(owned); i++)
		expect_hidden(&p, owned[i]);
	for (size_t i = 0; i < ARRAY_SIZE(more); i++)
		expect_hidden(&p, more[i]);
}

static void
test_read_only(void **state)
{
	static const uint32_t ro[] = {
		VMCS_RO_EXIT_REASON, VMCS_RO_EXIT_QUALIFIC, VMCS_GUEST_PHYSICAL_ADDRESS,
		VMCS_GUEST_PHYSICAL_ADDRESS | 1, VMCS_RO_INSTR_ERROR, VMCS_RO_VMEXIT_IRQ_INFO,
		VMCS_RO_IDT_VECTOR_INFO, VMCS_RO_VMEXIT_INSTR_LEN, VMCS_RO_VMX_INSTR_INFO,
		VMCS_RO_IO_RIP, VMCS_RO_GUEST_LIN_ADDR,
		VMCS_GUEST_VMX_TIMER_VALUE,	/* hvmetal's timer */
	};
	struct vmcs_policy p = modern_policy();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ro); i++)
		expect_read_only(&p, ro[i]);
}

static void
test_msr_counts(void **state)
{
	static const uint32_t counts[] = {
		VMCS_CTRL_VMEXIT_MSR_STORE_COUNT, VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT,
		VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT,
	};
	struct vmcs_policy p = modern_policy();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
		assert_true(vmcs_policy_readable(counts[i]));
		expect_caps(&p, counts[i], 0, 0);
		assert_int_equal(write_ok(&p, counts[i], 0), 0);
		write_refused(&p, counts[i], 1);
		write_refused(&p, counts[i], 0x80000000);
	}
}

static void
test_widths(void **state)
{
	struct vmcs_policy p = modern_policy();

	(void)state;
	/* 16-bit */
	expect_caps(&p, VMCS_GUEST_CS, 0, 0xffff);
	assert_int_equal(write_ok(&p, VMCS_GUEST_CS, 0xffff), 0xffff);
	write_refused(&p, VMCS_GUEST_CS, 0x10000);
	write_refused(&p, VMCS_GUEST_TR, 1ull << 63);
	/* 32-bit */
	expect_caps(&p, VMCS_CTRL_EXC_BITMAP, 0, 0xffffffff);
	assert_int_equal(write_ok(&p, VMCS_CTRL_EXC_BITMAP, 0xffffffff), 0xffffffff);
	write_refused(&p, VMCS_CTRL_EXC_BITMAP, 1ull << 32);
	expect_caps(&p, VMCS_GUEST_CS_AR, 0, 0xffffffff);
	write_refused(&p, VMCS_GUEST_CS_AR, 0x100000000ull | 0xc09b);
	assert_int_equal(write_ok(&p, VMCS_CTRL_VMENTRY_IRQ_INFO, 0x80000b0e), 0x80000b0e);
	/* 64-bit and natural width: everything. */
	expect_caps(&p, VMCS_CTRL_TSC_OFFSET, 0, ~0ull);
	assert_int_equal(write_ok(&p, VMCS_CTRL_TSC_OFFSET, ~0ull), ~0ull);
	expect_caps(&p, VMCS_GUEST_IA32_EFER, 0, ~0ull);
	expect_caps(&p, VMCS_GUEST_RIP, 0, ~0ull);
	assert_int_equal(write_ok(&p, VMCS_GUEST_RIP, 0xffff800000001000ull),
			 0xffff800000001000ull);
	expect_caps(&p, VMCS_CTRL_CR0_MASK, 0, ~0ull);
	assert_int_equal(write_ok(&p, VMCS_GUEST_CR3, 0x1000), 0x1000);
}

static void
test_high_halves(void **state)
{
	struct vmcs_policy p = modern_policy();

	(void)state;
	/* The upper 32 bits of a free 64-bit field: readable, 32 bits wide. */
	assert_true(vmcs_policy_readable(VMCS_CTRL_TSC_OFFSET | 1));
	expect_caps(&p, VMCS_CTRL_TSC_OFFSET | 1, 0, 0xffffffff);
	assert_int_equal(write_ok(&p, VMCS_CTRL_TSC_OFFSET | 1, 0xffffffff), 0xffffffff);
	write_refused(&p, VMCS_CTRL_TSC_OFFSET | 1, 1ull << 32);
	expect_caps(&p, VMCS_GUEST_IA32_EFER | 1, 0, 0xffffffff);
	expect_caps(&p, VMCS_GUEST_PDPTE3 | 1, 0, 0xffffffff);
	/* Read-only stays read-only. */
	expect_read_only(&p, VMCS_GUEST_PHYSICAL_ADDRESS | 1);
	/* Only 64-bit fields have a high half. */
	expect_hidden(&p, VMCS_GUEST_CS | 1);
	expect_hidden(&p, VMCS_CTRL_PIN_BASED | 1);
	expect_hidden(&p, VMCS_CTRL_CPU_BASED2 | 1);
	expect_hidden(&p, VMCS_RO_EXIT_REASON | 1);
	expect_hidden(&p, VMCS_GUEST_CR0 | 1);
	expect_hidden(&p, VMCS_GUEST_RIP | 1);
	expect_hidden(&p, VMCS_CTRL_CR0_MASK | 1);
}

static void
test_unknown(void **state)
{
	static const uint32_t bad[] = {
		0x1234, 0xffffffff, 0x0000000a, 0x0816, 0x0c0e, 0x2046, 0x2406, 0x282a,
		0x2c18, 0x4026, 0x4410, 0x482c, 0x4830, 0x4c02, 0x6010, 0x640c, 0x682e,
		0x6c1e, VMCS_MAX,
		0x5000,			/* bit 12 is reserved */
		0x4800 | 0x10000,	/* bits above 14 are reserved */
		0x4800 | 0x8000,
		0x80006800,
	};
	struct vmcs_policy p = modern_policy();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		expect_hidden(&p, bad[i]);
}

static void
test_cr0_cr4(void **state)
{
	struct vmcs_policy p = modern_policy();

	(void)state;
	/* Unrestricted guest: PE and PG are free, NE still fixed. */
	expect_caps(&p, VMCS_GUEST_CR0, CR0_NE, 0xffffffff);
	expect_caps(&p, VMCS_GUEST_CR4, CR4_VMXE, 0x3727ff);
	/* A real-mode guest like hvdos. */
	assert_int_equal(write_ok(&p, VMCS_GUEST_CR0, 0x20), 0x20);
	assert_int_equal(write_ok(&p, VMCS_GUEST_CR4, 0x2000), 0x2000);
	/* Protected and paged. */
	assert_int_equal(write_ok(&p, VMCS_GUEST_CR0, CR0_PG | CR0_NE | CR0_ET | CR0_PE),
			 CR0_PG | CR0_NE | CR0_ET | CR0_PE);
	assert_int_equal(write_ok(&p, VMCS_GUEST_CR0, CR0_NE | CR0_PE), CR0_NE | CR0_PE);
	/* Missing a fixed-1 bit, or setting a fixed-0 one: refused, not fixed up. */
	write_refused(&p, VMCS_GUEST_CR0, 0);
	write_refused(&p, VMCS_GUEST_CR0, CR0_PG | CR0_PE | CR0_ET);
	write_refused(&p, VMCS_GUEST_CR0, CR0_NE | (1ull << 32));
	write_refused(&p, VMCS_GUEST_CR4, 0);
	write_refused(&p, VMCS_GUEST_CR4, CR4_VMXE | (1ull << 22));
	write_refused(&p, VMCS_GUEST_CR4, CR4_VMXE | (1ull << 63));
	assert_true(vmcs_policy_readable(VMCS_GUEST_CR0));
	assert_true(vmcs_policy_readable(VMCS_GUEST_CR4));
	/* The shadows and masks are free: they are what the guest sees. */
	assert_int_equal(write_ok(&p, VMCS_CTRL_CR0_SHADOW, 0), 0);
	assert_int_equal(write_ok(&p, VMCS_CTRL_CR4_SHADOW, 0), 0);
}

/* Which rows an access may appear in, by the SDM's type and width. */
static bool
access_fits(const struct vmcs_field *f)
{
	switch (f->access) {
	case VMCS_ACCESS_NONE:
		return true;
	case VMCS_ACCESS_READ:
		return f->type == VMCS_TYPE_EXIT_INFO || f->type == VMCS_TYPE_GUEST;
	case VMCS_ACCESS_FREE:
		return f->type == VMCS_TYPE_CONTROL || f->type == VMCS_TYPE_GUEST;
	case VMCS_ACCESS_ZERO:
	case VMCS_ACCESS_PIN:
	case VMCS_ACCESS_PROC:
	case VMCS_ACCESS_PROC2:
	case VMCS_ACCESS_ENTRY:
	case VMCS_ACCESS_EXIT:
		return f->type == VMCS_TYPE_CONTROL && f->width == VMCS_WIDTH_32;
	case VMCS_ACCESS_CR0:
	case VMCS_ACCESS_CR4:
		return f->type == VMCS_TYPE_GUEST && f->width == VMCS_WIDTH_NATURAL;
	case VMCS_ACCESS_ACTIVITY:
		return f->type == VMCS_TYPE_GUEST && f->width == VMCS_WIDTH_32;
	case VMCS_ACCESS_CR4_MASK:
		return f->type == VMCS_TYPE_CONTROL && f->width == VMCS_WIDTH_NATURAL;
	}
	return false;
}

/* The access the spec gives a field, from the lists above and its type. */
static unsigned
expected_access(uint32_t e)
{
	static const struct {
		uint32_t field;
		unsigned access;
	} special[] = {
		{ VMCS_CTRL_PIN_BASED, VMCS_ACCESS_PIN },
		{ VMCS_CTRL_CPU_BASED, VMCS_ACCESS_PROC },
		{ VMCS_CTRL_CPU_BASED2, VMCS_ACCESS_PROC2 },
		{ VMCS_CTRL_VMENTRY_CONTROLS, VMCS_ACCESS_ENTRY },
		{ VMCS_CTRL_VMEXIT_CONTROLS, VMCS_ACCESS_EXIT },
		{ VMCS_CTRL_VMEXIT_MSR_STORE_COUNT, VMCS_ACCESS_ZERO },
		{ VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT, VMCS_ACCESS_ZERO },
		{ VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT, VMCS_ACCESS_ZERO },
		{ VMCS_GUEST_CR0, VMCS_ACCESS_CR0 },
		{ VMCS_GUEST_CR4, VMCS_ACCESS_CR4 },
		{ VMCS_GUEST_ACTIVITY_STATE, VMCS_ACCESS_ACTIVITY },
		{ VMCS_CTRL_CR4_MASK, VMCS_ACCESS_CR4_MASK },
	};

	for (size_t i = 0; i < ARRAY_SIZE(special); i++)
		if (special[i].field == e)
			return special[i].access;
	if (listed(owned, ARRAY_SIZE(owned), e) || ((e >> 10) & 3) == VMCS_TYPE_HOST)
		return VMCS_ACCESS_NONE;
	if (listed(guest_read_only, ARRAY_SIZE(guest_read_only), e) ||
	    ((e >> 10) & 3) == VMCS_TYPE_EXIT_INFO)
		return VMCS_ACCESS_READ;
	return VMCS_ACCESS_FREE;
}

static void
test_field_table(void **state)
{
	static const uint64_t mask[] = { 0xffff, ~0ull, 0xffffffff, ~0ull };
	struct vmcs_policy p = modern_policy();
	size_t n;
	const struct vmcs_field *t = vmcs_policy_fields(&n);

	(void)state;
	assert_true(n > 150);
	for (size_t i = 0; i < n; i++) {
		const struct vmcs_field *f = &t[i];
		uint32_t e = f->encoding;
		uint64_t a0, a1;

		/* Each field once, in order: a full encoding with reserved bits clear. */
		if (i > 0 && t[i - 1].encoding >= e)
			fail_msg("row %zu (%#x) out of order after %#x", i, e, t[i - 1].encoding);
		if (e & 1 || e & 0x1000 || e > 0x7fff)
			fail_msg("%#x is not a full-field encoding", e);
		/* The SDM group written in the row matches the encoding's own bits. */
		if (f->type != ((e >> 10) & 3))
			fail_msg("%#x listed with type %u, encoding says %u", e, f->type,
				 (e >> 10) & 3);
		if (f->width != ((e >> 13) & 3))
			fail_msg("%#x listed with width %u, encoding says %u", e, f->width,
				 (e >> 13) & 3);
		if (f->access > VMCS_ACCESS_CR4_MASK || !access_fits(f))
			fail_msg("%#x: access %u does not fit type %u width %u", e, f->access,
				 f->type, f->width);
		if (f->access != expected_access(e))
			fail_msg("%#x: access %u, want %u", e, f->access, expected_access(e));

		/* The calls agree with the row. */
		if (vmcs_policy_readable(e) != (f->access != VMCS_ACCESS_NONE))
			fail_msg("%#x: readable disagrees with its row", e);
		if ((vmcs_policy_write_caps(&p, e, &a0, &a1) == 0) !=
		    (f->access != VMCS_ACCESS_NONE && f->access != VMCS_ACCESS_READ))
			fail_msg("%#x: writability disagrees with its row", e);
		if (f->access == VMCS_ACCESS_FREE) {
			/* The width mask follows from the encoding. */
			expect_caps(&p, e, 0, mask[f->width]);
			if (mask[f->width] != ~0ull)
				write_refused(&p, e, mask[f->width] + 1);
			else
				assert_int_equal(write_ok(&p, e, ~0ull), ~0ull);
		}
		/* Only 64-bit fields have a high half, with their access. */
		if (vmcs_policy_readable(e | 1) !=
		    (f->width == VMCS_WIDTH_64 && f->access != VMCS_ACCESS_NONE))
			fail_msg("%#x: high half readable disagrees", e | 1);
	}
	/* Everything hvmetal keeps is in the table (so listed, not merely unknown). */
	for (size_t j = 0; j < ARRAY_SIZE(owned); j++) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found |= t[i].encoding == owned[j];
		if (!found)
			fail_msg("owned field %#x missing from the table", owned[j]);
	}
}

/* Every encoding 0..0xffff: readable exactly when the table says so (lookup is right). */
static void
test_every_encoding(void **state)
{
	size_t n;
	const struct vmcs_field *t = vmcs_policy_fields(&n);

	(void)state;
	for (uint32_t e = 0; e <= 0xffff; e++) {
		bool want = false;

		for (size_t i = 0; i < n; i++) {
			if (t[i].encoding != (e & ~1u))
				continue;
			want = t[i].access != VMCS_ACCESS_NONE &&
			       (!(e & 1) || t[i].width == VMCS_WIDTH_64);
		}
		if (vmcs_policy_readable(e) != want)
			fail_msg("%#x: readable %d, table says %d", e, !want, want);
	}
}

/* Every field Apple's header names is in the table. */
static void
test_apple_names_listed(void **state)
{
	static const uint32_t apple[] = {
		VMCS_VPID, VMCS_CTRL_POSTED_INT_N_VECTOR, VMCS_CTRL_EPTP_INDEX, VMCS_GUEST_ES,
		VMCS_GUEST_CS, VMCS_GUEST_SS, VMCS_GUEST_DS, VMCS_GUEST_FS, VMCS_GUEST_GS,
		VMCS_GUEST_LDTR, VMCS_GUEST_TR, VMCS_GUEST_INT_STATUS, VMCS_GUESTPML_INDEX,
		VMCS_HOST_ES, VMCS_HOST_CS, VMCS_HOST_SS, VMCS_HOST_DS, VMCS_HOST_FS,
		VMCS_HOST_GS, VMCS_HOST_TR, VMCS_CTRL_IO_BITMAP_A, VMCS_CTRL_IO_BITMAP_B,
		VMCS_CTRL_MSR_BITMAPS, VMCS_CTRL_VMEXIT_MSR_STORE_ADDR,
		VMCS_CTRL_VMEXIT_MSR_LOAD_ADDR, VMCS_CTRL_VMENTRY_MSR_LOAD_ADDR,
		VMCS_CTRL_EXECUTIVE_VMCS_PTR, VMCS_CTRL_PML_ADDR, VMCS_CTRL_TSC_OFFSET,
		VMCS_CTRL_VIRTUAL_APIC, VMCS_CTRL_APIC_ACCESS, VMCS_CTRL_POSTED_INT_DESC_ADDR,
		VMCS_CTRL_VMFUNC_CTRL, VMCS_CTRL_EPTP, VMCS_CTRL_EOI_EXIT_BITMAP_0,
		VMCS_CTRL_EOI_EXIT_BITMAP_1, VMCS_CTRL_EOI_EXIT_BITMAP_2,
		VMCS_CTRL_EOI_EXIT_BITMAP_3, VMCS_CTRL_EPTP_LIST_ADDR,
		VMCS_CTRL_VMREAD_BITMAP_ADDR, VMCS_CTRL_VMWRITE_BITMAP_ADDR,
		VMCS_CTRL_VIRT_EXC_INFO_ADDR, VMCS_CTRL_XSS_EXITING_BITMAP,
		VMCS_CTRL_ENCLS_EXITING_BITMAP, VMCS_CTRL_SPP_TABLE, VMCS_CTRL_TSC_MULTIPLIER,
		VMCS_CTRL_ENCLV_EXITING_BITMAP, VMCS_GUEST_PHYSICAL_ADDRESS,
		VMCS_GUEST_LINK_POINTER, VMCS_GUEST_IA32_DEBUGCTL, VMCS_GUEST_IA32_PAT,
		VMCS_GUEST_IA32_EFER, VMCS_GUEST_IA32_PERF_GLOBAL_CTRL, VMCS_GUEST_PDPTE0,
		VMCS_GUEST_PDPTE1, VMCS_GUEST_PDPTE2, VMCS_GUEST_PDPTE3, VMCS_GUEST_IA32_BNDCFGS,
		VMCS_GUEST_IA32_RTIT_CTL, VMCS_GUEST_IA32_PKRS, VMCS_HOST_IA32_PAT,
		VMCS_HOST_IA32_EFER, VMCS_HOST_IA32_PERF_GLOBAL_CTRL, VMCS_HOST_IA32_PKRS,
		VMCS_CTRL_PIN_BASED, VMCS_CTRL_CPU_BASED, VMCS_CTRL_EXC_BITMAP,
		VMCS_CTRL_PF_ERROR_MASK, VMCS_CTRL_PF_ERROR_MATCH, VMCS_CTRL_CR3_COUNT,
		VMCS_CTRL_VMEXIT_CONTROLS, VMCS_CTRL_VMEXIT_MSR_STORE_COUNT,
		VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT, VMCS_CTRL_VMENTRY_CONTROLS,
		VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT, VMCS_CTRL_VMENTRY_IRQ_INFO,
		VMCS_CTRL_VMENTRY_EXC_ERROR, VMCS_CTRL_VMENTRY_INSTR_LEN,
		VMCS_CTRL_TPR_THRESHOLD, VMCS_CTRL_CPU_BASED2, VMCS_CTRL_PLE_GAP,
		VMCS_CTRL_PLE_WINDOW, VMCS_RO_INSTR_ERROR, VMCS_RO_EXIT_REASON,
		VMCS_RO_VMEXIT_IRQ_INFO, VMCS_RO_VMEXIT_IRQ_ERROR, VMCS_RO_IDT_VECTOR_INFO,
		VMCS_RO_IDT_VECTOR_ERROR, VMCS_RO_VMEXIT_INSTR_LEN, VMCS_RO_VMX_INSTR_INFO,
		VMCS_GUEST_ES_LIMIT, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_SS_LIMIT,
		VMCS_GUEST_DS_LIMIT, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_GS_LIMIT,
		VMCS_GUEST_LDTR_LIMIT, VMCS_GUEST_TR_LIMIT, VMCS_GUEST_GDTR_LIMIT,
		VMCS_GUEST_IDTR_LIMIT, VMCS_GUEST_ES_AR, VMCS_GUEST_CS_AR, VMCS_GUEST_SS_AR,
		VMCS_GUEST_DS_AR, VMCS_GUEST_FS_AR, VMCS_GUEST_GS_AR, VMCS_GUEST_LDTR_AR,
		VMCS_GUEST_TR_AR, VMCS_GUEST_INTERRUPTIBILITY, VMCS_GUEST_IGNORE_IRQ,
		VMCS_GUEST_ACTIVITY_STATE, VMCS_GUEST_SMBASE, VMCS_GUEST_IA32_SYSENTER_CS,
		VMCS_GUEST_VMX_TIMER_VALUE, VMCS_HOST_IA32_SYSENTER_CS, VMCS_CTRL_CR0_MASK,
		VMCS_CTRL_CR4_MASK, VMCS_CTRL_CR0_SHADOW, VMCS_CTRL_CR4_SHADOW,
		VMCS_CTRL_CR3_VALUE0, VMCS_CTRL_CR3_VALUE1, VMCS_CTRL_CR3_VALUE2,
		VMCS_CTRL_CR3_VALUE3, VMCS_RO_EXIT_QUALIFIC, VMCS_RO_IO_RCX, VMCS_RO_IO_RSI,
		VMCS_RO_IO_RDI, VMCS_RO_IO_RIP, VMCS_RO_GUEST_LIN_ADDR, VMCS_GUEST_CR0,
		VMCS_GUEST_CR3, VMCS_GUEST_CR4, VMCS_GUEST_ES_BASE, VMCS_GUEST_CS_BASE,
		VMCS_GUEST_SS_BASE, VMCS_GUEST_DS_BASE, VMCS_GUEST_FS_BASE, VMCS_GUEST_GS_BASE,
		VMCS_GUEST_LDTR_BASE, VMCS_GUEST_TR_BASE, VMCS_GUEST_GDTR_BASE,
		VMCS_GUEST_IDTR_BASE, VMCS_GUEST_DR7, VMCS_GUEST_RSP, VMCS_GUEST_RIP,
		VMCS_GUEST_RFLAGS, VMCS_GUEST_DEBUG_EXC, VMCS_GUEST_SYSENTER_ESP,
		VMCS_GUEST_SYSENTER_EIP, VMCS_GUEST_IA32_S_CET, VMCS_GUEST_SSP,
		VMCS_GUEST_IA32_INTR_SSP_TABLE_ADDR, VMCS_HOST_CR0, VMCS_HOST_CR3,
		VMCS_HOST_CR4, VMCS_HOST_FS_BASE, VMCS_HOST_GS_BASE, VMCS_HOST_TR_BASE,
		VMCS_HOST_GDTR_BASE, VMCS_HOST_IDTR_BASE, VMCS_HOST_IA32_SYSENTER_ESP,
		VMCS_HOST_IA32_SYSENTER_EIP, VMCS_HOST_RSP, VMCS_HOST_RIP, VMCS_HOST_IA32_S_CET,
		VMCS_HOST_SSP, VMCS_HOST_IA32_INTR_SSP_TABLE_ADDR,
	};
	size_t n;
	const struct vmcs_field *t = vmcs_policy_fields(&n);

	(void)state;
	for (size_t j = 0; j < ARRAY_SIZE(apple); j++) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found |= t[i].encoding == apple[j];
		if (!found)
			fail_msg("%#x (hv_arch_vmx.h) missing from the table", apple[j]);
	}
}

/* Issue 9, defect 4: no activity state a kick cannot end (shutdown, wait-for-SIPI). */
static void
test_activity_state(void **state)
{
	struct vmcs_policy p = modern_policy();

	(void)state;
	assert_int_equal(write_ok(&p, VMCS_GUEST_ACTIVITY_STATE, 0), 0);
	assert_int_equal(write_ok(&p, VMCS_GUEST_ACTIVITY_STATE, 1), 1);	/* HLT: MISC bit 6 */
	write_refused(&p, VMCS_GUEST_ACTIVITY_STATE, 2);			/* shutdown */
	write_refused(&p, VMCS_GUEST_ACTIVITY_STATE, 3);			/* wait-for-SIPI */
	expect_caps(&p, VMCS_GUEST_ACTIVITY_STATE, 0, 1);
	p.misc &= ~(1ull << 6);							/* a CPU without HLT state */
	write_refused(&p, VMCS_GUEST_ACTIVITY_STATE, 1);
	assert_int_equal(write_ok(&p, VMCS_GUEST_ACTIVITY_STATE, 0), 0);
}

/* Issue 9, defect 13: LOADIWKEY is not intercepted, so no guest gets CR4.KL. */
static void
test_key_locker(void **state)
{
	struct vmx_msrs m = modern();
	struct vmcs_policy p;

	(void)state;
	p = policy_of(&m);
	assert_int_equal(write_ok(&p, VMCS_CTRL_CR4_MASK, 0), 0);	/* no Key Locker: nothing forced */
	m.cr4_fixed1 |= 1ull << 19;					/* a CPU with Key Locker */
	p = policy_of(&m);
	assert_int_equal(p.cr4_fixed1 & (1ull << 19), 0);
	write_refused(&p, VMCS_GUEST_CR4, p.cr4_fixed0 | (1ull << 19));
	assert_int_equal(write_ok(&p, VMCS_CTRL_CR4_MASK, 0x20), 0x20 | (1ull << 19));
	expect_caps(&p, VMCS_CTRL_CR4_MASK, 1ull << 19, ~0ull);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_contradictory_cpu),
		cmocka_unit_test(test_proc),
		cmocka_unit_test(test_proc2),
		cmocka_unit_test(test_no_vpid),
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_exit),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_hvmetal_fields),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_msr_counts),
		cmocka_unit_test(test_widths),
		cmocka_unit_test(test_high_halves),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_cr0_cr4),
		cmocka_unit_test(test_field_table),
		cmocka_unit_test(test_every_encoding),
		cmocka_unit_test(test_apple_names_listed),
		cmocka_unit_test(test_activity_state),
		cmocka_unit_test(test_key_locker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
