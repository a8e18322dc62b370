#include <Hypervisor/hv.h>
#include <Hypervisor/hv_arch_vmx.h>
#include <hvmetal/abi.h>
#include "hc_vcpu.h"
#include "kernel/cpu.h"
#include "kernel/host.h"
#include "vm/vcpu.h"
#include "vm/vcpu_move.h"
#include "vm/vcpu_run.h"
#include "vm/vm.h"
#include "vmx/vmcs.h"
#include "vmx/vmcs_policy.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"

#define MSR_IA32_ARCH_CAPABILITIES	0x10a

/*
 * The vCPU a call names (RDI = vm, RSI = vcpu), its VM locked in *vm.  Only the
 * owning CPU may use it (Apple's owning thread): another CPU gets HV_DENIED.
 */
static hv_return_t get_vcpu(const struct hcall *c, struct vm **vm, struct vcpu **v)
{
	*vm = vm_get(c->gpr->rdi);
	if (!*vm)
		return HV_BAD_ARGUMENT;
	*v = c->gpr->rsi < VM_VCPUS_MAX ? (*vm)->vcpus[c->gpr->rsi] : NULL;
	if (*v && (*v)->owner == this_cpu()->index)
		return HV_SUCCESS;
	vm_put(*vm);
	return *v ? HV_DENIED : HV_BAD_ARGUMENT;
}

/* The same without the VM's lock, for calls that touch only the vCPU (vcpu.h). */
static hv_return_t owned_vcpu(const struct hcall *c, struct vcpu **v)
{
	return vcpu_owned(c->gpr->rdi, c->gpr->rsi, v);
}

hv_return_t hc_vcpu_create(struct hcall *c)
{
	struct vm *vm = vm_get(c->gpr->rdi);
	uint32_t id;
	hv_return_t r;

	if (!vm)
		return HV_BAD_ARGUMENT;
	r = vcpu_create(vm, c->gpr->rsi, &id);
	vm_put(vm);
	if (r == HV_SUCCESS)
		c->gpr->rdx = id;
	return r;
}

hv_return_t hc_vcpu_destroy(struct hcall *c)
{
	struct vm *vm;
	struct vcpu *v;
	hv_return_t r = get_vcpu(c, &vm, &v);

	if (r != HV_SUCCESS)
		return r;
	vcpu_destroy(v);
	vm_put(vm);
	return HV_SUCCESS;
}

hv_return_t hc_vcpu_set_space(struct hcall *c)
{
	struct vm *vm;
	struct vcpu *v;
	struct ept *e;
	hv_return_t r = get_vcpu(c, &vm, &v);

	if (r != HV_SUCCESS)
		return r;
	e = c->gpr->rdx >> 32 ? NULL : vm_space(vm, (uint32_t)c->gpr->rdx);
	if (e) {
		v->asid = (uint32_t)c->gpr->rdx;
		__atomic_store_n(&v->space, e, __ATOMIC_RELEASE);	/* vcpu_sync_space reads it unlocked */
		v->eptp = (uintptr_t)e->pml4 | EPTP_WB_WALK4;
		v->ept_gen = UINT64_MAX;
		vcpu_vmcs_get(v);
		vmcs_write(VMCS_EPTP, v->eptp);
		vcpu_vmcs_put();
	}
	vm_put(vm);
	return e ? HV_SUCCESS : HV_BAD_ARGUMENT;
}

typedef hv_return_t (*vcpu_read_fn)(struct vcpu *v, uint32_t what, uint64_t *val);
typedef hv_return_t (*vcpu_write_fn)(struct vcpu *v, uint32_t what, uint64_t val);

/*
 * A read of one numbered thing (register, MSR, shadow-VMCS field) of an owned
 * vCPU: RDX names it and gets the value. With_vmcs: the vCPU's VMCS is loaded
 * around it (the shadow VMCS accesses load their own).
 */
static hv_return_t read_call(struct hcall *c, vcpu_read_fn read, bool with_vmcs)
{
	struct vcpu *v;
	uint64_t val = 0;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (with_vmcs)
		vcpu_vmcs_get(v);
	r = c->gpr->rdx >> 32 ? HV_BAD_ARGUMENT : read(v, (uint32_t)c->gpr->rdx, &val);
	if (with_vmcs)
		vcpu_vmcs_put();
	if (r == HV_SUCCESS)
		c->gpr->rdx = val;
	return r;
}

/* The write: RDX names it, RCX is the value. */
static hv_return_t write_call(struct hcall *c, vcpu_write_fn write, bool with_vmcs)
{
	struct vcpu *v;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (with_vmcs)
		vcpu_vmcs_get(v);
	r = c->gpr->rdx >> 32 ? HV_BAD_ARGUMENT : write(v, (uint32_t)c->gpr->rdx, c->gpr->rcx);
	if (with_vmcs)
		vcpu_vmcs_put();
	return r;
}

hv_return_t hc_vcpu_read_reg(struct hcall *c)
{
	return read_call(c, vcpu_read_reg, true);
}

hv_return_t hc_vcpu_write_reg(struct hcall *c)
{
	return write_call(c, vcpu_write_reg, true);
}

hv_return_t hc_vcpu_read_fpstate(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rcx < vcpu_xstate_size())
		return HV_BAD_ARGUMENT;
	return hypercall_copy_out(c, c->gpr->rdx, v->xsave, vcpu_xstate_size());
}

hv_return_t hc_vcpu_write_fpstate(struct hcall *c)
{
	uint32_t size = vcpu_xstate_size(), pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
	struct vcpu *v;
	hv_return_t r = owned_vcpu(c, &v);
	uint8_t *tmp;

	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rcx < size)
		return HV_BAD_ARGUMENT;
	tmp = pool_alloc_pages(&host_pool, pages);
	if (!tmp)
		return HV_NO_RESOURCES;
	/* Into hvmetal's copy first: the caller cannot change it between check and use. */
	r = hypercall_copy_in(c, tmp, c->gpr->rdx, size);
	if (r == HV_SUCCESS)
		r = vcpu_write_fpstate(v, tmp);
	pool_free_pages(&host_pool, tmp, pages);
	return r;
}

hv_return_t hc_vcpu_msr_access(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	return (c->gpr->rdx >> 32 || c->gpr->rcx >> 32) ? HV_BAD_ARGUMENT :
	       vcpu_msr_access(v, (uint32_t)c->gpr->rdx, (uint32_t)c->gpr->rcx, c->gpr->r8);
}

hv_return_t hc_vcpu_read_msr(struct hcall *c)
{
	return read_call(c, vcpu_read_msr, true);
}

hv_return_t hc_vcpu_write_msr(struct hcall *c)
{
	return write_call(c, vcpu_write_msr, true);
}

hv_return_t hc_vcpu_invalidate_tlb(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	/* Without VPIDs every VM entry and exit flushes the guest's translations already. */
	if (vmx_caps.vpid)
		__atomic_or_fetch(&v->requests, VCPU_REQ_FLUSH_VPID, __ATOMIC_ACQ_REL);
	return HV_SUCCESS;
}

/* Any CPU: the vCPU a call names, its VM held (not locked: the caller waits for another CPU). */
static hv_return_t held_vcpu(const struct hcall *c, struct vm **vm, struct vcpu **v)
{
	*vm = vm_get(c->gpr->rdi);
	if (!*vm)
		return HV_BAD_ARGUMENT;
	*v = c->gpr->rsi < VM_VCPUS_MAX ? (*vm)->vcpus[c->gpr->rsi] : NULL;
	if (*v)
		vm_hold(*vm);
	vm_put(*vm);
	return *v ? HV_SUCCESS : HV_BAD_ARGUMENT;
}

hv_return_t hc_vcpu_adopt(struct hcall *c)
{
	struct vm *vm;
	struct vcpu *v;
	hv_return_t r = held_vcpu(c, &vm, &v);

	if (r != HV_SUCCESS)
		return r;
	r = vcpu_adopt(v);
	vm_release(vm);
	return r;
}

/* Any CPU: no owner check. */
hv_return_t hc_vcpu_interrupt(struct hcall *c)
{
	struct vm *vm;
	struct vcpu *v;
	hv_return_t r = held_vcpu(c, &vm, &v);

	if (r != HV_SUCCESS)
		return r;
	vcpu_interrupt(v);
	vm_release(vm);
	return HV_SUCCESS;
}

hv_return_t hc_vcpu_time(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	switch (c->gpr->rdx) {
	case HVMETAL_TIME_EXEC:
		c->gpr->rdx = vmx_ticks_to_ns(v->exec_ticks);
		return HV_SUCCESS;
	case HVMETAL_TIME_IDLE:
		c->gpr->rdx = vmx_ticks_to_ns(v->idle_ticks);	/* HLT idled in hvmetal (HV_VM_ACCEL_APIC) */
		return HV_SUCCESS;
	default:
		return HV_BAD_ARGUMENT;
	}
}

hv_return_t hc_vcpu_set_tsc_offset(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	vcpu_vmcs_get(v);
	vcpu_apply_tsc_offset(c->gpr->rdx);
	vcpu_vmcs_put();
	return HV_SUCCESS;
}

hv_return_t hc_vcpu_vmx_status(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	c->gpr->rdx = v->vmx_status;
	return v->vmx_status ? HV_SUCCESS : HV_ERROR;
}

hv_return_t hc_vmx_read_vmcs(struct hcall *c)
{
	struct vcpu *v;
	uint64_t val = 0;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rdx >> 32 || !vmcs_policy_readable((uint32_t)c->gpr->rdx)) {
		r = HV_BAD_ARGUMENT;
	} else if (c->gpr->rdx == VMCS_RO_EXIT_REASON) {
		val = v->exit_reason;	/* hvmetal's own stops read as what the VMM was told */
	} else {
		vcpu_vmcs_get(v);
		/* A field this CPU lacks fails here, not in hvmetal. */
		if (vmx_vmread(c->gpr->rdx, &val) != VMX_OK)
			r = HV_BAD_ARGUMENT;
		vcpu_vmcs_put();
	}
	if (r == HV_SUCCESS)
		c->gpr->rdx = val;
	return r;
}

hv_return_t hc_vmx_write_vmcs(struct hcall *c)
{
	struct vcpu *v;
	uint64_t out;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rdx >> 32 || vmcs_policy_write(&vmcs_policy, (uint32_t)c->gpr->rdx, c->gpr->rcx, &out) < 0) {
		r = HV_BAD_ARGUMENT;
	} else {
		vcpu_vmcs_get(v);
		if (vmx_vmwrite(c->gpr->rdx, out) != VMX_OK)
			r = HV_BAD_ARGUMENT;
		else if (c->gpr->rdx == VMCS_CTRL_CPU_BASED2)
			vcpu_link_shadow(v, out);
		else if (c->gpr->rdx == VMCS_GUEST_INTERRUPTIBILITY)
			v->nmi_blocked = out & INTR_BLOCK_NMI;	/* the VMM's blocking is explained */
		vcpu_vmcs_put();
	}
	return r;
}

hv_return_t hc_vmx_cap_write_vmcs(struct hcall *c)
{
	struct vcpu *v;
	uint64_t a0, a1;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rdx >> 32 || vmcs_policy_write_caps(&vmcs_policy, (uint32_t)c->gpr->rdx, &a0, &a1) < 0)
		return HV_BAD_ARGUMENT;
	c->gpr->rdx = a0;
	c->gpr->rcx = a1;
	return HV_SUCCESS;
}

hv_return_t hc_vmx_read_capability(struct hcall *c)
{
	uint64_t val;

	if (c->gpr->rdi >> 32 || vmcs_policy_capability(&vmcs_policy, (uint32_t)c->gpr->rdi, &val) < 0)
		return HV_BAD_ARGUMENT;
	c->gpr->rdx = val;
	return HV_SUCCESS;
}

hv_return_t hc_vmx_read_shadow(struct hcall *c)
{
	return read_call(c, vcpu_read_shadow, false);
}

hv_return_t hc_vmx_write_shadow(struct hcall *c)
{
	return write_call(c, vcpu_write_shadow, false);
}

hv_return_t hc_vmx_shadow_access(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = owned_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	return c->gpr->rdx >> 32 ? HV_BAD_ARGUMENT : vcpu_shadow_access(v, (uint32_t)c->gpr->rdx, c->gpr->rcx);
}

/*
 * The guest's APIC page: hvmetal maps one page of its own there (per VM, in the
 * default space) and makes it the vCPU's APIC-access page, so that with
 * CPU_BASED2_VIRTUAL_APIC the guest's accesses become APIC-access exits for the
 * VMM. A gpa the VMM already mapped is refused; the page holds nothing of hvmetal's.
 */
static hv_return_t set_apic_address(struct hcall *c, uint64_t asid)
{
	struct vm *vm;
	struct vcpu *v;
	struct ept *e;
	uint64_t gpa = c->gpr->rdx, hpa, size;
	unsigned perms;
	hv_return_t r = get_vcpu(c, &vm, &v);

	if (r != HV_SUCCESS)
		return r;
	/* The field exists only where the CPU can virtualize APIC accesses. */
	if (!(vmcs_policy.proc2.may1 & CPU_BASED2_VIRTUAL_APIC)) {
		vm_put(vm);
		return HV_UNSUPPORTED;
	}
	e = asid >> 32 ? NULL : vm_space(vm, (uint32_t)asid);
	if (!e) {
		vm_put(vm);
		return HV_BAD_ARGUMENT;
	}
	if (!vm->apic_access_page)
		vm->apic_access_page = pool_alloc_page(&host_pool);
	if (!vm->apic_access_page) {
		r = HV_NO_RESOURCES;
	} else if (gpa & PAGE_MASK) {
		r = HV_BAD_ARGUMENT;
	} else if (ept_lookup(e, gpa, &hpa, &perms, &size) == 0) {
		/* Already the APIC page (another vCPU set it), or the VMM's memory: refused. */
		r = hpa == (uintptr_t)vm->apic_access_page ? HV_SUCCESS : HV_BAD_ARGUMENT;
	} else {
		/* Never merges (its neighbours would be hvmetal's pages): no table is retired. */
		r = ept_map(e, gpa, (uintptr_t)vm->apic_access_page, PAGE_SIZE,
			    EPT_PERM_R | EPT_PERM_W) == 0 ? HV_SUCCESS : HV_BAD_ARGUMENT;
	}
	if (r == HV_SUCCESS) {
		vcpu_vmcs_get(v);
		vmcs_write(VMCS_APIC_ACCESS_ADDR, (uintptr_t)vm->apic_access_page);
		vcpu_vmcs_put();
	}
	vm_put(vm);
	return r;
}

hv_return_t hc_vmx_set_apic_address(struct hcall *c)
{
	return set_apic_address(c, HV_VM_SPACE_DEFAULT);
}

/* The same in any space of the VM (hv_vmx_vcpu_set_apic_address_space). */
hv_return_t hc_vmx_set_apic_address_space(struct hcall *c)
{
	return set_apic_address(c, c->gpr->rcx);
}

/* Guests get no PMU and no speculation-control MSRs: their masks are empty. */
hv_return_t hc_vmx_msr_info(struct hcall *c)
{
	switch (c->gpr->rdi) {
	case HV_VMX_INFO_MSR_IA32_ARCH_CAPABILITIES:
		c->gpr->rdx = (cpuid(0, 0).eax >= 7 && (cpuid(7, 0).edx & (1u << 29))) ?
			      rdmsr(MSR_IA32_ARCH_CAPABILITIES) : 0;
		return HV_SUCCESS;
	case HV_VMX_INFO_MSR_IA32_PERF_CAPABILITIES:
	case HV_VMX_VALID_MSR_IA32_PERFEVNTSEL:
	case HV_VMX_VALID_MSR_IA32_FIXED_CTR_CTRL:
	case HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_CTRL:
	case HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_STATUS:
	case HV_VMX_VALID_MSR_IA32_DEBUGCTL:
	case HV_VMX_VALID_MSR_IA32_SPEC_CTRL:
	case HV_VMX_NEED_MSR_IA32_SPEC_CTRL:
		c->gpr->rdx = 0;
		return HV_SUCCESS;
	default:
		return HV_BAD_ARGUMENT;
	}
}

/* Every vCPU's guest TSC reads tsc now; owners apply it before their next entry. */
hv_return_t hc_vm_sync_tsc(struct hcall *c)
{
	struct vm *vm = vm_get(c->gpr->rdi);
	uint64_t offset = c->gpr->rsi - rdtsc();

	if (!vm)
		return HV_BAD_ARGUMENT;
	for (unsigned i = 0; i < VM_VCPUS_MAX; i++) {
		struct vcpu *v = vm->vcpus[i];

		if (!v)
			continue;
		__atomic_store_n(&v->tsc_offset, offset, __ATOMIC_RELEASE);
		__atomic_or_fetch(&v->requests, VCPU_REQ_TSC, __ATOMIC_ACQ_REL);
	}
	vm_put(vm);
	return HV_SUCCESS;
}

hv_return_t hc_vcpu_run(struct hcall *c)
{
	struct vcpu *v;
	uint64_t mode = c->gpr->rcx;
	hv_return_t r = vcpu_owned(c->gpr->rdi, c->gpr->rsi, &v);

	if (r != HV_SUCCESS)
		return r;
	if ((mode & ~(uint64_t)(HVMETAL_RUN_MODE | HVMETAL_RUN_SET_RIP)) ||
	    (mode & HVMETAL_RUN_MODE) > HVMETAL_RUN_UNTIL)
		return HV_BAD_ARGUMENT;
	__atomic_store_n(&v->running, 1, __ATOMIC_RELEASE);
	r = vcpu_run(v, c->gpr);
	__atomic_store_n(&v->running, 0, __ATOMIC_RELEASE);
	return r;
}
