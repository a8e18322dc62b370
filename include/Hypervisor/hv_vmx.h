/*
 * hv_vmx.h - VT-x specific calls of the Hypervisor.framework API: VMCS
 * and shadow-VMCS access, VMX capabilities, MSR information, APIC page.
 *
 * Every call taking a vcpu must be made on the control-domain CPU that
 * created that vCPU (its "owning thread"); from any other CPU it fails.
 */
#ifndef HYPERVISOR_HV_VMX_H
#define HYPERVISOR_HV_VMX_H

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_error.h>
#include <Hypervisor/hv_types.h>
#include <Hypervisor/hv_arch_x86.h>
#include <Hypervisor/hv_arch_vmx.h>

HV_EXTERN_C_BEGIN

/* Read a VMCS field (an encoding from hv_arch_vmx.h) of a vCPU. */
hv_return_t hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field,
	uint64_t *value);

/*
 * Write a VMCS field of a vCPU.  Bits outside what
 * hv_vmx_vcpu_get_cap_write_vmcs() allows make the write fail.
 */
hv_return_t hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field,
	uint64_t value);

/*
 * What a write to a VMCS field may contain: a bit set in allowed_0 must be
 * 1, a bit clear in allowed_1 must be 0, any other bit is free.
 */
hv_return_t hv_vmx_vcpu_get_cap_write_vmcs(hv_vcpuid_t vcpu, uint32_t field,
	uint64_t *allowed_0, uint64_t *allowed_1);

/* Shadow VMCS (for a guest hypervisor's VMREAD/VMWRITE). */
hv_return_t hv_vmx_vcpu_read_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t field,
	uint64_t *value);
hv_return_t hv_vmx_vcpu_write_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t field,
	uint64_t value);

/* Guest access to one shadow-VMCS field. */
typedef uint64_t hv_shadow_flags_t;
enum {
	HV_SHADOW_VMCS_NONE	= 0,
	HV_SHADOW_VMCS_READ	= 1 << 0,
	HV_SHADOW_VMCS_WRITE	= 1 << 1,
};

hv_return_t hv_vmx_vcpu_set_shadow_access(hv_vcpuid_t vcpu, uint32_t field,
	hv_shadow_flags_t flags);

/*
 * VMX capabilities.  The control entries (PINBASED ... EXIT and the TRUE_*
 * ones) have the IA32_VMX_*_CTLS layout: bits 31:0 must be 1, bits 63:32
 * may be 1, so a control word is (wanted | (cap & 0xffffffff)) & (cap >> 32).
 * They describe what hvmetal accepts, not the raw MSRs.
 */
typedef enum {
	HV_VMX_CAP_PINBASED		= 0,	/* pin-based controls */
	HV_VMX_CAP_PROCBASED		= 1,	/* primary processor-based */
	HV_VMX_CAP_PROCBASED2		= 2,	/* secondary processor-based */
	HV_VMX_CAP_ENTRY		= 3,	/* VM-entry controls */
	HV_VMX_CAP_EXIT			= 4,	/* VM-exit controls */
	HV_VMX_CAP_BASIC		= 5,	/* IA32_VMX_BASIC */
	HV_VMX_CAP_TRUE_PINBASED	= 6,
	HV_VMX_CAP_TRUE_PROCBASED	= 7,
	HV_VMX_CAP_TRUE_ENTRY		= 8,
	HV_VMX_CAP_TRUE_EXIT		= 9,
	HV_VMX_CAP_MISC			= 10,	/* IA32_VMX_MISC */
	HV_VMX_CAP_CR0_FIXED0		= 11,
	HV_VMX_CAP_CR0_FIXED1		= 12,
	HV_VMX_CAP_CR4_FIXED0		= 13,
	HV_VMX_CAP_CR4_FIXED1		= 14,
	HV_VMX_CAP_VMCS_ENUM		= 15,
	HV_VMX_CAP_EPT_VPID_CAP		= 16,
	HV_VMX_CAP_PREEMPTION_TIMER	= 32,	/* timer frequency in Hz */
} hv_vmx_capability_t;

hv_return_t hv_vmx_read_capability(hv_vmx_capability_t field,
	uint64_t *value);

/* hv_vmx_get_msr_info(): facts about MSRs as the guest sees them. */
typedef uint64_t hv_vmx_msr_info_t;
enum {
	HV_VMX_INFO_MSR_IA32_ARCH_CAPABILITIES		= 0,	/* value */
	HV_VMX_INFO_MSR_IA32_PERF_CAPABILITIES		= 1,	/* value */
	HV_VMX_VALID_MSR_IA32_PERFEVNTSEL		= 2,	/* writable bits */
	HV_VMX_VALID_MSR_IA32_FIXED_CTR_CTRL		= 3,
	HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_CTRL		= 4,
	HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_STATUS	= 5,
	HV_VMX_VALID_MSR_IA32_DEBUGCTL			= 6,
	HV_VMX_VALID_MSR_IA32_SPEC_CTRL			= 7,
	HV_VMX_NEED_MSR_IA32_SPEC_CTRL			= 8,	/* must-set bits */
};

hv_return_t hv_vmx_get_msr_info(hv_vmx_msr_info_t field, uint64_t *value);

/* Place the guest's APIC page (e.g. 0xfee00000) in the default space. */
hv_return_t hv_vmx_vcpu_set_apic_address(hv_vcpuid_t vcpu, hv_gpaddr_t gpa);

/* Same, in the address space asid. */
hv_return_t hv_vmx_vcpu_set_apic_address_space(hv_vcpuid_t vcpu,
	hv_vm_space_t asid, hv_gpaddr_t gpa);

HV_STATIC_ASSERT(sizeof(hv_vmx_capability_t) == 4,
	"hv_vmx_capability_t is 32 bits");

HV_EXTERN_C_END

#endif /* HYPERVISOR_HV_VMX_H */
