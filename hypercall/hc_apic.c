/*
 * The APIC-acceleration calls: vCPU calls on the owner (no VM lock: an owned
 * vCPU and its VM cannot go), VM-wide calls from any CPU (the VM held, not
 * locked, while the models run under their own lock and the vCPUs they woke
 * are told).  Every argument is checked before a model sees it; a VM made
 * without HV_VM_ACCEL_APIC answers HV_UNSUPPORTED.
 */
#include <Hypervisor/hv.h>
#include <hvmetal/abi.h>
#include "apic/lsc.h"
#include "apic/vatpic.h"
#include "apic/vintr.h"
#include "apic/vioapic.h"
#include "apic/vlapic.h"
#include "hc_apic.h"
#include "kernel/cpu.h"
#include "uaccess.h"
#include "vm/vapic.h"
#include "vm/vcpu.h"
#include "vm/vcpu_apic.h"
#include "vm/vm.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_bits.h"

#define APIC_PAGE_SIZE	0x1000u
#define APIC_CTRL_KNOWN	(HV_APIC_CTRL_EOI_ICR_TPR | HV_APIC_CTRL_GUEST_IDLE | \
			 HV_APIC_CTRL_NO_TIMER | HV_APIC_CTRL_IOAPIC_EOI)

/* The owned vCPU of an ACCEL_APIC VM the call names. */
static hv_return_t apic_vcpu(const struct hcall *c, struct vcpu **v)
{
	hv_return_t r = vcpu_owned(c->gpr->rdi, c->gpr->rsi, v);

	if (r == HV_SUCCESS && !(*v)->vm->apic)
		r = HV_UNSUPPORTED;
	return r;
}

/* The vCPU's guest TSC, the models' time. */
static uint64_t guest_now(struct vcpu *v)
{
	uint64_t now;

	vcpu_vmcs_get(v);
	now = vcpu_guest_tsc();
	vcpu_vmcs_put();
	return now;
}

hv_return_t hc_vcpu_apic_ctrl(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = apic_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rdx & ~(uint64_t)APIC_CTRL_KNOWN)
		return HV_BAD_ARGUMENT;
	vapic_lock(v->vm->apic);
	vlapic_set_ctrl(&v->lapic, c->gpr->rdx);
	vapic_unlock(v->vm->apic);
	return HV_SUCCESS;
}

hv_return_t hc_vcpu_apic_read(struct hcall *c)
{
	struct vcpu *v;
	uint64_t now;
	hv_return_t r = apic_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rdx >= APIC_PAGE_SIZE)
		return HV_BAD_ARGUMENT;
	now = guest_now(v);
	vapic_lock(v->vm->apic);
	c->gpr->rdx = vlapic_read(&v->lapic, (uint32_t)c->gpr->rdx, now);
	vapic_unlock(v->vm->apic);
	return HV_SUCCESS;
}

/* A write the VMM decoded (an APIC-access exit, or its own setup): RDX = no_side_effect. */
hv_return_t hc_vcpu_apic_write(struct hcall *c)
{
	struct vlapic_effect eff = { 0 };
	struct vcpu *v;
	uint64_t now;
	bool nse;
	hv_return_t r = apic_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rdx >= APIC_PAGE_SIZE || c->gpr->rcx >> 32)
		return HV_BAD_ARGUMENT;
	now = guest_now(v);
	vapic_lock(v->vm->apic);
	nse = vlapic_write(&v->lapic, (uint32_t)c->gpr->rdx, (uint32_t)c->gpr->rcx, now, &eff);
	vapic_unlock(v->vm->apic);
	if (!nse)
		vcpu_apic_set_effect(v, &eff);
	c->gpr->rdx = nse;
	c->gpr->rcx = nse ? 0 : eff.exitinfo;
	return HV_SUCCESS;
}

hv_return_t hc_vcpu_apic_get_state(struct hcall *c)
{
	hv_apic_state_ext_t st = { 0 };
	struct vcpu *v;
	uint64_t now;
	hv_return_t r = apic_vcpu(c, &v);

	if (r == HV_SUCCESS)
		r = hypercall_copy_in(c, &st.version, c->gpr->rdx, sizeof(st.version));
	if (r != HV_SUCCESS)
		return r;
	/* Apple says the caller "should" set the version: hvmetal requires it, as for the others. */
	if (st.version != HV_APIC_STATE_EXT_VER)
		return HV_BAD_ARGUMENT;
	now = guest_now(v);
	vapic_lock(v->vm->apic);
	vlapic_get_state(&v->lapic, &st.state, now);
	vapic_unlock(v->vm->apic);
	return hypercall_copy_out(c, c->gpr->rdx, &st, sizeof(st));
}

hv_return_t hc_vcpu_apic_put_state(struct hcall *c)
{
	hv_apic_state_ext_t st;
	struct vcpu *v;
	uint64_t now;
	hv_return_t r = apic_vcpu(c, &v);

	if (r == HV_SUCCESS)
		r = hypercall_copy_in(c, &st, c->gpr->rdx, sizeof(st));
	if (r != HV_SUCCESS)
		return r;
	if (st.version != HV_APIC_STATE_EXT_VER)
		return HV_BAD_ARGUMENT;
	now = guest_now(v);
	vapic_lock(v->vm->apic);
	r = vlapic_put_state(&v->lapic, &st.state, now);
	vapic_unlock(v->vm->apic);
	return r;
}

hv_return_t hc_vcpu_apic_trigger_lvt(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = apic_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rdx >> 32)
		return HV_BAD_ARGUMENT;
	vapic_lock(v->vm->apic);
	r = vlapic_trigger_lvt(&v->lapic, (hv_apic_lvt_flavor_t)c->gpr->rdx);
	vapic_unlock(v->vm->apic);
	return r;
}

/*
 * hv_vcpu_apic_lsc_enter_*: the caller's pages of the instruction become
 * their physical addresses (RAM of the control domain, as its page tables and
 * hvmetal's memory map say), and the model records the bytes and the paging
 * state it will compare at each hit.  RDX = 0: hv_vcpu_apic_lsc_invalidate.
 */
hv_return_t hc_vcpu_apic_lsc(struct hcall *c)
{
	static const unsigned kinds[] = {
		[HVMETAL_LSC_LOAD_R32] = LSC_LOAD_R32,
		[HVMETAL_LSC_STORE_R32] = LSC_STORE_R32,
		[HVMETAL_LSC_STORE_IMM32] = LSC_STORE_IMM32,
	};
	struct uaccess ua = hypercall_uaccess(hcall_access(c));
	struct hvmetal_lsc_entry e;
	struct lsc_code code = { 0 };
	struct lsc_paging pg;
	struct lsc_op op;
	struct vcpu *v;
	uint64_t extent, base;
	hv_return_t r = apic_vcpu(c, &v);

	if (r != HV_SUCCESS)
		return r;
	if (!c->gpr->rdx) {
		lsc_invalidate(&v->lsc);
		return HV_SUCCESS;
	}
	r = hypercall_copy_in(c, &e, c->gpr->rdx, sizeof(e));
	if (r != HV_SUCCESS)
		return r;
	if (e.kind > HVMETAL_LSC_STORE_IMM32 || e.count > 2)
		return HV_BAD_ARGUMENT;
	for (unsigned i = 0; i < e.count; i++) {
		if ((e.uva[i] & (PAGE_SIZE - 1)) ||
		    uaccess_translate(&ua, e.uva[i], &code.page[i], &extent) || extent < PAGE_SIZE)
			return HV_BAD_ARGUMENT;
	}
	code.pages = e.count;
	op = (struct lsc_op){
		.rip = e.rip, .cs = e.cs, .ilen = e.ilen, .kind = kinds[e.kind],
		.reg = (hv_x86_reg_t)e.reg, .imm = e.imm,
	};
	if (e.kind == HVMETAL_LSC_STORE_IMM32)
		op.reg = 0;
	vcpu_vmcs_get(v);
	vcpu_apic_lsc_paging(&pg);
	base = vmcs_read(VMCS_GUEST_CS_BASE);
	vcpu_vmcs_put();
	return lsc_enter(&v->lsc, &op, &code, &pg, base + e.rip, vcpu_apic_lsc_read, NULL);
}

/* The 8259's vector goes in at the vCPU's next chance (an INTA cycle then). */
hv_return_t hc_vcpu_inject_extint(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = apic_vcpu(c, &v);

	if (r == HV_SUCCESS)
		v->extint_req = true;
	return r;
}

hv_return_t hc_vcpu_exit_info(struct hcall *c)
{
	struct vcpu *v;
	hv_return_t r = apic_vcpu(c, &v);

	/* Without APIC acceleration every exit is an ordinary VMX one. */
	if (r == HV_UNSUPPORTED)
		r = HV_SUCCESS;
	if (r != HV_SUCCESS)
		return r;
	return hypercall_copy_out(c, c->gpr->rdx, &v->exit_info, sizeof(v->exit_info));
}

/* ---- VM-wide, any CPU ---- */

/* The ACCEL_APIC VM the call names, held (not locked) until apic_vm_put. */
static hv_return_t apic_vm_get(const struct hcall *c, struct vm **vm)
{
	*vm = vm_get(c->gpr->rdi);
	if (!*vm)
		return HV_BAD_ARGUMENT;
	if (!(*vm)->apic) {
		vm_put(*vm);
		return HV_UNSUPPORTED;
	}
	vm_hold(*vm);
	vm_put(*vm);
	vapic_lock((*vm)->apic);
	return HV_SUCCESS;
}

/* Unlocks (telling every vCPU the call woke) and lets the VM go. */
static hv_return_t apic_vm_put(struct vm *vm, hv_return_t r)
{
	vapic_unlock(vm->apic);
	vm_release(vm);
	return r;
}

/* Apple's pins, IRQs and ports are ints: anything else is out of range. */
static bool fits_int(uint64_t x)
{
	return (int64_t)x == (int32_t)x;
}

hv_return_t hc_vm_lapic_set_intr(struct hcall *c)
{
	struct vm *vm;
	hv_return_t r;

	if (c->gpr->rsi >= VM_VCPUS_MAX || c->gpr->rdx > 0xff || c->gpr->rcx > HV_APIC_LEVEL_TRIGGER)
		return HV_BAD_ARGUMENT;
	r = apic_vm_get(c, &vm);
	if (r != HV_SUCCESS)
		return r;
	r = vintr_set_intr(&vm->apic->vi, (uint32_t)c->gpr->rsi, (uint8_t)c->gpr->rdx,
			   (hv_apic_intr_trigger_t)c->gpr->rcx);
	return apic_vm_put(vm, r);
}

hv_return_t hc_vm_lapic_msi(struct hcall *c)
{
	struct vm *vm;
	hv_return_t r = apic_vm_get(c, &vm);

	if (r != HV_SUCCESS)
		return r;
	return apic_vm_put(vm, vintr_msi(&vm->apic->vi, c->gpr->rsi, c->gpr->rdx));
}

hv_return_t hc_vm_ioapic_intr(struct hcall *c)
{
	struct vm *vm;
	hv_return_t r = apic_vm_get(c, &vm);

	if (r != HV_SUCCESS)
		return r;
	return apic_vm_put(vm, vintr_ioapic_intr(&vm->apic->vi, c->gpr->rsi));
}

hv_return_t hc_vm_apic_bus_freq(struct hcall *c)
{
	struct vm *vm;
	hv_return_t r = apic_vm_get(c, &vm);

	if (r != HV_SUCCESS)
		return r;
	return apic_vm_put(vm, vintr_set_bus_freq(&vm->apic->vi, c->gpr->rsi));
}

hv_return_t hc_vm_ioapic_irq(struct hcall *c)
{
	struct vm *vm;
	int pin = (int)c->gpr->rsi;
	hv_return_t r;

	if (!fits_int(c->gpr->rsi) || c->gpr->rdx > HVMETAL_IRQ_PULSE)
		return HV_BAD_ARGUMENT;
	r = apic_vm_get(c, &vm);
	if (r != HV_SUCCESS)
		return r;
	switch (c->gpr->rdx) {
	case HVMETAL_IRQ_ASSERT:
		r = vioapic_assert(&vm->apic->ioapic, pin);
		break;
	case HVMETAL_IRQ_DEASSERT:
		r = vioapic_deassert(&vm->apic->ioapic, pin);
		break;
	default:
		r = vioapic_pulse(&vm->apic->ioapic, pin);
		break;
	}
	return apic_vm_put(vm, r);
}

hv_return_t hc_vm_ioapic_mmio(struct hcall *c)
{
	struct vm *vm;
	uint32_t val = 0;
	hv_return_t r;

	if (c->gpr->rdx > HVMETAL_IO_WRITE || c->gpr->rcx >> 32)
		return HV_BAD_ARGUMENT;
	r = apic_vm_get(c, &vm);
	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rdx == HVMETAL_IO_WRITE) {
		r = vioapic_mmio_write(&vm->apic->ioapic, c->gpr->rsi, (uint32_t)c->gpr->rcx);
	} else {
		r = vioapic_mmio_read(&vm->apic->ioapic, c->gpr->rsi, &val);
		c->gpr->rdx = val;
	}
	return apic_vm_put(vm, r);
}

hv_return_t hc_vm_ioapic_get_state(struct hcall *c)
{
	hv_ioapic_state_ext_t st = { 0 };
	struct vm *vm;
	hv_return_t r = hypercall_copy_in(c, &st.version, c->gpr->rsi, sizeof(st.version));

	if (r != HV_SUCCESS)
		return r;
	if (st.version != HV_IOAPIC_STATE_EXT_VER)
		return HV_BAD_ARGUMENT;
	r = apic_vm_get(c, &vm);
	if (r != HV_SUCCESS)
		return r;
	vioapic_get_state(&vm->apic->ioapic, &st.state);
	apic_vm_put(vm, r);
	return hypercall_copy_out(c, c->gpr->rsi, &st, sizeof(st));
}

hv_return_t hc_vm_ioapic_put_state(struct hcall *c)
{
	hv_ioapic_state_ext_t st;
	struct vm *vm;
	hv_return_t r = hypercall_copy_in(c, &st, c->gpr->rsi, sizeof(st));

	if (r != HV_SUCCESS)
		return r;
	if (st.version != HV_IOAPIC_STATE_EXT_VER)
		return HV_BAD_ARGUMENT;
	r = apic_vm_get(c, &vm);
	if (r != HV_SUCCESS)
		return r;
	return apic_vm_put(vm, vioapic_put_state(&vm->apic->ioapic, &st.state));
}

hv_return_t hc_vm_atpic_irq(struct hcall *c)
{
	struct vm *vm;
	hv_return_t r;

	if (!fits_int(c->gpr->rsi) || c->gpr->rdx > HVMETAL_IRQ_ASSERT)
		return HV_BAD_ARGUMENT;
	r = apic_vm_get(c, &vm);
	if (r != HV_SUCCESS)
		return r;
	r = c->gpr->rdx == HVMETAL_IRQ_ASSERT ? vatpic_assert(&vm->apic->atpic, (int)c->gpr->rsi) :
						 vatpic_deassert(&vm->apic->atpic, (int)c->gpr->rsi);
	return apic_vm_put(vm, r);
}

hv_return_t hc_vm_atpic_port(struct hcall *c)
{
	struct vm *vm;
	uint8_t val = 0;
	hv_return_t r;

	if (!fits_int(c->gpr->rsi) || c->gpr->rdx > HVMETAL_IO_WRITE || c->gpr->rcx > 0xff)
		return HV_BAD_ARGUMENT;
	r = apic_vm_get(c, &vm);
	if (r != HV_SUCCESS)
		return r;
	if (c->gpr->rdx == HVMETAL_IO_WRITE) {
		r = vatpic_port_write(&vm->apic->atpic, (int)c->gpr->rsi, (uint8_t)c->gpr->rcx);
	} else {
		r = vatpic_port_read(&vm->apic->atpic, (int)c->gpr->rsi, &val);
		c->gpr->rdx = val;
	}
	return apic_vm_put(vm, r);
}

hv_return_t hc_vm_atpic_get_state(struct hcall *c)
{
	hv_atpic_state_ext_t st = { 0 };
	struct vm *vm;
	hv_return_t r = hypercall_copy_in(c, &st.version, c->gpr->rsi, sizeof(st.version));

	if (r != HV_SUCCESS)
		return r;
	if (st.version != HV_ATPIC_STATE_EXT_VER || c->gpr->rdx > 1)
		return HV_BAD_ARGUMENT;
	r = apic_vm_get(c, &vm);
	if (r != HV_SUCCESS)
		return r;
	vatpic_get_state(&vm->apic->atpic, c->gpr->rdx, &st.state);
	apic_vm_put(vm, r);
	return hypercall_copy_out(c, c->gpr->rsi, &st, sizeof(st));
}

hv_return_t hc_vm_atpic_put_state(struct hcall *c)
{
	hv_atpic_state_ext_t st;
	struct vm *vm;
	hv_return_t r = hypercall_copy_in(c, &st, c->gpr->rsi, sizeof(st));

	if (r != HV_SUCCESS)
		return r;
	if (st.version != HV_ATPIC_STATE_EXT_VER || c->gpr->rdx > 1)
		return HV_BAD_ARGUMENT;
	r = apic_vm_get(c, &vm);
	if (r != HV_SUCCESS)
		return r;
	return apic_vm_put(vm, vatpic_put_state(&vm->apic->atpic, c->gpr->rdx, &st.state));
}
