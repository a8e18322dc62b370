/*
 * Host tests for the VMX capability check: a modern CPU passes, and taking
 * away any one thing hvmetal needs fails with a reason naming it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kernel/string.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_caps.h"

#define CTL(must1, may1)	(((uint64_t)(may1) << 32) | (uint32_t)(must1))
#define BASIC_ADDR32		(1ull << 48)
#define BASIC_MT_SHIFT		50
#define BASIC_TRUE_CTLS		(1ull << 55)
#define FEATURE_CONTROL_SMX	(1ull << 1)

/* Values close to what a recent Intel core reports (TRUE_* controls). */
#define REVISION	0x12u
#define PIN_MUST1	0x00000016u
#define PIN_MAY1	0x000000ffu
#define PROC_MUST1	0x04006172u
#define PROC_MAY1	0xfff9fffeu
#define PROC2_MAY1	0x1ffcffffu
#define EXIT_MUST1	0x00036dfbu
#define EXIT_MAY1	0x3fffffffu
#define ENTRY_MUST1	0x000011fbu
#define ENTRY_MAY1	0x0003ffffu

static struct vmx_msrs
modern(void)
{
	return (struct vmx_msrs){
		.cpuid_vmx = true,
		.feature_control = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX,
		.basic = BASIC_TRUE_CTLS | (1ull << 54) | (6ull << BASIC_MT_SHIFT) |
			 (0x1000ull << 32) | REVISION,
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

static void
poison(struct vmx_caps *caps)
{
	memset(caps, 0xa5, sizeof(*caps));
}

static void
test_modern_passes(void **state)
{
	struct vmx_msrs m = modern();
	struct vmx_caps caps;

	(void)state;
	/* The sample really does offer everything (guards the fixture itself). */
	assert_int_equal(PROC_MAY1 & (PROC_MSR_BITMAPS | PROC_SECONDARY | PROC_NMI_WINDOW),
			 PROC_MSR_BITMAPS | PROC_SECONDARY | PROC_NMI_WINDOW);
	assert_int_equal(PROC2_MAY1 & (PROC2_EPT | PROC2_UNRESTRICTED | PROC2_VPID),
			 PROC2_EPT | PROC2_UNRESTRICTED | PROC2_VPID);

	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_int_equal(caps.revision, REVISION);
	assert_int_equal(caps.pin.must1, PIN_MUST1);
	assert_int_equal(caps.pin.may1, PIN_MAY1);
	assert_int_equal(caps.proc.must1, PROC_MUST1);
	assert_int_equal(caps.proc.may1, PROC_MAY1);
	assert_int_equal(caps.proc2.must1, 0);
	assert_int_equal(caps.proc2.may1, PROC2_MAY1);
	assert_int_equal(caps.exit.must1, EXIT_MUST1);
	assert_int_equal(caps.exit.may1, EXIT_MAY1);
	assert_int_equal(caps.entry.must1, ENTRY_MUST1);
	assert_int_equal(caps.entry.may1, ENTRY_MAY1);
	assert_int_equal(caps.cr0_fixed0, m.cr0_fixed0);
	assert_int_equal(caps.cr0_fixed1, m.cr0_fixed1);
	assert_int_equal(caps.cr4_fixed0, m.cr4_fixed0);
	assert_int_equal(caps.cr4_fixed1, m.cr4_fixed1);
	assert_int_equal(caps.ept_vpid, m.ept_vpid);
	assert_true(caps.ept_1g);
	assert_true(caps.ept_2m);
	assert_true(caps.vpid);
	assert_false(caps.feature_control_unlocked);
}

static void
test_revision_bits(void **state)
{
	struct vmx_msrs m = modern();
	struct vmx_caps caps;

	(void)state;
	/* Revision is bits 30:0; bit 31 and the high half are not part of it. */
	m.basic = (m.basic & ~0xffffffffull) | 0x80000000u | 0x7ffffffeu;
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_int_equal(caps.revision, 0x7ffffffe);
	m.basic = (m.basic & ~0xffffffffull) | 1;
	assert_null(vmx_caps_check(&m, &caps));
	assert_int_equal(caps.revision, 1);
}

static void
test_feature_control(void **state)
{
	struct vmx_msrs m = modern();
	struct vmx_caps caps;

	(void)state;
	/* Unlocked: hvmetal enables and locks it itself, whatever bit 2 says. */
	m.feature_control = 0;
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_true(caps.feature_control_unlocked);
	m.feature_control = FEATURE_CONTROL_VMX_OUTSIDE_SMX;
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_true(caps.feature_control_unlocked);
	/* Locked with VMX on. */
	m.feature_control = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX |
			    FEATURE_CONTROL_SMX;
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_false(caps.feature_control_unlocked);
}

/* Runs the check on m and wants a failure whose text holds every needle. */
static void
expect_refused(const struct vmx_msrs *m, const char *what, const char *needle,
	       const char *needle2)
{
	struct vmx_caps caps;
	const char *why;

	poison(&caps);
	why = vmx_caps_check(m, &caps);
	if (!why)
		fail_msg("%s: accepted", what);
	if (!strstr(why, needle) || (needle2 && !strstr(why, needle2)))
		fail_msg("%s: reason \"%s\" lacks \"%s\"%s%s", what, why, needle,
			 needle2 ? " or " : "", needle2 ? needle2 : "");
	assert_null(strchr(why, '\n'));
}

static void
test_no_vmx(void **state)
{
	struct vmx_msrs m = modern();
	struct vmx_msrs bare = { .cpuid_vmx = false };

	(void)state;
	m.cpuid_vmx = false;
	expect_refused(&m, "CPUID.VMX", "VT-x", "CPUID");
	/* vmx_probe reads nothing else when CPUID says no: all zero. */
	expect_refused(&bare, "bare", "VT-x", NULL);
}

static void
test_locked_off(void **state)
{
	struct vmx_msrs m = modern();

	(void)state;
	m.feature_control = FEATURE_CONTROL_LOCK;
	expect_refused(&m, "locked, VMX off", "locked", "firmware");
	/* VMX inside SMX only is no use outside SMX. */
	m.feature_control = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_SMX;
	expect_refused(&m, "locked, SMX only", "locked", NULL);
}

static void
test_basic(void **state)
{
	struct vmx_msrs m = modern();

	(void)state;
	m.basic |= BASIC_ADDR32;
	expect_refused(&m, "32-bit VMX addresses", "32-bit", NULL);

	for (uint64_t mt = 0; mt < 16; mt++) {
		if (mt == 6)
			continue;
		m = modern();
		m.basic = (m.basic & ~(0xfull << BASIC_MT_SHIFT)) | (mt << BASIC_MT_SHIFT);
		expect_refused(&m, "VMCS memory type", "write-back", NULL);
	}
	/* Bits either side of the field do not count. */
	m = modern();
	m.basic |= (1ull << 49) | (1ull << 54);
	assert_null(vmx_caps_check(&m, &(struct vmx_caps){ 0 }));
}

static void
test_missing_controls(void **state)
{
	static const struct {
		const char *what, *needle;
		int word;		/* 0 pin, 1 proc, 2 proc2, 3 exit, 4 entry */
		uint32_t bit;
	} cases[] = {
		{ "MSR bitmaps", "MSR bitmap", 1, PROC_MSR_BITMAPS },
		{ "secondary controls", "EPT", 1, PROC_SECONDARY },
		{ "EPT", "EPT", 2, PROC2_EPT },
		{ "unrestricted guest", "unrestricted", 2, PROC2_UNRESTRICTED },
		{ "64-bit host", "64-bit host", 3, EXIT_HOST_ADDR64 },
		{ "save EFER", "EFER", 3, EXIT_SAVE_EFER },
		{ "load EFER on exit", "EFER", 3, EXIT_LOAD_EFER },
		{ "IA-32e guest", "EFER", 4, ENTRY_IA32E },
		{ "load EFER on entry", "EFER", 4, ENTRY_LOAD_EFER },
		{ "NMI exiting", "NMI", 0, PIN_NMI_EXIT },
		{ "virtual NMIs", "NMI", 0, PIN_VIRTUAL_NMI },
		{ "NMI-window exiting", "NMI", 1, PROC_NMI_WINDOW },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vmx_msrs m = modern();
		uint64_t *word[] = { &m.pin, &m.proc, &m.proc2, &m.exit, &m.entry };

		/* Only the may-1 half says what the CPU allows. */
		*word[cases[i].word] &= ~((uint64_t)cases[i].bit << 32);
		expect_refused(&m, cases[i].what, cases[i].needle, NULL);
	}
}

static void
test_secondary_ignored_without_primary(void **state)
{
	struct vmx_msrs m = modern();
	struct vmx_caps caps;

	(void)state;
	/* Without "activate secondary controls" the secondary word means nothing. */
	m.proc &= ~((uint64_t)PROC_SECONDARY << 32);
	poison(&caps);
	assert_non_null(vmx_caps_check(&m, &caps));
	assert_int_equal(caps.proc2.must1, 0);
	assert_int_equal(caps.proc2.may1, 0);
}

static void
test_missing_ept_caps(void **state)
{
	static const struct {
		const char *what, *needle;
		uint64_t bit;
	} cases[] = {
		{ "4-level EPT", "4-level", EPT_CAP_WALK4 },
		{ "WB EPT structures", "write-back", EPT_CAP_WB },
		{ "INVEPT", "INVEPT", EPT_CAP_INVEPT },
		{ "INVEPT all-context", "INVEPT", EPT_CAP_INVEPT_ALL },
		{ "2 MiB EPT pages", "2 MiB", EPT_CAP_2M },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vmx_msrs m = modern();

		m.ept_vpid &= ~cases[i].bit;
		expect_refused(&m, cases[i].what, cases[i].needle, NULL);
	}
}

static void
test_optional_features(void **state)
{
	struct vmx_msrs m;
	struct vmx_caps caps;

	(void)state;
	/* 1 GiB EPT pages are optional and reported. */
	m = modern();
	m.ept_vpid &= ~EPT_CAP_1G;
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_false(caps.ept_1g);
	assert_true(caps.ept_2m);

	/* VPID needs the control, INVVPID, and its single-context type. */
	m = modern();
	m.proc2 &= ~((uint64_t)PROC2_VPID << 32);
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_false(caps.vpid);
	m = modern();
	m.ept_vpid &= ~VPID_CAP_INVVPID;
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_false(caps.vpid);
	m = modern();
	m.ept_vpid &= ~VPID_CAP_SINGLE;
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_false(caps.vpid);
	assert_true(caps.ept_1g);

	/* vmx_hide: hidden features read as absent; what is not named stays. */
	m = modern();
	vmx_msrs_hide(&m, VMX_HIDE_VPID | VMX_HIDE_EPT_1G);
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_false(caps.vpid);
	assert_false(caps.ept_1g);
	assert_true(caps.ept_2m);
	assert_true(vmx_ctl_allows(caps.proc2, PROC2_VIRT_APIC_ACCESS));
	m = modern();
	vmx_msrs_hide(&m, VMX_HIDE_APIC_ACCESS);
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_true(caps.vpid);
	assert_true(caps.ept_1g);
	assert_false(vmx_ctl_allows(caps.proc2, PROC2_VIRT_APIC_ACCESS));
	assert_true(caps.apicv);

	/* APIC virtualization needs the TPR shadow and all three secondary controls. */
	m = modern();
	vmx_msrs_hide(&m, VMX_HIDE_APICV);
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_false(caps.apicv);
	assert_true(vmx_ctl_allows(caps.proc2, PROC2_VIRT_APIC_ACCESS));
	static const uint32_t apicv_bits[] = { PROC2_X2APIC_MODE, PROC2_APIC_REG_VIRT, PROC2_VINTR_DELIVERY };
	for (unsigned i = 0; i < 3; i++) {
		m = modern();
		m.proc2 &= ~((uint64_t)apicv_bits[i] << 32);
		poison(&caps);
		assert_null(vmx_caps_check(&m, &caps));
		assert_false(caps.apicv);
	}
	m = modern();
	m.proc &= ~((uint64_t)PROC_TPR_SHADOW << 32);
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_false(caps.apicv);

	/* Single-context INVEPT is not needed. */
	m = modern();
	m.ept_vpid &= ~EPT_CAP_INVEPT_SINGLE;
	assert_null(vmx_caps_check(&m, &caps));

	/* Must-be-1 bits in the low halves do not stop anything. */
	m = modern();
	m.pin |= PIN_MAY1;
	m.exit |= EXIT_HOST_ADDR64;
	assert_null(vmx_caps_check(&m, &caps));
}

static void
test_minimal_cpu(void **state)
{
	/* Exactly the required bits and nothing else: passes, no extras. */
	struct vmx_msrs m = {
		.cpuid_vmx = true,
		.basic = (6ull << BASIC_MT_SHIFT) | 1,
		.pin = CTL(0, PIN_NMI_EXIT | PIN_VIRTUAL_NMI),
		.proc = CTL(0, PROC_MSR_BITMAPS | PROC_SECONDARY | PROC_NMI_WINDOW),
		.proc2 = CTL(0, PROC2_EPT | PROC2_UNRESTRICTED),
		.exit = CTL(0, EXIT_HOST_ADDR64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER),
		.entry = CTL(0, ENTRY_IA32E | ENTRY_LOAD_EFER),
		.ept_vpid = EPT_CAP_WALK4 | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_INVEPT | EPT_CAP_INVEPT_ALL,
	};
	struct vmx_caps caps;

	(void)state;
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_int_equal(caps.revision, 1);
	assert_true(caps.feature_control_unlocked);
	assert_false(caps.ept_1g);
	assert_true(caps.ept_2m);
	assert_false(caps.vpid);
	/* INVVPID without the VPID control is still no VPID. */
	m.ept_vpid |= VPID_CAP_INVVPID | VPID_CAP_SINGLE;
	poison(&caps);
	assert_null(vmx_caps_check(&m, &caps));
	assert_false(caps.vpid);
}

static void
test_ctl_adjust(void **state)
{
	struct vmx_ctl c = { .must1 = PIN_MUST1, .may1 = PIN_MAY1 };
	uint32_t missing;

	(void)state;
	/* Wanted bits the CPU allows, plus its must-be-1 bits. */
	missing = 0xdead;
	assert_int_equal(vmx_ctl_adjust(c, PIN_NMI_EXIT | PIN_VIRTUAL_NMI, &missing),
			 PIN_MUST1 | PIN_NMI_EXIT | PIN_VIRTUAL_NMI);
	assert_int_equal(missing, 0);
	/* Nothing wanted: just the must-be-1 bits. */
	assert_int_equal(vmx_ctl_adjust(c, 0, &missing), PIN_MUST1);
	assert_int_equal(missing, 0);
	/* A bit beyond may-1 is dropped and reported. */
	assert_int_equal(vmx_ctl_adjust(c, PIN_NMI_EXIT | (1u << 8) | (1u << 31), &missing),
			 PIN_MUST1 | PIN_NMI_EXIT);
	assert_int_equal(missing, (1u << 8) | (1u << 31));
	/* Wanting a must-be-1 bit is no problem. */
	assert_int_equal(vmx_ctl_adjust(c, 1u << 1, &missing), PIN_MUST1);
	assert_int_equal(missing, 0);
	/* missing is optional. */
	assert_int_equal(vmx_ctl_adjust(c, ~0u, NULL), PIN_MAY1);

	/* Real primary controls: HLT and I/O exiting on top of must-be-1. */
	c = (struct vmx_ctl){ .must1 = PROC_MUST1, .may1 = PROC_MAY1 };
	assert_int_equal(vmx_ctl_adjust(c, PROC_HLT_EXIT | PROC_IO_EXIT, &missing),
			 PROC_MUST1 | PROC_HLT_EXIT | PROC_IO_EXIT);
	assert_int_equal(missing, 0);
	/* Bits 17 and 0 are may-0 only here. */
	assert_int_equal(vmx_ctl_adjust(c, (1u << 17) | 1u, &missing), PROC_MUST1);
	assert_int_equal(missing, (1u << 17) | 1u);

	/* A CPU that allows nothing. */
	c = (struct vmx_ctl){ 0, 0 };
	assert_int_equal(vmx_ctl_adjust(c, 0xffff, &missing), 0);
	assert_int_equal(missing, 0xffff);
}

static void
test_ctl_allows(void **state)
{
	struct vmx_ctl c = { .must1 = 0x16, .may1 = 0x3f };

	(void)state;
	assert_true(vmx_ctl_allows(c, 0));
	assert_true(vmx_ctl_allows(c, 0x28));
	assert_true(vmx_ctl_allows(c, 0x3f));
	assert_false(vmx_ctl_allows(c, 0x40));
	assert_false(vmx_ctl_allows(c, 0x41));
	assert_false(vmx_ctl_allows(c, 1u << 31));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modern_passes),
		cmocka_unit_test(test_revision_bits),
		cmocka_unit_test(test_feature_control),
		cmocka_unit_test(test_no_vmx),
		cmocka_unit_test(test_locked_off),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_missing_controls),
		cmocka_unit_test(test_secondary_ignored_without_primary),
		cmocka_unit_test(test_missing_ept_caps),
		cmocka_unit_test(test_optional_features),
		cmocka_unit_test(test_minimal_cpu),
		cmocka_unit_test(test_ctl_adjust),
		cmocka_unit_test(test_ctl_allows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
