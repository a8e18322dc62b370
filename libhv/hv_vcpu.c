/*
 * Apple's vCPU API over hvmetal's hypercalls.  VCPU_RUN hands back the exit
 * (reason, qualification, instruction length, RIP) in registers; libhv keeps
 * them so that the VMM's first reads after an exit cost no hypercall, and it
 * holds a RIP write back until the next run, which carries it: the usual
 * "read the exit, move RIP, run" is then one hypercall.
 */
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "libhv.h"

#define VCPUS	64	/* HV_CAP_VCPUMAX */

static struct {
	struct hvmetal_run_exit ex;
	bool valid;		/* ex is the vCPU's last exit: the vCPU exists and ran */
	bool rip_valid;		/* ex.rip is the guest RIP now */
	bool rip_pending;	/* ex.rip was written by the VMM and not sent yet */
} last_exit[VCPUS];

static void forget_exit(hv_vcpuid_t vcpu)
{
	if (vcpu < VCPUS)
		last_exit[vcpu].valid = last_exit[vcpu].rip_valid = last_exit[vcpu].rip_pending = false;
}

/* A RIP write libhv can hold: the vCPU is known to exist (it ran). */
static bool defer_rip(hv_vcpuid_t vcpu, uint64_t rip)
{
	if (vcpu >= VCPUS || !last_exit[vcpu].valid)
		return false;
	last_exit[vcpu].ex.rip = rip;
	last_exit[vcpu].rip_valid = last_exit[vcpu].rip_pending = true;
	return true;
}

bool libhv_exit_code(uint32_t vcpu, uint32_t *code, uint32_t *apic_value)
{
	if (vcpu >= VCPUS || !last_exit[vcpu].valid)
		return false;
	*code = (uint32_t)last_exit[vcpu].ex.exitinfo;
	*apic_value = (uint32_t)last_exit[vcpu].ex.apic_value;
	return true;
}

void libhv_set_exit_code(uint32_t vcpu, uint32_t code)
{
	if (vcpu < VCPUS && last_exit[vcpu].valid)
		last_exit[vcpu].ex.exitinfo = code;
}

/* One vCPU call: VM = the current one, RSI = vcpu. */
static hv_return_t vcpu_call(uint64_t nr, hv_vcpuid_t vcpu, uint64_t a2, uint64_t *rdx)
{
	if (!libhv_vm())
		return HV_NO_DEVICE;
	return hvmetal_vmcall(nr, libhv_vm(), vcpu, a2, rdx);
}

static hv_return_t vcpu_call6(uint64_t nr, hv_vcpuid_t vcpu, uint64_t a2, uint64_t a3, uint64_t a4)
{
	if (!libhv_vm())
		return HV_NO_DEVICE;
	return hvmetal_vmcall6(nr, libhv_vm(), vcpu, a2, a3, a4, 0);
}

/* Hands out what a call answered; takes v by address so the call has run first. */
static hv_return_t read_out(hv_return_t r, const uint64_t *v, uint64_t *out)
{
	if (r == HV_SUCCESS)
		*out = *v;
	return r;
}

hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags)
{
	uint64_t id = 0;
	hv_return_t r;

	if (!libhv_vm())
		return HV_NO_DEVICE;
	if (!vcpu)
		return HV_BAD_ARGUMENT;
	r = hvmetal_vmcall(HVMETAL_HC_VCPU_CREATE, libhv_vm(), flags, 0, &id);
	if (r == HV_SUCCESS) {
		*vcpu = (hv_vcpuid_t)id;
		forget_exit(*vcpu);
	}
	return r;
}

hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu)
{
	forget_exit(vcpu);	/* a held RIP write dies with the vCPU */
	return vcpu_call(HVMETAL_HC_VCPU_DESTROY, vcpu, 0, 0);
}

hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid)
{
	return vcpu_call(HVMETAL_HC_VCPU_SET_SPACE, vcpu, asid, 0);
}

hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t *value)
{
	uint64_t v = 0;

	if (!value)
		return HV_BAD_ARGUMENT;
	if (reg == HV_X86_RIP && vcpu < VCPUS && last_exit[vcpu].rip_valid) {
		*value = last_exit[vcpu].ex.rip;
		return HV_SUCCESS;
	}
	return read_out(vcpu_call(HVMETAL_HC_VCPU_READ_REG, vcpu, reg, &v), &v, value);
}

hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value)
{
	if (reg == HV_X86_RIP && libhv_vm() && defer_rip(vcpu, value))
		return HV_SUCCESS;
	return vcpu_call6(HVMETAL_HC_VCPU_WRITE_REG, vcpu, reg, value, 0);
}

hv_return_t hv_vcpu_read_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size)
{
	return vcpu_call6(HVMETAL_HC_VCPU_READ_FPSTATE, vcpu, (uintptr_t)buffer, size, 0);
}

hv_return_t hv_vcpu_write_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size)
{
	return vcpu_call6(HVMETAL_HC_VCPU_WRITE_FPSTATE, vcpu, (uintptr_t)buffer, size, 0);
}

hv_return_t hv_vcpu_enable_native_msr(hv_vcpuid_t vcpu, uint32_t msr, bool enable)
{
	return vcpu_call6(HVMETAL_HC_VCPU_MSR_ACCESS, vcpu, msr, HVMETAL_MSR_NATIVE, enable);
}

hv_return_t hv_vcpu_enable_managed_msr(hv_vcpuid_t vcpu, uint32_t msr, bool enable)
{
	return vcpu_call6(HVMETAL_HC_VCPU_MSR_ACCESS, vcpu, msr, HVMETAL_MSR_MANAGED, enable);
}

hv_return_t hv_vcpu_set_msr_access(hv_vcpuid_t vcpu, uint32_t msr, hv_msr_flags_t flags)
{
	return vcpu_call6(HVMETAL_HC_VCPU_MSR_ACCESS, vcpu, msr, HVMETAL_MSR_ACCESS, flags);
}

hv_return_t hv_vcpu_read_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t *value)
{
	uint64_t v = 0;

	if (!value)
		return HV_BAD_ARGUMENT;
	return read_out(vcpu_call(HVMETAL_HC_VCPU_READ_MSR, vcpu, msr, &v), &v, value);
}

hv_return_t hv_vcpu_write_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t value)
{
	return vcpu_call6(HVMETAL_HC_VCPU_WRITE_MSR, vcpu, msr, value, 0);
}

/* Deprecated by Apple, HV_UNSUPPORTED there too. */
hv_return_t hv_vcpu_flush(hv_vcpuid_t vcpu)
{
	(void)vcpu;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_invalidate_tlb(hv_vcpuid_t vcpu)
{
	return vcpu_call(HVMETAL_HC_VCPU_INVALIDATE_TLB, vcpu, 0, 0);
}

static hv_return_t run(hv_vcpuid_t vcpu, uint64_t deadline, uint64_t mode)
{
	struct hvmetal_run_exit ex;
	uint64_t rip = 0;
	hv_return_t r;

	if (!libhv_vm())
		return HV_NO_DEVICE;
	if (vcpu < VCPUS && last_exit[vcpu].rip_pending) {
		mode |= HVMETAL_RUN_SET_RIP;
		rip = last_exit[vcpu].ex.rip;
	}
	/* An interrupt for the control domain ended run_until: it has been taken by now. */
	do {
		r = hvmetal_vcpu_run(libhv_vm(), vcpu, deadline, mode, rip, &ex);
		mode &= ~(uint64_t)HVMETAL_RUN_SET_RIP;	/* hvmetal wrote it the first time */
	} while (r == HVMETAL_RUN_AGAIN);
	if (vcpu >= VCPUS)
		return r;
	if (r == HV_SUCCESS) {
		last_exit[vcpu].ex = ex;
		last_exit[vcpu].valid = last_exit[vcpu].rip_valid = true;
		last_exit[vcpu].rip_pending = false;
	} else if (r == HV_ERROR) {
		forget_exit(vcpu);	/* the VM entry failed after the RIP went in */
	}
	/* Refused before anything ran (wrong CPU, bad argument): a held RIP stays held. */
	return r;
}

hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu)
{
	return run(vcpu, HV_DEADLINE_FOREVER, HVMETAL_RUN_EVERY_EXIT);
}

hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline)
{
	return run(vcpu, deadline, HVMETAL_RUN_UNTIL);
}

hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus, unsigned int vcpu_count)
{
	hv_return_t r = HV_SUCCESS;

	if (!libhv_vm())
		return HV_NO_DEVICE;
	if (!vcpus && vcpu_count)
		return HV_BAD_ARGUMENT;
	for (unsigned i = 0; i < vcpu_count && r == HV_SUCCESS; i++)
		r = hvmetal_vmcall(HVMETAL_HC_VCPU_INTERRUPT, libhv_vm(), vcpus[i], 0, 0);
	return r;
}

hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time)
{
	uint64_t v = 0;

	if (!time)
		return HV_BAD_ARGUMENT;
	return read_out(vcpu_call(HVMETAL_HC_VCPU_TIME, vcpu, HVMETAL_TIME_EXEC, &v), &v, time);
}

hv_return_t hv_vcpu_get_idle_time(hv_vcpuid_t vcpu, uint64_t *time)
{
	uint64_t v = 0;

	if (!time)
		return HV_BAD_ARGUMENT;
	return read_out(vcpu_call(HVMETAL_HC_VCPU_TIME, vcpu, HVMETAL_TIME_IDLE, &v), &v, time);
}

hv_return_t hv_vcpu_set_tsc_relative(hv_vcpuid_t vcpu, int64_t offset)
{
	return vcpu_call(HVMETAL_HC_VCPU_SET_TSC_OFFSET, vcpu, (uint64_t)offset, 0);
}

hv_return_t hv_vcpu_vmx_status(hv_vcpuid_t vcpu, uint32_t *status)
{
	uint64_t v = 0;
	hv_return_t r;

	if (!status)
		return HV_BAD_ARGUMENT;
	r = vcpu_call(HVMETAL_HC_VCPU_VMX_STATUS, vcpu, 0, &v);
	if (r == HV_SUCCESS)
		*status = (uint32_t)v;
	return r;
}

hv_return_t hv_vm_sync_tsc(uint64_t tsc)
{
	if (!libhv_vm())
		return HV_NO_DEVICE;
	return hvmetal_vmcall(HVMETAL_HC_VM_SYNC_TSC, libhv_vm(), tsc, 0, 0);
}

/* The control domain runs on the host TSC: no call needed. */
uint64_t hv_tsc_clock(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Exit fields VCPU_RUN already returned come from libhv's copy. */
hv_return_t hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value)
{
	uint64_t v = 0;

	if (!value)
		return HV_BAD_ARGUMENT;
	if (vcpu < VCPUS && last_exit[vcpu].valid) {
		const struct hvmetal_run_exit *ex = &last_exit[vcpu].ex;

		switch (field) {
		case VMCS_RO_EXIT_REASON:
			*value = ex->reason;
			return HV_SUCCESS;
		case VMCS_RO_EXIT_QUALIFIC:
			*value = ex->qualification;
			return HV_SUCCESS;
		case VMCS_RO_VMEXIT_INSTR_LEN:
			*value = ex->insn_len;
			return HV_SUCCESS;
		case VMCS_GUEST_RIP:
			if (last_exit[vcpu].rip_valid) {
				*value = ex->rip;
				return HV_SUCCESS;
			}
			break;
		}
	}
	return read_out(vcpu_call(HVMETAL_HC_VMX_READ_VMCS, vcpu, field, &v), &v, value);
}

hv_return_t hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	if (field == VMCS_GUEST_RIP && libhv_vm() && defer_rip(vcpu, value))
		return HV_SUCCESS;
	return vcpu_call6(HVMETAL_HC_VMX_WRITE_VMCS, vcpu, field, value, 0);
}

hv_return_t hv_vmx_vcpu_get_cap_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *allowed_0,
					   uint64_t *allowed_1)
{
	uint64_t a0 = 0, a1 = 0;
	hv_return_t r;

	if (!allowed_0 || !allowed_1)
		return HV_BAD_ARGUMENT;
	if (!libhv_vm())
		return HV_NO_DEVICE;
	r = hvmetal_vmcall_rdx_rcx(HVMETAL_HC_VMX_CAP_WRITE_VMCS, libhv_vm(), vcpu, field, 0, &a0, &a1);
	if (r == HV_SUCCESS) {
		*allowed_0 = a0;
		*allowed_1 = a1;
	}
	return r;
}

hv_return_t hv_vmx_read_capability(hv_vmx_capability_t field, uint64_t *value)
{
	uint64_t v = 0;

	if (!value)
		return HV_BAD_ARGUMENT;
	return read_out(hvmetal_vmcall(HVMETAL_HC_VMX_READ_CAPABILITY, field, 0, 0, &v), &v, value);
}

hv_return_t hv_vmx_get_msr_info(hv_vmx_msr_info_t field, uint64_t *value)
{
	uint64_t v = 0;

	if (!value)
		return HV_BAD_ARGUMENT;
	return read_out(hvmetal_vmcall(HVMETAL_HC_VMX_MSR_INFO, field, 0, 0, &v), &v, value);
}

hv_return_t hv_vmx_vcpu_read_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value)
{
	uint64_t v = 0;

	if (!value)
		return HV_BAD_ARGUMENT;
	return read_out(vcpu_call(HVMETAL_HC_VMX_READ_SHADOW, vcpu, field, &v), &v, value);
}

hv_return_t hv_vmx_vcpu_write_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	return vcpu_call6(HVMETAL_HC_VMX_WRITE_SHADOW, vcpu, field, value, 0);
}

hv_return_t hv_vmx_vcpu_set_shadow_access(hv_vcpuid_t vcpu, uint32_t field, hv_shadow_flags_t flags)
{
	return vcpu_call6(HVMETAL_HC_VMX_SHADOW_ACCESS, vcpu, field, flags, 0);
}

hv_return_t hv_vmx_vcpu_set_apic_address(hv_vcpuid_t vcpu, hv_gpaddr_t gpa)
{
	return vcpu_call(HVMETAL_HC_VMX_SET_APIC_ADDRESS, vcpu, gpa, 0);
}
