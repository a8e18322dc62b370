/*
 * Fuzzes the VMCS write policy (vmx/vmcs_policy.c over vmx/vmx_caps.c).
 * Input: a flag byte, the raw VMX MSRs, then (field, value) writes.  Flag bit
 * 0 ORs in what vmx_caps_check demands, so most inputs reach the policy; a
 * set the check refuses ends the run there, as at boot.  Checks: host state
 * and fields holding host-physical addresses are never written or read; MSR
 * counts are written only as 0; an accepted value has every must-be-1 and no
 * forbidden bit of what hv_vmx_vcpu_get_cap_write_vmcs and
 * hv_vmx_read_capability report; the policy never offers a bit the CPU lacks
 * nor drops one it demands, and keeps hvmetal's own controls.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Hypervisor/hv_vmx.h>

#include "vmx/vmcs_policy.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_caps.h"

/* A broken invariant: say which, then abort (libFuzzer saves the input). */
#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
				  abort(); } } while (0)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define FIELD_TYPE(f)	(((f) >> 10) & 3)
#define FIELD_WIDTH(f)	(((f) >> 13) & 3)
#define TYPE_HOST	3

/* Controls that hold a host-physical address (SDM vol. 3 appendix B), and the link pointer. */
static const uint32_t hpa_fields[] = {
	0x2000, 0x2002, 0x2004, 0x2006, 0x2008, 0x200a, 0x200c, 0x200e, 0x2012, 0x2014,
	0x2016, 0x201a, 0x2024, 0x2026, 0x2028, 0x202a, 0x2030, 0x2038, 0x203a, 0x203c,
	0x2040, 0x2042, 0x2800,
};

/* Counts of MSR lists whose addresses are host-physical: only 0 may go in. */
static const uint32_t msr_counts[] = { 0x400e, 0x4010, 0x4014 };

/* Control-word fields and the capability that reports each (and its TRUE_* twin). */
static const struct {
	uint32_t field, cap, true_cap;
} ctl_fields[] = {
	{ VMCS_CTRL_PIN_BASED, HV_VMX_CAP_PINBASED, HV_VMX_CAP_TRUE_PINBASED },
	{ VMCS_CTRL_CPU_BASED, HV_VMX_CAP_PROCBASED, HV_VMX_CAP_TRUE_PROCBASED },
	{ VMCS_CTRL_CPU_BASED2, HV_VMX_CAP_PROCBASED2, HV_VMX_CAP_PROCBASED2 },
	{ VMCS_CTRL_VMENTRY_CONTROLS, HV_VMX_CAP_ENTRY, HV_VMX_CAP_TRUE_ENTRY },
	{ VMCS_CTRL_VMEXIT_CONTROLS, HV_VMX_CAP_EXIT, HV_VMX_CAP_TRUE_EXIT },
};

/*
 * Secondary controls that need a structure hvmetal owns or state it does not
 * switch: x2APIC mode, APIC-register virtualization, virtual-interrupt delivery,
 * VM functions, PML, #VE, PT concealment, XSAVES, PASID, mode-based execute,
 * sub-page permissions, PT guest-physical, PCONFIG.
 */
#define PROC2_OWN_STRUCTURES	((1u << 4) | (1u << 8) | (1u << 9) | (1u << 13) | (1u << 17) | \
				 (1u << 18) | (1u << 19) | (1u << 20) | (1u << 21) | (1u << 22) | \
				 (1u << 23) | (1u << 24) | (1u << 27))

struct input {
	const uint8_t *p;
	size_t left;
};

/* Next n bytes as a little-endian number; zeros once the input runs out. */
static uint64_t
take(struct input *in, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n && in->left; i++, in->p++, in->left--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

static bool
listed(const uint32_t *list, size_t n, uint32_t full)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == full)
			return true;
	return false;
}

/* The fewest bits a check-passing CPU has; what flag bit 0 adds. */
static void
make_capable(struct vmx_msrs *m)
{
	m->cpuid_vmx = true;
	m->feature_control |= FEATURE_CONTROL_VMX_OUTSIDE_SMX;
	m->basic = (m->basic & ~(1ull << 48) & ~(0xfull << 50)) | (6ull << 50);
	m->pin |= (uint64_t)(PIN_NMI_EXIT | PIN_VIRTUAL_NMI) << 32;
	m->proc |= (uint64_t)(PROC_MSR_BITMAPS | PROC_SECONDARY | PROC_NMI_WINDOW) << 32;
	m->proc2 |= (uint64_t)(PROC2_EPT | PROC2_UNRESTRICTED) << 32;
	m->exit |= (uint64_t)(EXIT_HOST_ADDR64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER) << 32;
	m->entry |= (uint64_t)(ENTRY_IA32E | ENTRY_LOAD_EFER) << 32;
	m->ept_vpid |= EPT_CAP_WALK4 | EPT_CAP_WB | EPT_CAP_INVEPT | EPT_CAP_INVEPT_ALL;
}

/* A control word as offered: within the CPU's, with what hvmetal keeps for itself. */
static void
check_ctl(struct vmx_ctl pol, struct vmx_ctl cpu, uint32_t forced, uint32_t kept)
{
	CHECK((pol.may1 & ~cpu.may1) == 0);
	CHECK((pol.must1 & cpu.must1 & cpu.may1) == (cpu.must1 & cpu.may1));
	CHECK((pol.must1 & pol.may1) == pol.must1);
	CHECK((pol.must1 & forced & cpu.may1) == (forced & cpu.may1));
	CHECK((pol.may1 & kept & ~(cpu.must1 | forced)) == 0);
}

static void
check_policy(const struct vmcs_policy *p, const struct vmx_caps *caps, uint64_t misc,
	     uint64_t tsc_hz)
{
	uint64_t v, a0, a1;

	check_ctl(p->pin, caps->pin, PIN_BASED_INTR | PIN_BASED_NMI | PIN_BASED_VIRTUAL_NMI,
		  PIN_BASED_PREEMPTION_TIMER | PIN_BASED_POSTED_INTR);
	check_ctl(p->proc, caps->proc, CPU_BASED_UNCOND_IO | CPU_BASED_MSR_BITMAPS |
		  CPU_BASED_SECONDARY_CTLS | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE,
		  CPU_BASED_TPR_SHADOW | CPU_BASED_IO_BITMAPS | (1u << 17));
	check_ctl(p->proc2, caps->proc2, CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED |
		  (caps->vpid ? CPU_BASED2_VPID : 0),
		  (caps->vpid ? 0 : CPU_BASED2_VPID) | PROC2_OWN_STRUCTURES);
	check_ctl(p->entry, caps->entry, ENTRY_LOAD_DEBUG | ENTRY_LOAD_PAT | ENTRY_LOAD_EFER,
		  ~(ENTRY_IA32E | ENTRY_LOAD_DEBUG | ENTRY_LOAD_PAT | ENTRY_LOAD_EFER));
	/* Exit controls are hvmetal's alone. */
	check_ctl(p->exit, caps->exit, EXIT_SAVE_DEBUG | EXIT_HOST_ADDR64 | EXIT_SAVE_PAT |
		  EXIT_LOAD_PAT | EXIT_SAVE_EFER | EXIT_LOAD_EFER, ~0u);

	for (size_t i = 0; i < ARRAY_SIZE(ctl_fields); i++) {
		CHECK(vmcs_policy_write_caps(p, ctl_fields[i].field, &a0, &a1) == 0);
		CHECK(vmcs_policy_capability(p, ctl_fields[i].cap, &v) == 0);
		CHECK(v == (a0 | a1 << 32));
		CHECK(vmcs_policy_capability(p, ctl_fields[i].true_cap, &v) == 0);
		CHECK(v == (a0 | a1 << 32));
	}
	CHECK(vmcs_policy_write_caps(p, VMCS_GUEST_CR0, &a0, &a1) == 0);
	CHECK(vmcs_policy_capability(p, HV_VMX_CAP_CR0_FIXED0, &v) == 0 && v == a0);
	CHECK(vmcs_policy_capability(p, HV_VMX_CAP_CR0_FIXED1, &v) == 0 && v == a1);
	/* Unrestricted guest: CR0.PE and CR0.PG are the guest's to clear. */
	CHECK((a0 & 0x80000001ull) == 0);
	CHECK(vmcs_policy_write_caps(p, VMCS_GUEST_CR4, &a0, &a1) == 0);
	CHECK(vmcs_policy_capability(p, HV_VMX_CAP_CR4_FIXED0, &v) == 0 && v == a0);
	CHECK(vmcs_policy_capability(p, HV_VMX_CAP_CR4_FIXED1, &v) == 0 && v == a1);
	CHECK(vmcs_policy_capability(p, HV_VMX_CAP_PREEMPTION_TIMER, &v) == 0 &&
	      v == tsc_hz >> (misc & 31));
}

/* The table itself: SDM encodings, and no host or host-physical field reachable. */
static void
check_table(const struct vmcs_policy *p)
{
	size_t n;
	const struct vmcs_field *f = vmcs_policy_fields(&n);
	uint64_t a0, a1;

	for (size_t i = 0; i < n; i++) {
		uint32_t enc = f[i].encoding;

		CHECK(i == 0 || f[i - 1].encoding < enc);
		CHECK(FIELD_TYPE(enc) == f[i].type && FIELD_WIDTH(enc) == f[i].width);
		if (f[i].type == TYPE_HOST || listed(hpa_fields, ARRAY_SIZE(hpa_fields), enc)) {
			CHECK(!vmcs_policy_readable(enc) && !vmcs_policy_readable(enc | 1));
			CHECK(vmcs_policy_write_caps(p, enc, &a0, &a1) < 0);
			CHECK(vmcs_policy_write_caps(p, enc | 1, &a0, &a1) < 0);
		}
	}
}

/* One write: the result must follow from the reported caps alone. */
static void
check_write(const struct vmcs_policy *p, uint32_t field, uint64_t value)
{
	const uint64_t untouched = 0x5a5a5a5a5a5a5a5aull;
	uint32_t full = field & ~1u;
	bool high = field & 1, cr = full == VMCS_GUEST_CR0 || full == VMCS_GUEST_CR4;
	uint64_t a0 = 0, a1 = 0, out = untouched, width;
	int caps_rc = vmcs_policy_write_caps(p, field, &a0, &a1);
	int rc = vmcs_policy_write(p, field, value, &out);
	int want = caps_rc < 0 || (value & ~a1) || (cr && (value & a0) != a0) ? -1 : 0;

	CHECK(rc == want);
	if (rc < 0) {
		CHECK(out == untouched);
		return;
	}
	CHECK(field <= 0xffff && FIELD_TYPE(field) != TYPE_HOST && vmcs_policy_readable(field));
	CHECK(!listed(hpa_fields, ARRAY_SIZE(hpa_fields), full));
	CHECK(!high || FIELD_WIDTH(field) == VMCS_WIDTH_64);
	CHECK(out == (value | a0));
	CHECK((out & a0) == a0 && (out & ~a1) == 0);
	width = high || FIELD_WIDTH(field) == VMCS_WIDTH_32 ? 0xffffffffull :
		FIELD_WIDTH(field) == VMCS_WIDTH_16 ? 0xffff : ~0ull;
	CHECK((out & ~width) == 0);
	if (listed(msr_counts, ARRAY_SIZE(msr_counts), field))
		CHECK(out == 0);
}

#define MAX_WRITES	48

static bool table_checked;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	unsigned flags = take(&in, 1);
	struct vmx_msrs m = {
		.cpuid_vmx = flags & 2, .feature_control = take(&in, 1), .basic = take(&in, 8),
		.pin = take(&in, 8), .proc = take(&in, 8), .proc2 = take(&in, 8),
		.exit = take(&in, 8), .entry = take(&in, 8),
		.cr0_fixed0 = take(&in, 8), .cr0_fixed1 = take(&in, 8),
		.cr4_fixed0 = take(&in, 8), .cr4_fixed1 = take(&in, 8),
		.ept_vpid = take(&in, 8),
	};
	uint64_t misc = take(&in, 8), vmcs_enum = take(&in, 8), tsc_hz = take(&in, 8);
	struct vmx_caps caps;
	struct vmcs_policy p;
	size_t nfields;
	const struct vmcs_field *fields = vmcs_policy_fields(&nfields);

	if (flags & 1)
		make_capable(&m);
	memset(&caps, 0, sizeof(caps));
	if (vmx_caps_check(&m, &caps))
		return 0;
	memset(&p, 0xa5, sizeof(p));
	vmcs_policy_init(&p, &caps, m.basic, misc, vmcs_enum, tsc_hz);
	check_policy(&p, &caps, misc, tsc_hz);
	/* Which fields are out of reach does not depend on the MSRs: once is enough. */
	if (!table_checked) {
		check_table(&p);
		table_checked = true;
	}

	/*
	 * Writes: a table row (bit 31 of the selector; bit 30 for its high half) or
	 * any number.  A few dozen per input keep executions fast.
	 */
	for (unsigned n = 0; n < MAX_WRITES && in.left; n++) {
		uint32_t sel = take(&in, 4);
		uint64_t value = take(&in, 8);

		if (sel & (1u << 31))
			sel = fields[(sel & 0xffff) % nfields].encoding | ((sel >> 30) & 1);
		check_write(&p, sel, value);
	}
	return 0;
}
