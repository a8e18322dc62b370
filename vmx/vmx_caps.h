/*
 * What the CPU's VMX capability MSRs allow, read once at boot, and the check that
 * decides whether hvmetal can run at all. Pure logic over the raw MSR values.
 */
#ifndef HVMETAL_VMX_CAPS_H
#define HVMETAL_VMX_CAPS_H

#include <stdbool.h>
#include <stdint.h>

/* Raw values, as read from CPUID and the MSRs. */
struct vmx_msrs {
	bool cpuid_vmx;			/* CPUID.1:ECX.VMX */
	uint64_t feature_control;	/* IA32_FEATURE_CONTROL */
	uint64_t basic;
	uint64_t pin, proc, proc2, exit, entry;	/* TRUE_* where the CPU has them */
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t ept_vpid;
};

/* A VM-execution control word: must-be-1 bits (low half) and may-be-1 bits (high half). */
struct vmx_ctl {
	uint32_t must1, may1;
};

struct vmx_caps {
	uint32_t revision;
	struct vmx_ctl pin, proc, proc2, exit, entry;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t ept_vpid;
	bool vpid;			/* VPID and INVVPID single-context are usable */
	bool ept_1g, ept_2m;
	bool apicv;			/* TPR shadow, x2APIC and APIC-register virtualization, virtual-interrupt delivery */
	bool feature_control_unlocked;	/* boot must enable and lock VMX itself */
};

#define FEATURE_CONTROL_LOCK		(1ull << 0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX	(1ull << 2)

/* IA32_VMX_EPT_VPID_CAP bits */
#define EPT_CAP_WALK4		(1ull << 6)
#define EPT_CAP_WB		(1ull << 14)
#define EPT_CAP_2M		(1ull << 16)
#define EPT_CAP_1G		(1ull << 17)
#define EPT_CAP_INVEPT		(1ull << 20)
#define EPT_CAP_INVEPT_SINGLE	(1ull << 25)
#define EPT_CAP_INVEPT_ALL	(1ull << 26)
#define VPID_CAP_INVVPID	(1ull << 32)
#define VPID_CAP_SINGLE		(1ull << 41)


/*
 * Features hvmetal.cfg's vmx_hide makes hvmetal act as if the CPU lacked (as
 * KVM's enable_vpid=0 and friends do): the paths CPUs without them take run,
 * and are tested, on a CPU that has them.
 */
#define VMX_HIDE_VPID		(1u << 0)
#define VMX_HIDE_EPT_1G		(1u << 1)
#define VMX_HIDE_APIC_ACCESS	(1u << 2)
#define VMX_HIDE_APICV		(1u << 3)	/* x2APIC virtualization, virtual-interrupt delivery */

/* Clears what hide names from the raw values, before vmx_caps_check sees them. */
void vmx_msrs_hide(struct vmx_msrs *m, uint32_t hide);

/*
 * Fills caps from the raw values. Returns NULL when hvmetal can run, else one line
 * saying what is missing and why that matters.
 */
const char *vmx_caps_check(const struct vmx_msrs *m, struct vmx_caps *caps);

/* (want | must1) & may1; *missing gets the wanted bits the CPU cannot give. */
uint32_t vmx_ctl_adjust(struct vmx_ctl c, uint32_t want, uint32_t *missing);
static inline bool vmx_ctl_allows(struct vmx_ctl c, uint32_t bits)
{
	return (c.may1 & bits) == bits;
}

#endif
